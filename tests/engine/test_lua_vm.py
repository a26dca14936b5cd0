"""The Lua VM: sandbox, conversions, return forms, errors with lines, print, limits that cannot be escaped."""

from __future__ import annotations

import threading
import time

import pytest

from tea_studio.engine.lua_vm import LuaNodeError, LuaVM, take_vm


def make_vm(**kwargs) -> LuaVM:
    return LuaVM().configure(**kwargs)


def test_sandbox_removes_escape_hatches_and_keeps_safe_libraries():
    vm = make_vm()
    names = ["os", "io", "debug", "loadfile", "dofile", "load", "require", "package", "collectgarbage", "python"]
    code = "return {" + ", ".join(f"{n} = type({n})" for n in names) + ", dump = type(string.dump)," \
        " sdump = type(('x').dump), fmt = type(string.format), co = type(coroutine.wrap), u = type(utf8.char) }"
    result = vm.run_node("probe", code, {})
    assert {k: result[k] for k in names + ["dump", "sdump"]} == {k: "nil" for k in names + ["dump", "sdump"]}
    assert (result["fmt"], result["co"], result["u"]) == ("function", "function", "function")


def test_state_is_a_local_argument_not_a_global():
    vm = make_vm()
    assert vm.run_node("n", "return { g = type(_G.state), l = state.x }", {"x": 3}) == {"g": "nil", "l": 3}


def test_python_to_lua_conversions():
    vm = make_vm()
    state = {"items": [3, 4, 5], "cfg": {"inner": {"depth": 2}}, "nothing": None, "ratio": 1.25, "flag": False}
    code = ("return { n = #state.items, first = state.items[1], depth = state.cfg.inner.depth,"
            " is_nil = state.nothing == nil, ratio = state.ratio, flag_type = type(state.flag) }")
    assert vm.run_node("in", code, state) == {
        "n": 3, "first": 3, "depth": 2, "is_nil": True, "ratio": 1.25, "flag_type": "boolean"}


def test_lua_to_python_conversions_keep_types():
    vm = make_vm()
    code = ("return { whole = 7.0, half = 2.5, div = 9 / 3, big = 1e6, empty = {}, list = {1, {x = 2.0}},"
            " mixed = {10, 20, label = 'm'}, sparse = {[1] = 'a', [3] = 'c'}, t = true }")
    result = vm.run_node("out", code, {})
    assert result == {"whole": 7, "half": 2.5, "div": 3, "big": 1000000, "empty": {}, "list": [1, {"x": 2}],
                      "mixed": {"1": 10, "2": 20, "label": "m"}, "sparse": {"1": "a", "3": "c"}, "t": True}
    assert type(result["whole"]) is int and type(result["half"]) is float and result["empty"] == {}


@pytest.mark.parametrize(("code", "expected"), [
    ("return { a = 1 }", {"a": 1}),
    ("return nil", None),
    ("local x = 1", None),
    ("return 42", {"result": 42}),
    ("return false", {"result": False}),
    ("return 'done'", {"result": "done"}),
    ("return { 'x', 'y' }", {"result": ["x", "y"]}),
    ("state.a = 5", None),
])
def test_return_forms(code, expected):
    assert make_vm().run_node("n", code, {"a": 1}) == expected


def test_mutating_state_inside_lua_does_not_touch_the_python_state():
    state = {"cfg": {"owner": "main"}}
    make_vm().run_node("n", "state.cfg.owner = 'lua'", state)
    assert state == {"cfg": {"owner": "main"}}


def test_runtime_error_carries_the_line_inside_the_node_code():
    vm = make_vm()
    with pytest.raises(LuaNodeError) as info:
        vm.run_node("explode", "local a = 1\nlocal b = nil\nreturn b.field\n", {})
    assert info.value.line == 3
    assert "attempt to index a nil value" in info.value.message


def test_syntax_error_carries_the_line():
    with pytest.raises(LuaNodeError) as info:
        make_vm().run_node("bad", "local a = 1\nreturn {\n", {})
    assert info.value.line is not None and info.value.line >= 2


def test_error_with_level_zero_keeps_the_message():
    with pytest.raises(LuaNodeError) as info:
        make_vm().run_node("n", "error('plain message', 0)", {})
    assert info.value.message == "plain message" and info.value.line is None


def test_print_goes_to_the_log_callback():
    lines = []
    vm = make_vm(on_print=lines.append)
    vm.run_node("n", "print('hello', 42, nil, true)", {})
    assert lines == ["hello\t42\tnil\ttrue"]


def test_globals_persist_within_one_vm_but_never_in_another():
    first, second = take_vm().configure(), take_vm().configure()
    first.run_node("set", "secret = 42\nfunction helper() return 1 end", {})
    assert first.run_node("get", "return { s = secret, h = type(helper) }", {}) == {"s": 42, "h": "function"}
    assert second.run_node("get", "return { s = type(secret), h = type(helper) }", {}) == {"s": "nil", "h": "nil"}


def test_pool_hands_out_each_vm_once():
    vms = [take_vm() for _ in range(20)]
    assert len({id(vm) for vm in vms}) == 20
    assert len({id(vm.runtime) for vm in vms}) == 20


def test_python_objects_never_reach_lua():
    class Thing:
        secret = "x"

    vm = make_vm()
    result = vm.run_node("n", "return { kind = type(state.thing), tup = #state.tup }", {"thing": Thing(), "tup": (1, 2)})
    assert result["kind"] == "string" and result["tup"] == 2


ESCAPES = {
    "plain loop": "while true do end",
    "pcall": "pcall(function() while true do end end)",
    "pcall in a loop": "while true do pcall(function() while true do end end) end",
    "xpcall with looping handler": "while true do xpcall(function() while true do end end,"
                                   " function() while true do end end) end",
    "coroutine.wrap": "coroutine.wrap(function() while true do end end)()",
    "coroutine.resume in a loop": "local co = coroutine.create(function() while true do end end)\n"
                                  "while true do coroutine.resume(co) end",
    "error handler catching everything": "while true do local ok = pcall(error, 'x') end",
    "to-be-closed loop": "local t <close> = setmetatable({}, {__close = function() while true do end end})\n"
                         "while true do end",
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_timeout_cannot_be_escaped(name):
    vm = make_vm(timeout=0.2)
    began = time.monotonic()
    with pytest.raises(LuaNodeError) as info:
        vm.run_node("spin", ESCAPES[name], {})
    assert info.value.kind == "timeout" and "execution timeout" in info.value.message
    assert time.monotonic() - began < 2.0
    assert vm.run_node("after", "return { ok = true }", {}) == {"ok": True}  # the VM stays usable


def test_gc_metamethods_are_refused():
    with pytest.raises(LuaNodeError) as info:
        make_vm().run_node("gc", "setmetatable({}, {__gc = function() while true do end end})", {})
    assert "__gc" in info.value.message


@pytest.mark.parametrize("name", ["plain loop", "pcall", "coroutine.wrap", "xpcall with looping handler"])
def test_stop_ends_a_running_loop_quickly(name):
    stop = threading.Event()
    vm = make_vm(stop_check=stop.is_set)
    outcome = {}

    def spin():
        began = time.monotonic()
        try:
            vm.run_node("spin", ESCAPES[name], {})
        except LuaNodeError as exc:
            outcome["kind"] = exc.kind
        outcome["ended"] = time.monotonic() - began

    worker = threading.Thread(target=spin)
    worker.start()
    stop.set()
    stopped_at = time.monotonic()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert outcome["kind"] == "stopped"
    assert time.monotonic() - stopped_at < 1.0


def test_memory_limit():
    vm = make_vm(max_memory_mb=16)
    with pytest.raises(LuaNodeError) as info:
        vm.run_node("hog", "local t = {} for i = 1, 1e8 do t[i] = i end", {})
    assert info.value.kind == "memory" and info.value.message == "memory limit exceeded"
    with pytest.raises(LuaNodeError, match="memory limit exceeded"):
        vm.run_node("rep", "return string.rep('x', 1e9)", {})
    assert vm.run_node("after", "return { ok = true }", {}) == {"ok": True}


def test_the_hook_calls_python_rarely():
    """The count hook checks the clock inside Lua and calls into Python (taking the GIL) about every 20 ms of CPU,
    not on every tick: branches on threads then run in parallel (see benchmarks/bench_engine.py)."""
    calls = []

    def stop_check() -> bool:
        calls.append(1)
        return False

    vm = make_vm(timeout=0.3, stop_check=stop_check)
    began = time.process_time()
    with pytest.raises(LuaNodeError, match="execution timeout"):
        vm.run_node("spin", "while true do end", {})
    cpu = time.process_time() - began
    assert 1 <= len(calls) <= cpu / 0.02 + 3


def test_a_node_runs_again_after_its_first_run_failed():
    """A node's code reaches Lua with its first run and is kept by the VM: a first run that failed (at runtime, or
    before its code compiled) does not stop the node's next runs in the same VM from working or failing alike."""
    vm = make_vm()
    code = "if not state.x then error('no x') end\nreturn { y = state.x }"
    with pytest.raises(LuaNodeError, match="no x") as first:
        vm.run_node("n", code, {})
    assert first.value.line == 1
    assert vm.run_node("n", code, {"x": 1}) == {"y": 1}
    assert vm.run_node("n", code, {"x": 2}) == {"y": 2}
    for _ in range(2):
        with pytest.raises(LuaNodeError) as broken:
            vm.run_node("broken", "return {\n", {})
        assert broken.value.line == 2
    assert vm.run_node("other", "return { ok = true }", {}) == {"ok": True}


def test_settling_frees_what_the_sandbox_dropped():
    """io, os, package and debug are created by every new runtime and dropped by the sandbox: one collection,
    made by the pool in the background (or before a VM's first node), gives their memory back."""
    vm = LuaVM()
    fresh = vm.memory_kb()
    vm.settle()
    assert vm.memory_kb() < fresh - 3
    assert vm.run_node("n", "return { io = type(io), os = type(os), d = type(debug) }", {}) == \
        {"io": "nil", "os": "nil", "d": "nil"}
    unsettled = LuaVM()
    assert unsettled.run_node("n", "return { ok = true }", {}) == {"ok": True}
    assert unsettled.memory_kb() < fresh - 3


def test_the_pool_stays_quiet_after_a_fork_until_the_run_ends():
    """Freeing a fork's VMs and making new ones would compete for the GIL with the rest of the run: after the join
    the pool waits for the run's end (wake_pool) before it does background work."""
    from tea_studio.engine.lua_vm import _VMPool

    pool = _VMPool(size=0)
    pool.hold()
    vm = pool.take()  # the pool is empty: made here, and the pool thread stays asleep while the fork holds it
    pool.discard(vm)
    pool.release()
    assert pool._thread is None and len(pool._discarded) == 1
    pool._wake()  # what wake_pool() does at the end of a run
    assert pool._thread is not None
