"""Every `run` case of the shared conformance folder through the real `tea-studio run` command.

Most run in-process through ``tea_studio.cli.main``; a few also as ``python -m tea_studio run`` subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from support import REPO, conformance_cases, skip_without_conformance

from tea_studio.cli import main

CASES = conformance_cases("run")
SUBPROCESS_CASES = {"01-implicit-chaining", "09-parallel-sum-declaration-order", "14-failing-branches-reported",
                    "17-lua-timeout"}


def _slug(path) -> str:
    return path.name[: -len(".case.json")]


def _same(a, b) -> bool:
    """JSON equality that keeps types apart (true is not 1, 2 is not 2.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _check(case: dict, code: int, out: str, err: str, seconds: float) -> None:
    expect = case["expect"]
    assert code == expect["exit"], f"exit {code}; stderr: {err}"
    if "state" in expect:
        state = json.loads(out)
        if expect.get("compare") == "subset":
            missing = {k: v for k, v in expect["state"].items() if k not in state or not _same(state[k], v)}
            assert not missing, f"differs: {missing}; got {state}"
        else:
            assert _same(state, expect["state"]), f"got {state}"
    for fragment in expect.get("error_contains", []):
        assert fragment.lower() in err.lower(), f"{fragment!r} not in stderr: {err}"
    if "max_seconds" in expect:
        assert seconds <= expect["max_seconds"]


def _case(path) -> tuple[dict, str]:
    case = json.loads(path.read_text(encoding="utf-8"))
    return case, str(path.with_name(_slug(path) + ".yaml"))


@pytest.mark.parametrize("path", CASES, ids=_slug)
def test_run_case_in_process(path, capsys):
    skip_without_conformance()
    case, workflow = _case(path)
    began = time.monotonic()
    code = main(["run", workflow, "--input", json.dumps(case.get("input", {}))])
    seconds = time.monotonic() - began
    out, err = capsys.readouterr()
    _check(case, code, out, err, seconds)


@pytest.mark.parametrize("path", [p for p in CASES if _slug(p) in SUBPROCESS_CASES], ids=_slug)
def test_run_case_as_subprocess(path):
    skip_without_conformance()
    case, workflow = _case(path)
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "tea_studio", "run", workflow, "--input",
                             json.dumps(case.get("input", {}))], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            cwd=REPO, timeout=60)
    _check(case, result.returncode, result.stdout, result.stderr, time.monotonic() - began)


def test_the_folder_has_run_cases():
    skip_without_conformance()
    assert len(CASES) >= 20
