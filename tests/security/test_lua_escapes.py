"""Escapes from the Lua sandbox, tried with real VMs (``lupa.lua54``) and real processes: the classic ones, Python
objects reaching Lua, writable metatables, the timeout hook, C functions that run unbounded in one call, Lua PANICs,
and hostile values crossing back into Python."""

import subprocess
import sys
import textwrap
import time

import pytest

from tea_studio.engine.lua_vm import LuaNodeError, LuaVM


def vm(timeout=1.0, memory=64, **kwargs) -> LuaVM:
    return LuaVM().configure(timeout, memory, **kwargs)


def ends_in_time(code: str, timeout: float = 0.5, memory: float = 256, kind: str = "timeout") -> LuaNodeError:
    """Run ``code`` and require it to end with ``kind`` within 2x the timeout."""
    machine = vm(timeout, memory)
    began = time.monotonic()
    with pytest.raises(LuaNodeError) as caught:
        machine.run_node("hostile", code, {})
    elapsed = time.monotonic() - began
    assert caught.value.kind == kind, caught.value.message
    if kind == "timeout":
        assert elapsed < 2 * timeout + 0.2, f"{elapsed:.2f} s for a {timeout} s timeout"
    assert machine.run_node("after", "return {ok = true}", {}) == {"ok": True}
    return caught.value


# -- the classics --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["os", "io", "debug", "package", "require", "load", "loadfile", "dofile",
                                  "collectgarbage", "python", "warn"])
def test_dangerous_globals_are_absent_everywhere_code_could_look(name):
    code = f"return {{ g = type({name}), G = type(_G.{name}), E = type(_ENV.{name}), " \
           f"r = type(rawget(_G, '{name}')) }}"
    assert vm().run_node("n", code, {}) == {"g": "nil", "G": "nil", "E": "nil", "r": "nil"}


def test_no_bytecode_can_be_made_or_loaded():
    result = vm().run_node("n", "return { dump = type(string.dump), load = type(load), "
                                "meta_dump = type(getmetatable('').__index.dump) }", {})
    assert result == {"dump": "nil", "load": "nil", "meta_dump": "nil"}


def test_a_new_env_does_not_bring_anything_back():
    code = "local _ENV = setmetatable({}, {__index = _G}); return { os = type(os), io = type(io) }"
    assert vm().run_node("n", code, {}) == {"os": "nil", "io": "nil"}


def test_the_string_metatable_is_read_only():
    machine = vm()
    with pytest.raises(LuaNodeError, match="cannot be changed"):
        machine.run_node("write", "getmetatable('').__index = {}", {})
    with pytest.raises(LuaNodeError, match="protected metatable"):
        machine.run_node("replace", "setmetatable(getmetatable(''), nil)", {})
    assert machine.run_node("use", "return { up = ('abc'):upper() }", {}) == {"up": "ABC"}


def test_no_userdata_anywhere_node_code_can_reach():
    code = textwrap.dedent("""
        local seen, found = {}, {}
        local function walk(value, path)
          local kind = type(value)
          if kind == "userdata" then found[#found + 1] = path end
          if kind == "table" and not seen[value] then
            seen[value] = true
            for k, v in pairs(value) do walk(v, path .. "." .. tostring(k)) end
            local meta = getmetatable(value)
            if type(meta) == "table" then walk(meta, path .. "<meta>") end
          end
        end
        walk(_G, "_G")
        walk(getmetatable(""), "string meta")
        local ok, err = pcall(print, "\\255")
        walk(err, "print error")
        local ok2, err2 = pcall(error)
        walk(err2, "error")
        return { found = table.concat(found, ","), print_error = type(err) }
    """)
    assert vm().run_node("n", code, {}) == {"found": "", "print_error": "nil"}


def test_print_of_invalid_utf8_is_a_log_line_not_a_python_exception():
    lines = []
    vm(on_print=lines.append).run_node("n", 'print("a\\255b", "\\27[31mred\\27[0m")', {})
    assert lines == ["a\\xFFb\tred"]


def test_gc_metamethods_cannot_be_installed_in_any_form():
    machine = vm()
    for mt in ("{__gc = function() end}", "{__gc = false}", "{__gc = 1}"):
        with pytest.raises(LuaNodeError, match="__gc"):
            machine.run_node("n", f"setmetatable({{}}, {mt})", {})


def test_coroutine_close_does_not_leak_the_limit_signal():
    code = "local co = coroutine.create(function() while true do end end)\n" \
           "while true do coroutine.resume(co); local ok, e = coroutine.close(co); e = nil end"
    ends_in_time(code)


def test_error_objects_with_metatables_cannot_hold_the_node():
    ends_in_time("while true do pcall(error, setmetatable({}, {__tostring = function() while true do end end,"
                 " __index = function() while true do end end})) end")
    with pytest.raises(LuaNodeError):
        vm().run_node("n", "error(setmetatable({}, {__tostring = function() while true do end end}))", {})


# -- the timeout hook ------------------------------------------------------------------------------------------
def test_a_handler_never_runs_inside_the_hook_after_a_stack_overflow():
    ends_in_time("local function f() return f() + 1 end\nxpcall(f, function() while true do end end)")


def test_recursive_xpcall_with_a_looping_handler_ends():
    machine = vm(0.5)
    began = time.monotonic()
    try:  # the deepest handler cannot even start (no stack left); the others time out
        machine.run_node("n", "local function f() xpcall(f, function() while true do end end) end\nf()", {})
    except LuaNodeError as exc:
        assert exc.kind == "timeout"
    assert time.monotonic() - began < 1.2


def test_xpcall_still_calls_its_handler_with_the_error():
    code = "local ok, v = xpcall(function() error('boom', 0) end, function(e) return 'handled ' .. e end)\n" \
           "return { ok = ok, v = v }"
    assert vm().run_node("n", code, {}) == {"ok": False, "v": "handled boom"}


# -- C functions that could run unbounded in one call ----------------------------------------------------------
def test_repeating_the_empty_string_forever_returns_at_once():
    began = time.monotonic()
    assert vm().run_node("n", "return { n = #string.rep('', math.maxinteger), m = #('').rep('', 1e18, '') }",
                         {}) == {"n": 0, "m": 0}
    assert time.monotonic() - began < 1


@pytest.mark.parametrize("code", [
    "for i = 1, 1000 do local s = string.rep('x', 64 * 1024 * 1024) end",
    "local s = string.rep('x', 64 * 1024 * 1024) for i = 1, 1000 do local t = s .. 'y' end",
    "local s = string.rep('x', 32 * 1024 * 1024) for i = 1, 1000 do local t = s:upper() end",
    "local s = string.rep('x', 32 * 1024 * 1024) for i = 1, 1000 do local t = string.format('%s', s) end",
    "local t = setmetatable({}, {__index = rawlen}) return {n = #table.concat(t, '', 1, 3e8)}",
    "local t = {} for i = 1, 1e6 do t[i] = 'x' end while true do local s = table.concat(t) end",
    "local s = string.rep('a', 1e6) while true do s:gsub('a', 'b') end",
    "local s = string.rep('a', 1e7) while true do local x = s:find('b') end",
    "local s = string.rep('a', 1e7) while true do for w in s:gmatch('b') do end end",
    "local s = string.rep('a', 1e7) while true do local n = utf8.len(s) end",
    "table.move({}, 1, math.maxinteger - 1, 1, setmetatable({}, {__newindex = rawequal}))",
    "local t = {} for i = 1, 1e6 do t[i] = i end while true do table.insert(t, 1, 0) table.remove(t, 1) end",
    "local s = string.rep('ab', 5e6) while true do local t = s:reverse() end",
    "local s = string.rep('ab', 5e6) while true do local t = s:sub(2) end",
    "local s = string.rep('ab', 5e6) while true do local t = string.pack('z', s) end",
    "while true do local t = string.pack(('x'):rep(1e6)) end",
], ids=["rep loop", "concat operator", "upper", "format", "concat via C __index", "concat loop", "gsub loop",
        "find loop", "gmatch loop", "utf8.len loop", "move into C __newindex", "insert/remove loop", "reverse loop",
        "sub loop", "pack loop", "pack format loop"])
def test_expensive_c_calls_in_loops_end_within_twice_the_timeout(code):
    ends_in_time(code, timeout=1.0, memory=512)


@pytest.mark.parametrize("first_touch", [
    "local s = ('x'):rep(3)", "for _ in pairs(string) do end", "local f = rawget(string, 'nope') or table.nope",
    "local f = utf8.char",
], ids=["string method", "pairs", "missing key", "utf8"])
def test_library_wrappers_are_in_place_whichever_way_node_code_first_reaches_them(first_touch):
    """The wrappers load on first use; whatever touches the libraries first, the unbounded calls stay bounded and
    the libraries' metatables stay out of reach."""
    ends_in_time(first_touch + "\nlocal s = string.rep('ab', 5e6) while true do local t = s:reverse() end",
                 timeout=1.0, memory=512)
    assert vm().run_node("n", first_touch + "\nreturn {m = getmetatable(string), t = pcall(setmetatable, table, nil),"
                         " d = string.dump == nil}", {}) == {"m": False, "t": False, "d": True}


def test_table_functions_refuse_huge_lengths_from_metatables():
    code = "local t = setmetatable({}, {__len = function() return 1 << 62 end, __index = rawlen," \
           " __newindex = rawequal}) table.insert(t, 1, 5)"
    with pytest.raises(LuaNodeError, match="table with a metatable"):
        vm().run_node("n", code, {})


def test_wrapped_table_functions_keep_their_results():
    code = "local t = {} for i = 1, 10000 do t[i] = i end table.move(t, 1, 10000, 3)\n" \
           "local u = table.move({1, 2, 3}, 1, 3, 1, {}) table.insert(u, 1, 0) table.sort(u, function(a, b) return a > b end)\n" \
           "return { a = t[3], b = t[10002], c = t[2], u = u, s = table.concat(t, ',', 9999, 10002) }"
    assert vm().run_node("n", code, {}) == {"a": 1, "b": 10000, "c": 2, "u": [3, 2, 1, 0],
                                            "s": "9997,9998,9999,10000"}


def test_memory_limit_holds_for_c_allocations():
    ends_in_time("return string.rep('x', 1e9)", kind="memory", memory=16)
    ends_in_time("local t = {} for i = 1, 1e8 do t[i] = i end", kind="memory", memory=16)


# -- Lua PANIC: never an aborted process ------------------------------------------------------------------------
_PANIC = """
import sys
from tea_studio.engine.lua_vm import LuaNodeError, LuaVM
vm = LuaVM().configure(10, 16)
try:
    if sys.argv[1] == "state":
        vm.run_node("big_state", "return {}", {"big": list(range(2_000_000))})
    else:
        vm.run_node("near_full", "local t = {} pcall(function() for i = 1, 1e8 do t['k' .. i] = i end end) return t", {})
    print("finished")
except LuaNodeError as exc:
    print("error:", exc.kind, exc.message)
"""


@pytest.mark.parametrize("case", ["state", "result"])
def test_a_full_vm_fails_the_node_instead_of_aborting_the_process(case):
    done = subprocess.run([sys.executable, "-c", _PANIC, case], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert "PANIC" not in done.stderr
    if case == "state":
        assert done.stdout.startswith("error: memory memory limit exceeded")
    else:
        assert done.stdout.startswith(("finished", "error: memory"))


# -- hostile values coming back from Lua ---------------------------------------------------------------------
@pytest.mark.parametrize(("code", "problem"), [
    ("local t = {} t.me = t return t", "the result.me contains itself"),
    ("local t = {} local c = t for i = 1, 1e5 do c[1] = {} c = c[1] end return {deep = t}", "64 levels deep"),
    ("return { ['\\255'] = 1 }", "has a key that is not UTF-8 text"),
    ("return { v = 'ok\\255' }", "the result.v is not UTF-8 text"),
    ("return { [{}] = 1 }", "has a table as a key"),
    ("return { [print] = 1 }", "has a function as a key"),
    ("local t = {'a'} t['1'] = 'b' t.x = 1 return t", "would collide"),
    ("return { [true] = 1, ['true'] = 2 }", "would collide"),
    ("return { n = 0/0 }", "the result.n is NaN or infinite"),
    ("return { n = {1, 2, 1/0} }", "the result.n[3] is NaN or infinite"),
    ("local a = {} for i = 1, 40 do a = {a, a} end return {x = a}", "too large to leave Lua"),
])
def test_hostile_results_are_one_line_errors_naming_the_value(code, problem):
    with pytest.raises(LuaNodeError) as caught:
        vm(timeout=5, memory=256).run_node("n", code, {})
    assert problem in caught.value.message
    assert "\n" not in caught.value.message and len(caught.value.message) < 400


def test_lua_error_messages_are_stripped_of_terminal_controls():
    with pytest.raises(LuaNodeError) as caught:
        vm().run_node("n", "error('bad\\27[2J\\27]0;owned\\7 thing\\nsecond line')", {})
    assert caught.value.message == "bad thing second line"
