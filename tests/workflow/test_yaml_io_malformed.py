"""Every malformed file gives exactly one WorkflowError with the expected code and a position."""

from __future__ import annotations

import pathlib
import re

import pytest

from tea_studio.workflow.yaml_io import WorkflowError, load_workflow

MALFORMED = sorted((pathlib.Path(__file__).parent / "malformed").glob("*.yaml"))
# files that cannot hold an `# expect:` comment
EXPECTED_WITHOUT_COMMENT = {"05-empty.yaml": "INVALID_ROOT"}


def _expected(path: pathlib.Path) -> str:
    if path.name in EXPECTED_WITHOUT_COMMENT:
        return EXPECTED_WITHOUT_COMMENT[path.name]
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    match = re.fullmatch(r"# expect: ([A-Z_]+)", first)
    assert match, f"{path.name} must start with `# expect: CODE`"
    return match.group(1)


def test_there_are_enough_malformed_cases():
    assert len(MALFORMED) >= 20


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_malformed_file_gives_one_workflow_error(path):
    with pytest.raises(WorkflowError) as info:
        load_workflow(path)
    error = info.value
    assert error.code == _expected(path)
    assert error.line >= 1 and error.col >= 1
    assert str(error).startswith(f"{path}:{error.line}:{error.col}: ")
    assert error.line <= max(1, path.read_bytes().count(b"\n") + 1)


def test_error_positions_point_at_the_offending_value():
    malformed = {p.name: p for p in MALFORMED}
    cases = {"09-goto-number.yaml": (5, 11), "14-edge-without-to.yaml": (6, 5), "19-not-utf8.yaml": (2, 10),
             "20-duplicate-key.yaml": (6, 5), "02-tab-indent.yaml": (4, 1)}
    for name, where in cases.items():
        with pytest.raises(WorkflowError) as info:
            load_workflow(malformed[name])
        assert (info.value.line, info.value.col) == where, name
