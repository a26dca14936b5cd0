"""TEA YAML <-> Workflow.

Loading composes the text with libyaml's C loader (pure-Python fallback) and builds the model from the node tree, so
every node, edge and goto rule knows its line and column. Saving splices only what changed into the loaded text:
comments, key order, quoting, flow style and unknown keys survive (see :mod:`tea_studio.workflow._yaml_text`).
"""

from __future__ import annotations

import gc
import os
import stat
from typing import Any

import yaml

from tea_studio.workflow import _yaml_text as yt
from tea_studio.workflow.files import write_atomic
from tea_studio.workflow.model import (
    ACTION,
    CODE_KINDS,
    DYNAMIC_PARALLEL,
    FORM_LANGUAGE,
    FORM_LUA_SHAPE,
    FORM_MARKER,
    FORM_RUN,
    FORM_RUN_TABLE,
    FORM_SCRIPT,
    LUA,
    NOOP,
    PROLOG,
    PYTHON,
    WHILE_LOOP,
    Edge,
    GotoRule,
    Layout,
    Node,
    Workflow,
)

__all__ = [
    "STUDIO_KEY",
    "WorkflowError",
    "dump_workflow",
    "export_text",
    "fragment_from_text",
    "fragment_to_text",
    "load_workflow",
    "load_workflow_text",
    "node_to_yaml",
    "nodes_from_data",
    "save_workflow",
    "workflow_to_data",
]

STUDIO_KEY = "x-tea-studio"
LOOP_TYPES = (WHILE_LOOP, DYNAMIC_PARALLEL)
BOOL_TAG = "tag:yaml.org,2002:bool"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class WorkflowError(Exception):
    """A file that cannot become a Workflow. ``code`` is one of YAML_PARSE, INVALID_ROOT, INVALID_NODES,
    INVALID_NODE, INVALID_FIELD, FILE_READ; ``line``/``col`` are 1-based (0 when unknown)."""

    def __init__(self, code: str, message: str, path: str | None = None, line: int = 0, col: int = 0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.line = line
        self.col = col

    def __str__(self) -> str:
        return f"{self.path or '<text>'}:{self.line}:{self.col}: {self.message}"

    def __reduce__(self):
        return (WorkflowError, (self.code, self.message, self.path, self.line, self.col))


# ---------------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------------
def load_workflow(path: str | os.PathLike) -> Workflow:
    """Read a TEA workflow file (UTF-8; any newline style is kept for saving)."""
    path = os.fspath(path)
    data = _read_workflow_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise WorkflowError("YAML_PARSE", f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                            path, line, col) from None
    return load_workflow_text(text, path)


MAX_FILE_BYTES = 64 << 20  # a workflow file (a subgraph's too)


def _read_workflow_bytes(path: str) -> bytes:
    """The file's bytes, at most MAX_FILE_BYTES. The path opened could be a device or a FIFO (a link in a cloned
    repository, a FIFO in an unpacked archive): devices and sockets are refused, and a FIFO is opened without
    waiting for a writer (``<(...)`` still works); nothing is read without bound."""
    def failed(reason: str) -> WorkflowError:
        return WorkflowError("FILE_READ", f"cannot read the file: {reason}", path, 1, 1)

    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise failed(exc.strerror or str(exc)) from None
    mode = os.fstat(handle).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        os.close(handle)
        raise failed("Is a directory" if stat.S_ISDIR(mode) else "not a regular file (a device or a socket)")
    os.set_blocking(handle, True)
    with os.fdopen(handle, "rb") as stream:
        try:
            data = stream.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise failed(exc.strerror or str(exc)) from None
    if len(data) > MAX_FILE_BYTES:
        raise failed(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    return data


def load_workflow_text(text: str, path: str | None = None) -> Workflow:
    """Build a Workflow from TEA YAML text; raises only :class:`WorkflowError` for bad input."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkflowError("YAML_PARSE", "the text is not UTF-8", path, 1, 1) from exc
    collecting = gc.isenabled()
    gc.disable()  # a load allocates many small objects that all live on: collecting meanwhile only costs time
    try:
        prefix = "\ufeff" if text.startswith("\ufeff") else ""
        root = compose(text[len(prefix):], path)
        try:
            workflow = _WorkflowReader(path).read(root)
        except WorkflowError:
            raise
        except yaml.MarkedYAMLError as exc:  # e.g. an unknown tag
            raise _marked_error(exc, "unreadable value", path) from None
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:  # e.g. a bad !!timestamp value
            message = " ".join(f"unreadable value: {exc}".split())
            raise WorkflowError("YAML_PARSE", message, path, 1, 1) from None
        workflow.path = path
        workflow.source = yt.SourceRecord(text[len(prefix):], root, workflow_to_data(workflow, copy_values=True),
                                          prefix, yt.uses_aliases(text))
    finally:
        if collecting:
            gc.enable()
    return workflow


def nodes_from_data(items: Any, path: str | None = None) -> list[Node]:
    """Nodes from plain data (a while_loop's ``body:``, a node's ``steps:``): the rules of the file's ``nodes:``.

    A nameless entry is named ``step_N`` (its 0-based position), as TEA names it.
    """
    reader = _WorkflowReader(path)
    nodes = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and not isinstance(item.get("name"), str):
            item = {"name": f"step_{i}", **{k: v for k, v in item.items() if k != "name"}}
        try:
            composed = yaml.compose(yaml.safe_dump(item, allow_unicode=True, sort_keys=False), Loader=_Loader)
        except yaml.YAMLError as exc:
            raise WorkflowError("INVALID_NODE", f"entry {i + 1} cannot be read: {exc}", path) from None
        nodes.append(reader.node(composed))
    return nodes


def compose(text: str, path: str | None = None) -> yaml.Node:
    """The YAML node tree of ``text`` (with marks); YAML errors become WorkflowError(YAML_PARSE)."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.composer.ComposerError as exc:
        if exc.problem and "found another document" in exc.problem and exc.problem_mark is not None:
            # say where the second workflow starts, so the user knows what to split off
            raise WorkflowError("YAML_PARSE", "a second YAML document starts here (`---`): a workflow file holds "
                                "one workflow; move each one to its own file",
                                path, exc.problem_mark.line + 1, exc.problem_mark.column + 1) from None
        raise _marked_error(exc, "invalid YAML", path) from None
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(exc, "invalid YAML", path) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise WorkflowError("YAML_PARSE", f"invalid YAML: {exc.reason} (character #x{exc.character:04x})"
                            if isinstance(exc.character, int) else f"invalid YAML: {exc.reason}",
                            path, line, col) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise WorkflowError("YAML_PARSE", f"invalid YAML: {exc}", path, 1, 1) from None
    if root is None:
        raise WorkflowError("INVALID_ROOT", "the file is empty: a workflow is a mapping with a `nodes` list",
                            path, 1, 1)
    check_bounds(root, path, yt.uses_aliases(text))
    return root


MAX_DEPTH = 64  # collections inside collections
MAX_ALIAS_EXPANSION = 100_000  # nodes that aliases add when the document is read out in full


def check_bounds(root: yaml.Node, path: str | None = None, aliases: bool = True) -> None:
    """Refuse a node tree that would be too deep or that aliases blow up ("billion laughs"), before anything
    walks it: every later step (building values, copying states, saving) reads aliases out in full.

    Each distinct node is visited once, so a hostile file is refused in about the time it takes to parse it.
    ``aliases=False`` (the text has no anchors) skips the bookkeeping that aliases need.
    """
    _Bounds(path, aliases).size(root, 1)


class _Bounds:
    __slots__ = ("path", "sizes", "inside", "distinct")

    def __init__(self, path: str | None, aliases: bool) -> None:
        self.path = path
        self.sizes: dict[int, int] | None = {} if aliases else None  # node id -> expanded size
        self.inside: set[int] = set()
        self.distinct = 0

    def size(self, node: yaml.Node, depth: int) -> int:
        """The number of values below ``node`` once aliases are read out in full."""
        kind = type(node)
        if kind is yaml.ScalarNode:
            return 1
        if depth > MAX_DEPTH:
            raise self.error(node, f"collections nested more than {MAX_DEPTH} levels deep")
        sizes = self.sizes
        if sizes is not None:
            known = sizes.get(id(node))
            if known is not None:
                return known
            if id(node) in self.inside:
                raise self.error(node, "an alias refers to a collection it is inside")
            self.inside.add(id(node))
        self.distinct += 1
        total = 1
        below = depth + 1
        if kind is yaml.MappingNode:
            for key, value in node.value:
                total += self.size(key, below) + self.size(value, below)
        else:
            for item in node.value:
                total += self.size(item, below)
        if sizes is not None:
            sizes[id(node)] = total
            self.inside.discard(id(node))
            if total - self.distinct > MAX_ALIAS_EXPANSION:
                raise self.error(node, f"aliases expand this collection to more than {MAX_ALIAS_EXPANSION:,} values")
        return total

    def error(self, node: yaml.Node, problem: str) -> WorkflowError:
        line, col = _where(node)
        return WorkflowError("YAML_PARSE", f"invalid YAML: {problem}", self.path, line, col)


def _marked_error(exc: yaml.MarkedYAMLError, what: str, path: str | None) -> WorkflowError:
    """One located line for a YAML error (never the offending text itself)."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = " ".join(" ".join(part for part in (exc.context, exc.problem) if part).split()) or "invalid YAML"
    return WorkflowError("YAML_PARSE", f"{what}: {message}", path, line, col)


def _where(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _WorkflowReader:
    """Builds the model from a composed node tree, checking the types of known keys."""

    def __init__(self, path: str | None):
        self.path = path
        self.constructor = yaml.constructor.SafeConstructor()

    # -- helpers ------------------------------------------------------------------------------------------
    def fail(self, code: str, message: str, node: yaml.Node) -> WorkflowError:
        return WorkflowError(code, message, self.path, *_where(node))

    def value(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode) and node.tag == yt.STR_TAG:
            return node.value
        self.constructor.constructed_objects = {}
        self.constructor.recursive_objects = {}
        return self.constructor.construct_object(node, deep=True)

    def pairs(self, node: yaml.MappingNode) -> dict[Any, tuple[yaml.Node, yaml.Node]]:
        """Key -> (key node, value node) in file order; a repeated key is a YAML error."""
        if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
            self.constructor.flatten_mapping(node)
        result: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            try:
                if key in result:
                    raise self.fail("YAML_PARSE", f"duplicate key '{key}' in a mapping", key_node)
            except TypeError:
                raise self.fail("YAML_PARSE", "a mapping key must be a scalar", key_node) from None
            result[key] = (key_node, value_node)
        return result

    def text(self, node: yaml.Node, what: str, *, code: str = "INVALID_FIELD", allow_null: bool = True) -> str | None:
        """A string value (quoted words like 'yes' stay strings; an unquoted yes is a boolean: refused)."""
        if isinstance(node, yaml.ScalarNode):
            if node.tag == yt.STR_TAG:
                return node.value
            if node.tag == yt.NULL_TAG and allow_null:
                return None
            raise self.fail(code, f"{what} must be a string, not {yt.describe(node)} `{node.value}`"
                            f" (quote it: \"{node.value}\")", node)
        raise self.fail(code, f"{what} must be a string, not a {yt.describe(node)}", node)

    def mapping(self, node: yaml.Node, what: str) -> dict | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == yt.NULL_TAG:
            return None
        if not isinstance(node, yaml.MappingNode):
            raise self.fail("INVALID_FIELD", f"{what} must be a mapping, not a {yt.describe(node)}", node)
        self.pairs(node)  # duplicate keys
        return self.value(node)

    # -- the document -------------------------------------------------------------------------------------
    def read(self, root: yaml.Node) -> Workflow:
        if not isinstance(root, yaml.MappingNode):
            raise self.fail("INVALID_ROOT", f"a workflow is a mapping with a `nodes` list, not a {yt.describe(root)}",
                            root)
        pairs = self.pairs(root)
        wf = Workflow()
        if "nodes" not in pairs:
            raise self.fail("INVALID_NODES", "the workflow has no `nodes` list", root)
        for key, (key_node, node) in pairs.items():
            if key == "nodes":
                if not isinstance(node, yaml.SequenceNode):
                    raise self.fail("INVALID_NODES", f"`nodes` must be a list of nodes, not a {yt.describe(node)}",
                                    node if node.value not in ("", None) else key_node)
                wf.nodes = [self.node(item) for item in node.value]
            elif key == "edges":
                if isinstance(node, yaml.ScalarNode) and node.tag == yt.NULL_TAG:
                    continue
                if not isinstance(node, yaml.SequenceNode):
                    raise self.fail("INVALID_FIELD", f"`edges` must be a list, not a {yt.describe(node)}", node)
                wf.edges = [self.edge(item) for item in node.value]
            elif key in ("name", "description"):
                setattr(wf, key, self.text(node, f"the workflow {key}"))
            elif key in ("variables", "initial_state", "config", "settings"):
                setattr(wf, key, self.mapping(node, f"`{key}`"))
            elif key == "state_schema":
                wf.state_schema = self.value(node)
            elif key == STUDIO_KEY:
                wf.layout = self.layout(node)
            else:
                wf.extra[key] = self.value(node)
        return wf

    def node(self, item: yaml.Node) -> Node:
        if not isinstance(item, yaml.MappingNode):
            raise self.fail("INVALID_NODE", f"a node must be a mapping with a name, not a {yt.describe(item)}", item)
        pairs = self.pairs(item)
        line, col = _where(item)
        node = Node(name="", line=line, col=col)
        used: set[str] = set()

        def take(key: str) -> yaml.Node | None:
            if key in pairs:
                used.add(key)
                return pairs[key][1]
            return None

        name = take("name")
        if name is not None:
            node.name = self.text(name, "a node name") or ""
        kind_node = pairs.get("type", (None, None))[1]
        kind_value = self.value(kind_node) if kind_node is not None else None
        if kind_value in LOOP_TYPES:
            take("type")
            node.kind = kind_value
        elif "uses" in pairs:
            node.kind = ACTION
            node.uses = self.text(take("uses"), "`uses`")
            if "with" in pairs:
                node.with_args = self.mapping(take("with"), "`with`")
            if "output" in pairs:
                node.output = self.value(take("output"))
        else:
            self.code(node, pairs, take)
        goto = take("goto")
        if goto is not None:
            node.goto = self.goto(goto)
        fan_in = pairs.get("fan_in", (None, None))[1]
        if fan_in is not None and isinstance(self.value(fan_in), bool):
            node.fan_in = self.value(take("fan_in"))
        interrupt = pairs.get("interrupt", (None, None))[1]
        if interrupt is not None and isinstance(interrupt, yaml.ScalarNode) and interrupt.tag == yt.STR_TAG:
            node.interrupt = self.value(take("interrupt"))
        for key, (_, value_node) in pairs.items():
            if key not in used:
                node.extra[key] = self.value(value_node)
        return node

    def code(self, node: Node, pairs: dict, take) -> None:
        """The Lua/Python forms of FORMAT.md §2."""
        language = pairs.get("language", (None, None))[1]
        language_value = self.value(language) if language is not None else None
        if "run" in pairs:
            run = pairs["run"][1]
            if isinstance(run, yaml.MappingNode):
                table = self.pairs(run)
                kind = self.value(table["type"][1]) if "type" in table else None
                if kind in CODE_KINDS and set(table) <= {"type", "code"} and language_value is None:
                    take("run")
                    node.kind, node.code_form = kind, FORM_RUN_TABLE
                    node.code = self.text(table["code"][1], "`run.code`") if "code" in table else None
                return  # another run table shape is kept as written
            code = self.text(take("run"), "`run` code", allow_null=False)
            if language_value in CODE_KINDS:
                take("language")
                node.kind, node.code_form, node.code = language_value, FORM_LANGUAGE, code
            elif language_value is None and yt.has_lua_marker(code):
                node.kind, node.code_form, node.code = LUA, FORM_MARKER, code
            elif language_value is None and yt.has_prolog_marker(code):
                node.kind, node.code_form, node.code = PROLOG, FORM_MARKER, code
            elif language_value is None and yt.reads_as_lua(code):
                node.kind, node.code_form, node.code = LUA, FORM_LUA_SHAPE, code
            else:
                node.kind, node.code_form, node.code = PYTHON, FORM_RUN, code
        elif "script" in pairs:
            node.kind, node.code_form = PYTHON, FORM_SCRIPT
            node.code = self.text(take("script"), "`script` code", allow_null=False)
        elif language_value in CODE_KINDS and "steps" not in pairs:  # `language` beside `steps` is the steps'
            take("language")
            node.kind, node.code_form = language_value, FORM_LANGUAGE
        else:
            node.kind = NOOP

    def goto(self, node: yaml.Node) -> str | list[GotoRule] | None:
        if isinstance(node, yaml.ScalarNode):
            return self.text(node, "`goto`")
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail("INVALID_FIELD", f"`goto` must be a node name or a list of {{if, to}} rules,"
                            f" not a {yt.describe(node)}", node)
        rules = []
        for item in node.value:
            if not isinstance(item, yaml.MappingNode):
                raise self.fail("INVALID_FIELD", f"a goto rule must be a mapping {{if: expr, to: name}},"
                                f" not a {yt.describe(item)}", item)
            pairs = self.pairs(item)
            if "to" not in pairs:
                raise self.fail("INVALID_FIELD", "a goto rule needs `to: name`", item)
            rule = GotoRule(to=self.text(pairs["to"][1], "a goto rule's `to`", allow_null=False),
                            line=_where(item)[0], col=_where(item)[1])
            for key, (_, value_node) in pairs.items():
                if key == "if":
                    rule.condition = self.condition(value_node)
                elif key != "to":
                    rule.extra[key] = self.value(value_node)
            rules.append(rule)
        return rules

    def condition(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail("INVALID_FIELD", f"a goto rule's `if` must be an expression, not a {yt.describe(node)}",
                            node)
        if node.tag == yt.NULL_TAG:
            return None
        if node.tag == BOOL_TAG:  # an unquoted yes/no/on/off is a YAML 1.1 boolean, not a name
            return "true" if self.value(node) else "false"
        return node.value

    def edge(self, item: yaml.Node) -> Edge:
        if not isinstance(item, yaml.MappingNode):
            raise self.fail("INVALID_FIELD", f"an edge must be a mapping {{from, to}}, not a {yt.describe(item)}",
                            item)
        pairs = self.pairs(item)
        for key in ("from", "to"):
            if key not in pairs:
                raise self.fail("INVALID_FIELD", f"an edge needs `{key}`", item)
        line, col = _where(item)
        source = self.text(pairs["from"][1], "an edge's `from`", allow_null=False)
        to_node = pairs["to"][1]
        if isinstance(to_node, yaml.SequenceNode):
            target: str | list[str] = [self.text(t, "an edge's `to`", allow_null=False) for t in to_node.value]
        else:
            target = self.text(to_node, "an edge's `to`", allow_null=False)
        edge = Edge(source=source, target=target, line=line, col=col)
        for key, (_, value_node) in pairs.items():
            if key in ("from", "to"):
                continue
            value = self.value(value_node)
            if key == "condition":
                edge.condition = value
            elif key == "when":
                edge.when = value
            elif key == "type" and value == "parallel" and not edge.parallel:
                edge.parallel, edge.parallel_form = True, "type"
            elif key == "parallel" and value is True and not edge.parallel:
                edge.parallel, edge.parallel_form = True, "flag"
            elif key == "fan_in":
                edge.fan_in = self.text(value_node, "an edge's `fan_in`")
            elif key == "parallel_strategy":
                edge.parallel_strategy = self.text(value_node, "`parallel_strategy`")
            else:
                edge.extra[key] = value
        return edge

    def layout(self, node: yaml.Node) -> Layout:
        layout = Layout()
        if isinstance(node, yaml.ScalarNode) and node.tag == yt.NULL_TAG:
            return layout
        if not isinstance(node, yaml.MappingNode):
            raise self.fail("INVALID_FIELD", f"`{STUDIO_KEY}` must be a mapping, not a {yt.describe(node)}", node)
        for key, (_, value_node) in self.pairs(node).items():
            if key == "positions":
                layout.positions = self.positions(value_node)
            elif key == "viewport":
                layout.viewport = self.value(value_node)
            elif key == "pins" and isinstance(self.value(value_node), dict):
                layout.pins = dict(self.value(value_node))
            else:
                layout.extra[key] = self.value(value_node)
        return layout

    def positions(self, node: yaml.Node) -> dict[str, tuple[float, float]]:
        if isinstance(node, yaml.ScalarNode) and node.tag == yt.NULL_TAG:
            return {}
        if not isinstance(node, yaml.MappingNode):
            raise self.fail("INVALID_FIELD", f"`positions` must map node names to [x, y], not a {yt.describe(node)}",
                            node)
        positions = {}
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            point = self.value(value_node)
            if (name is None or not isinstance(point, list) or len(point) != 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)):
                raise self.fail("INVALID_FIELD", f"the position of '{name}' must be [x, y] numbers", value_node)
            positions[name] = (point[0], point[1])
        return positions


# ---------------------------------------------------------------------------------------------------------------
# model -> plain data (the shape of the file)
# ---------------------------------------------------------------------------------------------------------------
def workflow_to_data(wf: Workflow, *, copy_values: bool = False, studio: bool = True) -> dict[str, Any]:
    """The workflow as the plain mapping its YAML file holds (key order of a new file)."""
    cp = yt.copy_data if copy_values else _same
    data: dict[str, Any] = {}
    for key in ("name", "description", "variables", "state_schema", "initial_state", "config", "settings"):
        value = getattr(wf, key)
        if value is not None:
            data[key] = cp(value)
    for key, value in wf.extra.items():
        if key not in data and key not in ("nodes", "edges", STUDIO_KEY):
            data[key] = cp(value)
    data["nodes"] = [node_to_data(node, cp) for node in wf.nodes]
    if wf.edges:
        data["edges"] = [edge_to_data(edge, cp) for edge in wf.edges]
    if studio and not wf.layout.is_empty():
        data[STUDIO_KEY] = layout_to_data(wf.layout, cp)
    return data


def _same(value: Any) -> Any:
    return value


def code_form(node: Node) -> str | None:
    """The form the node's code is written in: its own when it still fits the code, else `language:`."""
    if node.kind not in CODE_KINDS:
        return None
    form = node.code_form
    if form == FORM_MARKER and not _keeps_marker(node):
        form = None
    if form == FORM_LUA_SHAPE and (node.kind != LUA or node.code is None or not yt.reads_as_lua(node.code)):
        form = None
    if form in (FORM_RUN, FORM_SCRIPT) and (node.kind != PYTHON or node.code is None
                                           or yt.has_lua_marker(node.code) or yt.has_prolog_marker(node.code)
                                           or form == FORM_RUN and yt.reads_as_lua(node.code)):
        form = None  # it would load back as another language: say `language: python`
    if form not in (FORM_LANGUAGE, FORM_RUN_TABLE, FORM_MARKER, FORM_LUA_SHAPE, FORM_RUN, FORM_SCRIPT):
        form = FORM_LANGUAGE
    return form


def _keeps_marker(node: Node) -> bool:
    """Whether the node's code still carries the marker of its language (`-- lua`, `% prolog`)."""
    if node.code is None:
        return False
    return yt.has_lua_marker(node.code) if node.kind == LUA else node.kind == PROLOG and yt.has_prolog_marker(node.code)


def node_to_data(node: Node, cp=_same) -> dict[str, Any]:
    data: dict[str, Any] = {"name": node.name}
    if node.kind in LOOP_TYPES:
        data["type"] = node.kind
    elif node.kind == ACTION:
        data["uses"] = node.uses
        if node.with_args is not None:
            data["with"] = cp(node.with_args)
        if node.output is not None:
            data["output"] = cp(node.output)
    form = code_form(node)
    if form == FORM_LANGUAGE:
        data["language"] = node.kind
        if node.code is not None:
            data["run"] = node.code
    elif form == FORM_RUN_TABLE:
        data["run"] = {"type": node.kind, "code": node.code} if node.code is not None else {"type": node.kind}
    elif form in (FORM_MARKER, FORM_LUA_SHAPE, FORM_RUN):
        data["run"] = node.code
    elif form == FORM_SCRIPT:
        data["script"] = node.code
    if node.goto is not None:
        data["goto"] = node.goto if isinstance(node.goto, str) else [rule_to_data(rule, cp) for rule in node.goto]
    if node.fan_in:
        data["fan_in"] = True
    if node.interrupt is not None:
        data["interrupt"] = node.interrupt
    return _with_extra(data, node.extra, cp)


def _with_extra(data: dict[str, Any], extra: dict[str, Any], cp) -> dict[str, Any]:
    """``data`` followed by the keys the model has no field for, in their original order."""
    for key, value in extra.items():
        if key not in data:
            data[key] = cp(value)
    return data


def rule_to_data(rule: GotoRule, cp=_same) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if rule.condition is not None:
        data["if"] = rule.condition
    data["to"] = rule.to
    return _with_extra(data, rule.extra, cp)


def edge_to_data(edge: Edge, cp=_same) -> dict[str, Any]:
    data: dict[str, Any] = {"from": edge.source, "to": list(edge.target) if isinstance(edge.target, list)
                            else edge.target}
    if edge.parallel:
        if edge.parallel_form == "flag":
            data["parallel"] = True
        else:
            data["type"] = "parallel"
    if edge.fan_in is not None:
        data["fan_in"] = edge.fan_in
    if edge.parallel_strategy is not None:
        data["parallel_strategy"] = edge.parallel_strategy
    if edge.condition is not None:
        data["condition"] = cp(edge.condition)
    if edge.when is not None:
        data["when"] = cp(edge.when)
    return _with_extra(data, edge.extra, cp)


def position_to_data(point: tuple[float, float]) -> list[float | int]:
    """[x, y] rounded to 1 decimal; integral values as ints."""
    result: list[float | int] = []
    for v in point:
        v = round(float(v), 1)
        result.append(int(v) if v.is_integer() else v)
    return result


def layout_to_data(layout: Layout, cp=_same) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if layout.positions:
        data["positions"] = {name: position_to_data(point) for name, point in layout.positions.items()}
    if layout.viewport is not None:
        data["viewport"] = cp(layout.viewport)
    if layout.pins:
        data["pins"] = cp(layout.pins)
    return _with_extra(data, layout.extra, cp)


# ---------------------------------------------------------------------------------------------------------------
# saving
# ---------------------------------------------------------------------------------------------------------------
def dump_workflow(wf: Workflow) -> str:
    """The workflow as YAML text: the loaded text with only the changed parts rewritten, or a clean new file."""
    return _text_of(wf, studio=True)


def export_text(wf: Workflow) -> str:
    """Like :func:`dump_workflow` without the studio-only `x-tea-studio` block (the file `tea run` gets)."""
    return _text_of(wf, studio=False)


def _text_of(wf: Workflow, studio: bool) -> str:
    data = workflow_to_data(wf, studio=studio)
    source = wf.source if isinstance(wf.source, yt.SourceRecord) else None
    if source is None:
        return yt.document_text(data)
    text = yt.splice_document(source, data)
    if source.aliases and text != source.prefix + source.text:
        # an edit near an anchor or alias may change what the alias means: keep the splice only if it reads back
        try:
            faithful = yt.same(workflow_to_data(load_workflow_text(text), studio=studio), data)
        except WorkflowError:
            faithful = False
        if not faithful:
            text = yt.new_document_text(source, data)
    return text


def save_workflow(wf: Workflow, path: str | os.PathLike) -> None:
    """Write the workflow with :func:`write_atomic` (a crash leaves the old or the new file; links are followed).

    Afterwards ``wf.path`` is ``path`` and ``wf.source`` records the saved text, so the next save diffs against it.
    """
    path = os.fspath(path)
    text = dump_workflow(wf)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise WorkflowError("FILE_WRITE", f"cannot save the file: {exc.strerror or exc}", path, 0, 0) from None
    _adopt_saved_text(wf, text, path)


def _adopt_saved_text(wf: Workflow, text: str, path: str) -> None:
    """Make the saved text the workflow's source, and refresh the items' line/col from it."""
    saved = load_workflow_text(text, path)
    wf.path = path
    wf.source = saved.source
    if len(saved.nodes) == len(wf.nodes):
        for node, fresh in zip(wf.nodes, saved.nodes, strict=True):
            node.line, node.col = fresh.line, fresh.col
            if isinstance(node.goto, list) and isinstance(fresh.goto, list) and len(node.goto) == len(fresh.goto):
                for rule, fresh_rule in zip(node.goto, fresh.goto, strict=True):
                    rule.line, rule.col = fresh_rule.line, fresh_rule.col
    if len(saved.edges) == len(wf.edges):
        for edge, fresh in zip(wf.edges, saved.edges, strict=True):
            edge.line, edge.col = fresh.line, fresh.col


# ---------------------------------------------------------------------------------------------------------------
# clipboard fragments
# ---------------------------------------------------------------------------------------------------------------
def node_to_yaml(node: Node) -> str:
    """One node as a YAML mapping (what the file holds for it)."""
    return yt.mapping_lines(node_to_data(node), 0, yt.Style())


def fragment_to_text(nodes: list[Node], edges: list[Edge],
                     positions: dict[str, tuple[float, float]] | None = None) -> str:
    """Nodes, the edges among them and their positions as YAML text for the clipboard."""
    fragment = Workflow(nodes=list(nodes), edges=list(edges), layout=Layout(positions=dict(positions or {})))
    return yt.document_text(workflow_to_data(fragment))


def fragment_from_text(text: str) -> tuple[list[Node], list[Edge], dict[str, tuple[float, float]]]:
    """Read clipboard text: a fragment, a whole workflow, a list of TEA nodes or one node mapping."""
    root = compose(text)
    if isinstance(root, yaml.SequenceNode):
        text = "nodes:\n" + "".join("  " + line for line in text.splitlines(keepends=True))
    elif isinstance(root, yaml.MappingNode) and not any(
            isinstance(k, yaml.ScalarNode) and k.value == "nodes" for k, _ in root.value) and any(
            isinstance(k, yaml.ScalarNode) and k.value == "name" for k, _ in root.value):
        text = "nodes:\n  -\n" + "".join("    " + line for line in text.splitlines(keepends=True))
    wf = load_workflow_text(text)
    return wf.nodes, wf.edges, dict(wf.layout.positions)
