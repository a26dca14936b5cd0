"""Fuzzing the parts that read untrusted input: the YAML loader, the validator, the planner and the conversion of
values between Python and Lua. No uncaught exception; every error is one located line."""

import json
import math

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tea_studio.engine.lua_vm import LuaNodeError, LuaVM
from tea_studio.engine.plan import PlanError, build_plan
from tea_studio.workflow.validation import validate
from tea_studio.workflow.yaml_io import WorkflowError, load_workflow_text

FAST = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

YAML_PIECES = ["name: w\n", "nodes:\n", "  - name: a\n", "    run: return {}\n", "    language: lua\n",
               "edges:\n", "  - {from: a, to: b}\n", "&x ", "*x", "<<: *x\n", "[", "]", "{", "}", "- ", ": ",
               "'", '"', "\t", "\n", "  ", "!!python/object:os.system ", "!!binary ", "? ", "|", ">", "#",
               "---\n", "...\n", "%YAML 1.1\n", "\x00", "\ufeff", "é", "\x1b[2J", "goto:\n", "    - if: x\n",
               "      to: a\n", "settings: {lua: {timeout: .nan}}\n", "1e999", "-.inf", "0x10", "~"]


@FAST
@given(st.lists(st.sampled_from(YAML_PIECES), max_size=30))
def test_the_loader_reads_anything_or_says_where_it_stops(pieces):
    text = "".join(pieces)
    try:
        load_workflow_text(text, "fuzz.yaml")
    except WorkflowError as exc:
        assert exc.line >= 0 and exc.col >= 0
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.yaml:")


names = st.sampled_from(["a", "b", "c", "__end__", "__start__", "", "x y", "é"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=5))
nodes = st.fixed_dictionaries(
    {"name": st.one_of(names, scalars)},
    optional={"run": st.one_of(st.sampled_from(["return {}", "return { x = 1 }", "x =", "while true do end"]),
                               scalars),
              "language": st.sampled_from(["lua", "python", "rust", None]),
              "goto": st.one_of(names, st.lists(st.fixed_dictionaries({"to": names}, optional={"if": scalars}),
                                               max_size=3)),
              "uses": st.sampled_from(["llm.call", None]),
              "type": st.sampled_from(["while_loop", "dynamic_parallel", "nope"])})
edges = st.fixed_dictionaries({"from": names, "to": st.one_of(names, st.lists(names, max_size=3))},
                              optional={"type": st.sampled_from(["parallel", "normal", None]),
                                        "fan_in": names, "when": scalars, "condition": scalars})
documents = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=5), scalars), "nodes": st.lists(nodes, max_size=5)},
    optional={"edges": st.lists(edges, max_size=6),
              "settings": st.fixed_dictionaries({}, optional={"lua": st.fixed_dictionaries(
                  {}, optional={"timeout": scalars, "max_memory_mb": scalars}),
                  "max_iterations": scalars, "parallel": st.fixed_dictionaries(
                      {}, optional={"strategy": st.sampled_from(["thread", "process", "ray"]),
                                    "max_workers": scalars})}),
              "initial_state": st.dictionaries(st.text(max_size=3), scalars, max_size=3)})


def _loaded(document):
    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        return load_workflow_text(text, "fuzz.yaml")
    except WorkflowError as exc:
        assert exc.line >= 0 and "\n" not in str(exc)
        return None


@FAST
@given(documents)
def test_the_validator_locates_every_finding(document):
    workflow = _loaded(document)
    if workflow is None:
        return
    for problem in validate(workflow):
        line = problem.format("fuzz.yaml")
        assert line.startswith("fuzz.yaml:") and "\n" not in line and problem.line >= 0


@FAST
@given(documents)
def test_the_planner_plans_or_refuses_with_one_error(document):
    workflow = _loaded(document)
    if workflow is None:
        return
    try:
        build_plan(workflow)
    except PlanError as exc:
        assert str(exc) and "\n" not in str(exc)


json_values = st.recursive(  # (None in a list makes a hole: such tables become dicts, see FORMAT.md §6)
    st.one_of(st.booleans(), st.integers(-(1 << 62), 1 << 62), st.floats(allow_nan=False,
              allow_infinity=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=4), inner,
                                                                           max_size=4)),
    max_leaves=20)
_VM = LuaVM().configure(5, 64)


def _expected(value):
    """What a value looks like after a round trip: integral floats are ints, empty lists are {}."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expected(item) for item in value] or {}
    return value


@FAST
@given(json_values)
def test_python_values_cross_into_lua_and_back(value):
    try:
        result = _VM.run_node("echo", "return { v = state.v }", {"v": value})
    except LuaNodeError as exc:
        assert "\n" not in exc.message
        return
    got = (result or {}).get("v")
    expected = _expected(value)
    assert got == expected, (value, got)
    json.dumps(result, allow_nan=False)


lua_atoms = st.sampled_from(["1", "-2", "1.5", "0/0", "1/0", "-1/0", "'s'", "'\\255'", "true", "false", "nil",
                             "{}", "print", "coroutine.create(print)", "math.maxinteger", "2^63", "'1'"])


@st.composite
def lua_tables(draw, depth=0):
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(["", "[1] = ", "[2] = ", "['1'] = ", "[true] = ", "['true'] = ", "x = ",
                                    "[1.5] = ", "[{}] = ", "['\\255'] = ", "[0/0 == 0/0 and 1 or 3] = "]))
        value = draw(lua_tables(depth + 1)) if depth < 3 and draw(st.booleans()) else draw(lua_atoms)
        entries.append(key + value)
    return "{" + ", ".join(entries) + "}"


@FAST
@given(lua_tables())
def test_lua_results_become_json_or_one_line_errors(table):
    try:
        result = _VM.run_node("fuzz" + str(abs(hash(table)) % 1000), "return " + table, {})
    except LuaNodeError as exc:
        assert exc.message and "\n" not in exc.message and "internal error" not in exc.message
        return
    text = json.dumps(result, allow_nan=False)
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in json.loads(text).values())
