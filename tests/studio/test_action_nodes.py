"""Action nodes in the studio: the palette and the quick-add popup offer every registered action, and the
inspector edits an action's parameters through a form built from its schema (the raw YAML stays editable)."""

from fixtures_window import *  # noqa: F403
from PySide6.QtCore import QPoint, QPointF, Qt

from tea_studio.workflow.action_schemas import action_names


def test_palette_offers_each_registered_action_with_its_required_parameters(window, qtbot):
    palette = window.palette
    for name in action_names():
        assert palette.item_for_kind(f"action:{name}") is not None, name
    item = palette.item_for_kind("action:file.write")
    assert item.text() == "file.write" and "Write a text file" in item.toolTip()
    qtbot.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=palette.visualItemRect(item).center())
    [node] = window.workflow.nodes
    assert (node.name, node.kind, node.uses, node.with_args) == ("file_write_1", "action", "file.write",
                                                                 {"path": "", "content": ""})


def test_quick_add_lists_actions(window):
    popup = window.view.search_popup
    assert popup.list.count() == 0  # listed when first opened: listing actions loads the plugins
    popup.popup(QPoint(10, 10), QPointF())
    labels = [popup.list.item(i).text() for i in range(popup.list.count())]
    assert "Lua" in labels and "llm.call" in labels and "http.get" in labels


def test_inspector_form_edits_one_parameter_and_keeps_the_rest(make_window, tmp_path, qtbot):
    path = tmp_path / "fetch.yaml"
    path.write_text("nodes:\n  - name: fetch\n    uses: http.get\n    with:\n      url: https://example.org\n"
                    "      custom: kept\n", encoding="utf-8")
    window = make_window(path)
    window.select_node("fetch")
    section = window.inspector.node_page.action_form
    form = section.params
    assert form.isVisible() and list(form.fields) == ["url", "headers", "params", "timeout"]
    assert form.fields["url"].text() == "https://example.org"
    assert form.fields["timeout"].placeholderText() == "default: 30"
    form.fields["timeout"].setText("5")
    form.fields["timeout"].editingFinished.emit()
    form.fields["headers"].setText("{Accept: application/json}")
    form.fields["headers"].editingFinished.emit()
    assert window.workflow.node("fetch").with_args == {"url": "https://example.org", "custom": "kept", "timeout": 5,
                                                       "headers": {"Accept": "application/json"}}
    assert "timeout: 5" in section.with_field.toPlainText()  # the raw YAML shows the same mapping
    window.actions["undo"].trigger()
    assert "headers" not in window.workflow.node("fetch").with_args
    assert form.fields["headers"].text() == ""
