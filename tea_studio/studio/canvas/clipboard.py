"""Selection editing for the Edit menu: select all, delete, copy/cut/paste as YAML text, duplicate.

The clipboard holds a YAML fragment (``yaml_io.fragment_to_text``): the selected nodes, the edges among them and
their positions, so a copy can be pasted into another document, another studio window or a text editor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from tea_studio.studio.canvas.scene import WorkflowScene

PASTE_OFFSET = 40.0


def select_all(scene: WorkflowScene) -> None:
    scene.select_nodes(node.name for node in scene.document.workflow.nodes)


def delete_selection(scene: WorkflowScene) -> None:
    """Delete the selected nodes (with their routes), or else the selected notes and frames, or else the selected
    routes, as one undo step."""
    annotations = getattr(scene, "annotations", None)
    names = scene.selected_node_names()
    if not names and annotations is not None and annotations.delete_selected():
        return
    if names:
        scene.document.remove_nodes(names)
        return
    refs = scene.selected_routes()
    if refs:
        scene.document.remove_routes(refs)


def selection_fragment(scene: WorkflowScene) -> str | None:
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


def copy_selection(scene: WorkflowScene) -> str | None:
    text = selection_fragment(scene)
    if text is not None:
        QApplication.clipboard().setText(text)
    return text


def cut_selection(scene: WorkflowScene) -> None:
    if copy_selection(scene) is not None:
        scene.document.remove_nodes(scene.selected_node_names())


def paste_text(scene: WorkflowScene, text: str, at: QPointF | None = None) -> list[str]:
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
    names = scene.document.paste_fragment(nodes, edges, positions, offset=offset)
    scene.select_nodes(names)
    return names


def paste(scene: WorkflowScene, at: QPointF | None = None) -> list[str]:
    return paste_text(scene, QApplication.clipboard().text(), at)


def duplicate_selection(scene: WorkflowScene) -> list[str]:
    """Copy and paste the selection in one go (the clipboard is left alone)."""
    text = selection_fragment(scene)
    return paste_text(scene, text) if text is not None else []

