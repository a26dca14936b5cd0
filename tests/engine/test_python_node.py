"""TEA's inline-Python rules (FORMAT §6)."""

from __future__ import annotations

import pytest

from tea_studio.engine.python_node import PythonNodeError, run_python_node


def test_return_makes_a_function_body():
    assert run_python_node("n", "x = state['a'] + 1\nreturn {'x': x}\n", {"a": 1}) == {"x": 2}


def test_without_return_public_locals_become_the_update():
    update = run_python_node("n", "a = 1\n_hidden = 2\nimport math\nb = math.floor(2.5)\n", {})
    assert update == {"a": 1, "b": 2}


def test_non_dict_result_becomes_result_and_none_changes_nothing():
    assert run_python_node("n", "return [1, 2]", {}) == {"result": [1, 2]}
    assert run_python_node("n", "return 0", {}) == {"result": 0}
    assert run_python_node("n", "if False:\n    return {'a': 1}\n", {}) is None


def test_word_return_not_substring():
    assert run_python_node("n", "returned = 1\n", {}) == {"returned": 1}


def test_templates_are_rendered_only_when_markers_are_present():
    variables = {"greeting": "Hello", "factor": 3}
    code = 'message = "${greeting}, " + state["who"]\nscaled = 2 * ${factor}\nup = "{{ state.who | upper }}"\n'
    assert run_python_node("n", code, {"who": "Ada"}, variables) == {
        "message": "Hello, Ada", "scaled": 6, "up": "ADA"}
    assert run_python_node("n", "d = {'a': {'b': 1}}\n", {}) == {"d": {"a": {"b": 1}}}


def test_globals_state_variables_json():
    code = "return {'j': json.dumps(state['x']), 'v': variables['k']}"
    assert run_python_node("n", code, {"x": [1]}, {"k": "v"}) == {"j": "[1]", "v": "v"}


def test_errors_carry_type_message_and_line():
    with pytest.raises(PythonNodeError) as info:
        run_python_node("n", "a = 1\nb = state['missing']\nreturn {}\n", {})
    assert info.value.line == 2 and "KeyError" in info.value.message
    with pytest.raises(PythonNodeError) as info:
        run_python_node("n", "a = (\n", {})
    assert "SyntaxError" in info.value.message


def test_a_node_event_keeps_the_update_it_reported_when_a_later_node_mutates_state_in_place():
    from engine_helpers import run

    from tea_studio.engine.events import NodeFinished

    state, sink = run("""
        nodes:
          - name: make
            run: |
              items = [1]
          - name: grow
            run: |
              state["items"].append(2)
              return {"seen": len(state["items"])}
    """)
    assert state["items"] == [1, 2] and state["seen"] == 2  # in-place edits of state still count, as in TEA
    made = next(e for e in sink.events if isinstance(e, NodeFinished) and e.node == "make")
    assert made.update == {"items": [1]}  # what `make` produced, not what `grow` did to it later
