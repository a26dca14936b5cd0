"""The action registry: `uses:` and `action:` run the same registered code, `with:` is rendered as TEA renders it,
`output:` stores the result, validation knows each schema, and a package adds actions through an entry point."""

from __future__ import annotations

import json
import pathlib
import shutil
import textwrap

import pytest
from engine_helpers import run, workflow

from tea_studio.cli import main
from tea_studio.engine.actions import ActionContext, ActionError, run_action
from tea_studio.engine.runner import RunError
from tea_studio.workflow.action_schemas import CATALOG, action_names, action_schema
from tea_studio.workflow.validation import validate

EXAMPLE_PLUGIN = pathlib.Path(__file__).parent / "example_plugin"


def test_uses_and_action_spellings_run_the_same_action_and_store_output():
    state, _ = run("""
        variables: {greeting: Hi}
        nodes:
          - name: a
            uses: state.set
            with: {text: "{{ variables.greeting }} {{ state.who }}", copy: "{{ state.items }}"}
          - name: b
            action: template
            params: {template: "{{ state.text }}!"}
            output: shout
          - name: c
            action: core.return
            with: {done: true}
        """, {"who": "Ann", "items": [1, 2]})
    assert state == {"who": "Ann", "items": [1, 2], "text": "Hi Ann", "copy": [1, 2], "shout": "Hi Ann!",
                     "done": True}


def test_a_non_mapping_result_without_output_lands_in_result():
    state, _ = run("""
        nodes:
          - name: calc
            uses: lua.eval
            with: {code: "return state.n * 3"}
        """, {"n": 5})
    assert state == {"n": 5, "result": 15}


def test_lua_eval_runs_in_a_fresh_sandbox_and_reports_its_line():
    state, _ = run("""
        nodes:
          - name: set
            language: lua
            run: |
              shared_global = 41
              return {}
          - name: look
            uses: lua.eval
            with: {code: "return shared_global == nil and type(io) == 'nil'"}
            output: fresh
        """)
    assert state == {"fresh": True}
    with pytest.raises(RunError) as info:
        run("nodes:\n  - {name: bad, uses: lua.eval, with: {code: \"local x = nil\\nreturn x.y\"}}\n")
    assert info.value.node == "bad" and "lua.eval line 2" in str(info.value)


def test_unknown_action_warns_in_validation_and_fails_the_run_at_its_node():
    text = "nodes:\n  - name: first\n    language: lua\n    run: return {a = 1}\n  - name: mem\n    action: graph.query\n"
    problems = [p for p in validate(workflow(text)) if p.severity != "info"]
    assert [(p.code, p.severity, p.node, p.line) for p in problems] == [("UNKNOWN_ACTION", "warning", "mem", 6)]
    with pytest.raises(RunError) as info:
        run(text)
    assert info.value.node == "mem"
    assert str(info.value) == ("node 'mem': action 'graph.query' is not available in TEA Studio; export and run "
                               "with tea")


def test_missing_and_mistyped_parameters_are_errors_at_their_keys(tmp_path, capsys):
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent("""\
        nodes:
          - name: fetch
            uses: http.get
            with:
              headers: {accept: json}
          - name: save
            uses: file.write
            with:
              path: out.txt
              content: "{{ state.text }}"
          - name: merge
            uses: schema.merge
            with:
              schemas: "not a list"
        """), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if " info [" not in line]
    assert lines[0] == (f"{path}:4:5: error [ACTION_PARAMETER]: node 'fetch': action 'http.get' needs parameter "
                        "'url' (string)")
    assert lines[1] == (f"{path}:14:7: error [ACTION_PARAMETER]: node 'merge': action 'schema.merge': parameter "
                        "'schemas' must be an array, not a string")
    assert lines[2].startswith("FAIL:")


def test_run_action_checks_rendered_parameters():
    with pytest.raises(ActionError, match="parameter 'template' must be a string, not an integer"):
        run_action("template", {"template": "{{ state.n }}"}, {"n": 3})
    with pytest.raises(ActionError, match="needs parameter 'code'"):
        run_action("lua.eval", {}, {})
    assert run_action("template", {"template": "{{ state.n + 1 }} items"}, {"n": 3}) == "4 items"


def test_every_builtin_declares_its_parameters_and_trust():
    names = action_names()
    for name in ("llm.call", "llm.chat", "llm.stream", "llm.embed", "http.get", "http.post", "file.read",
                 "file.write", "retry.loop", "reflection.loop", "schema.merge", "state.set", "return", "template",
                 "lua.eval"):
        assert name in names
    assert action_schema("core.return").name == "return" and action_schema("template.render").name == "template"
    trusted = {name for name in names if action_schema(name).requires_trust}
    assert {"llm.call", "http.get", "file.read", "file.write"} <= trusted
    assert not trusted & {"state.set", "return", "template", "lua.eval", "schema.merge"}


@pytest.fixture
def greeter_installed(tmp_path, monkeypatch):
    """The example package installed as pip would: its module and a dist-info with the entry point, on sys.path."""
    shutil.copytree(EXAMPLE_PLUGIN / "tea_greeter", tmp_path / "tea_greeter")
    info = tmp_path / "tea_greeter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tea-greeter\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[tea_studio.actions]\ngreeter = tea_greeter:ACTIONS\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    CATALOG.reload()
    yield
    CATALOG.reload()


def test_a_package_adds_an_action_through_the_entry_point_group(greeter_installed, tmp_path, capsys):
    flow = tmp_path / "greet.yaml"
    flow.write_text("nodes:\n  - name: hello\n    uses: greet.hello\n    with: {name: \"{{ state.who }}\"}\n",
                    encoding="utf-8")
    assert "greet.hello" in action_names()
    assert main(["run", str(flow), "--input", '{"who": "Ada"}']) == 0
    assert json.loads(capsys.readouterr().out) == {"who": "Ada", "greeting": "Hello, Ada!", "node": "hello"}
    flow.write_text("nodes:\n  - name: hello\n    uses: greet.hello\n", encoding="utf-8")
    assert main(["validate", str(flow)]) == 1
    assert "action 'greet.hello' needs parameter 'name' (string)" in capsys.readouterr().out


def test_a_broken_plugin_is_reported_not_fatal(tmp_path, monkeypatch):
    info = tmp_path / "broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[tea_studio.actions]\nbroken = no_such_module:X\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    CATALOG.reload()
    try:
        assert action_schema("no.such") is None
        assert any("action plugin 'broken'" in error and "ModuleNotFoundError" in error
                   for error in CATALOG.plugin_errors)
    finally:
        CATALOG.reload()


def test_retry_loop_runs_the_correction_node_until_valid():
    state, _ = run("""
        nodes:
          - name: check
            uses: retry.loop
            with:
              validate: lua.eval
              validate_args:
                code: "return { valid = (state.value or 0) >= 3, errors = { { message = 'too small' } } }"
              correct: bump
              max_retries: 5
            goto: __end__
          - name: bump
            language: lua
            run: return { value = (state.value or 0) + 1 }
        """, {"value": 1})
    assert state["value"] == 3 and state["valid"] is True
    assert state["_retry_count"] == 2 and state["_retry_exhausted"] is False and state["_retry_errors"] == []


def test_retry_loop_exhausted_keeps_the_last_errors():
    state, _ = run("""
        nodes:
          - name: check
            uses: retry.loop
            with:
              validate: lua.eval
              validate_args: {code: "return { valid = false, errors = { 'never' } }"}
              correct: noop
              max_retries: 2
            goto: __end__
          - name: noop
        """)
    assert state["_retry_exhausted"] is True and state["_retry_count"] == 2 and state["_retry_errors"] == ["never"]


def test_action_context_resolves_paths_from_the_workflow_folder(tmp_path):
    context = ActionContext(workflow_dir=str(tmp_path))
    assert context.resolve_path("data/x.txt") == str(tmp_path / "data" / "x.txt")
    assert context.resolve_path("/abs/y") == "/abs/y"
    assert context.resolve_path(f"file://{tmp_path}/z") == f"{tmp_path}/z"


def test_session_memory_is_shared_by_runs_and_namespaced():
    """memory.md 'Session Memory Actions': a process-global store; namespaces keep keys apart."""
    run("""
        nodes:
          - {name: keep, uses: memory.store, with: {key: user, value: "{{ state.name }}", namespace: s1}, output: kept}
        """, {"name": "Ada"})
    state, _ = run("""
        nodes:
          - {name: mine, uses: memory.retrieve, with: {key: user, namespace: s1}, output: mine}
          - {name: other, uses: memory.retrieve, with: {key: user, namespace: s2, default: Guest}, output: other}
        """)
    assert state["mine"] == {"value": "Ada", "found": True, "key": "user"}
    assert state["other"] == {"value": "Guest", "found": False, "key": "user"}
