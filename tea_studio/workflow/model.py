"""The workflow document: plain dataclasses, no Qt, no running.

Node names are the ids. Everything a TEA YAML file says that the model has no field for is kept in an
``extra`` mapping (in file order) so that saving writes it back. Source positions (``line``/``col``, 1-based,
0 when unknown) never take part in equality.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

START = "__start__"
END = "__end__"
RESERVED_NAMES = frozenset({START, END})

# What a node does (FORMAT.md §2).
LUA = "lua"
PYTHON = "python"
PROLOG = "prolog"
ACTION = "action"
NOOP = "noop"
WHILE_LOOP = "while_loop"
DYNAMIC_PARALLEL = "dynamic_parallel"
FAN_IN = "fan_in"  # not a node kind of its own: what the studio creates as a Lua node with `fan_in: true`


@dataclass(frozen=True)
class KindInfo:
    """How the studio names and offers one kind of node. ``icon`` is None for kinds the palette does not offer."""

    label: str
    icon: str | None = None
    description: str = ""
    creatable: bool = False  # offered by the palette, the node search and the canvas menu
    switchable: bool = False  # an existing node can be switched to it in the inspector
    new_code: str | None = None  # the code a new node of this kind starts with


# The one table of node kinds, in the order menus list them.
KINDS: dict[str, KindInfo] = {
    LUA: KindInfo("Lua", "node-lua", "A Lua 5.4 node: the code gets `state` and returns a table merged into it",
                  creatable=True, switchable=True, new_code="return {}\n"),
    PYTHON: KindInfo("Python", "node-python", "An inline Python node (trusted code)", creatable=True,
                     switchable=True, new_code="return {}\n"),
    FAN_IN: KindInfo("Fan-in", "node-fan-in", "A Lua node with fan_in: true that collects state.parallel_results",
                     creatable=True,
                     new_code="local results = state.parallel_results or {}\nreturn {count = #results}\n"),
    NOOP: KindInfo("No-op", "node-noop", "A node that does nothing (a junction or a placeholder)", creatable=True,
                   switchable=True),
    ACTION: KindInfo("Action", "node-action", "A TEA action (uses: + with:), kept for export to tea",
                     creatable=True, switchable=True),
    PROLOG: KindInfo("Prolog", "node-prolog", "A sandboxed SWI-Prolog node: state(Key, Value) reads the state, "
                     "return(Key, Value) sets the update", creatable=True, switchable=True,
                     new_code="state(value, V),\nreturn(result, V).\n"),
    WHILE_LOOP: KindInfo("While loop"),
    DYNAMIC_PARALLEL: KindInfo("Dynamic parallel"),
}
CODE_KINDS = (LUA, PYTHON, PROLOG)  # the kinds whose nodes run their own code (`run:`)
CREATABLE_KINDS = tuple(kind for kind, info in KINDS.items() if info.creatable)
SWITCHABLE_KINDS = tuple(kind for kind, info in KINDS.items() if info.switchable)


def kind_label(kind: str) -> str:
    """The label of a node kind (the kind itself when unknown)."""
    info = KINDS.get(kind)
    return info.label if info is not None else kind


# Where parallel branches run (FORMAT.md §5 `settings.parallel.strategy`, `parallel_strategy`).
STRATEGIES = ("thread", "process", "dask")
DEFAULT_STRATEGY = STRATEGIES[0]  # a file that names none runs its branches on threads

# How a node's code was written, so that saving keeps the author's form.
FORM_LANGUAGE = "language"  # language: lua|python|prolog + run: |   (what the studio writes)
FORM_RUN_TABLE = "run_table"  # run: {type: lua, code: "..."}
FORM_MARKER = "marker"  # run: whose first non-blank line is `-- lua` (or that starts with `% prolog`)
FORM_RUN = "run"  # run: "python code"
FORM_LUA_SHAPE = "lua_shape"  # run: with no marker whose code is not Python but Lua (TEA's Lua detection)
FORM_SCRIPT = "script"  # script: "python code"


def _pos() -> int:
    return field(default=0, compare=False, repr=False)


@dataclass
class GotoRule:
    """One `{if: expr, to: name}` rule of a goto list; ``condition`` None means the rule always holds."""

    to: str
    condition: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = _pos()
    col: int = _pos()


@dataclass
class Node:
    """A workflow node. ``goto`` is a target name, a list of rules, or None (no goto)."""

    name: str
    kind: str = NOOP
    code: str | None = None
    code_form: str | None = None
    goto: str | list[GotoRule] | None = None
    uses: str | None = None
    with_args: dict[str, Any] | None = None
    output: Any = None
    fan_in: bool = False
    interrupt: str | None = None  # "before" | "after" | None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = _pos()
    col: int = _pos()

    @property
    def goto_rules(self) -> list[GotoRule]:
        """The goto as a rule list (a plain `goto: x` is one unconditional rule)."""
        if self.goto is None:
            return []
        if isinstance(self.goto, str):
            return [GotoRule(to=self.goto)]
        return list(self.goto)


@dataclass
class Edge:
    """An entry of the top-level ``edges`` list: a legacy route or a parallel fork edge.

    ``target`` is a list only for the `to: [a, b]` fork spelling (one branch per target, in order).
    ``condition`` and ``when`` are kept exactly as written; the engine interprets them (FORMAT.md §3-4).
    ``parallel_form`` records how a fork was spelled: "type" (`type: parallel`) or "flag" (`parallel: true`).
    """

    source: str
    target: str | list[str]
    condition: Any = None
    when: Any = None
    parallel: bool = False
    parallel_form: str = "type"
    fan_in: str | None = None
    parallel_strategy: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = _pos()
    col: int = _pos()

    @property
    def targets(self) -> list[str]:
        return list(self.target) if isinstance(self.target, list) else [self.target]

    @property
    def is_conditional(self) -> bool:
        return self.condition is not None or self.when is not None


@dataclass
class Layout:
    """Studio-only data stored under the top-level ``x-tea-studio`` key.

    ``pins`` maps a node name to the update a run uses instead of running that node (a pinned output: for
    debugging what cannot or should not run locally, e.g. a paid LLM call).
    """

    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    viewport: dict[str, Any] | None = None
    pins: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.positions and self.viewport is None and not self.pins and not self.extra


@dataclass
class Workflow:
    """A TEA workflow. ``nodes`` and ``edges`` keep file order, which matters to routing and to fan-in results.

    Top-level dict sections are kept as plain values (None when absent from the file, so saving does not add them).
    ``extra`` holds every other top-level key in file order. ``source`` is yaml_io's private record of the text
    the workflow was loaded from (for the byte-faithful round trip); ``path`` is where it was loaded from.
    """

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    name: str | None = None
    description: str | None = None
    variables: dict[str, Any] | None = None
    state_schema: Any = None
    initial_state: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    layout: Layout = field(default_factory=Layout)
    path: str | None = field(default=None, compare=False, repr=False)
    source: Any = field(default=None, compare=False, repr=False)

    # -- lookups -------------------------------------------------------------------------------------------
    def node(self, name: str) -> Node | None:
        for node in self.nodes:
            if node.name == name:
                return node
        return None

    @property
    def node_names(self) -> list[str]:
        return [node.name for node in self.nodes]

    def has_node(self, name: str) -> bool:
        return self.node(name) is not None

    def section(self, key: str) -> dict[str, Any]:
        """A top-level dict section (``settings``, ``config``, ...) or {} when absent."""
        value = getattr(self, key)
        return value if isinstance(value, dict) else {}

    def interrupts(self) -> tuple[frozenset[str], frozenset[str]]:
        """The nodes a run pauses before and after: ``config.interrupt_before/after`` (a name or a list), a node's
        ``interrupt: before|after``, and TEA's node-level ``interrupt_before: true`` / ``interrupt_after: true``."""
        config = self.section("config")
        found: dict[str, set[str]] = {}
        for when in ("before", "after"):
            key = f"interrupt_{when}"  # made once, not once per node of every plan
            listed = config.get(key)
            names = found.setdefault(when, set())
            names.update(str(v) for v in (listed if isinstance(listed, (list, tuple)) else [listed])
                         if isinstance(v, (str, int)) and not isinstance(v, bool))
            names.update(node.name for node in self.nodes if node.interrupt == when or node.extra.get(key) is True)
        return frozenset(found["before"]), frozenset(found["after"])

    def setting(self, *path: str, default: Any = None) -> Any:
        """``settings`` looked up by key path, e.g. ``setting("lua", "timeout", default=30)``."""
        value: Any = self.settings or {}
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def unique_name(self, base: str, numbered: bool = False) -> str:
        """A node name based on ``base`` that no node has yet (see :func:`unique_name`)."""
        return unique_name(self.node_names, base, numbered)

    def clone(self) -> Workflow:
        """A deep copy that shares the loaded source record (so the copy still saves faithfully)."""
        source = self.source
        self.source = None
        try:
            twin = copy.deepcopy(self)
        finally:
            self.source = source
        twin.source = source
        return twin


def unique_name(existing: set[str] | list[str], base: str, numbered: bool = False) -> str:
    """``base`` if free (unless ``numbered``), else ``base_1``, ``base_2``, ...: clashes with nothing in ``existing``."""
    taken = set(existing) | RESERVED_NAMES
    if not numbered and base not in taken:
        return base
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"
