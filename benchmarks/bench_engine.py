"""Engine benchmarks: Lua VM start-up, parallel speed-up, per-node overhead, wide fan-outs, memory per VM.

Run: ``python benchmarks/bench_engine.py``. Every figure is a median or a ratio measured inside this one run
(interpreter start-up excluded). Prints a table: measure, value, goal.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time

from tea_studio.engine import lua_vm
from tea_studio.engine.events import BranchStarted, ListSink
from tea_studio.engine.lua_vm import LuaVM
from tea_studio.engine.runner import WorkflowRun
from tea_studio.workflow.yaml_io import load_workflow_text

SPIN = "local s = 0\nfor i = 1, {n} do s = s + i % 7 end\nreturn {{ {key} = s }}\n"


def _run(text: str, inputs: dict | None = None, sink=None) -> tuple[float, dict]:
    workflow = load_workflow_text(text)
    began = time.perf_counter()
    state = WorkflowRun(workflow, inputs, sink=sink).run()
    return time.perf_counter() - began, state


def _fan_out(count: int, body: str = "return { part = 1 }") -> str:
    lines = ["name: fan-out", f"settings: {{parallel: {{max_workers: {os.cpu_count() or 2}}}}}", "nodes:",
             "  - name: fork", "    language: lua", "    run: return { base = 1 }"]
    for i in range(count):
        lines += [f"  - name: b{i}", "    language: lua", f"    run: '{body}'"]
    lines += ["  - name: join", "    language: lua", "    run: 'return { n = #state.parallel_results }'", "edges:"]
    for i in range(count):
        lines.append(f"  - {{from: fork, to: b{i}, type: parallel, fan_in: join}}")
    for i in range(count):
        lines.append(f"  - {{from: b{i}, to: join}}")
    lines.append("  - {from: join, to: __end__}")
    return "\n".join(lines) + "\n"


def _indent(code: str, spaces: int = 6) -> str:
    return "".join(" " * spaces + line + "\n" for line in code.splitlines())


def vm_ready(keep_alive: bool) -> float:
    """Median µs to create a VM, sandbox it and set its limits. ``keep_alive=False`` is the steady state of a
    run: each VM is closed after its branch (outside the timed part), so its memory is reused by the next one;
    ``True`` keeps all 400 alive, so every creation takes fresh pages from the allocator."""
    keep, times = [], []
    for _ in range(400):
        began = time.perf_counter()
        vm = LuaVM().configure(30.0, 256, None, None)
        times.append(time.perf_counter() - began)
        if keep_alive:
            keep.append(vm)
        else:
            vm.close()
    return statistics.median(times) * 1e6


def _pool_idle() -> None:
    """Wait until the background pool has filled (what the idle time between two runs in the studio gives)."""
    pool = lua_vm._POOL
    if pool._thread is None:
        return  # nothing has used the pool yet: it makes no VMs until then
    deadline = time.monotonic() + 5
    while (len(pool._ready) < pool.size or pool._discarded) and time.monotonic() < deadline:
        time.sleep(0.002)


def vm_wait_in_branches(idle: bool) -> float:
    """Median µs a branch waited for its VM in 20-branch runs (``idle``: the pool had time to fill between runs;
    otherwise runs follow each other back to back)."""
    text = _fan_out(20)
    waits = []
    for _ in range(10):
        if idle:
            _pool_idle()
        sink = ListSink()
        _run(text, sink=sink)
        waits += [e.vm_ready_us for e in sink.of_type(BranchStarted)]
    return statistics.median(waits)


def parallel_ratio(n: int) -> tuple[float, float, float]:
    """Wall time of two CPU-bound Lua branches vs the same two loops in sequence (timeout limit active)."""
    spin_a, spin_b = SPIN.format(n=n, key="a"), SPIN.format(n=n, key="b")
    parallel = (
        "name: two\nnodes:\n  - name: fork\n"
        f"  - name: a\n    language: lua\n    run: |\n{_indent(spin_a)}"
        f"  - name: b\n    language: lua\n    run: |\n{_indent(spin_b)}"
        "  - name: join\nedges:\n"
        "  - {from: fork, to: a, type: parallel, fan_in: join}\n"
        "  - {from: fork, to: b, type: parallel, fan_in: join}\n"
        "  - {from: a, to: join}\n  - {from: b, to: join}\n  - {from: join, to: __end__}\n"
    )
    sequence = (
        "name: seq\nnodes:\n"
        f"  - name: a\n    language: lua\n    run: |\n{_indent(spin_a)}"
        f"  - name: b\n    language: lua\n    run: |\n{_indent(spin_b)}"
    )
    seq = statistics.median(_run(sequence)[0] for _ in range(3))
    par = statistics.median(_run(parallel)[0] for _ in range(3))
    return par / seq, par, seq


def per_node_us(count: int = 1000) -> float:
    lines = ["name: chain", f"settings: {{max_iterations: {count * 2}}}", "nodes:"]
    for i in range(count):
        lines += [f"  - name: n{i}", "    language: lua", "    run: return { i = 1 }"]
    text = "\n".join(lines) + "\n"
    times = [_run(text)[0] for _ in range(5)]
    return statistics.median(times) / count * 1e6


def fan_out_ms(count: int, repeats: int = 9, idle: bool = True) -> float:
    text = _fan_out(count)
    times = []
    for _ in range(repeats):
        if idle:
            _pool_idle()
        elapsed, state = _run(text)
        assert state["n"] == count
        times.append(elapsed)
    return statistics.median(times) * 1000


def dynamic_vs_static(count: int = 1000, repeats: int = 5, items_in_state: bool = False) \
        -> tuple[float, float, float]:
    """(dynamic_parallel ms, static fork ms, ratio): ``count`` items of trivial Lua with max_concurrency 8 (one
    fresh VM per item) against ``count`` static branches doing the same work on 8 workers. The items come from a
    range, or (``items_in_state``) from a list in the state, which then both runs carry into every branch."""
    items = "state.items" if items_in_state else "range(state.count) | list"
    dynamic = (f"name: dynamic\nnodes:\n  - name: fan\n    type: dynamic_parallel\n    items: \"{{{{ {items} }}}}\"\n"
               "    max_concurrency: 8\n    steps:\n      - name: work\n        language: lua\n"
               "        run: return { part = state.item + 1 }\n"
               "  - name: join\n    language: lua\n    run: 'return { n = #state.parallel_results }'\n")
    static = _fan_out(count, "return { part = 2 }").replace(f"max_workers: {os.cpu_count() or 2}", "max_workers: 8")
    inputs = {"items": list(range(count))} if items_in_state else {"count": count}
    times: dict[str, list[float]] = {"dynamic": [], "static": []}
    for _ in range(repeats):  # interleaved, so load from elsewhere hits both alike
        for name, text in (("dynamic", dynamic), ("static", static)):
            _pool_idle()
            elapsed, state = _run(text, inputs)
            assert state["n"] == count
            times[name].append(elapsed)
    dyn, sta = (statistics.median(times[name]) * 1000 for name in ("dynamic", "static"))
    return dyn, sta, dyn / sta


def _heap_kb() -> float:
    """Bytes in use by malloc (Lua runtimes allocate there), in KiB."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return (info.uordblks + info.hblkhd) / 1024


def memory_per_vm(count: int = 200) -> tuple[float, float]:
    """(heap KiB per live VM incl. its Python wrapper, Lua allocator KiB per VM after one trivial node)."""
    _pool_idle()  # the pool thread frees discarded VMs: let it finish so the heap only grows by ours
    gc.collect()
    before = _heap_kb()
    vms = [LuaVM().configure(30.0, 256, None, None) for _ in range(count)]
    for vm in vms:
        vm.run_node("n", "return { i = 1 }", {"a": 1})
    after = _heap_kb()
    lua_kb = statistics.median(vm.memory_kb() for vm in vms)
    for vm in vms:
        vm.close()
    return (after - before) / count, lua_kb


def main() -> int:
    rows = []
    rows.append(("VM ready (create + sandbox + limits), median", f"{vm_ready(False):.1f} µs", "<= 60 µs"))
    rows.append(("VM ready while 400 VMs stay alive, median", f"{vm_ready(True):.1f} µs", "-"))
    rows.append(("branch wait for its VM, pool filled between runs", f"{vm_wait_in_branches(True):.1f} µs", "~0"))
    rows.append(("branch wait for its VM, runs back to back", f"{vm_wait_in_branches(False):.1f} µs", "-"))
    ratio, par, seq = parallel_ratio(int(os.environ.get("TEA_BENCH_SPIN", "35000000")))
    rows.append(("2 CPU-bound Lua branches / same loops in sequence", f"{ratio:.2f} ({par:.2f} s / {seq:.2f} s)",
                 "<= 0.55"))
    rows.append(("per-node overhead, 1000 trivial Lua nodes", f"{per_node_us():.1f} µs/node", "<= 20 µs"))
    rows.append(("100 trivial branches into one fan-in, median", f"{fan_out_ms(100):.1f} ms", "<= 15 ms"))
    rows.append(("100 trivial branches, runs back to back", f"{fan_out_ms(100, idle=False):.1f} ms", "-"))
    rows.append(("200 trivial branches into one fan-in, median", f"{fan_out_ms(200, 5):.1f} ms", "-"))
    for in_state in (False, True):
        dyn, sta, ratio = dynamic_vs_static(items_in_state=in_state)
        rows.append((f"dynamic_parallel, 1000 Lua items (max_concurrency 8) / 1000 static branches"
                     f"{', items in state' if in_state else ''}", f"{ratio:.2f} ({dyn:.0f} ms / {sta:.0f} ms)",
                     "<= 2"))
    rss, lua = memory_per_vm()
    rows.append(("memory per live VM (malloc heap, 200 VMs)", f"{rss:.1f} KiB", "<= 64 KiB"))
    rows.append(("Lua allocator per VM after one node", f"{lua:.1f} KiB", "-"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':<28} goal")
    for name, value, goal in rows:
        print(f"{name.ljust(width)}  {value:<28} {goal}")
    print(f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
