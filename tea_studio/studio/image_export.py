"""The canvas as a picture: a PNG (twice the scene's size) or an SVG of the whole workflow, selection hidden."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

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


def _write_svg(scene, path: str, title: str) -> bool:
    from PySide6.QtSvg import QSvgGenerator

    rect = scene_picture_rect(scene)
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(rect.size().toSize())
    generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    generator.setTitle(title)
    painter = QPainter()
    if not painter.begin(generator):
        return False
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    painter.end()
    return Path(path).is_file()


def export_scene_image(scene, path: str, fmt: str, title: str | None = None) -> bool:
    """Write the picture as ``fmt`` ("svg", else an image format Qt knows); False when it was not written."""
    selected = scene.selectedItems()
    for item in selected:
        item.setSelected(False)
    try:
        if fmt == "svg":
            return _write_svg(scene, path, title or "TEA workflow")
        return render_scene_image(scene).save(path)
    finally:
        for item in selected:
            item.setSelected(True)
