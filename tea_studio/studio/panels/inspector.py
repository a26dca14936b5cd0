"""The inspector: properties of the selected node, the selected edge, or the workflow when nothing is selected.

It only decides what is shown and keeps it fresh; the forms do the editing, each its own widget: the node page's
sections (``node_sections.py``: name/kind/fan-in and code; ``action_form.py``; ``goto_rules.py``), the edge form
(``edge_form.py``) and the workflow form (``workflow_form.py``). Every change goes through the document's editing
methods (one undo step each; code typing merges) and the forms refresh from the document's signals, so undo/redo
and edits made elsewhere show up here. The inspector never mutates the workflow itself.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QScrollArea, QStackedWidget, QVBoxLayout, QWidget

from tea_studio.studio.panels.action_form import ActionForm
from tea_studio.studio.panels.edge_form import EdgeForm
from tea_studio.studio.panels.goto_rules import GotoRulesForm
from tea_studio.studio.panels.node_sections import CodeForm, ConstructView, NodeBinding, NodeForm, NodeSection
from tea_studio.studio.panels.workflow_form import WorkflowForm


class NodePage(QWidget):
    """The node page: name/kind/fan-in, the action form, the code (or a composite's inner YAML) and the goto rules,
    top to bottom."""

    def __init__(self, binding: NodeBinding) -> None:
        super().__init__()
        self.node_form = NodeForm(binding)
        self.action_form = ActionForm(binding)
        self.code_form = CodeForm(binding)
        self.construct_view = ConstructView(binding)
        self.goto_rules = GotoRulesForm(binding)
        self.sections: list[NodeSection] = [self.node_form, self.action_form, self.code_form, self.construct_view,
                                            self.goto_rules]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for section, stretch in zip(self.sections, (0, 0, 3, 3, 1), strict=True):
            layout.addWidget(section, stretch)

    def show_node(self, node) -> None:
        for section in self.sections:
            section.show_node(node)


class Inspector(QWidget):
    """Shows and edits the selection through an ``EditableWorkflow`` document."""

    NODE, EDGE, WORKFLOW = "node", "edge", "workflow"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.binding = NodeBinding()
        self.mode = self.WORKFLOW
        self.route_id: str | None = None  # in edge mode: the selected route, whose edges entry is shown
        self._refreshing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setObjectName("inspectorTitle")
        layout.addWidget(self.title)
        self.stack = QStackedWidget()
        self.node_page = NodePage(self.binding)
        self.edge_page = EdgeForm()
        self.workflow_page = WorkflowForm()
        for page in (self.node_page, self.edge_page, self.workflow_page):
            area = QScrollArea()
            area.setWidgetResizable(True)
            area.setFrameShape(QScrollArea.Shape.NoFrame)
            area.setWidget(page)
            self.stack.addWidget(area)
        layout.addWidget(self.stack)
        self.show_workflow()

    @property
    def document(self):
        return self.binding.document

    @property
    def workflow(self):
        return self.binding.workflow

    @property
    def node_name(self) -> str | None:
        return self.binding.node_name

    # -- document -------------------------------------------------------------------------------------------
    def set_document(self, document) -> None:
        if self.document is not None:
            for signal, slot in self._connections():
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.binding.document = document
        if document is not None:
            for signal, slot in self._connections():
                signal.connect(slot)
        self.show_workflow()

    def _connections(self):
        doc = self.document
        return [(doc.node_changed, self._on_node_changed), (doc.node_renamed, self._on_node_renamed),
                (doc.node_removed, self._on_node_removed),
                (doc.node_added, self._on_node_added), (doc.settings_changed, self.refresh),
                (doc.workflow_changed, self._on_workflow_changed), (doc.reset, self.show_workflow)]

    def _on_node_changed(self, name: str) -> None:
        if self.mode == self.NODE and name == self.node_name:
            self.refresh()

    def _on_node_renamed(self, old: str, new: str) -> None:
        if self.mode == self.NODE and self.node_name == old:
            self.binding.node_name = new
        self.refresh()

    def _on_node_removed(self, name: str) -> None:
        if self.mode == self.NODE and name == self.node_name:
            self.show_workflow()
        else:
            self.refresh()

    def _on_node_added(self, _name: str) -> None:
        if self.mode != self.WORKFLOW:
            self.refresh()  # node pickers list the new name

    def _on_workflow_changed(self) -> None:
        if self.mode == self.WORKFLOW:
            self.refresh()
        elif self.mode == self.EDGE and not self.edge_page.is_current():
            self.refresh()  # the entry changed (or is gone: the workflow is shown)

    # -- what is shown ----------------------------------------------------------------------------------------
    def show_selection(self, node_names: list[str], route_ids: list[str] | None = None) -> None:
        """Show the single selected node, else the edge of the single selected route, else the workflow."""
        route_ids = route_ids or []
        if len(node_names) == 1:
            self.show_node(node_names[0])
        elif not node_names and len(route_ids) == 1:
            self.show_edge(route_ids[0])
        else:
            self.show_workflow()

    def _show(self, mode: str, node_name: str | None = None, route_id: str | None = None) -> None:
        if mode != self.NODE or node_name != self.node_name:
            self.node_page.node_form.name_message.hide()
        if mode != self.EDGE:
            self.edge_page.release()
        self.mode, self.binding.node_name, self.route_id = mode, node_name, route_id
        self.stack.setCurrentIndex((self.NODE, self.EDGE, self.WORKFLOW).index(mode))
        self.refresh()

    def show_node(self, name: str) -> None:
        if self.workflow is None or self.workflow.node(name) is None:
            self.show_workflow()
            return
        self._show(self.NODE, node_name=name)

    def show_edge(self, route_id: str) -> None:
        """Show the ``edges`` entry that writes this route."""
        if self.document is None or self.document.edge_entry(route_id) is None:
            self.show_workflow()
            return
        self._show(self.EDGE, route_id=route_id)

    def show_workflow(self) -> None:
        self._show(self.WORKFLOW)

    def refresh(self) -> None:
        """Reload the visible form from the document (a node or edge that is gone shows the workflow)."""
        if self._refreshing:
            return
        self._refreshing = self.binding.showing = True
        try:
            self.setEnabled(self.workflow is not None)
            shown = self._fill()
        finally:
            self._refreshing = self.binding.showing = False
        if not shown:
            self.show_workflow()  # (the selection owner shows what replaced it)

    def _fill(self) -> bool:
        if self.workflow is None:
            self.title.setText("No workflow")
        elif self.mode == self.NODE:
            node = self.workflow.node(self.node_name)
            if node is None:
                return False
            self.title.setText(f"Node  {node.name}")
            self.node_page.show_node(node)
        elif self.mode == self.EDGE:
            self.title.setText("Edge")
            return self.edge_page.show_edge(self.document, self.route_id)
        else:
            self.title.setText("Workflow")
            self.workflow_page.show_workflow(self.document)
        return True

    # -- focus ----------------------------------------------------------------------------------------------
    def go_to_code_line(self, line: int) -> bool:
        """Put the code editor's cursor on ``line`` of the shown node's code and highlight it."""
        return self.mode == self.NODE and self.node_page.code_form.go_to_line(line)

    def focus_name(self) -> None:
        """Start renaming the shown node: focus its name field with the name selected."""
        self.node_page.node_form.focus_name()

    def focus_condition(self) -> None:
        """Focus the condition field of the shown edge, or the goto rules of the shown node."""
        if self.mode == self.EDGE:
            self.edge_page.focus_condition()
        elif self.mode == self.NODE:
            self.node_page.goto_rules.focus()
