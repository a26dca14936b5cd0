"""YAML text helpers for yaml_io: writing plain data as YAML text, and splicing changes into loaded text.

The splicer compares the plain data of the workflow as loaded with the data of the workflow being saved and rewrites
only the spans whose data changed, using the composed node tree's marks (character offsets into the text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from tea_studio.workflow.code_syntax import lua_syntax_error, python_syntax_error

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
_TAG_NAMES = {
    STR_TAG: "string", NULL_TAG: "null", "tag:yaml.org,2002:int": "number", "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "boolean", "tag:yaml.org,2002:timestamp": "date",
}
_LUA_MARKER = re.compile(r"--\s?lua\b")


def describe(node: yaml.Node) -> str:
    """What a YAML node is, in words ("list", "mapping", "number", ...)."""
    if isinstance(node, yaml.SequenceNode):
        return "list"
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    return _TAG_NAMES.get(node.tag, "scalar")


def has_prolog_marker(code: str) -> bool:
    """True when ``code`` starts with TEA's `% prolog` / `%prolog` marker comment."""
    return code.lstrip().startswith(("% prolog", "%prolog"))


def has_lua_marker(code: str) -> bool:
    """True when the first non-blank line of ``code`` is `-- lua` / `--lua`."""
    for line in code.splitlines():
        if line.strip():
            return bool(_LUA_MARKER.fullmatch(line.strip()))
    return False


# Signs of Lua in a `run:` block without a marker: TEA's own (words and the `..` operator that Python does not
# have) and a table constructor `{ key = value }`. Only code showing one is parsed to decide.
_LUA_SIGNS = re.compile(r"\blocal\b|\bthen\b|\bend\b|\belseif\b|\.\.|\{\s*\w+\s*=(?!=)")


def reads_as_lua(code: str) -> bool:
    """True when unmarked `run:` code shows TEA's signs of Lua, does not parse as Python and does parse as Lua:
    code written for TEA's Rust engine, which runs every `run:` as Lua (and TEA's Python one when Lua is on)."""
    if not _LUA_SIGNS.search(code):
        return False
    return python_syntax_error(code) is not None and lua_syntax_error(code) is None


def copy_data(value: Any) -> Any:
    """A deep copy of plain YAML data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_data(v) for v in value]
    if isinstance(value, tuple):
        return [copy_data(v) for v in value]
    return value


@dataclass(eq=False)
class SourceRecord:
    """What saving needs from a load: the text, its composed node tree and the plain data of the loaded model."""

    text: str
    root: yaml.Node
    data: dict[str, Any]
    prefix: str = ""  # a byte order mark, written back as it was
    aliases: bool = False  # the text uses anchors/aliases or merge keys: a spliced result is checked by a reload


# ---------------------------------------------------------------------------------------------------------------
# writing plain data as YAML text
# ---------------------------------------------------------------------------------------------------------------
_RESOLVER = yaml.resolver.Resolver()
_ANALYZER = yaml.emitter.Emitter(None)
_PRINTABLE = re.compile("[\x09\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufeff\ufeff-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {"\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f", "\x0d": "r",
            "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P"}


@dataclass
class Style:
    """Indentation habits of a file: nested mapping indent, dash offset under a key, and dash-to-content width."""

    indent: int = 2
    seq_offset: int = 2
    dash_width: int = 2
    newline: str = "\n"


def is_plain_safe(text: str, flow: bool = False) -> bool:
    """True when ``text`` written unquoted reads back as the same string (YAML 1.1 as PyYAML reads it)."""
    if not text or "\n" in text:
        return False
    if _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != STR_TAG:
        return False
    analysis = _ANALYZER.analyze_scalar(text)
    return analysis.allow_flow_plain if flow else analysis.allow_block_plain


def double_quoted(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        elif _PRINTABLE.fullmatch(ch) and ch != "\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    out.append('"')
    return "".join(out)


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def block_allowed(text: str) -> bool:
    """True when ``text`` can be written as a `|` literal block (multi-line, printable, no odd line breaks)."""
    if "\n" not in text or not text.strip(" \t\n"):
        return False
    return not any(ch != "\t" and (ch == "\ufeff" or not _PRINTABLE.fullmatch(ch)) for ch in text)


def block_scalar(text: str, indent: int, parent: int) -> str:
    """`|` / `|-` / `|+` literal block (header, lines, final newline); content at column ``indent``, its key at
    column ``parent``."""
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = body.split("\n")
    head = 0
    while not lines[head].strip(" \t"):
        head += 1
    needs_indicator = lines[head][:1] in (" ", "\t") or any(lines[:head])
    indicator = str(indent - parent) if needs_indicator else ""
    pad = " " * indent
    out = ["|" + indicator + chomp]
    out.extend(pad + line if line else "" for line in lines)
    return "\n".join(out) + "\n" * max(trailing, 1)


def scalar_text(value: Any, flow: bool = False, key: bool = False) -> str:
    """One scalar as YAML (plain when safe, else double-quoted). Never a block scalar."""
    if isinstance(value, str):
        if is_plain_safe(value, flow) and not (key and len(value) > 1000):
            return value
        return double_quoted(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, allow_unicode=True)
    return text[:-5] if text.endswith("\n...\n") else text.rstrip("\n")


def flow_text(value: Any) -> str:
    """A value on one line in flow style."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar_text(k, True, True)}: {flow_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow_text(v) for v in value) + "]"
    return scalar_text(value, flow=True)


def _is_point(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value))


def value_after_key(value: Any, indent: int, style: Style) -> str:
    """What follows `key:` for a key at column ``indent``: " scalar\\n", " |\\n  block" or "\\n  nested block"."""
    if isinstance(value, str) and block_allowed(value):
        return " " + block_scalar(value, indent + style.indent, indent)
    if _is_point(value):
        return " " + flow_text(value) + "\n"
    if isinstance(value, dict) and value:
        return "\n" + mapping_lines(value, indent + style.indent, style)
    if isinstance(value, list | tuple) and value:
        return "\n" + sequence_lines(value, indent + style.seq_offset, style)
    return " " + flow_text(value) + "\n"


def mapping_lines(value: dict, indent: int, style: Style, first_prefix: str | None = None) -> str:
    """A block mapping whose keys sit at column ``indent``; ``first_prefix`` replaces the first key's indentation
    (e.g. "  - " for a sequence item)."""
    out = []
    for i, (key, item) in enumerate(value.items()):
        prefix = first_prefix if (i == 0 and first_prefix is not None) else " " * indent
        out.append(prefix + scalar_text(key, key=True) + ":" + value_after_key(item, indent, style))
    return "".join(out)


def item_lines(item: Any, dash_col: int, style: Style) -> str:
    """One block sequence item (dash at ``dash_col``), ending with a newline."""
    content = dash_col + style.dash_width
    prefix = " " * dash_col + "-" + " " * (style.dash_width - 1)
    if isinstance(item, dict) and item:
        return mapping_lines(item, content, style, first_prefix=prefix)
    if isinstance(item, list | tuple) and item and not _is_point(list(item)):
        return prefix + flow_text(item) + "\n"
    if isinstance(item, str) and block_allowed(item):
        return prefix + block_scalar(item, content, dash_col)
    return prefix + flow_text(item) + "\n"


def sequence_lines(value: list, dash_col: int, style: Style) -> str:
    return "".join(item_lines(item, dash_col, style) for item in value)


def document_text(data: dict, style: Style | None = None) -> str:
    """A whole new document from plain data."""
    style = style or Style()
    text = mapping_lines(data, 0, style) if data else "{}\n"
    return text if style.newline == "\n" else text.replace("\n", style.newline)


# ---------------------------------------------------------------------------------------------------------------
# splicing changes into loaded text
# ---------------------------------------------------------------------------------------------------------------
_MISSING = object()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def same(a: Any, b: Any) -> bool:
    """Equality that keeps types apart (True is not 1, 1 is not 1.0); mapping key order is ignored."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def key_value(node: yaml.Node) -> Any:
    """The Python value of a mapping key node."""
    if isinstance(node, yaml.ScalarNode) and node.tag == STR_TAG:
        return node.value
    try:
        _CONSTRUCTOR.constructed_objects = {}
        return _CONSTRUCTOR.construct_object(node, deep=True)
    except (yaml.YAMLError, TypeError, ValueError):
        return getattr(node, "value", None)


class _CannotSplice(Exception):
    """The change cannot be written in place; the caller rewrites the enclosing value."""


@dataclass
class _Ctx:
    """Where a value sits: after `key:` in a block mapping, as a block sequence item, inside flow, or the root."""

    kind: str  # "key" | "item" | "flow" | "root"
    col: int = 0  # the key's column, or the dash's column
    key: yaml.Node | None = None


def learn_style(root: yaml.Node, text: str) -> Style:
    """The indentation habits of a loaded file."""
    style = Style(newline="\r\n" if "\r\n" in text else "\n")
    found = {"indent": None, "seq_offset": None, "dash_width": None}

    def visit(node: yaml.Node, depth: int) -> None:
        if depth > 4 or all(v is not None for v in found.values()):
            return
        if isinstance(node, yaml.MappingNode) and not node.flow_style:
            for key, value in node.value:
                if isinstance(value, yaml.MappingNode) and not value.flow_style and found["indent"] is None:
                    if value.start_mark.line > key.start_mark.line and value.start_mark.column > key.start_mark.column:
                        found["indent"] = value.start_mark.column - key.start_mark.column
                if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
                    if found["seq_offset"] is None and value.start_mark.line > key.start_mark.line:
                        found["seq_offset"] = value.start_mark.column - key.start_mark.column
                    first = value.value[0]
                    if found["dash_width"] is None and first.start_mark.line == value.start_mark.line:
                        found["dash_width"] = first.start_mark.column - value.start_mark.column
                visit(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode) and not node.flow_style:
            for item in node.value[:3]:
                if isinstance(item, yaml.MappingNode) and not item.flow_style:
                    for key, value in item.value:
                        if isinstance(value, yaml.MappingNode | yaml.SequenceNode) and not value.flow_style:
                            visit(item, depth + 1)
                            break
                        if isinstance(value, yaml.ScalarNode) and value.style == "|" and found["indent"] is None:
                            found["indent"] = _block_content_col(
                                text, value, key.start_mark.column, key.start_mark.column + 2) - key.start_mark.column
                            if found["indent"] <= 0:
                                found["indent"] = None

    visit(root, 0)
    if found["indent"]:
        style.indent = found["indent"]
    style.seq_offset = found["seq_offset"] if found["seq_offset"] is not None else style.indent
    if found["dash_width"]:
        style.dash_width = found["dash_width"]
    return style


def _block_content_col(text: str, node: yaml.ScalarNode, parent: int, default: int) -> int:
    """The content column of a block scalar whose key (or dash) is at column ``parent``."""
    start, end = node.start_mark.index, node.end_mark.index
    nl = text.find("\n", start, end)
    header = text[start:nl if nl >= 0 else end]
    digits = [c for c in header if c.isdigit()]
    if digits:
        return parent + int(digits[0])
    pos = nl + 1
    while 0 < pos < end:
        line_end = text.find("\n", pos, end)
        line = text[pos:line_end if line_end >= 0 else end].rstrip("\r")
        if line.strip():
            return len(line) - len(line.lstrip(" "))
        if line_end < 0:
            break
        pos = line_end + 1
    return default


class Splicer:
    """Collects text edits (start, end, replacement) for the changes between two data trees."""

    def __init__(self, source: SourceRecord):
        self.text = source.text
        self.root = source.root
        self.style = learn_style(source.root, source.text)
        self.edits: list[tuple[int, int, str]] = []

    # -- positions in the text ----------------------------------------------------------------------------
    def line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def line_end(self, pos: int) -> int:
        """The start of the line after the one that holds position ``pos - 1`` (or the end of the text)."""
        if pos > 0 and self.text[pos - 1] == "\n":
            return pos
        nl = self.text.find("\n", pos)
        return len(self.text) if nl < 0 else nl + 1

    def end_of(self, node: yaml.Node) -> int:
        """Where a value's own text ends (block collections end at their last child; block scalars at their last
        content line, newline included)."""
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("|", ">"):
                end = node.end_mark.index
                header_end = self.text.find("\n", node.start_mark.index, end)
                if "+" in self.text[node.start_mark.index:header_end if header_end >= 0 else end]:
                    return end
                content_col = _block_content_col(self.text, node, 0, 0)
                while end > node.start_mark.index:
                    prev = self.text.rfind("\n", node.start_mark.index, end - 1)
                    line = self.text[prev + 1:end].rstrip("\r\n")
                    if prev < 0 or line.strip(" \t") or (content_col and len(line) > content_col):
                        break  # a line with more spaces than the indentation is content
                    end = prev + 1
                return end
            return node.end_mark.index
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
        return self.end_of(last)

    def lines_end(self, node: yaml.Node) -> int:
        return self.line_end(self.end_of(node))

    def block_start(self, pos: int, floor: int) -> int:
        """The start of the line holding ``pos``, moved up over comment lines directly above (not above ``floor``)."""
        start = self.line_start(pos)
        while start > floor:
            prev = self.line_start(start - 1)
            if prev < floor or not self.text[prev:start].lstrip(" \t").startswith("#"):
                break
            start = prev
        return start

    def dash_of(self, item: yaml.Node) -> int:
        """The position of the dash that opens a block sequence item."""
        pos = item.start_mark.index - 1
        while pos >= 0 and self.text[pos] in " \t\r\n":
            pos -= 1
        if pos < 0 or self.text[pos] != "-":
            raise _CannotSplice("no dash before a sequence item")
        return pos

    def only_indent_before(self, pos: int) -> bool:
        return not self.text[self.line_start(pos):pos].strip(" \t")

    # -- edits ----------------------------------------------------------------------------------------------
    def edit(self, start: int, end: int, replacement: str) -> None:
        self.edits.append((start, end, replacement))

    def result(self) -> str:
        text = self.text
        added_newline = False
        if text and not text.endswith("\n"):
            added_newline = True
        out = []
        pos = 0
        for start, end, replacement in sorted(self.edits, key=lambda e: (e[0], e[1])):
            if start < pos:
                raise _CannotSplice("overlapping edits")
            out.append(text[pos:start])
            if self.style.newline != "\n":
                replacement = replacement.replace("\r\n", "\n").replace("\n", self.style.newline)
            if end == len(text) and added_newline and replacement.endswith(self.style.newline) and start < end:
                replacement = replacement[:-len(self.style.newline)] if self._may_drop_newline(replacement) \
                    else replacement
            elif start == len(text) and added_newline:
                replacement = self.style.newline + replacement.rstrip("\r\n") \
                    if self._may_drop_newline(replacement) else self.style.newline + replacement
            out.append(replacement)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    @staticmethod
    def _may_drop_newline(replacement: str) -> bool:
        """False when the replacement may end inside a `|` / `|+` block, whose final newline is content."""
        return not re.search(r"\|[1-9]?\+?[1-9]?[ \t]*(#.*)?$", replacement, re.MULTILINE)

    # -- the diff ---------------------------------------------------------------------------------------------
    def change(self, node: yaml.Node, old: Any, new: Any, ctx: _Ctx) -> None:
        """Write ``new`` where ``node`` (whose data was ``old``) stands."""
        if same(old, new):
            return
        try:
            if isinstance(node, yaml.MappingNode) and isinstance(new, dict) and new:
                if node.flow_style:
                    self.flow_container(node, old, new, ctx)
                else:
                    self.block_mapping(node, old if isinstance(old, dict) else {}, new, ctx)
                return
            if isinstance(node, yaml.SequenceNode) and isinstance(new, list) and new:
                if node.flow_style:
                    self.flow_container(node, old, new, ctx)
                else:
                    self.block_sequence(node, old if isinstance(old, list) else [], new, ctx)
                return
            if isinstance(node, yaml.ScalarNode) and not isinstance(new, dict | list):
                self.scalar(node, new, ctx)
                return
        except _CannotSplice:
            pass
        self.replace_whole(node, new, ctx)

    def replace_whole(self, node: yaml.Node, new: Any, ctx: _Ctx) -> None:
        """Rewrite a whole value (and drop the edits already made inside it)."""
        start, end = node.start_mark.index, self.end_of(node)
        self.edits = [e for e in self.edits if e[1] <= start or e[0] >= end or e[0] == e[1] and e[0] == end]
        if ctx.kind == "flow":
            self.edit(start, end, flow_text(new))
        elif ctx.kind == "key":
            assert ctx.key is not None
            key_end = ctx.key.end_mark.index
            end = self.line_end(end)
            self.edits = [e for e in self.edits if e[1] <= key_end or e[0] >= end]
            self.edit(key_end, end, ":" + value_after_key(new, ctx.col, self.style))
        elif ctx.kind == "item":
            col = node.start_mark.column
            end = self.line_end(end)
            self.edits = [e for e in self.edits if e[1] <= start or e[0] >= end]
            self.edit(start, end, self.item_body(new, col, ctx.col))
        else:
            raise _CannotSplice("the document root changed shape")

    def item_body(self, value: Any, col: int, dash_col: int) -> str:
        """A sequence item's text after its dash (the content starts at column ``col``)."""
        if isinstance(value, dict) and value:
            return mapping_lines(value, col, self.style, first_prefix="")
        if isinstance(value, str) and block_allowed(value):
            return block_scalar(value, col, dash_col)
        if isinstance(value, list) and value and not _is_point(value):
            return "\n" + sequence_lines(value, col, self.style)
        return flow_text(value) + "\n"

    def scalar(self, node: yaml.ScalarNode, new: Any, ctx: _Ctx) -> None:
        start, end = node.start_mark.index, node.end_mark.index
        flow = ctx.kind == "flow"
        if isinstance(new, str) and not flow and ctx.kind in ("key", "item") and block_allowed(new):
            col = (_block_content_col(self.text, node, ctx.col, ctx.col + self.style.indent) if node.style == "|"
                   else ctx.col + (self.style.indent if ctx.kind == "key" else self.style.dash_width))
            if node.style in ("|", ">"):
                end = self.end_of(node)
                replacement = block_scalar(new, col, ctx.col)
                if replacement.endswith("\n\n") or new.endswith("\n\n"):
                    end = node.end_mark.index  # a keep block would swallow the blank lines that follow
            else:
                end = self.line_end(end)
                replacement = block_scalar(new, col, ctx.col)
            self.edit(start, end, replacement)
            return
        if node.style in ("|", ">"):
            end = self.end_of(node)
            self.edit(start, end, scalar_text(new, flow) + "\n")
            return
        if isinstance(new, str) and node.style == "'" and "\n" not in new and _printable(new):
            text = single_quoted(new)
        elif isinstance(new, str) and node.style == '"':
            text = double_quoted(new)
        else:
            text = scalar_text(new, flow)
        if start == end and start > 0 and self.text[start - 1] == ":":
            text = " " + text
        self.edit(start, end, text)

    def flow_container(self, node: yaml.Node, old: Any, new: Any, ctx: _Ctx) -> None:
        if isinstance(node, yaml.MappingNode):
            pairs = [(key_value(k), k, v) for k, v in node.value]
            keys = [p[0] for p in pairs]
            if isinstance(old, dict) and set(keys) == set(new) == set(old) and len(keys) == len(new):
                for key, _, value in pairs:
                    self.change(value, old[key], new[key], _Ctx("flow"))
                return
            new = {**{k: new[k] for k in keys if k in new}, **new}
        elif isinstance(old, list) and len(node.value) == len(old) == len(new):
            for item, o, n in zip(node.value, old, new, strict=True):
                self.change(item, o, n, _Ctx("flow"))
            return
        if not node.value and ctx.kind in ("key", "item") and not _is_point(new):
            raise _CannotSplice("an empty flow collection becomes a block")
        self.edit(node.start_mark.index, node.end_mark.index, flow_text(new))

    def block_mapping(self, node: yaml.MappingNode, old: dict, new: dict, ctx: _Ctx) -> None:
        if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
            raise _CannotSplice("merge keys")
        pairs = [(key_value(k), k, v) for k, v in node.value]
        keys = [p[0] for p in pairs]
        col = pairs[0][1].start_mark.column
        removed = [i for i, (key, _, _) in enumerate(pairs) if key not in new and key in old]
        added = [key for key in new if key not in keys]
        renamed = {}
        if removed and len(removed) == len(added):
            new_keys = list(new)
            if all(new_keys.index(a) == i for a, i in zip(added, removed, strict=True)):
                renamed = dict(zip(removed, added, strict=True))
                removed, added = [], []
        if len(removed) == len(pairs):
            raise _CannotSplice("every key removed")
        for i, (key, key_node, value_node) in enumerate(pairs):
            if i in renamed:
                new_key = renamed[i]
                self.edit(key_node.start_mark.index, key_node.end_mark.index, scalar_text(new_key, key=True))
                self.change(value_node, old.get(key, _MISSING), new[new_key], _Ctx("key", col, key_node))
            elif key in new:
                self.change(value_node, old.get(key, _MISSING), new[key], _Ctx("key", col, key_node))
        floor_for = self._floors(pairs, ctx)
        for i in removed:
            _, key_node, value_node = pairs[i]
            if i == 0 and not self.only_indent_before(key_node.start_mark.index):
                following = [j for j in range(1, len(pairs)) if j not in removed]
                self.edit(key_node.start_mark.index, pairs[following[0]][1].start_mark.index, "")
                continue
            start = self.block_start(key_node.start_mark.index, floor_for[i])
            self.edit(start, self.lines_end(value_node), "")
        if added:
            self.add_keys(pairs, new, added, col)

    def _floors(self, pairs: list, ctx: _Ctx) -> list[int]:
        floors = []
        for i, (_, key_node, _) in enumerate(pairs):
            if i == 0:
                floors.append(self.line_start(key_node.start_mark.index) if ctx.kind == "root"
                              else self.line_end(ctx.key.end_mark.index) if ctx.key is not None
                              else self.line_start(key_node.start_mark.index))
            else:
                floors.append(self.lines_end(pairs[i - 1][2]))
        return floors

    def add_keys(self, pairs: list, new: dict, added: list, col: int) -> None:
        """Insert new keys before the next existing key (in the new order) or after the last one."""
        existing = {key: (k, v) for key, k, v in pairs}
        new_keys = list(new)
        groups: dict[int, list[str]] = {}
        floors = self._floors(pairs, _Ctx("root"))
        index_of = {key: i for i, (key, _, _) in enumerate(pairs)}
        for key in added:
            at = new_keys.index(key)
            after = [k for k in new_keys[at + 1:] if k in existing]
            before = [k for k in new_keys[:at] if k in existing]
            pos = None
            if not after:
                pos = self.lines_end(pairs[-1][2])
            elif before:
                pos = self.lines_end(existing[before[-1]][1])
            else:
                key_node = existing[after[0]][0]
                if self.only_indent_before(key_node.start_mark.index):
                    pos = self.block_start(key_node.start_mark.index, floors[index_of[after[0]]])
                else:
                    pos = self.lines_end(pairs[0][2])
            groups.setdefault(pos, []).append(key)
        for pos, keys in groups.items():
            self.edit(pos, pos, mapping_lines({k: new[k] for k in keys}, col, self.style))

    def block_sequence(self, node: yaml.SequenceNode, old: list, new: list, ctx: _Ctx) -> None:
        import difflib

        items = node.value
        if len(items) != len(old):
            raise _CannotSplice("the list does not match its data")
        dash_col = node.start_mark.column
        first = items[0]
        width = (first.start_mark.column - dash_col if first.start_mark.line == node.start_mark.line
                 else self.style.dash_width)
        flow_items = isinstance(items[-1], yaml.MappingNode | yaml.SequenceNode) and items[-1].flow_style
        matcher = difflib.SequenceMatcher(None, [_fingerprint(v) for v in old], [_fingerprint(v) for v in new],
                                          autojunk=False)
        floor0 = self.line_end(ctx.key.end_mark.index) if ctx.key is not None else self.line_start(
            node.start_mark.index)
        floors = [floor0] + [self.lines_end(item) for item in items[:-1]]
        inserts: dict[int, list[Any]] = {}
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            paired = min(i2 - i1, j2 - j1)
            for k in range(paired):
                self.change(items[i1 + k], old[i1 + k], new[j1 + k], _Ctx("item", dash_col))
            for i in range(i1 + paired, i2):
                dash = self.dash_of(items[i])
                if not self.only_indent_before(dash):
                    raise _CannotSplice("a dash shares its line")
                self.edit(self.block_start(dash, floors[i]), self.lines_end(items[i]), "")
            if j2 - j1 > paired:
                at = i1 + paired
                inserts.setdefault(at, []).extend(new[j1 + paired:j2])
        if not new:
            raise _CannotSplice("empty list")
        for at, values in inserts.items():
            if at < len(items):
                dash = self.dash_of(items[at])
                if not self.only_indent_before(dash):
                    raise _CannotSplice("a dash shares its line")
                pos = self.block_start(dash, floors[at])
            else:
                pos = self.lines_end(items[-1])
            self.edit(pos, pos, "".join(self.new_item(v, dash_col, width, flow_items) for v in values))

    def new_item(self, value: Any, dash_col: int, width: int, flow: bool) -> str:
        prefix = " " * dash_col + "-" + " " * max(width - 1, 1)
        if flow and isinstance(value, dict | list):
            return prefix + flow_text(value) + "\n"
        return prefix + self.item_body(value, dash_col + len(prefix) - dash_col, dash_col)


def _printable(text: str) -> bool:
    return all(_PRINTABLE.fullmatch(ch) and ch != "\ufeff" for ch in text if ch != "\t")


def _fingerprint(value: Any) -> str:
    return repr(value)


def splice_document(source: SourceRecord, data: dict) -> str:
    """The loaded text with the changes from ``source.data`` to ``data`` written in."""
    if same(source.data, data):
        return source.prefix + source.text
    splicer = Splicer(source)
    root = source.root
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return document_text(data, splicer.style)
    try:
        splicer.block_mapping(root, source.data, data, _Ctx("root", 0))
        return source.prefix + splicer.result()
    except _CannotSplice:
        return document_text(data, splicer.style)


def new_document_text(source: SourceRecord | None, data: dict) -> str:
    """A clean document in the loaded file's indentation style (or FORMAT.md's for a new one)."""
    return document_text(data, learn_style(source.root, source.text) if source is not None else None)


def uses_aliases(text: str) -> bool:
    """True when the text may hold anchors, aliases or merge keys (a cheap, conservative test)."""
    return "&" in text and ("*" in text or "<<" in text)
