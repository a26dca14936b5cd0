"""The test LLM server (started once per test that asks for it) and the environment pointing TEA's provider
detection at it."""

import pathlib
import sys

import pytest
from llm_server import LlmServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # engine_helpers, beside the engine tests


@pytest.fixture
def llm_server(monkeypatch):
    """A running OpenAI-compatible server on 127.0.0.1; no provider environment variables leak into the test."""
    for name in ("OLLAMA_API_BASE", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT",
                 "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    server = LlmServer().start()
    yield server
    server.stop()
