"""Branch strategies side by side: thread, process (warm workers), dask on a LocalCluster, dask on a cluster of
``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1; plus the event stream of ``tea-studio run``.

Run: ``python benchmarks/bench_executors.py`` (about two minutes; needs the dask extra). Each figure is the median
of a few runs after one warm-up run (workers started, cluster up). Speed-up is against the same branches run one
after another (``max_workers: 1``, thread). Per-branch overhead is the wall time of 100 trivial branches divided by
100. Goals on 2 cores: CPU-bound Python >= 1.7x on process and on Dask; CPU-bound Lua >= 1.8x on thread;
100 trivial branches on process <= 5x thread; --stream <= 1.3x the run without it.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

from tea_studio.engine.executors import Strategies
from tea_studio.engine.plan import Limits
from tea_studio.engine.runner import WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow_text

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "engine"))

LUA_WORK = "local s = 0 for i = 1, 6000000 do s = s + i % 7 end return { part = s }"
PYTHON_WORK = "s = 0\nfor i in range(2500000):\n    s += i % 7\nreturn {'part': s}"
REPEAT = 3


def fan_out(count: int, body: str, language: str, workers: int | None = None) -> str:
    """A fork into ``count`` one-node branches of ``body``."""
    lines = ["name: bench", "settings:", f"  parallel: {{max_workers: {workers or 0}}}", "  lua: {timeout: 120}",
             "nodes:", "  - {name: fork, language: lua, run: 'return { base = 1 }'}"]
    for i in range(count):
        lines += [f"  - name: b{i}", f"    language: {language}", "    run: |"]
        lines += [f"      {line}" for line in body.splitlines()]
    lines += ["  - {name: join, language: lua, run: 'return { n = #state.parallel_results }'}", "edges:"]
    lines += [f"  - {{from: fork, to: b{i}, type: parallel, fan_in: join}}" for i in range(count)]
    lines += [f"  - {{from: b{i}, to: join}}" for i in range(count)]
    lines.append("  - {from: join, to: __end__}")
    return "\n".join(lines) + "\n"


def timed(text: str, strategy: str, strategies: Strategies | None, repeat: int = REPEAT) -> float:
    workflow = load_workflow_text(text)
    WorkflowRun(workflow, strategy=strategy, strategies=strategies).run()  # warm-up
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        WorkflowRun(workflow, strategy=strategy, strategies=strategies).run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def strategies_table(where: dict[str, tuple[str, Strategies | None]]) -> list[str]:
    rows = ["| branches | work | sequence | " + " | ".join(where) + " |",
            "|---|---|---|" + "---|" * len(where)]
    for count in (2, 8):
        for label, body, language in (("CPU Lua", LUA_WORK, "lua"), ("CPU Python", PYTHON_WORK, "python")):
            sequence = timed(fan_out(count, body, language, workers=1), "thread", None, repeat=1)
            cells = []
            for strategy, strategies in where.values():
                wall = timed(fan_out(count, body, language), strategy, strategies, repeat=1)
                cells.append(f"{wall:.2f} s ({sequence / wall:.2f}x)")
            rows.append(f"| {count} | {label} | {sequence:.2f} s | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    trivial = fan_out(100, "return { part = 1 }", "lua")
    cells = []
    thread = None
    for strategy, strategies in where.values():
        wall = timed(trivial, strategy, strategies)
        thread = thread or wall
        cells.append(f"{wall * 1000:.0f} ms ({wall / thread:.1f}x thread; {wall * 10:.2f} ms/branch)")
    rows.append("| 100 | trivial | - | " + " | ".join(cells) + " |")
    print(rows[-1], flush=True)
    return rows


def stream_ratio(nodes: int = 1000) -> tuple[float, float]:
    """Median seconds of ``tea-studio run`` (in-process) on a chain of trivial Lua nodes, without and with
    ``--stream`` (stdout to /dev/null)."""
    from tea_studio.cli import main

    lines = ["name: chain", "nodes:"] + [f"  - {{name: n{i}, language: lua, run: 'return {{ x = {i} }}'}}"
                                         for i in range(nodes)]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as file:
        file.write("\n".join(lines) + "\n")
    result = []
    try:
        for extra in ([], ["--stream"]):
            times = []
            for _ in range(REPEAT + 2):
                with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
                        contextlib.redirect_stderr(io.StringIO()):
                    began = time.perf_counter()
                    main(["run", file.name, *extra])
                    times.append(time.perf_counter() - began)
            result.append(statistics.median(times[1:]))
    finally:
        os.unlink(file.name)
    return result[0], result[1]


def event_transports(client, messages: int = 2000) -> dict[str, float]:
    """Seconds until ``messages`` small events from one task reach the caller: worker event log vs Queue."""
    import threading

    from distributed import Queue

    def by_log(topic: str, count: int) -> None:
        from distributed import get_worker

        worker = get_worker()
        for i in range(count):
            worker.log_event(topic, [i, b"x" * 200])

    def by_queue(name: str, count: int) -> None:
        queue = Queue(name)
        for i in range(count):
            queue.put([i, b"x" * 200])

    done = threading.Event()
    seen = [0]

    def handler(event) -> None:
        seen[0] += 1
        if seen[0] == messages:
            done.set()

    client.subscribe_topic("bench-events", handler)
    began = time.perf_counter()
    client.submit(by_log, "bench-events", messages, pure=False).result()
    done.wait(120)
    log_s = time.perf_counter() - began
    client.unsubscribe_topic("bench-events")
    queue = Queue("bench-queue", client=client)
    began = time.perf_counter()
    future = client.submit(by_queue, "bench-queue", messages, pure=False)
    for _ in range(messages):
        queue.get()
    future.result()
    return {"worker event log": log_s, "distributed Queue": time.perf_counter() - began}


def main() -> None:
    from dask_fixtures import DaskCluster

    print(f"# bench_executors on {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    plain, stream = stream_ratio()
    print(f"stream: {plain * 1000:.0f} ms without, {stream * 1000:.0f} ms with --stream: {stream / plain:.2f}x "
          "(goal <= 1.3x)", flush=True)
    local = Strategies()
    folder = tempfile.mkdtemp(prefix="bench-dask-")
    cluster = DaskCluster(folder)
    remote = Strategies(dask_scheduler=cluster.address)
    try:
        local_client = local.strategy("dask", Limits())[0].client  # type: ignore[attr-defined]
        for name, seconds in event_transports(local_client).items():
            print(f"events: 2000 from one Dask task via {name}: {seconds * 1000:.0f} ms", flush=True)
        rows = strategies_table({"thread": ("thread", None), "process": ("process", local),
                                 "dask-local": ("dask", local), "dask cluster (2 workers)": ("dask", remote)})
        print("\n".join(rows))
    finally:
        remote.close()
        local.close()
        cluster.close()


if __name__ == "__main__":
    main()
