"""The document and the engine never import Qt: the headless CLI must run where no Qt can load."""

import pathlib
import re
import subprocess
import sys

from support import REPO

CORE = [REPO / "tea_studio" / "workflow", REPO / "tea_studio" / "engine"]


def core_modules() -> list[str]:
    names = []
    for folder in CORE:
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_importing_every_core_module_loads_no_qt():
    modules = core_modules()
    assert "tea_studio.workflow.validation" in modules and "tea_studio.workflow.headless" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_headless_validate_loads_no_qt(tmp_path):
    workflow = tmp_path / "w.yaml"
    workflow.write_text("nodes:\n  - name: a\n    language: lua\n    run: return {}\n", encoding="utf-8")
    code = (
        "import sys\nfrom tea_studio.cli import main\n"
        f"code = main(['validate', {str(workflow)!r}])\n"
        "print('QT' if any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules) else 'NO-QT', code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "NO-QT 0", result.stdout + result.stderr


def test_no_core_source_mentions_qt():
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt\d|shiboken6|qtpy)\b", re.MULTILINE)
    offenders = [str(path.relative_to(REPO)) for folder in CORE for path in sorted(folder.rglob("*.py"))
                 if pattern.search(pathlib.Path(path).read_text(encoding="utf-8"))]
    assert offenders == []
