"""Canvas benchmark: open, repaint, pan/zoom and drag on generated workflows of 100 / 1000 / 2000 nodes.

Run offscreen: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_canvas.py [--quick] [--no-settings]``.
Prints one table of medians with the targets, then (unless ``--no-settings``) a comparison of view settings measured
in the same run.

Every measure sets its layout and zoom itself (:func:`grid_positions` instead of auto_layout, :func:`show_whole`
instead of the studio's Fit, whose smallest zoom changed from 2% to a readable one), so the file measures the same
pictures against any version of the studio it can import.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QTransform  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsView  # noqa: E402

from tea_studio.studio.canvas.node_item import NODE_H, NODE_W  # noqa: E402
from tea_studio.studio.canvas.scene import WorkflowScene  # noqa: E402
from tea_studio.studio.canvas.view import WorkflowView  # noqa: E402
from tea_studio.studio.document import EditableWorkflow  # noqa: E402
from tea_studio.workflow.model import FORM_LANGUAGE, LUA, Edge, GotoRule, Node, Workflow  # noqa: E402

VIEW_SIZE = (1280, 800)
WHOLE_ZOOM = (0.02, 1.25)  # the zoom range show_whole keeps to


def generated_workflow(n: int) -> Workflow:
    """A chain of Lua nodes with a 3-branch fork/fan-in every 10 nodes and a conditional goto every 7th."""
    nodes = [Node(f"n{i}", LUA, code=f"return {{ i = {i} }}\n", code_form=FORM_LANGUAGE) for i in range(n)]
    edges: list[Edge] = []
    i = 0
    while i + 4 < n:
        if i % 10 == 0:
            for branch in (1, 2, 3):
                edges.append(Edge(f"n{i}", f"n{i + branch}", parallel=True, fan_in=f"n{i + 4}"))
                edges.append(Edge(f"n{i + branch}", f"n{i + 4}"))
            nodes[i + 4].fan_in = True
            i += 4
        elif i % 7 == 0:
            nodes[i].goto = [GotoRule(f"n{i + 2}", "state.i > 3"), GotoRule(f"n{i + 1}")]
            i += 1
        else:
            i += 1
    workflow = Workflow(nodes=nodes, edges=edges, name=f"generated-{n}")
    workflow.layout.positions = grid_positions([node.name for node in nodes])
    return workflow


def grid_positions(names: list[str]) -> dict[str, tuple[float, float]]:
    """Rows of nodes, about 1.6 times as many columns as rows: the benchmark's own layout, so that every version
    of the studio measures the same picture (auto_layout changed from one long row to a compact block)."""
    columns = max(10, round(math.sqrt(len(names)) * 1.6))
    return {name: (float(i % columns * (NODE_W + 80)), float(i // columns * (NODE_H + 66)))
            for i, name in enumerate(names)}


def ms(seconds: float) -> float:
    return seconds * 1000.0


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def show_whole(view: WorkflowView, scene: WorkflowScene) -> None:
    """Zoom so that every node fits the view (at least 2%, at most 125%) and centre them: the picture "open" and
    "full repaint" measure, set through the view transform so that it does not depend on the studio's Fit."""
    rect = scene.nodes_rect()
    viewport = view.viewport().rect()
    factor = min(viewport.width() / max(rect.width(), 1.0), viewport.height() / max(rect.height(), 1.0))
    factor = min(WHOLE_ZOOM[1], max(WHOLE_ZOOM[0], factor))
    view.setTransform(QTransform.fromScale(factor, factor))
    view.centerOn(rect.center())


def open_canvas(workflow: Workflow, app: QApplication):
    document = EditableWorkflow(workflow)
    scene = WorkflowScene(document)
    view = WorkflowView(scene)
    view.resize(*VIEW_SIZE)
    view.show()
    app.processEvents()  # the window is exposed: repaints below really paint
    show_whole(view, scene)
    view.grab()
    return document, scene, view


def measure_open(n: int, app: QApplication) -> tuple[float, tuple]:
    workflow = generated_workflow(n)
    t0 = time.perf_counter()
    canvas = open_canvas(workflow, app)
    return time.perf_counter() - t0, canvas


def full_repaint(view: WorkflowView, repeat: int = 7) -> float:
    show_whole(view, view.scene())
    view.viewport().repaint()
    return timed(view.viewport().repaint, repeat)


def pan_zoom_step(view: WorkflowView, scene: WorkflowScene, steps: int = 30) -> float:
    """Median of pan steps and zoom steps around zoom 1 in the middle of the graph, each with its repaint."""
    view.set_zoom(1.0)
    view.centerOn(scene.nodes_rect().center())
    view.viewport().repaint()
    samples = []
    for i in range(steps):
        t0 = time.perf_counter()
        if i % 2:
            view.pan_by(37 if i % 4 == 1 else -37, 11)
        else:
            view.set_zoom(view.zoom() * (1.15 if i % 4 == 0 else 1 / 1.15), QPointF(400, 300))
        view.viewport().repaint()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def drag_step(view: WorkflowView, scene: WorkflowScene, count: int = 50, steps: int = 30) -> float:
    """Select ``count`` nodes near the view centre and drag one of them with real mouse events."""
    view.set_zoom(0.6)
    view.centerOn(scene.nodes_rect().center())
    view.viewport().repaint()
    centre = view.mapToScene(view.viewport().rect().center())
    items = sorted(scene.node_items(), key=lambda i: (i.pos() - centre).manhattanLength())[:count]
    scene.select_nodes([i.name for i in items])
    grabbed = items[0]
    start = view.mapFromScene(grabbed.pos() + QPointF(NODE_W / 2, NODE_H / 2))
    viewport = view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    samples = []
    for i in range(1, steps + 1):
        point = QPoint(start.x() + 3 * i, start.y() + 2 * i)
        t0 = time.perf_counter()
        QTest.mouseMove(viewport, point)
        viewport.repaint()
        samples.append(time.perf_counter() - t0)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    assert scene.document.undo_stack.count() >= 1
    return statistics.median(samples)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    quick = "--quick" in sys.argv
    sizes = (100, 1000) if quick else (100, 1000, 2000)
    rows = []
    canvases = {}
    for n in sizes:
        opened, canvas = measure_open(n, app)
        document, scene, view = canvas
        canvases[n] = canvas
        rows.append((n, ms(opened), ms(full_repaint(view)), ms(pan_zoom_step(view, scene)), ms(drag_step(view, scene))))
    print(f"Canvas benchmark (offscreen raster, view {VIEW_SIZE[0]}x{VIEW_SIZE[1]}; medians in ms)")
    print(f"{'nodes':>6} | {'open+first paint':>16} | {'full repaint':>12} | {'pan/zoom step':>13} | "
          f"{'drag 50 step':>12}")
    print("-" * 72)
    for n, opened, repaint, pan, drag in rows:
        print(f"{n:>6} | {opened:>16.1f} | {repaint:>12.1f} | {pan:>13.2f} | {drag:>12.2f}")
    print("targets: open <= 1500 at 2000 | repaint <= 50 at 2000 | pan/zoom <= 16 at 1000 | drag <= 16")
    if "--no-settings" in sys.argv:
        return 0

    # View settings compared on the 1000-node canvas (same run, same machine).
    document, scene, view = canvases[1000]
    print("\nView settings on 1000 nodes (ms)")
    print(f"{'setting':<40} | {'full repaint':>12} | {'pan/zoom':>9} | {'drag 50':>8}")
    print("-" * 78)
    modes = [("MinimalViewportUpdate (chosen)", QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate, None),
             ("SmartViewportUpdate", QGraphicsView.ViewportUpdateMode.SmartViewportUpdate, None),
             ("BoundingRectViewportUpdate", QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate, None),
             ("FullViewportUpdate", QGraphicsView.ViewportUpdateMode.FullViewportUpdate, None),
             ("Minimal + DeviceCoordinateCache items", QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate,
              QGraphicsItem.CacheMode.DeviceCoordinateCache),
             ("Minimal + ItemCoordinateCache items", QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate,
              QGraphicsItem.CacheMode.ItemCoordinateCache)]
    for label, mode, cache in modes:
        view.setViewportUpdateMode(mode)
        for item in scene.node_items():
            item.setCacheMode(cache if cache is not None else QGraphicsItem.CacheMode.NoCache)
        print(f"{label:<40} | {ms(full_repaint(view)):>12.1f} | {ms(pan_zoom_step(view, scene)):>9.2f} | "
              f"{ms(drag_step(view, scene)):>8.2f}")
    view.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
    for item in scene.node_items():
        item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    scene.setItemIndexMethod(scene.ItemIndexMethod.NoIndex)
    print(f"{'Minimal, NoIndex (BSP off)':<40} | {ms(full_repaint(view)):>12.1f} | "
          f"{ms(pan_zoom_step(view, scene)):>9.2f} | {ms(drag_step(view, scene)):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
