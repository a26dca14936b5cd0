"""LuaVM: a fresh sandboxed ``lupa.lua54`` runtime with limits and TEA's state conversion (FORMAT.md §6).

One VM serves one flow (the main flow of one run, or one parallel branch) and is then dropped; VMs are never
reused. Creating one costs a few tens of microseconds; :func:`take_vm` hands out VMs pre-created by a small
background pool (each handed out once) so a branch does not wait for its VM.

Limits: a count hook written in Lua checks ``os.clock()`` every few thousand instructions and calls into Python
(to read the wall-clock deadline and the stop flag) at most every 20 ms of CPU time, so Lua branches on threads
do not serialise on the GIL. Once a limit trips, the hook fires on every instruction and raises a unique
sentinel that the sandbox's ``pcall``/``xpcall``/coroutine functions re-raise; new coroutines get the hook too.
``max_memory`` is lupa's per-runtime allocator limit.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from lupa import lua54

from tea_studio.workflow.text import one_line, printable

LuaError = lua54.LuaError
LuaMemoryError = lua54.LuaMemoryError

HOOK_INSTRUCTIONS = 4096  # instructions between two clock reads inside Lua
CHECK_INTERVAL_S = 0.02  # CPU seconds between two calls into Python
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_MEMORY_MB = 256
MAX_RESULT_DEPTH = 64  # tables inside tables in what a node returns
MAX_PRINT_BYTES = 64 << 10  # one print() call; the rest is cut
DEFAULT_RESULT_BUDGET = 256 << 20  # estimated bytes of a node's result once it is Python data

_UNLIMITED = 0

# The sandbox and the hook. Runs once per VM with the host callback (the limits are constants in its code, see
# _precompile) and returns (compile, invoke, sethook, box). Everything it captures stays in upvalues
# that node code cannot reach (no `debug`). It is kept small (every VM loads it; most nodes need nothing more): the
# rest is _LIBRARY, loaded on first use.
_BOOTSTRAP = r"""
local host = ...
local sethook, clock = debug.sethook, os.clock
local error, type, next, rawget, rawset = error, type, next, rawget, rawset
local raw_pcall, raw_xpcall, raw_load, raw_setmetatable = pcall, xpcall, load, setmetatable
local utf8_len, heap_kb, math_type, huge = utf8.len, collectgarbage, math.type, math.huge
local G = _G
local libraries = {string = string, table = table, utf8 = utf8, coroutine = coroutine}
local SENTINEL <const> = "tea: limit reached"  -- the error once a limit has tripped (Python reads the reason, not this)
-- The limit state, shared with the library chunk (integer slots: no field names to load in every VM), and after
-- it what only the library uses, captured before node code can change or reach it. NEXT_CHECK = 0: between
-- nodes (no deadline to keep).
local TRIPPED <const> = 1; local NEXT_CHECK <const> = 2; local LAST_TICK <const> = 3; local EVERY <const> = 4
local PROMPT_ARMED <const> = 5  -- one per statement: Lua folds only the last constant of a list
local S = {false, 0, huge, EVERY_BASE, false,
           host, libraries, math, sethook, clock, debug.getinfo, raw_pcall, raw_setmetatable, error, type,
           select, tostring, next, rawget, ipairs, getmetatable}
-- What node code must not reach, dropped from the loaded-modules table too, so that the collection of invoke(0)
-- (LuaVM.settle) frees it.
local registry, loaded = debug.getregistry(), package.loaded
for _, name in ipairs({"os", "io", "debug", "package", "python", "loadfile", "dofile", "load", "require",
                       "collectgarbage", "warn"}) do
  G[name], loaded[name] = nil, nil
end
registry._IO_input, registry._IO_output, registry["FILE*"], registry._PRELOAD = nil, nil, nil, nil
libraries.string.dump = nil
local library, tick
local result_budget = huge  -- the estimated bytes a result may have as Python data (set per node)

-- Once a limit trips, the hook fires on every instruction and raises SENTINEL, which pcall & co. re-raise.
local function raise()
  sethook(tick, "", 1)
  error(SENTINEL, 0)
end
local function rethrow(ok, ...)
  if S[TRIPPED] then raise() end
  return ok, ...
end

-- The rarely needed part of the sandbox (_LIBRARY), loaded on first use: most nodes never need it.
local function lib()
  if library == nil then
    library = raw_load(host(3), "=tea_sandbox", "b", {})(S, tick, raise, rethrow)
  end
  return library
end

-- The limit check: os.clock() here, a call into Python (wall clock, Stop) at most every INTERVAL CPU seconds.
-- Wrapped C functions call it too, after work that no instruction count sees.
tick = function()
  local next_check = S[NEXT_CHECK]
  if next_check == 0 then return end
  if S[TRIPPED] then error(SENTINEL, 0) end
  if not S[PROMPT_ARMED] and heap_kb("count") > 1024 then lib().arm_gc_prompt() end
  local now, count = clock(), S[EVERY]
  local gap = now - S[LAST_TICK]
  if gap > INTERVAL and count > 16 then
    count = count // 8  -- these instructions are costly (big strings): count fewer between two looks at the clock
  elseif gap < INTERVAL / 16 and count < EVERY_BASE then
    count = count * 2  -- cheap again (or the thread had only waited for a core): back towards the usual count
  end
  S[LAST_TICK] = now
  if now >= next_check then
    S[NEXT_CHECK] = now + INTERVAL
    local ok, stop = raw_pcall(host, 1)
    if stop or not ok then
      S[TRIPPED] = true
      raise()
    end
  elseif count == S[EVERY] then
    return
  end
  S[EVERY] = count
  sethook(tick, "", count)
end

G.pcall = function(...) return rethrow(raw_pcall(...)) end
G.xpcall = function(...) return lib().xpcall(...) end
G.print = function(...) return lib().print(...) end
-- Finalizers run with hooks off and could never be stopped: refuse __gc.
G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not available in TEA Studio", 2)
  end
  return raw_setmetatable(t, mt)
end

-- `string`, `table`, `utf8` and `coroutine` are empty proxies until node code first touches one: a read-only
-- metatable then loads the library, which wraps their unbounded C functions, and fills every proxy.
local proxies, installed = {}, false
local function install()
  if installed then return end
  lib()
  for name, original in next, libraries do
    local proxy = proxies[name]
    for key, value in next, original do
      if rawget(proxy, key) == nil then rawset(proxy, key, value) end
    end
  end
  installed = true
end
local PROXY_META = {
  __metatable = false,
  __index = function(t, key)
    if installed then return nil end
    install()
    return rawget(t, key)
  end,
  __pairs = function(t)
    install()
    return next, t, nil
  end,
}
for name in next, libraries do
  local proxy = raw_setmetatable({}, PROXY_META)
  proxies[name] = proxy
  G[name] = proxy
end
-- The string metatable is shared by every string: node code reads it through a read-only view.
local string_meta = getmetatable("")
rawset(string_meta, "__index", proxies.string)
rawset(string_meta, "__metatable", raw_setmetatable({}, {
  __index = string_meta, __metatable = false,
  __newindex = function() error("the string metatable cannot be changed", 2) end,
}))

-- What a node returns must become plain data: no cycles, bounded depth and size, UTF-8 text, JSON numbers, and
-- keys that stay distinct as text. A problem is reported by the library (keys[d]: the key at depth d), which
-- words it and names the path of the value.
local keys = {}
local measured = 0  -- entries of the result measured so far: past 4096 the limit hook is on again
local function fail(depth, problem, detail)
  lib().fail(keys, depth, problem, detail or result_budget)
end

-- seen[t]: true while t is being measured (seeing it again is a cycle), then its size (shared tables count once
-- per place they appear, as they will in Python). The result's own table starts without `seen`: it is made on the
-- first table inside it, so a flat result (most nodes return one) allocates nothing here.
local function measure(value, depth, seen)
  local kind = type(value)
  if kind == "string" then
    if not utf8_len(value) then fail(depth, 7) end  -- text that is not UTF-8
    return #value + 49
  elseif kind == "number" then
    if value ~= value or value == huge or value == -huge then fail(depth, 8) end  -- NaN or infinite
    return 32
  elseif kind ~= "table" then
    return 16
  end
  local known = seen and seen[value]
  if known then
    if known == true then fail(depth, 1) end  -- a cycle
    return known
  end
  if depth >= MAX_DEPTH then fail(depth, 2) end  -- too deep
  if seen then seen[value] = true end
  local size, count, max_key, all_integers, all_strings = 256, 0, 0, true, true
  for key, item in next, value do
    count = count + 1
    measured = measured + 1
    if measured == 4096 then sethook(tick, "", EVERY_BASE) end  -- a big result: bounded by the limits again
    keys[depth + 1] = key
    local key_kind = type(key)
    if key_kind == "string" then
      if not utf8_len(key) then fail(depth + 1, 3) end  -- a key that is not UTF-8
      all_integers = false
      size = size + #key + 56
    elseif key_kind == "number" then
      if key == huge or key == -huge then fail(depth + 1, 4) end  -- a key that is not a JSON number
      if math_type(key) == "integer" and key > 0 then
        if key > max_key then max_key = key end
      else
        all_integers = false
      end
      all_strings = false
      size = size + 32
    elseif key_kind == "boolean" then
      all_integers, all_strings = false, false
      size = size + 32
    else
      fail(depth, 5, key_kind)  -- a key of another type
    end
    local item_kind = type(item)
    if item_kind == "string" then  -- scalars measured here: no call for most values
      if not utf8_len(item) then fail(depth + 1, 7) end
      size = size + #item + 49
    elseif item_kind == "number" then
      if item ~= item or item == huge or item == -huge then fail(depth + 1, 8) end
      size = size + 32
    elseif item_kind == "table" then
      if seen == nil then seen = {[value] = true} end
      size = size + measure(item, depth + 1, seen)
    else
      size = size + 16
    end
    if size > result_budget then fail(depth, 6) end  -- too large
  end
  if not all_strings and not (all_integers and max_key == count) then
    lib().check_collisions(value, keys, depth)  -- keys that become the same text once out of Lua
  end
  if seen then seen[value] = size end
  return size
end

-- Gives an error raised inside a C function a position (in the library); the message stays as it is if the
-- library cannot be loaded there (e.g. no memory left). A tail call: the library sees the frames as this would.
local function locate(message)
  if S[TRIPPED] then return message end
  local ok, loaded_library = raw_pcall(lib)
  if not ok then return message end
  return loaded_library.locate(message)
end

-- Runs node number `id`; returns the estimated size in bytes of its result once it is Python data (-1: no
-- result). The result waits in `box` (its slot exists already, storing allocates nothing): Python takes it from
-- there after lifting the memory limit, since handing a table over allocates outside Lua's protection. A node's
-- first run brings its code as {text, chunk name}: it is compiled here, in the same call into Lua (every call
-- lets another thread take the GIL), and kept for the node's next runs.
local box, compiled = {false}, {}
local function invoke(id, state, budget, source)
  local fn = compiled[id]
  if fn == nil then
    if id == 0 then  -- not a node: one full collection (LuaVM.settle)
      heap_kb("collect")
      return 0
    end
    local problem
    fn, problem = raw_load(source[1], source[2], "t", G)
    if fn == nil then error(problem, 0) end
    compiled[id] = fn
  end
  S[TRIPPED] = false
  result_budget = budget
  local now = clock()
  S[LAST_TICK], S[NEXT_CHECK], S[EVERY] = now, now + INTERVAL, EVERY_BASE  -- each node starts with the usual count
  sethook(tick, "", EVERY_BASE)
  local ok, result = raw_xpcall(fn, locate, state)
  -- The node's code has returned: the hook (which slows every instruction) is off while a small result is measured.
  sethook()
  if not ok then
    S[NEXT_CHECK], S[LAST_TICK] = 0, huge
    error(result, 0)
  end
  if result == nil then
    S[NEXT_CHECK], S[LAST_TICK] = 0, huge
    return -1
  end
  measured = 0
  local size = measure(result, 0, nil)
  S[NEXT_CHECK], S[LAST_TICK] = 0, huge
  box[1] = result
  return size
end

return invoke, sethook, box
"""

# The rarely needed part of the sandbox, loaded by it on first use (a node touching `string`, `table`, `utf8` or
# `coroutine`, calling print or xpcall, a result with a problem, a big heap): wrappers that bound the C functions
# whose one call can take unbounded time, hooked coroutines, print, the result error paths and the GC prompt. It
# runs with an empty environment: everything it uses is handed over by the sandbox, never read from node globals.
_LIBRARY = r"""
local S, tick, raise, rethrow = ...
local host, libraries, math, sethook, clock, getinfo, raw_pcall, raw_setmetatable, error, type, select,
      tostring, next, rawget, ipairs, getmetatable = S[7].table.unpack(S, 6)
local string, table, utf8, coroutine = libraries.string, libraries.table, libraries.utf8, libraries.coroutine
local rep, concat, format, byte, sub, find = string.rep, table.concat, string.format, string.byte, string.sub,
                                            string.find
local utf8_len, math_type, tointeger, min = utf8.len, math.type, math.tointeger, math.min
local co_create, co_resume, co_close = coroutine.create, coroutine.resume, coroutine.close
local TRIPPED <const> = 1; local NEXT_CHECK <const> = 2; local EVERY <const> = 4; local PROMPT_ARMED <const> = 5
local L = {}

-- Text for the host: invalid UTF-8 bytes are shown as \xNN.
local function utf8_text(s)
  if utf8_len(s) then return s end
  local out, n, i, size = {}, 0, 1, #s
  while i <= size do
    local ok, bad = utf8_len(s, i)
    n = n + 1
    if ok then out[n] = sub(s, i) break end
    out[n] = sub(s, i, bad - 1) .. format("\\x%02X", byte(s, bad))
    i = bad + 1
  end
  return concat(out, "", 1, n)
end

L.print = function(...)
  local n = select("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring(parts[i]) end
  local text = concat(parts, "\t", 1, n)
  if #text > MAX_PRINT then text = sub(text, 1, MAX_PRINT) .. format(" ... (%d more bytes)", #text - MAX_PRINT) end
  raw_pcall(host, 2, utf8_text(text))
end

-- A message handler would run where the error was raised, possibly inside the hook (hooks off, forever): the
-- handler runs once the failed call has unwound instead (node code has no `debug` to see the difference).
local function handled(handler, ok, ...)
  if S[TRIPPED] then raise() end
  if ok then return true, ... end
  local _, value = rethrow(raw_pcall(handler, (...)))
  return false, value
end
L.xpcall = function(f, handler, ...)
  if type(handler) ~= "function" then error("bad argument #2 to 'xpcall' (function expected)", 2) end
  return handled(handler, raw_pcall(f, ...))
end

-- New coroutines get the hook too (Lua hooks are per coroutine).
local function guarded_create(f)
  local co = co_create(f)
  sethook(co, tick, "", S[TRIPPED] and 1 or S[EVERY])
  return co
end
local function unwrap(ok, ...)
  if not ok then error((...), 0) end
  return ...
end
coroutine.create = guarded_create
coroutine.resume = function(...) return rethrow(co_resume(...)) end
coroutine.close = function(...) return rethrow(co_close(...)) end
coroutine.wrap = function(f)
  local co = guarded_create(f)
  return function(...) return unwrap(rethrow(co_resume(co, ...))) end
end

-- What is wrong with a value in a result, by the sandbox's problem number (detail: a key's type, or the budget).
local PROBLEMS = {
  "contains itself (a cycle)", "nests tables more than " .. MAX_DEPTH .. " levels deep",
  "has a key that is not UTF-8 text", "has a key that is not a JSON number",
  "has a %s as a key (keys are strings or numbers)", "is too large to leave Lua (over %d MiB as data)",
  "is not UTF-8 text", "is NaN or infinite (not a JSON number)",
}
-- The path of a bad value in a result (keys[d]: its key at depth d), and the error that names it.
L.fail = function(keys, depth, problem, detail)
  if type(problem) == "number" then
    problem = format(PROBLEMS[problem], problem == 6 and detail // 1048576 or detail)
  end
  local path = "the result"
  for d = 1, depth do
    if d == 9 and depth > 12 then
      path = path .. "..."
    elseif d < 9 or d > depth - 3 then
      local key = keys[d]
      path = path .. (type(key) == "string" and ("." .. utf8_text(sub(key, 1, 40))) or ("[" .. tostring(key) .. "]"))
    end
  end
  error(path .. " " .. problem, 0)
end

local function key_text(key)
  local kind = math_type(key)
  if kind == "integer" then return format("%d", key) end
  if kind == "float" then return format("%.14g", key) end
  if type(key) == "boolean" then return key and "true" or "false" end
  return nil
end
-- A table with keys other than strings (and not a plain list): no two keys may become the same text.
L.check_collisions = function(t, keys, depth)
  for key in next, t do
    local text = key_text(key)
    if text ~= nil and rawget(t, text) ~= nil then
      keys[depth + 1] = key
      L.fail(keys, depth + 1, "and the key \"" .. text .. "\" would collide")
    end
  end
end

-- An error raised inside a C function (`ipairs(nil)`, `string.rep(nil)`, `assert`) has no position in its message:
-- it gets the line of the innermost frame of node code, as Lua's traceback shows it (the sandbox is stripped: no
-- lines). Reached by a tail call from the sandbox's message handler: level 2 is the function that raised.
L.locate = function(message)
  if type(message) ~= "string" or find(message, "^[^\n]-:%d+: ") or getinfo(2, "f").func == error then
    return message  -- placed already, or `error(message, 0)`: no position wanted
  end
  local level = 2
  while true do
    local info = getinfo(level, "Sl")
    if info == nil then return message end
    if info.currentline > 0 and sub(info.source, 1, 1) == "=" then
      return sub(info.source, 2) .. ":" .. info.currentline .. ": " .. message
    end
    level = level + 1
  end
end

-- Instructions that allocate a lot (`s .. s`, string.upper of a big string...) cost far more than the count hook
-- assumes. Once the heap is big, a finalizer runs at the end of each garbage collection cycle (cycles come about
-- every time the heap doubles) and brings the next check forward to the next instruction when one is due.
local GC_PROMPT = {__metatable = false}
GC_PROMPT.__gc = function()
  local next_check = S[NEXT_CHECK]
  if next_check > 0 and clock() >= next_check then
    S[PROMPT_ARMED] = false
    sethook(tick, "", 1)
  elseif next_check > 0 then
    raw_setmetatable({}, GC_PROMPT)  -- not due yet: ask again at the end of the next cycle
  else
    S[PROMPT_ARMED] = false
  end
end
L.arm_gc_prompt = function()
  S[PROMPT_ARMED] = true
  raw_setmetatable({}, GC_PROMPT)
end

-- C functions whose one call can take unbounded time: bounded, or split into calls that check the limits.
string.rep = function(s, n, sep)
  if type(s) == "string" and #s == 0 and (sep == nil or sep == "") and math_type(n) then return "" end
  local result = rep(s, n, sep)
  if #result > 65536 then tick() end
  return result
end
local CHUNK = 4096
table.concat = function(list, sep, i, j)
  sep = sep == nil and "" or sep
  i = i == nil and 1 or tointeger(i) or i
  j = j == nil and #list or tointeger(j) or j
  if math_type(i) ~= "integer" or math_type(j) ~= "integer" or j - i < CHUNK then
    local result = concat(list, sep, i, j)
    if #result > 65536 then tick() end
    return result
  end
  local parts, n = {}, 0
  for k = i, j, CHUNK do
    n = n + 1
    parts[n] = concat(list, sep, k, min(k + CHUNK - 1, j))
    tick()
  end
  return concat(parts, sep, 1, n)
end
string.format = function(...)
  local result = format(...)
  if #result > 65536 then tick() end
  return result
end
-- Functions that scan a long string without allocating: check after each call on a long subject.
local BIG = 65536
local function checked(...)
  tick()
  return ...
end
local function scanning(f)
  return function(s, ...)
    if type(s) == "string" and #s > BIG then return checked(f(s, ...)) end
    return f(s, ...)
  end
end
for _, name in ipairs({"find", "match", "gsub", "byte", "sub", "reverse", "upper", "lower", "unpack"}) do
  string[name] = scanning(string[name])
end
for _, name in ipairs({"len", "offset", "codepoint"}) do utf8[name] = scanning(utf8[name]) end
-- Functions that build a long string from many or short arguments: check after a long result.
local function building(f)
  return function(...)
    local result = f(...)
    if type(result) == "string" and #result > BIG then tick() end
    return result
  end
end
string.char, string.pack, utf8.char = building(string.char), building(string.pack), building(utf8.char)
local raw_gmatch = string.gmatch
string.gmatch = function(s, ...)
  local step = raw_gmatch(s, ...)
  if type(s) ~= "string" or #s <= BIG then return step end
  return function() return checked(step()) end
end
-- Table functions loop in C over `#t` elements; with a metatable every element may call a C metamethod and
-- `#t` itself is whatever __len says: such tables get at most CHUNK elements per call.
local function length_for(name, t, n)
  if n > CHUNK and getmetatable(t) ~= nil then
    error(format("table.%s over more than %d elements of a table with a metatable is not available", name,
                 CHUNK), 3)
  end
  return n
end
for _, name in ipairs({"insert", "remove", "sort", "unpack"}) do
  local f = table[name]
  table[name] = function(t, ...)
    if type(t) == "table" and length_for(name, t, #t) > CHUNK then return checked(f(t, ...)) end
    return f(t, ...)
  end
end
local raw_move = table.move
table.move = function(a1, f, e, t, a2)
  f, e, t = tointeger(f) or f, tointeger(e) or e, tointeger(t) or t
  if math_type(f) ~= "integer" or math_type(e) ~= "integer" or math_type(t) ~= "integer" or e - f < CHUNK then
    return raw_move(a1, f, e, t, a2)
  end
  local target = a2 == nil and a1 or a2
  if target == a1 and t > f and t <= e then  -- overlapping, moving up: copy the last chunk first
    local last = e
    while last >= f do
      local first = last - CHUNK + 1
      if first < f then first = f end
      raw_move(a1, first, last, t + (first - f), a2)
      tick()
      last = first - 1
    end
  else
    for first = f, e, CHUNK do
      raw_move(a1, first, min(first + CHUNK - 1, e), t + (first - f), a2)
      tick()
    end
  end
  return target
end
return L
"""


def _precompile(source: str) -> bytes:
    """Lua bytecode for ``source`` with the limits as compile-time constants (loading bytecode skips the parser,
    and a constant is neither an argument nor an upvalue in every VM)."""
    limits = (f"local EVERY_BASE <const> = {HOOK_INSTRUCTIONS}; local INTERVAL <const> = {CHECK_INTERVAL_S!r}; "
              f"local MAX_DEPTH <const> = {MAX_RESULT_DEPTH}; local MAX_PRINT <const> = {MAX_PRINT_BYTES}; ")
    scratch = lua54.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    return scratch.execute(b"return string.dump(assert(load(..., '=tea_sandbox', 't')), true)",
                           (limits + source).encode())


_BOOTSTRAP_CODE = _precompile(_BOOTSTRAP)
_LIBRARY_CODE = _precompile(_LIBRARY)


def _refuse_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Lua code cannot reach Python objects")


class LuaNodeError(Exception):
    """A Lua node failed: ``message`` is Lua's (cleaned), ``line`` counted from the node code's first line."""

    def __init__(self, message: str, line: int | None = None, kind: str = "error") -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind  # error | timeout | stopped | memory


_TRACEBACK = "\nstack traceback:"
_POSITION = re.compile(r"^(?P<chunk>[^\n]*?):(?P<line>\d+): (?P<msg>.*)$", re.S)


_CHUNK_NAME_MAX = 48  # Lua cuts a chunk name at LUA_IDSIZE (60 bytes) in its messages
# What every VM works out again for the same node (a fork's branches run the same nodes in fresh VMs): chunk names
# that need no number, and the code Lua compiles for a node's code.
_SHORT_NAMES: dict[str, str] = {}
_BODIES: dict[str, str] = {}
_BODY_CACHED_MAX = 16 << 10


def _remember(cache: dict[str, str], key: str, value: str) -> None:
    if len(cache) >= 1024:  # a long studio session edits many nodes: start again rather than grow
        cache.clear()
    cache[key] = value


def _body(code: str) -> str:
    """The node's code as the body of ``function(state)``. Code that names ``parallel_results`` bare (a fan-in
    written as for Python, where TEA passes it) gets it as a local."""
    body = _BODIES.get(code)
    if body is None:
        head = "local state = ...; "
        if "parallel_results" in code:
            head += "local parallel_results = state.parallel_results; "
        body = head + code
        if len(code) <= _BODY_CACHED_MAX:  # the cache holds at most 1024 x 16 KiB
            _remember(_BODIES, code, body)
    return body


def _chunk_name(node: str, number: int) -> str:
    """The name Lua reports for a node's code: the node name, shortened (and numbered) when Lua would cut it."""
    name = _SHORT_NAMES.get(node)
    if name is not None:
        return name
    name = node.replace("\n", " ")
    if len(name.encode("utf-8")) <= _CHUNK_NAME_MAX:
        _remember(_SHORT_NAMES, node, name)
        return name
    return name.encode("utf-8")[:_CHUNK_NAME_MAX - 8].decode("utf-8", "ignore") + f"~{number}"


def _valid_limits(timeout: float | None, max_memory_mb: float | None) -> tuple[float, int]:
    """(timeout in seconds, memory limit in bytes): positive and finite, else the default."""
    timeout = DEFAULT_TIMEOUT_S if timeout is None else float(timeout)
    memory = DEFAULT_MAX_MEMORY_MB if max_memory_mb is None else float(max_memory_mb)
    return (timeout if 0 < timeout < float("inf") else DEFAULT_TIMEOUT_S,
            int(memory * (1 << 20)) if 1 <= memory < (1 << 40) else DEFAULT_MAX_MEMORY_MB << 20)


_LIMITS: dict[tuple[Any, Any], tuple[float, int]] = {}


class LuaVM:
    """One sandboxed Lua 5.4 runtime. Not thread-safe: one flow uses it from one thread at a time."""

    __slots__ = ("runtime", "_invoke", "_clear_hook", "_box", "_ids", "_sent", "_settled", "_chunks", "_table_from",
                 "_lua_type", "deadline", "timeout", "memory_limit", "result_budget", "result_size",
                 "stop_check", "on_print", "_reason", "__weakref__")

    def __init__(self) -> None:
        self.runtime = lua54.LuaRuntime(
            register_eval=False, register_builtins=False, unpack_returned_tuples=True,
            attribute_filter=_refuse_attributes, max_memory=DEFAULT_MAX_MEMORY_MB << 20,
        )
        self._invoke, self._clear_hook, self._box = self.runtime.execute(
            _BOOTSTRAP_CODE, self._host)
        self.runtime.set_max_memory(_UNLIMITED)  # on only while node code runs (run_node)
        self._ids: dict[str, int] = {}  # node -> its number in this VM (Lua keeps the compiled code by it)
        self._sent = 0  # numbers given so far
        self._settled = False
        self._chunks: dict[str, str] = {}  # chunk name -> node
        self._table_from = self.runtime.table_from
        self._lua_type = lua54.lua_type
        self.deadline = 0.0
        self.timeout = DEFAULT_TIMEOUT_S
        self.memory_limit = DEFAULT_MAX_MEMORY_MB << 20
        self.result_budget = DEFAULT_RESULT_BUDGET
        self.result_size = 0  # estimated bytes of the last result
        self.stop_check: Callable[[], bool] | None = None
        self.on_print: Callable[[str], None] | None = None
        self._reason: str | None = None

    # -- configuration ---------------------------------------------------------------------------------------
    def configure(self, timeout: float | None = None, max_memory_mb: float | None = None,
                  stop_check: Callable[[], bool] | None = None,
                  on_print: Callable[[str], None] | None = None, result_budget: int | None = None) -> LuaVM:
        """Set the per-node timeout (seconds), the memory limit (MiB; None = the default), the size a result may
        have once it is Python data (bytes), and the callbacks. Limits must be positive and finite (the
        validator and the run's caps see to that); anything else falls back to the default."""
        limits = _LIMITS.get((timeout, max_memory_mb))  # every branch of a run asks for the same
        if limits is None:
            limits = _valid_limits(timeout, max_memory_mb)
            if len(_LIMITS) >= 64:
                _LIMITS.clear()
            _LIMITS[(timeout, max_memory_mb)] = limits
        self.timeout, self.memory_limit = limits
        if result_budget is not None and result_budget > 0:
            self.result_budget = int(result_budget)
        self.stop_check = stop_check
        self.on_print = on_print
        return self

    def close(self) -> None:
        """Free the runtime now (the Lua state holds the VM's callbacks, so without this only the cyclic garbage
        collector would free it)."""
        self._ids = {}
        self._chunks = {}
        self._invoke = self._clear_hook = self._table_from = self._box = None
        self.runtime = None
        self.stop_check = self.on_print = None

    def memory_kb(self) -> float:
        """Memory the runtime's allocator has handed out since creation, in KiB."""
        return self.runtime.get_memory_used() / 1024.0

    # -- callbacks (called from Lua) -------------------------------------------------------------------------------
    # They never raise: an exception would reach Lua as a Python object.
    def _host(self, request: int, text: Any = None) -> Any:
        """The sandbox's one way out (one callback object per VM): 1 = the limit check, 2 = a print, 3 = the
        library's bytecode."""
        if request == 1:
            return self._check()
        if request == 2:
            return self._log(text)
        return _LIBRARY_CODE

    def _check(self) -> bool:
        try:
            stop = self.stop_check
            if stop is not None and stop():
                self._reason = "stopped"
                return True
            if time.monotonic() >= self.deadline:
                self._reason = "timeout"
                return True
            return False
        except BaseException:  # noqa: BLE001 - a failing stop check ends the node as if stopped
            self._reason = "stopped"
            return True

    def _log(self, text: Any) -> None:
        try:
            if self.on_print is not None:
                self.on_print(printable(text if isinstance(text, str) else str(text)))
        except BaseException:  # noqa: BLE001 - a log line that cannot be shown is dropped, the node goes on
            pass

    # -- running -------------------------------------------------------------------------------------------------
    def _source(self, node: str, code: str) -> tuple[int, Any]:
        """The node's number in this VM, and on its first run its code for Lua to compile (:func:`_body`) with its
        chunk name. Call with the memory limit lifted (it makes a Lua table)."""
        number = self._ids.get(node)
        if number is not None:
            return number, None
        self._sent += 1
        number = self._ids[node] = self._sent  # never reused: a resent node gets a new one
        chunk = _chunk_name(node, number)
        self._chunks[chunk] = node
        return number, self._table_from({1: _body(code), 2: "=" + chunk})  # a dict: lupa's fast path

    def settle(self) -> None:
        """Free what the sandbox dropped from the fresh runtime (io, os, package, debug: about 6 KiB a VM) with one
        full collection, off the branches' critical path: the pool does it in the background after creating a
        VM; a VM made otherwise does it before its first node, except one made because the pool ran dry."""
        if not self._settled:
            self._settled = True
            self._invoke(0)

    def _resend(self, node: str, source: Any) -> None:
        """A first run failed, perhaps before its code compiled: the node's next run brings its code again."""
        if source is not None:
            del self._ids[node]

    def run_node(self, node: str, code: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """Run a Lua node on ``state``; returns the update to merge (None = no change).

        The memory limit is on only while the node's code runs (the VM is unlimited between nodes): the state
        goes in and the result comes out without it, since lupa allocates there without Lua's protection, where
        running out would abort the process (Lua PANIC). The state counts against the limit all the same: if it
        does not fit, the node fails before it starts.
        """
        if not self._settled:
            self.settle()
        self._reason = None
        runtime = self.runtime
        limit = self.memory_limit
        source = None
        try:
            lua_state = _to_lua(self._table_from, state)  # to_lua and to_python inlined: once per node
            if runtime.get_memory_used() > limit:
                raise LuaNodeError(f"memory limit exceeded (the state passed in needs more than "
                                   f"{limit / (1 << 20):g} MiB in Lua)", kind="memory")
            number, source = self._source(node, code)
            self.deadline = time.monotonic() + self.timeout
            runtime.set_max_memory(limit)
            try:
                size = self._invoke(number, lua_state, self.result_budget, source)
            finally:
                runtime.set_max_memory(_UNLIMITED)
            if size < 0:
                result = value = None
            else:
                result = self._box[1]
                value = _to_python(self._lua_type, result, [0, self.deadline])
            self.result_size = size if size > 0 else 0
        except _ConversionTimeout:
            raise LuaNodeError(f"execution timeout ({self.timeout:g} s)", kind="timeout") from None
        except (LuaMemoryError, MemoryError):
            self._resend(node, source)
            raise LuaNodeError("memory limit exceeded", kind="memory") from None
        except OverflowError:
            raise LuaNodeError(f"{_too_large(state) or 'a number'} is too large for a Lua integer") from None
        except (RecursionError, TypeError, ValueError) as exc:  # a state value Lua cannot hold
            raise LuaNodeError(f"the state cannot be passed to Lua: {type(exc).__name__}: {exc}") from None
        except LuaError as exc:
            if self._reason is not None:
                self._clear_hook()  # a C function: clearing runs no Lua instruction, so the hook cannot fire
            if self._reason == "timeout":
                raise LuaNodeError(f"execution timeout ({self.timeout:g} s)", kind="timeout") from None
            if self._reason == "stopped":
                raise LuaNodeError("stopped", kind="stopped") from None
            self._resend(node, source)
            raise self._error(str(exc), node) from None
        if result is None:
            return None
        if isinstance(value, dict):
            return value
        return {"result": value}

    def _error(self, text: str, node: str) -> LuaNodeError:
        cut = text.find(_TRACEBACK)
        if cut >= 0:
            text = text[:cut]
        if "not enough memory" in text:
            return LuaNodeError("memory limit exceeded", kind="memory")
        match = _POSITION.match(text)
        owner = self._chunks.get(match.group("chunk")) if match else None
        if owner is None:  # a node name that itself looks like "name:12: "
            for chunk, candidate in self._chunks.items():
                found = re.match(re.escape(chunk) + r":(?P<line>\d+): (?P<msg>.*)$", text, re.S)
                if found:
                    match, owner = found, candidate
                    break
        if owner == node:
            return LuaNodeError(match.group("msg"), int(match.group("line")))
        if owner is not None:
            return LuaNodeError(f"{match.group('msg')} (in code of node '{owner}' line {match.group('line')})")
        return LuaNodeError(text or "error")

    # -- conversion ----------------------------------------------------------------------------------------------
    def to_lua(self, value: Any) -> Any:
        """Python -> pure Lua values: dict -> table, list/tuple -> 1-based array, None -> nil."""
        return _to_lua(self._table_from, value)

    def to_python(self, value: Any, deadline: float = float("inf")) -> Any:
        """Lua -> Python: keys 1..n -> list, other tables -> dict (string keys), {} -> {}, integral floats -> int.
        Past ``deadline`` it raises LuaNodeError(timeout)."""
        try:
            return _to_python(self._lua_type, value, [0, deadline])
        except _ConversionTimeout:
            raise LuaNodeError(f"execution timeout ({self.timeout:g} s)", kind="timeout") from None


_SCALARS = (str, bool, int, float, bytes)


def _to_lua(table_from: Callable[..., Any], value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        items = {}
        for key, item in value.items():
            if item is None:
                continue
            if type(item) not in _SCALAR_SET:
                item = _to_lua(table_from, item)
            items[key if type(key) in _KEY_SET else str(key)] = item
        return table_from(items)
    if kind is list or kind is tuple:
        return table_from([item if type(item) in _SCALAR_SET else _to_lua(table_from, item) for item in value])
    if value is None or kind in _SCALAR_SET:
        return value
    if isinstance(value, dict):
        return _to_lua(table_from, dict(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return _to_lua(table_from, list(value))
    for base in _SCALARS:
        if isinstance(value, base):
            return base(value)
    return str(value)


_SCALAR_SET = frozenset({str, bool, int, float, bytes})
_KEY_SET = frozenset({str, int, bool})  # a YAML 1.1 `yes:` key stays the boolean it was read as
_LUA_INTEGERS = range(-(1 << 63), 1 << 63)


def _too_large(value: Any, path: str = "state") -> str | None:
    """The key path of the first integer outside Lua's 64-bit range."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = ((f"[{i}]", item) for i, item in enumerate(value))
    else:
        return path if type(value) is int and value not in _LUA_INTEGERS else None
    for key, item in items:
        found = _too_large(item, f"{path}{key}" if isinstance(value, (list, tuple)) else f"{path}.{key}")
        if found:
            return found
    return None


def _number(value: float) -> Any:
    if value.is_integer():
        return int(value)
    return value


class _ConversionTimeout(Exception):
    pass


def _to_python(lua_type: Callable[[Any], str | None], value: Any, watch: list[Any]) -> Any:
    # watch: [tables converted so far, the node's deadline], checked every 1024 tables (a list: made per node)
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is bytes:
        return value.decode("utf-8", "replace")
    if lua_type(value) != "table":
        return None  # functions, coroutines and userdata do not leave their VM
    tables = watch[0] = watch[0] + 1
    if not tables & 1023 and time.monotonic() > watch[1]:
        raise _ConversionTimeout
    items = list(value.items())
    if not items:
        return {}
    if type(items[0][0]) is not str:  # a table with a text key is never a list: most results skip this
        n = len(items)
        keys = [key for key, _ in items]
        if all(type(key) is int for key in keys) and min(keys) == 1 and max(keys) == n:
            ordered = sorted(items, key=lambda kv: kv[0]) if keys != list(range(1, n + 1)) else items
            return [_to_python(lua_type, item, watch) for _, item in ordered]
    out: dict[str, Any] = {}
    for key, item in items:
        if type(key) is float:
            key = _number(key)
        out[key if type(key) is str or type(key) is bool else str(key)] = _to_python(lua_type, item, watch)
    return out


class _VMPool:
    """A background thread that pre-creates VMs (each handed out once, never returned to the pool) and frees
    discarded ones, so neither creating nor freeing a runtime sits on a branch's critical path. It yields the
    GIL after each VM so running flows are never held up by it."""

    MAX_SIZE = 128
    MAX_BACKLOG = 256  # discarded VMs waiting for the pool thread to free them

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._ready: collections.deque[LuaVM] = collections.deque()
        self._discarded: collections.deque[LuaVM] = collections.deque()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._holds = 0

    def hold(self) -> None:
        """A fork is running its branches: keep the GIL for them (background work waits)."""
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        """The fork has joined. Background work stays asleep until a VM is taken or discarded outside a fork, or
        the run ends (:func:`wake_pool`): freeing the fork's VMs and making new ones meanwhile would compete for the
        GIL with the rest of the run (its fan-in, its next nodes), which then waits."""
        with self._lock:
            self._holds -= 1

    def take(self) -> LuaVM:
        try:
            vm = self._ready.popleft()
        except IndexError:
            vm = None
        self._wake()
        if vm is None:  # the pool ran dry (a wide fork): a branch waits for this VM, so it skips the collection
            vm = LuaVM()
            vm._settled = True
        return vm

    def discard(self, vm: LuaVM) -> None:
        vm.stop_check = vm.on_print = None
        if len(self._discarded) >= self.MAX_BACKLOG:
            vm.close()  # forks and runs back to back outpace the pool thread: free it here, memory stays bounded
            return
        self._discarded.append(vm)
        self._wake()

    def warm(self, count: int) -> None:
        """Keep at least ``count`` VMs ready from now on (bounded by MAX_SIZE)."""
        self.size = max(self.size, min(count, self.MAX_SIZE))
        self._wake()

    def _wake(self) -> None:
        if self._holds:
            return  # release() wakes the thread when the last fork has joined
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work_forever, name="tea-lua-vm-pool", daemon=True)
                    self._thread.start()
        self._wanted.set()

    def _work_forever(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            while not self._holds:
                if self._discarded:
                    self._discarded.popleft().close()
                elif len(self._ready) < self.size:
                    vm = LuaVM()
                    vm.settle()
                    self._ready.append(vm)
                else:
                    break
                time.sleep(0)  # hand the GIL to running flows between two VMs


_POOL = _VMPool()


def take_vm() -> LuaVM:
    """A fresh VM (never handed out before). Configure it with :meth:`LuaVM.configure`."""
    return _POOL.take()


def discard_vm(vm: LuaVM) -> None:
    """A VM whose flow has ended: it is never used again and is freed in the background."""
    _POOL.discard(vm)


def hold_pool() -> None:
    """Pause background VM work while branches run (pair with :func:`release_pool`)."""
    _POOL.hold()


def release_pool() -> None:
    _POOL.release()


def wake_pool() -> None:
    """A run has ended: free the VMs its branches used and make new ones (the time between runs is for that)."""
    _POOL._wake()


def warm_pool(count: int) -> None:
    """Hint that about ``count`` VMs will be needed soon (e.g. a run whose widest fork has that many branches)."""
    _POOL.warm(count)
