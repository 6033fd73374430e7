"""Quantize & compress: int8 and 4-bit weights, round-to-nearest, pruning.

For now the lesson and a "coming soon" note; the experiment arrives with its issue."""
from pages.lesson_tab import build_lesson_tab


def build(ui) -> None:
    build_lesson_tab(ui, "quantize")
