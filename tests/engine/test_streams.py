"""Stream channels (`streams:`) across strategies and concurrent branches; the FORMAT cases 110-115 cover the
single-flow rules through the `tea-studio` command."""

from __future__ import annotations

import sys
import threading
import types

import pytest
from dask_fixtures import dask_local  # noqa: F401 - the fixture
from engine_helpers import run, workflow

from tea_studio.engine.budget import EngineCaps
from tea_studio.engine.events import LogLine
from tea_studio.engine.runner import RunError
from tea_studio.workflow.validation import validate

# A producer, a broadcast fork whose first branch also produces a channel, and a fan-in that reads that channel
# after the join: channels go to the branches and come back from them.
ROUND_TRIP = """
name: round-trip
nodes:
  - name: source
    run: |
      import sys
      for i in range(40):
        print(f"line {i}", file=sys.stdout)
      return {"written": 40}
    streams: {stdout: text}
  - name: shout
    run: |
      import sys
      n = 0
      for line in sys.stdin:
        sys.stdout.write(line.upper())
        n += 1
      return {"shouted": n}
    streams: {stdin: text, stdout: loud}
  - name: count
    run: |
      import sys
      return {"chars": len(sys.stdin.read())}
    streams: {stdin: text}
  - name: after
    run: |
      import sys
      lines = sys.stdin.readlines()
      return {"loud_lines": len(lines), "first": lines[0].strip(),
              "shouted": parallel_results[0]["shouted"], "chars": parallel_results[1]["chars"]}
    streams: {stdin: loud}
edges:
  - {from: __start__, to: source}
  - {from: source, to: [shout, count], parallel: true, stream_mode: broadcast, fan_in: after}
  - {from: after, to: __end__}
"""


@pytest.mark.parametrize("strategy", ["process", "dask"])
def test_the_same_file_ends_with_the_same_state_on_threads_and_in_workers(strategy, dask_local):  # noqa: F811
    """Channels travel with the branch state to process and Dask workers and back: same final state as on
    threads, with no trace of the channels in it."""
    states = {}
    for name in ("thread", strategy):
        states[name], sink = run(ROUND_TRIP, strategy=name, strategies=dask_local)
        logs = [e.text for e in sink.events if isinstance(e, LogLine)]
        assert "stream 'loud': 40 lines, 310 characters written" in logs
    thread_state = states["thread"]
    assert thread_state["loud_lines"] == 40 and thread_state["first"] == "LINE 0"
    assert thread_state["shouted"] == 40 and thread_state["chars"] == 310
    assert states[strategy] == thread_state
    assert all("__tea_stream_channels__" not in r for r in thread_state["parallel_results"])


# Two branches, each a producer and its consumer of its own channel; the producers write turn by turn through a
# barrier, so both run at the same time on two threads.
CONCURRENT = """
name: two-pipes
settings:
  parallel: {max_workers: 2}
nodes:
  - name: fork
    run: 'return {"started": True}'
  - name: make_a
    run: |
      import sys, _stream_test_sync
      for i in range(20):
        print(f"a{i}")
        _stream_test_sync.barrier.wait()
      return {}
    streams: {stdout: chan_a}
  - name: read_a
    run: |
      import sys
      return {"seen": [line.strip() for line in sys.stdin]}
    streams: {stdin: chan_a}
  - name: make_b
    run: |
      import sys, _stream_test_sync
      for i in range(20):
        sys.stdout.write(f"b{i}\\n")
        _stream_test_sync.barrier.wait()
      return {}
    streams: {stdout: chan_b}
  - name: read_b
    run: |
      import sys
      return {"seen": [line.strip() for line in sys.stdin]}
    streams: {stdin: chan_b}
  - name: join
    run: 'return {"a": parallel_results[0]["seen"], "b": parallel_results[1]["seen"]}'
edges:
  - {from: __start__, to: fork}
  - {from: fork, to: [make_a, make_b], parallel: true, fan_in: join}
  - {from: make_a, to: read_a}
  - {from: make_b, to: read_b}
  - {from: read_a, to: join}
  - {from: read_b, to: join}
  - {from: join, to: __end__}
"""


def test_concurrent_branches_never_see_each_others_channels(capfd):
    """Each stream node has its own sys: two producers writing at once on two threads fill their own channels,
    and nothing reaches the process's stdout."""
    sync = types.ModuleType("_stream_test_sync")
    sync.barrier = threading.Barrier(2, timeout=30)
    sys.modules["_stream_test_sync"] = sync
    try:
        state, _ = run(CONCURRENT, strategy="thread")
    finally:
        del sys.modules["_stream_test_sync"]
    assert state["a"] == [f"a{i}" for i in range(20)]
    assert state["b"] == [f"b{i}" for i in range(20)]
    assert capfd.readouterr().out == ""


def test_a_consumer_in_a_sibling_branch_of_its_producer_is_a_located_run_error():
    """The producer ends before its consumers start, so a producer and its consumer cannot be branches of one
    fork: the consumer's run error says so instead of reading nothing."""
    text = """
    nodes:
      - name: fork
        run: 'return {}'
      - name: make
        run: 'print("x")'
        streams: {stdout: c}
      - name: take
        run: |
          import sys
          got = sys.stdin.read()
        streams: {stdin: c}
      - name: join
        run: 'return {}'
    edges:
      - {from: __start__, to: fork}
      - {from: fork, to: [make, take], parallel: true, fan_in: join}
      - {from: join, to: __end__}
    """
    with pytest.raises(RunError) as info:
        run(text, strategy="thread")
    assert info.value.node == "take" and "stream 'c' was not written before node 'take'" in info.value.message


def test_a_producer_over_the_budget_fails_even_when_its_code_catches_the_error():
    """The run's state budget (--max-state-mb) bounds a channel; catching the error in the node does not let
    it go on writing or keep a partial channel."""
    text = """
    nodes:
      - name: flood
        run: |
          import sys
          try:
            for _ in range(4):
              sys.stdout.write("y" * (1 << 20))
          except Exception as exc:
            caught = str(exc)
        streams: {stdout: big}
    """
    with pytest.raises(RunError) as info:
        run(text, caps=EngineCaps(state_budget_mb=2))
    assert info.value.node == "flood"
    assert "node 'flood' wrote more to stream 'big' than the run's memory budget (2 MiB" in info.value.message
    state, _ = run(text, caps=EngineCaps(state_budget_mb=16))
    assert state == {}


def test_readers_of_one_channel_in_a_direct_fan_out_and_lua_streams_are_found_by_validate():
    """Two targets of one fork reading one channel need `stream_mode: broadcast` (an error at the edge); a Lua
    node with `streams:` is a warning (it cannot stream)."""
    flow = workflow("""
    nodes:
      - name: src
        language: lua
        run: 'return {}'
        streams: {stdout: t}
      - name: a
        run: 'import sys'
        streams: {stdin: t}
      - name: b
        run: 'import sys'
        streams: {stdin: t, stdout: t2, extra: x}
      - name: join
        run: 'return {}'
    edges:
      - {from: __start__, to: src}
      - {from: src, to: [a, b], parallel: true, fan_in: join}
      - {from: join, to: __end__}
    """)
    found = {(p.code, p.severity, p.node) for p in validate(flow)}
    assert ("STREAM_DIRECT_FAN_OUT", "error", "src") in found
    assert ("NODE_TYPE_NOT_SUPPORTED", "warning", "src") in found
    assert ("INVALID_STREAMS", "error", "b") in found
