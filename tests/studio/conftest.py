"""Fixtures for the canvas and document tests: a document with its scene and a shown view of a fixed size."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from tea_studio.studio.canvas.node_item import NODE_H, NODE_W
from tea_studio.studio.canvas.scene import WorkflowScene
from tea_studio.studio.canvas.view import WorkflowView
from tea_studio.studio.document import EditableWorkflow
from tea_studio.workflow import yaml_io

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[2] / "resources" / "examples"

CHAIN_YAML = """\
name: chain
nodes:
  - name: first
    language: lua
    run: |
      return { n = 1 }
  - name: second
    language: lua
    run: |
      return { n = state.n + 1 }
    goto:
      - if: "state.n > 1"
        to: third
      - to: __end__
  - name: third
edges:
  - {from: first, to: second}
x-tea-studio:
  positions:
    first: [0, 0]
    second: [300, 0]
    third: [600, 0]
"""


@dataclass
class Canvas:
    """A document, its scene and a shown view, with helpers to aim real mouse gestures at nodes."""

    document: EditableWorkflow
    scene: WorkflowScene
    view: WorkflowView

    def text(self) -> str:
        return yaml_io.dump_workflow(self.document.workflow)

    def at(self, scene_point: QPointF) -> QPoint:
        return self.view.mapFromScene(scene_point)

    def node_point(self, name: str, dx: float = NODE_W / 2, dy: float = NODE_H / 2) -> QPoint:
        item = self.scene.node_item(name)
        return self.at(item.pos() + QPointF(dx, dy))

    def out_port(self, name: str) -> QPoint:
        return self.at(self.scene.node_item(name).out_point())

    def drag(self, start: QPoint, end: QPoint, steps: int = 6, modifier=Qt.KeyboardModifier.NoModifier,
             button=Qt.MouseButton.LeftButton) -> None:
        """A real press-move-release gesture on the viewport."""
        viewport = self.view.viewport()
        QTest.mouseMove(viewport, start)
        QTest.mousePress(viewport, button, modifier, start)
        for i in range(1, steps + 1):
            point = QPoint(start.x() + (end.x() - start.x()) * i // steps,
                           start.y() + (end.y() - start.y()) * i // steps)
            QTest.mouseMove(viewport, point)
        QTest.mouseRelease(viewport, button, modifier, end)

    def click(self, point: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        QTest.mouseClick(self.view.viewport(), Qt.MouseButton.LeftButton, modifier, point)


@pytest.fixture
def make_canvas(qtbot):
    """``make_canvas(text_or_workflow, size=(1000, 700))`` -> Canvas (view shown, at zoom 1, nodes in view)."""

    def make(source=CHAIN_YAML, size=(1000, 700)) -> Canvas:
        workflow = yaml_io.load_workflow_text(source) if isinstance(source, str) else source
        document = EditableWorkflow(workflow)
        scene = WorkflowScene(document)
        view = WorkflowView(scene)
        view.resize(*size)
        view.set_minimap_visible(False)
        qtbot.addWidget(view)
        view.show()
        qtbot.waitExposed(view)
        view.centerOn(scene.nodes_rect().center())
        return Canvas(document, scene, view)

    return make


@pytest.fixture
def canvas(make_canvas) -> Canvas:
    return make_canvas()
