"""`tea-studio validate | export | layout` through the real entry point."""

import re
import subprocess
import sys

import pytest
from support import EXAMPLES, REPO

from tea_studio.cli import main
from tea_studio.workflow.layout import COLUMN, auto_layout
from tea_studio.workflow.yaml_io import load_workflow, load_workflow_text

MALFORMED = REPO / "tests" / "workflow" / "malformed"
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning) \[(?P<code>[A-Z_]+)\]: .+$")

GOOD = """\
# a comment that must survive
name: demo   # trailing comment
nodes:
  - name: first
    language: lua
    run: |
      return { n = 1 }
  - name: second
    goto:
      - if: "state.n > 0"
        to: third
      - to: __end__
  - name: third
    run: |
      return {"done": True}
"""

BROKEN = """\
nodes:
  - name: a
    goto: nowhere
  - name: a
"""


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def without_studio_block(text: str) -> str:
    """The text with the top-level `x-tea-studio:` block (up to the next top-level key) cut out."""
    lines = text.splitlines(True)
    kept, inside = [], False
    for line in lines:
        if line.startswith("x-tea-studio:"):
            inside = True
            continue
        if inside and line.strip() and not line[0].isspace() and not line.startswith("#"):
            inside = False
        if not inside:
            kept.append(line)
    return "".join(kept)


# -- validate -----------------------------------------------------------------------------------------------

def test_validate_a_good_file_says_ok_with_counts(tmp_path, capsys):
    path = write(tmp_path, "good.yaml", GOOD)
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 0 and err == ""
    note, summary = out.splitlines()  # 'first' runs before 'second' only by list order: a note, not a warning
    assert note.startswith(f"{path}:4:5: info [IMPLICIT_CHAINING]: 1 node continues")
    assert summary == f"OK: {path} (3 nodes, 2 edges)"


def test_validate_prints_located_problems_and_fails(tmp_path, capsys):
    path = write(tmp_path, "broken.yaml", BROKEN)
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:3:11: error [GOTO_UNDEFINED]: node 'a': goto target 'nowhere' is not a node",
        f"{path}:4:5: error [DUPLICATE_NODE]: node 'a' is defined twice (first at line 2)",
        f"FAIL: {path} (2 errors)",
    ]


def test_validate_several_files_fails_if_any_has_an_error(tmp_path, capsys):
    good, broken = write(tmp_path, "good.yaml", GOOD), write(tmp_path, "broken.yaml", BROKEN)
    code, out, _ = run_cli(capsys, "validate", str(good), str(broken))
    assert code == 1
    assert f"OK: {good} (3 nodes, 2 edges)" in out and f"FAIL: {broken} (2 errors)" in out


def test_warnings_alone_keep_exit_zero(tmp_path, capsys):
    path = write(tmp_path, "warn.yaml", "nodes:\n  - name: a\n    goto: __end__\n  - name: orphan\n")
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 0
    assert f"{path}:4:5: warning [UNREACHABLE_NODE]:" in out
    assert out.splitlines()[-1] == f"OK: {path} (2 nodes, 1 edge, 1 warning)"


def test_missing_file_is_one_located_error_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 1 and "Traceback" not in err
    match = LOCATED.match(out.splitlines()[0])
    assert match and match.group("file") == str(path) and match.group("severity") == "error"
    assert out.splitlines()[-1] == f"FAIL: {path} (1 error)"


@pytest.mark.parametrize("text, code", [
    ("nodes: [a\n", "YAML_PARSE"),
    ("", "INVALID_ROOT"),
    ("- just\n- a list\n", "INVALID_ROOT"),
    ("name: x\n", "INVALID_NODES"),
    ("nodes:\n  - name: a\n    goto: {to: b}\n", "INVALID_FIELD"),
])
def test_unloadable_files_give_one_located_error(tmp_path, capsys, text, code):
    path = write(tmp_path, "bad.yaml", text)
    exit_code, out, err = run_cli(capsys, "validate", str(path))
    lines = out.splitlines()
    assert exit_code == 1 and "Traceback" not in err
    assert len(lines) == 2 and LOCATED.match(lines[0]).group("code") == code
    assert lines[1] == f"FAIL: {path} (1 error)"


MALFORMED_FILES = sorted(MALFORMED.glob("*.yaml")) if MALFORMED.is_dir() else []
if not MALFORMED_FILES:
    MALFORMED_FILES = [pytest.param(None, marks=pytest.mark.skip(reason=f"no malformed files in {MALFORMED}"))]


@pytest.mark.parametrize("path", MALFORMED_FILES, ids=lambda p: p.name if p else "none")
def test_malformed_files_give_exactly_one_located_error(path, capsys):
    first_line = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    expected = re.match(r"#\s*expect:\s*([A-Z_]+)", first_line)
    code, out, err = run_cli(capsys, "validate", str(path))
    errors = [LOCATED.match(line) for line in out.splitlines() if " error [" in line]
    assert code == 1 and "Traceback" not in err
    assert len(errors) == 1 and errors[0] and errors[0].group("file") == str(path), out
    assert int(errors[0].group("line")) >= 1 and int(errors[0].group("col")) >= 1
    if expected:
        assert errors[0].group("code") == expected.group(1), out


def test_validate_as_a_subprocess_prints_no_traceback(tmp_path):
    path = write(tmp_path, "bad.yaml", "nodes:\n  - name: a\n    run: [\n")
    result = subprocess.run([sys.executable, "-m", "tea_studio", "validate", str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr == ""
    assert LOCATED.match(result.stdout.splitlines()[0]).group("code") == "YAML_PARSE"


# -- export -------------------------------------------------------------------------------------------------

def test_export_writes_the_workflow_without_the_studio_block(tmp_path, capsys):
    source = write(tmp_path, "in.yaml", GOOD + "x-tea-studio:\n  positions:\n    first: [0, 0]\n")
    out_path = tmp_path / "out.yaml"
    code, out, err = run_cli(capsys, "export", str(source), "-o", str(out_path))
    assert code == 0 and err == "" and out == ""
    exported = out_path.read_text(encoding="utf-8")
    assert "x-tea-studio" not in exported
    assert exported == GOOD
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tea-studio-")]  # no temporary left behind


def test_export_to_stdout(tmp_path, capsys):
    source = write(tmp_path, "in.yaml", GOOD)
    code, out, _ = run_cli(capsys, "export", str(source), "-o", "-")
    assert code == 0 and out == GOOD


def test_export_with_validation_errors_warns_on_stderr_and_still_writes(tmp_path, capsys):
    source = write(tmp_path, "broken.yaml", BROKEN)
    code, out, err = run_cli(capsys, "export", str(source), "-o", "-")
    assert code == 0 and out == BROKEN
    assert "warning:" in err and "2 validation errors" in err and "[GOTO_UNDEFINED]" in err


def test_export_of_an_unloadable_file_fails_cleanly(tmp_path, capsys):
    source = write(tmp_path, "bad.yaml", "nodes: [\n")
    target = tmp_path / "out.yaml"
    code, out, err = run_cli(capsys, "export", str(source), "-o", str(target))
    assert code == 1 and not target.exists()
    assert LOCATED.match(err.splitlines()[0]).group("code") == "YAML_PARSE"


# -- layout -------------------------------------------------------------------------------------------------

def test_layout_writes_positions_and_changes_nothing_else(tmp_path, capsys):
    path = write(tmp_path, "w.yaml", GOOD)
    code, _, err = run_cli(capsys, "layout", str(path))
    assert code == 0 and "3 nodes" in err
    text = path.read_text(encoding="utf-8")
    assert without_studio_block(text) == GOOD
    reloaded = load_workflow(path)
    assert reloaded.layout.positions == auto_layout(load_workflow_text(GOOD))


def test_layout_keeps_other_studio_data_and_bytes_outside_the_block(tmp_path, capsys):
    original = ("# header\r\nnodes:\r\n  - name: a   # keep me\r\n  - name: b\r\nx-tea-studio:\r\n"
                "  viewport: {zoom: 2}\r\n  positions:\r\n    a: [500, 500]\r\n    gone: [1, 2]\r\n"
                "other: 1  # after the block\r\n")
    path = write(tmp_path, "crlf.yaml", original)
    out_path = tmp_path / "out.yaml"
    code, _, _ = run_cli(capsys, "layout", str(path), "-o", str(out_path))
    assert code == 0
    assert path.read_bytes() == original.encode("utf-8")  # -o leaves the input alone
    written = out_path.read_bytes().decode("utf-8")
    assert without_studio_block(written) == without_studio_block(original)
    reloaded = load_workflow(out_path)
    assert reloaded.layout.viewport == {"zoom": 2}
    assert reloaded.layout.positions == {"a": (0, 0), "b": (COLUMN, 0)}


def test_layout_of_an_unloadable_file_leaves_it_alone(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", "nodes: [\n")
    code, _, err = run_cli(capsys, "layout", str(path))
    assert code == 1 and path.read_text() == "nodes: [\n"
    assert "[YAML_PARSE]" in err


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_validate_clean_from_the_command_line(path, capsys):
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 0 and out.startswith(f"OK: {path} (") and "warning" not in out
