"""Prolog nodes with real swipl processes: TEA's state/return interface and term conversions, how code is read,
the log, errors as one located line, Stop, and what happens without SWI-Prolog."""

from __future__ import annotations

import os
import threading
import time

import pytest
from engine_helpers import run, workflow

from tea_studio.engine.events import ListSink, LogLine, RunWarning
from tea_studio.engine.prolog_node import PrologNodeError, run_prolog_node
from tea_studio.engine.runner import RunControl, RunError, RunStopped, WorkflowRun
from tea_studio.workflow.validation import validate
from tea_studio.workflow.yaml_io import dump_workflow


def prolog(code: str, state: dict | None = None, **kwargs):
    return run_prolog_node("n", code, state or {}, **kwargs)


def test_state_values_arrive_as_tea_gives_them():
    """Strings are atoms, null/true/false the atoms of those names, objects dicts, lists lists (TEA's
    _python_to_prolog)."""
    state = {"s": "héllo wörld", "n": None, "t": True, "f": False, "i": 42, "x": 2.5, "l": [1, "a"],
             "d": {"k": {"deep": "v"}}, "e": []}
    code = """
        state(s, S), atom(S), atom_length(S, 11),
        state(n, null), state(t, true), state(f, false),
        state(i, I), integer(I), state(x, X), float(X),
        state(l, [1, a]), state(e, []),
        state(d, D), is_dict(D), get_dict(k, D, K), get_dict(deep, K, v),
        findall(Key, state(Key, _), Keys), length(Keys, Count),
        return(ok, true), return(count, Count).
    """
    assert prolog(code, state).update == {"ok": True, "count": 9}


def test_returned_terms_come_back_as_tea_returns_them():
    code = """
        return(atom, hello), return(string, "text"), return(int, 7), return(float, 2.5),
        return(integral_float, 4.0), return(list, [a, "b", 1]), return(empty, []),
        return(pair, key-value), return(term, point(1, two)), return(unbound, _),
        return(null, null), return(yes, true), return(no, false), return(dict, _{a: _{b: [x]}}),
        return('quoted key', 1), return("string key", 2), return(unicode, 'ünï'), return(address, host:80).
    """
    assert prolog(code).update == {
        "atom": "hello", "string": "text", "int": 7, "float": 2.5, "integral_float": 4, "list": ["a", "b", 1],
        "empty": [], "pair": ["key", "value"], "term": "point(1,two)", "unbound": None, "null": None,
        "yes": True, "no": False, "dict": {"a": {"b": ["x"]}}, "quoted key": 1, "string key": 2, "unicode": "ünï",
        "address": "host:80"}


def test_the_last_return_of_a_key_wins_and_nothing_returned_is_no_update():
    assert prolog("return(k, 1), return(k, 2).").update == {"k": 2}
    assert prolog("X = 1, X > 0.").update is None


def test_code_is_read_term_by_term_with_rules_facts_and_directives():
    code = """
        :- use_module(library(clpfd)).
        :- dynamic seen/1.
        edge(a, b).
        edge(b, c).
        path(X, Y) :- edge(X, Y).
        path(X, Y) :- edge(X, Z), path(Z, Y).
        greeting --> [hello], name.
        name --> [world].
        findall(Y, path(a, Y), Ys), return(reach, Ys).
        assertz(seen(1)), findall(S, seen(S), Seen), return(seen, Seen).
        atom_length(abc, 3).
        phrase(greeting, [hello, world]), return(parsed, true)
        % the last term needs no full stop, and a comment may follow it
    """
    assert prolog(code).update == {"reach": ["b", "c"], "seen": [1], "parsed": True}


def test_the_node_may_define_predicates_the_preloaded_libraries_also_define():
    """lists/apply/aggregate arrive by autoload, so a node's own last/2 is its own (clpfd is imported)."""
    code = "last(_, mine) :- true.\nlast([1, 2], X), sum_list([1, 2], S), return(x, X), return(s, S)."
    assert prolog(code).update == {"x": "mine", "s": 3}


def test_a_failed_goal_keeps_what_was_returned_before_and_stops_the_code():
    result = prolog("return(a, 1), member(X, [1, 2, 3]), return(x, X), X > 5.\nreturn(b, 2).")
    assert result.failed and result.update == {"a": 1, "x": 3}


def test_what_the_node_prints_goes_to_the_log_not_into_the_update():
    lines = []
    result = prolog("writeln(hello), format(\"~w-~w~n\", [a, b]), print(x), nl, return(k, 1).",
                    on_print=lines.append)
    assert result.update == {"k": 1} and lines == ["hello", "a-b", "x"]


@pytest.mark.parametrize(("code", "kind", "line", "fragment"), [
    ("foo(X) :-\n  X = .", "syntax", 2, "Prolog syntax error"),
    ("true.\nX is 1 / 0.", "error", 2, "zero_divisor"),
    ("nothing_defines_this(1, X).", "error", 1, "unknown procedure nothing_defines_this/2"),
    ("throw(custom).", "error", 1, "uncaught exception custom"),
    ("shell('true').", "sandbox", 1, "the sandbox refuses shell/1"),
])
def test_errors_are_one_line_with_the_prolog_line(code, kind, line, fragment):
    with pytest.raises(PrologNodeError) as caught:
        prolog(code)
    error = caught.value
    assert (error.kind, error.line) == (kind, line) and fragment in error.message and "\n" not in error.message


def test_a_run_error_names_the_node_and_line():
    with pytest.raises(RunError) as caught:
        run("""
            name: w
            nodes:
              - name: reason
                language: prolog
                run: |
                  state(x, X),
                  Y is X + foo,
                  return(y, Y).
        """, {"x": 1})
    assert str(caught.value) == "node 'reason' line 1: Prolog error: Arithmetic: evaluable `foo/0' does not exist" \
        or str(caught.value).startswith("node 'reason' line 1: Prolog error: Arithmetic:")


def test_the_timeout_comes_from_settings_prolog_and_ends_the_node():
    began = time.monotonic()
    with pytest.raises(RunError) as caught:
        run("""
            name: w
            settings: {prolog: {timeout: 0.5}}
            nodes:
              - name: spin
                language: prolog
                run: "loop :- loop.\\nloop."
        """)
    assert caught.value.message == "Prolog execution timeout (0.5 s)" and caught.value.node == "spin"
    assert time.monotonic() - began < 5


def test_stop_kills_the_prolog_process_within_a_second():
    """The node prints as it runs (live in the log), then loops: Stop ends the run within 1 s."""
    control = RunControl()
    looping = threading.Event()

    class Watch(ListSink):
        def emit(self, event):
            super().emit(event)
            if isinstance(event, LogLine) and event.text == "looping":
                looping.set()

    flow = workflow("""
        name: w
        nodes:
          - name: spin
            language: prolog
            run: "writeln(looping), repeat, fail."
    """)
    result: dict = {}

    def go():
        try:
            WorkflowRun(flow, sink=Watch(), control=control).run()
        except RunError as exc:
            result["error"], result["at"] = exc, time.monotonic()

    worker = threading.Thread(target=go)
    worker.start()
    assert looping.wait(10)
    stopped_at = time.monotonic()
    control.stop()
    worker.join(5)
    assert isinstance(result["error"], RunStopped) and result["at"] - stopped_at < 1.0


def test_a_failed_goal_is_a_warning_of_the_run_and_prints_reach_the_log():
    state, sink = run("""
        name: w
        nodes:
          - name: check
            language: prolog
            run: "writeln(checking), return(seen, true), fail."
    """)
    assert state == {"seen": True}
    warnings = [e for e in sink.events if isinstance(e, RunWarning)]
    assert [w.node for w in warnings] == ["check"] and "the goal failed" in warnings[0].message
    assert [(e.node, e.text) for e in sink.events if isinstance(e, LogLine)] == [("check", "checking")]


def test_parallel_branches_each_run_their_own_process():
    """TEA's examples/prolog/parity/parallel-isolation.yaml idea: facts one branch adds never reach another."""
    state, _ = run("""
        name: w
        nodes:
          - name: start
            language: lua
            run: "return {}"
          - name: a
            language: prolog
            run: "assertz(mark(a)).\\nfindall(M, mark(M), Ms), return(a_marks, Ms)."
          - name: b
            language: prolog
            run: "assertz(mark(b)).\\nfindall(M, mark(M), Ms), return(b_marks, Ms)."
          - name: join
            fan_in: true
            language: lua
            run: "return { n = #state.parallel_results }"
        edges:
          - {from: start, to: a, type: parallel, fan_in: join}
          - {from: start, to: b, type: parallel, fan_in: join}
          - {from: a, to: join}
          - {from: b, to: join}
          - {from: join, to: __end__}
    """)
    results = {key: value for r in state["parallel_results"] for key, value in r.items() if key.endswith("marks")}
    assert results == {"a_marks": ["a"], "b_marks": ["b"]} and state["n"] == 2


FORMS = """
name: forms
nodes:
  - name: by_language
    language: prolog
    run: |
      return(a, 1).
  - name: by_marker
    run: |
      % prolog
      return(b, 2).
  - name: by_table
    run:
      type: prolog
      code: "return(c, 3)."
"""


def test_the_three_spellings_are_prolog_nodes_and_save_as_written():
    flow = workflow(FORMS)
    assert [node.kind for node in flow.nodes] == ["prolog"] * 3
    assert dump_workflow(flow) == FORMS
    assert WorkflowRun(flow).run() == {"a": 1, "b": 2, "c": 3}


def test_without_swipl_validation_warns_and_the_run_stops_naming_the_node(monkeypatch, tmp_path):
    flow = workflow(FORMS)
    assert not [p for p in validate(flow) if p.code == "NODE_TYPE_NOT_SUPPORTED"]
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without swipl
    warned = [p for p in validate(flow) if p.code == "NODE_TYPE_NOT_SUPPORTED"]
    assert [p.node for p in warned] == ["by_language", "by_marker", "by_table"]
    assert all("Prolog nodes need SWI-Prolog: apt install swi-prolog-nox" in p.message for p in warned)
    with pytest.raises(RunError) as caught:
        WorkflowRun(flow).run()
    assert str(caught.value) == "node 'by_language': Prolog nodes need SWI-Prolog: apt install swi-prolog-nox"
    with pytest.raises(PrologNodeError) as direct:
        prolog("return(a, 1).")
    assert direct.value.kind == "missing" and os.environ["PATH"] == str(tmp_path)


def test_the_driver_is_compiled_once_into_the_cache_and_runs_from_source_without_one(monkeypatch, tmp_path):
    from tea_studio.engine import prolog_node
    from tea_studio.workflow.validation import swipl_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(prolog_node, "_states", {})
    assert prolog("return(a, 1).").update == {"a": 1}
    built = list((tmp_path / "cache" / "tea-studio").glob("prolog-driver-*.state"))
    assert len(built) == 1 and prolog_node._states == {swipl_path(): str(built[0])}
    assert prolog("X in 1..3, X #> 2, return(x, X).").update == {"x": 3}

    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/no-cache-can-live-here")
    monkeypatch.setattr(prolog_node, "_states", {})
    assert prolog("X in 1..3, X #> 2, return(x, X).").update == {"x": 3}
    assert prolog_node._states == {swipl_path(): None}


def test_tea_load_code_loads_text_from_the_state_before_the_goal_uses_it():
    text = "edge(a, b).\nedge(b, c).\nreach(X, Y) :- edge(X, Y).\nreach(X, Z) :- edge(X, Y), reach(Y, Z).\n"
    code = "state(kb, KB), tea_load_code(KB), findall(Y, reach(a, Y), Ys), return(reach, Ys)."
    assert prolog(code, {"kb": text}).update == {"reach": ["b", "c"]}
    with pytest.raises(PrologNodeError) as caught:
        prolog("true.\nstate(kb, KB),\ntea_load_code(KB).", {"kb": "ok(1).\nbroken(.\n"})
    assert (caught.value.kind, caught.value.line) == ("syntax", 2)
    assert caught.value.message.endswith("(line 2 of the text tea_load_code/1 read)")


def test_a_name_nothing_defines_is_still_an_error_when_the_goal_fails_on_it():
    """Names the code may define on the way are allowed past the sandbox's check; if the goal then fails and
    one of them never got a clause, the error is TEA's unknown procedure."""
    assert prolog("assertz(seen(1)), seen(X), return(x, X).").update == {"x": 1}
    with pytest.raises(PrologNodeError) as caught:
        prolog("return(a, 1), typo_predicate(X), return(x, X).")
    assert caught.value.message == "Prolog error: unknown procedure typo_predicate/1"
