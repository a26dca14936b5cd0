"""Measure TEA compatibility: run every workflow of a folder headless and classify how each one ends.

    python scripts/try_workflows.py FOLDER [--timeout 60] [--json OUT.json] [--markdown OUT.md] [--jobs N]

Each YAML workflow under FOLDER runs as ``tea-studio run FILE --stream`` in its own process, from a scratch copy of
FOLDER (so files the workflows write land there), with a time limit. Its initial state comes from a sibling input
file (``NAME.input.json``, ``NAME.input.yaml``, ``NAME-input.json``, ...), else from the first ``--input '{...}'``
in the file's own usage comment, else ``{}`` -- what a new user would pass; when a run from ``{}`` does not
finish, a second try passes the keys its ``state_schema`` declares (what the studio's Run dialog offers a file
never run before, with a sample text where it offers an empty one).

While the runs go, a local OpenAI-compatible server on 127.0.0.1 answers chat completions (plain and SSE),
embeddings and Ollama's native routes, and is announced through the variables TEA documents (``OPENAI_API_BASE``,
``OPENAI_BASE_URL``, ``OLLAMA_API_BASE``, ``OLLAMA_HOST``); fake ``claude``, ``gemini``, ``qwen`` and ``codex`` CLI agents
on a temporary PATH read their prompt from stdin (or their arguments) and answer. Both answer a JSON object when
the prompt asks for JSON, so parsing nodes downstream get something shaped like what they expect.

Every file lands in one category:

- ``ran``: the run finished and every node that had to run did run;
- ``located``: the run failed with located one-line messages (``FILE:LINE:COL: ...`` or naming the node);
- ``bad``: a crash, a traceback, an ``internal error``, a hang past the time limit, or an unlocated message;
- ``silent_skip``: the run "succeeded" but skipped work: an ``action:``/``uses:`` node finished without doing
  anything, a node's only unconditional successor (or a parallel branch) never started, or a warning says that
  something inside the run was not available.

The table by category and the ranking of missing capabilities (action names, languages, node types, ...) are
printed; ``--json`` writes every file's result and ``--markdown`` a report whose top is that ranking.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

RAN, LOCATED, BAD, SILENT_SKIP, NOT_WORKFLOW = "ran", "located", "bad", "silent_skip", "not_workflow"
CATEGORIES = (RAN, LOCATED, BAD, SILENT_SKIP)
CLI_AGENTS = ("claude", "gemini", "qwen", "codex")

# --------------------------------------------------------------------------------------------------------------
# Answers of the fake model: JSON when the prompt asks for JSON, else a short plain text.

_JSON_KEY = re.compile(r'"([A-Za-z_][\w-]*)"\s*:')
_TRUTHY_KEYS = ("pass", "valid", "approved", "success", "complete", "done", "ok", "correct", "is_")
_NUMBER_KEYS = ("score", "confidence", "rating", "probability", "count", "total", "generations", "quality")
_LIST_KEYS = ("issues", "errors", "items", "list", "nodes", "edges", "steps", "facts", "entities", "relations",
              "suggestions", "recommendations", "tasks", "questions", "results", "sources", "warnings", "actions")


def _example_object(prompt: str) -> dict[str, Any] | None:
    """The first JSON object written out in the prompt, when it parses: the example the model is asked to follow,
    answered as given (so nested lists of objects keep their shape)."""
    for block in _json_blocks(prompt):
        try:
            value = json.loads(block)
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            return value
    return None


def _json_blocks(prompt: str):
    """Each balanced ``{...}`` span of the prompt, outermost first."""
    start = prompt.find("{")
    while start != -1:
        depth, end = 0, -1
        for i in range(start, min(len(prompt), start + 4000)):
            if prompt[i] == "{":
                depth += 1
            elif prompt[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end != -1:
            yield prompt[start:end + 1]
        start = prompt.find("{", start + 1)


def _example_keys(prompt: str) -> list[str]:
    """Keys of the first JSON-looking object written in the prompt (the format the model is asked to follow)."""
    for block in _json_blocks(prompt):
        keys = list(dict.fromkeys(_JSON_KEY.findall(block)))
        if keys:
            return keys
    return []


def _shaped(value: Any, key: str = "") -> Any:
    """The prompt's example as the answer: its shape and texts kept, verdicts and scores set as by
    :func:`_value_for` (so that loops asking "is it good enough?" end)."""
    if isinstance(value, dict):
        return {k: _shaped(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shaped(v) for v in value]
    if isinstance(value, (bool, int, float)) and key:
        guess = _value_for(key)
        return guess if isinstance(guess, (bool, float)) else value
    return value


def _value_for(key: str) -> Any:
    low = key.lower()
    if any(low.startswith(k) or low.endswith(k.rstrip("_")) for k in _TRUTHY_KEYS):
        return True
    if any(k in low for k in _NUMBER_KEYS):
        return 0.9
    if any(low.endswith(k) for k in _LIST_KEYS):
        return []
    return "ok"


def fake_answer(prompt: str, want_json: bool = False) -> str:
    """What the local model says to ``prompt``: a JSON object in the asked-for shape, or a short sentence."""
    if want_json or "json" in prompt.lower():
        example = _example_object(prompt)
        if example is not None:
            return json.dumps(_shaped(example))
        keys = _example_keys(prompt) or ["answer"]
        return json.dumps({key: _value_for(key) for key in keys})
    facts = _example_facts(prompt) if "prolog" in prompt.lower() else []
    if facts:
        return "\n".join(facts)
    return "\n".join(["This is a local test answer.", *_asked_markers(prompt)])


_CHOICE = re.compile(r"\b([A-Z][A-Z0-9_]{2,})\s*:\s*\[\s*(\w+)\s*(?:\|\s*\w+\s*)+\]")
_SCALE = re.compile(r"\b([A-Z][A-Z0-9_]{2,})\s*:\s*\[\s*\d+\s*-\s*(\d+)\s*\]")
_MARKER = re.compile(r"\b(?:[Pp]rint|[Oo]utput|[Ee]nd with|[Rr]espond with)\s*:?\s*([A-Z][A-Z0-9]*_[A-Z0-9_]{2,})\b")
_IF_OUTCOME = re.compile(r"\b[Ii]f [^:\n]{1,40}:\s*([A-Z][A-Z0-9]*_[A-Z0-9_]{2,})\b")


def _asked_markers(prompt: str) -> list[str]:
    """The lines a prompt asks to be printed, as a model that judges the work good prints them:
    ``GATE_DECISION:[PASS|CONDITIONAL|FAIL]`` with its first choice, ``READINESS_SCORE:[1-10]`` with the top of
    the scale, ``Print: TRACE_COMPLETED`` with the marker, and of ``If ready: GO_MARKER`` / ``If not ready:
    NOGO_MARKER`` the first."""
    values = {key: first for key, first in _CHOICE.findall(prompt)}
    values.update({key: top for key, top in _SCALE.findall(prompt) if key not in values})
    lines = [f"{key}: {value}" for key, value in values.items()]
    markers = _MARKER.findall(prompt) + _IF_OUTCOME.findall(prompt)[:1]
    return list(dict.fromkeys(lines + [m for m in markers if m not in values]))


_PROLOG_FACT = re.compile(r"(?<![\w(])[a-z]\w*\((?:[^()\n]|\([^()\n]*\))*\)\.")
_PROLOG_VARIABLE = re.compile(r"(?<![\w'])[A-Z_]\w*")


def _example_facts(prompt: str) -> list[str]:
    """Ground Prolog facts written out in a prompt that asks for Prolog (``char(1, h). char(2, e).``): the
    example the model is asked to follow, answered as given."""
    found = [fact for fact in _PROLOG_FACT.findall(prompt) if not _PROLOG_VARIABLE.search(fact.split("(", 1)[1])]
    return list(dict.fromkeys(found))


def fake_embedding(text: str, size: int = 16) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [round(b / 255.0, 4) for b in digest[:size]]


# --------------------------------------------------------------------------------------------------------------
# The local OpenAI-compatible (and Ollama) server.

def _prompt_of(body: dict[str, Any]) -> str:
    if isinstance(body.get("messages"), list):
        parts = []
        for message in body["messages"]:
            content = message.get("content") if isinstance(message, dict) else message
            if isinstance(content, list):  # OpenAI content parts
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            parts.append(str(content or ""))
        return "\n".join(parts)
    return str(body.get("prompt") or body.get("input") or "")


def _wants_json(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format") or body.get("format")
    return bool(fmt == "json" or (isinstance(fmt, dict) and "json" in str(fmt.get("type", ""))))


class LocalModelServer:
    """A threaded HTTP server on 127.0.0.1 speaking the OpenAI chat/embeddings API and Ollama's native one."""

    def __init__(self) -> None:
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path.endswith("/models") or path == "/api/tags":
                    self._json({"object": "list", "data": [{"id": "local-test", "object": "model"}],
                                "models": [{"name": "local-test"}]})
                else:
                    self._json({"status": "ok", "path": path})

            def do_POST(self) -> None:  # noqa: N802
                server.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                body = body if isinstance(body, dict) else {}
                path = self.path.split("?")[0]
                model = str(body.get("model") or "local-test")
                if path.endswith("/embeddings") or path in ("/api/embed", "/api/embeddings"):
                    raw = body.get("input", body.get("prompt", ""))
                    texts = raw if isinstance(raw, list) else [raw]
                    vectors = [fake_embedding(str(t)) for t in texts]
                    self._json({"object": "list", "model": model, "embedding": vectors[0], "embeddings": vectors,
                                "data": [{"object": "embedding", "index": i, "embedding": v}
                                         for i, v in enumerate(vectors)]})
                    return
                text = fake_answer(_prompt_of(body), _wants_json(body))
                if path in ("/api/chat", "/api/generate"):
                    self._ollama(path, model, text, body.get("stream", True) is not False)
                elif body.get("stream"):
                    self._sse(model, text)
                else:
                    self._json({"id": "chatcmpl-local", "object": "chat.completion", "created": int(time.time()),
                                "model": model,
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": text},
                                             "text": text}],
                                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _ollama(self, path: str, model: str, text: str, stream: bool) -> None:
                def chunk(piece: str, done: bool) -> dict[str, Any]:
                    if path == "/api/generate":
                        return {"model": model, "response": piece, "done": done}
                    return {"model": model, "message": {"role": "assistant", "content": piece}, "done": done}
                if not stream:
                    self._json(chunk(text, True))
                    return
                lines = [chunk(text, False), chunk("", True)]
                self._send(200, "".join(json.dumps(x) + "\n" for x in lines).encode(), "application/x-ndjson")

            def _sse(self, model: str, text: str) -> None:
                words = re.findall(r"\S+\s*", text) or [text]
                events = [{"id": "chatcmpl-local", "object": "chat.completion.chunk", "model": model,
                           "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
                events.append({"id": "chatcmpl-local", "object": "chat.completion.chunk", "model": model,
                               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self._send(200, data.encode(), "text/event-stream")

            def _json(self, data: Any) -> None:
                self._send(200, json.dumps(data).encode(), "application/json")

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="local-model", daemon=True)

    def __enter__(self) -> LocalModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def environment(self) -> dict[str, str]:
        """The variables TEA (and the OpenAI/Ollama clients) read to find a model server."""
        root = f"http://127.0.0.1:{self.port}"
        return {"OPENAI_API_KEY": "local-test-key", "OPENAI_API_BASE": f"{root}/v1", "OPENAI_BASE_URL": f"{root}/v1",
                "OLLAMA_API_BASE": root, "OLLAMA_HOST": root, "OLLAMA_BASE_URL": root}


def install_cli_agents(folder: Path) -> None:
    """Executable ``claude``/``gemini``/``qwen`` that read the prompt from stdin (or take it from their args)."""
    here = Path(__file__).resolve().parent
    for name in CLI_AGENTS:
        path = folder / name
        path.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(here)!r})\n"
            "from try_workflows import fake_answer\n"
            "args = [a for a in sys.argv[1:] if not a.startswith('-')]\n"
            "text = '' if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()\n"
            "print(fake_answer(text or ' '.join(args)))\n",
            encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


# --------------------------------------------------------------------------------------------------------------
# Finding the workflows and their inputs.

_USAGE_INPUT = re.compile(r"--input\s+'(\{.*?\})'")
_INPUT_SUFFIXES = (".input.json", ".inputs.json", "-input.json", "_input.json", ".input.yaml", ".input.yml",
                   "-input.yaml", "_input.yaml")


def workflow_documents(path: Path) -> tuple[bool, str]:
    """(is it a workflow, why not). A workflow is a YAML mapping with ``nodes`` or ``edges``."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError:
        return True, ""  # a broken workflow is still something a user runs; the runner reports it
    except (OSError, UnicodeDecodeError) as exc:
        return False, f"unreadable: {exc}"
    if any(isinstance(d, dict) and ("nodes" in d or "edges" in d) for d in docs):
        return True, ""
    return False, "no nodes/edges (data or configuration, not a workflow)"


def find_input(path: Path) -> tuple[dict[str, Any], str]:
    """The initial state a user would pass, and where it came from."""
    stem = path.name.rsplit(".", 1)[0]
    for suffix in _INPUT_SUFFIXES:
        candidate = path.with_name(stem + suffix)
        if candidate.is_file():
            data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data, candidate.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}, "{}"
    for line in text.splitlines():
        if not line.lstrip().startswith("#"):
            continue
        match = _USAGE_INPUT.search(line)
        if match:
            try:
                data = json.loads(match.group(1))
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data, "usage comment"
    return {}, "{}"


def schema_inputs(path: Path) -> dict[str, Any]:
    """What a user passes on a second try, after a run from ``{}`` stopped: the keys the Run dialog offers from
    ``state_schema``, empty texts filled with a sample (an empty one would also hide ``state.get(key, default)``'s
    default)."""
    from tea_studio.workflow.state_schema import declared_inputs
    from tea_studio.workflow.yaml_io import load_workflow_text

    try:
        declared = declared_inputs(load_workflow_text(path.read_text(encoding="utf-8")))
    except Exception:  # noqa: BLE001 - a file that does not load gets {} and its run says why
        return {}
    return {key: f"sample {key.replace('_', ' ')}" if value == "" else value for key, value in declared.items()}


# --------------------------------------------------------------------------------------------------------------
# Running one file and classifying the outcome.

@dataclasses.dataclass
class Result:
    file: str
    category: str
    message: str = ""
    capability: str = ""
    node: str = ""
    input_source: str = "{}"
    seconds: float = 0.0
    nodes_started: int = 0
    nodes_total: int = 0
    unread_keys: list[str] = dataclasses.field(default_factory=list)
    declares: list[str] = dataclasses.field(default_factory=list)


_LOCATED = re.compile(r"^\S+:\d+:\d+: |node '[^']+'|\bnode [\w.-]+\b")
_NODE = re.compile(r"node '([^']+)'|\bnode ([\w.-]+)")
_CAPABILITY_PATTERNS = (
    (re.compile(r"action '([\w.\-]+)' is not (?:available|supported|registered|known)"), "action {}"),
    (re.compile(r"unknown action '([\w.\-]+)'", re.I), "action {}"),
    (re.compile(r"\[UNKNOWN_ACTION\].*?'([\w.\-]+)'"), "action {}"),
    (re.compile(r"language '([\w.\-]+)' is not supported"), "language {}"),
    (re.compile(r"(?:node )?type '([\w.\-]+)' is not supported"), "node type {}"),
    (re.compile(r"provider '([\w.\-]+)' is not supported"), "llm provider {}"),
    (re.compile(r"backend '([\w.\-]+)' is not supported"), "backend {}"),
    (re.compile(r"\(([\w.\-]+)\) finished without doing anything"), "action {}"),
    (re.compile(r"finished without running its `(\w+):`"), "`{}:` not run"),
    (re.compile(r"([a-z][a-z _]*?) '([^']+)' is not (?:available|supported)"), "{} {}"),
    (re.compile(r"`goto` must be .*not a (mapping)"), "goto as a {}"),
)
_VALIDATION_CODE = re.compile(r"(error|warning) \[([A-Z_]+)\]")
_EXCEPTION = re.compile(r"\b([A-Z]\w*(?:Error|Exception))\b")


def capability_of(message: str) -> str:
    """What the message says is missing (an action, a language, a node type), or a short failure signature."""
    for pattern, label in _CAPABILITY_PATTERNS:
        match = pattern.search(message)
        if match:
            return label.format(*match.groups())
    code = _VALIDATION_CODE.search(message)
    if code:
        return f"validation {code.group(2)}"
    exc = _EXCEPTION.search(message)
    if exc:
        return f"workflow code raised {exc.group(1)}"
    if "nil value" in message or "attempt to" in message:
        return "workflow Lua error"
    if "no route" in message:
        return "no route matched"
    if "invalid YAML" in message:
        return "invalid YAML"
    return "other"


def _node_names(doc: Any) -> list[dict[str, Any]]:
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    return [n for n in nodes or [] if isinstance(n, dict) and isinstance(n.get("name"), str)]


def silent_skips(path: Path, events: list[dict[str, Any]]) -> list[str]:
    """Reasons why a successful run skipped work (empty when it did not)."""
    reasons: list[str] = []
    started = {e.get("node") for e in events if e.get("type") == "node_started"}
    finished = [e for e in events if e.get("type") == "node_finished" and e.get("ok")]
    busy = {e.get("node") for e in events if e.get("type") not in ("node_started", "node_finished")}
    for warning in (e for e in events if e.get("type") == "warning"):
        text = str(warning.get("message", ""))
        if re.search(r"not (?:available|supported)", text):
            reasons.append(text)
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return reasons
    spec = {n["name"]: n for d in docs[:1] for n in _node_names(d)}
    inner = {(e.get("type"), e.get("node")) for e in events}
    for event in finished:
        node = spec.get(event.get("node"))
        if node is None:
            continue
        for key, kind, marker in (("steps", None, "step_started"), ("body", "while_loop", "loop_started"),
                                  ("items", "dynamic_parallel", "dynamic_parallel_started")):
            if key in node and kind in (None, node.get("type")) and (marker, node["name"]) not in inner:
                reasons.append(f"node '{node['name']}' finished without running its `{key}:`")
        if "run" in node or "script" in node:
            continue
        action = node.get("uses") or node.get("action")
        if isinstance(action, str) and event.get("update") in (None, {}) and event.get("node") not in busy:
            reasons.append(f"node '{node['name']}' ({action}) finished without doing anything")
    reasons.extend(_unreached(path, {e.get("node") for e in finished}, started))
    return reasons


def _unreached(path: Path, finished: set[Any], started: set[Any]) -> list[str]:
    """Nodes that had to start after a finished node (its only, unconditional route, or a parallel branch)."""
    try:
        from tea_studio.workflow.model import END
        from tea_studio.workflow.routes import fork_edges, successors
        from tea_studio.workflow.yaml_io import load_workflow

        workflow = load_workflow(str(path))
        nexts = successors(workflow)
        forks = fork_edges(workflow)
    except Exception:  # noqa: BLE001 - the static check is best effort; the run itself already succeeded
        return []
    reasons = []
    for name in sorted(n for n in finished if isinstance(n, str)):
        targets = [t for edge in forks.get(name, []) for t in edge.targets]
        candidates = nexts.get(name, ())
        if name not in forks and len(candidates) == 1 and candidates[0].condition is None \
                and candidates[0].when is None:
            targets.append(candidates[0].target)
        for target in targets:
            if target != END and target not in started:
                reasons.append(f"node '{target}' never started after '{name}'")
    return reasons


_READ_EVERYWHERE = frozenset({"description", "language", "type", "params", "outputs", "output_key", "streams",
                              "parallel_each", "strategy"})  # read by the engine or refused by name


def declared_capabilities(path: Path) -> list[str]:
    """What the file asks for anywhere (node and step level): actions by name, non-Lua/Python languages, node
    types -- to rank a capability by every file that needs it, not only by the files it stops first."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for key in ("uses", "action"):
                if isinstance(value.get(key), str) and "." in value[key] or value.get(key) in ("template", "return"):
                    found.add(f"action {value[key]}")
            if value.get("language") not in (None, "lua", "python"):
                found.add(f"language {value['language']}")
            if value.get("type") in ("while_loop", "dynamic_parallel"):
                found.add(f"node type {value['type']}")
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    for doc in docs[:1]:
        visit(doc.get("nodes"))
    return sorted(found)


def unread_node_keys(path: Path) -> list[str]:
    """Node keys of the file that TEA Studio's model keeps but nothing reads (e.g. `next:`, `params:`, `streams:`):
    behaviour the file asks for that a run would not show."""
    try:
        from tea_studio.workflow.constructs import CONSTRUCT_KEYS
        from tea_studio.workflow.yaml_io import load_workflow

        workflow = load_workflow(str(path))
    except Exception:  # noqa: BLE001 - a file that does not load is reported by the run itself
        return []
    keys = {key for node in workflow.nodes for key in node.extra}
    return sorted(keys - _READ_EVERYWHERE - set(CONSTRUCT_KEYS))


def classify(path: Path, rc: int | None, stdout: str, stderr: str, timeout: float) -> tuple[str, str, str]:
    """(category, message, node) for one finished (or timed out) run."""
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    if rc is None:
        done = [e.get("node") for e in events if e.get("type") == "node_started"]
        return BAD, f"hang: no result after {timeout:.0f} s (last node started: {done[-1] if done else 'none'})", ""
    error_lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if "Traceback (most recent call last)" in stderr:
        tail = next((ln for ln in reversed(error_lines) if not ln.startswith(" ")), "traceback")
        return BAD, f"traceback: {tail}", ""
    if rc == 0:
        if not any(e.get("type") == "run_finished" for e in events):
            return BAD, "exit 0 without a run_finished event", ""
        reasons = silent_skips(path, events)
        return (SILENT_SKIP, "; ".join(reasons[:3]), "") if reasons else (RAN, "", "")
    failed = next((e for e in events if e.get("type") == "run_failed"), None)
    problems = [ln for ln in error_lines if _VALIDATION_CODE.search(ln) or ln.startswith("error:")
                or re.match(r"^\S+:\d+:\d+: ", ln)]
    if failed is not None:
        message = str(failed.get("error", ""))
    else:
        message = next((ln for ln in problems if _VALIDATION_CODE.search(ln) and " error [" in ln), "") \
            or (problems[0] if problems else (error_lines[-1] if error_lines else ""))
    message = message.removeprefix("error: ")
    match = _NODE.search(message)
    node = (match.group(1) or match.group(2)) if match else str((failed or {}).get("node") or "")
    if rc not in (1,):
        return BAD, f"exit code {rc}: {message or 'no message'}", node
    if "internal error" in message:
        return BAD, message, node
    if "\n" in message.strip() or not message:
        return BAD, f"unlocated or multi-line message: {message[:200]!r}", node
    if not _LOCATED.search(message) and not (failed and failed.get("node")):
        return BAD, f"unlocated message: {message}", node
    return LOCATED, message, node


def _attempt(cli: list[str], root: Path, rel: str, env: dict[str, str], timeout: float,
             inputs: dict[str, Any]) -> tuple[int | None, str, str, float]:
    argv = [*cli, "run", rel, "--input", json.dumps(inputs), "--stream", "--auto-continue"]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=root, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = None
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = ""
    return rc, out, err, time.monotonic() - t0


def run_one(cli: list[str], root: Path, rel: str, env: dict[str, str], timeout: float) -> Result:
    path = root / rel
    inputs, source = find_input(path)
    rc, out, err, seconds = _attempt(cli, root, rel, env, timeout, inputs)
    category, message, node = classify(path, rc, out, err, timeout)
    declared = schema_inputs(path) if category != RAN and source == "{}" else {}
    if declared:  # a second try, as a user fills the inputs the Run dialog offers
        second = _attempt(cli, root, rel, env, timeout, declared)
        again = classify(path, second[0], second[1], second[2], timeout)
        if again[0] == RAN:
            rc, out, err, seconds = second
            (category, message, node), source = again, "state_schema"
    started = {json.loads(ln).get("node") for ln in out.splitlines() if '"node_started"' in ln}
    try:
        total = sum(len(_node_names(d)) for d in list(yaml.safe_load_all(path.read_text(encoding="utf-8")))[:1])
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        total = 0
    capability = capability_of(message) if category in (LOCATED, BAD, SILENT_SKIP) and message else ""
    return Result(rel, category, " ".join(message.split())[:400], capability, node, source, round(seconds, 2),
                  len(started), total, unread_node_keys(path), declared_capabilities(path))


# --------------------------------------------------------------------------------------------------------------
# Reports.

def summary_lines(results: list[Result], skipped: list[tuple[str, str]]) -> list[str]:
    counts = Counter(r.category for r in results)
    lines = [f"{len(results)} workflows ({len(skipped)} other YAML files are not workflows and were not run)", ""]
    lines += ["| category | files |", "|---|---|"]
    lines += [f"| {c} | {counts.get(c, 0)} |" for c in CATEGORIES]
    return lines


def capability_ranking(results: list[Result]) -> list[tuple[str, int, list[str]]]:
    """Missing capabilities (and other failure signatures) by number of files affected, most first."""
    files: dict[str, list[str]] = {}
    for r in results:
        if r.category != RAN and r.capability:
            files.setdefault(r.capability, []).append(r.file)
    return sorted(((cap, len(fs), fs) for cap, fs in files.items()), key=lambda x: (-x[1], x[0]))


def is_missing_capability(label: str) -> bool:
    return label.split(" ", 1)[0] in ("action", "language", "node", "llm", "backend") or label not in (
        "other", "no route matched", "invalid YAML", "workflow Lua error") and not label.startswith(
        ("workflow code", "validation"))


def markdown(results: list[Result], skipped: list[tuple[str, str]], folder: str, stamp: str) -> str:
    ranking = capability_ranking(results)
    out = [f"# TEA corpus report ({stamp})", "",
           f"`python scripts/try_workflows.py {folder}` on main; every file ran headless with a local "
           "OpenAI-compatible server and fake claude/gemini/qwen/codex CLI agents.", "",
           "## Missing capabilities, by files affected", ""]
    missing = [x for x in ranking if is_missing_capability(x[0])]
    out += [f"{i}. **{cap}** — {n} file(s)" for i, (cap, n, _fs) in enumerate(missing, 1)] or ["(none)"]
    declared = Counter(cap for r in results if r.category != RAN for cap in r.declares)
    if declared:
        out += ["", "## Everything the files that did not run ask for (files using it anywhere, not only first)", ""]
        out += [f"- {cap} — {n}" for cap, n in declared.most_common(40)]
    out += ["", "## Summary", ""] + summary_lines(results, skipped)
    other = [x for x in ranking if not is_missing_capability(x[0])]
    if other:
        out += ["", "## Other failure signatures", ""] + [f"- {cap} — {n} file(s)" for cap, n, _fs in other]
    out += ["", "## Files that did not run to the end", "", "| file | category | message |", "|---|---|---|"]
    for r in sorted(results, key=lambda r: (CATEGORIES.index(r.category), r.file)):
        if r.category != RAN:
            message = r.message.replace("|", "\\|") or "-"
            out.append(f"| {r.file} | {r.category} | {message} |")
    unread = Counter(key for r in results for key in r.unread_keys)
    if unread:
        out += ["", "## Node keys TEA Studio keeps but does not act on (files using them)", ""]
        out += [f"- `{key}:` — {n} file(s): " + ", ".join(r.file for r in results if key in r.unread_keys)[:300]
                for key, n in unread.most_common()]
    if skipped:
        out += ["", "## Not workflows (not run)", ""] + [f"- {f}: {why}" for f, why in skipped]
    return "\n".join(out) + "\n"


def print_table(results: list[Result], skipped: list[tuple[str, str]]) -> None:
    print("\n".join(summary_lines(results, skipped)))
    print("\nmissing capability / failure signature: files")
    for cap, n, _fs in capability_ranking(results):
        print(f"  {n:4d}  {cap}")


# --------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="folder holding TEA workflow YAML files (searched recursively)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per file (default 60)")
    parser.add_argument("--json", help="write every file's result to this JSON file")
    parser.add_argument("--markdown", help="write a Markdown report (ranking, summary, failing files) here")
    parser.add_argument("--jobs", type=int, default=1, help="files run at the same time (default 1)")
    parser.add_argument("--only", default="", help="run only files whose path contains this text")
    parser.add_argument("--cli", default=f"{sys.executable} -m tea_studio",
                        help="the tea-studio command (default: this Python's -m tea_studio)")
    args = parser.parse_args(argv)

    source = Path(args.folder).resolve()
    if not source.is_dir():
        parser.error(f"{args.folder} is not a folder")
    files = sorted(str(p.relative_to(source)) for p in source.rglob("*")
                   if p.suffix in (".yaml", ".yml") and p.is_file() and not any(
                       part.startswith(".") for part in p.relative_to(source).parts))
    files = [f for f in files if args.only in f]
    with tempfile.TemporaryDirectory(prefix="tea-corpus-") as scratch:
        root = Path(scratch) / "corpus"
        shutil.copytree(source, root, symlinks=True)
        bin_dir = Path(scratch) / "bin"
        bin_dir.mkdir()
        install_cli_agents(bin_dir)
        workflows, skipped = [], []
        for rel in files:
            ok, why = workflow_documents(root / rel)
            (workflows.append(rel) if ok else skipped.append((rel, why)))
        with LocalModelServer() as server:
            env = {**os.environ, **server.environment(), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                   "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
            env.pop("PYTHONPATH", None)
            cli = args.cli.split()
            results: list[Result] = []
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                futures = {pool.submit(run_one, cli, root, rel, env, args.timeout): rel for rel in workflows}
                for future in concurrent.futures.as_completed(futures):
                    result = future.result()
                    results.append(result)
                    print(f"{result.category:12s} {result.seconds:6.1f}s  {result.file}"
                          + (f"  -- {result.message[:140]}" if result.message else ""), file=sys.stderr)
    results.sort(key=lambda r: r.file)
    print_table(results, skipped)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "generated": stamp, "folder": str(source),
            "counts": {c: sum(r.category == c for r in results) for c in CATEGORIES},
            "capabilities": [{"capability": c, "files": n, "paths": fs} for c, n, fs in capability_ranking(results)],
            "results": [dataclasses.asdict(r) for r in results],
            "not_workflows": [{"file": f, "why": w} for f, w in skipped]}, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, skipped, args.folder, stamp), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
