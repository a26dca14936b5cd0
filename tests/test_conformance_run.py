"""Every `run` case of the shared conformance folder through the real `tea-studio run` command.

Most run in-process through ``tea_studio.cli.main``; a few also as ``python -m tea_studio run`` subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from support import REPO, case_slug, check_run_case, conformance_cases, load_case, skip_without_conformance

from tea_studio.cli import main

CASES = conformance_cases("run")
SUBPROCESS_CASES = {"01-implicit-chaining", "09-parallel-sum-declaration-order", "14-failing-branches-reported",
                    "17-lua-timeout"}


@pytest.mark.parametrize("path", CASES, ids=case_slug)
def test_run_case_in_process(path, capsys):
    skip_without_conformance()
    case, workflow = load_case(path)
    began = time.monotonic()
    code = main(["run", workflow, "--input", json.dumps(case.get("input", {}))])
    seconds = time.monotonic() - began
    out, err = capsys.readouterr()
    check_run_case(case, code, out, err, seconds)


@pytest.mark.parametrize("path", [p for p in CASES if case_slug(p) in SUBPROCESS_CASES], ids=case_slug)
def test_run_case_as_subprocess(path):
    skip_without_conformance()
    case, workflow = load_case(path)
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "tea_studio", "run", workflow, "--input",
                             json.dumps(case.get("input", {}))], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            cwd=REPO, timeout=60)
    check_run_case(case, result.returncode, result.stdout, result.stderr, time.monotonic() - began)


def test_the_folder_has_run_cases():
    skip_without_conformance()
    assert len(CASES) >= 20
