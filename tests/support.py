"""Paths and helpers shared by the test folders (import as ``from support import ...``)."""

import json
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance"
EXAMPLES = REPO / "resources" / "examples"


def conformance_cases(command: str) -> list[pathlib.Path]:
    """The ``*.case.json`` files of the shared conformance folder for one command (run | validate)."""
    if not CONFORMANCE.is_dir():
        return []
    return [p for p in sorted(CONFORMANCE.glob("*.case.json"))
            if json.loads(p.read_text(encoding="utf-8")).get("command") == command]


def skip_without_conformance() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"shared conformance cases not found at {CONFORMANCE}")
