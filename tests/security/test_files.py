"""Saving never replaces what is not a regular file, follows links, and a kill at any moment leaves the old or the
new version (real files, real subprocesses killed with SIGKILL)."""

import os
import random
import stat
import subprocess
import sys

import pytest
from security_helpers import run_cli, timed_cli

from tea_studio.workflow.files import NotARegularFile, write_atomic


def test_write_replaces_a_regular_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "wf.yaml"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["wf.yaml"]  # no temporary file left behind


def test_write_follows_a_symlink_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text("old")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_write_to_devices_and_pipes_happens_in_place(tmp_path):
    write_atomic("/dev/null", "anything")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_atomic(fifo, "through the pipe")
    assert reader.communicate(timeout=30)[0] == b"through the pipe"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_export_to_a_full_device_fails_in_one_line_and_keeps_the_device(workflow_file):
    path = workflow_file("name: w\nnodes:\n  - name: a\n    run: return {}\n")
    before = os.stat("/dev/full")
    code, _out, err = run_cli("export", path, "-o", "/dev/full")
    after = os.stat("/dev/full")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "No space left" in err, err
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_write_refuses_a_folder(tmp_path):
    with pytest.raises(NotARegularFile):
        write_atomic(tmp_path, "x")
    assert tmp_path.is_dir()


def test_export_to_dev_null_and_stdout_work(tmp_path, workflow_file):
    path = workflow_file("name: w\nnodes:\n  - name: a\n    run: return {}\n")
    code, _out, err = run_cli("export", path, "-o", "/dev/null")
    assert code == 0, err
    code, out, err = run_cli("export", path, "-o", "/dev/stdout")
    assert code == 0, err
    assert "name: a" in out


def test_layout_on_a_symlink_keeps_the_link(tmp_path, workflow_file):
    real = workflow_file("name: w\nnodes:\n  - name: a\n    run: return {}\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    code, _out, err = run_cli("layout", str(link))
    assert code == 0, err
    assert link.is_symlink()
    assert "x-tea-studio" in open(real).read()


_SAVER = r"""
import sys
from tea_studio.workflow.files import write_atomic
path, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
while True:
    write_atomic(path, (a if n % 2 else b) * 20000)
    n += 1
    sys.stdout.write("saved\n")
    sys.stdout.flush()
"""


def test_a_kill_during_save_leaves_the_old_or_the_new_version(tmp_path):
    target = tmp_path / "state.txt"
    old, new = "A" * 20000 * 7, "B" * 20000 * 7
    chunks = ("A" * 7, "B" * 7)
    target.write_text(old)
    rng = random.Random(7)
    for _ in range(25):
        saver = subprocess.Popen([sys.executable, "-c", _SAVER, str(target), *chunks], stdout=subprocess.PIPE)
        for _ in range(rng.randint(1, 6)):
            assert saver.stdout.readline() == b"saved\n"
        saver.kill()  # SIGKILL while the next save is under way
        saver.wait()
        saver.stdout.close()
        assert target.read_text() in (old, new)


def test_a_workflow_path_that_is_a_device_a_fifo_or_huge_answers_at_once(tmp_path):
    """Reading a workflow never waits for a writer and never reads without bound: /dev/zero, a FIFO nobody
    writes (a file in a downloaded archive can be one), a link to a device, a file over the size limit."""
    fifo = tmp_path / "flow.yaml"
    os.mkfifo(fifo)
    link = tmp_path / "link.yaml"
    link.symlink_to("/dev/zero")
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as stream:
        stream.truncate(65 << 20)  # sparse: no disk used
    cases = {"/dev/zero": "not a regular file", str(link): "not a regular file", str(fifo): "the file is empty",
             str(huge): "larger than 64 MiB"}
    for path, problem in cases.items():
        code, out, err, seconds = timed_cli("validate", path)
        assert code == 1 and problem in out + err and "Traceback" not in err, (path, out, err)
        assert seconds < 10


def test_a_workflow_read_through_a_pipe_still_works():
    """``tea-studio validate <(generate-workflow)``: a pipe is read to its end."""
    reader, writer = os.pipe()
    os.write(writer, b"name: w\nnodes:\n  - name: a\n    run: return {}\n")
    os.close(writer)
    try:
        done = subprocess.run([sys.executable, "-m", "tea_studio.cli", "validate", f"/dev/fd/{reader}"],
                              pass_fds=(reader,), capture_output=True, text=True, timeout=120)
    finally:
        os.close(reader)
    assert done.returncode == 0 and "OK:" in done.stdout + done.stderr, done.stdout + done.stderr
