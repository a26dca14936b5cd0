"""Actions built on the model (TEA's reason.*, plan.*, agent.*, validate.extraction, and llm.*'s short forms),
run against the test OpenAI-compatible server on 127.0.0.1: each test scripts what the model answers and checks
the result shapes TEA documents and the requests the model received."""

from __future__ import annotations

import json

import pytest
from engine_helpers import run, workflow

from tea_studio.engine.events import LogLine
from tea_studio.engine.runner import RunError
from tea_studio.workflow.validation import validate


@pytest.fixture
def model(llm_server, monkeypatch):
    """The server as TEA's default OpenAI endpoint (OPENAI_BASE_URL); tests give it `model: script` answers."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.url + "/v1")
    return llm_server


def bodies(server) -> list[dict]:
    return [r["body"] for r in server.requests if r["path"].endswith("/chat/completions")]


# -- llm.* short forms (upstream rust/tea-wasm-llm/tests/fixtures/simple-workflow.yaml, examples/llm/local-chat.yaml)
def test_llm_call_takes_prompt_and_system_and_defaults_the_model(model):
    state, _ = run("""
        nodes:
          - name: gen
            action: llm.call
            with:
              prompt: Say hello
              system: You are terse.
              max_tokens: 10
            output: think
        """)
    assert state["think"]["content"] == "echo: Say hello"
    body = bodies(model)[-1]
    assert body["model"] == "gpt-3.5-turbo"
    assert body["messages"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}]


def test_llm_chat_in_the_rust_spelling_uses_settings_llm_model(model):
    state, _ = run("""
        settings:
          llm: {provider: openai, default_model: echo}
        nodes:
          - name: chat
            action: llm.chat
            params:
              prompt: "{{ state.question }}"
              system: Be brief.
            output: reply
        """, {"question": "2+2?"})
    assert state["reply"]["content"] == "echo: 2+2?" and state["reply"]["model"] == "echo"
    assert bodies(model)[-1]["model"] == "echo"


def test_an_llm_node_without_messages_or_prompt_is_a_validation_error():
    problems = validate(workflow("nodes:\n  - name: chat\n    uses: llm.chat\n    with: {model: echo}\n"))
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.code, p.line) for p in errors] == [("ACTION_PARAMETER", 4)]
    assert "needs parameter 'messages' or 'prompt'" in errors[0].message


# -- reason.* (upstream examples/yaml/cot-problem-solving.yaml, react-research-agent.yaml, self-correcting-code-gen)
def test_reason_cot_reads_the_json_answer_and_keeps_a_trace(model):
    model.script = ['Here you go:\n```json\n{"thinking": "0.15 * 80 = 12", "answer": "12"}\n```']
    state, _ = run("""
        nodes:
          - name: solve
            uses: reason.cot
            with:
              problem: "{{ state.problem }}"
              model: script
              thinking_format: "{{ state.missing_format }}"
              few_shot_examples:
                - {problem: "What is 10% of 50?", thinking: "0.1 * 50", answer: "5"}
            output: solution
        """, {"problem": "What is 15% of 80?"})
    solution = state["solution"]
    assert (solution["thinking"], solution["answer"]) == ("0.15 * 80 = 12", "12")
    assert solution["reasoning_answer"] == "12" and solution["thinking_format"] == "step_by_step"
    assert [step["step"] for step in solution["reasoning_trace"]] == ["cot_request", "cot_response"]
    system, user = bodies(model)[-1]["messages"]
    assert "What is 10% of 50?" in system["content"] and user["content"] == "Problem: What is 15% of 80?"


def test_a_failing_model_is_a_reasoning_result_and_a_warning_as_in_tea(model):
    state, sink = run("""
        nodes:
          - {name: solve, uses: reason.cot, with: {problem: x, model: fail-500}, output: solution}
        """)
    assert state["solution"]["success"] is False
    assert "Chain-of-thought reasoning failed" in state["solution"]["error"]
    assert any(e.level == "warning" and "500" in e.text for e in sink.of_type(LogLine))


def test_reason_react_runs_the_tools_it_is_given_and_stops_at_the_final_answer(model):
    model.script = [
        json.dumps({"thought": "compute", "action": "lua.eval", "action_input": {"code": "return 6 * 7"}}),
        json.dumps({"thought": "look", "action": "web.search", "action_input": {"query": "x"}}),
        json.dumps({"thought": "done", "action": "final_answer", "action_input": {"answer": "42"}}),
    ]
    state, _ = run("""
        nodes:
          - name: research
            uses: reason.react
            with: {goal: "What is 6 times 7?", model: script, tools: [lua.eval], max_steps: 5}
            output: result
        """)
    result = state["result"]
    assert result["final_answer"] == "42" and result["total_steps"] == 3
    assert [s["observation"] for s in result["steps"]] == [
        "42", "Unknown action: web.search. Available: ['lua.eval']", "Goal achieved."]
    last = bodies(model)[-1]["messages"]
    assert last[-1] == {"role": "user", "content": "Observation: Unknown action: web.search. Available: ['lua.eval']"}


def test_reason_react_reports_max_steps_without_an_answer(model):
    model.script = [json.dumps({"thought": "again", "action": "nothing", "action_input": {}})]
    state, _ = run("nodes:\n  - {name: r, uses: reason.react, with: {goal: g, model: script, max_steps: 2}}\n")
    assert state["final_answer"] is None and state["total_steps"] == 2
    assert state["warning"] == "Max steps (2) reached without achieving goal"


def test_reason_self_correct_gives_the_critic_the_draft_as_output(model):
    model.script = [json.dumps({"output": "def add(a, b): return a - b", "confidence": 0.4}),
                    json.dumps({"issues": ["subtracts"], "suggestions": ["add"],
                                "improved_output": "def add(a, b): return a + b", "improvement_score": 0.9})]
    state, _ = run("""
        nodes:
          - name: code
            uses: reason.self_correct
            with:
              task: write add
              model: script
              improvement_rounds: "{{ variables.rounds }}"
              critic_prompt: "Review this code: {{ output }}"
            output: code_result
        variables: {rounds: 1}
        """)
    result = state["code_result"]
    assert result["output"] == "def add(a, b): return a + b" and result["rounds_completed"] == 1
    assert [h["type"] for h in result["improvement_history"]] == ["initial", "improvement"]
    assert "Review this code: def add(a, b): return a - b" in bodies(model)[-1]["messages"][0]["content"]


def test_reason_decompose_answers_each_sub_problem_then_synthesizes(model):
    model.script = [json.dumps({"sub_problems": [{"id": 1, "description": "a"}, {"id": 2, "description": "b",
                                                                                 "dependencies": [1]}]}),
                    json.dumps({"answer": "A"}), json.dumps({"answer": "B"}),
                    json.dumps({"reasoning": "joined", "final_answer": "A+B"})]
    state, _ = run("nodes:\n  - {name: d, uses: reason.decompose, with: {problem: p, model: script}, output: s}\n")
    assert [a["answer"] for a in state["s"]["sub_answers"]] == ["A", "B"]
    assert state["s"]["final_answer"] == "A+B" and state["s"]["synthesis_reasoning"] == "joined"


def test_dspy_cot_falls_back_to_reason_cot_as_tea_documents(model):
    model.script = [json.dumps({"thinking": "t", "answer": "10"})]
    state, _ = run("""
        settings: {dspy: {model: script}}
        nodes:
          - name: solve
            action: reason.dspy.cot
            with:
              problem: "What is 20% of 50?"
              few_shot_examples: [{question: "1+1?", thinking: "two", answer: "2"}]
            output: r
        """)
    assert state["r"]["answer"] == "10" and state["r"]["dspy_module"] == "native_fallback"
    assert "Problem: 1+1?" in bodies(model)[-1]["messages"][0]["content"]


# -- plan.* (upstream examples/planning/multi-step-task.yaml) -----------------------------------------------------
PLAN = """
nodes:
  - name: decompose
    action: plan.decompose
    with:
      goal: "{{ state.task }}"
      planner:
        model: script
        prompt_template: "Plan this: {{ goal }}"
    output: plan
  - name: execute
    action: plan.execute
    with:
      plan: "{{ state.plan }}"
      parallel: true
      max_concurrent: 4
      on_subtask_failure: skip
      subtask_executor:
        action: llm.call
        with:
          model: "{{ 'fail-500' if subtask.id == 'broken' else 'echo' }}"
          prompt: "{{ state.task }} / {{ subtask.description }}"
    output: results
  - name: status
    action: plan.status
    with: {plan: "{{ state.results.plan }}", include_details: true, include_completed: false}
    output: status
"""


def test_a_plan_runs_its_subtasks_in_dependency_order(model):
    model.script = [json.dumps({"subtasks": [
        {"id": "outline", "description": "outline", "dependencies": []},
        {"id": "research", "description": "research", "dependencies": []},
        {"id": "broken", "description": "fails", "dependencies": []},
        {"id": "draft", "description": "draft", "dependencies": ["outline", "research"]},
        {"id": "polish", "description": "polish", "dependencies": ["broken"]}]})]
    state, _ = run(PLAN, {"task": "blog post"})
    assert bodies(model)[0]["messages"][-1]["content"] == "Plan this: blog post"
    assert state["plan"]["success"] is True and state["plan"]["subtask_count"] == 5
    results = state["results"]
    assert results["subtask_results"] == {"outline": "echo: blog post / outline",
                                          "research": "echo: blog post / research",
                                          "draft": "echo: blog post / draft"}
    assert results["plan_status"] == {"total": 5, "pending": 0, "in_progress": 0, "completed": 3, "failed": 0,
                                      "skipped": 2}
    assert state["status"]["progress"] == 0.6
    assert [t["id"] for t in state["status"]["subtasks"]] == ["broken", "polish"]
    prompts = [b["messages"][-1]["content"] for b in bodies(model)[1:]]
    assert prompts.index("blog post / draft") > max(prompts.index("blog post / outline"),
                                                    prompts.index("blog post / research"))


def test_a_plan_with_a_cycle_is_refused(model):
    model.script = [json.dumps({"subtasks": [{"id": "a", "dependencies": ["b"]}, {"id": "b", "dependencies": ["a"]}]})]
    state, _ = run("nodes:\n  - {name: d, action: plan.decompose, with: {goal: g, model: script}}\n")
    assert state["success"] is False and "Cycle detected: a -> b -> a" in state["error"]


# -- agent.* (upstream examples/multi-agent/*.yaml) -----------------------------------------------------------------
AGENTS = """
settings:
  llm: {model: echo, temperature: 0.3}
  agents:
    researcher: {system_prompt: You research.}
    writer: {system_prompt: You write., temperature: 0.9}
    broken: {model: fail-500, retry: {max_attempts: 1}}
"""


def test_agent_dispatch_uses_the_agent_settings(model):
    state, _ = run(AGENTS + "nodes:\n  - {name: r, action: agent.dispatch, params: {agent: researcher, "
                            "task: 'Research {{ state.topic }}'}, output: research}\n", {"topic": "tea"})
    assert state["research"]["response"] == "echo: Research tea" and state["research"]["success"] is True
    body = bodies(model)[-1]
    assert body["model"] == "echo" and body["temperature"] == 0.3
    assert body["messages"][0] == {"role": "system", "content": "You research."}


def test_agent_parallel_votes_and_collects(model):
    state, _ = run(AGENTS + """
nodes:
  - {name: v, action: agent.parallel, params: {agents: [researcher, writer], task: same, aggregation: vote},
     output: vote}
  - {name: c, action: agent.parallel, params: {agents: [researcher, broken, nobody], task: t}, output: all}
""")
    assert state["vote"]["result"] == "echo: same" and state["vote"]["unanimous"] is True
    assert state["all"]["responses"][0] == "echo: t" and state["all"]["count"] == 2
    assert state["all"]["agents_called"] == ["researcher", "broken"]


def test_agent_sequential_feeds_each_answer_to_the_next(model):
    state, _ = run(AGENTS + """
nodes:
  - name: chain
    action: agent.sequential
    params: {agents: [researcher, writer], task: "{{ previous_response or state.topic }}!"}
    output: chain
""", {"topic": "tea"})
    assert [c["response"] for c in state["chain"]["chain"]] == ["echo: tea!", "echo: echo: tea!!"]
    assert state["chain"]["result"] == "echo: echo: tea!!" and state["chain"]["sequential_result"] == "echo: echo: tea!!"


def test_agent_coordinate_splits_checks_and_returns_the_leader_result(model):
    model.script = ['["design it", "build it"]', "design done", "build done",
                    json.dumps({"valid": True, "result": "shipped"})]
    state, _ = run("""
settings:
  agents: {lead: {model: script, retry: {max_attempts: 1}}, a: {model: script}, b: {model: script}}
nodes:
  - name: team
    action: agent.coordinate
    params: {leader: lead, workers: [a, b], task: ship it, parallel_workers: false}
    output: team
""")
    assert state["team"]["result"] == "shipped" and state["team"]["rounds"] == 1
    assert [r["content"] for r in state["team"]["worker_results"][0]] == ["design done", "build done"]
    assert bodies(model)[1]["messages"][-1]["content"] == "design it"


# -- validate.extraction (upstream examples/yaml/extraction_with_retry.yaml) ----------------------------------------
EXTRACTION = """
extraction_schema:
  entities: {required_fields: [name, type]}
  relationships:
    types: [mother, father]
    required_fields: [type, subject, object]
semantic_probes:
  - for_each: relationship
    where: "type == 'mother'"
    probe: "Is {{ subject }} the mother of {{ object }} in: {{ text }}"
    on_fail: reject
settings:
  llm: {model: script}
nodes:
  - name: check
    action: validate.extraction
    with:
      entities: "{{ state.entities }}"
      relationships: "{{ state.relationships }}"
      source_text: "{{ state.text }}"
    output: validation
"""


def test_validate_extraction_checks_the_schema_then_asks_the_probes(model):
    model.script = ["Yes."]
    good = {"entities": [{"name": "Mary", "type": "person"}], "text": "Mary is John's mother.",
            "relationships": [{"type": "mother", "subject": "Mary", "object": "John"},
                              {"type": "father", "subject": "Joe", "object": "John"}]}
    state, _ = run(EXTRACTION, good)
    assert state["validation"]["valid"] is True and state["validation"]["errors"] == []
    assert bodies(model)[-1]["messages"][-1]["content"] == "Is Mary the mother of John in: Mary is John's mother."
    assert len(bodies(model)) == 1  # the father relationship does not match the probe's `where`
    model.script = ["No, it is not correct."]
    state, _ = run(EXTRACTION, good)
    assert [e["type"] for e in state["validation"]["errors"]] == ["semantic_probe_failed"]
    bad = {**good, "entities": [{"name": "Mary"}], "relationships": [{"type": "cousin", "subject": "a"}]}
    state, _ = run(EXTRACTION, bad)
    assert [(e["type"], e["path"]) for e in state["validation"]["errors"]] == [
        ("missing_required_field", "entities[0].type"), ("missing_required_field", "relationships[0].object"),
        ("invalid_relationship_type", "relationships[0].type")]


def test_retry_loop_validates_extractions_and_corrects_them():
    state, _ = run("""
extraction_schema:
  entities: {required_fields: [name, type]}
nodes:
  - name: validate_with_retry
    uses: retry.loop
    with: {validate: validate.extraction, validate_args: {}, correct: fix, max_retries: 2}
  - name: fix
    language: lua
    run: 'return { entities = { { name = "Mary", type = "person" } } }'
    goto: __end__
""", {"entities": [{"name": "Mary"}]})
    assert state["_retry_count"] == 1 and state["valid"] is True and state["_retry_exhausted"] is False


def test_prolog_constraints_are_a_located_error_not_a_pass():
    text = EXTRACTION.replace("semantic_probes:", "validation_constraints:\n  language: prolog\n  rules: 'a.'\n"
                                                  "semantic_probes:")
    with pytest.raises(RunError) as info:
        run(text, {"entities": [], "relationships": []})
    assert info.value.node == "check" and "runs Prolog only in Prolog nodes" in str(info.value)


def test_actions_that_need_missing_libraries_say_why():
    text = "nodes:\n  - name: show\n    uses: code.execute\n    with: {code: 'x = 1'}\n"
    warning = next(p for p in validate(workflow(text)) if p.code == "UNKNOWN_ACTION")
    assert "RestrictedPython" in warning.message
    with pytest.raises(RunError, match="RestrictedPython"):
        run(text)
