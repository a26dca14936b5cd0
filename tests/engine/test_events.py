"""Events are frozen dataclasses built with keywords only, whatever makes building them cheap."""

import dataclasses
import pickle

import pytest

from tea_studio.engine.events import EVENT_TYPES, NodeFinished, NodeStarted, RunStarted, event_from_dict, event_to_dict


def test_events_take_keywords_only_and_keep_their_defaults():
    event = NodeStarted(t=1.5, node="a")
    assert (event.branch, event.iteration, event.pinned) == ("", 1, False)
    with pytest.raises(TypeError):
        NodeStarted(1.5, "a")  # type: ignore[misc]  # positional arguments are refused
    with pytest.raises(TypeError, match="node"):
        NodeStarted(t=1.5)
    with pytest.raises(TypeError, match="colour"):
        NodeStarted(t=1.5, node="a", colour="red")


def test_events_are_frozen_equal_by_value_hashable_and_pickle():
    event = NodeFinished(t=2.0, node="a", timing_ms=3.0, update={"x": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.node = "b"  # type: ignore[misc]
    assert event == NodeFinished(t=2.0, node="a", timing_ms=3.0, update={"x": 1})
    assert hash(NodeStarted(t=1.0, node="a")) == hash(NodeStarted(t=1.0, node="a"))
    assert pickle.loads(pickle.dumps(event)) == event
    assert dataclasses.replace(event, ok=False).ok is False


def test_a_default_factory_gives_each_event_its_own_value():
    first, second = RunStarted(t=0.0, run_id="r", workflow="w"), RunStarted(t=0.0, run_id="r", workflow="w")
    assert first.inputs == {} and first.inputs is not second.inputs


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_every_event_round_trips_through_its_json_form(cls):
    values = {f.name: f.name if f.type in ("str", "str | None") else None for f in dataclasses.fields(cls)}
    values["t"] = 4.0
    event = cls(**values)
    assert event_from_dict(event_to_dict(event, 1.0), 1.0) == event
    assert list(vars(event)) == [f.name for f in dataclasses.fields(cls)]
