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

LuaError = lua54.LuaError
LuaMemoryError = lua54.LuaMemoryError

HOOK_INSTRUCTIONS = 4096  # instructions between two clock reads inside Lua
CHECK_INTERVAL_S = 0.02  # CPU seconds between two calls into Python
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_MEMORY_MB = 256

_UNLIMITED = 0

# The sandbox and the hook. Runs once per VM with (check, log, hook_instructions, check_interval) and returns
# (compile, invoke, sethook). Everything it captures stays in upvalues that node code cannot reach (no `debug`).
_BOOTSTRAP = r"""
local check, log, every, interval = ...
local sethook, clock = debug.sethook, os.clock
local error, select, type, tostring = error, select, type, tostring
local raw_pcall, raw_xpcall, raw_load = pcall, xpcall, load
local co_create, co_resume = coroutine.create, coroutine.resume
local concat = table.concat
local G = _G
local SENTINEL = setmetatable({}, {__tostring = function() return "tea: limit reached" end})
local tripped = false
local next_check = 0

local function hook()
  if tripped then error(SENTINEL, 0) end
  local now = clock()
  if now >= next_check then
    next_check = now + interval
    if check() then
      tripped = true
      sethook(hook, "", 1)
      error(SENTINEL, 0)
    end
  end
end

local function rethrow(ok, ...)
  if tripped then
    sethook(hook, "", 1)
    error(SENTINEL, 0)
  end
  return ok, ...
end

local function guarded_create(f)
  local co = co_create(f)
  sethook(co, hook, "", tripped and 1 or every)
  return co
end

local function unwrap(ok, ...)
  if tripped then
    sethook(hook, "", 1)
    error(SENTINEL, 0)
  end
  if not ok then error((...), 0) end
  return ...
end

G.pcall = function(...) return rethrow(raw_pcall(...)) end
-- A message handler runs where the error was raised, possibly inside the hook (hooks off): once a limit has
-- tripped, the user's handler is skipped.
G.xpcall = function(f, handler, ...)
  return rethrow(raw_xpcall(f, function(e)
    if tripped then return e end
    return handler(e)
  end, ...))
end
-- Finalizers run with hooks off and could never be stopped: refuse __gc.
local raw_setmetatable, rawget = setmetatable, rawget
G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not available in TEA Studio", 2)
  end
  return raw_setmetatable(t, mt)
end
coroutine.create = guarded_create
coroutine.resume = function(...) return rethrow(co_resume(...)) end
coroutine.wrap = function(f)
  local co = guarded_create(f)
  return function(...) return unwrap(co_resume(co, ...)) end
end
G.print = function(...)
  local n = select("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring(parts[i]) end
  log(concat(parts, "\t", 1, n))
end
for _, name in ipairs({"os", "io", "debug", "loadfile", "dofile", "load", "require", "package",
                       "collectgarbage", "python", "warn"}) do
  G[name] = nil
end
string.dump = nil

local function compile(code, chunkname)
  return raw_load(code, chunkname, "t", G)
end

local function invoke(fn, state)
  tripped = false
  next_check = clock() + interval
  sethook(hook, "", every)
  return (fn(state))
end

return compile, invoke, sethook
"""


def _precompile(source: str) -> bytes:
    """Lua bytecode for ``source`` (loading bytecode skips the parser: ~15 µs less per VM)."""
    scratch = lua54.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    return scratch.execute(b"return string.dump(assert(load(..., '=tea_sandbox', 't')), true)", source.encode())


_BOOTSTRAP_CODE = _precompile(_BOOTSTRAP)


def _refuse_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Lua code cannot reach Python objects")


class LuaNodeError(Exception):
    """A Lua node failed: ``message`` is Lua's (cleaned), ``line`` counted from the node code's first line."""

    def __init__(self, message: str, line: int | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind  # error | timeout | stopped | memory


_TRACEBACK = "\nstack traceback:"
_POSITION = re.compile(r"^(?P<chunk>[^\n]*?):(?P<line>\d+): (?P<msg>.*)$", re.S)


_CHUNK_NAME_MAX = 48  # Lua cuts a chunk name at LUA_IDSIZE (60 bytes) in its messages


def _chunk_name(node: str, number: int) -> str:
    """The name Lua reports for a node's code: the node name, shortened (and numbered) when Lua would cut it."""
    name = node.replace("\n", " ")
    if len(name.encode("utf-8")) <= _CHUNK_NAME_MAX:
        return name
    return name.encode("utf-8")[:_CHUNK_NAME_MAX - 8].decode("utf-8", "ignore") + f"~{number}"


class LuaVM:
    """One sandboxed Lua 5.4 runtime. Not thread-safe: one flow uses it from one thread at a time."""

    __slots__ = ("runtime", "_compile", "_invoke", "_clear_hook", "_functions", "_chunks", "_table_from", "_lua_type",
                 "deadline",
                 "timeout", "stop_check", "on_print", "_reason", "__weakref__")

    def __init__(self) -> None:
        self.runtime = lua54.LuaRuntime(
            register_eval=False, register_builtins=False, unpack_returned_tuples=True,
            attribute_filter=_refuse_attributes, max_memory=DEFAULT_MAX_MEMORY_MB << 20,
        )
        self._compile, self._invoke, self._clear_hook = self.runtime.execute(
            _BOOTSTRAP_CODE, self._check, self._log, HOOK_INSTRUCTIONS, CHECK_INTERVAL_S)
        self._functions: dict[str, Any] = {}
        self._chunks: dict[str, str] = {}  # chunk name -> node
        self._table_from = self.runtime.table_from
        self._lua_type = lua54.lua_type
        self.deadline = 0.0
        self.timeout = DEFAULT_TIMEOUT_S
        self.stop_check: Callable[[], bool] | None = None
        self.on_print: Callable[[str], None] | None = None
        self._reason: str | None = None

    # -- configuration ---------------------------------------------------------------------------------------
    def configure(self, timeout: float | None = None, max_memory_mb: float | None = None,
                  stop_check: Callable[[], bool] | None = None,
                  on_print: Callable[[str], None] | None = None) -> LuaVM:
        """Set the per-node timeout (seconds), the memory limit (MiB, 0/None = unlimited) and the callbacks."""
        self.timeout = DEFAULT_TIMEOUT_S if timeout is None else float(timeout)
        limit = 0 if not max_memory_mb else int(float(max_memory_mb) * (1 << 20))
        self.runtime.set_max_memory(limit if limit > 0 else _UNLIMITED)
        self.stop_check = stop_check
        self.on_print = on_print
        return self

    def close(self) -> None:
        """Free the runtime now (the Lua state holds the VM's callbacks, so without this only the cyclic garbage
        collector would free it)."""
        self._functions = {}
        self._chunks = {}
        self._compile = self._invoke = self._clear_hook = self._table_from = None
        self.runtime = None
        self.stop_check = self.on_print = None

    def memory_kb(self) -> float:
        """Memory the runtime's allocator has handed out since creation, in KiB."""
        return self.runtime.get_memory_used() / 1024.0

    # -- hook callbacks (called from Lua) ----------------------------------------------------------------------
    def _check(self) -> bool:
        stop = self.stop_check
        if stop is not None and stop():
            self._reason = "stopped"
            return True
        if time.monotonic() >= self.deadline:
            self._reason = "timeout"
            return True
        return False

    def _log(self, text: Any) -> None:
        if self.on_print is not None:
            self.on_print(text if isinstance(text, str) else str(text))

    # -- running -------------------------------------------------------------------------------------------------
    def function_for(self, node: str, code: str) -> Any:
        """The compiled node function (body of ``function(state)``), compiled once per VM."""
        fn = self._functions.get(node)
        if fn is None:
            chunk = _chunk_name(node, len(self._chunks) + 1)
            self._chunks[chunk] = node
            fn = self._compile("local state = ...; " + code, "=" + chunk)
            if type(fn) is tuple:
                raise self._error(str(fn[1]), node)
            self._functions[node] = fn
        return fn

    def run_node(self, node: str, code: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """Run a Lua node on ``state``; returns the update to merge (None = no change)."""
        fn = self.function_for(node, code)
        self._reason = None
        try:
            lua_state = self.to_lua(state)
            self.deadline = time.monotonic() + self.timeout
            result = self._invoke(fn, lua_state)
        except LuaMemoryError:
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
            raise self._error(str(exc), node) from None
        if result is None:
            return None
        value = self.to_python(result)
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

    def to_python(self, value: Any) -> Any:
        """Lua -> Python: keys 1..n -> list, other tables -> dict (string keys), {} -> {}, integral floats -> int."""
        return _to_python(self._lua_type, value)


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


def _to_python(lua_type: Callable[[Any], str | None], value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is bytes:
        return value.decode("utf-8", "replace")
    if lua_type(value) != "table":
        return None  # functions, coroutines and userdata do not leave their VM
    items = list(value.items())
    if not items:
        return {}
    n = len(items)
    keys = [key for key, _ in items]
    if all(type(key) is int for key in keys) and min(keys) == 1 and max(keys) == n:
        ordered = sorted(items, key=lambda kv: kv[0]) if keys != list(range(1, n + 1)) else items
        return [_to_python(lua_type, item) for _, item in ordered]
    out: dict[str, Any] = {}
    for key, item in items:
        if type(key) is float:
            key = _number(key)
        out[key if type(key) is str or type(key) is bool else str(key)] = _to_python(lua_type, item)
    return out


class _VMPool:
    """A background thread that pre-creates VMs (each handed out once, never returned to the pool) and frees
    discarded ones, so neither creating nor freeing a runtime sits on a branch's critical path. It yields the
    GIL after each VM so running flows are never held up by it."""

    MAX_SIZE = 128

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._ready: collections.deque[LuaVM] = collections.deque()
        self._discarded: collections.deque[LuaVM] = collections.deque()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._holds = 0

    def hold(self) -> None:
        """A fork is running its branches: keep the GIL for them (background work waits for release())."""
        with self._lock:
            self._holds += 1

    def release(self) -> None:
        with self._lock:
            self._holds -= 1
            idle = self._holds == 0
        if idle:
            self._wake()

    def take(self) -> LuaVM:
        try:
            vm = self._ready.popleft()
        except IndexError:
            vm = None
        self._wake()
        return vm if vm is not None else LuaVM()

    def discard(self, vm: LuaVM) -> None:
        vm.stop_check = vm.on_print = None
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
                    self._ready.append(LuaVM())
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


def warm_pool(count: int) -> None:
    """Hint that about ``count`` VMs will be needed soon (e.g. a run whose widest fork has that many branches)."""
    _POOL.warm(count)
