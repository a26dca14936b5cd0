"""Saving files so that a crash or a kill at any moment leaves either the old or the new version.

:func:`write_atomic` is the one way TEA Studio writes a file (workflows, exports, run history, recovery copies).
A regular file is replaced by a fully written and synced sibling (``rename`` is atomic); a symbolic link is
followed, so the file it points to is replaced and the link stays. Anything that is not a regular file is never
replaced: character devices, pipes and the process's own streams (``/dev/null``, ``/dev/stdout``, a FIFO) are
written in place; directories, block devices and sockets are refused.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable

# Paths that name the process's own streams: their target is whatever the stream is (a terminal, a pipe, or a
# regular file the shell opened), which must be written through the stream, never replaced.
_STREAM_PREFIXES = ("/dev/std", "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")


class NotARegularFile(OSError):
    """The target exists and can be neither replaced nor written in place (a directory, a block device...)."""


def write_atomic(path: str | os.PathLike, data: str | bytes | Iterable[str | bytes], *,
                 sync: bool = True) -> None:
    """Write ``data`` (text is UTF-8, newlines untouched; an iterable is written piece by piece) to ``path``.

    ``sync``: flush the data and the folder to disk before and after the rename (off for files that only
    need to survive a killed process, not a power cut). Raises ``OSError`` (nothing is left behind then).
    """
    path = os.fspath(path)
    if os.path.abspath(path).startswith(_STREAM_PREFIXES):
        _write_in_place(path, data)
        return
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            _write_in_place(target, data)
            return
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise NotARegularFile(21 if stat.S_ISDIR(mode) else 22, f"{kind}; refusing to replace it", path)
    folder = os.path.dirname(target)
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            _write_all(stream, data)
            if sync:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if sync:
        _sync_folder(folder)


def _write_in_place(path: str, data: str | bytes | Iterable[str | bytes]) -> None:
    with open(path, "ab") as stream:  # appending never truncates what the stream already holds
        _write_all(stream, data)


def _write_all(stream, data: str | bytes | Iterable[str | bytes]) -> None:
    pieces = (data,) if isinstance(data, str | bytes) else data
    for piece in pieces:
        stream.write(piece.encode("utf-8") if isinstance(piece, str) else piece)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (best effort: some file systems cannot sync a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``os.umask`` would briefly set 0 for
    every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
