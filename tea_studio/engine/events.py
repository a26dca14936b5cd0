"""Run events: small frozen dataclasses with monotonic timestamps, and the sink protocol.

Events are built with keyword arguments only (``NodeStarted(t=..., node=...)``), so adding a field never shifts
another. ``t`` is ``time.monotonic()`` when the event happened. ``branch`` is the branch path ("" for the main flow; a
branch is named after its start node, nested branches as ``outer/inner``). Every event serialises to one JSON
object with :func:`event_to_dict` (the ``--stream`` / NDJSON format: ``type`` plus the fields, ``t`` relative to
the run start).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol


class _EventType(type):
    """The type of every event class: building an event goes through :func:`_direct_build`'s ``__call__``."""


@dataclass(frozen=True, kw_only=True)
class RunEvent(metaclass=_EventType):
    t: float


@dataclass(frozen=True, kw_only=True)
class RunStarted(RunEvent):
    run_id: str
    workflow: str
    inputs: dict[str, Any] = field(default_factory=dict)
    # A run started from a past one (engine/start.py): the run it came from, where it started and how
    # ("from": from that node on, "node": that node alone). None for a run from the entry.
    parent_run: str | None = None
    start_node: str | None = None
    start_mode: str | None = None


@dataclass(frozen=True, kw_only=True)
class NodeStarted(RunEvent):
    node: str
    branch: str = ""
    iteration: int = 1  # how many times this node has started in this flow, this one included
    pinned: bool = False  # the run uses the node's pinned output instead of running it


@dataclass(frozen=True, kw_only=True)
class NodeFinished(RunEvent):
    node: str
    branch: str = ""
    timing_ms: float = 0.0
    ok: bool = True
    update: dict[str, Any] | None = None  # what the node returned (merged into state)
    state: dict[str, Any] | None = None  # the state after the node (a snapshot owned by the event)
    error: str | None = None
    line: int | None = None  # line inside the node's code for Lua errors
    pinned: bool = False  # ``update`` is the node's pinned output: the node did not run


@dataclass(frozen=True, kw_only=True)
class LoopStarted(RunEvent):
    """A while_loop node begins (TEA's LoopStart)."""

    node: str
    branch: str = ""
    max_iterations: int = 0


@dataclass(frozen=True, kw_only=True)
class LoopIteration(RunEvent):
    """The loop's condition was evaluated before iteration ``iteration`` (1-based; TEA's LoopIteration)."""

    node: str
    branch: str = ""
    iteration: int = 1
    condition_result: bool = True


@dataclass(frozen=True, kw_only=True)
class LoopFinished(RunEvent):
    """TEA's LoopEnd: ``exit_reason`` is "condition_false" or "max_iterations_reached"."""

    node: str
    branch: str = ""
    iterations_completed: int = 0
    exit_reason: str = "condition_false"


@dataclass(frozen=True, kw_only=True)
class StepStarted(RunEvent):
    """An inner node of a composite node starts: a loop body node, a node-level step, a dynamic_parallel item's
    step. ``index`` is its position in the list; ``iteration`` the loop iteration (0 outside loops)."""

    node: str
    branch: str = ""
    step: str = ""
    index: int = 0
    iteration: int = 0


@dataclass(frozen=True, kw_only=True)
class StepFinished(RunEvent):
    node: str
    branch: str = ""
    step: str = ""
    index: int = 0
    iteration: int = 0
    timing_ms: float = 0.0
    ok: bool = True
    update: dict[str, Any] | None = None
    error: str | None = None
    line: int | None = None


@dataclass(frozen=True, kw_only=True)
class DynamicParallelStarted(RunEvent):
    """A dynamic_parallel node fans out over ``item_count`` items (each item a branch named ``node[i]``)."""

    node: str
    branch: str = ""
    item_count: int = 0
    max_concurrency: int | None = None


@dataclass(frozen=True, kw_only=True)
class DynamicParallelFinished(RunEvent):
    node: str
    branch: str = ""
    total: int = 0
    successful: int = 0
    failed: int = 0  # cancelled items (fail_fast) included
    cancelled: int = 0


@dataclass(frozen=True, kw_only=True)
class LogLine(RunEvent):
    node: str
    branch: str = ""
    text: str = ""
    level: str = "info"  # info | warning | error


@dataclass(frozen=True, kw_only=True)
class LlmToken(RunEvent):
    """A piece of a language model's output as it arrives (an SSE delta, or a line of a CLI agent)."""

    node: str
    branch: str = ""
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class BranchStarted(RunEvent):
    branch: str
    fork: str  # the fork node
    fan_in: str | None
    index: int  # position in edge declaration order
    vm_ready_us: float = 0.0  # emitted when the fresh Lua VM is ready: the branch began at t - vm_ready_us
    where: str = ""  # where it runs: "thread tea-branch_0", "process 4242", "dask tcp://127.0.0.1:40123 (process 77)"


@dataclass(frozen=True, kw_only=True)
class BranchFinished(RunEvent):
    branch: str
    fork: str
    fan_in: str | None
    index: int
    ok: bool
    timing_ms: float
    state: dict[str, Any] | None = None
    error: str | None = None
    node: str | None = None  # the failing node when not ok
    vm_memory_kb: float | None = None


@dataclass(frozen=True, kw_only=True)
class FanInReady(RunEvent):
    node: str
    branch: str = ""
    results: int = 0
    errors: int = 0


@dataclass(frozen=True, kw_only=True)
class Paused(RunEvent):
    node: str
    branch: str = ""
    when: str = "before"  # before | after
    state: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Resumed(RunEvent):
    node: str
    branch: str = ""


@dataclass(frozen=True, kw_only=True)
class RunWarning(RunEvent):
    message: str
    node: str | None = None
    branch: str = ""


@dataclass(frozen=True, kw_only=True)
class RunFinished(RunEvent):
    state: dict[str, Any]
    timing_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RunFailed(RunEvent):
    error: str
    node: str | None = None
    branch: str = ""
    timing_ms: float = 0.0
    line: int | None = None


EVENT_TYPES: dict[str, type[RunEvent]] = {
    "run_started": RunStarted,
    "node_started": NodeStarted,
    "node_finished": NodeFinished,
    "log_line": LogLine,
    "llm_token": LlmToken,
    "branch_started": BranchStarted,
    "branch_finished": BranchFinished,
    "fan_in_ready": FanInReady,
    "paused": Paused,
    "resumed": Resumed,
    "warning": RunWarning,
    "run_finished": RunFinished,
    "run_failed": RunFailed,
    "loop_started": LoopStarted,
    "loop_iteration": LoopIteration,
    "loop_finished": LoopFinished,
    "step_started": StepStarted,
    "step_finished": StepFinished,
    "dynamic_parallel_started": DynamicParallelStarted,
    "dynamic_parallel_finished": DynamicParallelFinished,
}
_TYPE_NAMES = {cls: name for name, cls in EVENT_TYPES.items()}


def _direct_build(cls: type[RunEvent]) -> None:
    """Make ``cls(...)`` build the event with the dataclass's keyword-only signature, without the dataclass's own
    ``__init__``: a frozen dataclass sets each field through ``object.__setattr__``, and filling the instance's
    dict key by key is dear too. The fields are set on a plain draft object of the same layout (the interpreter's
    fastest attribute stores), which then becomes an instance of ``cls``; it stays a frozen dataclass in all else
    (pickling, ``dataclasses.replace``, equality, hashing). Events of every node are built this way."""
    draft = type(f"{cls.__name__}Draft", (), {})
    names: dict[str, Any] = {"_MISSING": dataclasses.MISSING, "_Draft": draft}
    params, body = [], []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            names[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
            body.append(f"d.{f.name} = {f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_f_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            body.append(f"d.{f.name} = _f_{f.name}() if {f.name} is _MISSING else {f.name}")
        else:
            params.append(f.name)
            body.append(f"d.{f.name} = {f.name}")
    lines = [f"def __call__(cls, *, {', '.join(params)}):", "    d = _Draft()"]
    lines += [f"    {line}" for line in body]
    lines += ["    d.__class__ = cls", "    return d"]
    exec("\n".join(lines), names)  # noqa: S102 - the source is made here from the class's own field names
    build = names["__call__"]
    build.__qualname__ = f"{cls.__qualname__}.__call__"
    cls.__class__ = type(f"{cls.__name__}Type", (_EventType,), {"__call__": build})


for _cls in EVENT_TYPES.values():
    _direct_build(_cls)
del _cls


def event_type(event: RunEvent) -> str:
    """The event's name in the stream, e.g. ``node_started``."""
    return _TYPE_NAMES[type(event)]


def event_to_dict(event: RunEvent, t0: float = 0.0) -> dict[str, Any]:
    """The JSON form: ``{"type": ..., "t": seconds since t0, ...fields}``."""
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    data["t"] = round(event.t - t0, 6)
    return {"type": event_type(event), **data}


def event_from_dict(data: dict[str, Any], t0: float = 0.0) -> RunEvent:
    """Inverse of :func:`event_to_dict` (used to re-open saved runs)."""
    cls = EVENT_TYPES[data["type"]]
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    kwargs["t"] = float(data.get("t", 0.0)) + t0
    return cls(**kwargs)


class EventSink(Protocol):
    """Receives events from any thread. Must be thread-safe and cheap (never block the runner)."""

    def emit(self, event: RunEvent) -> None: ...


class NullSink:
    def emit(self, event: RunEvent) -> None:
        pass


MAX_LOG_TEXT = 32 << 20  # characters of log lines one run may emit


class LogBudgetSink:
    """Forwards events to ``sink``, dropping log lines once a run's have passed ``limit`` characters in all, with
    one warning line saying so: the studio and the run history keep every line, and a loop of prints from a
    file could otherwise fill the studio's memory within one node's timeout."""

    def __init__(self, sink: EventSink, limit: int = MAX_LOG_TEXT) -> None:
        self.sink = sink
        self.limit = limit
        self._left = limit
        self._cut = False
        self._lock = threading.Lock()

    def emit(self, event: RunEvent) -> None:
        if isinstance(event, LogLine):
            with self._lock:
                self._left -= len(event.text)
                first = self._left < 0 and not self._cut
                self._cut = self._cut or self._left < 0
            if self._cut:
                if first:
                    self.sink.emit(LogLine(t=event.t, node=event.node, branch=event.branch, level="warning",
                                           text=f"log output past {self.limit >> 20} MiB in this run is dropped"))
                return
        self.sink.emit(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sink, name)


class ListSink:
    """Collects events in a list (thread-safe); handy for tests and the CLI."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: RunEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of_type(self, cls: type[RunEvent]) -> list[RunEvent]:
        with self._lock:
            return [e for e in self.events if isinstance(e, cls)]
