"""Document speed: load, validate, auto-layout and dump-after-edit of generated 100 / 1000 / 2000-node workflows.

Workflows are chains of Lua nodes with goto rules, a loop back every few nodes and a three-way parallel fork every
block. Each figure is the median of several runs; validate runs with cold caches. Goals at 2000 nodes: load +
validate <= 1 s, layout <= 1 s. The last column times a whole `python -m tea_studio validate FILE` process.

    .venv/bin/python benchmarks/bench_document.py [--runs 5] [--sizes 100,1000,2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from tea_studio.workflow import validation
from tea_studio.workflow.layout import auto_layout
from tea_studio.workflow.validation import validate
from tea_studio.workflow.yaml_io import dump_workflow, load_workflow_text

GOAL_SECONDS = 1.0


def workflow_text(count: int) -> str:
    """A TEA workflow of ``count`` nodes: blocks of a guarded chain, a loop back, and a fork into 3 branches."""
    lines = ["name: bench", "settings:", "  max_iterations: 100000", "nodes:"]
    edges = []
    block = 0
    made = 0
    while made < count - 1:
        b = block
        lines += [f"  - name: step{b}", "    language: lua", "    run: |",
                  f"      local n = (state.n or 0) + {b}", "      return { n = n, last = 'step' }",
                  "    goto:", f"      - if: \"state.n > {b * 1000} and state.last != 'x{b}'\"",
                  f"        to: check{b}", f"      - to: fork{b}",
                  f"  - name: check{b}", "    language: lua", "    run: |",
                  f"      return {{ checked = {b} }}",
                  "    goto:", f"      - if: \"state.checked < {b}\"", f"        to: step{b}",
                  f"      - to: fork{b}",
                  f"  - name: fork{b}", "    language: lua", "    run: |", "      return { forked = true }"]
        made += 3
        for k in range(3):
            lines += [f"  - name: branch{b}_{k}", "    language: lua", "    run: |",
                      f"      return {{ part = (state.n or 0) * {k + 1} }}"]
            edges += [f"  - {{from: fork{b}, to: branch{b}_{k}, type: parallel, fan_in: join{b}}}",
                      f"  - {{from: branch{b}_{k}, to: join{b}}}"]
        made += 3
        lines += [f"  - name: join{b}", "    language: lua", "    run: |", "      local total = 0",
                  "      for _, r in ipairs(state.parallel_results) do total = total + r.part end",
                  "      return { total = total }"]
        made += 1
        block += 1
        edges.append(f"  - {{from: join{b}, to: {'step' + str(block) if made < count - 1 else 'finish'}}}")
    lines += ["  - name: finish", "    language: lua", "    run: |", "      return { done = true }"]
    return "\n".join(lines + ["edges:"] + edges) + "\n"


def median_ms(action, runs: int, before=None) -> float:
    times = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cli_validate_ms(text: str, runs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.yaml")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        command = [sys.executable, "-m", "tea_studio", "validate", path]
        return median_ms(lambda: subprocess.run(command, capture_output=True, check=True), runs)


def measure(count: int, runs: int) -> dict[str, float]:
    text = workflow_text(count)
    workflow = load_workflow_text(text)
    assert len(workflow.nodes) >= count, len(workflow.nodes)
    problems = validate(workflow)
    assert not [p for p in problems if p.is_error], problems[:3]

    def edit_and_dump():
        node = workflow.nodes[len(workflow.nodes) // 2]
        node.code = (node.code or "") + "-- edited\n"
        dump_workflow(workflow)

    load = median_ms(lambda: load_workflow_text(text), runs)
    check = median_ms(lambda: validate(workflow), runs, before=validation.expression_error.cache_clear)
    layout = median_ms(lambda: auto_layout(workflow), runs)
    dump = median_ms(edit_and_dump, runs)
    return {"nodes": len(workflow.nodes), "load": load, "validate": check, "layout": layout, "dump": dump,
            "cli": cli_validate_ms(text, max(1, runs // 2))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,2000")
    args = parser.parse_args(argv)
    header = ("nodes", "load ms", "validate ms", "layout ms", "dump after edit ms", "load+validate vs 1 s goal",
              "CLI validate process ms")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(size, args.runs)
        both = row["load"] + row["validate"]
        print(f"| {row['nodes']} | {row['load']:.0f} | {row['validate']:.0f} | {row['layout']:.0f} | "
              f"{row['dump']:.0f} | {both:.0f} ms = {both / (GOAL_SECONDS * 1000):.2f}x | {row['cli']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
