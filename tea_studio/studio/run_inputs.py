"""What a run starts from: the inputs typed for each file, and the files whose Python code the user trusted.

Both are small JSON stores in the data folder, keyed by the workflow's absolute path. :class:`InputDialog` edits
the inputs as JSON (the pin and start-state dialog, with ``--input``'s contract).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialogButtonBox, QWidget

from tea_studio.studio.pins import JsonObjectDialog
from tea_studio.studio.resources import app_data_dir
from tea_studio.workflow.constructs import python_code
from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.inputs import InputError
from tea_studio.workflow.inputs import parse_inputs as parse_run_inputs

INPUTS_FILE = "run_inputs.json"
TRUST_FILE = "trusted_files.json"


# -- small stores in the data folder --------------------------------------------------------------------------
class _JsonStore:
    """A JSON object in a file of the data folder, keyed by absolute workflow path."""

    def __init__(self, name: str, folder: Path | None = None) -> None:
        self.name = name
        self._folder = folder

    @property
    def file(self) -> Path:
        return (self._folder if self._folder is not None else app_data_dir()) / self.name

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.file, json.dumps(data, indent=1, ensure_ascii=False))


def _key(path: str | None) -> str:
    return os.path.abspath(path) if path else "<untitled>"


class InputStore(_JsonStore):
    """The last inputs (JSON text) typed for each file."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(INPUTS_FILE, folder)

    def get(self, path: str | None, default: str = "{}") -> str:
        """The inputs last typed for ``path``; ``default`` for a file never run here."""
        return str(self.read().get(_key(path), default))

    def put(self, path: str | None, text: str) -> None:
        data = self.read()
        data[_key(path)] = text
        self.write(data)


def python_fingerprint(workflow) -> str | None:
    """A hash of the Python code a workflow would run (None when it has no Python node)."""
    code = python_code(workflow)
    if not code:
        return None
    return hashlib.sha256(json.dumps(code, ensure_ascii=False).encode("utf-8")).hexdigest()


class TrustStore(_JsonStore):
    """Files whose Python code the user trusted, by path and hash of that code."""

    def __init__(self, folder: Path | None = None) -> None:
        super().__init__(TRUST_FILE, folder)

    def is_trusted(self, path: str | None, fingerprint: str) -> bool:
        return fingerprint in self.read().get(_key(path), [])

    def trust(self, path: str | None, fingerprint: str) -> None:
        data = self.read()
        data[_key(path)] = [*data.get(_key(path), [])[-4:], fingerprint]
        self.write(data)


# -- the inputs dialog ----------------------------------------------------------------------------------------
def parse_inputs(text: str) -> tuple[dict | None, str | None]:
    """(inputs, None) for a JSON object (blank text = {}), else (None, what is wrong)."""
    try:
        return parse_run_inputs(text, where="the inputs", files=False), None
    except InputError as exc:
        return None, str(exc)


class InputDialog(JsonObjectDialog):
    """Edit the run's inputs as JSON; Run is enabled only while the text is a JSON object."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(f"Run {title}", "Initial state (JSON object, merged over the workflow's initial_state):",
                         None, "the initial state", parent, name="inputs", source=text)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        self.resize(480, 320)

    def inputs(self) -> dict | None:
        return self.value()
