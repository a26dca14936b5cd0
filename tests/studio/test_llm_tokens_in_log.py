"""Model output streams into the studio's log: one row per answer, growing as llm_token events arrive."""

from tea_studio.engine import events as ev
from tea_studio.engine.record import RunModel, RunRecord
from tea_studio.studio.panels.log_view import LogView


def test_tokens_grow_one_log_row_per_answer(qtbot):
    view = LogView()
    qtbot.addWidget(view)
    record = RunRecord()
    model = RunModel(record)
    view.set_model(model)

    def feed(*events):
        record.events.extend(events)
        view.apply(model.apply(list(events)))

    feed(ev.RunStarted(t=1.0, run_id="r", workflow="w"), ev.NodeStarted(t=1.1, node="ask"),
         ev.LlmToken(t=1.2, node="ask", text="The sky"))
    assert [e.text for e in view.visible_entries()] == ["The sky"]
    feed(ev.LlmToken(t=1.3, node="ask", text=" is"), ev.LlmToken(t=1.4, node="ask", text=" blue."))
    assert [e.text for e in view.visible_entries()] == ["The sky is blue."]
    shown = view.log_model.index(0, view.log_model.columnCount() - 1)
    assert view.log_model.data(shown) == "The sky is blue."
    feed(ev.NodeFinished(t=1.5, node="ask"), ev.NodeStarted(t=1.6, node="ask", iteration=2),
         ev.LlmToken(t=1.7, node="ask", text="Again"))
    assert [(e.node, e.text) for e in view.visible_entries()] == [("ask", "The sky is blue."), ("ask", "Again")]
