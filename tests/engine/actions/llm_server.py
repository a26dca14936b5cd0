"""A test-only OpenAI-compatible server on 127.0.0.1 (plus Ollama's native embedding route and a few plain JSON
routes for http.get/post). What it answers depends on the model name, so a workflow picks the behaviour:

- ``echo`` (any other name too): the content is ``echo: <last user message>``
- ``seq:a|b|c``: successive calls answer ``a``, then ``b``, then ``c`` (then ``c`` again)
- ``fail-500``: HTTP 500 with an OpenAI-style error body
- ``flaky:N``: the first N calls get HTTP 503 (``Retry-After: 0``), later ones answer like ``echo``
- ``slow``: no answer until the test ends (for timeouts and Stop)
- ``cut``: streams two chunks, then closes the connection without ``[DONE]``
- ``script``: the next answer of ``server.script`` (a test fills it; the last one repeats)

Every request is recorded (path, headers, JSON body); ``received`` is set whenever one arrives.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LlmServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.script: list[str] = []
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.record(self, None)
                if self.path.startswith("/json"):
                    self.send_json(200, {"items": [1, 2, 3], "auth": self.headers.get("Authorization")})
                elif self.path.startswith("/text"):
                    self.send_body(200, b"plain words", "text/plain")
                elif self.path.startswith("/status/500"):
                    self.send_json(500, {"detail": "server exploded"})
                elif self.path.startswith("/slow"):
                    server.release.wait(30)
                else:
                    self.send_json(404, {"detail": "no such route"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = raw.decode("utf-8", "replace")
                server.record(self, body)
                path = self.path.split("?")[0]
                if path.endswith("/chat/completions"):
                    server.chat(self, body)
                elif path.endswith("/embeddings"):
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    self.send_json(200, {"object": "list", "model": body["model"],
                                         "data": [{"index": i, "embedding": vector(t)} for i, t in enumerate(texts)]})
                elif path == "/api/embed":  # Ollama's native route
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    self.send_json(200, {"model": body["model"], "embeddings": [vector(t) for t in texts]})
                elif path == "/echo":
                    self.send_json(200, {"received": body})
                else:
                    self.send_json(404, {"detail": "no such route"})

            def send_json(self, status: int, data: Any) -> None:
                self.send_body(status, json.dumps(data).encode("utf-8"), "application/json")

            def send_body(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> LlmServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def record(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        with self._lock:
            self.requests.append({"path": handler.path, "headers": dict(handler.headers), "body": body})
        self.received.set()

    def answer(self, model: str, messages: list[dict[str, Any]]) -> str:
        if model == "script":
            with self._lock:
                return self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if model.startswith("seq:"):
            options = model[4:].split("|")
            with self._lock:
                i = self._counters.get(model, 0)
                self._counters[model] = i + 1
            return options[min(i, len(options) - 1)]
        user = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return f"echo: {user[-1] if user else ''}"

    def chat(self, handler: Any, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model == "fail-500":
            handler.send_json(500, {"error": {"message": "the model is on fire", "type": "server_error"}})
            return
        if model.startswith("flaky:"):
            with self._lock:
                seen = self._counters[model] = self._counters.get(model, 0) + 1
            if seen <= int(model[6:]):
                handler.send_response(503)
                handler.send_header("Retry-After", "0")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
        if model == "slow":
            self.release.wait(30)
            return
        content = self.answer(model, body.get("messages") or [])
        usage = {"prompt_tokens": 3, "completion_tokens": len(content.split()), "total_tokens": 3 + len(content.split())}
        if not body.get("stream"):
            handler.send_json(200, {"id": "c1", "object": "chat.completion", "model": model, "usage": usage,
                                    "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant", "content": content}}]})
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()  # HTTP/1.0 without a length: the body ends when the connection closes
        words = content.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            chunk = {"id": "c1", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            handler.wfile.flush()
            if model == "cut" and i == 1:
                return
        handler.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage, 'model': model})}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")


def vector(text: str) -> list[float]:
    """A small deterministic embedding: length, vowels, 1."""
    return [float(len(text)), float(sum(c in "aeiou" for c in text.lower())), 1.0]
