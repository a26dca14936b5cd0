"""Paths and helpers shared by the test folders (import as ``from support import ...``)."""

import json
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance"
EXAMPLES = REPO / "resources" / "examples"

# Two branches that spin in Lua until killed, on the process strategy (kill and orphan tests).
CPU_BOUND_PROCESS_FORK = """
name: cpu
settings: {parallel: {strategy: process}}
nodes:
  - {name: fork, language: lua, run: 'return {}'}
  - {name: a, language: lua, run: 'local s = 0 for i = 1, 1e12 do s = s + i end return { s = s }'}
  - {name: b, language: lua, run: 'local s = 0 for i = 1, 1e12 do s = s + i end return { s = s }'}
  - {name: join, language: lua, run: 'return {}'}
edges:
  - {from: fork, to: a, type: parallel, fan_in: join}
  - {from: fork, to: b, type: parallel, fan_in: join}
  - {from: a, to: join}
  - {from: b, to: join}
  - {from: join, to: __end__}
"""


def case_files(folder: pathlib.Path, command: str) -> list[pathlib.Path]:
    """The ``*.case.json`` files of a case folder (conformance format) for one command (run | validate)."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.case.json"))
            if json.loads(p.read_text(encoding="utf-8")).get("command") == command]


def conformance_cases(command: str) -> list[pathlib.Path]:
    """The ``*.case.json`` files of the shared conformance folder for one command (run | validate)."""
    return case_files(CONFORMANCE, command)


def case_slug(path: pathlib.Path) -> str:
    return path.name[: -len(".case.json")]


def load_case(path: pathlib.Path) -> tuple[dict, str]:
    """(the case, the path of its workflow file)."""
    return json.loads(path.read_text(encoding="utf-8")), str(path.with_name(case_slug(path) + ".yaml"))


def same_json(a, b) -> bool:
    """JSON equality that keeps types apart (true is not 1, 2 is not 2.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def check_run_case(case: dict, code: int, out: str, err: str, seconds: float) -> None:
    """Assert that a `run` ended as the case expects (exit code, final state, error fragments, time)."""
    expect = case["expect"]
    assert code == expect["exit"], f"exit {code}; stderr: {err}"
    if "state" in expect:
        state = json.loads(out)
        if expect.get("compare") == "subset":
            missing = {k: v for k, v in expect["state"].items() if k not in state or not same_json(state[k], v)}
            assert not missing, f"differs: {missing}; got {state}"
        else:
            assert same_json(state, expect["state"]), f"got {state}"
    for fragment in expect.get("error_contains", []):
        assert fragment.lower() in err.lower(), f"{fragment!r} not in stderr: {err}"
    if "max_seconds" in expect:
        assert seconds <= expect["max_seconds"]


def check_validate_case(expect: dict, exit_code: int, output: str, workflow) -> None:
    """Assert that `validate` printed located findings with the expected codes, and the expected exit code."""
    assert exit_code == expect.get("exit", 0), output
    lines = output.splitlines()
    for severity, key in (("error", "codes"), ("warning", "warnings")):
        for code in expect.get(key, []):
            assert any(re.search(rf"\b{severity}\b[^\n]*\[{re.escape(code)}\]", line) for line in lines), (code, output)
    located = re.compile(rf"^{re.escape(str(workflow))}:\d+:\d+: (error|warning|info) \[[A-Z_]+\]: .+$")
    findings = [line for line in lines if not line.startswith(("OK: ", "FAIL: "))]
    assert findings and all(located.match(line) for line in findings), output
    assert lines[-1].startswith("FAIL: " if expect.get("exit", 0) else "OK: ")


def skip_without_conformance() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"shared conformance cases not found at {CONFORMANCE}")
