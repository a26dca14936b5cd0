"""Where the studio finds its resources (icons, themes, examples), its settings and its data folder.

Resources live in the repository's ``resources/`` folder next to the package (the package is installed editable).
Settings and data honour two environment variables so that tests and scripts never touch the user's real ones:
``TEA_STUDIO_CONFIG_DIR`` (an ini file ``tea-studio.ini`` there instead of the platform settings store) and
``TEA_STUDIO_DATA_DIR`` (recovery copies and run history instead of ``QStandardPaths.AppDataLocation``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QIcon

import tea_studio

ORGANIZATION = "TEA Studio"
APPLICATION = "tea-studio"
CONFIG_DIR_ENV = "TEA_STUDIO_CONFIG_DIR"
DATA_DIR_ENV = "TEA_STUDIO_DATA_DIR"
THEMES = ("light", "dark")


def resources_dir() -> Path:
    """The ``resources/`` folder: the checkout's (editable install), else the one installed under ``share/``."""
    beside = Path(tea_studio.__file__).resolve().parent.parent / "resources"
    if beside.is_dir():
        return beside
    return Path(sys.prefix) / "share" / "tea-studio" / "resources"


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


_icons: dict[str, QIcon] = {}


def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` (an empty icon when missing)."""
    cached = _icons.get(name)
    if cached is None:
        path = icon_path(name)
        cached = QIcon(str(path)) if path.is_file() else QIcon()
        _icons[name] = cached
    return cached


def theme_stylesheet(theme: str) -> str:
    """The Qt style sheet of a theme (``light`` or ``dark``); ``@ICONS@`` in it names the icons folder."""
    path = resources_dir() / "themes" / f"{theme}.qss"
    if not path.is_file():
        return ""
    return path.read_text(encoding="utf-8").replace("@ICONS@", (resources_dir() / "icons").as_posix())


def settings() -> QSettings:
    """The studio's settings: an ini file under ``TEA_STUDIO_CONFIG_DIR`` when set, else the platform store."""
    config_dir = os.environ.get(CONFIG_DIR_ENV)
    if config_dir:
        Path(config_dir).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(config_dir) / f"{APPLICATION}.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def app_data_dir() -> Path:
    """The folder for recovery copies and run history (created on demand)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override)
    else:
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        path = Path(location) if location else Path.home() / f".{APPLICATION}"
    path.mkdir(parents=True, exist_ok=True)
    return path
