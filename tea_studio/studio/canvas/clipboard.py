"""Selection editing for the Edit menu: select all, delete, copy/cut/paste as YAML text, duplicate.

The clipboard holds a YAML fragment (``yaml_io.fragment_to_text``): the selected nodes, the edges among them and
their positions, so a copy can be pasted into another document, another studio window or a text editor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from tea_studio.studio.document import EditableWorkflow
from tea_studio.workflow.layout import NODE_H, free_position, node_width
from tea_studio.workflow.routes import Route


class CanvasScene(Protocol):
    """What the clipboard needs from the canvas scene (the scene imports this module, never the reverse)."""

    document: EditableWorkflow

    def selected_node_names(self) -> list[str]: ...
    def selected_routes(self) -> list[Route]: ...
    def select_nodes(self, names: Iterable[str]) -> None: ...
    def node_boxes(self) -> list[tuple[float, float, float, float]]: ...

PASTE_OFFSET = 40.0


def select_all(scene: CanvasScene) -> None:
    scene.select_nodes(node.name for node in scene.document.workflow.nodes)


def delete_selection(scene: CanvasScene) -> None:
    """Delete the selected nodes (with their routes), or else the selected notes and frames, or else the selected
    routes, as one undo step."""
    annotations = getattr(scene, "annotations", None)
    names = scene.selected_node_names()
    if not names and annotations is not None and annotations.delete_selected():
        return
    if names:
        scene.document.remove_nodes(names)
        return
    routes = scene.selected_routes()
    if routes:
        scene.document.remove_routes([route.id for route in routes])


def selection_fragment(scene: CanvasScene) -> str | None:
    """The selected nodes as fragment text, or None when no node is selected."""
    from tea_studio.workflow import yaml_io

    names = scene.selected_node_names()
    if not names:
        return None
    chosen = set(names)
    workflow = scene.document.workflow
    nodes = [node for node in workflow.nodes if node.name in chosen]
    edges = [edge for edge in workflow.edges if edge.source in chosen and all(t in chosen for t in edge.targets)]
    positions = {name: scene.document.position(name) for name in names}
    return yaml_io.fragment_to_text(nodes, edges, positions)


def copy_selection(scene: CanvasScene) -> str | None:
    text = selection_fragment(scene)
    if text is not None:
        QApplication.clipboard().setText(text)
    return text


def cut_selection(scene: CanvasScene) -> None:
    if copy_selection(scene) is not None:
        scene.document.remove_nodes(scene.selected_node_names())


def paste_text(scene: CanvasScene, text: str, at: QPointF | None = None) -> list[str]:
    """Paste fragment text: at ``at`` (the fragment's top-left goes there) or offset from where it was copied."""
    from tea_studio.workflow import yaml_io

    try:
        nodes, edges, positions = yaml_io.fragment_from_text(text)
    except Exception:  # noqa: BLE001 - the clipboard may hold any text
        return []
    if not nodes:
        return []
    known = [positions[n.name] for n in nodes if n.name in positions]
    if at is not None and known:
        left = min(p[0] for p in known)
        top = min(p[1] for p in known)
        offset = (at.x() - left, at.y() - top)
    elif at is not None:
        offset = (at.x(), at.y())
    else:
        offset = (PASTE_OFFSET, PASTE_OFFSET)
    names = scene.document.paste_fragment(nodes, edges, positions, offset=_clear_of_nodes(scene, nodes, positions,
                                                                                       offset))
    scene.select_nodes(names)
    return names


def _clear_of_nodes(scene: CanvasScene, nodes, positions, offset: tuple[float, float]) -> tuple[float, float]:
    """``offset`` moved down until the pasted nodes land on none of the nodes already there."""
    boxes = [(x, y, node_width(n.name), NODE_H) for n in nodes for x, y in [positions.get(n.name) or (0.0, 0.0)]]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    width = max(b[0] + b[2] for b in boxes) - left
    height = max(b[1] + b[3] for b in boxes) - top
    dx, dy = offset
    _x, y = free_position(scene.node_boxes(), left + dx, top + dy, width, height)
    return dx, y - top


def paste(scene: CanvasScene, at: QPointF | None = None) -> list[str]:
    return paste_text(scene, QApplication.clipboard().text(), at)


def duplicate_selection(scene: CanvasScene) -> list[str]:
    """Copy and paste the selection in one go (the clipboard is left alone)."""
    text = selection_fragment(scene)
    return paste_text(scene, text) if text is not None else []

