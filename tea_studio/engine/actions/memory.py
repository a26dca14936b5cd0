"""memory.store, memory.retrieve, memory.summarize: TEA's session memory, a key-value store shared by every run
in the process (as TEA documents: not per workflow, gone when the process ends), with namespaces and TTLs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.llm import ask
from tea_studio.engine.actions.registry import builtin

_LOCK = threading.Lock()
_STORE: dict[tuple[str, str], tuple[Any, float | None]] = {}  # (namespace, key) -> (value, expiry or None)


@builtin("memory.store")
def memory_store(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    ttl = params.get("ttl")
    expiry = time.monotonic() + float(ttl) if ttl else None
    with _LOCK:
        _STORE[(params["namespace"], str(params["key"]))] = (params["value"], expiry)
    return {"stored": True, "key": params["key"], "namespace": params["namespace"]}


@builtin("memory.retrieve")
def memory_retrieve(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    slot = (params["namespace"], str(params["key"]))
    with _LOCK:
        value, expiry = _STORE.get(slot, (None, None))
        found = slot in _STORE and (expiry is None or expiry > time.monotonic())
        if slot in _STORE and not found:
            del _STORE[slot]  # expired
    return {"value": value if found else params.get("default"), "found": found, "key": params["key"]}


@builtin("memory.summarize")
def memory_summarize(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """The model's summary of the conversation in ``state[messages_key]``."""
    messages = state.get(params["messages_key"])
    if not isinstance(messages, list):
        return {"error": f"state key '{params['messages_key']}' holds no list of messages", "success": False}
    text = "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" if isinstance(m, dict) else str(m)
                     for m in messages)
    try:
        answer = ask(context, [{"role": "system", "content": "Summarize the conversation, keeping every fact, "
                                                              "decision and open question."},
                               {"role": "user", "content": text}],
                     model=params.get("model"), max_tokens=params.get("max_tokens"))
    except ActionError as exc:
        return {"error": exc.message, "success": False}
    if answer.get("success") is False:
        return {"error": answer.get("error"), "success": False}
    summary = str(answer.get("content") or "")
    return {"summary": summary, "original_count": len(messages),
            "token_estimate": max(1, len(json.dumps(summary)) // 4), "success": True}
