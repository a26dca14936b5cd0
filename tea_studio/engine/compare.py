"""Two runs of one workflow side by side, node by node: status, executions, time and output, and the final states.

Built from two :class:`~tea_studio.engine.record.RunModel` (live or replayed from the history); pure data, so the
studio's Compare dock and the tests read the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tea_studio.engine.record import RunModel

# What differs between the two runs of a node, or about a state key.
STATUS, COUNT, OUTPUT, DURATION = "status", "runs", "output", "time"
ONLY_A, ONLY_B, CHANGED, SAME = "only in A", "only in B", "changed", "same"
SLOWER_RATIO = 1.5  # a node's time "differs" when one run took this many times the other's (and 1 ms more)
SLOWER_MIN_MS = 1.0


@dataclass
class NodeSide:
    """One node in one run: its status, how many times it ran, their total time and its last output."""

    status: str
    count: int
    total_ms: float
    output: Any = None  # the update of its last finished execution (None when it returned nothing)


@dataclass
class NodeComparison:
    node: str
    a: NodeSide
    b: NodeSide
    differences: tuple[str, ...] = ()

    @property
    def delta_ms(self) -> float:
        return self.b.total_ms - self.a.total_ms


@dataclass
class KeyComparison:
    """One key of the final states: ``kind`` is ONLY_A, ONLY_B, CHANGED or SAME."""

    key: str
    kind: str
    a: Any = None
    b: Any = None


@dataclass
class RunComparison:
    a: RunModel
    b: RunModel
    nodes: list[NodeComparison] = field(default_factory=list)  # in workflow order
    state: list[KeyComparison] = field(default_factory=list)  # differing keys first

    @property
    def differing_nodes(self) -> list[NodeComparison]:
        return [row for row in self.nodes if row.differences]

    def node(self, name: str) -> NodeComparison | None:
        return next((row for row in self.nodes if row.node == name), None)


def _side(model: RunModel, name: str) -> NodeSide:
    info = model.nodes.get(name)
    finished = [x for x in model.executions_of(name) if x.event_index is not None]
    output = getattr(model.event(finished[-1].event_index), "update", None) if finished else None
    if info is None:
        return NodeSide("not run", 0, 0.0, output)
    return NodeSide(info.status, info.count, info.total_ms, output)


def _differences(a: NodeSide, b: NodeSide) -> tuple[str, ...]:
    found = []
    if a.status != b.status:
        found.append(STATUS)
    if a.count != b.count:
        found.append(COUNT)
    if a.output != b.output:
        found.append(OUTPUT)
    low, high = sorted((a.total_ms, b.total_ms))
    if high - low >= SLOWER_MIN_MS and high >= low * SLOWER_RATIO:
        found.append(DURATION)
    return tuple(found)


def final_state(model: RunModel) -> dict[str, Any]:
    """The run's final state; for a failed run, the state after its last recorded node."""
    state = model.record.final_state
    if state is not None:
        return state
    done = sorted((x for lane in model.lanes.values() if not lane.branch for x in lane.executions
                   if x.ok and x.event_index is not None), key=lambda x: x.start)
    return (model.state_after(done[-1]) if done else None) or dict(model.record.inputs)


def compare_states(a: dict[str, Any], b: dict[str, Any]) -> list[KeyComparison]:
    """Every key of two states, the differing ones first (each group in the order the keys appear)."""
    rows = []
    for key in dict.fromkeys([*a, *b]):
        if key not in b:
            rows.append(KeyComparison(key, ONLY_A, a[key], None))
        elif key not in a:
            rows.append(KeyComparison(key, ONLY_B, None, b[key]))
        else:
            rows.append(KeyComparison(key, SAME if a[key] == b[key] else CHANGED, a[key], b[key]))
    return sorted(rows, key=lambda row: row.kind == SAME)


def compare_runs(a: RunModel, b: RunModel) -> RunComparison:
    """Compare two finished runs (run A and run B) of the same workflow."""
    names = list(dict.fromkeys([*a.node_names, *b.node_names, *a.nodes, *b.nodes]))
    rows = []
    for name in names:
        side_a, side_b = _side(a, name), _side(b, name)
        rows.append(NodeComparison(name, side_a, side_b, _differences(side_a, side_b)))
    return RunComparison(a, b, rows, compare_states(final_state(a), final_state(b)))
