"""What a run may use, whatever the workflow file asks: caps on its limits and a memory budget for its states.

The file's ``settings.lua.timeout``, ``settings.lua.max_memory_mb`` and their ``settings.prolog`` twins are
untrusted. :class:`EngineCaps` (set by ``tea-studio run --max-timeout/--max-memory-mb/--max-state-mb`` or by the
studio) bounds them, and values the validator would refuse (NaN, infinities, zero, negatives, less than 1 MiB) fall back to the defaults.

Memory outside the Lua VMs: every state a flow holds and every branch result waiting for its fan-in is counted
(an estimate of its size as Python data) against one budget per run, :data:`DEFAULT_STATE_BUDGET_MB` unless set.
A node whose update would overrun it fails with "memory budget exceeded".
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
from dataclasses import dataclass
from typing import Any

from tea_studio.engine.lua_vm import DEFAULT_MAX_MEMORY_MB, DEFAULT_TIMEOUT_S

DEFAULT_STATE_BUDGET_MB = 1024.0
MIN_MEMORY_MB = 1.0


@dataclass(frozen=True)
class EngineCaps:
    """Upper bounds the user sets for every run (None = no cap beyond the defaults)."""

    max_timeout_s: float | None = None
    max_memory_mb: float | None = None
    state_budget_mb: float = DEFAULT_STATE_BUDGET_MB


def valid_limit(value: Any, minimum: float = 0.0) -> bool:
    """A limit a file may set: a finite number above zero (and at least ``minimum``)."""
    return (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            and value > 0 and value >= minimum)


def capped_limits(limits: Any, caps: EngineCaps | None) -> Any:
    """``limits`` (a plan's Limits) with invalid values replaced by the defaults and the caps applied, for Lua
    and Prolog nodes alike."""
    max_timeout = caps.max_timeout_s if caps is not None else None
    max_memory = caps.max_memory_mb if caps is not None else None
    wanted = {}
    for name in ("lua_timeout", "prolog_timeout"):
        wanted[name] = _capped(getattr(limits, name), DEFAULT_TIMEOUT_S, 0.0, max_timeout)
    for name in ("lua_max_memory_mb", "prolog_max_memory_mb"):
        wanted[name] = _capped(getattr(limits, name), float(DEFAULT_MAX_MEMORY_MB), MIN_MEMORY_MB, max_memory)
    changed = {name: value for name, value in wanted.items() if value != getattr(limits, name)}
    return dataclasses.replace(limits, **changed) if changed else limits


def _capped(value: Any, default: float, minimum: float, cap: float | None) -> float:
    value = value if valid_limit(value, minimum) else default
    if cap is not None and valid_limit(cap, minimum):
        value = min(value, cap)
    return float(value)


_FIXED_SIZES = {int: 32, float: 32, bool: 32, type(None): 32}  # what one number, boolean or None counts
_STR_BASE = 49  # what a str counts besides its characters


def estimate_size(value: Any, limit: int | None = None) -> int:
    """Roughly the bytes ``value`` takes as Python data (containers, strings and numbers; shared parts count each
    time they appear); stops counting past ``limit`` (a value that contains itself would never end)."""
    kind = type(value)
    if kind is str:  # most values a node sets are one scalar: no walk
        return _STR_BASE + len(value)
    fixed = _FIXED_SIZES.get(kind)
    if fixed is not None:
        return fixed
    total = 0
    stack = [value]
    getsizeof = sys.getsizeof
    fixed_sizes = _FIXED_SIZES
    while stack and (limit is None or total <= limit):
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            total += 64 + 100 * len(item)
            stack.extend(item.values())
            stack.extend(key for key in item if type(key) is str)
        elif kind is list or kind is tuple:
            total += 56 + 8 * len(item)
            stack.extend(item)
        elif kind is str:
            total += _STR_BASE + len(item)
        elif kind in fixed_sizes:
            total += fixed_sizes[kind]
        else:
            try:
                total += getsizeof(item)
            except TypeError:
                total += 64
    return total


class BudgetExceeded(Exception):
    pass


class StateBudget:
    """The bytes of state held by the flows of one run (thread-safe)."""

    def __init__(self, megabytes: float = DEFAULT_STATE_BUDGET_MB) -> None:
        self.limit = int(megabytes * (1 << 20)) if valid_limit(megabytes) else int(DEFAULT_STATE_BUDGET_MB) << 20
        self.used = 0
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        left = self.limit - self.used  # read before every Lua node: no call to max()
        return left if left > 1 else 1

    def charge(self, size: int) -> None:
        """Count ``size`` more bytes (negative: bytes given back); raises BudgetExceeded past the limit."""
        with self._lock:
            if size > 0 and self.used + size > self.limit:
                raise BudgetExceeded(f"memory budget exceeded: the run's states and results would need more than "
                                     f"{self.limit / (1 << 20):g} MiB")
            self.used += size


class FlowHeld:
    """What one flow's state holds, key by key, so an update is charged for what it changes."""

    __slots__ = ("budget", "sizes", "total")

    def __init__(self, budget: StateBudget) -> None:
        self.budget = budget
        self.sizes: dict[str, int] = {}
        self.total = 0

    def hold(self, state: dict[str, Any]) -> None:
        """Start from ``state`` (a flow's first state, or a branch's copy of its fork's state)."""
        self.update(state)

    def update(self, update: dict[str, Any]) -> None:
        """Charge the keys ``update`` sets, for what they add over the values they replace. Runs after every
        node: a key whose size is unchanged (a loop's counter) is not written."""
        sizes = self.sizes
        delta = 0
        changed = None
        for key, value in update.items():
            kind = type(value)  # scalars (most values) sized here: estimate_size's first two rules, without a call
            size = _STR_BASE + len(value) if kind is str else (
                _FIXED_SIZES.get(kind) or estimate_size(value, self.budget.limit))
            old = sizes.get(key)
            if size != old:
                if changed is None:
                    changed = {key: size}
                else:
                    changed[key] = size
                delta += size - (old or 0)
        if changed is not None:
            if delta:  # sizes that only moved between keys change nothing: no lock
                self.budget.charge(delta)
                self.total += delta
            sizes.update(changed)

    def start_from(self, other: FlowHeld) -> None:
        """Start as a copy of ``other``'s account: a branch's state is a copy of its fork's, sized already."""
        self.budget.charge(other.total)
        self.sizes = dict(other.sizes)
        self.total = other.total

    def take_over(self, key: str, size: int, counted: int) -> None:
        """Hold ``key`` at ``size`` bytes, ``counted`` of which the budget counts already: the final states of
        branches run in this process become their fork's ``parallel_results`` without being sized again."""
        old = self.sizes.get(key, 0)
        try:
            self.budget.charge(size - counted - old)
        except BudgetExceeded:
            self.budget.charge(-counted)  # the branches' states are dropped with the failing fork
            raise
        self.sizes[key] = size
        self.total += size - old

    def release(self) -> None:
        """The flow has ended and its state is no longer held (or it was handed to its fork as a result)."""
        self.budget.charge(-self.total)
        self.sizes.clear()
        self.total = 0
