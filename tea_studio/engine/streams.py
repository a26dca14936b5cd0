"""Stream channels (TEA's ``streams:``) for Python nodes, run in-process.

A channel is the text its producer wrote to ``sys.stdout`` (or ``sys.stderr``), kept in memory by the flow that
ran it and counted against the run's state budget: a producer that writes more than the budget leaves fails,
naming the node and the channel. A consumer's ``sys.stdin`` reads the whole channel from the start, so each
consumer of a broadcast gets all of it. The producer ends before its consumers start (the flow's order), where
TEA runs them at once over OS pipes: an endless producer never ends here.

A stream node sees its channels through ``import sys``: its builtins import a per-node ``sys`` whose
stdin/stdout/stderr are the channels (everything else is the real module). The process-wide ``sys`` is never
touched: branches run on threads at the same time.

Channels travel with the state: a fork hands its flow's channels to each branch under :data:`STREAMS_KEY` (plain
strings, so they pickle to process and Dask workers) and a branch hands what it has back with its final state;
the fork takes the key out of both before anything else sees the state.
"""

from __future__ import annotations

import builtins
import io
import sys
import types
from typing import Any

from tea_studio.engine.python_node import PythonNodeError, run_python_node
from tea_studio.workflow.streams import StreamSpec

STREAMS_KEY = "__tea_stream_channels__"
_HELD = "\0stream:"  # a channel's entry in the flow's budget account (never a state key)
_real_import = builtins.__import__


class _Quota:
    """The characters one node run may still write to its channels (the run's budget left when it started)."""

    __slots__ = ("left", "budget_mb")

    def __init__(self, left: int, budget_mb: float) -> None:
        self.left, self.budget_mb = left, budget_mb


class StreamBudgetExceeded(Exception):
    """A producer wrote more than the run's memory budget leaves."""


class ChannelWriter(io.TextIOBase):
    """A node's ``sys.stdout``/``sys.stderr`` bound to a channel; refuses text past the quota."""

    def __init__(self, node: str, channel: str, quota: _Quota) -> None:
        super().__init__()
        self.node, self.channel, self.quota = node, channel, quota
        self.parts: list[str] = []
        self.overflow: str | None = None  # kept even if the node's code catches the error

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.overflow is None and len(text) > self.quota.left:
            self.overflow = (f"node '{self.node}' wrote more to stream '{self.channel}' than the run's memory "
                             f"budget ({self.quota.budget_mb:g} MiB for its states and channels) leaves")
        if self.overflow is not None:
            raise StreamBudgetExceeded(self.overflow)
        self.quota.left -= len(text)
        self.parts.append(text)
        return len(text)

    def text(self) -> str:
        return "".join(self.parts)


class _NodeSys(types.ModuleType):
    """``sys`` as one stream node sees it: its own stdin/stdout/stderr, the real module for the rest."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)


class NodeStdio:
    """What :func:`run_python_node` gives a stream node: builtins whose ``import sys`` is the node's own ``sys``,
    and where a bare ``print()`` goes (its stdout channel, or None = the run's log)."""

    def __init__(self, stdin: Any, stdout: ChannelWriter | None, stderr: ChannelWriter | None) -> None:
        own = _NodeSys("sys")
        own.stdin = stdin if stdin is not None else sys.stdin
        own.stdout = stdout if stdout is not None else sys.stdout
        own.stderr = stderr if stderr is not None else sys.stderr

        def node_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
            if name == "sys" and level == 0:
                return own
            return _real_import(name, globals, locals, fromlist, level)

        self.builtins = {**vars(builtins), "__import__": node_import}
        self.stdout = stdout


def run_stream_node(flow: Any, step: Any, state: dict[str, Any]) -> dict[str, Any] | None:
    """Run a Python node with ``streams:`` in ``flow`` (a runner flow): read and write its channels, keep what
    it wrote in ``flow.channels`` and charge it to the run's budget."""
    spec: StreamSpec = step.streams
    channels: dict[str, str] = flow.channels
    stdin = None
    if spec.stdin is not None:
        if spec.stdin not in channels:
            raise PythonNodeError(f"stream '{spec.stdin}' was not written before node '{step.name}' read it: TEA "
                                  "Studio runs a channel's producer to its end before its consumers start (a "
                                  "producer and its consumer cannot be branches of one fork)")
        stdin = io.StringIO(channels[spec.stdin])
    budget = flow.ctx.budget
    quota = _Quota(budget.remaining, budget.limit / (1 << 20))
    writers = {key: ChannelWriter(step.name, name, quota)
               for key, name in (("stdout", spec.stdout), ("stderr", spec.stderr)) if name is not None}
    stdio = NodeStdio(stdin, writers.get("stdout"), writers.get("stderr"))
    update = run_python_node(step.name, step.code, dict(state), flow.plan.variables, flow._print, stdio)
    for writer in writers.values():
        if writer.overflow is not None:
            raise PythonNodeError(writer.overflow)
    for writer in writers.values():
        text = writer.text()
        channels[writer.channel] = text
        flow.hold({_HELD + writer.channel: text}, step.name)
        flow._print(f"stream '{writer.channel}': {text.count(chr(10))} lines, {len(text)} characters written")
    return update


def branch_state(flow: Any, state: dict[str, Any]) -> dict[str, Any]:
    """The state a fork hands its branches: with the forking flow's channels when it has any."""
    return {**state, STREAMS_KEY: dict(flow.channels)} if flow.channels else state


class _Inherited(dict):
    """A branch's channels, remembering those its fork gave it (never sent back)."""

    inherited: dict[str, str] = {}


def adopt(flow: Any, state: dict[str, Any]) -> None:
    """A branch starts: take its fork's channels out of ``state`` and count them against the budget."""
    channels = state.pop(STREAMS_KEY, None)
    if channels:
        flow.channels = _Inherited(channels)
        flow.channels.inherited = channels
        flow.hold({_HELD + name: text for name, text in channels.items()}, None)


def hand_over(flow: Any, final: dict[str, Any]) -> dict[str, Any]:
    """A branch ends: its final state carrying back the channels it wrote."""
    inherited = getattr(flow.channels, "inherited", {})
    written = {name: text for name, text in flow.channels.items() if inherited.get(name) is not text}
    return {**final, STREAMS_KEY: written} if written else final


def gather(flow: Any, outcomes: list[Any]) -> None:
    """A fork's branches ended: take their channels out of their states into the forking flow (a channel a
    branch wrote is readable after the fan-in)."""
    written: dict[str, str] = {}
    for outcome in outcomes:
        channels = outcome.state.pop(STREAMS_KEY, None) if outcome.state else None
        for name, text in (channels or {}).items():
            if flow.channels.get(name) != text:
                written[name] = text
    if written:
        flow.channels.update(written)
        flow.hold({_HELD + name: text for name, text in written.items()}, None)
