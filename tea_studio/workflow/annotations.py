"""Sticky notes and group frames: canvas annotations that only the studio reads, stored under ``x-tea-studio``.

They live as plain data in ``Layout.extra`` (keys ``notes`` and ``groups``), so a file without them round-trips
byte for byte, keys of an entry the studio does not know are kept, and Export (which drops ``x-tea-studio``)
never carries them to TEA. A group names its member nodes and its frame is drawn around them, so it follows them
wherever they move (dragging, auto-layout); dragging the frame moves its members and the notes on it.

```yaml
x-tea-studio:
  notes:
    - {id: note_1, text: "Why this loop exists", at: [0, -140], size: [220, 110], colour: yellow}
  groups:
    - {id: group_1, title: Analysis, colour: blue, nodes: [split, double, merge]}
```
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

NOTES, GROUPS = "notes", "groups"
NOTE_COLOURS = ("yellow", "green", "blue", "pink", "grey")
GROUP_COLOURS = ("blue", "green", "purple", "orange", "grey")
NOTE_SIZE = (220.0, 110.0)


@dataclass(frozen=True)
class Note:
    """A sticky note: free text at a position, with a size and a colour."""

    id: str
    text: str = ""
    x: float = 0.0
    y: float = 0.0
    width: float = NOTE_SIZE[0]
    height: float = NOTE_SIZE[1]
    colour: str = NOTE_COLOURS[0]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # keys the studio does not know


@dataclass(frozen=True)
class Group:
    """A titled, coloured frame around its member nodes (by name)."""

    id: str
    title: str = "Group"
    nodes: tuple[str, ...] = ()
    colour: str = GROUP_COLOURS[0]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _number_pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return float(value[0]), float(value[1])
    return None


def note_from_data(data: Any) -> Note | None:
    """The note an entry of ``notes`` describes, or None when it is not one (it is then kept as written)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        return None
    at = _number_pair(data.get("at")) or (0.0, 0.0)
    size = _number_pair(data.get("size")) or NOTE_SIZE
    text = data.get("text")
    colour = data.get("colour")
    return Note(data["id"], text if isinstance(text, str) else "", at[0], at[1], max(40.0, size[0]),
                max(30.0, size[1]), colour if colour in NOTE_COLOURS else NOTE_COLOURS[0],
                {k: v for k, v in data.items() if k not in ("id", "text", "at", "size", "colour")})


def group_from_data(data: Any) -> Group | None:
    """The group an entry of ``groups`` describes, or None when it is not one (it is then kept as written)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        return None
    nodes = data.get("nodes")
    title = data.get("title")
    colour = data.get("colour")
    return Group(data["id"], title if isinstance(title, str) else "Group",
                 tuple(n for n in nodes if isinstance(n, str)) if isinstance(nodes, list) else (),
                 colour if colour in GROUP_COLOURS else GROUP_COLOURS[0],
                 {k: v for k, v in data.items() if k not in ("id", "title", "nodes", "colour")})


def _number(value: float) -> int | float:
    value = round(float(value), 1)
    return int(value) if value.is_integer() else value


def note_to_data(note: Note) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "at": [_number(note.x), _number(note.y)],
            "size": [_number(note.width), _number(note.height)], "colour": note.colour, **note.extra}


def group_to_data(group: Group) -> dict[str, Any]:
    return {"id": group.id, "title": group.title, "colour": group.colour, "nodes": list(group.nodes),
            **group.extra}


def notes_of(extra: dict[str, Any]) -> list[Note]:
    """The notes of a layout's ``extra`` mapping, in file order."""
    entries = extra.get(NOTES)
    return [n for n in map(note_from_data, entries) if n is not None] if isinstance(entries, list) else []


def groups_of(extra: dict[str, Any]) -> list[Group]:
    """The groups of a layout's ``extra`` mapping, in file order."""
    entries = extra.get(GROUPS)
    return [g for g in map(group_from_data, entries) if g is not None] if isinstance(entries, list) else []


def with_annotations(extra: dict[str, Any], notes: list[Note] | None = None,
                     groups: list[Group] | None = None) -> dict[str, Any]:
    """A new ``extra`` mapping with ``notes`` and/or ``groups`` replaced (None: left as is; empty: key removed).

    Entries the studio could not read are kept after the new ones; the entries of unchanged notes and groups are
    the very objects that were loaded, so saving rewrites only what changed.
    """
    result = dict(extra)
    for key, items, parse, write in ((NOTES, notes, note_from_data, note_to_data),
                                     (GROUPS, groups, group_from_data, group_to_data)):
        if items is None:
            continue
        old = extra.get(key) if isinstance(extra.get(key), list) else []
        loaded = {id(entry): parse(entry) for entry in old}
        unreadable = [entry for entry in old if loaded[id(entry)] is None]
        kept = {parsed: entry for entry in old if (parsed := loaded[id(entry)]) is not None}
        entries = [kept.get(item) or write(item) for item in items] + unreadable
        if entries:
            result[key] = entries
        else:
            result.pop(key, None)
    return result


def renamed_in_groups(groups: list[Group], mapping: dict[str, str]) -> list[Group]:
    """``groups`` with member names renamed (the same objects where nothing changes)."""
    return [dataclasses.replace(g, nodes=tuple(mapping.get(n, n) for n in g.nodes))
            if any(n in mapping for n in g.nodes) else g for g in groups]


def free_id(prefix: str, taken: list[str] | set[str]) -> str:
    """``prefix_1``, ``prefix_2``, ...: the first not in ``taken``."""
    taken = set(taken)
    i = 1
    while f"{prefix}_{i}" in taken:
        i += 1
    return f"{prefix}_{i}"


@dataclass
class AnnotationsChange:
    """The change record of an annotation edit: replaces the studio block's ``extra`` mapping (notes, groups)."""

    old: dict[str, Any]
    new: dict[str, Any]

    def apply(self, workflow, forward: bool, events) -> None:
        workflow.layout.extra = dict(self.new if forward else self.old)

    def absorbs(self, later: Any) -> bool:
        return isinstance(later, AnnotationsChange)

    def absorb(self, later: Any) -> None:
        self.new = later.new
