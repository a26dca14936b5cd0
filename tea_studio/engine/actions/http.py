"""http.get / http.post, and the one HTTP helper every network action uses (httpx): timeouts become one-line
errors, and Stop aborts the request at once (the connection is shut down from the stopping thread)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx

from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.registry import builtin


class HttpCall:
    """One request, run in a helper thread so the flow can give up on it: ``cancel`` closes the client and shuts
    the socket down, which wakes a read blocked on a silent server."""

    def __init__(self, context: ActionContext, timeout: float) -> None:
        self.context = context
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True)
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None

    def cancel(self) -> None:
        with self._lock:
            response = self._response
        if response is not None:
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.client.close()

    def run(self, method: str, url: str, consume: Callable[[httpx.Response], Any], **kwargs: Any) -> Any:
        """Send the request and hand the open (streamed) response to ``consume``; returns what it returns."""

        def work() -> Any:
            with self.client.stream(method, url, **kwargs) as response:
                with self._lock:
                    self._response = response
                return consume(response)

        try:
            return self.context.call_cancellable(work, self.cancel)
        except httpx.TimeoutException as exc:
            raise ActionError(f"{method} {url}: no answer within {self.client.timeout.read:g} s "
                              f"({type(exc).__name__})", retryable=True) from None
        except httpx.HTTPError as exc:
            raise ActionError(f"{method} {url}: {type(exc).__name__}: {exc}",
                              retryable=isinstance(exc, httpx.TransportError)) from None
        finally:
            self.client.close()


def raise_for_status(response: httpx.Response) -> None:
    """A non-2xx answer as one line: the status and the start of the body."""
    if response.is_success:
        return
    response.read()
    body = response.text.strip().replace("\n", " ")
    try:
        retry_after = float(response.headers.get("Retry-After", ""))
    except ValueError:
        retry_after = None
    raise ActionError(f"{response.request.method} {response.request.url}: HTTP {response.status_code} "
                      f"{response.reason_phrase}" + (f": {body[:300]}" if body else ""),
                      retryable=response.status_code == 429 or response.status_code >= 500, retry_after=retry_after)


def _body(response: httpx.Response) -> Any:
    raise_for_status(response)
    response.read()
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def _headers(params: dict[str, Any]) -> dict[str, str]:
    """The request's headers as text; one whose value rendered to nothing (an unset secret or state key) is named."""
    headers = params.get("headers") or {}
    if not isinstance(headers, dict):
        raise ActionError(f"headers must be a mapping of names to values, not {type(headers).__name__}")
    missing = [str(name) for name, value in headers.items() if value is None]
    if missing:
        raise ActionError(f"header {', '.join(repr(m) for m in missing)} has no value (the secret or state key "
                          "its template names is not set)")
    return {str(name): value if isinstance(value, (str, bytes)) else json.dumps(value) if isinstance(
        value, (dict, list)) else str(value) for name, value in headers.items()}


@builtin("http.get")
def http_get(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> Any:
    """The JSON body (TEA's result), or the text when the body is not JSON; a non-2xx status fails the node."""
    return HttpCall(context, float(params["timeout"])).run(
        "GET", params["url"], _body, headers=_headers(params), params=params.get("params"))


@builtin("http.post")
def http_post(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> Any:
    body: dict[str, Any] = {}
    if params.get("json") is not None:
        body["json"] = params["json"]
    elif params.get("data") is not None:
        data = params["data"]
        body["data" if isinstance(data, dict) else "content"] = data if isinstance(data, (dict, bytes)) else str(data)
    return HttpCall(context, float(params["timeout"])).run(
        "POST", params["url"], _body, headers=_headers(params), **body)
