"""Escapes from the expression sandbox (goto ``if:``, edge ``when:``/``condition:``, templates): the live
environment, shared variables, Python objects, self-containing states, unbounded CPU and memory."""

import os
import textwrap
import time

import pytest

from tea_studio.engine.events import ListSink
from tea_studio.engine.expressions import (
    ExpressionError,
    ExpressionLimitError,
    evaluate,
    goto_condition_holds,
    render,
    render_value,
)
from tea_studio.engine.runner import RunError, WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow_text


def run(text: str, inputs=None):
    return WorkflowRun(load_workflow_text(textwrap.dedent(text)), inputs, sink=ListSink()).run()


@pytest.mark.parametrize("expression", [
    "env.update({'TEA_ESCAPE': 'yes'}) or true",
    "env.__setitem__('TEA_ESCAPE', 'yes') or true",
    "env.setdefault('TEA_ESCAPE', 'yes') or true",
])
def test_the_live_environment_cannot_be_changed(expression):
    with pytest.raises(ExpressionLimitError):
        goto_condition_holds(expression, {})
    assert "TEA_ESCAPE" not in os.environ


def test_env_is_a_copy_readable_as_tea_documents(monkeypatch):
    monkeypatch.setenv("TEA_VISIBLE", "1")
    assert evaluate("env.TEA_VISIBLE", {}) == "1"
    assert evaluate("env is mapping", {}) is True
    assert render("{{ env | length }}", {}) == str(len(os.environ))


@pytest.mark.parametrize("expression", ["state.update({'x': 1})", "variables.update({'x': 1})",
                                        "state.items.append(1)", "variables.pop('limit')", "state.clear()"])
def test_state_and_variables_cannot_be_changed(expression):
    state, variables = {"items": [0]}, {"limit": 3}
    with pytest.raises(ExpressionLimitError, match="unsafe"):
        evaluate(expression, state, variables)
    assert state == {"items": [0]} and variables == {"limit": 3}


@pytest.mark.parametrize("template", ["{{ range(10) }}", "{{ cycler(1, 2) }}", "{{ namespace(a=1) }}",
                                      "{{ joiner() }}", "{{ dict }}", "{{ state.items.index }}"])
def test_python_objects_never_reach_the_state(template):
    with pytest.raises(ExpressionError):
        render_value(template, {"items": [1]})


def test_lipsum_is_not_offered():
    assert render_value("{{ lipsum }}", {}) is None


def test_a_value_read_from_the_state_is_a_copy():
    state = {"a": {"b": [1, 2]}}
    value = render_value("{{ state }}", state)
    assert value == state and value is not state and value["a"] is not state["a"]


@pytest.mark.parametrize(("expression", "rule"), [
    ("'%2000000000d' % 1", "format widths"),
    ("'{:2000000000}'.format(1)", "format widths"),
    ("'%*d' % (2000000000, 1)", "format widths"),
    ("'%2000000000d' | format(1)", "format widths"),
    ("'x' | center(2000000000)", "width"),
    ("'x'.ljust(2000000000)", "widths"),
    ("'{:{}}'.format(1, 2000000000)", "format widths"),
    ("'{0:>{w}}'.format(1, w=2000000000)", "format widths"),
    ("'x' * 10**10", "repeated"),
    ("[0] * 10**10", "repeated"),
    ("7 ** 100000000", "powers"),
])
def test_memory_hungry_expressions_are_refused_at_once(expression, rule):
    began = time.monotonic()
    with pytest.raises(ExpressionLimitError, match=rule):
        goto_condition_holds(expression, {})
    assert time.monotonic() - began < 0.5


def test_loops_in_templates_stop_at_the_deadline():
    began = time.monotonic()
    with pytest.raises(ExpressionLimitError, match="execution timeout"):
        goto_condition_holds("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x",
                             {}, deadline=time.monotonic() + 0.5)
    assert time.monotonic() - began < 1.0


def test_growing_text_in_a_loop_stops_at_the_budget():
    template = "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}x"
    with pytest.raises(ExpressionLimitError, match="limited to"):
        render(template, {})


def test_a_condition_that_breaks_a_rule_fails_the_run_naming_node_and_rule():
    text = """
    name: hostile-condition
    settings:
      lua: {timeout: 0.5}
    nodes:
      - name: start
        language: lua
        run: return { n = 1 }
        goto:
          - if: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}yes"
            to: __end__
    """
    began = time.monotonic()
    with pytest.raises(RunError) as caught:
        run(text)
    assert time.monotonic() - began < 1.5
    message = str(caught.value)
    assert message.startswith("node 'start': condition ") and "broke a sandbox rule: execution timeout" in message
    assert "\n" not in message


def test_an_ordinary_failing_condition_still_counts_as_false():
    text = """
    name: soft
    nodes:
      - name: start
        language: lua
        run: return { n = 1 }
        goto:
          - if: "state.n > missing.value"
            to: start
          - to: __end__
    """
    assert run(text) == {"n": 1}


@pytest.mark.parametrize(("expression", "rule"), [
    ("('x' * 16000000) ~ ('x' * 16000000)", "joined text"),
    ("(('x' * 4000) | replace('x', 'y' * 4000)) | replace('y', 'z' * 40)", "replaced text"),
    ("('x' * 4000).replace('x', 'y' * 4000).replace('y', 'z' * 40)", "replaced text"),
    ("('x' * 100000) | replace('', 'y' * 1000)", "replaced text"),
    ("([0] * 100000) | join('y' * 1000)", "joined text"),
    ("('y' * 1000).join(['a'] * 100000)", "joined text"),
    ("(['x' * 1000000] * 100) | join", "joined text"),
    ("('a\\n' * 1000000) | indent(999)", "indented text"),
    ("('%99999s' * 1000) % ((1,) * 1000)", "formatted text"),
    ("('{:99999}' * 1000).format(*([1] * 1000))", "formatted text"),
    ("'{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format('x' * 10000000)", "formatted text"),
    ("'%(a)s%(a)s%(a)s%(a)s' % {'a': 'x' * 10000000}", "formatted text"),
    ("('\\t' * 1000000).expandtabs(99999)", "text"),
    ("(['x' * 1000000] * 100) | string", "text is limited"),
    ("(['x' * 1000000] * 100) | tojson", "text is limited"),
    ("[[0] * 1000] * 1000 | sum(start=[])", "adds numbers only"),
    ("[1] | slice(1000000000) | list", "sliced list"),
    ("([0] * 10000000) | batch(1) | list", "batched list"),
    ("('ab ' * 5000000).split()", "split into words"),
    ("('a b ' * 4000000) | title", "split into words"),
    ("('x' * 16000000, 'x' * 16000000, 'x' * 16000000, 'x' * 16000000, 'x' * 16000000)", "in all"),
    ("('x' * 16000000) | list | sort | first", "sorting"),
    ("([3, 1, 2] * 5000000) | unique | list", "sorting"),
])
def test_text_that_grows_by_replacing_joining_or_repeating_is_refused_before_it_is_made(expression, rule):
    began = time.monotonic()
    with pytest.raises(ExpressionLimitError, match=rule):
        render_value("{{ " + expression + " }}", {})
    assert time.monotonic() - began < 1.0


def test_a_template_never_prints_a_value_whose_text_repeats_a_big_string():
    with pytest.raises(ExpressionLimitError, match="rendered text"):
        render("{% set big = ['x' * 1000000] * 100 %}{{ big }}", {})
    with pytest.raises(ExpressionLimitError, match="rendered text"):
        render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}", {})


def test_ordinary_text_operations_still_work():
    state = {"words": ["a", "b", "c"], "text": "one two\nthree", "n": 3}
    assert render_value("{{ state.words | join(', ') }}", state) == "a, b, c"
    assert render_value("{{ ', '.join(state.words) }}", state) == "a, b, c"
    assert render_value("{{ state.text | replace('two', 'TWO') }}", state) == "one TWO\nthree"
    assert render_value("{{ state.text | indent(2) }}", state) == "one two\n  three"
    assert render_value("{{ 'n=%d' % state.n ~ '/' ~ '{:>4}'.format(state.n) }}", state) == "n=3/   3"
    assert render_value("{{ state.words | map('upper') | join }}", state) == "ABC"
    assert render_value("{{ [1, 2, 3] | sum }}", state) == 6
    assert render_value("{{ state.text.split() | length }}", state) == 3
    assert render_value("{{ state.words | batch(2) | list }}", state) == [["a", "b"], ["c"]]
    assert render_value("{{ [3, 1, 2, 3] | sort | list }}", state) == [1, 2, 3, 3]
    assert render_value("{{ {'b': 1, 'a': 2} | dictsort | first }}", state) == ["a", 2]  # plain data out
    assert render_value("{{ [3, 1, 3] | unique | list }}", state) == [3, 1]
    assert render("{{ state.words }} {{ state.text | title }}", state) == "['a', 'b', 'c'] One Two\nThree"


def test_a_memory_rule_in_a_condition_fails_the_run_naming_node_and_rule():
    text = """
    name: hostile-condition
    nodes:
      - name: start
        language: lua
        run: return { n = 1 }
        goto:
          - if: "{{ (('x' * 4000) | replace('x', 'y' * 4000)) | replace('y', 'z' * 400) | length > 0 }}"
            to: __end__
    """
    with pytest.raises(RunError) as caught:
        run(text)
    message = str(caught.value)
    assert message.startswith("node 'start': condition ") and "broke a sandbox rule: replaced text" in message
    assert "\n" not in message


def test_conditions_count_against_the_node_timeout_in_a_process_branch():
    """A process-strategy branch runs its routes in the worker: their loops and sizes are limited there too,
    while the sibling finishes."""
    text = """
    name: hostile-branch
    settings:
      lua: {timeout: 1}
      parallel: {strategy: process, max_workers: 3, on_branch_error: continue}
    nodes:
      - {name: fork, language: lua, run: 'return {}'}
      - name: spin
        language: lua
        run: 'return {x = 1}'
        goto:
          - if: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}yes"
            to: __end__
      - name: grow
        language: lua
        run: 'return {y = 1}'
        goto:
          - if: "{{ (('x' * 4000) | replace('x', 'y' * 4000)) | replace('y', 'z' * 400) | length > 0 }}"
            to: __end__
      - {name: good, language: lua, run: 'return {ok = 1}'}
      - {name: join, language: lua, run: 'return {n = #state.parallel_results}'}
    edges:
      - {from: fork, to: spin, type: parallel, fan_in: join}
      - {from: fork, to: grow, type: parallel, fan_in: join}
      - {from: fork, to: good, type: parallel, fan_in: join}
      - {from: spin, to: join}
      - {from: grow, to: join}
      - {from: good, to: join}
    """
    state = run(text)
    assert state["parallel_results"] == [{"ok": 1}] and state["n"] == 1
    errors = {e["branch"]: e for e in state["parallel_errors"]}
    assert errors["spin"]["node"] == "spin" and "broke a sandbox rule: execution timeout" in errors["spin"]["error"]
    assert errors["spin"]["timing_ms"] < 2 * 1000
    assert errors["grow"]["node"] == "grow" and "broke a sandbox rule: replaced text" in errors["grow"]["error"]
