"""Many branches and many runs: no result lost or duplicated, and memory that stays put run after run."""

import gc
import os
import sys

from tea_studio.engine.runner import WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow_text

BRANCHES = 20


def _fan_out() -> str:
    nodes = "".join(f"  - name: b{i}\n    language: lua\n    run: return {{ part = state.run * 100 + {i} }}\n"
                    for i in range(BRANCHES))
    edges = "".join(f"  - {{from: fork, to: b{i}, type: parallel, fan_in: join}}\n  - {{from: b{i}, to: join}}\n"
                    for i in range(BRANCHES))
    return ("name: stress\nsettings:\n  parallel: {max_workers: 4}\nnodes:\n  - name: fork\n" + nodes +
            "  - name: join\n    language: lua\n    run: |\n      local parts = {}\n"
            "      for i, r in ipairs(state.parallel_results) do parts[i] = r.part end\n"
            "      return { parts = parts }\nedges:\n" + edges)


def test_20_branches_200_runs_lose_and_duplicate_nothing():
    workflow = load_workflow_text(_fan_out())
    for run in range(200):
        state = WorkflowRun(workflow, {"run": run}).run()
        assert state["parts"] == [run * 100 + i for i in range(BRANCHES)], run


def _rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def test_1000_runs_back_to_back_keep_memory_bounded(record_property):
    workflow = load_workflow_text("name: loop\nnodes:\n  - name: a\n    language: lua\n"
                                  "    run: return { n = (state.n or 0) + 1, text = string.rep('x', 1000) }\n"
                                  "  - name: b\n    language: lua\n    run: return { m = state.n * 2 }\n"
                                  "edges:\n  - {from: a, to: b}\n")
    for _ in range(200):  # warm up: the VM pool, caches, the allocator's arenas
        WorkflowRun(workflow).run()
    gc.collect()
    before = _rss_kib()
    for _ in range(1000):
        assert WorkflowRun(workflow).run()["m"] == 2
    gc.collect()
    growth = _rss_kib() - before
    for _ in range(1000):
        WorkflowRun(workflow).run()
    gc.collect()
    further = _rss_kib() - before - growth
    record_property("rss_growth_kib_first_1000_runs", growth)
    record_property("rss_growth_kib_next_1000_runs", further)
    print(f"RSS growth: {growth} KiB over 1000 runs, then {further} KiB over 1000 more", file=sys.stderr)
    assert growth < 64 * 1024  # the pool and the allocator settle in
    assert further < 8 * 1024  # and then nothing accumulates run after run
