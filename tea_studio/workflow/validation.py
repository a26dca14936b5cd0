"""Static checks on a workflow: every problem FORMAT.md implies, located at the node, goto rule or edge concerned.

``validate(workflow)`` never runs anything: Lua code is only compiled (in a fresh ``lupa.lua54`` runtime), Python
code only parsed, conditions only parsed by Jinja2's sandboxed environment. Codes are TEA's where TEA has one.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tea_studio.workflow.action_schemas import UNSUPPORTED_REASONS, action_call, action_schema, param_problems
from tea_studio.workflow.code_syntax import LuaSyntaxChecker, lua_syntax_error, python_syntax_error
from tea_studio.workflow.constructs import construct_of, implicit_next
from tea_studio.workflow.model import (
    CODE_KINDS,
    DYNAMIC_PARALLEL,
    END,
    FORM_LUA_SHAPE,
    FORM_MARKER,
    LUA,
    PROLOG,
    PYTHON,
    START,
    STRATEGIES,
    Edge,
    GotoRule,
    Node,
    Workflow,
)
from tea_studio.workflow.routes import RouteKind, Successor, entry_nodes, flow_targets, successors
from tea_studio.workflow.streams import stream_problems
from tea_studio.workflow.text import one_line

ERROR = "error"
WARNING = "warning"
INFO = "info"  # worth knowing, not wrong: never counted as a problem

# Every code validate() or the loader can report, with its severity.
SEVERITIES: dict[str, str] = {
    # from the loader (yaml_io.WorkflowError)
    "FILE_READ": ERROR,
    "YAML_PARSE": ERROR,
    "INVALID_ROOT": ERROR,
    "INVALID_NODES": ERROR,
    "INVALID_NODE": ERROR,
    "INVALID_FIELD": ERROR,
    # nodes
    "MISSING_NODE_NAME": ERROR,
    "DUPLICATE_NODE": ERROR,
    "RESERVED_NODE_NAME": ERROR,
    "LUA_SYNTAX": ERROR,
    "PYTHON_SYNTAX": ERROR,
    "LUA_MARKER_FORM": WARNING,
    "LUA_BY_SHAPE": WARNING,
    "UNKNOWN_ACTION": WARNING,
    "ACTION_PARAMETER": ERROR,
    "NODE_TYPE_NOT_SUPPORTED": WARNING,
    "INVALID_NODE_CONFIG": ERROR,
    "DYNAMIC_PARALLEL_WITHOUT_FAN_IN": WARNING,  # TEA refuses to load it; the studio follows the node's routes
    "INVALID_INTERRUPT": WARNING,
    # stream channels (workflow/streams.py)
    "INVALID_STREAMS": ERROR,
    "STREAM_NO_PRODUCER": ERROR,
    "STREAM_MULTIPLE_PRODUCERS": ERROR,
    "STREAM_INTERRUPT": ERROR,
    "STREAM_DIRECT_FAN_OUT": ERROR,
    "EMPTY_WORKFLOW": WARNING,
    # routing
    "GOTO_UNDEFINED": ERROR,
    "EDGE_FROM_UNDEFINED": ERROR,
    "EDGE_TO_UNDEFINED": ERROR,
    "INVALID_CONDITION": ERROR,
    "DUPLICATE_GOTO_TARGET": WARNING,
    "GOTO_RULE_NEVER_TRIED": WARNING,
    "EDGE_IGNORED": WARNING,
    "UNREACHABLE_NODE": WARNING,
    "NO_PATH_TO_END": WARNING,
    "MULTIPLE_UNCONDITIONAL_ROUTES": WARNING,
    "IMPLICIT_CHAINING": INFO,
    # parallel
    "PARALLEL_FAN_IN_UNDEFINED": ERROR,
    "FAN_IN_MISMATCH": ERROR,
    "FORK_WITH_GOTO": ERROR,
    "BRANCH_NOT_JOINED": WARNING,
    # settings and config
    "INVALID_SETTING": WARNING,
    "INVALID_LIMIT": ERROR,  # a Lua limit that would not limit (NaN, zero, negative, under 1 MiB)
    "INTERRUPT_UNDEFINED": WARNING,
}



@dataclass(frozen=True)
class Problem:
    """One finding. ``line``/``col`` are 1-based positions in the file (0 when unknown)."""

    code: str
    severity: str
    node: str | None
    message: str
    line: int = 0
    col: int = 0

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self, path: str) -> str:
        """``FILE:LINE:COL: severity [CODE]: message`` (an unknown position shows as 1:1)."""
        return one_line(f"{path}:{max(self.line, 1)}:{max(self.col, 1)}: {self.severity} [{self.code}]: {self.message}")


def problem_from_error(error: Any) -> Problem:
    """The Problem for a loader ``WorkflowError`` (code, message, line, col)."""
    code = getattr(error, "code", None) or "YAML_PARSE"
    message = getattr(error, "message", None) or str(error)
    return Problem(code, SEVERITIES.get(code, ERROR), None, message,
                   getattr(error, "line", 0) or 0, getattr(error, "col", 0) or 0)


# -- code checks --------------------------------------------------------------------------------------------

PROLOG_INSTALL_HINT = "Prolog nodes need SWI-Prolog: apt install swi-prolog-nox"


def swipl_path() -> str | None:
    """The ``swipl`` Prolog nodes run with, or None when SWI-Prolog is not installed (looked up each time, so
    installing it needs no restart)."""
    return shutil.which("swipl")


def unsupported_code(node: Node) -> str | None:
    """Why TEA Studio cannot run a node's code (another ``language:``, an unknown ``run:`` mapping, Prolog
    without SWI-Prolog), or None."""
    if node.kind == PROLOG and swipl_path() is None:
        return PROLOG_INSTALL_HINT
    extra = node.extra
    if not extra:  # every check below reads a key of `extra`: most nodes have none
        return None
    language = extra.get("language")
    if language is not None and language not in CODE_KINDS:
        return f"language {language!r} is not supported by TEA Studio; export and run with tea"
    run = extra.get("run")
    if isinstance(run, dict) and run.get("type") not in (None, "expression", *CODE_KINDS):
        return f"language {run.get('type')!r} is not supported by TEA Studio; export and run with tea"
    if extra.get("streams") and node.kind != PYTHON:  # TEA pipes the stdio of a Python node's process
        what = "Lua nodes" if node.kind == LUA else f"{node.kind} nodes"
        return (f"`streams:` on a {node.kind} node: {what} cannot stream (TEA pipes only the stdin/stdout of "
                "Python nodes); export and run with tea")
    if "parallel_each" in extra:  # TEA fans the node out over a list; running it once would skip the rest
        return "`parallel_each:` is not supported by TEA Studio (type: dynamic_parallel does the same); " \
               "export and run with tea"
    if extra.get("on_error") is not None:  # TEA retries, records __error__ or routes to a fallback node
        return ("node-level `on_error:` (TEA's raise/graceful/retry error handling) is not supported by "
                "TEA Studio; export and run with tea")
    strategy = extra.get("strategy")
    if isinstance(strategy, dict) and "matrix" in strategy:
        return "a matrix `strategy:` is not supported by TEA Studio; export and run with tea"
    if isinstance(run, dict) and run.get("type") != "expression":
        return ("this `run:` mapping is not supported by TEA Studio (use `language: lua|python|prolog` with `run: |` "
                "code, or `run: {type: lua|python|prolog, code: ...}` alone); export and run with tea")
    return None


def action_problems(call: Any) -> list[tuple[str, str | None, str]]:
    """``(code, parameter key or None, message tail)`` for an action node: UNKNOWN_ACTION, or ACTION_PARAMETER for
    each missing or mistyped parameter of its schema."""
    schema = action_schema(call.name)
    if schema is None:
        reason = UNSUPPORTED_REASONS.get(call.name)
        return [("UNKNOWN_ACTION", None, f" uses action '{call.name}', which TEA Studio does not "
                                         f"{f'run ({reason})' if reason else 'know'}: a run stops there (export and "
                                         "run it with tea)")]
    return [("ACTION_PARAMETER", key, f": {message}") for key, message in param_problems(schema, call.params)]


def inner_problem(node: Node) -> tuple[str, str] | None:
    """``(code, message tail)`` for a node inside a loop body or a steps list, or None when it can run."""
    unsupported = unsupported_code(node)
    if unsupported is not None:
        return "NODE_TYPE_NOT_SUPPORTED", f": {unsupported}"
    if node.kind == LUA and isinstance(node.code, str):
        error = lua_syntax_error(node.code)
        return ("LUA_SYNTAX", f" line {error[0]}: {error[1]}") if error else None
    if node.kind == PYTHON and isinstance(node.code, str):
        error = python_syntax_error(node.code)
        return ("PYTHON_SYNTAX", f" line {error[0]}: {error[1]}") if error else None
    call = action_call(node)
    if call is not None:
        problems = action_problems(call)
        return (problems[0][0], problems[0][2]) if problems else None
    construct = construct_of(node)
    if construct is not None and construct.problems:
        return "INVALID_NODE_CONFIG", f": {construct.problems[0][1]}"
    return None


_EDGE_CONSTANTS = ("true", "false")
_NEGATED_KEY = re.compile(r"^!\s*\S+$")


def goto_condition_error(expression: Any) -> str | None:
    """Why a goto ``if:`` is not a valid Jinja2 expression (or ``{{ }}`` template), or None."""
    return expression_error(expression) if isinstance(expression, str) else None


def edge_condition_error(expression: Any) -> str | None:
    """Why an edge ``condition``/``when`` does not parse (``true``, ``false``, ``!key`` and ``key`` are fine)."""
    if not isinstance(expression, str):
        return None
    text = expression.strip()
    if text.lower() in _EDGE_CONSTANTS or _NEGATED_KEY.match(text):
        return None
    return expression_error(expression)


@functools.lru_cache(maxsize=8192)
def expression_error(expression: str) -> str | None:
    """Why ``expression`` does not parse in Jinja2's sandboxed environment, or None (results are cached)."""
    from jinja2 import TemplateSyntaxError
    from jinja2.parser import Parser

    if not expression.strip():
        return "empty expression"
    env = _jinja()
    try:
        if "{{" in expression or "{%" in expression:
            env.parse(expression)
            return None
        parser = Parser(env, expression, state="variable")
        parser.parse_expression()
        if not parser.stream.eos:
            return f"unexpected {parser.stream.current.value!r} after the expression"
    except TemplateSyntaxError as exc:
        return exc.message or "syntax error"
    except (RecursionError, MemoryError) as exc:
        return f"expression too deeply nested ({type(exc).__name__})"
    return None


@functools.cache
def _jinja():
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment()


# -- the checks ---------------------------------------------------------------------------------------------


def validate(workflow: Workflow) -> list[Problem]:
    """Every problem in ``workflow``, sorted by position in the file."""
    return _Validation(workflow).run()


class _Validation:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.problems: list[Problem] = []
        self.defined: dict[str, Node] = {}  # first node of each valid name
        self._lua: LuaSyntaxChecker | None = None
        self.source = _SourceLocator(workflow)

    def run(self) -> list[Problem]:
        wf = self.workflow
        if not wf.nodes:
            self.add("EMPTY_WORKFLOW", None, "the workflow has no nodes", self.source.section_key("nodes"))
        self.check_names()
        for node in wf.nodes:
            self.check_node(node)
        forks = self.check_edges()
        self.check_gotos()
        self.check_settings()
        self.check_streams()
        self.check_graph(forks)
        self.check_misleading_routes(forks)
        return sorted(self.problems, key=lambda p: (p.line, p.col))

    def add(self, code: str, node: str | None, message: str, where: Any = None, line: int = 0, col: int = 0) -> None:
        if isinstance(where, tuple):
            line, col = where
        elif where is not None and not line:
            line, col = getattr(where, "line", 0) or 0, getattr(where, "col", 0) or 0
        self.problems.append(Problem(code, SEVERITIES[code], node, message, line, col))

    def is_node(self, name: Any) -> bool:
        return isinstance(name, str) and name in self.defined

    # nodes --------------------------------------------------------------------------------------------
    def check_names(self) -> None:
        for node in self.workflow.nodes:
            name = node.name
            if not isinstance(name, str) or not name.strip():
                self.add("MISSING_NODE_NAME", None, "a node has no name", node)
            elif name in (START, END):
                self.add("RESERVED_NODE_NAME", name, f"'{name}' is reserved and cannot name a node", node)
            elif name in self.defined:
                first = self.defined[name]
                where = f" (first at line {first.line})" if first.line else ""
                self.add("DUPLICATE_NODE", name, f"node '{name}' is defined twice{where}", node)
            else:
                self.defined[name] = node

    def check_node(self, node: Node) -> None:
        name = node.name or None
        label = f"node '{node.name}'" if node.name else "a nameless node"
        unsupported = unsupported_code(node)
        if unsupported is not None:
            self.add("NODE_TYPE_NOT_SUPPORTED", name, f"{label}: {unsupported}", node)
        elif node.kind == LUA and isinstance(node.code, str):
            if self._lua is None:
                self._lua = LuaSyntaxChecker()
            self.code_problem("LUA_SYNTAX", node, label, self._lua(node.code))
            if node.code_form == FORM_LUA_SHAPE:
                self.add("LUA_BY_SHAPE", name, f"{label} has no language but its code is Lua, not Python: it runs as "
                         "Lua (as TEA's Rust engine runs it); write 'language: lua' to say so", node)
            if node.code_form == FORM_MARKER:
                self.add("LUA_MARKER_FORM", name, f"{label} marks Lua with a '-- lua' comment: TEA's own CLI runs it "
                         "as Python; write 'language: lua' instead", node)
        elif node.kind == PYTHON and isinstance(node.code, str):
            self.code_problem("PYTHON_SYNTAX", node, label, self.python_problem(node.code))
        elif (call := action_call(node)) is not None:
            self.check_action(node, call, label)
        else:
            self.check_construct(node, label)
        if node.interrupt not in (None, "before", "after"):
            self.add("INVALID_INTERRUPT", name, f"{label}: interrupt must be 'before' or 'after', not "
                     f"{node.interrupt!r}", node)

    def check_action(self, node: Node, call: Any, label: str) -> None:
        """An unknown action warns (a run stops there); a missing or mistyped parameter is an error located at
        the `with:` key, or at the parameter's own key."""
        for code, key, message in action_problems(call):
            if code == "UNKNOWN_ACTION":
                where = self.source.key(node, call.spelling)
            elif key:
                where = self.source.nested_key(node, call.params_key, key)
            else:
                where = self.source.key(node, call.params_key)
            self.add(code, node.name or None, f"{label}{message}", where)

    def check_construct(self, node: Node, label: str) -> None:
        """A while_loop, dynamic_parallel, steps or expression node: its settings and its inner nodes."""
        construct = construct_of(node, self.workflow.path)
        if construct is None:
            return
        name = node.name or None
        for key, message in construct.problems:
            self.add("INVALID_NODE_CONFIG", name, f"{label}: {message}", self.source.key(node, key))
        if construct.kind == DYNAMIC_PARALLEL and construct.fan_in is None and not construct.problems:
            self.add("DYNAMIC_PARALLEL_WITHOUT_FAN_IN", name, f"{label}: TEA refuses a dynamic_parallel without "
                     "`fan_in:` (the node that collects the results); TEA Studio runs it and goes on by the node's "
                     "routes", self.source.key(node, "type"))
        if construct.fan_in is not None and not self.is_node(construct.fan_in) and construct.fan_in != END:
            self.add("PARALLEL_FAN_IN_UNDEFINED", name, f"{label}: fan_in '{construct.fan_in}' is not a node",
                     self.source.key(node, "fan_in"))
        if construct.subgraph_path and not os.path.isfile(construct.subgraph_path):
            self.add("INVALID_NODE_CONFIG", name, f"{label}: subgraph file '{construct.subgraph}' not found",
                     self.source.key(node, "subgraph"))
        where = self.source.key(node, construct.inner_key) if construct.inner_key else (node.line, node.col)
        for inner in construct.inner:
            inner_label = f"{label} {construct.inner_key} node '{inner.name}'"
            problem = inner_problem(inner)
            if problem is not None:
                self.add(problem[0], name, f"{inner_label}{problem[1]}", where)

    def python_problem(self, code: str) -> tuple[int, str] | None:
        """Python's syntax error in ``code``; when the code reads as Lua (a file written for TEA's Rust engine,
        where ``run:`` is Lua), the message says how to run it as Lua."""
        error = python_syntax_error(code)
        if error is None:
            return None
        if self._lua is None:
            self._lua = LuaSyntaxChecker()
        if self._lua(code) is None:
            return error[0], f"not Python ({error[1]}) but valid Lua: add 'language: lua' to run it as Lua"
        return error

    def code_problem(self, code: str, node: Node, label: str, error: tuple[int, str] | None) -> None:
        if error is None:
            return
        code_line, message = error
        line, col = self.source.code(node, code_line)
        self.add(code, node.name or None, f"{label} line {code_line}: {message}", node, line, col)

    # routes -------------------------------------------------------------------------------------------
    def check_gotos(self) -> None:
        for node in self.workflow.nodes:
            rules = node.goto_rules
            if not rules:
                continue
            targets: dict[str, GotoRule] = {}
            always: GotoRule | None = None
            for rule in rules:
                where: Any = rule if rule.line else self.source.key(node, "goto")
                if always is not None:
                    self.add("GOTO_RULE_NEVER_TRIED", node.name, f"node '{node.name}': goto rule to '{rule.to}' is "
                             f"never tried: an earlier rule always holds", where)
                if rule.to != END and not self.is_node(rule.to):
                    self.add("GOTO_UNDEFINED", node.name, f"node '{node.name}': goto target '{rule.to}' is not a "
                             "node", where)
                elif rule.to in targets:
                    self.add("DUPLICATE_GOTO_TARGET", node.name, f"node '{node.name}': two goto rules lead to "
                             f"'{rule.to}' (TEA would merge them; TEA Studio tries both in order)", where)
                targets.setdefault(rule.to, rule)
                if rule.condition is None:
                    always = always or rule
                else:
                    error = goto_condition_error(rule.condition)
                    if error:
                        self.add("INVALID_CONDITION", node.name, f"node '{node.name}': goto condition "
                                 f"{rule.condition!r} is not a valid expression: {error}", where)

    def check_edges(self) -> dict[str, list[Edge]]:
        """Check every edge; return the forks: node name -> its parallel edges (file order)."""
        forks: dict[str, list[Edge]] = {}
        for edge in self.workflow.edges:
            source = edge.source
            arrow = f"edge {source} -> {', '.join(map(str, edge.targets))}"
            if source != START and not self.is_node(source):
                why = "edges cannot leave __end__" if source == END else f"'{source}' is not a node"
                self.add("EDGE_FROM_UNDEFINED", None, f"{arrow}: {why}", edge)
            for target in edge.targets:
                if target == END and not edge.parallel:
                    continue
                if not self.is_node(target):
                    why = "a parallel branch must start at a node" if target == END else f"'{target}' is not a node"
                    self.add("EDGE_TO_UNDEFINED", self._node_of(source), f"{arrow}: {why}", edge)
            if edge.parallel:
                if edge.fan_in is None or edge.fan_in == "":
                    self.add("PARALLEL_FAN_IN_UNDEFINED", self._node_of(source), f"parallel {arrow} has no fan_in",
                             edge)
                elif not self.is_node(edge.fan_in):
                    self.add("PARALLEL_FAN_IN_UNDEFINED", self._node_of(source), f"parallel {arrow}: fan_in "
                             f"'{edge.fan_in}' is not a node", edge)
                if edge.parallel_strategy is not None and edge.parallel_strategy not in STRATEGIES:
                    self.add("INVALID_SETTING", self._node_of(source), f"parallel {arrow}: parallel_strategy "
                             f"{edge.parallel_strategy!r} is not one of {', '.join(STRATEGIES)}", edge)
                if self.is_node(source):
                    forks.setdefault(source, []).append(edge)
                continue
            for key in ("condition", "when"):
                value = getattr(edge, key)
                error = edge_condition_error(value)
                if error:
                    self.add("INVALID_CONDITION", self._node_of(source), f"{arrow}: {key} {value!r} is not a valid "
                             f"expression: {error}", edge)
            if self.is_node(source) and self.defined[source].goto is not None:
                self.add("EDGE_IGNORED", source, f"{arrow} is ignored: node '{source}' has goto, which takes "
                         "precedence", edge)
        for name, edges in forks.items():
            node = self.defined[name]
            if node.goto is not None:
                self.add("FORK_WITH_GOTO", name, f"node '{name}' forks into parallel branches and also has goto; "
                         "a fork continues at its fan-in node", self.source.key(node, "goto"))
            fan_ins = _unique(e.fan_in for e in edges if e.fan_in)
            if len(fan_ins) > 1:
                self.add("FAN_IN_MISMATCH", name, f"the branches of fork '{name}' join at different nodes "
                         f"({', '.join(fan_ins)}); they must share one fan-in", node)
        return forks

    def _node_of(self, name: str) -> str | None:
        return name if self.is_node(name) else None

    # settings -----------------------------------------------------------------------------------------
    def check_settings(self) -> None:
        wf = self.workflow
        strategy = wf.setting("parallel", "strategy")
        if strategy is not None and strategy not in STRATEGIES:
            self.add("INVALID_SETTING", None, f"settings.parallel.strategy {strategy!r} is not one of "
                     f"{', '.join(STRATEGIES)} (TEA Studio cannot run it)",
                     self.source.section_key("settings", "strategy"))
        mode = wf.setting("error_handling", "mode")
        if mode is not None and mode != "raise":  # TEA: graceful/retry record __error__ and go on; here it stops
            self.add("INVALID_SETTING", None, f"settings.error_handling mode {mode!r} is not supported by TEA Studio: "
                     "a failing node stops the run as in mode 'raise' (export and run with tea)",
                     self.source.section_key("settings", "error_handling"))
        for path, integral, least in ((("lua", "timeout"), False, 0), (("lua", "max_memory_mb"), False, 1),
                                      (("prolog", "timeout"), False, 0), (("prolog", "max_memory_mb"), False, 1),
                                      (("max_iterations",), True, 1), (("parallel", "max_workers"), True, 1)):
            value = wf.setting(*path)
            if value is None:
                continue
            kinds = (int,) if integral else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value <= 0 \
                    or value < least:
                what = "a positive integer" if integral else \
                    "a finite number of MiB, at least 1" if least else "a finite positive number"
                self.add("INVALID_LIMIT" if path[0] in ("lua", "prolog") else "INVALID_SETTING", None,
                         f"settings.{'.'.join(path)} must be {what}, not {value!r}",
                         self.source.section_key("settings", path[-1]))
        config = wf.section("config")
        for key in ("interrupt_before", "interrupt_after"):
            names = config.get(key)
            if names is None:
                continue
            for name in names if isinstance(names, list) else [names]:
                if not self.is_node(name):
                    self.add("INTERRUPT_UNDEFINED", None, f"config.{key} names '{name}', which is not a node",
                             self.source.section_key("config", key))

    def check_streams(self) -> None:
        """TEA's stream channel rules, each at the `streams:` entry (or the fork edge) that breaks it."""
        for problem in stream_problems(self.workflow):
            node = problem.node
            if node is None:
                where: Any = problem.edge
            elif problem.key is None:
                where = self.source.key(node, "streams")
            else:
                where = self.source.nested_key(node, "streams", problem.key)
            name = node.name if node is not None else self._node_of(problem.edge.source)  # type: ignore[union-attr]
            self.add(problem.code, name, problem.message, where)

    def check_misleading_routes(self, forks: dict[str, list[Edge]]) -> None:
        """Routes that draw like something they are not (see the module functions below)."""
        candidates = successors(self.workflow)
        for code, node, message, where in unconditional_route_problems(self.workflow, self.defined, forks,
                                                                       candidates):
            self.add(code, node, message, where)
        note = implicit_chaining_problem(self.defined, forks, candidates)
        if note is not None:
            code, message, where = note
            self.add(code, None, message, where)

    # graph --------------------------------------------------------------------------------------------
    def check_graph(self, forks: dict[str, list[Edge]]) -> None:
        if not self.defined:
            return
        import networkx as nx

        flow = nx.DiGraph()
        flow.add_node(END)
        flow.add_nodes_from(self.defined)
        for name, targets in flow_targets(self.workflow).items():
            if name in self.defined:
                flow.add_edges_from((name, t) for t in targets if t == END or t in self.defined)
        everything = flow.copy()
        for name, edges in forks.items():
            everything.add_edges_from((name, t) for e in edges for t in e.targets if self.is_node(t))

        entries = [name for name in entry_nodes(self.workflow) if name in self.defined]
        reached: set[str] = set(entries)
        for entry in entries:
            reached |= nx.descendants(everything, entry)
        first = entries[0] if entries else None
        for name, node in self.defined.items():
            if name not in reached:
                self.add("UNREACHABLE_NODE", name, f"node '{name}' is never reached from the entry '{first}'", node)

        # A route to an unknown node is an error already: count it as an exit so it raises no second warning.
        broken = "\0broken"
        routes = {name: [r.to for r in node.goto_rules] for name, node in self.defined.items()}
        for edge in self.workflow.edges:
            routes.get(edge.source, []).extend(edge.targets)
        for name, targets in routes.items():
            if any(t != END and not self.is_node(t) for t in targets):
                everything.add_edge(name, broken)
        finishing = nx.ancestors(everything, END)
        if broken in everything:
            finishing |= nx.ancestors(everything, broken)
        trapped = [name for name in self.defined if name in reached and name not in finishing]
        trapped_set = set(trapped)
        for name in trapped:
            if name in entries or any(p not in trapped_set for p in everything.predecessors(name)):
                self.add("NO_PATH_TO_END", name, f"no path from node '{name}' reaches __end__: the run can only "
                         "stop at max_iterations or an error", self.defined[name])

        for fork, edges in forks.items():
            for edge in edges:
                fan_in = edge.fan_in
                if not self.is_node(fan_in):
                    continue
                for target in edge.targets:
                    if not self.is_node(target) or target == fan_in:
                        continue
                    ahead = nx.restricted_view(flow, [fan_in], [])
                    if nx.has_path(ahead, target, END):
                        self.add("BRANCH_NOT_JOINED", fork, f"branch '{target}' of fork '{fork}' can reach __end__ "
                                 f"without passing its fan-in '{fan_in}'", edge)


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


class _SourceLocator:
    """Finds a node's keys, and lines of its code, in the loaded file text (when that text is known)."""

    _KEY = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z_][\w-]*)\s*:(?:\s+(.*)|$)")
    _BLOCK = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")
    CODE_KEYS = ("run", "script", "code")

    def __init__(self, workflow: Workflow) -> None:
        self._lines: list[str] | None = None
        self._workflow = workflow

    def _text_lines(self) -> list[str]:
        if self._lines is None:
            text = _source_text(self._workflow)
            self._lines = text.splitlines() if text else []
        return self._lines

    def _find(self, node: Node, keys: tuple[str, ...]) -> tuple[int, re.Match] | None:
        """(0-based line index, match) of the first of ``keys`` written on a line of its own within the node."""
        lines = self._text_lines()
        if not node.line or node.line > len(lines):
            return None
        start = node.line - 1
        item_indent = _indent(lines[start])
        for i in range(start, len(lines)):
            text = lines[i]
            stripped = text.lstrip()
            if i > start and stripped and not stripped.startswith("#") and _indent(text) <= item_indent \
                    and (stripped.startswith("-") or _indent(text) < item_indent):
                return None
            match = self._KEY.match(text)
            if match and match.group(2) in keys:
                return i, match
        return None

    def section_key(self, section: str, key: str | None = None) -> tuple[int, int]:
        """Line and column of a top-level ``section:`` key, or of the first ``key`` written inside it (0, 0 if
        not found). Keys in flow mappings (``lua: {timeout: 1}``) are found on their line too."""
        lines = self._text_lines()
        for i, text in enumerate(lines):
            if not text.startswith(section + ":"):
                continue
            if key is None:
                return i + 1, 1
            pattern = re.compile(rf"(?<![\w-]){re.escape(key)}\s*:")
            for j in range(i, len(lines)):
                body = lines[j]
                if j > i and body.strip() and not body[0].isspace() and not body.startswith("#"):
                    break
                found = pattern.search(body, len(section) + 1 if j == i else 0)
                if found:
                    return j + 1, found.start() + 1
            return i + 1, 1
        return 0, 0

    def key(self, node: Node, key: str) -> tuple[int, int]:
        """Line and column of ``key``'s value in the node (the node's own position when not found)."""
        found = self._find(node, (key,))
        if found is None:
            return node.line, node.col
        i, match = found
        return i + 1, (match.start(3) if match.group(3) else match.start(2)) + 1

    def nested_key(self, node: Node, parent: str, key: str) -> tuple[int, int]:
        """Line and column of ``key`` inside the node's ``parent:`` mapping (block or flow style), else of
        ``parent``'s value."""
        found = self._find(node, (parent,))
        if found is None:
            return node.line, node.col
        i, match = found
        lines = self._text_lines()
        pattern = re.compile(rf"(?<![\w-]){re.escape(key)}\s*:")
        inline = pattern.search(lines[i], match.end(2))
        if inline:
            return i + 1, inline.start() + 1
        depth = match.start(2)  # the parent key's column: its entries are indented further
        for j in range(i + 1, len(lines)):
            text = lines[j]
            if text.strip() and not text.lstrip().startswith("#") and _indent(text) <= depth:
                break
            hit = self._KEY.match(text)
            if hit and hit.group(2) == key:
                return j + 1, hit.start(2) + 1
        return i + 1, (match.start(3) if match.group(3) else match.start(2)) + 1

    def code(self, node: Node, code_line: int) -> tuple[int, int]:
        """Line and column in the file of line ``code_line`` (1-based) of the node's code."""
        found = self._find(node, self.CODE_KEYS)
        if found is None:
            return node.line, node.col
        i, match = found
        rest = (match.group(3) or "").strip()
        lines = self._text_lines()
        if self._BLOCK.match(rest):
            line = i + 1 + code_line
            if line <= len(lines):
                return line, _indent(lines[line - 1]) + 1
        elif not rest:  # a nested mapping: run: / code: |
            nested = Node(name=node.name, line=i + 2)
            return self.code(nested, code_line) if i + 2 <= len(lines) else (node.line, node.col)
        return i + 1, (match.start(3) if match.group(3) else match.start(2)) + 1


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _source_text(workflow: Workflow) -> str | None:
    """The text the workflow was loaded from, when yaml_io kept it (a str, or a record with ``text``)."""
    source = workflow.source
    if isinstance(source, str):
        return source
    text = getattr(source, "text", None)
    return text if isinstance(text, str) else None


# -- routing that misleads ----------------------------------------------------------------------------------

def unconditional_route_problems(workflow: Workflow, defined: dict[str, Node], forks: dict[str, list[Edge]],
                                 candidates: dict[str, tuple[Successor, ...]]) -> list[tuple[str, str, str, Any]]:
    """Plain routes that look like a fork but are not one, as (code, node, message, where).

    Several unconditional edges out of one node draw like a fan-out, yet only the first is ever taken; a fan-in
    node that the plain flow reaches without passing a fork runs with no branch results.
    """
    found: list[tuple[str, str, str, Any]] = []
    plain_edges: dict[str, list[Edge]] = {}
    for edge in workflow.edges:
        if not edge.parallel and not edge.is_conditional and edge.source in defined:
            plain_edges.setdefault(edge.source, []).append(edge)
    for name, edges in plain_edges.items():
        targets = [t for e in edges for t in e.targets]
        if len(targets) < 2 or name in forks or defined[name].goto is not None:
            continue
        others = ", ".join(f"'{t}'" for t in targets[1:])
        found.append(("MULTIPLE_UNCONDITIONAL_ROUTES", name,
                      f"node '{name}' has {len(targets)} unconditional routes but only the first, to '{targets[0]}', "
                      f"is ever taken ({others} never run); make them parallel branches joining at a fan-in, or "
                      "give them conditions", edges[1] if len(edges) > 1 else edges[0]))
    fan_ins = {e.fan_in for e in workflow.edges if e.parallel and e.fan_in in defined}
    fan_ins |= {name for name, node in defined.items() if node.fan_in}
    plain = {name: [c.target for c in routes if name not in forks or c.kind in (RouteKind.GOTO, RouteKind.RULE)]
             for name, routes in candidates.items()}  # the flow without fork -> fan-in
    reached: set[str] = set()
    stack = [e for e in entry_nodes(workflow) if e in defined]
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached.add(name)
        stack.extend(t for t in plain.get(name, []) if t in defined and t not in reached)
    collected = {c.target for name, routes in candidates.items()  # a dynamic_parallel hands its results on
                 if name in defined and defined[name].kind == DYNAMIC_PARALLEL for c in routes}
    for name in sorted((fan_ins & reached) - collected, key=lambda n: list(defined).index(n)):
        found.append(("MULTIPLE_UNCONDITIONAL_ROUTES", name,
                      f"fan-in node '{name}' is reached by plain routes, without a fork: it gets no branch results "
                      "(state.parallel_results); make the routes into it parallel branches of one fork",
                      defined[name]))
    return found


def implicit_chaining_problem(defined: dict[str, Node], forks: dict[str, list[Edge]],
                              candidates: dict[str, tuple[Successor, ...]]) -> tuple[str, str, Any] | None:
    """One note when nodes continue to the next node of the list only because of file order, as (code, message,
    where): moving or adding a node then silently changes the flow."""
    chained = []
    for name, routes in candidates.items():
        if name in defined and name not in forks and len(routes) == 1 \
                and routes[0].kind is RouteKind.NEXT and routes[0].target in defined \
                and routes[0].target != implicit_next(defined[name]):  # not a dynamic_parallel's named fan_in
            chained.append((name, routes[0].target))
    if not chained:
        return None
    shown = ", ".join(f"'{a}' -> '{b}'" for a, b in chained[:3]) + (", ..." if len(chained) > 3 else "")
    count = "1 node continues" if len(chained) == 1 else f"{len(chained)} nodes continue"
    return ("IMPLICIT_CHAINING", f"{count} to the next node in the file only by list order ({shown}); add goto or "
            "edges to make the flow explicit, so that reordering or adding nodes cannot change it",
            defined[chained[0][0]])
