"""scripts/try_workflows.py: the TEA compatibility measurement classifies real runs the way a user would judge them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tw():
    spec = importlib.util.spec_from_file_location("try_workflows", ROOT / "scripts" / "try_workflows.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["try_workflows"] = module
    spec.loader.exec_module(module)
    return module


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_folder_run_reports_each_file_by_category(tw, tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus, "ok.yaml", "name: ok\nnodes:\n  - name: a\n    run: |\n      -- lua\n      return {x = 1}\n")
    write(corpus, "sub/broken.yaml", "name: broken\nnodes:\n  - name: boom\n    run: |\n      raise ValueError('no')\n")
    write(corpus, "sub/uses_input.yaml",
          "# Usage: tea run uses_input.yaml --input '{\"n\": 2}'\nname: inp\nnodes:\n  - name: double\n"
          "    run: |\n      return {'m': state['n'] * 2}\n")
    write(corpus, "schema.yaml", "name: s\nstate_schema:\n  word: str\nnodes:\n  - name: shout\n"
          "    run: |\n      return {'loud': state['word'].upper()}\n")
    write(corpus, "data.yaml", "scenarios:\n  - a: 1\n")
    report = tmp_path / "report.json"
    markdown = tmp_path / "report.md"

    assert tw.main([str(corpus), "--json", str(report), "--markdown", str(markdown), "--timeout", "60"]) == 0

    data = json.loads(report.read_text())
    by_file = {r["file"]: r for r in data["results"]}
    assert by_file["ok.yaml"]["category"] == "ran"
    assert by_file["sub/broken.yaml"]["category"] == "located"
    assert "boom" in by_file["sub/broken.yaml"]["message"]
    assert by_file["sub/uses_input.yaml"]["category"] == "ran"
    assert by_file["sub/uses_input.yaml"]["input_source"] == "usage comment"
    assert data["not_workflows"] == [{"file": "data.yaml", "why": "no nodes/edges (data or configuration, not a workflow)"}]
    assert by_file["schema.yaml"]["category"] == "ran"  # from {} it stops at KeyError; the second try runs
    assert by_file["schema.yaml"]["input_source"] == "state_schema"
    assert data["counts"] == {"ran": 3, "located": 1, "bad": 0, "silent_skip": 0}
    text = markdown.read_text()
    assert "## Missing capabilities, by files affected" in text
    assert "| sub/broken.yaml | located |" in text


def test_an_action_node_that_did_nothing_is_a_silent_skip(tw, tmp_path):
    path = write(tmp_path, "act.yaml", "name: act\nnodes:\n  - name: call\n    uses: llm.call\n    with:\n"
                                       "      prompt: hi\n  - name: after\n    run: 'return {}'\n")
    events = [{"type": "run_started"},
              {"type": "node_started", "node": "call"},
              {"type": "node_finished", "node": "call", "ok": True, "update": None},
              {"type": "node_started", "node": "after"},
              {"type": "node_finished", "node": "after", "ok": True, "update": {}},
              {"type": "run_finished", "state": {}}]
    stdout = "\n".join(json.dumps(e) for e in events)

    category, message, _node = tw.classify(path, 0, stdout, "", 10)

    assert category == tw.SILENT_SKIP
    assert tw.capability_of(message) == "action llm.call"


def test_a_successor_that_never_started_is_a_silent_skip(tw, tmp_path):
    path = write(tmp_path, "chain.yaml", "name: chain\nnodes:\n  - name: a\n    run: 'return {}'\n"
                                         "  - name: b\n    run: 'return {}'\n")
    events = [{"type": "node_started", "node": "a"}, {"type": "node_finished", "node": "a", "ok": True,
                                                        "update": {}}, {"type": "run_finished", "state": {}}]

    category, message, _node = tw.classify(path, 0, "\n".join(json.dumps(e) for e in events), "", 10)

    assert category == tw.SILENT_SKIP
    assert "node 'b' never started after 'a'" in message


@pytest.mark.parametrize(("rc", "stderr", "expected"), [
    (1, "Traceback (most recent call last):\n  File x\nKeyError: 'k'\n", "traceback: KeyError: 'k'"),
    (1, "error: internal error: RuntimeError: oops\n", "internal error: RuntimeError: oops"),
    (1, "error: something went wrong\n", "unlocated message: something went wrong"),
    (-9, "", "exit code -9: no message"),
    (None, "", "hang: no result after 10 s (last node started: none)"),
])
def test_crashes_hangs_and_unlocated_messages_are_bad(tw, tmp_path, rc, stderr, expected):
    path = write(tmp_path, "w.yaml", "name: w\nnodes:\n  - name: a\n    run: 'return {}'\n")

    category, message, _node = tw.classify(path, rc, "", stderr, 10)

    assert (category, message) == (tw.BAD, expected)


@pytest.mark.parametrize(("message", "capability"), [
    ("node 'x': action 'memory.mem0.add' is not available in TEA Studio; export and run with tea",
     "action memory.mem0.add"),
    ("node 'x': language 'prolog' is not supported by TEA Studio; export and run with tea", "language prolog"),
    ("node 'p': parallel strategy 'remote' is not supported by TEA Studio", "parallel strategy remote"),
    ("f.yaml:3:5: error [DUPLICATE_NODE]: node 'a' is defined twice", "validation DUPLICATE_NODE"),
    ("node 'b' line 3: KeyError: 'input'", "workflow code raised KeyError"),
])
def test_messages_are_ranked_by_the_capability_they_name(tw, message, capability):
    assert tw.capability_of(message) == capability


def test_the_local_model_and_cli_agents_answer_in_the_shape_asked_for(tw, tmp_path):
    prompt = 'Return JSON: {"valid": true, "score": 0.0, "issues": [], "summary": "..."}'
    with tw.LocalModelServer() as server:
        base = server.environment()["OPENAI_API_BASE"]
        body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]}).encode()
        request = urllib.request.Request(base + "/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())["choices"][0]["message"]["content"]
        stream_body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        request = urllib.request.Request(base + "/chat/completions", stream_body.encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            streamed = response.read().decode()
    assert json.loads(answer) == {"valid": True, "score": 0.9, "issues": [], "summary": "..."}
    nested = 'Return ONLY JSON like {"entities": [{"name": "Ann", "born": 1950}], "approved": false}'
    gate = "Review it.\nPrint GATE_DECISION:[PASS|CONDITIONAL|FAIL] at the end\nPrint: TRACE_COMPLETED"
    assert tw.fake_answer(gate).splitlines()[1:] == ["GATE_DECISION: PASS", "TRACE_COMPLETED"]
    ready = "- If ready: PO_VALIDATION_GO\n- If not ready: PO_VALIDATION_NOGO\n- Always print: READINESS_SCORE:[1-10]"
    assert tw.fake_answer(ready).splitlines()[1:] == ["READINESS_SCORE: 10", "PO_VALIDATION_GO"]
    facts = 'As Prolog facts, format: char(Position, Letter).\nExample: char(1, h). char(2, e).\nOutput ONLY the facts.'
    assert tw.fake_answer(facts) == "char(1, h).\nchar(2, e)."
    assert json.loads(tw.fake_answer(nested)) == {"entities": [{"name": "Ann", "born": 1950}], "approved": True}
    assert streamed.rstrip().endswith("data: [DONE]") and '"delta": {"content":' in streamed

    tw.install_cli_agents(tmp_path)
    done = subprocess.run([str(tmp_path / "claude"), "-p"], input="Output ONLY JSON like {\"answer\": 1}",
                          capture_output=True, text=True, timeout=30)
    assert json.loads(done.stdout) == {"answer": 1}


def test_a_steps_node_whose_steps_never_ran_is_a_silent_skip(tw, tmp_path):
    path = write(tmp_path, "steps.yaml", "name: s\nnodes:\n  - name: multi\n    steps:\n      - name: one\n"
                                         "        run: 'return {}'\n")
    events = [{"type": "node_started", "node": "multi"},
              {"type": "node_finished", "node": "multi", "ok": True, "update": {}},
              {"type": "run_finished", "state": {}}]

    category, message, _node = tw.classify(path, 0, "\n".join(json.dumps(e) for e in events), "", 10)

    assert (category, tw.capability_of(message)) == (tw.SILENT_SKIP, "`steps:` not run")


def test_node_keys_the_studio_does_not_act_on_are_listed(tw, tmp_path):
    path = write(tmp_path, "next.yaml", "name: n\nnodes:\n  - name: a\n    description: first\n    run: 'return {}'\n"
                                        "    next: b\n  - name: b\n    run: 'return {}'\n")

    assert tw.unread_node_keys(path) == ["next"]


def test_every_capability_a_file_asks_for_is_listed(tw, tmp_path):
    path = write(tmp_path, "many.yaml", "name: m\nnodes:\n  - name: a\n    uses: llm.call\n  - name: b\n"
                                        "    language: prolog\n    run: 'x.'\n  - name: c\n    type: dynamic_parallel\n"
                                        "    items: '{{ state.xs }}'\n    action:\n      uses: http.get\n")

    assert tw.declared_capabilities(path) == ["action http.get", "action llm.call", "language prolog",
                                              "node type dynamic_parallel"]


def test_a_second_try_passes_the_state_schema_keys_when_there_is_no_input_file(tw, tmp_path):
    flow = write(tmp_path, "count.yaml", "name: c\nstate_schema:\n  word: str\n  n: {type: int, default: 2}\n"
                 "nodes:\n  - name: a\n    language: lua\n    run: |\n      return { w = state.word }\n")
    assert tw.find_input(flow) == ({}, "{}")
    assert tw.schema_inputs(flow) == {"word": "sample word", "n": 2}
    write(tmp_path, "count.input.json", '{"word": "strawberry"}')
    assert tw.find_input(flow) == ({"word": "strawberry"}, "count.input.json")
