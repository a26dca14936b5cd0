import pytest


@pytest.fixture
def workflow_file(tmp_path):
    """Write a workflow text to a file and return its path."""
    counter = iter(range(1_000_000))

    def write(text: str, name: str | None = None) -> str:
        path = tmp_path / (name or f"wf{next(counter)}.yaml")
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write
