"""A tab that so far holds its lesson and a "coming soon" note; its experiment lands with its issue."""
import gradio as gr

from pages.ui import K


def build_lesson_tab(ui, name: str) -> None:
    with ui.make(gr.Tab, label=K(f"tab.{name}"), id=name, elem_id=f"tab-{name}"):
        ui.make(gr.Markdown, value=K("app.coming_soon"), elem_classes=["coming-soon"], elem_id=f"{name}-coming-soon")
        ui.lesson(name)
