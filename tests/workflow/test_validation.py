"""validate(): each check, where it points, and how fast it is."""

import dataclasses
import subprocess
import sys
import textwrap
import time

import pytest
from support import EXAMPLES

from tea_studio.workflow.model import END, START, Edge, GotoRule, Node, Workflow
from tea_studio.workflow.validation import (
    INFO,
    Problem,
    expression_error,
    lua_syntax_error,
    problem_from_error,
    python_syntax_error,
    validate,
)
from tea_studio.workflow.yaml_io import WorkflowError, dump_workflow, load_workflow, load_workflow_text


def check(text: str) -> list[Problem]:
    return validate(load_workflow_text(textwrap.dedent(text).lstrip("\n")))


def found(text: str, code: str) -> list[Problem]:
    return [p for p in check(text) if p.code == code]


def only(text: str, code: str) -> Problem:
    matches = found(text, code)
    assert len(matches) == 1, matches
    return matches[0]


LUA_CHAIN = """
nodes:
  - name: a
    language: lua
    run: |
      return { x = 1 }
  - name: b
    language: lua
    run: |
      return { y = 2 }
"""


# -- clean workflows ----------------------------------------------------------------------------------------

def problems_of(workflow_or_text) -> list[Problem]:
    """Errors and warnings only (notes of severity info are not problems)."""
    problems = validate(workflow_or_text) if isinstance(workflow_or_text, Workflow) else check(workflow_or_text)
    return [p for p in problems if p.severity != INFO]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_have_no_problems(path):
    assert problems_of(load_workflow(path)) == []


def test_a_plain_lua_chain_is_clean_with_one_note_on_its_implicit_chaining():
    [note] = check(LUA_CHAIN)
    assert (note.code, note.severity, note.node, note.line) == ("IMPLICIT_CHAINING", INFO, None, 2)
    assert "'a' -> 'b'" in note.message


# -- nodes --------------------------------------------------------------------------------------------------

def test_nameless_node_is_an_error_at_its_line():
    problem = only("""
        nodes:
          - name: a
          - language: lua
            run: return {}
        """, "MISSING_NODE_NAME")
    assert (problem.severity, problem.line, problem.col) == ("error", 3, 5)


def test_duplicate_node_points_at_the_second_and_names_the_first():
    problem = only("""
        nodes:
          - name: a
          - name: b
          - name: a
        """, "DUPLICATE_NODE")
    assert (problem.node, problem.line) == ("a", 4)
    assert "line 2" in problem.message


@pytest.mark.parametrize("reserved", ["__start__", "__end__"])
def test_reserved_names_cannot_name_a_node(reserved):
    problem = only(f"""
        nodes:
          - name: a
          - name: {reserved}
        """, "RESERVED_NODE_NAME")
    assert problem.line == 3 and problem.is_error


def test_empty_node_list_is_a_warning():
    problems = check("name: x\nnodes: []\n")
    assert [(p.code, p.severity, p.line) for p in problems] == [("EMPTY_WORKFLOW", "warning", 2)]


def test_actions_warn_and_an_incomplete_loop_is_an_error_at_its_key():
    problems = problems_of("""
        nodes:
          - name: ask
            uses: ltm.store
            with: {key: x}
          - name: repeat
            type: while_loop
            condition: "state.go"
            max_iterations: 0
            body:
              - {name: inner, language: javascript, run: "x;"}
        """)
    assert [(p.code, p.severity, p.node, p.line) for p in problems] == [
        ("UNKNOWN_ACTION", "warning", "ask", 3), ("INVALID_NODE_CONFIG", "error", "repeat", 8),
        ("NODE_TYPE_NOT_SUPPORTED", "warning", "repeat", 9)]
    assert "ltm.store" in problems[0].message and "max_iterations must be an integer from 1 to 1000" in problems[1].message
    assert "node 'repeat' body node 'inner': language 'javascript'" in problems[2].message


def test_interrupt_must_be_before_or_after():
    problem = only("""
        nodes:
          - name: a
            interrupt: sometimes
        """, "INVALID_INTERRUPT")
    assert problem.severity == "warning" and problem.node == "a"


# -- code ---------------------------------------------------------------------------------------------------

def test_lua_syntax_error_points_at_the_file_line_of_the_faulty_code_line():
    text = """
        nodes:
          - name: good
            language: lua
            run: |
              return { ok = true }
          - name: bad
            language: lua
            run: |
              if state.x then
                return { y = 1
              end
        """
    problem = only(text, "LUA_SYNTAX")
    assert problem.node == "bad" and problem.is_error
    assert "line 3" in problem.message and "'}' expected" in problem.message
    assert (problem.line, problem.col) == (11, 7)  # the `end` line of the file


def test_lua_syntax_error_in_a_run_table_points_at_the_code_line():
    problem = only("""
        nodes:
          - name: t
            run: {type: lua, code: "return {"}
        """, "LUA_SYNTAX")
    assert problem.line == 3


def test_lua_syntax_error_counts_lines_from_the_code_and_reads_state_as_vararg():
    assert lua_syntax_error("local state = ...\nreturn { n = state.n + 1 }") is None
    assert lua_syntax_error("return { n = state.n }") is None
    line, message = lua_syntax_error("local a = 1\nlocal b = \nreturn {}")
    assert line == 3 and "unexpected symbol" in message


def test_lua_code_is_compiled_never_run():
    start = time.perf_counter()
    assert lua_syntax_error("while true do end") is None
    assert lua_syntax_error('error("would fail if run")') is None
    assert time.perf_counter() - start < 1.0


def test_lua_marker_form_warns():
    problem = only("""
        nodes:
          - name: m
            run: |
              -- lua
              return { x = 1 }
        """, "LUA_MARKER_FORM")
    assert problem.severity == "warning" and "language: lua" in problem.message


def test_python_syntax_errors_are_found_but_templated_code_is_left_alone():
    problem = only("""
        nodes:
          - name: p
            run: |
              x = 1
              return {"x": x
        """, "PYTHON_SYNTAX")
    assert problem.node == "p" and problem.line in (4, 5)
    assert python_syntax_error('return {"a": 1}') is None  # a function body
    assert python_syntax_error("x = ${factor} * 2") is None  # only valid once rendered
    assert python_syntax_error("doubled = state['n'] * 2") is None
    assert python_syntax_error("def (") is not None


def test_run_code_that_is_lua_and_not_python_runs_as_lua_with_a_warning():
    """TEA's Rust engine runs every `run:` as Lua (its fixtures start with `-- Lua code`); code that shows TEA's
    signs of Lua, does not parse as Python and does parse as Lua is Lua here too, and the file says so once."""
    text = """
        nodes:
          - name: process
            run: |
              -- Lua code
              return { result = "processed: " .. (state.input or "none") }
          - name: python
            run: |
              return {"text": "a..b", "end": 1}
        """
    problem = only(text, "LUA_BY_SHAPE")
    assert problem.node == "process" and "language: lua" in problem.message
    workflow = load_workflow_text(textwrap.dedent(text))
    assert [n.kind for n in workflow.nodes] == ["lua", "python"]
    assert dump_workflow(workflow) == textwrap.dedent(text)  # written back as it was


def test_python_code_that_would_be_lua_says_how_to_run_it_as_lua():
    problem = only("""
        nodes:
          - name: p
            run: |
              print "hello"
        """, "PYTHON_SYNTAX")
    assert "not Python" in problem.message and "add 'language: lua'" in problem.message
    assert "Lua" not in only("""
        nodes:
          - name: p
            run: |
              return {"x": 1
        """, "PYTHON_SYNTAX").message


# -- routing ------------------------------------------------------------------------------------------------

def test_goto_to_an_unknown_node_points_at_the_rule():
    problem = only("""
        nodes:
          - name: a
            goto:
              - if: "state.x"
                to: nowhere
              - to: __end__
        """, "GOTO_UNDEFINED")
    assert (problem.node, problem.line, problem.col) == ("a", 4, 9)
    assert "nowhere" in problem.message


def test_plain_goto_to_start_is_undefined_but_goto_end_is_fine():
    assert only("""
        nodes:
          - name: a
            goto: __start__
        """, "GOTO_UNDEFINED").line == 3
    assert check("nodes:\n  - name: a\n    goto: __end__\n") == []


def test_duplicate_goto_targets_warn_and_unreachable_rules_warn():
    text = """
        nodes:
          - name: a
            goto:
              - if: "state.x == 1"
                to: b
              - if: "state.x == 2"
                to: b
              - to: __end__
              - to: c
          - name: b
          - name: c
        """
    duplicate = only(text, "DUPLICATE_GOTO_TARGET")
    assert (duplicate.severity, duplicate.line) == ("warning", 6)
    never = only(text, "GOTO_RULE_NEVER_TRIED")
    assert never.line == 9 and "'c'" in never.message


def test_edges_to_and_from_unknown_nodes():
    problems = check("""
        nodes:
          - name: a
        edges:
          - {from: ghost, to: a}
          - {from: a, to: nowhere}
          - {from: __end__, to: a}
          - {from: a, to: __start__}
          - {from: a, to: __end__}
        """)
    assert [(p.code, p.line) for p in problems if p.is_error] == [
        ("EDGE_FROM_UNDEFINED", 4), ("EDGE_TO_UNDEFINED", 5), ("EDGE_FROM_UNDEFINED", 6), ("EDGE_TO_UNDEFINED", 7)]


def test_conditions_are_parsed_with_the_edge_special_forms():
    text = """
        variables: {mode: strict}
        nodes:
          - name: a
            goto:
              - if: "state.n >"
                to: b
              - if: "{{ state.n > 2 }}"
                to: b
              - to: c
          - name: b
          - name: c
        edges:
          - {from: b, to: c, when: "!done"}
          - {from: b, to: c, when: done}
          - {from: b, to: c, when: "false"}
          - {from: b, to: c, condition: "state.n > 3", when: false}
          - {from: b, to: c, when: "{{ variables.mode == 'strict' }}"}
          - {from: b, to: c, condition: "state.a state.b"}
          - {from: b, to: c, when: "! not a key"}
          - {from: b, to: c, condition: "{{ state.n }"}
        """
    bad = found(text, "INVALID_CONDITION")
    assert [p.line for p in bad] == [5, 18, 19, 20]
    assert all(p.is_error for p in bad)
    assert "state.n >" in bad[0].message


def test_a_node_with_goto_ignores_its_sequential_edges():
    problem = only("""
        nodes:
          - name: a
            goto: b
          - name: b
        edges:
          - {from: a, to: b}
        """, "EDGE_IGNORED")
    assert problem.severity == "warning" and problem.line == 6


# -- parallel -----------------------------------------------------------------------------------------------

FORK = """
nodes:
  - name: split
  - name: left
  - name: right
  - name: merge
edges:
  - {from: split, to: left, type: parallel, fan_in: merge}
  - {from: split, to: right, type: parallel, fan_in: merge}
  - {from: left, to: merge}
  - {from: right, to: merge}
"""


def test_a_well_formed_fork_is_clean():
    assert check(FORK) == []
    assert check(FORK.replace("type: parallel", "parallel: true")) == []


def test_parallel_edge_fan_in_missing_or_unknown():
    problems = found("""
        nodes:
          - name: split
          - name: left
          - name: right
        edges:
          - {from: split, to: left, type: parallel, fan_in: join}
          - {from: split, to: right, type: parallel}
          - {from: left, to: __end__}
          - {from: right, to: __end__}
        """, "PARALLEL_FAN_IN_UNDEFINED")
    assert [(p.line, p.node) for p in problems] == [(6, "split"), (7, "split")]
    assert "join" in problems[0].message and "no fan_in" in problems[1].message


def test_fork_with_goto_is_an_error():
    problem = only(FORK.replace("  - name: split\n", "  - name: split\n    goto: merge\n"), "FORK_WITH_GOTO")
    assert (problem.node, problem.line, problem.col) == ("split", 3, 11)  # the goto line


def test_branches_of_one_fork_must_share_their_fan_in():
    text = FORK.replace("{from: split, to: right, type: parallel, fan_in: merge}",
                        "{from: split, to: right, type: parallel, fan_in: right}")
    assert only(text, "FAN_IN_MISMATCH").node == "split"


def test_parallel_branch_to_end_is_an_undefined_target():
    text = FORK.replace("{from: split, to: right, type: parallel, fan_in: merge}",
                        "{from: split, to: __end__, type: parallel, fan_in: merge}")
    assert "must start at a node" in only(text, "EDGE_TO_UNDEFINED").message


def test_branch_that_can_reach_end_without_its_fan_in_warns():
    text = FORK.replace("  - {from: right, to: merge}\n", "  - {from: right, to: merge, condition: \"state.ok\"}\n"
                        "  - {from: right, to: __end__}\n")
    problem = only(text, "BRANCH_NOT_JOINED")
    assert (problem.severity, problem.node, problem.line) == ("warning", "split", 8)
    assert "'right'" in problem.message and "'merge'" in problem.message


def test_nested_fork_inside_a_branch_is_joined():
    assert check("""
        nodes:
          - name: outer
          - name: a
          - name: inner
          - name: x
          - name: y
          - name: inner_join
          - name: b
          - name: join
        edges:
          - {from: outer, to: a, type: parallel, fan_in: join}
          - {from: outer, to: inner, type: parallel, fan_in: join}
          - {from: a, to: join}
          - {from: inner, to: [x, y], type: parallel, fan_in: inner_join}
          - {from: x, to: inner_join}
          - {from: y, to: inner_join}
          - {from: inner_join, to: b}
          - {from: b, to: join}
          - {from: join, to: __end__}
        """) == []


# -- reachability -------------------------------------------------------------------------------------------

def test_node_skipped_by_goto_is_unreachable():
    problem = only("""
        nodes:
          - name: a
            goto: c
          - name: b
          - name: c
        """, "UNREACHABLE_NODE")
    assert (problem.node, problem.severity, problem.line) == ("b", "warning", 4)


def test_start_edge_makes_the_first_node_unreachable():
    problem = only("""
        nodes:
          - name: first
          - name: real_entry
        edges:
          - {from: __start__, to: real_entry}
        """, "UNREACHABLE_NODE")
    assert problem.node == "first" and "real_entry" in problem.message


def test_a_loop_without_exit_warns_once_at_its_entry():
    problem = only("""
        nodes:
          - name: init
          - name: tick
            goto: tock
          - name: tock
            goto:
              - if: "state.n >= 0"
                to: tick
        """, "NO_PATH_TO_END")
    assert problem.node == "init" and problem.severity == "warning"


def test_conditional_edges_do_not_fall_through_to_the_next_node():
    problem = only("""
        nodes:
          - name: a
          - name: b
          - name: c
        edges:
          - {from: __start__, to: a}
          - {from: a, to: c, condition: "state.go"}
        """, "UNREACHABLE_NODE")
    assert problem.node == "b"


# -- settings -----------------------------------------------------------------------------------------------

def test_bad_settings_and_interrupt_names_warn():
    problems = check("""
        settings:
          max_iterations: 0
          lua: {timeout: fast}
          parallel: {strategy: remote}
        config:
          interrupt_before: [a, ghost]
        nodes:
          - name: a
        """)
    assert sorted(p.code for p in problems) == ["INTERRUPT_UNDEFINED", "INVALID_LIMIT", "INVALID_SETTING",
                                                "INVALID_SETTING"]
    assert all(p.severity == ("error" if p.code == "INVALID_LIMIT" else "warning") for p in problems)
    assert [(p.code, p.line, p.col) for p in problems] == [
        ("INVALID_SETTING", 2, 3), ("INVALID_LIMIT", 3, 9), ("INVALID_SETTING", 4, 14),
        ("INTERRUPT_UNDEFINED", 6, 3)]
    assert "ghost" in problems[-1].message


def test_error_handling_other_than_raise_is_named_at_its_key_never_ignored():
    problems = check("""
        settings:
          error_handling: {mode: graceful, max_retries: 2}
        nodes:
          - name: a
        """)
    assert [(p.code, p.severity, p.line) for p in problems] == [("INVALID_SETTING", "warning", 2)]
    assert "error_handling mode 'graceful' is not supported" in problems[0].message
    assert not check("settings:\n  error_handling: {mode: raise}\nnodes:\n  - name: a\n")


# -- the Problem record -------------------------------------------------------------------------------------

def test_problems_are_sorted_by_position_and_frozen():
    problems = check("""
        nodes:
          - name: a
            goto: missing
          - name: a
          - name: __end__
        edges:
          - {from: ghost, to: a}
        """)
    positions = [(p.line, p.col) for p in problems]
    assert positions == sorted(positions) and len(problems) >= 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        problems[0].line = 99


def test_problem_from_a_loader_error_keeps_code_and_position():
    with pytest.raises(WorkflowError) as caught:
        load_workflow_text("nodes:\n  - name: a\n    goto: [b\n", "x.yaml")
    problem = problem_from_error(caught.value)
    assert problem.code == "YAML_PARSE" and problem.is_error and problem.line >= 3
    assert problem.format("x.yaml").startswith(f"x.yaml:{problem.line}:{problem.col}: error [YAML_PARSE]: ")


def test_workflows_built_in_memory_validate_without_positions():
    workflow = Workflow(nodes=[
        Node("a", kind="lua", code="return {", code_form="language", goto=[GotoRule("b", "state.x")]),
        Node("b"),
    ], edges=[Edge("b", END)])
    problems = validate(workflow)
    assert [p.code for p in problems] == ["LUA_SYNTAX"]
    assert (problems[0].line, problems[0].col) == (0, 0)
    assert problems[0].format("new.yaml").startswith("new.yaml:1:1: error [LUA_SYNTAX]")


# -- speed and imports --------------------------------------------------------------------------------------

def big_workflow(count: int) -> Workflow:
    nodes = []
    for i in range(count):
        goto = [GotoRule(f"n{i + 1}", f"state.k < {i}"), GotoRule(END)] if i + 1 < count else END
        nodes.append(Node(f"n{i}", kind="lua", code=f"local v = state.v or 0\nreturn {{ v = v + {i} }}",
                          code_form="language", goto=goto))
    return Workflow(nodes=nodes)


def test_validating_2000_nodes_is_fast():
    workflow = big_workflow(2000)
    validate(workflow)  # warm imports
    expression_error.cache_clear()
    start = time.perf_counter()
    problems = validate(workflow)
    elapsed = time.perf_counter() - start
    assert problems_of(workflow) == [] and len(problems) <= 1
    assert elapsed < 1.0, f"validate took {elapsed:.2f} s"


def test_importing_validation_does_not_import_networkx():
    code = ("import sys, tea_studio.workflow.validation, tea_studio.workflow.layout, tea_studio.workflow.headless; "
            "print('networkx' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# -- robustness ---------------------------------------------------------------------------------------------

NAMES = ["a", "b", "c", "d", "", END, "__start__"]


def random_workflows():
    from hypothesis import strategies as st

    name = st.sampled_from(NAMES)
    rule = st.builds(GotoRule, to=name, condition=st.one_of(st.none(), st.sampled_from(["state.x", "x >", "{{ y }}"])))
    goto = st.one_of(st.none(), name, st.lists(rule, max_size=3))
    node = st.builds(Node, name=name, kind=st.sampled_from(["noop", "lua", "python"]),
                     code=st.sampled_from([None, "return {}", "return {", "x = (", ""]), goto=goto)
    edge = st.builds(Edge, source=name, target=st.one_of(name, st.lists(name, min_size=1, max_size=3)),
                     condition=st.sampled_from([None, "state.ok", "!k", "a b", True]),
                     parallel=st.booleans(), fan_in=st.one_of(st.none(), name))
    return st.builds(Workflow, nodes=st.lists(node, max_size=8), edges=st.lists(edge, max_size=8))


def test_validate_never_raises_on_odd_workflows():
    from hypothesis import given, settings

    @settings(max_examples=200, deadline=None)
    @given(random_workflows())
    def check_one(workflow):
        problems = validate(workflow)
        assert all(p.severity in ("error", "warning", "info") for p in problems)
        assert [(p.line, p.col) for p in problems] == sorted((p.line, p.col) for p in problems)
        names = [n.name for n in workflow.nodes]
        if "" in names:
            assert "MISSING_NODE_NAME" in {p.code for p in problems}
        plain = [n for n in names if n and n not in (START, END)]
        if len(set(plain)) < len(plain):
            assert "DUPLICATE_NODE" in {p.code for p in problems}

    check_one()


def test_odd_code_does_not_break_the_checks():
    assert python_syntax_error("x = 1\0") is not None
    assert lua_syntax_error("return '\0'") is None
    assert lua_syntax_error("") is None
    assert isinstance(expression_error("(" * 2000 + "1" + ")" * 2000), str | None)


# -- routes that mislead ------------------------------------------------------------------------------------

FALSE_FAN_OUT = """
nodes:
  - name: split
    goto: []
  - name: a
  - name: b
  - name: c
  - name: merge
    fan_in: true
edges:
  - {from: split, to: a}
  - {from: split, to: b}
  - {from: split, to: c}
  - {from: a, to: merge}
  - {from: b, to: merge}
  - {from: c, to: merge}
  - {from: merge, to: __end__}
""".replace("    goto: []\n", "")


def test_several_unconditional_routes_look_like_a_fork_and_warn():
    warnings = found(FALSE_FAN_OUT, "MULTIPLE_UNCONDITIONAL_ROUTES")
    assert [(p.node, p.severity) for p in warnings] == [("merge", "warning"), ("split", "warning")]  # file order
    merge, split = warnings
    assert split.line == 10 and "only the first, to 'a'" in split.message and "'b', 'c' never run" in split.message
    assert merge.line == 6 and "without a fork" in merge.message


def test_conditional_edges_and_real_forks_do_not_warn():
    assert not found("""
        nodes:
          - name: pick
          - name: a
          - name: b
        edges:
          - {from: pick, to: a, condition: "state.x"}
          - {from: pick, to: b}
          - {from: a, to: __end__}
          - {from: b, to: __end__}
        """, "MULTIPLE_UNCONDITIONAL_ROUTES")
    fork = FALSE_FAN_OUT.replace("to: a}", "to: a, type: parallel, fan_in: merge}").replace(
        "to: b}", "to: b, type: parallel, fan_in: merge}").replace("to: c}", "to: c, type: parallel, fan_in: merge}")
    assert problems_of(fork) == []


def test_a_fan_in_reached_only_through_its_fork_is_fine_even_in_a_loop():
    text = FALSE_FAN_OUT.replace("{from: merge, to: __end__}", "{from: merge, to: split, condition: 'state.again'}")
    text = text.replace("to: a}", "to: a, type: parallel, fan_in: merge}").replace(
        "to: b}", "to: b, type: parallel, fan_in: merge}").replace("to: c}", "to: c, type: parallel, fan_in: merge}")
    assert not found(text, "MULTIPLE_UNCONDITIONAL_ROUTES")


def test_implicit_chaining_is_noted_once_for_the_whole_file():
    notes = found("""
        nodes:
          - name: a
          - name: b
          - name: c
          - name: d
          - name: e
            goto: __end__
        """, "IMPLICIT_CHAINING")
    assert len(notes) == 1 and notes[0].severity == INFO and notes[0].node is None
    assert "4 nodes continue" in notes[0].message and "'a' -> 'b'" in notes[0].message
    assert not found("nodes:\n  - name: a\n    goto: b\n  - name: b\n", "IMPLICIT_CHAINING")  # last -> __end__


def test_the_cli_prints_notes_but_does_not_count_them_as_warnings(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(textwrap.dedent(LUA_CHAIN).lstrip("\n"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tea_studio", "validate", str(path)], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0
    note, summary = result.stdout.splitlines()
    assert note.startswith(f"{path}:2:5: info [IMPLICIT_CHAINING]: ")
    assert summary == f"OK: {path} (2 nodes, 0 edges)"
