"""Quick-add snippets: each is valid TEA, laid out, and the runnable ones run headless."""

import pytest

from tea_studio.workflow import yaml_io
from tea_studio.workflow.templates import TEMPLATES, template, template_fragment
from tea_studio.workflow.validation import validate


@pytest.mark.parametrize("snippet", TEMPLATES, ids=lambda t: t.key)
def test_each_snippet_is_valid_and_laid_out_with_a_one_line_description(snippet):
    nodes, edges, positions = yaml_io.fragment_from_text(template_fragment(snippet.key))
    assert nodes and set(positions) == {n.name for n in nodes}
    assert min(x for x, _y in positions.values()) == 0 and min(y for _x, y in positions.values()) == 0
    assert not [p for p in validate(yaml_io.load_workflow_text(snippet.text)) if p.is_error]
    assert snippet.description and "\n" not in snippet.description and snippet.icon.startswith("template-")


@pytest.mark.parametrize("key, expected", [("fork", {"parts": ["a", "b", "c"]}), ("while_loop", {"count": 3})])
def test_the_fork_and_the_loop_run_headless(key, expected):
    from tea_studio.engine.runner import WorkflowRun

    state = WorkflowRun(yaml_io.load_workflow_text(template(key).text)).run()
    assert expected.items() <= state.items()


def test_an_unknown_snippet_is_a_key_error():
    with pytest.raises(KeyError):
        template("nope")
