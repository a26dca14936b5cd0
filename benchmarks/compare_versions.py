"""Compare two checkouts of TEA Studio on the engine, live-view and canvas benchmarks, interleaved.

Usage: ``python benchmarks/compare_versions.py BEFORE AFTER [--rounds 3] [--out FILE]`` where BEFORE and AFTER are
checkouts with their own ``.venv`` (``pip install -e .``). Each round runs every benchmark once under BEFORE's
interpreter, then once under AFTER's (A B A B ...), so load from elsewhere on the machine hits both alike; the table
gives the median of the rounds and after/before. The benchmark files are always this directory's, run against each
checkout's ``tea_studio`` (they only use what both versions have), so both sides measure the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (label, benchmark, how to read the value from its output)
LIVE_ROWS = [("live: longest GUI stall, median flood run (ms)", r"flood: longest GUI stall, median run\s+([\d.]+) ms"),
             ("live: 200 branches headless (ms)", r"200 branches: headless \(median\)\s+([\d.]+) ms"),
             ("live: 200 branches in the live view (ms)", r"200 branches: live view \(median\)\s+([\d.]+) ms")]
CANVAS_COLUMNS = ["open+first paint", "full repaint", "pan/zoom step", "drag 50 step"]


def measure_engine() -> dict[str, float]:
    """The bench_engine figures the comparison uses (run inside the checkout's interpreter)."""
    sys.path.insert(0, str(HERE))
    import bench_engine as bench

    rss, _lua = bench.memory_per_vm()
    return {"engine: VM ready (µs)": bench.vm_ready(False),
            "engine: per-node overhead, 1000-node chain (µs)": bench.per_node_us(),
            "engine: 100 branches into one fan-in (ms)": bench.fan_out_ms(100),
            "engine: 200 branches into one fan-in (ms)": bench.fan_out_ms(200, 5),
            "engine: memory per live VM (KiB)": rss}


def _run(tree: Path, args: list[str]) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([str(tree / ".venv" / "bin" / "python"), *args], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=900)
    if done.returncode not in (0, 1):  # bench_live returns 1 when a goal is missed: its figures still count
        raise RuntimeError(f"{args[0]} failed in {tree}:\n{done.stderr[-2000:]}")
    return done.stdout


def measure(tree: Path) -> dict[str, float]:
    figures = json.loads(_run(tree, [str(HERE / "compare_versions.py"), "--engine"]).strip().splitlines()[-1])
    live = _run(tree, [str(HERE / "bench_live.py"), "--repeat", "3", "--wide-repeat", "3"])
    for label, pattern in LIVE_ROWS:
        figures[label] = float(re.search(pattern, live).group(1))
    canvas = _run(tree, [str(HERE / "bench_canvas.py"), "--quick", "--no-settings"])
    for line in canvas.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 5 and cells[0] in ("100", "1000"):
            for column, value in zip(CANVAS_COLUMNS, cells[1:], strict=True):
                figures[f"canvas {cells[0]} nodes: {column} (ms)"] = float(value)
    return figures


def table(rounds: list[dict[str, dict[str, float]]]) -> str:
    labels = list(rounds[0]["before"])
    lines = ["| measure | before | after | after/before |", "|---|---:|---:|---:|"]
    for label in labels:
        before = statistics.median(r["before"][label] for r in rounds)
        after = statistics.median(r["after"][label] for r in rounds)
        lines.append(f"| {label} | {before:.2f} | {after:.2f} | {after / before:.2f} |")
    return "\n".join(lines)


def main() -> int:
    if "--engine" in sys.argv:
        print(json.dumps(measure_engine()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rounds = []
    for i in range(args.rounds):
        rounds.append({side: measure(tree) for side, tree in (("before", args.before), ("after", args.after))})
        print(f"round {i + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    text = (f"{table(rounds)}\n\nMedians of {args.rounds} interleaved rounds (before, after, before, after, ...).\n"
            f"Rounds:\n```\n{json.dumps(rounds, indent=1)}\n```\n")
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
