"""LLM Lab: the Gradio app. Builds one tab per page module in pages/ and serves it.

    python app.py                       # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080
    python app.py --space               # one server for a class or a Space: private runs, limits (lab/classroom/space_mode.py)
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=8080 python app.py

The app itself never imports torch, transformers, peft or bitsandbytes: jobs run in worker
processes started by the runner, so the page is served in about the time of a bare Gradio app.
The language (English / 中文) and the visitor key live in the browser (gr.BrowserState).
"""
import argparse
import importlib
import os
import sys
import time

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no version check, no telemetry

import gradio as gr  # noqa: E402

from lab import config  # noqa: E402
from lab.classroom import space_mode, visitors  # noqa: E402
from lab.runs import runner  # noqa: E402
from lab.present.tabs import TABS  # noqa: E402
from pages.ui import UI, K, session_lang  # noqa: E402

PAGES = tuple(importlib.import_module(f"pages.{name}") for name in TABS)  # one module per tab (lab/present/tabs.py)
ASSETS = config.REPO / "assets"

# On a first visit (nothing stored yet) follow the browser's language; afterwards the stored choice wins.
DETECT_LANGUAGE_JS = """(lang, visitor) => [
    lang || ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en'), visitor]"""


def build_app() -> gr.Blocks:
    secret = visitors.browser_secret()
    # Space mode: Gradio's own cache (uploads, download copies) is emptied of files older than a day
    delete_cache = (3600, 86400) if config.space_mode() else None
    with gr.Blocks(title="LLM Lab", analytics_enabled=False, delete_cache=delete_cache) as demo:
        ui = UI.create(secret)
        with gr.Row(elem_id="header", equal_height=True):
            with gr.Column(scale=4):
                ui.make(gr.Markdown, value=K("app.header"), elem_id="app-title")
            with gr.Column(scale=1, min_width=220):
                toggle = gr.Radio([("English", "en"), ("中文", "zh")], value="en", show_label=False,
                                  container=False, elem_id="lang-toggle")
                visitor_note = gr.Markdown("", elem_id="visitor-note")
        space_note = gr.Markdown("", elem_id="space-note", elem_classes=["note"])  # Space mode: privacy, restarts
        with gr.Tabs(elem_id="tabs"):
            for page in PAGES:
                page.build(ui)
        ui.render_states()
        ui.on_language(lambda lang, visitor: K("app.visitor", visitor=visitors.fingerprint(visitor) or "…").render(lang),
                       [ui.visitor], [visitor_note])
        ui.on_language(space_note_text, [], [space_note])
        wire_language(demo, ui, toggle)
        ui.wire_timer()
    demo.lab_ui = ui  # the language registry, for tests
    return demo


def space_note_text(lang) -> str:
    """On a shared server: that runs are private, and whether they survive a restart ("" elsewhere)."""
    if not config.space_mode():
        return ""
    return K("space.private_note").render(lang) + " " + space_mode.storage_notice(lang)


def wire_language(demo: gr.Blocks, ui: UI, toggle: gr.Radio) -> None:
    """Page load: restore (or choose) the language and the visitor key, then redraw every text.
    Toggle: store the new language and redraw. A redraw is one event (all registered texts and every
    page's data-dependent views), so a busy server answers it in one round trip."""
    outputs, inputs = ui.redraw_outputs(), ui.redraw_inputs()

    def start(lang, credential, request: gr.Request):
        """The visitor key comes from the server: the browser's signed credential is verified (a new key
        is issued, rate-limited per address, when it is missing or forged) and kept in server state."""
        lang = session_lang(lang)
        client = request.client.host if request is not None and request.client else ""
        visitor, credential = visitors.session_visitor(credential, client)
        return lang, credential, visitor, lang

    def switch(lang, *values):
        return [session_lang(lang), *ui.redraw(lang, *values)]

    loaded = demo.load(start, [ui.lang, ui.credential], [ui.lang, ui.credential, ui.visitor, toggle],
                       js=DETECT_LANGUAGE_JS, show_progress="hidden")
    redrawn = loaded.then(ui.redraw, [ui.lang, *inputs], outputs, show_progress="hidden")
    for handler in ui.loaders:
        loaded.then(handler.fn, [ui.lang, *handler.inputs], handler.outputs, show_progress="hidden")
    # The click's own language comes from the toggle; the page load's redraw, if a busy server has not
    # answered it yet, is cancelled so it cannot land after this one and leave a mix of two languages.
    # always_last: a second click while the first is still redrawing is applied after it, not dropped.
    toggle.input(switch, [toggle, *inputs], [ui.lang, *outputs], cancels=[redrawn], trigger_mode="always_last",
                 show_progress="hidden")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Start the LLM Lab app.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                        help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
                        help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    parser.add_argument("--space", action="store_true",
                        help="Space mode: many visitors share this server (on by default where SPACE_ID is set)")
    return parser.parse_args(argv)


def launch_options() -> dict:
    """theme/css go to launch() in Gradio 6. Nothing under the data folder is served by URL (it is
    blocked, and no allowed path points into it): downloads are copies handed to Gradio by a handler
    that checked the viewer (lab/classroom/downloads.py). Uploads are capped (LAB_MAX_UPLOAD_MB)."""
    css = (ASSETS / "style.css").read_text(encoding="utf-8")
    table_cue = (ASSETS / "table_cue.js").read_text(encoding="utf-8")  # tables with hidden columns say so
    blocked = sorted({str(config.lab_home()), str(config.models_dir())})
    return {"theme": gr.themes.Default(primary_hue="indigo", text_size="lg"), "css": css,
            "head": f"<script>{table_cue}</script>",
            "allowed_paths": [], "blocked_paths": blocked, "max_file_size": f"{config.max_upload_mb()}mb",
            "footer_links": ["settings"], "show_error": True}


def patient_self_check() -> None:
    """Gradio checks that it can reach its own URL right after starting (5 tries, 3 s each) and refuses
    to run otherwise. On a loaded 2-core machine (a CPU Space with a class, or CI beside other jobs) the
    first answer can take longer: keep asking for up to a minute before giving up, as Gradio would."""
    from gradio import networking

    quick = networking.url_ok
    if getattr(quick, "patient", False):
        return

    def url_ok(url: str) -> bool:
        deadline = time.time() + 60
        while time.time() < deadline:
            if quick(url):
                return True
        return False

    url_ok.patient = True
    networking.url_ok = url_ok


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.space:
        os.environ["LAB_SPACE"] = "1"  # before anything reads it: the data folder, privacy, limits, the model
    if config.space_mode() and not os.environ.get("GRADIO_SERVER_NAME") and args.host == "127.0.0.1" \
            and os.environ.get("SPACE_ID"):
        args.host = "0.0.0.0"  # a Space reaches the app from outside its container
    demo = build_app()
    patient_self_check()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True,
                **launch_options())
    # Once the page is served (not before: on 2 cores its start-up would slow the app's): a dispatcher
    # recovers runs left from before (a dead worker's run is marked failed) and starts queued ones.
    runner.ensure_dispatcher()
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
