"""Layered left-to-right auto-layout of a workflow graph, wrapped into rows so that it stays readable when fitted.

Nodes go into columns by longest path from the entry (back edges of goto loops removed first), parallel branches
stack vertically between their fork and fan-in, and a few barycenter sweeps reduce crossings within columns.
A long flow as one row only fits a window at a zoom where no text can be read (13 nodes: 21%), so the columns are
cut into bands stacked top to bottom (a wrapped row, read like text): the widest bands that still fit a typical
canvas at ``READABLE_ZOOM``, or, for graphs too big for that, the bands whose shape best matches the canvas.
Positions are the top-left corners of node boxes NODE_H high and as wide as their name needs (``node_width``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tea_studio.workflow.model import END, START, Workflow

NODE_W = 180  # the narrowest node box
NODE_MAX_W = 340  # names wider than this box allows are elided (the tooltip has them in full)
NODE_H = 64
NAME_ROOM = 64  # the part of a box that is not name: kind glyph on the left, problem marker on the right
NAME_CHAR_W = 8.6  # a generous average advance of the bold name font, for estimates without a font at hand
H_GAP = 110  # between columns (room for condition labels)
V_GAP = 36  # between nodes of one column
BAND_GAP = 120  # between wrapped bands: the route carrying the flow to the next band runs here
COLUMN = NODE_W + H_GAP
ROW = NODE_H + V_GAP
SWEEPS = 2
READABLE_ZOOM = 0.6  # below this zoom node names are too small to read: fitting never goes lower
CANVAS_SIZE = (840, 570)  # the canvas a layout is made to fit (a 1400x900 window with its docks)
FIT_MARGIN = 40  # what the view leaves around fitted content, on each side


def node_width(name: str, name_width: float | None = None) -> float:
    """The box width for a node name: as wide as the name needs, between NODE_W and NODE_MAX_W.

    ``name_width`` is the name's measured width in pixels; without it, it is estimated from its length.
    """
    if name_width is None:
        name_width = len(name or "") * NAME_CHAR_W
    return float(min(NODE_MAX_W, max(NODE_W, math.ceil(name_width + NAME_ROOM))))


def free_position(boxes: list[tuple[float, float, float, float]], x: float, y: float, width: float = NODE_W,
                  height: float = NODE_H) -> tuple[float, float]:
    """Where a new ``width`` x ``height`` box wanted at (x, y) overlaps none of ``boxes`` (x, y, w, h): the same
    spot, or the first free one below it, one row at a time (a new node never lands on top of another)."""
    def clashes(top: float) -> bool:
        return any(x < bx + bw + 8 and bx < x + width + 8 and top < by + bh + 8 and by < top + height + 8
                   for bx, by, bw, bh in boxes)

    top = y
    for _ in range(len(boxes) + 1):
        if not clashes(top):
            return x, top
        top += (height + V_GAP) / 2
    return x, top


def auto_layout(workflow: Workflow, width_of: Callable[[str], float] | None = None,
                canvas: tuple[float, float] = CANVAS_SIZE) -> dict[str, tuple[int, int]]:
    """``{node name: (x, y)}`` for every named node (first of duplicates); deterministic for a given workflow.

    ``width_of(name)`` gives a node's box width (the canvas passes its measured boxes); default :func:`node_width`.
    ``canvas`` is the size (pixels) the wrapped rows are made to fit: the studio passes its canvas.
    """
    names, successors = layout_graph(workflow)
    if not names:
        return {}
    width_of = width_of or node_width
    roots = _roots(workflow, names)
    order, back = _depth_first(names, successors, roots)
    forward = {n: [s for s in successors[n] if (n, s) not in back] for n in names}
    layer = _longest_path_layers(order, forward)
    columns = _order_columns(names, forward, layer, roots)
    widths = [max(math.ceil(width_of(name)) for name in column) for column in columns]
    positions: dict[str, tuple[int, int]] = {}
    band_top = 0
    for band in wrap_columns([len(column) for column in columns], widths, _crossings(columns, forward, layer),
                             canvas):
        tallest = max(len(columns[i]) for i in band)
        x = 0
        for index in band:
            column = columns[index]
            top = band_top + (tallest - len(column)) * ROW // 2
            for row, name in enumerate(column):
                positions[name] = (x, top + row * ROW)
            x += widths[index] + H_GAP
        band_top += tallest * ROW - V_GAP + BAND_GAP
    return {name: positions[name] for name in names}


def wrap_columns(heights: list[int], widths: list[int], crossings: list[int] | None = None,
                 canvas: tuple[float, float] = CANVAS_SIZE) -> list[range]:
    """Cut the columns (``heights`` in nodes, ``widths`` in pixels) into bands of consecutive columns.

    ``crossings[i]`` is how many routes pass between column i and i + 1: a band ends where few do (after a fan-in,
    not between a fork and its branches). Tries bands of at most ``size`` columns for the sizes ``ceil(n / k)``
    (about 2*sqrt(n) of them) and keeps the widest bands whose fit zoom on ``canvas`` stays readable, or, when none
    does, the bands with the best fit zoom.
    """
    count = len(heights)
    crossings = crossings or [0] * count
    best: tuple[float, list[range]] | None = None
    for size in sorted({math.ceil(count / k) for k in range(1, count + 1)}, reverse=True):
        bands = _cut(count, size, crossings)
        width = max(sum(widths[i] for i in band) + H_GAP * (len(band) - 1) for band in bands)
        height = sum(max(heights[i] for i in band) * ROW - V_GAP for band in bands) + BAND_GAP * (len(bands) - 1)
        zoom = min((canvas[0] - 2 * FIT_MARGIN) / width, (canvas[1] - 2 * FIT_MARGIN) / height)
        if zoom >= READABLE_ZOOM:
            return bands
        if best is None or zoom > best[0]:
            best = (zoom, bands)
    return best[1] if best is not None else []


def _cut(count: int, size: int, crossings: list[int]) -> list[range]:
    """Bands of at most ``size`` columns, each ending at the boundary with the fewest crossings in its second half
    (the latest of equals), so that bands stay long while cuts fall where the flow is narrow."""
    bands: list[range] = []
    start = 0
    while start < count:
        stop = min(start + size, count)
        if stop < count:
            low = start + max(1, size // 2)
            stop = 1 + min(range(low - 1, stop), key=lambda i: (crossings[i], -i))
        bands.append(range(start, stop))
        start = stop
    return bands


def _crossings(columns: list[list[str]], forward: dict[str, list[str]], layer: dict[str, int]) -> list[int]:
    """For each column, how many forward routes pass from it or an earlier column to a later one."""
    delta = [0] * (len(columns) + 1)
    for name, targets in forward.items():
        for target in targets:
            delta[layer[name]] += 1
            delta[layer[target]] -= 1
    running, out = 0, []
    for change in delta[:-1]:
        running += change
        out.append(running)
    return out


def layout_graph(workflow: Workflow) -> tuple[list[str], dict[str, list[str]]]:
    """The named nodes in file order and, for each, the nodes it leads to (goto, edges, fan-in, implicit chaining)."""
    names: list[str] = []
    seen: set[str] = set()
    for node in workflow.nodes:
        if isinstance(node.name, str) and node.name and node.name not in seen:
            seen.add(node.name)
            names.append(node.name)
    successors: dict[str, list[str]] = {name: [] for name in names}
    has_edges: set[str] = set()
    for edge in workflow.edges:
        if edge.source not in seen:
            continue
        has_edges.add(edge.source)
        targets = list(edge.targets)
        if edge.parallel and edge.fan_in:
            targets.append(edge.fan_in)
        successors[edge.source].extend(t for t in targets if isinstance(t, str))
    nodes = workflow.nodes
    for index, node in enumerate(nodes):
        if node.name not in seen or workflow.node(node.name) is not node:
            continue
        rules = node.goto_rules
        if rules:
            successors[node.name].extend(rule.to for rule in rules)
        elif node.name not in has_edges and index + 1 < len(nodes):
            successors[node.name].append(nodes[index + 1].name)
    for name in names:
        successors[name] = [s for s in dict.fromkeys(successors[name]) if s in seen and s != name and s != END]
    return names, successors


def _roots(workflow: Workflow, names: list[str]) -> list[str]:
    known = set(names)
    starts = [t for e in workflow.edges if e.source == START for t in e.targets if t in known]
    return list(dict.fromkeys(starts + names))


def _depth_first(names: list[str], successors: dict[str, list[str]],
                 roots: list[str]) -> tuple[list[str], set[tuple[str, str]]]:
    """Reverse postorder (a topological order once back edges are dropped) and the back edges of a DFS."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    postorder: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(successors[root]))]
        while stack:
            name, children = stack[-1]
            for child in children:
                mark = state.get(child)
                if mark == 1:
                    back.add((name, child))
                elif mark is None:
                    state[child] = 1
                    stack.append((child, iter(successors[child])))
                    break
            else:
                stack.pop()
                state[name] = 2
                postorder.append(name)
    postorder.reverse()
    return postorder, back


def _longest_path_layers(order: list[str], forward: dict[str, list[str]]) -> dict[str, int]:
    layer = dict.fromkeys(order, 0)
    for name in order:
        next_layer = layer[name] + 1
        for child in forward[name]:
            if layer[child] < next_layer:
                layer[child] = next_layer
    return layer


def _order_columns(names: list[str], forward: dict[str, list[str]], layer: dict[str, int],
                   roots: list[str]) -> list[list[str]]:
    """Columns of names, ordered top to bottom by a DFS start order refined with barycenter sweeps."""
    depth = max(layer.values()) + 1
    columns: list[list[str]] = [[] for _ in range(depth)]
    for name in _preorder(forward, roots):
        columns[layer[name]].append(name)
    predecessors: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for child in forward[name]:
            predecessors[child].append(name)

    def centred(column: list[str]) -> dict[str, float]:
        middle = (len(column) - 1) / 2
        return {name: i - middle for i, name in enumerate(column)}

    y: dict[str, float] = {}
    for column in columns:
        y.update(centred(column))
    for _ in range(SWEEPS):
        for sweep, neighbours in ((range(1, depth), predecessors), (range(depth - 2, -1, -1), forward)):
            for index in sweep:
                column = columns[index]
                if len(column) < 2:
                    continue
                keys = {}
                for position, name in enumerate(column):
                    near = neighbours[name]
                    keys[name] = sum(y[n] for n in near) / len(near) if near else y[name]
                    keys[name] = (keys[name], position)
                column.sort(key=keys.__getitem__)
                y.update(centred(column))
    return columns


def _preorder(forward: dict[str, list[str]], roots: list[str]) -> list[str]:
    """Names in the order a depth-first walk over forward edges first meets them."""
    seen: set[str] = set()
    result: list[str] = []
    for root in roots:
        if root in seen:
            continue
        stack = [root]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            result.append(name)
            stack.extend(reversed([c for c in forward[name] if c not in seen]))
    return result
