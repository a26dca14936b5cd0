"""The shared validate conformance cases, through the real `tea-studio` entry point."""

import json
import subprocess
import sys

import pytest
from support import REPO, check_validate_case, conformance_cases, skip_without_conformance

from tea_studio.cli import main

CASES = conformance_cases("validate")


def expect_of(case_file):
    return json.loads(case_file.read_text(encoding="utf-8"))["expect"]


def workflow_of(case_file):
    return case_file.with_name(case_file.name[: -len(".case.json")] + ".yaml")


def test_the_cases_are_there():
    skip_without_conformance()
    assert CASES, "no validate cases found"


@pytest.mark.parametrize("case_file", CASES, ids=lambda p: p.name[: -len(".case.json")])
def test_validate_case_in_process(case_file, capsys):
    skip_without_conformance()
    workflow = workflow_of(case_file)
    exit_code = main(["validate", str(workflow)])
    captured = capsys.readouterr()
    check_validate_case(expect_of(case_file), exit_code, captured.out, workflow)
    assert "Traceback" not in captured.err


def test_validate_cases_through_python_m_tea_studio():
    skip_without_conformance()
    if not CASES:
        pytest.skip("no validate cases")
    for case_file in CASES:
        workflow = workflow_of(case_file)
        result = subprocess.run([sys.executable, "-m", "tea_studio", "validate", str(workflow)], cwd=REPO,
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        check_validate_case(expect_of(case_file), result.returncode, result.stdout, workflow)
        assert result.stderr == ""
