"""TEA's stream channels: ``streams: {stdin, stdout, stderr}`` on a node and ``stream_mode`` on a fork edge.

A node's ``stdout``/``stderr`` name the channels it produces, ``stdin`` the channel it consumes. The rules TEA
enforces when it loads a file (docs/shared/yaml-reference/streams.md) live here once, for the validator:
one producer per channel, a consumed channel has a producer, no interrupt on a stream node, and a fan-out whose
targets read one channel needs ``stream_mode: broadcast``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tea_studio.workflow.model import Edge, Node, Workflow

STREAM_KEYS = ("stdin", "stdout", "stderr")
STREAM_MODES = ("direct", "broadcast")


@dataclass(frozen=True)
class StreamSpec:
    """The channels one node reads (``stdin``) and writes (``stdout``, ``stderr``); None = that stream is the
    node's ordinary one."""

    stdin: str | None = None
    stdout: str | None = None
    stderr: str | None = None


def stream_spec(node: Node) -> StreamSpec | None:
    """What ``node``'s ``streams:`` asks for (malformed entries left out), or None when it has none."""
    value = node.extra.get("streams")
    if not isinstance(value, dict) or not value:
        return None
    names = [value.get(key) if isinstance(value.get(key), str) and value.get(key) else None for key in STREAM_KEYS]
    return StreamSpec(*names) if any(names) else None


@dataclass(frozen=True)
class StreamProblem:
    """A broken stream rule: ``node`` or ``edge`` it is found at, ``key`` inside ``streams:`` (None = the key
    itself)."""

    code: str
    message: str
    node: Node | None = None
    key: str | None = None
    edge: Edge | None = None


def stream_problems(workflow: Workflow) -> Iterator[StreamProblem]:
    """Every stream rule ``workflow`` breaks, node by node, then edge by edge."""
    nodes = [node for node in workflow.nodes if isinstance(node.name, str) and "streams" in node.extra]
    producers: dict[str, str] = {}
    for node in nodes:
        yield from _shape_problems(node)
        spec = stream_spec(node) or StreamSpec()
        for key in ("stdout", "stderr"):
            channel = getattr(spec, key)
            if channel is None:
                continue
            first = producers.setdefault(channel, node.name)
            if first != node.name or (key == "stderr" and spec.stdout == channel):
                yield StreamProblem("STREAM_MULTIPLE_PRODUCERS", f"node '{node.name}': stream '{channel}' has "
                                    f"multiple producers (already written by '{first}'); a channel has one "
                                    "producer", node, key)
    interrupted = _interrupted(workflow)
    readers: dict[str, str] = {}
    for node in nodes:
        spec = stream_spec(node)
        if spec is None:
            continue
        if spec.stdin is not None:
            readers[node.name] = spec.stdin
            if spec.stdin not in producers:
                yield StreamProblem("STREAM_NO_PRODUCER", f"node '{node.name}': stream '{spec.stdin}' has no "
                                    "producer (no node writes it with `streams: {stdout: ...}`)", node, "stdin")
        if node.name in interrupted:
            yield StreamProblem("STREAM_INTERRUPT", f"node '{node.name}': stream nodes cannot be checkpointed "
                                "(interrupt_before/interrupt_after); move the interrupt to a node without "
                                "`streams:`", node)
    for edge in workflow.edges:
        yield from _edge_problems(edge, readers)


def _shape_problems(node: Node) -> Iterator[StreamProblem]:
    value = node.extra["streams"]
    if not isinstance(value, dict):
        yield StreamProblem("INVALID_STREAMS", f"node '{node.name}': `streams:` must be a mapping of "
                            f"{'/'.join(STREAM_KEYS)} to channel names, not {value!r}", node)
        return
    for key, channel in value.items():
        if key not in STREAM_KEYS:
            yield StreamProblem("INVALID_STREAMS", f"node '{node.name}': `streams:` has no key {key!r} (use "
                                f"{', '.join(STREAM_KEYS)})", node, str(key))
        elif not isinstance(channel, str) or not channel:
            yield StreamProblem("INVALID_STREAMS", f"node '{node.name}': streams.{key} must name a channel, "
                                f"not {channel!r}", node, key)


def _interrupted(workflow: Workflow) -> set[str]:
    before, after = workflow.interrupts()
    return set(before | after)


def _edge_problems(edge: Edge, readers: dict[str, str]) -> Iterator[StreamProblem]:
    mode: Any = edge.extra.get("stream_mode")
    if mode is not None and mode not in STREAM_MODES:
        yield StreamProblem("INVALID_STREAMS", f"edge {edge.source} -> {', '.join(map(str, edge.targets))}: "
                            f"stream_mode must be one of {', '.join(STREAM_MODES)}, not {mode!r}", edge=edge)
        return
    if mode == "broadcast":
        return
    seen: dict[str, str] = {}
    for target in edge.targets:
        channel = readers.get(target)
        if channel is None:
            continue
        if channel in seen:
            yield StreamProblem("STREAM_DIRECT_FAN_OUT", f"edge {edge.source} -> {', '.join(edge.targets)}: "
                                f"'{seen[channel]}' and '{target}' both read stream '{channel}'; direct mode has "
                                "one reader (use `stream_mode: broadcast`)", edge=edge)
            return
        seen[channel] = target
