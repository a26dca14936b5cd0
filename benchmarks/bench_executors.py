"""Branch strategies side by side: thread, process (warm workers), dask on a LocalCluster, dask on a cluster of
``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1; plus the event stream of ``tea-studio run``.

Run: ``python benchmarks/bench_executors.py`` (about five minutes; needs the dask extra). Each figure is the median
of three runs after one warm-up run (workers started, cluster up). Speed-up is against the same branches run one
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

# About 0.4 s per branch here, so that what is measured is the parallel work rather than the fixed costs.
LUA_WORK = "local s = 0 for i = 1, 20000000 do s = s + i % 7 end return { part = s }"
PYTHON_WORK = "s = 0\nfor i in range(7000000):\n    s += i % 7\nreturn {'part': s}"
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


ROWS = [(count, label, body, language) for count in (2, 8)
        for label, body, language in (("CPU Lua", LUA_WORK, "lua"), ("CPU Python", PYTHON_WORK, "python"))]
TRIVIAL = 100


def column(strategy: str, strategies: Strategies | None) -> list[float]:
    """Wall seconds of each CPU-bound row, then of 100 trivial branches, on one executor."""
    walls = [timed(fan_out(count, body, language), strategy, strategies) for count, _l, body, language in ROWS]
    walls.append(timed(fan_out(TRIVIAL, "return { part = 1 }", "lua"), strategy, strategies))
    print(f"  {strategy}: " + ", ".join(f"{wall:.3f}" for wall in walls), flush=True)
    return walls


def strategies_table(sequence: list[float], columns: dict[str, list[float]]) -> list[str]:
    """The README table: wall time and speed-up against ``sequence`` per row; the trivial row's time against
    thread and per branch."""
    rows = ["| branches | work | sequence | " + " | ".join(columns) + " |",
            "|---|---|---:|" + "---:|" * len(columns)]
    for i, (count, label, _body, _language) in enumerate(ROWS):
        cells = [f"{walls[i]:.2f} s ({sequence[i] / walls[i]:.2f}x)" for walls in columns.values()]
        rows.append(f"| {count} | {label} | {sequence[i]:.2f} s | " + " | ".join(cells) + " |")
    thread = next(iter(columns.values()))[-1]
    cells = [f"{walls[-1] * 1000:.0f} ms ({walls[-1] / thread:.1f}x thread; {walls[-1] * 1000 / TRIVIAL:.2f} "
             "ms/branch)" for walls in columns.values()]
    rows.append(f"| {TRIVIAL} | trivial | - | " + " | ".join(cells) + " |")
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
    """Each executor is measured with only its own machinery up: idle Dask processes (and the LocalCluster's
    scheduler thread in this process) take a share of two cores and of the GIL, which would be charged to the
    thread and process columns."""
    from dask_fixtures import DaskCluster

    print(f"# bench_executors on {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    plain, stream = stream_ratio()
    print(f"stream: {plain * 1000:.0f} ms without, {stream * 1000:.0f} ms with --stream: {stream / plain:.2f}x "
          "(goal <= 1.3x)", flush=True)
    sequence = [timed(fan_out(count, body, language, workers=1), "thread", None) for count, _l, body, language in ROWS]
    columns = {"thread": column("thread", None)}
    with contextlib.closing(Strategies()) as local:
        columns["process"] = column("process", local)
    with contextlib.closing(Strategies()) as local:
        columns["dask-local"] = column("dask", local)
        local_client = local.strategy("dask", Limits())[0].client  # type: ignore[attr-defined]
        for name, seconds in event_transports(local_client).items():
            print(f"events: 2000 from one Dask task via {name}: {seconds * 1000:.0f} ms", flush=True)
    cluster = DaskCluster(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        with contextlib.closing(Strategies(dask_scheduler=cluster.address)) as remote:
            columns["dask cluster (2 workers)"] = column("dask", remote)
    finally:
        cluster.close()
    print(f"# load {os.getloadavg()[0]:.1f} at the end")
    print("\n".join(strategies_table(sequence, columns)))


if __name__ == "__main__":
    main()
