"""auto_layout(): columns left to right, branches stacked, no overlaps, loops handled, deterministic, fast."""

import textwrap
import time

import pytest
from support import EXAMPLES

from tea_studio.workflow.layout import (
    CANVAS_SIZE,
    FIT_MARGIN,
    NODE_H,
    NODE_MAX_W,
    NODE_W,
    READABLE_ZOOM,
    auto_layout,
    node_width,
)
from tea_studio.workflow.model import END, Edge, GotoRule, Node, Workflow
from tea_studio.workflow.yaml_io import load_workflow, load_workflow_text


def layout_of(text: str) -> dict[str, tuple[int, int]]:
    return auto_layout(load_workflow_text(textwrap.dedent(text).lstrip("\n")))


def assert_no_overlap(positions):
    boxes = sorted(positions.items(), key=lambda item: item[1])
    for i, (a, (ax, ay)) in enumerate(boxes):
        for b, (bx, by) in boxes[i + 1:]:
            if bx >= ax + node_width(a):
                break
            assert abs(ay - by) >= NODE_H or bx - ax >= node_width(a), f"{a} overlaps {b}"


FANOUT = """
nodes:
  - name: split
  - name: double
  - name: square
  - name: negate
  - name: merge
  - name: after
edges:
  - {from: split, to: double, type: parallel, fan_in: merge}
  - {from: split, to: square, type: parallel, fan_in: merge}
  - {from: split, to: negate, type: parallel, fan_in: merge}
  - {from: double, to: merge}
  - {from: square, to: merge}
  - {from: negate, to: merge}
  - {from: merge, to: after}
"""


def test_a_chain_runs_left_to_right_on_one_row():
    positions = layout_of("""
        nodes:
          - name: a
          - name: b
          - name: c
        """)
    assert list(positions) == ["a", "b", "c"]
    xs = [positions[n][0] for n in "abc"]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert len({positions[n][1] for n in "abc"}) == 1


def test_branches_stack_between_fork_and_fan_in_in_declaration_order():
    positions = layout_of(FANOUT)
    branches = ["double", "square", "negate"]
    assert len({positions[b][0] for b in branches}) == 1
    assert positions["split"][0] < positions["double"][0] < positions["merge"][0] < positions["after"][0]
    ys = [positions[b][1] for b in branches]
    assert ys == sorted(ys) and len(set(ys)) == 3
    assert positions["split"][1] == positions["square"][1] == positions["merge"][1]  # centred on the middle branch
    assert_no_overlap(positions)


def test_fan_in_waits_for_the_longest_branch():
    positions = layout_of("""
        nodes:
          - name: fork
          - name: short
          - name: long1
          - name: long2
          - name: join
        edges:
          - {from: fork, to: short, type: parallel, fan_in: join}
          - {from: fork, to: long1, type: parallel, fan_in: join}
          - {from: short, to: join}
          - {from: long1, to: long2}
          - {from: long2, to: join}
        """)
    assert positions["join"][0] > positions["long2"][0] > positions["long1"][0]
    assert_no_overlap(positions)


def test_goto_loops_do_not_pull_nodes_backwards():
    positions = auto_layout(load_workflow(EXAMPLES / "loop.yaml"))
    assert positions["init"][0] < positions["check"][0] < positions["step"][0]
    assert positions["done"][0] > positions["check"][0]
    assert_no_overlap(positions)


def test_self_loops_and_unknown_targets_are_harmless():
    workflow = Workflow(nodes=[
        Node("a", goto=[GotoRule("a", "state.again"), GotoRule("ghost")]),
        Node("b"),
        Node(""),
        Node("a"),
    ], edges=[Edge("b", "nowhere"), Edge("ghost", "b")])
    positions = auto_layout(workflow)
    assert set(positions) == {"a", "b"}
    assert_no_overlap(positions)


def test_crossings_are_reduced_by_following_the_predecessors():
    # b2's successor c2 is listed first; the sweep puts c2 beside b2 instead of crossing b1 -> c1.
    positions = layout_of("""
        nodes:
          - name: start
          - name: b1
          - name: b2
          - name: c2
          - name: c1
          - name: end_
        edges:
          - {from: start, to: b1}
          - {from: start, to: b2, condition: "state.x"}
          - {from: b1, to: c1}
          - {from: b2, to: c2}
          - {from: c1, to: end_}
          - {from: c2, to: end_}
        """)
    assert (positions["b1"][1] < positions["b2"][1]) == (positions["c1"][1] < positions["c2"][1])


def test_layout_is_deterministic_and_covers_every_named_node():
    workflow = load_workflow_text(textwrap.dedent(FANOUT))
    first = auto_layout(workflow)
    assert first == auto_layout(workflow) == auto_layout(workflow.clone())
    assert set(first) == set(workflow.node_names)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_open_laid_out(path):
    workflow = load_workflow(path)
    assert workflow.layout.positions == auto_layout(workflow)


def big_forking_workflow(count: int) -> Workflow:
    """Chains of goto rules with a loop back and a three-way fork every few nodes."""
    nodes, edges = [], []
    i = 0
    while len(nodes) < count:
        nodes.append(Node(f"n{i}", goto=[GotoRule(f"n{max(i - 3, 0)}", "state.again"), GotoRule(f"f{i}")]))
        nodes.append(Node(f"f{i}"))
        for b in range(3):
            nodes.append(Node(f"b{i}_{b}"))
            edges.append(Edge(f"f{i}", f"b{i}_{b}", parallel=True, fan_in=f"j{i}"))
            edges.append(Edge(f"b{i}_{b}", f"j{i}"))
        nodes.append(Node(f"j{i}", goto=f"n{i + 1}"))
        i += 1
    nodes.append(Node(f"n{i}", goto=END))
    return Workflow(nodes=nodes, edges=edges)


def test_2000_nodes_lay_out_within_a_second_without_overlap():
    workflow = big_forking_workflow(2000)
    start = time.perf_counter()
    positions = auto_layout(workflow)
    elapsed = time.perf_counter() - start
    assert len(positions) == len(workflow.nodes)
    assert elapsed < 1.0, f"layout took {elapsed:.2f} s"
    assert len(set(positions.values())) == len(positions)
    assert positions["n0"][0] < positions["f0"][0] < positions["b0_0"][0] < positions["j0"][0] < positions["n1"][0]


def test_any_graph_lays_out_without_overlaps():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    name = st.sampled_from(["a", "b", "c", "d", "e", "", END])
    goto = st.one_of(st.none(), name, st.lists(st.builds(GotoRule, to=name), max_size=3))
    workflow = st.builds(Workflow, nodes=st.lists(st.builds(Node, name=name, goto=goto), max_size=8),
                         edges=st.lists(st.builds(Edge, source=name, target=name, parallel=st.booleans(),
                                                  fan_in=st.one_of(st.none(), name)), max_size=8))

    @settings(max_examples=200, deadline=None)
    @given(workflow)
    def check_one(wf):
        positions = auto_layout(wf)
        assert set(positions) == {n.name for n in wf.nodes if n.name}
        assert len(set(positions.values())) == len(positions)
        assert_no_overlap(positions)

    check_one()


# -- readable when fitted: long flows wrap into bands --------------------------------------------------------

def fit_zoom(positions, canvas=CANVAS_SIZE) -> float:
    """The zoom at which the canvas view shows every laid-out box (with the view's fit margin)."""
    right = max(x + node_width(name) for name, (x, _y) in positions.items())
    bottom = max(y for _x, y in positions.values()) + NODE_H
    return min((canvas[0] - 2 * FIT_MARGIN) / right, (canvas[1] - 2 * FIT_MARGIN) / bottom)


def pipeline(count: int) -> Workflow:
    return Workflow(nodes=[Node(f"step_{i:02d}", goto=f"step_{i + 1:02d}" if i + 1 < count else END)
                           for i in range(count)])


def test_a_13_node_pipeline_wraps_into_rows_that_fit_at_a_readable_zoom():
    positions = auto_layout(pipeline(13))
    assert fit_zoom(positions) >= READABLE_ZOOM  # one row fitted at 21%
    rows = sorted({y for _x, y in positions.values()})
    assert len(rows) > 1
    names = sorted(positions)
    for a, b in zip(names, names[1:], strict=False):  # read like text: left to right, then the next row down
        assert positions[a][1] < positions[b][1] or positions[a][0] < positions[b][0]
    assert_no_overlap(positions)


def test_a_short_flow_stays_on_one_row():
    positions = auto_layout(pipeline(4))
    assert len({y for _x, y in positions.values()}) == 1


def test_the_40_node_example_keeps_forks_with_their_branches_and_is_as_readable_as_it_can_be():
    workflow = load_workflow(EXAMPLES / "support_triage.yaml")
    assert len(workflow.nodes) == 40
    positions = auto_layout(workflow)
    assert_no_overlap(positions)
    for edge in workflow.parallel_edges():  # a band never ends between a fork and its branches
        for target in [*edge.targets, edge.fan_in]:
            assert positions[target][0] > positions[edge.source][0], (edge.source, target)
    one_row = max(x for x, _y in positions.values()) / 3  # far from the single row's width
    assert fit_zoom(positions) > 2 * fit_zoom({n: (i * one_row, 0) for i, n in enumerate(positions)})


def test_300_nodes_wrap_into_a_block_shaped_like_the_canvas():
    workflow = big_forking_workflow(300)
    positions = auto_layout(workflow)
    width = max(x for x, _y in positions.values()) + NODE_W
    height = max(y for _x, y in positions.values()) + NODE_H
    assert 0.4 < (width / height) / (CANVAS_SIZE[0] / CANVAS_SIZE[1]) < 2.5
    assert_no_overlap(positions)


def test_boxes_are_as_wide_as_their_names_within_reason():
    assert node_width("a") == NODE_W
    assert NODE_W < node_width("normalise_customer_address") < NODE_MAX_W
    assert node_width("x" * 200) == NODE_MAX_W
    wide = Workflow(nodes=[Node("a"), Node("a_rather_long_node_name_here"), Node("b")])
    positions = auto_layout(wide)
    assert positions["b"][0] - positions["a_rather_long_node_name_here"][0] >= node_width(
        "a_rather_long_node_name_here")
