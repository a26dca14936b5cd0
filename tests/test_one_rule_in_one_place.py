"""Rules that are written once stay written once: each test names the one module allowed to hold the rule and
fails when another module starts writing it again (read from the source, nothing runs)."""

import ast
import dataclasses
import pathlib
import re

from tea_studio.engine import events
from tea_studio.workflow.model import KINDS

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tea_studio"


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path.read_text(encoding="utf-8")


def _where(pattern: str, allowed: set[str]) -> list[str]:
    return [name for name, text in _sources() if re.search(pattern, text) and name not in allowed]


def test_only_write_atomic_writes_files():
    """A file is written to a temporary file and moved over the old one in workflow/files.py only (pictures are
    made in memory first; a log is appended to); the file.write action writes where and how the workflow says, like TEA."""
    assert _where(r"\bos\.(replace|rename)\(|\.replace\(\s*(target|path|dest)", {"workflow/files.py"}) == []
    assert _where(r"\bopen\([^)]*[\"'][wx]b?[\"']|\.write_(text|bytes)\(|QImage.*\.save\(\s*(str\()?path",
                  {"workflow/files.py", "engine/actions/files.py"}) == []


def test_only_the_prompts_ask_the_user():
    """Every question goes through studio/prompts.py, so tests and --screenshot answer it without patching Qt."""
    assert _where(r"\b(QMessageBox|QInputDialog|QFileDialog)\b", {"studio/prompts.py"}) == []


def test_only_the_action_table_makes_window_actions():
    """Menus, toolbars and the canvas menu share the QActions of studio/actions.py."""
    assert _where(r"\bQAction\(", {"studio/actions.py"}) == []


def test_only_the_scene_follows_route_changes():
    """``routes_changed`` names the routes an edit touched and the scene updates those items; other views follow
    the document by node or by the entry they show, never by rebuilding every route."""
    assert _where(r"routes_changed\.connect", {"studio/canvas/scene.py"}) == []


def test_the_studio_takes_its_colours_from_the_theme():
    """Statuses, kinds, code tokens, notes and diff tints are coloured in one place (canvas/theme.py and
    resources/themes), so a new theme is one table, never a hunt through the views."""
    colour = re.compile(r"#[0-9a-fA-F]{6}\b|QColor\(\s*\d|Qt\.GlobalColor\.(red|green|blue|yellow)")
    assert [name for name, text in _sources()
            if name.startswith("studio/") and name != "studio/canvas/theme.py" and colour.search(text)] == []


def test_strategy_names_and_kind_labels_are_listed_once():
    """STRATEGIES and KINDS (workflow/model.py) are the only lists of strategies and node-kind labels."""
    labels = {info.label for info in KINDS.values()}
    found = []
    for name, text in _sources():
        if name == "workflow/model.py":
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                strings = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if {"thread", "process"} <= strings or {"process", "dask"} <= strings:
                    found.append(f"{name}:{node.lineno} strategies")
            elif isinstance(node, ast.Constant) and node.value in labels and len(node.value) > 6:
                found.append(f"{name}:{node.lineno} {node.value!r}")
    assert found == []


def test_every_run_event_is_built_with_keyword_arguments():
    kinds = [cls for cls in vars(events).values()
             if isinstance(cls, type) and issubclass(cls, events.RunEvent) and dataclasses.is_dataclass(cls)]
    assert len(kinds) > 15
    assert [cls.__name__ for cls in kinds if not all(f.kw_only for f in dataclasses.fields(cls))] == []
