"""The Home tab: what the lab teaches and the path through it, the models it knows, the machine."""
import gradio as gr

from lab.home_view import models_markdown
from lab.system import status_markdown
from pages.ui import K


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.home"), id="home", elem_id="tab-home"):
        with gr.Row():
            with gr.Column(scale=5):
                ui.lesson("home")
            with gr.Column(scale=4):
                ui.make(gr.Markdown, value=K("home.models_title"))
                models = gr.Markdown(models_markdown("en"), elem_id="home-models", elem_classes=["models-table"])
                ui.make(gr.Markdown, value=K("home.models_note"), elem_classes=["note"])
                ui.make(gr.Markdown, value=K("home.system_title"))
                system = gr.Markdown(status_markdown("en"), elem_id="home-system")
                refresh = ui.make(gr.Button, value=K("home.refresh"), size="sm")

    def redraw(lang):
        return models_markdown(lang), status_markdown(lang)

    ui.on_language(redraw, [], [models, system])
    refresh.click(redraw, [ui.lang], [models, system])
