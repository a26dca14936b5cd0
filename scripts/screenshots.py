"""Regenerate the README pictures under docs/ by running the studio offscreen on the examples.

    .venv/bin/python scripts/screenshots.py [--out docs]

Each picture comes from its own ``python -m tea_studio open EXAMPLE --screenshot OUT.png`` process with throwaway
settings and data folders. The run picture (``--run``) is skipped with a note if running fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"

# (picture, example, theme, extra arguments, optional)
PICTURES = (
    ("studio-parallel.png", "parallel_fanout", "light", (), False),
    ("studio-dark.png", "lua_pipeline", "dark", (), False),
    ("studio-loop.png", "loop", "light", (), False),
    ("studio-run.png", "parallel_fanout", "light", ("--run", "--input", '{"value": 7}'), True),
    ("studio-notes.png", "notes_and_groups", "light", (), False),
    ("studio-big-graph.png", "support_triage", "light", (), False),
)


def take(out_dir: Path, picture: str, example: str, theme: str, extra: tuple[str, ...]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="tea-studio-shot-") as scratch:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEA_STUDIO_THEME=theme,
                   TEA_STUDIO_CONFIG_DIR=str(Path(scratch) / "config"), TEA_STUDIO_DATA_DIR=str(Path(scratch) / "data"))
        command = [sys.executable, "-m", "tea_studio", "open", str(EXAMPLES / f"{example}.yaml"),
                   "--screenshot", str(out_dir / picture), *extra]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs"), help="folder for the pictures (default: docs/)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for picture, example, theme, extra, optional in PICTURES:
        done = take(out_dir, picture, example, theme, extra)
        if done.returncode == 0:
            print(f"wrote {out_dir / picture}")
        elif optional:
            print(f"skipped {picture}: {done.stderr.strip().splitlines()[-1:] or ['the run failed']}")
        else:
            failed += 1
            print(f"FAILED {picture} (exit {done.returncode}):\n{done.stderr}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
