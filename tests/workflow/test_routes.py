"""Routing written once: entry, successors, fan-in counts and the listed routes with their stable ids."""

import textwrap

from tea_studio.workflow.model import END, START, Edge
from tea_studio.workflow.routes import (
    RouteKind,
    RouteStyle,
    Successor,
    entry_nodes,
    fan_in_counts,
    flow_targets,
    list_routes,
    successors,
)
from tea_studio.workflow.yaml_io import load_workflow_text

ROUTED = """
nodes:
  - name: split
  - name: left
  - name: right
  - name: merge
    goto:
      - {if: "state.again", to: split}
      - {to: tail}
  - name: tail
  - name: last
edges:
  - {from: split, to: left, type: parallel, fan_in: merge}
  - {from: split, to: right, type: parallel, fan_in: merge}
  - {from: left, to: merge}
  - {from: right, to: merge}
  - {from: tail, to: last, condition: "state.ok", when: false}
"""


def load(text: str):
    return load_workflow_text(textwrap.dedent(text).lstrip("\n"))


def test_entry_is_the_first_node_unless_an_edge_leaves_start():
    workflow = load(ROUTED)
    assert entry_nodes(workflow) == ["split"]
    workflow.edges.insert(0, Edge(START, "tail"))
    assert entry_nodes(workflow) == ["tail"]


def test_successors_follow_the_precedence_goto_edges_next():
    found = successors(load(ROUTED))
    assert [(s.target, s.kind, s.condition) for s in found["merge"]] == [
        ("split", RouteKind.RULE, "state.again"), ("tail", RouteKind.RULE, None)]
    assert [(s.target, s.kind, s.when) for s in found["tail"]] == [("last", RouteKind.EDGE, False)]
    assert [(s.target, s.kind) for s in found["last"]] == [(END, RouteKind.NEXT)]
    assert found["last"] == (Successor(END, RouteKind.NEXT),) and type(found["last"][0]) is Successor


def test_a_fork_continues_at_its_fan_in():
    targets = flow_targets(load(ROUTED))
    assert targets["split"] == ["merge"]
    assert targets["left"] == ["merge"]


def test_fan_in_counts_count_branches():
    assert fan_in_counts(load(ROUTED)) == {"merge": 2}


def test_routes_have_kinds_styles_and_distinct_implicit_names():
    routes = {(r.source, r.target): r for r in list_routes(load(ROUTED))}
    assert routes[("split", "left")].style is RouteStyle.FORK
    assert routes[("left", "merge")].style is RouteStyle.JOIN
    assert routes[("merge", "split")].style is RouteStyle.CONDITIONAL
    assert routes[("tail", "last")].label == "not (state.ok)"
    assert routes[(START, "split")].kind is RouteKind.ENTRY
    assert routes[("last", END)].kind is RouteKind.NEXT
    assert routes[("last", END)].style is RouteStyle.CHAIN
    assert not RouteKind.NEXT.stored and RouteKind.EDGE.stored


def test_route_ids_are_unique_and_survive_edits_of_other_routes():
    workflow = load(ROUTED)
    before = {r.id: r for r in list_routes(workflow)}
    assert len(before) == len(list_routes(workflow))
    del workflow.edges[0]  # drop split -> left: every edge index after it shifts
    after = {r.id: r for r in list_routes(workflow)}
    gone = set(before) - set(after)
    assert gone == {"edge:split->left"}
    assert after["edge:tail->last"] == before["edge:tail->last"]
    assert after["edge:tail->last"].edge_index == before["edge:tail->last"].edge_index - 1


def test_identical_routes_get_ranked_ids_and_lanes():
    workflow = load(ROUTED)
    workflow.edges.append(Edge("tail", "last", condition="state.ok", when=False))
    twins = [r for r in list_routes(workflow) if (r.source, r.target) == ("tail", "last")]
    assert [r.id for r in twins] == ["edge:tail->last", "edge:tail->last#2"]
    assert [r.lane for r in twins] == [0, 1]
