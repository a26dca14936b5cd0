"""a2a.*: agents that are real workflow runs on threads of this process, talking through the process's broker. Each
test uses its own namespace (the broker lives as long as the process). The conformance-style cases
(cases/NN-a2a-*.yaml) run with the folder's other cases in test_actions_llm.py."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from engine_helpers import run, workflow

from tea_studio.engine.actions.a2a import BROKER, parse_duration
from tea_studio.engine.actions.context import ActionError
from tea_studio.engine.events import ListSink, NodeFinished, NodeStarted
from tea_studio.engine.runner import RunControl, RunError, WorkflowRun
from tea_studio.workflow.action_schemas import UNSUPPORTED_REASONS, action_schema


class WatchSink(ListSink):
    """A ListSink that says (through an Event) when a given node has started."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node, self.started = node, threading.Event()

    def emit(self, event) -> None:
        super().emit(event)
        if isinstance(event, NodeStarted) and event.node == self.node:
            self.started.set()


class Agent:
    """One workflow run on its own thread."""

    def __init__(self, text: str, inputs=None, watch: str = "") -> None:
        self.control, self.sink, self.outcome = RunControl(), WatchSink(watch), {}
        self.thread = threading.Thread(target=self._work, args=(text, inputs), daemon=True)

    def _work(self, text: str, inputs) -> None:
        try:
            self.outcome["state"] = WorkflowRun(workflow(text), inputs, sink=self.sink, control=self.control).run()
        except RunError as exc:
            self.outcome["error"] = exc

    def start(self) -> Agent:
        self.thread.start()
        return self

    def result(self, seconds: float = 10) -> dict:
        self.thread.join(seconds)
        assert not self.thread.is_alive(), "the run did not end"
        assert "error" not in self.outcome, self.outcome.get("error")
        return self.outcome["state"]


def space() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def node_ms(sink: ListSink, node: str) -> float:
    return next(e.timing_ms for e in sink.of_type(NodeFinished) if e.node == node)


COORDINATOR = """
settings:
  a2a: {{enabled: true, agent_id: coordinator, namespace: {ns}}}
nodes:
  - name: register
    uses: a2a.register
    with: {{capabilities: [coordinate], agent_type: coordinator}}
  - name: gather
    uses: a2a.receive
    with: {{from_agents: ["worker-1"], type: task_result, timeout: 30s}}
    output: got
"""

WORKER = """
settings:
  a2a: {{enabled: true, agent_id: "worker-{{{{ state.worker_id }}}}", namespace: {ns}}}
nodes:
  - name: register
    uses: a2a.register
    with: {{capabilities: [search], agent_type: worker}}
  - name: report
    uses: a2a.send
    with:
      to: coordinator
      message: {{type: task_result, payload: {{answer: "{{{{ state.worker_id * 7 }}}}"}}}}
      confirm: true
"""


def test_a_waiting_receive_wakes_when_another_run_sends():
    ns = space()
    coordinator = Agent(COORDINATOR.format(ns=ns), watch="gather").start()
    assert coordinator.sink.started.wait(10)
    began = time.monotonic()
    worker = Agent(WORKER.format(ns=ns), {"worker_id": 1}).start()
    assert worker.result()["a2a_message_id"].startswith("msg_")
    state = coordinator.result()
    assert time.monotonic() - began < 5  # woken by the message, not by the 30 s timeout
    [message] = state["got"]["a2a_messages"]
    assert {k: message[k] for k in ("from_agent", "to_agent", "namespace", "type", "payload", "correlation_id")} == {
        "from_agent": "worker-1", "to_agent": "coordinator", "namespace": ns, "type": "task_result",
        "payload": {"answer": 7}, "correlation_id": None}
    assert isinstance(message["timestamp"], float) and "a2a_timeout" not in state["got"]


def test_a_message_sent_before_the_receiver_waits_is_kept_and_taken_once():
    ns = space()
    Agent(WORKER.format(ns=ns), {"worker_id": 1}).start().result()
    first = Agent(COORDINATOR.format(ns=ns).replace("30s", "0s")).start().result()
    again = Agent(COORDINATOR.format(ns=ns).replace("30s", "0s")).start().result()
    assert len(first["got"]["a2a_messages"]) == 1
    assert again["got"] == {"a2a_messages": []}  # a look without waiting: no timeout flag


def test_require_all_waits_for_every_sender_and_takes_nothing_until_then():
    ns = space()
    gather = COORDINATOR.format(ns=ns).replace('from_agents: ["worker-1"]', 'from_agents: ["worker-1", "worker-2"]')
    Agent(WORKER.format(ns=ns), {"worker_id": 1}).start().result()
    short = Agent(gather.replace("timeout: 30s", "timeout: 0.05, require_all: true")).start().result()
    assert short["got"] == {"a2a_messages": [], "a2a_timeout": True,
                            "a2a_error": "Timeout waiting for messages from [worker-2]"}
    waiting = Agent(gather.replace("timeout: 30s", "timeout: 30s, require_all: true"), watch="gather").start()
    assert waiting.sink.started.wait(10)
    Agent(WORKER.format(ns=ns), {"worker_id": 2}).start().result()
    got = waiting.result()["got"]["a2a_messages"]
    assert sorted(m["from_agent"] for m in got) == ["worker-1", "worker-2"]


SPECIALIST = """
settings:
  a2a: {{agent_id: specialist, namespace: {ns}}}
nodes:
  - name: register
    uses: a2a.register
    with: {{capabilities: [search]}}
  - name: wait_for_task
    uses: a2a.receive
    with: {{type: web_search, timeout: 30s}}
    output: task
  - name: answer
    uses: a2a.send
    with:
      to: "{{{{ state.task.a2a_messages[0].from_agent }}}}"
      correlation_id: "{{{{ state.task.a2a_messages[0].correlation_id }}}}"
      message: {{type: search_result, payload: {{results: ["about {{{{ state.task.a2a_messages[0].payload.query }}}}"]}}}}
"""

DELEGATOR = """
settings:
  a2a: {{agent_id: researcher, namespace: {ns}}}
nodes:
  - name: delegate
    uses: a2a.delegate
    with:
      to: specialist
      task: {{type: web_search, query: fusion}}
      timeout: {timeout}
      on_timeout: {on_timeout}
      fallback: {{action: return, with: {{local: "{{{{ state.query }}}}"}}}}
"""


def test_delegate_gets_the_answer_carrying_its_correlation_id():
    ns = space()
    specialist = Agent(SPECIALIST.format(ns=ns), watch="wait_for_task").start()
    assert specialist.sink.started.wait(10)
    state = Agent(DELEGATOR.format(ns=ns, timeout="30s", on_timeout="raise")).start().result()
    specialist.result()
    assert state["a2a_delegation_result"] == {"results": ["about fusion"]}
    assert state["a2a_delegation_success"] is True and "a2a_delegation_fallback" not in state


def test_delegate_timeouts_follow_on_timeout_and_withdraw_the_unread_task():
    ns = space()

    def text(strategy: str) -> str:
        return DELEGATOR.format(ns=ns, timeout="0.05s", on_timeout=strategy)

    fallback = run(text("fallback_local"), {"query": "q"})[0]
    assert fallback["a2a_delegation_result"] == {"local": "q"}
    assert fallback["a2a_delegation_success"] is False and fallback["a2a_delegation_fallback"] is True
    raised = run(text("raise"))[0]
    assert raised["a2a_delegation_timeout"] is True and raised["a2a_delegation_result"] is None
    assert raised["a2a_error"] == "Delegation to specialist timed out after 0.05s"
    assert run(text("retry"))[0]["a2a_should_retry"] is True
    assert not BROKER._mail.get((ns, "specialist"))  # nobody will answer a task nobody read


def test_stop_ends_a_60_second_receive_within_a_second_and_the_wait_is_the_nodes_time():
    ns = space()
    waiting = Agent(COORDINATOR.format(ns=ns).replace("30s", "60s"), watch="gather").start()
    assert waiting.sink.started.wait(10)
    began = time.monotonic()
    waiting.control.stop()
    waiting.thread.join(5)
    assert not waiting.thread.is_alive() and time.monotonic() - began < 1.0
    assert str(waiting.outcome["error"]) == "stopped"
    timed = run(COORDINATOR.format(ns=space()).replace("30s", "0.2s"))[1]
    assert node_ms(timed, "gather") >= 200


def test_shared_state_is_per_namespace_and_versions_guard_concurrent_writers():
    ns, other = space(), space()
    flow = """
settings: {{a2a: {{agent_id: a, namespace: {ns}}}}}
nodes:
  - {{name: read, uses: a2a.state.get, with: {{key: progress, default: {{done: 0}}}}, output: before}}
  - name: write
    uses: a2a.state.set
    with: {{key: progress, value: {{done: "{{{{ state.before.a2a_shared_state.done + 1 }}}}"}},
           expected_version: "{{{{ state.before.a2a_state_version }}}}"}}
    output: wrote
"""
    first = run(flow.format(ns=ns))[0]
    assert first["before"] == {"a2a_shared_state": {"done": 0}, "a2a_state_version": 0}
    assert first["wrote"] == {"a2a_state_version": 1, "a2a_state_updated": True}
    assert run(flow.format(ns=ns))[0]["wrote"] == {"a2a_state_version": 2, "a2a_state_updated": True}
    assert run(flow.format(ns=other))[0]["wrote"]["a2a_state_version"] == 1  # namespaces are apart
    assert BROKER.get(ns, "progress", None) == ({"done": 2}, 2)


def test_namespaces_do_not_see_each_others_agents_or_messages():
    ns, other = space(), space()
    Agent(WORKER.format(ns=ns), {"worker_id": 1}).start().result()
    state = Agent(COORDINATOR.format(ns=other).replace("30s", "0s")).start().result()
    assert state["got"] == {"a2a_messages": []}
    assert [a.agent_id for a in BROKER.discover(other)] == ["coordinator"]
    assert [a.agent_id for a in BROKER.discover(ns)] == ["worker-1"]


def test_heartbeat_unregister_and_the_default_identity():
    ns = space()
    flow = f"""
settings: {{a2a: {{namespace: {ns}}}}}
nodes:
  - {{name: beat_early, uses: a2a.heartbeat, output: early}}
  - {{name: register, uses: a2a.register, with: {{agent_id: solo, agent_type: tool}}}}
  - {{name: beat, uses: a2a.heartbeat, output: beat}}
  - {{name: leave, uses: a2a.unregister}}
  - {{name: look, uses: a2a.discover, output: left}}
"""
    state = run(flow)[0]
    assert state["early"] == {"a2a_heartbeat": None, "a2a_error": "Agent not registered"}
    assert state["_agent_id"] == "solo" and state["a2a_agent_info"]["agent_type"] == "tool"
    assert state["beat"]["a2a_status"] == "active" and isinstance(state["beat"]["a2a_heartbeat"], float)
    assert state["a2a_unregistered"] is True and state["left"] == {"a2a_agents": []}


@pytest.mark.parametrize(("text", "seconds"), [(2, 2.0), (0.5, 0.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0),
                                               ("250ms", 0.25), (" 7 ", 7.0), (-3, 0.0)])
def test_durations_read_as_tea_writes_them(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_a_located_error():
    with pytest.raises(ActionError, match="timeout 'soon' is not a duration"):
        parse_duration("soon")
    with pytest.raises(RunError, match="not a duration"):
        run(COORDINATOR.format(ns=space()).replace("30s", "soon"))


def test_only_delegate_needs_trust_and_none_is_unavailable():
    names = ("a2a.send", "a2a.receive", "a2a.broadcast", "a2a.delegate", "a2a.state.get", "a2a.state.set",
             "a2a.discover", "a2a.register", "a2a.unregister", "a2a.heartbeat")
    assert [n for n in names if action_schema(n).requires_trust] == ["a2a.delegate"]
    assert not [n for n in names if n in UNSUPPORTED_REASONS]
