"""a2a.*: TEA's agent-to-agent actions over one broker per process. Every run in the process (the studio's runs,
the branches of a thread-strategy fork, one ``tea-studio run``) that names the same ``settings.a2a.namespace``
sees the same agents, mailboxes and shared state; namespaces never see each other. Nothing leaves the process: no
network transport, so a run in another process (another studio, a process-strategy branch) is another world.

An agent is ``settings.a2a.agent_id`` (a template over the state), else the ``_agent_id`` a register left in the
state, else ``default-agent``. Waiting (receive, delegate) polls the run's Stop like ``ActionContext.pause``."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tea_studio.engine import expressions
from tea_studio.engine.actions.context import POLL_S, ActionContext, ActionError, ActionStopped
from tea_studio.engine.actions.registry import builtin, run_action, template_context

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, name: str = "timeout") -> float:
    """Seconds from a number or TEA's ``"30s"``, ``"5m"``, ``"1h"`` (``"500ms"`` too); negative counts as 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(0.0, float(value))
    text = str(value).strip().lower()
    unit = next((u for u in ("ms", "s", "m", "h") if text.endswith(u)), "")
    try:
        return max(0.0, float(text[: len(text) - len(unit)]) * _UNITS.get(unit, 1.0))
    except ValueError:
        raise ActionError(f"{name} {value!r} is not a duration (seconds, or like \"30s\", \"5m\", \"1h\")") from None


@dataclass
class Message:
    """One message as TEA's a2a.receive returns it (plus ``id`` and ``ttl``, as TEA's message queue keeps them)."""

    from_agent: str
    to_agent: str
    namespace: str
    type: str
    payload: Any
    correlation_id: str | None = None
    ttl: float | None = None
    id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex[:12]}")
    timestamp: float = field(default_factory=time.time)

    def expired(self, now: float) -> bool:
        return self.ttl is not None and now - self.timestamp > self.ttl


@dataclass
class AgentInfo:
    agent_id: str
    namespace: str
    capabilities: list[Any]
    agent_type: str | None
    metadata: dict[str, Any]
    status: str = "active"
    last_seen: float = field(default_factory=time.time)


@dataclass
class _Entry:
    value: Any
    version: int
    expires: float | None  # time.monotonic() deadline


Match = Callable[[Message], bool]


class Broker:
    """The process's agents, mailboxes and shared state, keyed by namespace; one condition guards them all, so a
    waiting receive wakes as soon as a message is posted. Values are deep-copied in and out: agents share no
    objects."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._agents: dict[str, dict[str, AgentInfo]] = {}
        self._mail: dict[tuple[str, str], list[Message]] = {}
        self._state: dict[tuple[str, str], _Entry] = {}

    # -- discovery ---------------------------------------------------------------------------------------------
    def register(self, info: AgentInfo) -> AgentInfo:
        with self._cond:
            self._agents.setdefault(info.namespace, {})[info.agent_id] = info
            return copy.deepcopy(info)

    def unregister(self, namespace: str, agent_id: str) -> bool:
        with self._cond:
            return self._agents.get(namespace, {}).pop(agent_id, None) is not None

    def heartbeat(self, namespace: str, agent_id: str) -> AgentInfo | None:
        with self._cond:
            info = self._agents.get(namespace, {}).get(agent_id)
            if info is not None:
                info.last_seen = time.time()
            return copy.deepcopy(info)

    def discover(self, namespace: str, capability: Any = None, agent_type: Any = None,
                 status: Any = None) -> list[AgentInfo]:
        with self._cond:
            return [copy.deepcopy(a) for a in self._agents.get(namespace, {}).values()
                    if (capability is None or capability in a.capabilities)
                    and (agent_type is None or a.agent_type == agent_type) and (status is None or a.status == status)]

    # -- messages ----------------------------------------------------------------------------------------------
    def post(self, message: Message) -> None:
        with self._cond:
            message.payload = copy.deepcopy(message.payload)
            self._mail.setdefault((message.namespace, message.to_agent), []).append(message)
            self._cond.notify_all()

    def broadcast(self, message: Message, agent_type: Any = None) -> int:
        """A copy to every registered agent of the namespace but the sender (of ``agent_type`` when given)."""
        with self._cond:
            recipients = [a.agent_id for a in self._agents.get(message.namespace, {}).values()
                          if a.agent_id != message.from_agent and (agent_type is None or a.agent_type == agent_type)]
            for agent_id in recipients:
                copied = Message(message.from_agent, agent_id, message.namespace, message.type,
                                 copy.deepcopy(message.payload), message.correlation_id, message.ttl,
                                 timestamp=message.timestamp)
                self._mail.setdefault((message.namespace, agent_id), []).append(copied)
            self._cond.notify_all()
            return len(recipients)

    def withdraw(self, namespace: str, agent_id: str, message_id: str) -> None:
        """Take back a message its recipient has not read (a delegated task nobody answered in time)."""
        with self._cond:
            box = self._mail.get((namespace, agent_id), [])
            box[:] = [m for m in box if m.id != message_id]

    def _take(self, namespace: str, agent_id: str, match: Match, required: set[str]) -> list[Message] | None:
        """The matching messages, consumed, once there is one (and one from each ``required`` sender); else None
        and nothing is consumed. Expired messages are dropped on the way."""
        box = self._mail.get((namespace, agent_id))
        if not box:
            return None
        now = time.time()
        box[:] = [m for m in box if not m.expired(now)]
        taken = [m for m in box if match(m)]
        if not taken or not required <= {m.from_agent for m in taken}:
            return None
        box[:] = [m for m in box if not any(m is t for t in taken)]
        return taken

    def senders(self, namespace: str, agent_id: str, match: Match) -> set[str]:
        """Who has a matching message waiting (what a require_all receive has so far)."""
        with self._cond:
            return {m.from_agent for m in self._mail.get((namespace, agent_id), []) if match(m)}

    def wait(self, namespace: str, agent_id: str, match: Match, timeout: float, stopped: Callable[[], bool],
             required: set[str] | None = None) -> list[Message] | None:
        """:meth:`_take`, waiting up to ``timeout`` seconds (None when it ran out); raises ActionStopped within
        ~50 ms of Stop."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if stopped():
                    raise ActionStopped()
                taken = self._take(namespace, agent_id, match, required or set())
                left = deadline - time.monotonic()
                if taken is not None or left <= 0:
                    return taken
                self._cond.wait(min(POLL_S, left))

    # -- shared state ------------------------------------------------------------------------------------------
    def get(self, namespace: str, key: str, default: Any) -> tuple[Any, int]:
        with self._cond:
            entry = self._entry(namespace, key)
            return (copy.deepcopy(entry.value), entry.version) if entry else (default, 0)

    def set(self, namespace: str, key: str, value: Any, ttl: float | None,
            expected: int | None) -> tuple[bool, int]:
        """(written, version): the new version, or the actual one when ``expected`` does not match it."""
        with self._cond:
            entry = self._entry(namespace, key)
            version = entry.version if entry else 0
            if expected is not None and expected != version:
                return False, version
            expires = time.monotonic() + ttl if ttl is not None else None
            self._state[(namespace, key)] = _Entry(copy.deepcopy(value), version + 1, expires)
            return True, version + 1

    def _entry(self, namespace: str, key: str) -> _Entry | None:
        entry = self._state.get((namespace, key))
        if entry is not None and entry.expires is not None and entry.expires <= time.monotonic():
            del self._state[(namespace, key)]
            return None
        return entry


BROKER = Broker()


# -- who is asking ---------------------------------------------------------------------------------------------------
def _config(context: ActionContext) -> dict[str, Any]:
    config = context.settings.get("a2a")
    return config if isinstance(config, dict) else {}


def _setting(name: str, state: dict[str, Any], context: ActionContext) -> str | None:
    value = _config(context).get(name)
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        with template_context(context):
            try:
                value = expressions.render_value(value, state, context.variables)
            except expressions.ExpressionError as exc:
                raise ActionError(f"settings.a2a.{name}: template failed: {exc}") from None
    return str(value) if value not in (None, "") else None


def agent_id(state: dict[str, Any], context: ActionContext) -> str:
    return _setting("agent_id", state, context) or str(state.get("_agent_id") or "default-agent")


def namespace(state: dict[str, Any], context: ActionContext) -> str:
    return _setting("namespace", state, context) or str(state.get("_namespace") or "default")


def _message(params: dict[str, Any], sender: str, to: str, space: str, default_type: str) -> Message:
    body = params["message"]
    ttl = parse_duration(params["ttl"], "ttl") if params.get("ttl") is not None else None
    return Message(sender, to, space, str(body.get("type", default_type)), body.get("payload", {}),
                   params.get("correlation_id"), ttl)


# -- the actions -------------------------------------------------------------------------------------------------
@builtin("a2a.register")
def a2a_register(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    me, space = params.get("agent_id") or agent_id(state, context), namespace(state, context)
    info = BROKER.register(AgentInfo(me, space, list(params.get("capabilities") or []), params.get("agent_type"),
                                     dict(params.get("metadata") or {})))
    return {"a2a_registered": True, "a2a_agent_info": asdict(info), "_agent_id": me, "_namespace": space}


@builtin("a2a.unregister")
def a2a_unregister(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    BROKER.unregister(namespace(state, context), params.get("agent_id") or agent_id(state, context))
    return {"a2a_unregistered": True}


@builtin("a2a.heartbeat")
def a2a_heartbeat(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    info = BROKER.heartbeat(namespace(state, context), agent_id(state, context))
    if info is None:
        return {"a2a_heartbeat": None, "a2a_error": "Agent not registered"}
    return {"a2a_heartbeat": info.last_seen, "a2a_status": info.status}


@builtin("a2a.discover")
def a2a_discover(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    agents = BROKER.discover(namespace(state, context), params.get("capability"), params.get("agent_type"),
                             params.get("status"))
    return {"a2a_agents": [asdict(a) for a in agents]}


@builtin("a2a.send")
def a2a_send(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    message = _message(params, agent_id(state, context), str(params["to"]), namespace(state, context), "message")
    BROKER.post(message)
    return {"a2a_message_sent": True, **({"a2a_message_id": message.id} if params.get("confirm") else {})}


@builtin("a2a.broadcast")
def a2a_broadcast(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    message = _message(params, agent_id(state, context), "*", namespace(state, context), "broadcast")
    return {"a2a_broadcast_count": BROKER.broadcast(message, params.get("agent_type_filter"))}


@builtin("a2a.receive")
def a2a_receive(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Every waiting message that passes the filters, once there is one (with require_all: one from each of
    from_agents; until then none is taken). Timing out is a result, not an error."""
    senders = params.get("from_agents") if params.get("from_agents") is not None else params.get("from")
    senders = [str(s) for s in ([senders] if isinstance(senders, str) else senders or [])]
    kind, timeout = params.get("type"), parse_duration(params["timeout"])
    required = set(senders) if params.get("require_all") and senders else set()

    def match(m: Message) -> bool:
        return (not senders or m.from_agent in senders) and (kind is None or m.type == kind)

    space, me = namespace(state, context), agent_id(state, context)
    taken = BROKER.wait(space, me, match, timeout, context.stopped, required)
    if taken is not None:
        return {"a2a_messages": [asdict(m) for m in taken]}
    if timeout <= 0 and not required:
        return {"a2a_messages": []}  # a look without waiting found nothing: no timeout
    if required:
        missing = sorted(required - BROKER.senders(space, me, match))
        error = f"Timeout waiting for messages from [{', '.join(missing)}]"
    else:
        error = " ".join(["Timeout after", f"{timeout}s waiting for messages", *([f"of type '{kind}'"] if kind else []),
                          *([f"from [{', '.join(senders)}]"] if senders else [])])
    return {"a2a_messages": [], "a2a_timeout": True, "a2a_error": error}


@builtin("a2a.delegate")
def a2a_delegate(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Send the task (its ``type`` as the message type, the rest as the payload) with a fresh correlation id and
    wait for a message from ``to`` carrying that id: its payload is the result."""
    me, space, to = agent_id(state, context), namespace(state, context), str(params["to"])
    timeout, task = parse_duration(params["timeout"]), dict(params["task"])
    correlation = f"req_{uuid.uuid4().hex[:12]}"
    request = Message(me, to, space, str(task.pop("type", "task")), task, correlation)
    BROKER.post(request)
    try:
        answer = BROKER.wait(space, me, lambda m: m.from_agent == to and m.correlation_id == correlation, timeout,
                             context.stopped)
    except ActionStopped:
        BROKER.withdraw(space, to, request.id)
        raise
    if answer:
        return {"a2a_delegation_result": answer[0].payload, "a2a_delegation_success": True}
    BROKER.withdraw(space, to, request.id)
    timed_out = {"a2a_delegation_result": None, "a2a_delegation_success": False, "a2a_delegation_timeout": True}
    strategy = params["on_timeout"]
    if strategy == "fallback_local":
        return _fallback(params.get("fallback"), state, context) or {
            **timed_out, "a2a_error": "Delegation timed out and no fallback available"}
    if strategy == "retry":
        return {**timed_out, "a2a_should_retry": True}
    if strategy != "raise":
        return {**timed_out, "a2a_error": f"Unknown on_timeout strategy: {strategy}"}
    return {**timed_out, "a2a_error": f"Delegation to {to} timed out after {timeout}s"}


def _fallback(config: Any, state: dict[str, Any], context: ActionContext) -> dict[str, Any] | None:
    """Run the fallback action config ``{action | uses, with}`` as a node would (its ``with:`` rendered now)."""
    name = (config.get("action") or config.get("uses")) if isinstance(config, dict) else None
    if not isinstance(name, str) or not name:
        return None
    params = config.get("with")
    result = run_action(name, params if isinstance(params, dict) else {}, state, context)
    return {"a2a_delegation_result": result, "a2a_delegation_success": False, "a2a_delegation_fallback": True}


@builtin("a2a.state.get")
def a2a_state_get(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    value, version = BROKER.get(namespace(state, context), str(params["key"]), params.get("default"))
    return {"a2a_shared_state": value, "a2a_state_version": version}


@builtin("a2a.state.set")
def a2a_state_set(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    expected = params.get("expected_version")
    if expected is not None:
        try:
            expected = int(expected)
        except (TypeError, ValueError):
            raise ActionError(f"expected_version {expected!r} is not a whole number") from None
    ttl = parse_duration(params["ttl"], "ttl") if params.get("ttl") is not None else None
    written, version = BROKER.set(namespace(state, context), str(params["key"]), params["value"], ttl, expected)
    if written:
        return {"a2a_state_version": version, "a2a_state_updated": True}
    return {"a2a_state_updated": False, "a2a_state_conflict": True,
            "a2a_error": f"Version conflict: expected {expected}, actual {version}",
            "a2a_state_expected_version": expected, "a2a_state_actual_version": version}
