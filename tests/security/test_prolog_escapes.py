"""Escapes from the Prolog sandbox, tried with real swipl processes: processes, files, the network and the
environment; other modules (the sandbox's own tables, user:term_expansion, the node module's expansion hooks);
goals built at run time; and resources (time, stacks, the clause store). Each attempt must fail with one line
and leave no trace on disk."""

from __future__ import annotations

import time

import pytest
from security_helpers import run_cli

from tea_studio.engine.prolog_node import PrologNodeError, run_prolog_node


def refused(code: str, kind: str = "sandbox", **kwargs) -> PrologNodeError:
    with pytest.raises(PrologNodeError) as caught:
        run_prolog_node("hostile", code, {}, **kwargs)
    error = caught.value
    assert error.kind == kind, error.message
    assert "\n" not in error.message
    return error


@pytest.fixture
def marker(tmp_path):
    """A path that an escape would create: it must still be missing after the attempt."""
    path = tmp_path / "escaped"
    yield str(path)
    assert not path.exists(), "the node reached the file system"


@pytest.mark.parametrize(("template", "named"), [
    ("shell('touch {m}').", "shell/1"),
    ("shell('touch {m}', _).", "shell/2"),
    ("process_create(path(touch), ['{m}'], []).", "process_create/3"),
    ("use_module(library(process)), process_create(path(touch), ['{m}'], []).", "process_create/3"),
    ("open('{m}', write, S), write(S, x), close(S).", "open/3"),
    ("open('{m}', write, S, []), close(S).", "open/4"),
    ("tell('{m}'), write(x), told.", "tell/1"),
    ("see('/etc/passwd'), read(X), seen.", "see/1"),
    ("read_term(user_input, T, []).", "read_term/3"),
    ("consult('/etc/passwd').", "consult/1"),
    ("['/etc/passwd'].", ""),
    ("load_files('/etc/passwd', []).", ""),
    ("use_module('/etc/passwd').", ""),
    ("exists_file('/etc/passwd').", "exists_file/1"),
    ("directory_files('/', Fs).", "directory_files/2"),
    ("delete_file('{m}').", "delete_file/1"),
    ("getenv('HOME', H), return(h, H).", "getenv/2"),
    ("setenv(x, y).", "setenv/2"),
    ("use_module(library(socket)), tcp_connect(localhost:22, S, []).", "tcp_connect/3"),
    ("halt.", "halt/0"),
    ("thread_create(shell('touch {m}'), _, []).", "thread_create/3"),
    ("set_prolog_flag(unknown, fail).", "set_prolog_flag/2"),
])
def test_processes_files_network_and_the_environment_are_refused(marker, template, named):
    error = refused(template.format(m=marker))
    assert error.message.startswith("the sandbox ")
    if named:
        assert f"refuses {named} (" in error.message


@pytest.mark.parametrize("template", [
    "user:assertz(term_expansion(_, (:- shell('touch {m}')))).",
    "assertz(user:term_expansion(_, (:- shell('touch {m}')))).",
    "sandbox:assertz(safe_primitive(system:shell(_))), shell('touch {m}').",
    "assertz(sandbox:safe_primitive(system:shell(_))), shell('touch {m}').",
    "'@'(assertz(term_expansion(_, (:- shell('touch {m}')))), user), use_module(library(ugraphs)).",
    "system:shell('touch {m}').",
    "tea_prolog_driver:assertz(returned(x, 1)).",
])
def test_other_modules_are_out_of_reach(marker, template):
    error = refused(template.format(m=marker))
    assert "stays in its own module" in error.message


@pytest.mark.parametrize("template", [
    # a fact the sandbox lets code assert in its own module would turn the next library's module header into
    # a directive that runs unchecked: the node module's expansion hooks are fixed
    "assertz(term_expansion((:- module(A, B)), [(:- module(A, B)), (:- initialization(shell('touch {m}')))])),"
    " use_module(library(ugraphs)).",
    "term_expansion((:- module(A, B)), [(:- module(A, B)), (:- initialization(shell('touch {m}')))]) :- true.\n"
    ":- use_module(library(ugraphs)).",
    "assertz(goal_expansion(true, shell('touch {m}'))), use_module(library(ugraphs)).",
    "term_expansion(_, _, _, _) :- shell('touch {m}').\n:- use_module(library(pairs)).",
])
def test_expansion_hooks_cannot_be_planted(marker, template):
    error = refused(template.format(m=marker), kind="error")
    assert "No permission to modify static procedure" in error.message


@pytest.mark.parametrize("template", [
    "G = shell('touch {m}'), call(G).",
    "atom_to_term('shell(\\'touch {m}\\')', G, _), call(G).",
    "term_to_atom(G, 'shell(\\'touch {m}\\')'), once(G).",
    "X = shell, G =.. [X, 'touch {m}'], G.",
    "maplist(shell, ['touch {m}']).",
    "findall(x, (member(G, [shell('touch {m}')]), call(G)), _).",
    "run(G) :- call(G).\n:- run(shell('touch {m}')).",
    "assertz((evil :- shell('touch {m}'))), evil.",
    "evil :- shell('touch {m}').\nevil.",
    "helper(X) :- shell(X).\nrun :- helper('touch {m}').\nrun.",
])
def test_goals_built_or_hidden_at_run_time_are_refused(marker, template):
    refused(template.format(m=marker))


def test_an_endless_loop_ends_at_the_timeout():
    began = time.monotonic()
    error = refused("loop :- loop.\nloop.", kind="timeout", timeout=1.0)
    assert error.message == "Prolog execution timeout (1 s)" and time.monotonic() - began < 5


def test_a_loop_that_never_reaches_prolog_code_is_killed_at_the_deadline():
    """A single long built-in call (no inference to interrupt) still ends: the process is killed."""
    began = time.monotonic()
    refused("numlist(1, 30000000, L), msort(L, _), msort(L, _), msort(L, _), fail.", kind="timeout",
            timeout=0.2, memory_mb=4096)
    assert time.monotonic() - began < 5


@pytest.mark.parametrize("code", [
    "length(L, 200000000).",
    "numlist(1, 100000000, L), sum_list(L, S), return(s, S).",
    "big(X) :- big([X, X]).\n:- big(a).",
])
def test_huge_terms_hit_the_memory_cap(code):
    error = refused(code, kind="memory", memory_mb=64)
    assert error.message.startswith("Prolog out of memory") and "64 MB" in error.message


def test_a_growing_clause_store_is_stopped_by_the_address_space_cap():
    began = time.monotonic()
    with pytest.raises(PrologNodeError) as caught:
        run_prolog_node("hostile", "between(1, inf, N), atom_concat(padding_padding_padding_padding_, N, A), "
                                   "assertz(f(A, A, A)), fail.", {}, timeout=20, memory_mb=64)
    assert caught.value.kind in ("memory", "error") and "\n" not in caught.value.message
    assert "memory" in caught.value.message and time.monotonic() - began < 20


def test_a_hostile_node_in_a_real_run_is_one_located_line(workflow_file, tmp_path):
    target = tmp_path / "escaped"
    path = workflow_file(f"""
name: hostile
nodes:
  - name: ok
    language: lua
    run: "return {{ before = true }}"
  - name: grab
    language: prolog
    run: |
      state(before, true),
      shell('touch {target}').
""")
    code, out, err = run_cli("run", path)
    assert code == 1 and out == "" and not target.exists()
    assert err.strip().splitlines()[-1] == "error: node 'grab' line 1: the sandbox refuses shell/1 (files, " \
        "processes, the network and other modules are out of reach of a Prolog node)"


@pytest.mark.parametrize("template", [
    # a goal is checked before it runs: a rule that tea_load_code/1 adds while it runs is checked as it is added
    "state(text, T), tea_load_code(T), evil.",
    ":- dynamic evil/0.\nstate(text, T), tea_load_code(T), evil.",
    "p :- evil.\nstate(text, T), tea_load_code(T), p.",
])
def test_rules_loaded_while_a_goal_runs_are_checked_before_they_are_added(marker, template):
    with pytest.raises(PrologNodeError) as caught:
        run_prolog_node("hostile", template, {"text": f"evil :- shell('touch {marker}')."})
    assert caught.value.kind == "sandbox" and "refuses shell/1" in caught.value.message


def test_loaded_text_is_checked_term_by_term(marker):
    for text in (f"shell('touch {marker}').", f"user:assertz(term_expansion(_, (:- shell('touch {marker}')))).",
                 f":- shell('touch {marker}')."):
        with pytest.raises(PrologNodeError) as caught:
            run_prolog_node("hostile", "state(text, T), tea_load_code(T).", {"text": text})
        assert caught.value.kind == "sandbox"
