"""Random workflows survive dump -> load, both written fresh and spliced into a loaded file."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tea_studio.workflow.model import (
    ACTION,
    FORM_LANGUAGE,
    FORM_MARKER,
    FORM_RUN,
    FORM_RUN_TABLE,
    FORM_SCRIPT,
    LUA,
    NOOP,
    PYTHON,
    WHILE_LOOP,
    Edge,
    GotoRule,
    Layout,
    Node,
    Workflow,
)
from tea_studio.workflow.yaml_io import code_form, dump_workflow, load_workflow_text

TRICKY_NAMES = ["yes", "no", "on", "off", "true", "False", "null", "~", "123", "1.5", "0x1F", "", "a b", "x: y",
                "#hash", "- dash", "é", "[x]", "{y}", "'q'", '"d"', "__end__", "a,b", "*star", "&amp", "!bang",
                "%pct", "@at", "`tick`", "2024-01-01", ".inf", "<<", "=", "?q", "|pipe", ">gt", " lead", "trail "]
names = st.one_of(st.sampled_from(TRICKY_NAMES),
                  st.text(alphabet="abcxyz_019 :-#'\"é", min_size=1, max_size=8))
CODE_LINES = ["return { x = 1 }", "", "   ", "  indented", "local a = 1   ", "\ttabbed", "x = 'y'", "# hash",
              "a: b", '"q"', "-- comment", "end", "    deeper", "}", "|", "- item", "...", "---"]
code = st.builds(lambda lines, tail: "\n".join(lines) + "\n" * tail,
                 st.lists(st.sampled_from(CODE_LINES), min_size=1, max_size=6), st.integers(0, 3))
expressions = st.one_of(st.none(), st.sampled_from(["state.n > 1", "!done", "yes", "state['k'] == 'v'",
                                                    "{{ state.x }}", "1", "a: b", "#x", ""]))


@st.composite
def nodes(draw, all_names):
    name = draw(st.sampled_from(all_names))
    kind = draw(st.sampled_from([LUA, PYTHON, ACTION, NOOP, WHILE_LOOP]))
    node = Node(name=name, kind=kind)
    if kind == LUA:
        node.code_form = draw(st.sampled_from([FORM_LANGUAGE, FORM_RUN_TABLE, FORM_MARKER]))
        node.code = draw(code)
        if node.code_form == FORM_MARKER:
            node.code = "-- lua\n" + node.code
    elif kind == PYTHON:
        node.code_form = draw(st.sampled_from([FORM_LANGUAGE, FORM_RUN_TABLE, FORM_RUN, FORM_SCRIPT]))
        node.code = draw(code)
        if node.code.lstrip().startswith("--"):
            node.code = "x = 0\n" + node.code
        node.code_form = code_form(node)  # the form it is saved in (Lua-looking code gets `language: python`)
    elif kind == ACTION:
        node.uses = draw(st.sampled_from(["llm.call", "http.get"]))
        node.with_args = draw(st.one_of(st.none(), st.dictionaries(names, st.one_of(names, st.integers()),
                                                                   max_size=3)))
        node.output = draw(st.one_of(st.none(), names))
    if draw(st.booleans()):
        node.goto = draw(st.one_of(
            st.sampled_from(all_names),
            st.lists(st.builds(GotoRule, to=st.sampled_from(all_names), condition=expressions), max_size=3)))
    node.fan_in = draw(st.booleans())
    node.interrupt = draw(st.sampled_from([None, "before", "after"]))
    if draw(st.booleans()):
        node.extra = draw(st.dictionaries(st.sampled_from(["retries", "note", "on"]),
                                          st.one_of(names, st.integers(), st.booleans()), max_size=2))
    return node


@st.composite
def edges(draw, all_names):
    target = draw(st.one_of(st.sampled_from(all_names), st.lists(st.sampled_from(all_names), max_size=3)))
    if draw(st.booleans()):
        return Edge(source=draw(st.sampled_from(all_names)), target=target, parallel=True,
                    parallel_form=draw(st.sampled_from(["type", "flag"])),
                    fan_in=draw(st.one_of(st.none(), st.sampled_from(all_names))),
                    parallel_strategy=draw(st.sampled_from([None, "thread", "process"])))
    return Edge(source=draw(st.sampled_from(all_names + ["__start__"])),
                target=draw(st.sampled_from(all_names + ["__end__"])),
                condition=draw(expressions), when=draw(st.one_of(st.none(), st.booleans(), expressions)))


coordinates = st.one_of(st.integers(-5000, 5000), st.integers(-50000, 50000).map(lambda v: v / 10))


@st.composite
def workflows(draw):
    all_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    wf = Workflow(
        nodes=draw(st.lists(nodes(all_names), max_size=6)),
        edges=draw(st.lists(edges(all_names), max_size=5)),
        name=draw(st.one_of(st.none(), names)),
        description=draw(st.one_of(st.none(), code)),
        variables=draw(st.one_of(st.none(), st.dictionaries(names, st.one_of(names, st.integers()), max_size=3))),
        settings=draw(st.one_of(st.none(), st.just({"lua": {"timeout": 5}}))),
    )
    if draw(st.booleans()):
        wf.layout = Layout(positions=draw(st.dictionaries(st.sampled_from(all_names),
                                                          st.tuples(coordinates, coordinates), max_size=6)))
    return wf


SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(workflows())
def test_new_workflow_dumps_and_loads_back_equal(wf):
    assert load_workflow_text(dump_workflow(wf)) == wf


@SETTINGS
@given(workflows(), workflows())
def test_edits_spliced_into_a_loaded_file_load_back_equal(first, second):
    loaded = load_workflow_text(dump_workflow(first))
    for field in ("nodes", "edges", "name", "description", "variables", "settings", "layout"):
        setattr(loaded, field, getattr(second, field))
    assert load_workflow_text(dump_workflow(loaded)) == second


@SETTINGS
@given(workflows(), st.data())
def test_small_edits_spliced_into_a_loaded_file_load_back_equal(wf, data):
    loaded = load_workflow_text(dump_workflow(wf))
    edited = loaded.clone()
    if edited.nodes:
        index = data.draw(st.integers(0, len(edited.nodes) - 1))
        replacement = data.draw(nodes([n.name for n in edited.nodes] + ["fresh"]))
        choice = data.draw(st.sampled_from(["replace", "remove", "insert", "code", "goto"]))
        if choice == "replace":
            edited.nodes[index] = replacement
        elif choice == "remove":
            del edited.nodes[index]
        elif choice == "insert":
            edited.nodes.insert(index, replacement)
        elif choice == "code" and edited.nodes[index].kind in (LUA, PYTHON):
            node = edited.nodes[index]
            node.code = data.draw(code)
            if node.code_form == FORM_MARKER:
                node.code = "-- lua\n" + node.code
            elif node.kind == PYTHON and node.code.lstrip().startswith("--"):
                node.code = "x = 0\n" + node.code
            if node.kind == PYTHON:
                node.code_form = code_form(node)
        elif choice == "code":
            pass
        else:
            edited.nodes[index].goto = replacement.goto
    if edited.edges and data.draw(st.booleans()):
        edited.edges.pop(data.draw(st.integers(0, len(edited.edges) - 1)))
    assert load_workflow_text(dump_workflow(edited)) == edited


def test_python_code_that_reads_as_lua_is_saved_with_its_language():
    """A Python node whose code is not Python but is Lua (e.g. a half-typed edit) keeps its kind: it is written
    with `language: python`, as a plain `run:` would load back as a Lua node."""
    wf = Workflow(nodes=[Node(name="p", kind=PYTHON, code="local x = { a = 1 }\nreturn x\n", code_form=FORM_RUN)])
    assert load_workflow_text(dump_workflow(wf)).nodes[0].kind == PYTHON
