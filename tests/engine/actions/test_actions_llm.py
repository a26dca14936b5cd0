"""LLM, HTTP and shell actions against real parts: the test OpenAI-compatible server on 127.0.0.1 and real
executable scripts standing in for CLI agents."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import sys
import textwrap
import threading
import time

import pytest
from engine_helpers import run, workflow
from support import case_files, case_slug, check_run_case, load_case

from tea_studio.cli import main
from tea_studio.engine.events import ListSink, LlmToken, NodeFinished, RunFailed
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun

ASK = """
nodes:
  - name: ask
    uses: {action}
    with:
      {params}
      messages:
        - role: system
          content: You are terse.
        - role: user
          content: "{{{{ state.question }}}}"
    output: answer
"""


def ask(action: str, params: str, question: str = "why is the sky blue", **kwargs):
    return run(ASK.format(action=action, params=params), {"question": question}, **kwargs)


def test_llm_call_uses_ollama_from_the_environment_as_tea_documents(llm_server, monkeypatch):
    monkeypatch.setenv("OLLAMA_API_BASE", llm_server.url + "/v1")
    state, sink = ask("llm.call", "model: echo")
    assert state["answer"] == {"content": "echo: why is the sky blue",
                               "usage": {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}}
    request = llm_server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["messages"][1] == {"role": "user", "content": "why is the sky blue"}
    assert request["body"]["temperature"] == 0.7 and "stream" not in request["body"]
    assert [e.text for e in sink.of_type(LlmToken)] == ["echo: why is the sky blue"]


def test_openai_and_azure_requests_carry_their_keys(llm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    ask("llm.call", f"model: echo\n      api_base: {llm_server.url}/v1")
    assert llm_server.requests[-1]["headers"]["Authorization"] == "Bearer sk-test"
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", llm_server.url)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "echo")
    state, _ = ask("llm.call", "model: gpt-4")  # auto: the Azure variables pick azure
    request = llm_server.requests[-1]
    assert request["path"] == "/openai/deployments/echo/chat/completions?api-version=2024-02-15-preview"
    assert request["headers"]["api-key"] == "az-key"
    assert state["answer"]["content"] == "echo: why is the sky blue"


def test_llm_stream_reports_each_delta_as_a_token_event(llm_server):
    state, sink = ask("llm.stream", f"model: echo\n      provider: openai\n      api_base: {llm_server.url}/v1")
    tokens = [e.text for e in sink.of_type(LlmToken)]
    assert tokens == ["echo:", " why", " is", " the", " sky", " blue"]
    assert all(e.node == "ask" for e in sink.of_type(LlmToken))
    assert state["answer"] == {"content": "echo: why is the sky blue", "streamed": True, "chunk_count": 6,
                               "usage": {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}}
    assert llm_server.requests[-1]["body"]["stream"] is True


def test_stream_flag_prints_tokens_as_ndjson(llm_server, tmp_path, capsys):
    flow = tmp_path / "stream.yaml"
    flow.write_text(ASK.format(action="llm.stream", params=f"model: echo\n      api_base: {llm_server.url}/v1\n"
                                                           "      provider: ollama"), encoding="utf-8")
    assert main(["run", str(flow), "--stream", "--input", '{"question": "hi there"}']) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    tokens = [e for e in events if e["type"] == "llm_token"]
    assert [t["text"] for t in tokens] == ["echo:", " hi", " there"] and tokens[0]["node"] == "ask"
    kinds = [e["type"] for e in events]
    assert kinds.index("node_started") < kinds.index("llm_token") < kinds.index("node_finished")


@pytest.mark.parametrize(("model", "params", "message"), [
    ("fail-500", "", "HTTP 500 Internal Server Error: {\"error\": {\"message\": \"the model is on fire\""),
    ("slow", "\n      timeout: 0.3", "no answer within 0.3 s (ReadTimeout)"),
])
def test_server_errors_fail_the_node_in_one_line(llm_server, model, params, message):
    with pytest.raises(RunError) as info:
        ask("llm.call", f"model: {model}\n      provider: openai\n      api_base: {llm_server.url}/v1{params}")
    assert info.value.node == "ask" and message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_stream_cut_mid_answer_fails_and_keeps_the_tokens_seen(llm_server):
    sink = ListSink()
    with pytest.raises(RunError, match=r"the stream ended before the answer was complete \(2 chunks received"):
        ask("llm.stream", f"model: cut\n      provider: openai\n      api_base: {llm_server.url}/v1", sink=sink)
    assert [e.text for e in sink.of_type(LlmToken)] == ["echo:", " why"]
    failed = sink.of_type(NodeFinished)[-1]
    assert failed.node == "ask" and not failed.ok


def test_llm_chat_defaults_the_model_from_settings(llm_server):
    state, _ = run(f"""
        settings: {{llm: {{model: echo}}}}
        nodes:
          - name: chat
            uses: llm.chat
            with:
              provider: openai
              api_base: {llm_server.url}/v1
              messages: [{{role: user, content: ping}}]
        """)
    assert state == {"content": "echo: ping", "model": "echo", "tokens_used": 5}


def test_llm_embed_on_ollama_native_and_openai_routes(llm_server):
    state, _ = run(f"""
        nodes:
          - name: local
            uses: llm.embed
            with: {{provider: ollama, api_base: "{llm_server.url}/v1", model: nomic, text: "{{{{ state.doc }}}}"}}
            output: local
          - name: remote
            uses: llm.embed
            with: {{provider: openai, api_base: "{llm_server.url}/v1", text: [ab, cde]}}
            output: remote
        """, {"doc": "hello"})
    assert state["local"] == {"embedding": [5.0, 2.0, 1.0], "dimensions": 3, "model": "nomic"}
    assert state["remote"] == {"embeddings": [[2.0, 1.0, 1.0], [3.0, 1.0, 1.0]], "dimensions": 3,
                               "model": "text-embedding-3-small"}
    assert [r["path"] for r in llm_server.requests] == ["/api/embed", "/v1/embeddings"]


def test_http_get_and_post(llm_server):
    state, _ = run(f"""
        variables: {{base: "{llm_server.url}"}}
        nodes:
          - name: fetch
            uses: http.get
            with: {{url: "{{{{ variables.base }}}}/json", headers: {{Authorization: "Bearer {{{{ state.token }}}}"}}}}
            output: fetched
          - name: words
            uses: http.get
            with: {{url: "{{{{ variables.base }}}}/text"}}
            output: words
          - name: submit
            uses: http.post
            with: {{url: "{{{{ variables.base }}}}/echo", json: {{items: "{{{{ state.fetched['items'] }}}}"}}}}
            output: posted
        """, {"token": "t0"})
    assert state["fetched"] == {"items": [1, 2, 3], "auth": "Bearer t0"}
    assert state["words"] == "plain words"
    assert state["posted"] == {"received": {"items": [1, 2, 3]}}
    with pytest.raises(RunError, match=r"node 'bad': GET .*/status/500: HTTP 500 Internal Server Error"):
        run(f"nodes:\n  - {{name: bad, uses: http.get, with: {{url: '{llm_server.url}/status/500'}}}}\n")


def _run_in_thread(text: str, inputs=None):
    """Start a run on a thread; returns (thread, control, sink, outcome)."""
    control = RunControl()
    sink = ListSink()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["state"] = WorkflowRun(workflow(text), inputs, sink=sink, control=control).run()
        except RunError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, control, sink, outcome


def test_stop_aborts_a_waiting_http_request_within_a_second(llm_server):
    text = ASK.format(action="llm.call", params=f"model: slow\n      provider: openai\n"
                                                f"      api_base: {llm_server.url}/v1")
    thread, control, sink, outcome = _run_in_thread(text, {"question": "q"})
    assert llm_server.received.wait(10)
    began = time.monotonic()
    control.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 1.0
    assert str(outcome["error"]) == "stopped"
    assert sink.of_type(RunFailed)[-1].error == "stopped"


# -- shell providers: real executables reading stdin -----------------------------------------------------------------
def script(folder, name: str, body: str) -> str:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


SHELL_FLOW = """
settings:
  llm:
    shell_providers:
      {providers}
nodes:
  - name: ask
    uses: {action}
    with:
      provider: shell
      shell_provider: {name}
      messages:
        - {{role: system, content: Be brief.}}
        - {{role: user, content: "{{{{ state.question }}}}"}}
    output: answer
"""


def shell_run(tmp_path, providers: str, name: str, action: str = "llm.call", **kwargs):
    text = SHELL_FLOW.format(providers=providers, name=name, action=action)
    return run(text, {"question": "what is TEA"}, **kwargs)


ECHO_STDIN = """
    import sys
    text = sys.stdin.read()
    print("first line", flush=True)
    print("got: " + text.replace("\\n", "|"), flush=True)
"""


def test_shell_provider_pipes_the_messages_and_streams_lines(tmp_path, monkeypatch):
    agent = script(tmp_path, "agent", ECHO_STDIN)
    monkeypatch.setenv("AGENT_DIR", str(tmp_path))
    sink = ListSink()
    state, _ = shell_run(tmp_path, "mine: {command: '${AGENT_DIR}/agent', args: [], timeout: 10}", "mine", sink=sink)
    assert agent.endswith("agent")
    assert state["answer"] == {"content": "first line\ngot: System: Be brief.||what is TEA", "usage": {},
                               "provider": "shell", "shell_provider": "mine"}
    assert [e.text for e in sink.of_type(LlmToken)] == ["first line\n", "got: System: Be brief.||what is TEA\n"]


def test_shell_provider_file_mode_and_prompt_argument(tmp_path):
    script(tmp_path, "reader", """
        import sys
        with open(sys.argv[2], encoding="utf-8") as stream:
            print(sys.argv[1] + ":" + stream.read().replace("\\n", "|"))
    """)
    script(tmp_path, "argv", "import sys\nprint('arg=' + sys.argv[1].replace('\\n', '|'))\n")
    providers = (f"reader: {{command: {tmp_path}/reader, args: [--in, '{{input_file}}'], stdin_mode: file}}\n"
                 f"      argv: {{command: {tmp_path}/argv, args: ['{{prompt}}']}}")
    state, _ = shell_run(tmp_path, providers, "reader")
    assert state["answer"]["content"] == "--in:System: Be brief.||what is TEA"
    state, _ = shell_run(tmp_path, providers, "argv", action="llm.stream")
    assert state["answer"]["content"] == "arg=System: Be brief.||what is TEA"
    assert state["answer"]["streamed"] is True and state["answer"]["chunk_count"] == 1


def test_preconfigured_claude_is_found_on_the_path(tmp_path, monkeypatch):
    script(tmp_path, "claude", "import sys\nprint(' '.join(sys.argv[1:]) + ' <- ' + sys.stdin.read()[:8])\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    state, _ = shell_run(tmp_path, "{}", "claude")
    assert state["answer"]["content"] == "-p <- System:"


def test_shell_failures_are_results_as_in_tea(tmp_path):
    script(tmp_path, "broken", "import sys\nsys.stderr.write('quota exceeded')\nsys.exit(3)\n")
    script(tmp_path, "sleepy", "import time\ntime.sleep(30)\n")
    providers = (f"broken: {{command: {tmp_path}/broken}}\n      missing: {{command: {tmp_path}/nothing-here}}\n"
                 f"      sleepy: {{command: {tmp_path}/sleepy, timeout: 0.5}}")
    assert shell_run(tmp_path, providers, "broken")[0]["answer"] == {
        "error": "Shell command failed (exit 3): quota exceeded", "success": False}
    assert shell_run(tmp_path, providers, "missing")[0]["answer"] == {
        "error": f"Shell command not found: {tmp_path}/nothing-here", "success": False}
    assert shell_run(tmp_path, providers, "sleepy")[0]["answer"] == {
        "error": "Shell command timed out after 0.5s", "success": False}
    assert shell_run(tmp_path, providers, "unknown")[0]["answer"]["error"].startswith(
        "Shell provider 'unknown' not configured")


def test_stop_kills_a_running_cli_agent_within_a_second(tmp_path):
    script(tmp_path, "talker", "import sys, time\nprint('thinking', flush=True)\ntime.sleep(30)\n")
    text = SHELL_FLOW.format(providers=f"talker: {{command: {tmp_path}/talker}}", name="talker", action="llm.call")
    thread, control, sink, outcome = _run_in_thread(text, {"question": "q"})
    deadline = time.monotonic() + 10
    while not sink.of_type(LlmToken) and time.monotonic() < deadline:
        thread.join(0.01)  # the token event says the agent is running
    assert sink.of_type(LlmToken)
    began = time.monotonic()
    control.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 1.0
    assert str(outcome["error"]) == "stopped"


# -- conformance-style cases that need the server ----------------------------------------------------------------
CASES = pathlib.Path(__file__).parent / "cases"


@pytest.mark.parametrize("path", case_files(CASES, "run"), ids=case_slug)
def test_server_case(path, llm_server, monkeypatch, capsys):
    case, flow = load_case(path)
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, value.replace("${LLM_SERVER}", llm_server.url))
    inputs = json.loads(json.dumps(case.get("input", {})).replace("${LLM_SERVER}", llm_server.url))
    began = time.monotonic()
    code = main(["run", flow, "--input", json.dumps(inputs)])
    out, err = capsys.readouterr()
    check_run_case(case, code, out, err, time.monotonic() - began)
    assert "Traceback" not in err and "internal error" not in err
    assert case["checks"] and "deviation" in case and "tea_parity" in case
