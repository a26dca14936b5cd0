"""What each action accepts: parameter schemas for `uses:` / `action:` nodes (FORMAT.md §7). No Qt, no engine.

The schemas live here, beside validation, because checking a node's ``with:`` is part of reading the format; the
engine pairs each schema with the code that runs it (``tea_studio.engine.actions``). Third-party actions come from
the Python entry-point group ``tea_studio.actions``: each entry point loads an object with a ``schema`` attribute
(an :class:`ActionSchema`) and a ``run`` callable, or a list of such objects.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

ENTRY_POINT_GROUP = "tea_studio.actions"

# Parameter types and the Python values that match them (templated strings are checked after rendering).
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "messages": (list,),
    "any": (object,),
}


@dataclass(frozen=True)
class Param:
    """One ``with:`` key. ``raw`` parameters are handed over unrendered (the action renders them when it needs
    to, e.g. a corrector prompt that reads a state key the loop sets)."""

    name: str
    type: str = "any"
    required: bool = False
    default: Any = None
    description: str = ""
    raw: bool = False


@dataclass(frozen=True)
class ActionSchema:
    """An action's name, parameters and whether it reaches outside the process (then it needs the user's trust,
    like Python code)."""

    name: str
    params: tuple[Param, ...] = ()
    description: str = ""
    requires_trust: bool = False
    aliases: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # at least one of these parameters is required (llm.*: messages or prompt)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value or "${" in value)


def type_matches(kind: str, value: Any) -> bool:
    """Whether ``value`` fits a parameter type (a bool is not a number; None fits nothing but ``any``)."""
    if kind == "any":
        return True
    if value is None:
        return False
    if isinstance(value, bool) and kind in ("number", "integer"):
        return False
    return isinstance(value, PARAM_TYPES.get(kind, (object,)))


def param_problems(schema: ActionSchema, params: dict[str, Any] | None,
                   rendered: bool = False) -> list[tuple[str | None, str]]:
    """``(key or None, message)`` for each missing required parameter and each value of the wrong type.

    Before rendering (``rendered`` False) a templated string may become anything, so it is not type-checked.
    """
    params = params if isinstance(params, dict) else {}
    problems: list[tuple[str | None, str]] = []
    for param in schema.params:
        if param.name not in params or (rendered and params[param.name] is None and param.default is None):
            if param.required and param.name not in params:
                problems.append((None, f"action '{schema.name}' needs parameter '{param.name}' ({param.type})"))
            continue
        value = params[param.name]
        if not rendered and (_is_template(value) or param.raw):
            continue
        if not type_matches(param.type, value):
            problems.append((param.name, f"action '{schema.name}': parameter '{param.name}' must be "
                                         f"{_article(param.type)}, not {_describe(value)}"))
    if schema.one_of and not any(name in params for name in schema.one_of):
        problems.append((None, f"action '{schema.name}' needs parameter "
                               + " or ".join(f"'{name}'" for name in schema.one_of)))
    return problems


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "an object",
             list: "an array"}
    return names.get(type(value), type(value).__name__)


# -- the built-in actions' schemas ---------------------------------------------------------------------------------
_PROMPT = (Param("messages", "messages", description="chat messages: [{role, content}]"),
           Param("prompt", "string", description="instead of messages: the user message"),
           Param("system", "string", description="with prompt: a system message before it"))
_ONE_PROMPT = ("messages", "prompt")
_LLM_COMMON = (
    Param("model", "string", description="model name; default settings.llm.model (or default_model), else "
                                         "gpt-3.5-turbo; ignored by the shell provider"),
    Param("provider", "string", default="auto",
          description="auto | openai | azure | ollama | shell (auto: OLLAMA_API_BASE -> ollama, "
                      "AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT -> azure, else openai)"),
    Param("api_base", "string", description="base URL of an OpenAI-compatible endpoint"),
    Param("temperature", "number", default=0.7, description="sampling temperature"),
    Param("max_tokens", "integer", description="most tokens to generate"),
    Param("timeout", "number", default=300, description="seconds before the request (or CLI) is abandoned"),
    Param("shell_provider", "string", description="with provider: shell, a CLI from settings.llm.shell_providers "
                                                  "or claude | gemini | qwen"),
    Param("max_retries", "integer", default=0,
          description="tries again after HTTP 429/5xx, timeouts and refused connections (0: never)"),
    Param("base_delay", "number", default=1.0, description="seconds before the first retry, doubled each time"),
    Param("max_delay", "number", default=60.0, description="longest wait between retries"),
)

_LLM_OPTIONS = tuple(p for p in _LLM_COMMON if p.name in ("provider", "api_base", "timeout", "shell_provider",
                                                         "max_tokens", "temperature"))
_MODEL_GPT4 = Param("model", "string", default="gpt-4", description="model name (TEA's default: gpt-4)")

_A2A_MESSAGE = Param("message", "object", required=True, description="{type, payload}")
_A2A_TTL = Param("ttl", "number", description="seconds it lives; none: no expiry")
_A2A_DURATION = "seconds, or \"30s\", \"5m\", \"1h\""

BUILTIN_SCHEMAS: tuple[ActionSchema, ...] = (
    ActionSchema("llm.call", (*_PROMPT, *_LLM_COMMON), "Call a language model; returns {content, usage}",
                 requires_trust=True, aliases=("llm.complete", "actions.llm_call"), one_of=_ONE_PROMPT),
    ActionSchema("llm.retry", (*_PROMPT, *(dataclasses.replace(p, default=3) if p.name == "max_retries" else p
                                           for p in _LLM_COMMON)),
                 "llm.call with max_retries 3 (TEA's deprecated spelling); returns {content, usage, attempts, "
                 "total_delay}", requires_trust=True, one_of=_ONE_PROMPT),
    ActionSchema("llm.chat", (*_PROMPT, *_LLM_COMMON),
                 "Chat completion; returns {content, model, tokens_used}", requires_trust=True,
                 one_of=_ONE_PROMPT),
    ActionSchema("llm.stream", (*_PROMPT, *_LLM_COMMON),
                 "Stream a completion (tokens arrive as llm_token events); returns {content, usage, streamed, "
                 "chunk_count}", requires_trust=True, aliases=("actions.llm_stream",), one_of=_ONE_PROMPT),
    ActionSchema("llm.embed", (Param("text", "any", required=True, description="text (or list of texts) to embed"),
                               Param("model", "string", default="text-embedding-3-small"),
                               *(p for p in _LLM_COMMON if p.name in ("provider", "api_base", "timeout"))),
                 "Embed text; returns {embedding, dimensions, model}", requires_trust=True),
    ActionSchema("http.get", (Param("url", "string", required=True), Param("headers", "object"),
                              Param("params", "object", description="query parameters"),
                              Param("timeout", "number", default=30)),
                 "HTTP GET; returns the JSON body (or the text)", requires_trust=True),
    ActionSchema("http.post", (Param("url", "string", required=True), Param("json", "any", description="JSON body"),
                               Param("data", "any", description="form or text body"), Param("headers", "object"),
                               Param("timeout", "number", default=30)),
                 "HTTP POST; returns the JSON body (or the text)", requires_trust=True),
    ActionSchema("file.read", (Param("path", "string", required=True,
                                     description="relative to the workflow's folder"),),
                 "Read a text file; returns {content, success}", requires_trust=True),
    ActionSchema("file.write", (Param("path", "string", required=True, description="relative to the workflow's folder"),
                                Param("content", "any", required=True)),
                 "Write a text file (folders are created); returns {path, success}", requires_trust=True),
    ActionSchema("retry.loop", (Param("validate", "string", required=True, description="the validating action"),
                                Param("validate_args", "object", raw=True),
                                Param("correct", "string", required=True, description="the correcting node"),
                                Param("max_retries", "integer", default=1),
                                Param("retry_delay", "number", default=0.0)),
                 "Validate, run a correction node, retry; sets _retry_count, _retry_errors, _retry_result, "
                 "_retry_exhausted", requires_trust=True, aliases=("actions.retry_loop",)),
    ActionSchema("reflection.loop", (Param("generator", "object", required=True, raw=True),
                                     Param("evaluator", "object", required=True, raw=True),
                                     Param("corrector", "object", raw=True),
                                     Param("max_iterations", "integer", default=3),
                                     Param("on_failure", "string", default="return_best",
                                           description="return_best | return_last | raise")),
                 "Generate, evaluate, correct until valid (runs actions and code it is given)", requires_trust=True),
    ActionSchema("schema.merge", (Param("schemas", "array", required=True,
                                        description="[{inline: {...}} | {path: file.json|yaml}]"),
                                  Param("validate", "boolean", default=False),
                                  Param("output_key", "string", default="merged_schema")),
                 "Deep-merge JSON Schemas (objects merge, arrays and scalars: last wins)"),
    ActionSchema("state.set", (), "Merge its parameters into the state", aliases=()),
    ActionSchema("return", (), "Merge its parameters into the state and report them as the node's result",
                 aliases=("core.return",)),
    ActionSchema("template", (Param("template", "string", required=True),),
                 "Render a Jinja2 template over state and variables", aliases=("template.render",)),
    ActionSchema("lua.eval", (Param("code", "string", required=True, raw=True, description="Lua code; `state` is "
                                                                                           "the state"),),
                 "Run Lua code in a fresh sandboxed VM; returns what the code returns"),

    # -- built on the model: reasoning, planning, multi-agent, extraction validation (TEA's own prompts' shapes)
    ActionSchema("reason.cot", (Param("problem", "any", required=True), _MODEL_GPT4,
                                Param("thinking_format", "string", default="step_by_step",
                                      description="step_by_step | pros_cons | tree | first_principles"),
                                Param("few_shot_examples", "array", description="[{problem, thinking, answer}]"),
                                *_LLM_OPTIONS),
                 "Chain-of-thought; returns {thinking, answer, reasoning_trace, model, thinking_format}",
                 requires_trust=True),
    ActionSchema("reason.react", (Param("goal", "any", required=True), _MODEL_GPT4,
                                  Param("tools", "array", description="action names the model may call"),
                                  Param("max_steps", "integer", default=10), *_LLM_OPTIONS),
                 "Thought -> action -> observation loop; returns {steps, final_answer, total_steps, ...}",
                 requires_trust=True),
    ActionSchema("reason.self_correct", (Param("task", "any", required=True), _MODEL_GPT4,
                                         Param("generator_model", "string"), Param("critic_model", "string"),
                                         Param("improvement_rounds", "integer", default=2),
                                         Param("critic_prompt", "string", raw=True,
                                               description="the critic's instructions; {{ output }} is the draft"),
                                         *_LLM_OPTIONS),
                 "Generate, critique, improve; returns {output, improvement_history, rounds_completed, ...}",
                 requires_trust=True),
    ActionSchema("reason.decompose", (Param("problem", "any", required=True), _MODEL_GPT4,
                                      Param("max_depth", "integer", default=2),
                                      Param("synthesis_prompt", "string", raw=True,
                                            description="{{ sub_answers }} holds the answers"), *_LLM_OPTIONS),
                 "Split into sub-problems, answer each, synthesize; returns {sub_problems, sub_answers, "
                 "final_answer, ...}", requires_trust=True),
    ActionSchema("reason.dspy.cot", (Param("problem", "any", required=True), Param("signature", "string"),
                                     Param("model", "string", description="default settings.dspy.model, "
                                                                          "settings.llm.model, gpt-4"),
                                     Param("few_shot_examples", "array"), Param("compiled_key", "string"),
                                     *_LLM_OPTIONS),
                 "DSPy's ChainOfThought; without DSPy, TEA's documented fallback reason.cot "
                 "(dspy_module: native_fallback)", requires_trust=True),
    ActionSchema("reason.dspy.react", (Param("goal", "any", required=True), Param("signature", "string"),
                                       Param("model", "string"), Param("tools", "array"),
                                       Param("max_steps", "integer", default=10), *_LLM_OPTIONS),
                 "DSPy's ReAct; without DSPy, TEA's documented fallback reason.react", requires_trust=True),
    ActionSchema("plan.decompose", (Param("goal", "any", required=True), _MODEL_GPT4,
                                    Param("strategy", "string", default="flat",
                                          description="flat | hierarchical | iterative"),
                                    Param("max_depth", "integer", default=3),
                                    Param("max_subtasks", "integer", default=15),
                                    Param("prompt_template", "string", raw=True, description="{{ goal }} is the goal"),
                                    Param("planner", "object", raw=True,
                                          description="model, strategy, max_depth, prompt_template together"),
                                    *_LLM_OPTIONS),
                 "Split a goal into subtasks with dependencies (a DAG); returns {plan, plan_id, subtask_count, "
                 "success}", requires_trust=True),
    ActionSchema("plan.execute", (Param("plan", "object", description="default: state.plan"),
                                  Param("parallel", "boolean", default=False),
                                  Param("max_concurrent", "integer", default=3),
                                  Param("subtask_executor", "object", raw=True,
                                        description="{action, with}: run per subtask ({{ subtask }} is set); "
                                                    "default llm.call"),
                                  Param("on_subtask_failure", "string", default="abort",
                                        description="abort | skip | retry"),
                                  Param("max_retries", "integer", default=2),
                                  Param("retry_delay", "number", default=1.0)),
                 "Run a plan's subtasks in dependency order; returns {plan, subtask_results, plan_status, success}",
                 requires_trust=True),
    ActionSchema("plan.status", (Param("plan", "object", description="default: state.plan"),
                                 Param("include_completed", "boolean", default=True),
                                 Param("include_details", "boolean", default=False)),
                 "Counts of a plan's subtasks by status; returns {status, progress, plan_id, goal, success}"),
    ActionSchema("agent.dispatch", (Param("agent", "string", required=True,
                                          description="a name from settings.agents"),
                                    Param("task", "any", required=True), Param("timeout", "number"),
                                    Param("max_retries", "integer")),
                 "Send a task to one agent of settings.agents; returns {response, content, agent, success}",
                 requires_trust=True),
    ActionSchema("agent.parallel", (Param("agents", "array", required=True), Param("task", "any", required=True),
                                    Param("aggregation", "string", default="collect",
                                          description="collect | vote | first | consensus"),
                                    Param("max_concurrent", "integer"), Param("timeout", "number"),
                                    Param("consensus_threshold", "number", default=0.5),
                                    Param("consensus_max_rounds", "integer", default=3)),
                 "Send one task to several agents at once and aggregate the answers", requires_trust=True),
    ActionSchema("agent.sequential", (Param("agents", "array", required=True),
                                      Param("task", "string", raw=True,
                                            description="{{ previous_response }} is the last agent's answer"),
                                      Param("tasks", "array", raw=True, description="one task per agent"),
                                      Param("transform", "string", raw=True),
                                      Param("early_exit_on_failure", "boolean", default=True),
                                      Param("output_key", "string", default="sequential_result")),
                 "Chain agents, each answer feeding the next; returns {result, chain, success}",
                 requires_trust=True),
    ActionSchema("agent.coordinate", (Param("leader", "string", required=True),
                                      Param("workers", "array", required=True), Param("task", "any", required=True),
                                      Param("validation_prompt", "string"), Param("max_rounds", "integer", default=3),
                                      Param("parallel_workers", "boolean", default=True)),
                 "A leader splits the task among workers and checks their work; returns {result, rounds, "
                 "worker_results, success}", requires_trust=True),
    ActionSchema("memory.store", (Param("key", "any", required=True), Param("value", "any", required=True),
                                  Param("ttl", "number", description="seconds; none: no expiry"),
                                  Param("namespace", "string", default="default")),
                 "Remember a value in the process-wide session memory; returns {stored, key, namespace}"),
    ActionSchema("memory.retrieve", (Param("key", "any", required=True), Param("default", "any"),
                                     Param("namespace", "string", default="default")),
                 "Read the session memory; returns {value, found, key}"),
    ActionSchema("memory.summarize", (Param("messages_key", "string", required=True,
                                            description="the state key holding the messages"),
                                      Param("max_tokens", "integer", default=1000), Param("model", "string")),
                 "Summarize a conversation with the model; returns {summary, original_count, token_estimate, "
                 "success}", requires_trust=True),
    ActionSchema("execution.run", (Param("tasks", "array", required=True,
                                         description="[{id, command | steps: [{name, run}]}]"),
                                   Param("mode", "string", description="default settings.execution.mode, else "
                                                                       "sequential (the only mode here)"),
                                   Param("timeout", "number", default=3600, description="seconds per command")),
                 "Run tasks' shell commands one after another in the workflow's folder; returns {status, "
                 "tasks_completed, tasks_total, results}", requires_trust=True),
    ActionSchema("validate.extraction", (Param("entities", "array", description="default: state.entities"),
                                         Param("relationships", "array",
                                               description="default: state.relationships"),
                                         Param("source_text", "string", description="default: state.text"),
                                         Param("schema", "object", description="default: extraction_schema"),
                                         Param("probes", "array", description="default: semantic_probes"),
                                         Param("constraints", "object",
                                               description="default: validation_constraints (Prolog)")),
                 "Check extracted entities and relationships: extraction_schema, then semantic_probes asked to "
                 "the model; returns {valid, errors, validated_at}", requires_trust=True),
    ActionSchema("validate.generate_prompt", (Param("schema", "object"),
                                              Param("confidence_tracking", "boolean", default=False)),
                 "The extraction prompt extraction_schema describes; returns {extraction_prompt}"),

    # -- a2a.*: agents in this process exchanging messages and shared state (engine/actions/a2a.py); in-process
    # only, so only a2a.delegate needs trust (its fallback runs another action)
    ActionSchema("a2a.register", (Param("agent_id", "string", description="default: settings.a2a.agent_id"),
                                  Param("capabilities", "array"), Param("agent_type", "string"),
                                  Param("metadata", "object")),
                 "Register this agent for discovery and broadcasts; returns {a2a_registered, a2a_agent_info, "
                 "_agent_id, _namespace}"),
    ActionSchema("a2a.unregister", (Param("agent_id", "string", description="default: this agent"),),
                 "Unregister an agent; returns {a2a_unregistered}"),
    ActionSchema("a2a.heartbeat", (), "Update this agent's last_seen; returns {a2a_heartbeat, a2a_status}"),
    ActionSchema("a2a.discover", (Param("capability", "string"), Param("agent_type", "string"),
                                  Param("status", "string", description="active, ...")),
                 "The agents registered in this namespace; returns {a2a_agents}"),
    ActionSchema("a2a.send", (Param("to", "string", required=True), _A2A_MESSAGE,
                              Param("confirm", "boolean", default=False, description="return the message's id"),
                              Param("correlation_id", "string", description="answers a delegated task"),
                              _A2A_TTL),
                 "Send a message to one agent; returns {a2a_message_sent, a2a_message_id}"),
    ActionSchema("a2a.receive", (Param("from_agents", "any", description="sender id(s) to accept"),
                                 Param("from", "any", description="alias of from_agents"),
                                 Param("type", "string", description="message type to accept"),
                                 Param("timeout", "any", default="0s", description=_A2A_DURATION),
                                 Param("require_all", "boolean", default=False,
                                       description="wait for a message from every agent of from_agents")),
                 "Take this agent's waiting messages; returns {a2a_messages} (on timeout also a2a_timeout, "
                 "a2a_error)"),
    ActionSchema("a2a.broadcast", (_A2A_MESSAGE, Param("agent_type_filter", "string"), _A2A_TTL),
                 "Send a message to every other registered agent of the namespace; returns {a2a_broadcast_count}"),
    ActionSchema("a2a.delegate", (Param("to", "string", required=True),
                                  Param("task", "object", required=True, description="{type, ...fields}"),
                                  Param("timeout", "any", default="60s", description=_A2A_DURATION),
                                  Param("on_timeout", "string", default="raise",
                                        description="raise | fallback_local | retry"),
                                  Param("fallback", "object", raw=True,
                                        description="with fallback_local: {action | uses, with}")),
                 "Send a task to an agent and wait for its answer; returns {a2a_delegation_result, "
                 "a2a_delegation_success, ...}", requires_trust=True),
    ActionSchema("a2a.state.get", (Param("key", "string", required=True), Param("default", "any")),
                 "Read the namespace's shared state; returns {a2a_shared_state, a2a_state_version}"),
    ActionSchema("a2a.state.set", (Param("key", "string", required=True), Param("value", "any", required=True),
                                   _A2A_TTL, Param("expected_version", "any",
                                                   description="optimistic locking: fails unless the version "
                                                               "matches (0: not set yet)")),
                 "Write the namespace's shared state; returns {a2a_state_version, a2a_state_updated} or a "
                 "conflict"),
)


# Why well-known TEA actions do not run here (they stay UNKNOWN_ACTION warnings and located run errors).
UNSUPPORTED_REASONS: dict[str, str] = {
    **dict.fromkeys(("reason.dspy.compile", "reason.dspy.optimize", "reason.dspy.export", "reason.dspy.import"),
                    "it needs the dspy library"),
    **dict.fromkeys(("learn.textgrad.variable", "learn.textgrad.feedback", "learn.textgrad.optimize_prompt",
                     "learn.textgrad.reflection_corrector"), "it needs the textgrad library"),
    **dict.fromkeys(("rag.llamaindex.create_index", "rag.llamaindex.query", "rag.llamaindex.router",
                     "rag.llamaindex.subquestion"), "it needs the llama-index library"),
    **dict.fromkeys(("memory.mem0.add", "memory.mem0.search", "memory.mem0.get", "memory.mem0.update",
                     "memory.mem0.delete"), "it needs the mem0 library"),
    "llamaextract.extract": "it needs a LlamaCloud account and client",
    "web.ai_scrape": "it needs the scrapegraph service",
    "code.execute": "TEA runs it in RestrictedPython's sandbox, which TEA Studio does not have",
    "prolog.query": "TEA Studio runs Prolog only in Prolog nodes (language: prolog)",
}


# -- the catalogue: built-ins plus entry points ----------------------------------------------------------------------
class _Catalog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[str, Any] | None = None
        self.plugin_errors: list[str] = []
        self.builtins: dict[str, ActionSchema] = {}
        for schema in BUILTIN_SCHEMAS:
            for name in (schema.name, *schema.aliases):
                self.builtins[name] = schema

    def plugins(self) -> dict[str, Any]:
        """name -> loaded plugin object (with ``schema`` and ``run``), loaded once per process."""
        with self._lock:
            if self._plugins is None:
                self._plugins = self._load()
            return self._plugins

    def _load(self) -> dict[str, Any]:
        from importlib.metadata import entry_points

        found: dict[str, Any] = {}
        for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                loaded = entry.load()
                items = loaded() if callable(loaded) and not hasattr(loaded, "schema") else loaded
                for item in items if isinstance(items, (list, tuple)) else [items]:
                    schema = getattr(item, "schema", None)
                    if not isinstance(schema, ActionSchema) or not callable(getattr(item, "run", None)):
                        raise TypeError(f"{item!r} has no ActionSchema `schema` and `run`")
                    for name in (schema.name, *schema.aliases):
                        found.setdefault(name, item)
            except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never fatal
                self.plugin_errors.append(f"action plugin '{entry.name}' ({entry.value}) failed to load: "
                                          f"{type(exc).__name__}: {exc}")
        return found

    def reload(self) -> None:
        with self._lock:
            self._plugins = None
            self.plugin_errors = []


CATALOG = _Catalog()


def action_schema(name: Any) -> ActionSchema | None:
    """The schema of a built-in or plugin action (built-ins win a name clash), or None when unknown."""
    if not isinstance(name, str):
        return None
    schema = CATALOG.builtins.get(name)
    if schema is not None:
        return schema
    plugin = CATALOG.plugins().get(name)
    return plugin.schema if plugin is not None else None


def action_names() -> list[str]:
    """Every known action name (primary names, built-ins first, then plugins), for palettes and completion."""
    names = [schema.name for schema in BUILTIN_SCHEMAS]
    names += sorted({item.schema.name for item in CATALOG.plugins().values()} - set(names))
    return names


@dataclass
class ActionCall:
    """What an action node says: the action's name, its parameters, the output key, and how it was spelled."""

    name: str | None
    params: dict[str, Any] | None = None
    output: Any = None
    spelling: str = "uses"  # uses | action
    params_key: str = "with"  # with | params
    extra: dict[str, Any] = field(default_factory=dict)


def action_call(node: Any) -> ActionCall | None:
    """The action a node runs: ``uses:`` (the model's action kind) or the Rust engine's ``action:`` spelling
    (kept in ``extra`` with ``with:``/``params:`` and ``output:``). None for any other node."""
    uses = getattr(node, "uses", None)
    kind = getattr(node, "kind", None)
    if kind != "noop" and kind != "action" and uses is None:  # most nodes: checked once per node of every plan
        return None
    extra = getattr(node, "extra", None) or {}
    if kind == "action" or uses is not None:
        return ActionCall(uses, node.with_args, node.output if node.output is not None else extra.get("outputs"))
    if "action" in extra and isinstance(extra.get("action"), str):
        key = "params" if "params" in extra and "with" not in extra else "with"
        params = extra.get(key)
        output = next((extra[k] for k in ("output", "output_key", "outputs") if extra.get(k) is not None), None)
        return ActionCall(extra["action"], params if isinstance(params, dict) else None, output, "action", key)
    return None


def trusted_content(node: Any) -> Any:
    """What the user trusts in a node before it runs, or None when it needs no trust: a Python node's code, or a
    trusted action's name and parameters (unknown actions cannot run, so they need none)."""
    if getattr(node, "kind", None) == "python":
        return node.code or ""
    call = action_call(node)
    if call is None:
        return None
    schema = action_schema(call.name)
    if schema is None or not schema.requires_trust:
        return None
    return {"action": call.name, "params": call.params}


ACTION_KIND = "action:"  # a creatable node kind per registered action: "action:llm.call"


def creatable_kinds() -> dict[str, Any]:
    """The kinds the studio offers (palette, quick add): the model's creatable kinds, then one per registered
    action (built-in or plugin), e.g. ``action:llm.call`` labelled ``llm.call``."""
    from tea_studio.workflow.model import CREATABLE_KINDS, KINDS, KindInfo

    kinds: dict[str, Any] = {kind: KINDS[kind] for kind in CREATABLE_KINDS}
    for name in action_names():
        kinds[ACTION_KIND + name] = KindInfo(name, "node-action", f"{action_schema(name).description} (action {name})",
                                             creatable=True)
    return kinds


_STARTER_VALUES: dict[str, Any] = {"string": "", "number": 0, "integer": 0, "boolean": False, "object": {},
                                   "array": [], "messages": [{"role": "user", "content": ""}], "any": ""}


def starter_params(name: str) -> dict[str, Any]:
    """A new node's ``with:``: each required parameter (and the first of ``one_of``) with its default, or an empty
    value of its type."""
    schema = action_schema(name)
    if schema is None:
        return {}
    return {p.name: copy.deepcopy(p.default if p.default is not None else _STARTER_VALUES.get(p.type, ""))
            for p in schema.params if p.required or (schema.one_of and p.name == schema.one_of[0])}
