"""Shared test fixtures: the offscreen Qt platform and the shared conformance folder."""

import os
import pathlib

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance"
EXAMPLES = REPO / "resources" / "examples"


def conformance_cases(command: str) -> list[pathlib.Path]:
    """The ``*.case.json`` files of the shared conformance folder for one command (run | validate)."""
    import json

    if not CONFORMANCE.is_dir():
        return []
    return [p for p in sorted(CONFORMANCE.glob("*.case.json"))
            if json.loads(p.read_text(encoding="utf-8")).get("command") == command]


def skip_without_conformance() -> None:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"shared conformance cases not found at {CONFORMANCE}")
