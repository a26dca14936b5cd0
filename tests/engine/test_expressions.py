"""The two truthiness rules (FORMAT §4) and the sandboxed Jinja environment."""

from __future__ import annotations

import pytest

from tea_studio.engine.expressions import (
    ExpressionError,
    edge_condition_holds,
    evaluate,
    goto_condition_holds,
    render,
    render_value,
)


@pytest.mark.parametrize(("value", "holds"), [
    ([], True), ({}, True), ("", False), (False, False), (0, False), ("no", False), ("No", False),
    (None, False), ("none", False), ("FALSE", False), ("0", False), (1, True), ("yes", True), ([0], True),
    ("off", True),
])
def test_goto_if_renders_to_text(value, holds):
    assert goto_condition_holds("state.v", {"v": value}) is holds


@pytest.mark.parametrize(("value", "holds"), [
    ([], False), ({}, False), ("", False), (0, False), (None, False), ("no", True), ([0], True), (2, True),
])
def test_edge_when_uses_python_truthiness(value, holds):
    assert edge_condition_holds(None, "state.v", {"v": value}) is holds


def test_edge_shorthands_and_constants():
    state = {"open": True, "closed": False}
    assert edge_condition_holds(None, "open", state) is True
    assert edge_condition_holds(None, "!open", state) is False
    assert edge_condition_holds(None, "!closed", state) is True
    assert edge_condition_holds(None, "missing", state) is False
    assert edge_condition_holds(None, "!missing", state) is True
    assert edge_condition_holds(None, "true", state) is True
    assert edge_condition_holds(None, "false", state) is False
    assert edge_condition_holds(None, True, state) is True
    assert edge_condition_holds(None, False, state) is False


def test_condition_with_when_false_is_an_else_edge():
    assert edge_condition_holds("state.t > 30", False, {"t": 12}) is True
    assert edge_condition_holds("state.t > 30", False, {"t": 40}) is False
    assert edge_condition_holds("state.t > 30", None, {"t": 40}) is True


def test_templates_in_edges_and_variables():
    assert edge_condition_holds(None, "{{ variables.mode == 'strict' }}", {}, {"mode": "strict"}) is True
    assert edge_condition_holds(None, "{{ variables.mode == 'strict' }}", {}, {"mode": "lax"}) is False
    assert goto_condition_holds("state.n < variables.limit", {"n": 3}, {"limit": 4}) is True


def test_missing_keys_are_none_and_dict_keys_win_over_methods():
    assert evaluate("state.missing", {}) is None
    assert evaluate("state['missing']", {}) is None
    assert evaluate("state.items", {"items": [1, 2]}) == [1, 2]
    assert evaluate("state.a.b", {"a": {"b": 5}}) == 5
    assert evaluate("state.get('a')", {"a": 5}) == 5


def test_failing_expression_raises_expression_error():
    with pytest.raises(ExpressionError) as info:
        edge_condition_holds("state.n > 3", None, {"n": None})
    assert info.value.expression == "state.n > 3"
    with pytest.raises(ExpressionError):
        goto_condition_holds("state.n >", {})


def test_sandbox_refuses_unsafe_attributes():
    with pytest.raises(ExpressionError, match="unsafe"):
        evaluate("state.__class__.__mro__", {})


def test_render_and_native_values():
    assert render("Hi ${name} {{ state.x | upper }}", {"x": "a"}, {"name": "Ada"}) == "Hi Ada A"
    assert render_value("{{ state.n + 1 }}", {"n": 1}) == 2
    assert render_value({"a": ["{{ state.n }}", "n={{ state.n }}"]}, {"n": 1}) == {"a": [1, "n=1"]}
