"""The studio's colours, in one place: the widgets' palette and style sheet, the canvas and the run statuses.

The scene hands its :class:`CanvasTheme` to the items that paint; the run timeline paints its bars with the same
status colours as the nodes on the canvas; :func:`apply_app_theme` sets the palette of every other widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from tea_studio.studio.resources import theme_stylesheet


def _c(text: str) -> QColor:
    return QColor(text)


@dataclass(frozen=True)
class CanvasTheme:
    name: str
    background: QColor
    grid_minor: QColor
    grid_major: QColor
    node_fill: QColor
    node_header: QColor
    node_border: QColor
    node_selected: QColor
    node_text: QColor
    node_subtext: QColor
    port: QColor
    port_hover: QColor
    edge_sequential: QColor
    edge_conditional: QColor
    edge_fork: QColor
    edge_join: QColor
    edge_implicit: QColor
    edge_selected: QColor
    label_fill: QColor
    label_text: QColor
    breakpoint: QColor
    error: QColor
    warning: QColor
    vm_ready: QColor  # the timeline's mark where a branch's Lua VM was ready
    bar_selected: QColor  # the timeline's selected execution
    note_text: QColor  # text on a sticky note
    marked_line: QColor  # the code editor's line a "jump to line" marked
    kind_colours: dict[str, QColor] = field(default_factory=dict)
    status_colours: dict[str, QColor] = field(default_factory=dict)
    syntax_colours: dict[str, QColor] = field(default_factory=dict)  # code tokens: keyword, builtin, string, …
    note_fills: dict[str, QColor] = field(default_factory=dict)  # by annotations.NOTE_COLOURS
    group_hues: dict[str, QColor] = field(default_factory=dict)  # by annotations.GROUP_COLOURS; frames are translucent
    group_alpha: int = 38


_STATUS_LIGHT = {"waiting": "#9aa0a6", "running": "#1a73e8", "done": "#1e8e3e", "failed": "#d93025",
                 "skipped": "#c8ccd0", "paused": "#f29900", "stopped": "#5f6b7a",
                 "queued": "#8e7cc3"}
_STATUS_DARK = {"waiting": "#80868b", "running": "#4c8df6", "done": "#34a853", "failed": "#f05545",
                "skipped": "#4a4f55", "paused": "#fbbc04", "stopped": "#8a96a8",
                "queued": "#a08fd6"}
_KINDS_LIGHT = {"lua": "#2c5aa0", "python": "#3b7a57", "prolog": "#9c2f6b", "action": "#8e5b00", "noop": "#6b7280",
                "fan_in": "#7b3fa0", "while_loop": "#a0522d", "dynamic_parallel": "#a0522d"}
_KINDS_DARK = {"lua": "#6ea0f0", "python": "#6cc08e", "prolog": "#e07ab0", "action": "#e0a64a", "noop": "#9ca3af",
               "fan_in": "#c08ae0", "while_loop": "#e09070", "dynamic_parallel": "#e09070"}
_SYNTAX_LIGHT = {"keyword": "#7c3aed", "builtin": "#0e7490", "string": "#15803d", "number": "#b45309",
                 "comment": "#6b7280"}
_SYNTAX_DARK = {"keyword": "#c792ea", "builtin": "#82aaff", "string": "#c3e88d", "number": "#f78c6c",
                "comment": "#7f8c98"}
_NOTES_LIGHT = {"yellow": "#fff3b0", "green": "#d9f2d0", "blue": "#d6e6fb", "pink": "#fadbe6", "grey": "#e8e8e8"}
_NOTES_DARK = {"yellow": "#5b5220", "green": "#2f4a2a", "blue": "#24384f", "pink": "#4f2a37", "grey": "#3c3c3c"}
_GROUP_HUES = {"blue": "#3b78d8", "green": "#3a9a5b", "purple": "#8a4fc0", "orange": "#d07a1e", "grey": "#7d7d7d"}
# How a state key differs between two states (state_view's ADDED/CHANGED/REMOVED), as a translucent row tint.
DIFF_TINTS = {"added": QColor(76, 175, 80, 70), "changed": QColor(255, 179, 0, 80), "removed": QColor(229, 57, 53, 70)}


def _colours(table: dict[str, str]) -> dict[str, QColor]:
    return {key: _c(value) for key, value in table.items()}


LIGHT = CanvasTheme(
    name="light", background=_c("#f6f7f9"), grid_minor=_c("#e8eaee"), grid_major=_c("#d9dce2"),
    node_fill=_c("#ffffff"), node_header=_c("#eef1f6"), node_border=_c("#b8bec8"), node_selected=_c("#1a73e8"),
    node_text=_c("#1f2328"), node_subtext=_c("#5f6670"), port=_c("#8a929c"), port_hover=_c("#1a73e8"),
    edge_sequential=_c("#5f6670"), edge_conditional=_c("#b06000"), edge_fork=_c("#8430ce"),
    edge_join=_c("#0b8043"), edge_implicit=_c("#a8aeb6"), edge_selected=_c("#1a73e8"),
    label_fill=_c("#fff8e6"), label_text=_c("#5c3c00"), breakpoint=_c("#d93025"), error=_c("#d93025"),
    warning=_c("#e37400"), vm_ready=_c("#7e57c2"), bar_selected=_c("#ffb300"), note_text=_c("#3a3520"),
    marked_line=QColor(250, 200, 40, 70),
    kind_colours=_colours(_KINDS_LIGHT), status_colours=_colours(_STATUS_LIGHT), syntax_colours=_colours(_SYNTAX_LIGHT),
    note_fills=_colours(_NOTES_LIGHT), group_hues=_colours(_GROUP_HUES),
)

DARK = CanvasTheme(
    name="dark", background=_c("#1e1f22"), grid_minor=_c("#26282c"), grid_major=_c("#303338"),
    node_fill=_c("#2b2d31"), node_header=_c("#33363b"), node_border=_c("#4a4e55"), node_selected=_c("#4c8df6"),
    node_text=_c("#e8eaed"), node_subtext=_c("#a0a6ad"), port=_c("#8a929c"), port_hover=_c("#4c8df6"),
    edge_sequential=_c("#a0a6ad"), edge_conditional=_c("#f0a040"), edge_fork=_c("#c58af9"),
    edge_join=_c("#5bd08a"), edge_implicit=_c("#5a5f66"), edge_selected=_c("#4c8df6"),
    label_fill=_c("#3a3020"), label_text=_c("#f5d9a8"), breakpoint=_c("#f05545"), error=_c("#f05545"),
    warning=_c("#fbbc04"), vm_ready=_c("#b39ddb"), bar_selected=_c("#ffca28"), note_text=_c("#f0f0f0"),
    marked_line=QColor(250, 200, 40, 70),
    kind_colours=_colours(_KINDS_DARK), status_colours=_colours(_STATUS_DARK), syntax_colours=_colours(_SYNTAX_DARK),
    note_fills=_colours(_NOTES_DARK), group_hues=_colours(_GROUP_HUES), group_alpha=60,
)

THEMES = {"light": LIGHT, "dark": DARK}
# How a node execution ended -> the status whose colour paints its timeline bar (None: still running).
BAR_STATUS = {True: "done", False: "failed", None: "running"}


def canvas_theme(name: str) -> CanvasTheme:
    """The canvas colours for "light" or "dark" (unknown names give light)."""
    return THEMES.get(name, LIGHT)


def current_theme() -> CanvasTheme:
    """The colours of the theme the app shows now (for panels that colour errors and warnings)."""
    app = QApplication.instance()
    return canvas_theme(app.property("teaTheme") if app is not None else "light")


# Window, base, alternate base, text, button, highlight, disabled text, placeholder of each theme.
_PALETTES = {
    "light": ("#f3f4f6", "#ffffff", "#f6f7f9", "#1f2328", "#f3f4f6", "#1a73e8", "#9aa0a6", "#8a929c"),
    "dark": ("#25272b", "#1e1f22", "#2b2d31", "#e8eaed", "#2f3136", "#4c8df6", "#6b7078", "#7f858d"),
}
# Light, midlight, mid, dark and shadow: the bevel colours Fusion draws frames, check boxes and arrows with.
_BEVELS = {
    "light": ("#ffffff", "#eceef1", "#b8bec8", "#8a929c", "#5f6670"),
    "dark": ("#4a4e55", "#3a3d43", "#5a5f66", "#15161a", "#0b0c0e"),
}


def theme_palette(theme: str) -> QPalette:
    """The widgets' palette of a theme."""
    window, base, alternate, text, button, highlight, disabled, placeholder = (QColor(c) for c in _PALETTES[theme])
    palette = QPalette()
    role = QPalette.ColorRole
    for r, colour in ((role.Window, window), (role.Base, base), (role.AlternateBase, alternate),
                      (role.WindowText, text), (role.Text, text), (role.Button, button), (role.ButtonText, text),
                      (role.Highlight, highlight), (role.HighlightedText, QColor("#ffffff")),
                      (role.ToolTipBase, base), (role.ToolTipText, text), (role.PlaceholderText, placeholder),
                      (role.Link, highlight)):
        palette.setColor(r, colour)
    for r, colour in zip((role.Light, role.Midlight, role.Mid, role.Dark, role.Shadow), _BEVELS[theme], strict=True):
        palette.setColor(r, QColor(colour))
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, r, disabled)
    return palette


def apply_app_theme(app: QApplication, theme: str) -> None:
    """Fusion style with the theme's palette and style sheet (``resources/themes/<theme>.qss``)."""
    if theme not in _PALETTES:
        raise ValueError(f"unknown theme {theme!r}")
    if app.property("teaTheme") == theme:
        return
    if not app.property("teaTheme"):
        app.setStyle("Fusion")  # once: replacing the style later would pull it from under live widgets
    app.setPalette(theme_palette(theme))
    app.setStyleSheet(theme_stylesheet(theme))
    app.setProperty("teaTheme", theme)
