"""The canvas as a picture: a PNG (twice the scene's size) or an SVG of the whole workflow, selection hidden."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF
from PySide6.QtGui import QImage, QPainter

from tea_studio.workflow.files import write_atomic

MARGIN = 30


def scene_picture_rect(scene) -> QRectF:
    """What a picture shows: every item, with a margin (a blank page for an empty workflow)."""
    rect = scene.itemsBoundingRect()
    if rect.isEmpty():
        rect = QRectF(0, 0, 400, 300)
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def render_scene_image(scene, scale: float = 2.0) -> QImage:
    """The whole workflow rendered to an image, on the canvas background."""
    rect = scene_picture_rect(scene)
    image = QImage((rect.size() * scale).toSize(), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(scene.theme.background)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, QRectF(image.rect()), rect)
    painter.end()
    return image


def write_picture(path: str, fill: Callable[[QIODevice], bool]) -> bool:
    """Let ``fill`` write a picture into memory, then save it with ``write_atomic`` (an export that fails half-way
    leaves the old file); False when ``fill`` made nothing, OSError when the file cannot be written."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    made = fill(buffer)
    buffer.close()
    if not made or data.isEmpty():
        return False
    write_atomic(path, data.data())
    return True


def _fill_svg(scene, device: QIODevice, title: str) -> bool:
    from PySide6.QtSvg import QSvgGenerator

    rect = scene_picture_rect(scene)
    generator = QSvgGenerator()
    generator.setOutputDevice(device)
    generator.setSize(rect.size().toSize())
    generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    generator.setTitle(title)
    painter = QPainter()
    if not painter.begin(generator):
        return False
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    return painter.end()


def export_scene_image(scene, path: str, fmt: str, title: str | None = None) -> bool:
    """Write the picture as ``fmt`` ("svg", else an image format Qt knows); False when it was not written."""
    selected = scene.selectedItems()
    for item in selected:
        item.setSelected(False)
    try:
        if fmt == "svg":
            return write_picture(path, lambda device: _fill_svg(scene, device, title or "TEA workflow"))
        image = render_scene_image(scene)
        return write_picture(path, lambda device: image.save(device, fmt.upper()))
    finally:
        for item in selected:
            item.setSelected(True)
