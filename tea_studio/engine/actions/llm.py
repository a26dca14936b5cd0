"""llm.call, llm.chat, llm.stream, llm.embed over the OpenAI-compatible wire protocol (openai, azure, ollama and any
compatible server) with httpx, and CLI agents through the shell provider (:mod:`.shell`).

Provider choice as TEA documents it: an explicit ``provider`` wins; else ``OLLAMA_API_BASE`` set -> ollama;
``AZURE_OPENAI_API_KEY`` + ``AZURE_OPENAI_ENDPOINT`` -> azure; else openai. ``api_base`` overrides the endpoint.
``llm.stream`` reads server-sent events and reports each delta as an ``llm_token`` event.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.http import HttpCall, raise_for_status
from tea_studio.engine.actions.registry import builtin
from tea_studio.engine.actions.shell import run_shell_provider
from tea_studio.workflow.action_schemas import CATALOG

OPENAI_BASE = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-3.5-turbo"  # the Rust engine's default when a node names no model
OLLAMA_BASE = "http://localhost:11434/v1"
AZURE_API_VERSION = "2024-02-15-preview"
# Request fields passed through to the server when a node gives them.
PASSED_THROUGH = ("top_p", "stop", "seed", "response_format", "presence_penalty", "frequency_penalty", "tools",
                  "tool_choice", "n", "user")


def resolve_provider(params: dict[str, Any]) -> str:
    provider = str(params.get("provider") or "auto").lower()
    if provider in ("azure_openai", "azureopenai"):
        return "azure"
    if provider != "auto":
        return provider
    if os.getenv("OLLAMA_API_BASE"):
        return "ollama"
    if os.getenv("AZURE_OPENAI_API_KEY") and os.getenv("AZURE_OPENAI_ENDPOINT"):
        return "azure"
    return "openai"


@dataclass(frozen=True)
class Endpoint:
    """Where a provider's requests go: ``url(path)`` and the headers that authenticate them."""

    provider: str
    base: str
    headers: dict[str, str]
    query: dict[str, str]
    model: str | None

    def url(self, path: str) -> str:
        return self.base.rstrip("/") + "/" + path.lstrip("/")


def endpoint(provider: str, params: dict[str, Any]) -> Endpoint:
    api_base = params.get("api_base")
    model = params.get("model")
    if provider == "ollama":
        return Endpoint(provider, api_base or os.getenv("OLLAMA_API_BASE") or OLLAMA_BASE,
                        {"Authorization": "Bearer ollama"}, {}, model)
    if provider == "azure":
        base = api_base or os.getenv("AZURE_OPENAI_ENDPOINT")
        if not base:
            raise ActionError("provider azure needs api_base or AZURE_OPENAI_ENDPOINT")
        deployment = os.getenv("AZURE_OPENAI_DEPLOYMENT") or model
        return Endpoint(provider, f"{base.rstrip('/')}/openai/deployments/{deployment}",
                        {"api-key": os.getenv("AZURE_OPENAI_API_KEY") or ""},
                        {"api-version": os.getenv("OPENAI_API_VERSION") or AZURE_API_VERSION}, model)
    if provider == "openai":
        key = os.getenv("OPENAI_API_KEY") or ""
        return Endpoint(provider, api_base or os.getenv("OPENAI_BASE_URL") or OPENAI_BASE,
                        {"Authorization": f"Bearer {key}"} if key else {}, {}, model)
    raise ActionError(f"LLM provider '{provider}' is not supported by TEA Studio (openai, azure, ollama, shell); "
                      "export and run with tea")


def chat_messages(params: dict[str, Any]) -> list[dict[str, Any]]:
    """``messages`` as given, else TEA's short form: ``prompt`` as the user message after an optional ``system``."""
    messages = params.get("messages")
    if messages is None and params.get("prompt") is not None:
        messages = [{"role": "user", "content": str(params["prompt"])}]
        if params.get("system"):
            messages.insert(0, {"role": "system", "content": str(params["system"])})
    if not messages:
        raise ActionError("needs `messages` (or `prompt`); the prompt was empty or its state key is not set")
    if not all(isinstance(m, dict) for m in messages):
        raise ActionError("`messages` must be a list of {role, content} mappings")
    return messages


def with_default_model(params: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """A missing ``model`` is ``settings.llm.model`` (or ``settings.llm.default_model``), else TEA's default
    ``gpt-3.5-turbo``; the shell provider needs none."""
    if params.get("model") or resolve_provider(params) == "shell":
        return params
    llm_settings = context.settings.get("llm") if isinstance(context.settings.get("llm"), dict) else {}
    return {**params, "model": llm_settings.get("model") or llm_settings.get("default_model") or DEFAULT_MODEL}


def _request_body(params: dict[str, Any], messages: list[dict[str, Any]], stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": params["model"], "messages": messages, "temperature": params["temperature"]}
    if params.get("max_tokens") is not None:
        body["max_tokens"] = params["max_tokens"]
    for key in PASSED_THROUGH:
        if params.get(key) is not None:
            body[key] = params[key]
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _complete(params: dict[str, Any], context: ActionContext, stream: bool) -> dict[str, Any]:
    """One chat completion; ``stream`` reads SSE deltas (each one an ``llm_token`` event). Returns
    ``{content, usage, model}`` plus ``chunk_count`` when streamed."""
    messages = chat_messages(params)
    params = with_default_model(params, context)
    provider = resolve_provider(params)
    if provider == "shell":
        return run_shell_provider(params, messages, context)
    target = endpoint(provider, params)
    body = _request_body(params, messages, stream)
    url = target.url("chat/completions")

    def plain(response: httpx.Response) -> dict[str, Any]:
        raise_for_status(response)
        response.read()
        try:
            data = response.json()
            content = data["choices"][0]["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise ActionError(f"POST {url}: the answer is not a chat completion: {response.text[:200]!r}") from None
        context.token(content)
        return {"content": content, "usage": data.get("usage") or {}, "model": data.get("model") or body["model"]}

    def streamed(response: httpx.Response) -> dict[str, Any]:
        raise_for_status(response)
        parts: list[str] = []
        usage: dict[str, Any] = {}
        model = body["model"]
        chunks = 0
        finished = False
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                finished = True
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise ActionError(f"POST {url}: a stream event is not JSON: {data[:200]!r}") from None
            model = chunk.get("model") or model
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    parts.append(text)
                    chunks += 1
                    context.token(text)
        if not finished:
            raise ActionError(f"POST {url}: the stream ended before the answer was complete "
                              f"({chunks} chunks received, no [DONE])")
        return {"content": "".join(parts), "usage": usage, "model": model, "chunk_count": chunks}

    return with_retries(params, context, lambda: HttpCall(context, float(params["timeout"])).run(
        "POST", url, streamed if stream else plain, json=body, headers=target.headers, params=target.query))


def with_retries(params: dict[str, Any], context: ActionContext, attempt: Any) -> dict[str, Any]:
    """TEA's llm.call retries: with ``max_retries`` > 0, an HTTP 429/5xx, a timeout or a refused connection is
    tried again after ``base_delay`` * 2^n seconds (at most ``max_delay``; a server's Retry-After wins); the result
    then tells ``attempts`` and ``total_delay``, and running out is a result ``{error, success: false, ...}``.
    Other failures (HTTP 4xx) fail at once."""
    max_retries = int(params.get("max_retries") or 0)
    if max_retries <= 0:
        return attempt()
    attempts, total_delay = 0, 0.0
    while True:
        try:
            result = attempt()
        except ActionError as exc:
            if not exc.retryable:
                raise
            attempts += 1
            if attempts > max_retries:
                return {"error": f"Max retries ({max_retries}) exceeded. Last error: {exc.message}", "success": False,
                        "attempts": attempts, "total_delay": total_delay}
            delay = min(exc.retry_after if exc.retry_after is not None
                        else float(params["base_delay"]) * 2 ** (attempts - 1), float(params["max_delay"]))
            context.log(f"attempt {attempts} failed ({exc.message}); trying again in {delay:g} s", "warning")
            context.pause(delay)
            total_delay += delay
            continue
        return {**result, "attempts": attempts + 1, "total_delay": total_delay}


def _unless_failed(result: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    if result.get("success") is False:
        return result
    return {key: result[key] for key in keys if key in result}


@builtin("llm.call")
def llm_call(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{content, usage}`` (the shell provider adds ``provider`` and ``shell_provider``)."""
    result = _complete(params, context, stream=False)
    return _unless_failed(result, ("content", "usage", "provider", "shell_provider", "attempts", "total_delay"))


@builtin("llm.retry")
def llm_retry(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """TEA's deprecated llm.retry: llm.call whose ``max_retries`` defaults to 3."""
    return llm_call(params, state, context)


@builtin("llm.chat")
def llm_chat(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{content, model, tokens_used}`` (the Rust engine's local-model action, here over the same providers)."""
    params = with_default_model(params, context)
    result = _complete(params, context, stream=False)
    if result.get("success") is False:
        return result
    usage = result.get("usage") or {}
    return {"content": result["content"], "model": result.get("model") or params.get("model"),
            "tokens_used": usage.get("total_tokens")}


@builtin("llm.stream")
def llm_stream(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{content, usage, streamed: true, chunk_count}``."""
    result = _complete(params, context, stream=True)
    if result.get("success") is False:
        return result
    return {"content": result["content"], "usage": result.get("usage") or {}, "streamed": True,
            "chunk_count": result.get("chunk_count", 0),
            **{key: result[key] for key in ("provider", "shell_provider") if key in result}}


@builtin("llm.embed")
def llm_embed(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{embedding, dimensions, model}`` (``embeddings`` for a list of texts). Ollama is asked on its native
    ``/api/embed``; other providers on the OpenAI ``/embeddings`` route."""
    provider = resolve_provider(params)
    target = endpoint(provider, params)
    texts = params["text"]
    many = isinstance(texts, list)
    call = HttpCall(context, float(params["timeout"]))
    body = {"model": params["model"], "input": texts}
    if provider == "ollama":
        root = target.base.rstrip("/")
        root = root[:-3] if root.endswith("/v1") else root
        url = root + "/api/embed"
    else:
        url = target.url("embeddings")

    def read(response: httpx.Response) -> list[list[float]]:
        raise_for_status(response)
        response.read()
        try:
            data = response.json()
            if provider == "ollama":
                return [list(v) for v in data["embeddings"]]
            return [list(item["embedding"]) for item in sorted(data["data"], key=lambda d: d.get("index", 0))]
        except (ValueError, KeyError, TypeError):
            raise ActionError(f"POST {url}: the answer holds no embeddings: {response.text[:200]!r}") from None

    vectors = call.run("POST", url, read, json=body, headers=target.headers, params=target.query)
    if not vectors:
        raise ActionError(f"POST {url}: the answer holds no embeddings")
    result: dict[str, Any] = {"dimensions": len(vectors[0]), "model": params["model"]}
    if many:
        result["embeddings"] = vectors
    else:
        result["embedding"] = vectors[0]
    return result


# -- for actions built on the model (reason.*, plan.*, agent.*, validate.extraction's probes) -------------------------
def ask(context: ActionContext, messages: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    """One llm.call with ``options`` as its parameters (llm.call's defaults fill the rest; None means unset).
    Returns llm.call's result: ``{content, usage}``, or the shell provider's ``{error, success: false}``."""
    params = {p.name: p.default for p in CATALOG.builtins["llm.call"].params if p.default is not None}
    params.update({key: value for key, value in options.items() if value is not None})
    params["messages"] = messages
    return llm_call(params, {}, context)


_FENCED = re.compile(r"```(?:json)?\s*([\s\S]*?)```")
_BRACED = re.compile(r"\{[\s\S]*\}")


def json_answer(text: Any) -> Any:
    """The JSON in a model's answer, as TEA reads it: the whole text, else a fenced block, else the outermost
    ``{...}``. Raises ValueError when there is none."""
    if not isinstance(text, str):
        return text
    candidates = [text, *(m.group(1).strip() for m in _FENCED.finditer(text))]
    braced = _BRACED.search(text)
    if braced:
        candidates.append(braced.group())
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise ValueError(f"the answer is not JSON: {text[:200]!r}")
