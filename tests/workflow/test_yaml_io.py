"""Loading every TEA form, writing new files the FORMAT.md way, and the byte-faithful round trip with edits."""

from __future__ import annotations

import difflib
import os
import pathlib
import re
import stat

import pytest
import yaml
from support import CONFORMANCE, EXAMPLES

from tea_studio.workflow.model import (
    ACTION,
    DYNAMIC_PARALLEL,
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
from tea_studio.workflow.yaml_io import (
    WorkflowError,
    dump_workflow,
    export_text,
    fragment_from_text,
    fragment_to_text,
    load_workflow,
    load_workflow_text,
    node_to_yaml,
    save_workflow,
)

HERE = pathlib.Path(__file__).parent
STYLES = sorted((HERE / "styles").glob("*.yaml"))


def _parsable(paths):
    result = []
    for path in paths:
        try:
            load_workflow(path)
        except WorkflowError:
            continue
        result.append(path)
    return result


CONFORMANCE_FILES = _parsable(sorted(CONFORMANCE.glob("*.yaml"))) if CONFORMANCE.is_dir() else []
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []
ROUND_TRIP_FILES = CONFORMANCE_FILES + EXAMPLE_FILES + STYLES


def _id(path: pathlib.Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _raw(path: pathlib.Path) -> str:
    return path.read_bytes().decode("utf-8")


def _changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) between two texts, newline characters stripped."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# -- loading ---------------------------------------------------------------------------------------------------
ALL_FORMS = """\
name: forms
description: every node form
variables: {limit: 3}
state_schema: {n: int}
initial_state: {n: 0}
config: {raise_exceptions: true}
settings:
  lua: {timeout: 5}
owner: someone
nodes:
  - name: lua_language
    language: lua
    run: |
      return { a = 1 }
  - name: lua_table
    run: {type: lua, code: "return { b = 2 }"}
  - name: lua_marker
    run: |
      --lua
      return { c = 3 }
  - name: py_run
    run: c = 3
  - name: py_script
    script: |
      return {"d": 4}
  - name: py_language
    language: python
    run: e = 5
  - name: act
    uses: llm.call
    with: {model: small}
    output: reply
  - name: loop
    type: while_loop
    body: []
  - name: fan
    type: dynamic_parallel
  - name: collector
    fan_in: true
    interrupt: before
    retries: 2
    goto:
      - if: state.n > 1
        to: lua_language
        note: kept
      - to: __end__
  - name: jumper
    goto: collector
edges:
  - {from: __start__, to: lua_language}
  - from: act
    to: loop
    condition: state.ok
    when: false
  - from: loop
    to: [fan, collector]
    parallel: true
    fan_in: jumper
    parallel_strategy: process
  - from: fan
    to: jumper
    type: parallel
    fan_in: jumper
    extra_key: 1
x-tea-studio:
  positions: {lua_language: [10, 20.5]}
  viewport: {zoom: 2}
  backdrops: []
"""


def test_every_node_form_is_read():
    wf = load_workflow_text(ALL_FORMS)
    kinds = {node.name: (node.kind, node.code_form, node.code) for node in wf.nodes}
    assert kinds["lua_language"] == (LUA, FORM_LANGUAGE, "return { a = 1 }\n")
    assert kinds["lua_table"] == (LUA, FORM_RUN_TABLE, "return { b = 2 }")
    assert kinds["lua_marker"] == (LUA, FORM_MARKER, "--lua\nreturn { c = 3 }\n")
    assert kinds["py_run"] == (PYTHON, FORM_RUN, "c = 3")
    assert kinds["py_script"] == (PYTHON, FORM_SCRIPT, 'return {"d": 4}\n')
    assert kinds["py_language"] == (PYTHON, FORM_LANGUAGE, "e = 5")
    assert kinds["loop"][0] == WHILE_LOOP and kinds["fan"][0] == DYNAMIC_PARALLEL
    assert wf.node("loop").extra == {"body": []}
    act = wf.node("act")
    assert (act.kind, act.uses, act.with_args, act.output) == (ACTION, "llm.call", {"model": "small"}, "reply")
    collector = wf.node("collector")
    assert collector.kind == NOOP and collector.fan_in and collector.interrupt == "before"
    assert collector.extra == {"retries": 2}
    assert collector.goto == [GotoRule(to="lua_language", condition="state.n > 1", extra={"note": "kept"}),
                              GotoRule(to="__end__")]
    assert wf.node("jumper").goto == "collector"


def test_top_level_sections_edges_and_layout_are_read():
    wf = load_workflow_text(ALL_FORMS)
    assert (wf.name, wf.description, wf.variables) == ("forms", "every node form", {"limit": 3})
    assert wf.state_schema == {"n": "int"} and wf.initial_state == {"n": 0}
    assert wf.config == {"raise_exceptions": True} and wf.setting("lua", "timeout") == 5
    assert wf.extra == {"owner": "someone"}
    assert wf.edges[0] == Edge(source="__start__", target="lua_language")
    assert wf.edges[1] == Edge(source="act", target="loop", condition="state.ok", when=False)
    assert wf.edges[2] == Edge(source="loop", target=["fan", "collector"], parallel=True, parallel_form="flag",
                               fan_in="jumper", parallel_strategy="process")
    assert wf.edges[3] == Edge(source="fan", target="jumper", parallel=True, parallel_form="type", fan_in="jumper",
                               extra={"extra_key": 1})
    assert wf.layout == Layout(positions={"lua_language": (10, 20.5)}, viewport={"zoom": 2},
                               extra={"backdrops": []})


def test_items_carry_their_line_and_column():
    wf = load_workflow_text(ALL_FORMS)
    lines = ALL_FORMS.splitlines()
    for node in wf.nodes:
        assert lines[node.line - 1][node.col - 1:].startswith(f"name: {node.name}")
    assert (wf.edges[0].line, wf.edges[0].col) == (lines.index("  - {from: __start__, to: lua_language}") + 1, 5)
    assert lines[wf.edges[1].line - 1] == "  - from: act"
    rule = wf.node("collector").goto[0]
    assert lines[rule.line - 1].strip() == "- if: state.n > 1" and rule.col == 9


def test_yaml_11_words_and_quoting():
    wf = load_workflow_text('nodes:\n  - name: "yes"\n    goto: "on"\n  - name: "on"\n    flag: yes\n    other: off\n')
    assert wf.node_names == ["yes", "on"] and wf.node("yes").goto == "on"
    assert wf.node("on").extra == {"flag": True, "other": False}


def test_nameless_and_duplicate_nodes_load():
    wf = load_workflow_text("nodes:\n  - run: x = 1\n  - name: a\n  - name: a\n  - name:\n")
    assert wf.node_names == ["", "a", "a", ""]


def test_load_errors_carry_path_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nnodes:\n  - name: a\n    goto: 7\n", encoding="utf-8")
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    error = info.value
    assert (error.code, error.line, error.col) == ("INVALID_FIELD", 4, 11)
    assert str(error).startswith(f"{path}:4:11: ") and "goto" in str(error)


def test_unreadable_file_is_a_workflow_error(tmp_path):
    with pytest.raises(WorkflowError) as info:
        load_workflow(tmp_path / "missing.yaml")
    assert info.value.code == "FILE_READ" and info.value.line == 1
    with pytest.raises(WorkflowError) as info:
        load_workflow(tmp_path)
    assert info.value.code == "FILE_READ"


# -- writing a new workflow ------------------------------------------------------------------------------------
def _forked_workflow() -> Workflow:
    return Workflow(
        name="fresh", description="made in the studio",
        nodes=[
            Node("split", LUA, "return { base = 2 }\n", FORM_LANGUAGE),
            Node("yes", LUA, "return { part = 1 }\n", FORM_LANGUAGE),
            Node("123", LUA, "return { part = 2 }\n", FORM_LANGUAGE),
            Node("merge", LUA, "local n = 0\n\nfor _ in ipairs(state.parallel_results) do n = n + 1 end\n"
                 "return { n = n }", FORM_LANGUAGE, goto="null"),
            Node("null", PYTHON, "x = 1\n", FORM_LANGUAGE),
        ],
        edges=[
            Edge("split", "yes", parallel=True, fan_in="merge"),
            Edge("split", "123", parallel=True, fan_in="merge"),
            Edge("yes", "merge"),
            Edge("123", "merge"),
        ],
        layout=Layout(positions={"split": (0, 0), "yes": (200.04, -50.0), "123": (200, 50.25), "merge": (400, 0)}),
    )


NEW_FILE = """\
name: fresh
description: made in the studio
nodes:
  - name: split
    language: lua
    run: |
      return { base = 2 }
  - name: "yes"
    language: lua
    run: |
      return { part = 1 }
  - name: "123"
    language: lua
    run: |
      return { part = 2 }
  - name: merge
    language: lua
    run: |-
      local n = 0

      for _ in ipairs(state.parallel_results) do n = n + 1 end
      return { n = n }
    goto: "null"
  - name: "null"
    language: python
    run: |
      x = 1
edges:
  - from: split
    to: "yes"
    type: parallel
    fan_in: merge
  - from: split
    to: "123"
    type: parallel
    fan_in: merge
  - from: "yes"
    to: merge
  - from: "123"
    to: merge
x-tea-studio:
  positions:
    split: [0, 0]
    "yes": [200, -50]
    "123": [200, 50.2]
    merge: [400, 0]
"""


def test_new_workflow_is_written_the_format_way():
    wf = _forked_workflow()
    text = dump_workflow(wf)
    assert text == NEW_FILE
    back = load_workflow_text(text)
    assert back.nodes == wf.nodes and back.edges == wf.edges
    assert back.layout.positions["123"] == (200, 50.2)


def test_export_drops_the_studio_block():
    wf = _forked_workflow()
    exported = export_text(wf)
    assert exported == NEW_FILE.split("x-tea-studio:")[0]
    assert "x-tea-studio" not in yaml.safe_load(exported)


def test_export_of_a_loaded_file_removes_only_the_studio_block():
    text = "# head\nname: w\nx-tea-studio:\n  positions:\n    a: [0, 0]\nnodes:\n  - name: a\n"
    assert export_text(load_workflow_text(text)) == "# head\nname: w\nnodes:\n  - name: a\n"


# -- round trip ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_unchanged_file_saves_byte_for_byte(path, tmp_path):
    original = path.read_bytes()
    wf = load_workflow(path)
    assert dump_workflow(wf).encode("utf-8") == original
    target = tmp_path / path.name
    target.write_bytes(original)
    save_workflow(load_workflow(target), target)
    assert target.read_bytes() == original


def _rename(wf: Workflow, old: str, new: str) -> None:
    """What the studio's rename does to the model: every reference follows."""
    for node in wf.nodes:
        if node.name == old:
            node.name = new
        if node.goto == old:
            node.goto = new
        for rule in node.goto if isinstance(node.goto, list) else []:
            if rule.to == old:
                rule.to = new
    for edge in wf.edges:
        edge.source = new if edge.source == old else edge.source
        edge.target = [new if t == old else t for t in edge.target] if isinstance(edge.target, list) else (
            new if edge.target == old else edge.target)
        edge.fan_in = new if edge.fan_in == old else edge.fan_in
    wf.layout.positions = {new if k == old else k: v for k, v in wf.layout.positions.items()}


def _saved(wf: Workflow) -> tuple[str, Workflow]:
    text = dump_workflow(wf)
    back = load_workflow_text(text)
    assert back == wf, "the saved text does not load back to the edited model"
    return text, back


def _item_lines(text: str, wf: Workflow, index: int) -> list[str]:
    """The lines of node ``index`` in ``text`` (its dash line up to the next node or the end of the list)."""
    lines = text.splitlines()
    start = wf.nodes[index].line - 1
    if index + 1 < len(wf.nodes):
        end = wf.nodes[index + 1].line - 1
    else:
        root = yaml.compose(text)
        nodes_value = next(v for k, v in root.value if k.value == "nodes")
        end = nodes_value.end_mark.line if nodes_value.end_mark.column == 0 else nodes_value.end_mark.line + 1
        while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
    return lines[start:end]


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_rename_changes_only_the_lines_that_name_the_node(path):
    text = _raw(path)
    wf = load_workflow(path)
    old = next(node.name for node in wf.nodes[1:] if node.name and re.fullmatch(r"\w+", node.name))
    _rename(wf, old, "renamed_node")
    after, _ = _saved(wf)
    removed, added = _changes(text, after)
    assert removed and all(re.search(rf"\b{old}\b", line) for line in removed)
    assert added == [re.sub(rf"\b{old}\b", "renamed_node", line) for line in removed]


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_code_edit_adds_only_the_new_code_line(path):
    text = _raw(path)
    wf = load_workflow(path)
    node = next(n for n in wf.nodes if n.code and "\n" in n.code and n.code_form != FORM_RUN_TABLE)
    node.code = node.code.rstrip("\n") + "\n-- edited\n" + "\n" * (len(node.code) - len(node.code.rstrip("\n")) - 1)
    after, _ = _saved(wf)
    removed, added = _changes(text, after)
    assert removed == [] or removed == [line.rstrip("\n") for line in text.splitlines()[-1:]]  # no final newline
    assert [line.strip() for line in added if line.strip() != "-- edited"] == [r.strip() for r in removed]
    assert sum(line.strip() == "-- edited" for line in added) == 1


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_goto_rule_added_and_removed(path):
    text = _raw(path)
    wf = load_workflow(path)
    with_rules = [n for n in wf.nodes if isinstance(n.goto, list) and len(n.goto) > 1]
    if with_rules:
        node = with_rules[0]
        dropped = node.goto.pop(0)
        after, _ = _saved(wf)
        removed, added = _changes(text, after)
        assert added == [] and len(removed) == 2 and any(dropped.to in line for line in removed)
    node = next(n for n in wf.nodes if n.goto is None)
    node.goto = [GotoRule(to="target_x", condition="state.n > 2")]
    after, _ = _saved(wf)
    _, added = _changes(text, after)
    assert [line.strip() for line in added][-3:] == ["goto:", "- if: state.n > 2", "to: target_x"]


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_node_added_at_the_end_and_in_the_middle_keeps_the_list_style(path):
    text = _raw(path)
    wf = load_workflow(path)
    dash_line = text.splitlines()[wf.nodes[-1].line - 1]
    dash_prefix = dash_line[:wf.nodes[-1].col - 1]
    wf.nodes.append(Node("appended", LUA, "return { ok = true }\n", FORM_LANGUAGE))
    wf.nodes.insert(1, Node("on", NOOP, goto="appended"))
    after, back = _saved(wf)
    removed, added = _changes(text, after)
    assert removed in ([], [text.splitlines()[-1]])  # a file without a final newline gets one before the new node
    assert f"{dash_prefix}name: appended" in added and f"{dash_prefix}name: \"on\"" in added
    assert back.nodes[1].line < back.nodes[2].line and back.node_names[-1] == "appended"


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_node_removed_takes_exactly_its_lines(path):
    text = _raw(path)
    wf = load_workflow(path)
    index = len(wf.nodes) // 2
    expected = _item_lines(text, wf, index)
    del wf.nodes[index]
    after, _ = _saved(wf)
    removed, added = _changes(text, after)
    assert added == []
    own = [line for line in expected if line.strip() and not line.lstrip().startswith("#")]
    assert [line for line in removed if line.strip() and not line.lstrip().startswith("#")] == own


@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=_id)
def test_moving_a_node_changes_only_its_position(path):
    text = _raw(path)
    wf = load_workflow(path)
    name = wf.nodes[0].name
    had_positions = bool(wf.layout.positions)
    wf.layout.positions[name] = (123.5, -40)
    after, _ = _saved(wf)
    removed, added = _changes(text, after)
    if had_positions and name in load_workflow(path).layout.positions:
        assert len(removed) == 1 and len(added) == 1 and added[0].endswith(": [123.5, -40]")
    else:
        assert removed in ([], [text.splitlines()[-1]])
        assert added[-1].strip().endswith(": [123.5, -40]") and "x-tea-studio:" in "\n".join(added + [text])


def test_crlf_file_stays_crlf_after_edits():
    path = HERE / "styles" / "05-crlf.yaml"
    wf = load_workflow(path)
    wf.nodes[0].code = "return { a = 10 }\n"
    wf.nodes.append(Node("c", LUA, "return {}\n", FORM_LANGUAGE))
    after, _ = _saved(wf)
    assert "\n" not in after.replace("\r\n", "")
    removed, added = _changes(_raw(path), after)
    assert removed == ["      return { a = 1 }"] and added[0] == "      return { a = 10 }"


def test_renaming_inside_flow_edges_keeps_flow_style_and_comments():
    path = HERE / "styles" / "03-flow-edges-and-comments.yaml"
    wf = load_workflow(path)
    _rename(wf, "cold", "chilly")
    wf.edges[2].when = True
    after, _ = _saved(wf)
    assert "  - {from: intake, to: chilly, condition: \"state.temp > 30\", when: true}   # else branch" in after
    assert after.startswith("# Header comment: kept on save.\n\nname: flow-edges   # trailing comment on the name\n")
    assert after.endswith("# trailing comment at the end of the file\n")


def test_quoting_style_is_kept_when_a_value_changes():
    path = HERE / "styles" / "04-quoted-strings.yaml"
    wf = load_workflow(path)
    wf.nodes[0].goto = "on"
    wf.nodes[1].code = "result = 'py'"
    after, _ = _saved(wf)
    removed, added = _changes(_raw(path), after)
    assert added == ["    goto: 'on'", "    run: 'result = ''py'''"]


def test_workflow_fields_and_settings_edits():
    text = "name: w   # keep\nsettings:\n  lua:\n    timeout: 5   # seconds\nnodes:\n  - name: a\n"
    wf = load_workflow_text(text)
    wf.settings = {"lua": {"timeout": 9}, "parallel": {"max_workers": 2}}
    wf.description = "two\nlines"
    wf.variables = {"on": "yes"}
    after, back = _saved(wf)
    assert after == ("name: w   # keep\ndescription: |-\n  two\n  lines\nvariables:\n  \"on\": \"yes\"\nsettings:\n"
                     "  lua:\n    timeout: 9   # seconds\n  parallel:\n    max_workers: 2\nnodes:\n  - name: a\n")


def test_code_form_is_kept_or_upgraded():
    text = "nodes:\n  - name: m\n    run: |\n      -- lua\n      return {}\n  - name: t\n    run: {type: lua, code: x}\n"
    wf = load_workflow_text(text)
    wf.nodes[0].code = "return { marker = 'gone' }\n"  # without the marker line, `language: lua` keeps it Lua
    wf.nodes[1].code = "return 1"
    after = dump_workflow(wf)
    back = load_workflow_text(after)
    assert back.nodes[0].kind == LUA and back.nodes[0].code_form == FORM_LANGUAGE
    assert "    run: {type: lua, code: return 1}" in after.splitlines()


def test_removing_all_edges_and_nodes():
    text = "nodes:\n  - name: a\n  - name: b\nedges:\n  - from: a\n    to: b\nx-tea-studio: {positions: {a: [0, 0]}}\n"
    wf = load_workflow_text(text)
    wf.edges = []
    wf.nodes = []
    wf.layout = Layout()
    after, _ = _saved(wf)
    assert after == "nodes: []\n"


# -- saving to disk ------------------------------------------------------------------------------------------------
def test_save_is_atomic_keeps_mode_and_follows_up(tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text("nodes:\n  - name: a\n    language: lua\n    run: |\n      return {}\n", encoding="utf-8")
    os.chmod(path, 0o640)
    wf = load_workflow(path)
    wf.nodes[0].code = "return { x = 1 }\n"
    save_workflow(wf, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wf.yaml"]
    assert load_workflow(path) == wf
    wf.nodes.append(Node("b"))
    save_workflow(wf, path)  # diffs against the text saved just before
    assert path.read_text(encoding="utf-8").endswith("      return { x = 1 }\n  - name: b\n")
    assert wf.nodes[1].line == 6


def test_save_new_workflow_to_a_new_file(tmp_path):
    path = tmp_path / "new.yaml"
    wf = _forked_workflow()
    save_workflow(wf, path)
    assert path.read_text(encoding="utf-8") == NEW_FILE
    assert wf.path == str(path) and wf.nodes[1].line == 8


def test_save_into_a_missing_folder_is_a_workflow_error(tmp_path):
    with pytest.raises(WorkflowError) as info:
        save_workflow(_forked_workflow(), tmp_path / "nope" / "wf.yaml")
    assert info.value.code == "FILE_WRITE"


# -- clipboard fragments -------------------------------------------------------------------------------------------
def test_fragment_round_trip():
    wf = _forked_workflow()
    nodes, edges = wf.nodes[1:4], wf.edges[2:]
    text = fragment_to_text(nodes, edges, {"yes": (1, 2)})
    assert fragment_from_text(text) == (nodes, edges, {"yes": (1, 2)})


def test_fragment_accepts_tea_node_lists_and_single_nodes():
    nodes, edges, positions = fragment_from_text("- name: a\n  language: lua\n  run: |\n    return {}\n- name: b\n")
    assert [n.name for n in nodes] == ["a", "b"] and nodes[0].code == "return {}\n" and not edges
    nodes, _, _ = fragment_from_text("name: solo\nrun: x = 1\n")
    assert nodes == [Node("solo", PYTHON, "x = 1", FORM_RUN)]
    assert node_to_yaml(nodes[0]) == "name: solo\nrun: x = 1\n"


@pytest.mark.parametrize("text", ["", "nodes: [", "- 1\n- 2\n", "just text", "nodes:\n  - goto: 5\n"])
def test_bad_fragment_is_a_workflow_error(text):
    with pytest.raises(WorkflowError):
        fragment_from_text(text)


def test_byte_order_mark_is_kept():
    text = "\ufeffname: x\nnodes:\n  - name: a\n    goto: b\n"
    wf = load_workflow_text(text)
    assert dump_workflow(wf) == text
    wf.nodes[0].goto = "c"
    assert dump_workflow(wf) == text.replace("goto: b", "goto: c")


def test_edits_next_to_aliases_still_load_back_equal():
    text = "name: x\nnodes:\n  - name: a\n    goto: &target b\n  - name: b\n    goto: *target\n"
    for index in (0, 1):
        wf = load_workflow_text(text)
        wf.nodes[index].goto = "c"
        _saved(wf)
