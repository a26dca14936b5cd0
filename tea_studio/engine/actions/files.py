"""file.read and file.write: local text files, paths relative to the workflow's folder. Like TEA, a failure is a
result (``{success: false, error, error_type}``), not a run error."""

from __future__ import annotations

import os
from typing import Any

from tea_studio.engine.actions.context import ActionContext
from tea_studio.engine.actions.registry import builtin

_ERROR_TYPES = ((FileNotFoundError, "file_not_found", "File not found"),
                (PermissionError, "permission_denied", "Permission denied"),
                (IsADirectoryError, "is_a_directory", "Is a directory"))


def _failure(exc: OSError, path: str) -> dict[str, Any]:
    for kind, error_type, text in _ERROR_TYPES:
        if isinstance(exc, kind):
            return {"success": False, "error": f"{text}: {path}", "error_type": error_type}
    return {"success": False, "error": f"{exc.strerror or exc}: {path}", "error_type": "io_error"}


@builtin("file.read")
def file_read(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    path = params["path"]
    try:
        with open(context.resolve_path(path), encoding="utf-8") as stream:
            return {"content": stream.read(), "success": True}
    except OSError as exc:
        return _failure(exc, path)
    except UnicodeDecodeError as exc:
        return {"success": False, "error": f"not UTF-8 text: {path} ({exc.reason})", "error_type": "decode_error"}


@builtin("file.write")
def file_write(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    path = params["path"]
    content = params["content"]
    full = context.resolve_path(path)
    try:
        folder = os.path.dirname(full)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(full, "w", encoding="utf-8") as stream:
            stream.write(content if isinstance(content, str) else str(content))
    except OSError as exc:
        return _failure(exc, path)
    return {"path": path, "success": True}
