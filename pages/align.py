"""Align: reward modelling on preference pairs and DPO.

For now the lesson and a "coming soon" note; the experiment arrives with its issue."""
from pages.lesson_tab import build_lesson_tab


def build(ui) -> None:
    build_lesson_tab(ui, "align")
