"""Layered left-to-right auto-layout of a workflow graph.

Nodes go into columns by longest path from the entry (back edges of goto loops removed first), parallel branches
stack vertically between their fork and fan-in, and a few barycenter sweeps reduce crossings within columns.
Positions are the top-left corners of NODE_W x NODE_H boxes; the canvas draws nodes with the same constants.
"""

from __future__ import annotations

from tea_studio.workflow.model import END, START, Workflow

NODE_W = 180
NODE_H = 64
H_GAP = 120  # between columns (room for condition labels)
V_GAP = 36  # between nodes of one column
COLUMN = NODE_W + H_GAP
ROW = NODE_H + V_GAP
SWEEPS = 2


def auto_layout(workflow: Workflow) -> dict[str, tuple[int, int]]:
    """``{node name: (x, y)}`` for every named node (first of duplicates); deterministic for a given workflow."""
    names, successors = layout_graph(workflow)
    if not names:
        return {}
    roots = _roots(workflow, names)
    order, back = _depth_first(names, successors, roots)
    forward = {n: [s for s in successors[n] if (n, s) not in back] for n in names}
    layer = _longest_path_layers(order, forward)
    columns = _order_columns(names, forward, layer, roots)
    positions: dict[str, tuple[int, int]] = {}
    tallest = max(len(column) for column in columns)
    for index, column in enumerate(columns):
        top = (tallest - len(column)) * ROW // 2
        for row, name in enumerate(column):
            positions[name] = (index * COLUMN, top + row * ROW)
    return {name: positions[name] for name in names}


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
