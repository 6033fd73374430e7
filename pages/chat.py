"""The Chat tab: talk with a model or a fine-tune, the answer streamed, the base model's answer beside it.

The model lives in a chat process (lab/modeling/chat_worker.py: the app imports no torch); this page only
checks what the visitor picked (through the run API, with the viewer), sends the conversation and shows the
text as it grows. "Where is my model": a picked run's adapter, full model or merged model as a download.
"""
import gradio as gr

from lab.classroom import downloads
from lab.classroom.space_mode import chat_limits
from lab.errors import LabError
from lab.modeling.chat_worker import POOL, conversation, resolve, stream
from lab.present import chat_view
from lab.present.i18n import t
from pages.ui import K, session_lang, viewer
from pages.widgets import error_html

DEFAULT_MAX_NEW = 256


def build(ui) -> None:
    from lab.modeling.models import DEFAULT_MODEL

    limits = chat_limits()
    with ui.make(gr.Tab, label=K("tab.chat"), id="chat", elem_id="tab-chat"):
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    model = ui.make(gr.Dropdown, choices=[DEFAULT_MODEL], value=DEFAULT_MODEL, allow_custom_value=True,
                                    label=K("chat.model"), info=K("chat.model_info"), elem_id="chat-model", scale=4)
                    compare = ui.make(gr.Checkbox, value=True, label=K("chat.compare"), info=K("chat.compare_info"),
                                      elem_id="chat-compare", scale=2)
                system = ui.make(gr.Textbox, label=K("chat.system"), placeholder=K("chat.system_placeholder"),
                                 lines=1, elem_id="chat-system")
                with ui.make(gr.Accordion, label=K("chat.sampling"), open=False, elem_id="chat-sampling"):
                    with gr.Row():
                        temperature = ui.make(gr.Slider, minimum=0, maximum=2, value=0.7, step=0.05,
                                              label=K("chat.temperature"), info=K("chat.temperature_info"),
                                              elem_id="chat-temperature")
                        top_p = ui.make(gr.Slider, minimum=0.05, maximum=1, value=0.95, step=0.05,
                                        label=K("chat.top_p"), info=K("chat.top_p_info"), elem_id="chat-top-p")
                    with gr.Row():
                        max_new = ui.make(gr.Slider, minimum=1, maximum=limits["max_new_tokens"],
                                          value=min(DEFAULT_MAX_NEW, limits["max_new_tokens"]), step=1,
                                          label=K("chat.max_new_tokens"),
                                          info=K("chat.max_new_tokens_info", limit=limits["max_new_tokens"]),
                                          elem_id="chat-max-new")
                        seed = ui.make(gr.Number, value=0, precision=0, minimum=0, label=K("chat.seed"),
                                       info=K("chat.seed_info"), elem_id="chat-seed")
                with gr.Row(equal_height=True):
                    bot = ui.make(gr.Chatbot, label=K("chat.answer"), elem_id="chat-bot", height=380, scale=1)
                    base_bot = ui.make(gr.Chatbot, label=K("chat.base_answer"), elem_id="chat-base-bot", height=380,
                                       scale=1)
                message = ui.make(gr.Textbox, label=K("chat.message"), placeholder=K("chat.message_placeholder"),
                                  lines=2, elem_id="chat-message")
                with gr.Row():
                    send = ui.make(gr.Button, value=K("chat.send"), variant="primary", elem_id="chat-send", scale=3)
                    clear = ui.make(gr.Button, value=K("chat.clear"), elem_id="chat-clear", scale=1)
                error = gr.HTML("", visible=False, elem_id="chat-send-error", elem_classes=["run-error-box"],
                                padding=False)
                status = gr.Markdown("", elem_id="chat-status")
                with ui.make(gr.Accordion, label=K("chat.where"), open=True, elem_id="chat-where"):
                    where = ui.make(gr.Markdown, value=K("chat.where_model"), elem_id="chat-where-note")
                    download = ui.make(gr.DownloadButton, label=K("chat.download"), visible=False,
                                       elem_id="chat-download")
            with gr.Column(scale=2):
                ui.lesson("chat")

    def choices(lang, visitor, token, current):
        """The picker's models and runs for this visitor (on page load, language switch and focus)."""
        options = chat_view.model_choices(session_lang(lang), viewer(visitor, token))
        return gr.update(choices=options, value=current or DEFAULT_MODEL)

    ui.on_language(choices, [ui.visitor, ui.token, model], [model])
    # on focus, fresh choices only: the value the visitor is typing stays (a value here would overwrite it)
    model.focus(lambda lang, visitor, token: gr.update(choices=chat_view.model_choices(
        session_lang(lang), viewer(visitor, token))), [ui.lang, ui.visitor, ui.token], [model], show_progress="hidden")

    def where_is(choice, lang, visitor, token):
        lang = session_lang(lang)
        try:
            source, key = chat_view.download_source(choice, viewer(visitor, token))
            copy = downloads.copy_for_download(source) if source else None
        except LabError as problem:
            return [gr.update(value=error_html(problem, lang)), gr.update(value=None, visible=False)]
        return [gr.update(value=t(key, lang)), gr.update(value=copy, visible=bool(copy))]

    model.change(where_is, [model, ui.lang, ui.visitor, ui.token], [where, download], show_progress="hidden")
    ui.on_language(lambda lang, choice, visitor, token: where_is(choice, lang, visitor, token),
                   [model, ui.visitor, ui.token], [where, download])
    compare.change(lambda on: gr.update(visible=on), [compare], [base_bot], show_progress="hidden")

    def respond(lang, visitor, token, choice, system_text, temp, nucleus, new_tokens, seed_value, side_by_side,
                text, history, base_history):
        lang = session_lang(lang)
        text = (text or "").strip()
        history, base_history = list(history or []), list(base_history or [])
        if not text:
            yield [gr.skip()] * 5
            return
        limits = chat_limits()
        try:
            target = resolve(choice, viewer(visitor, token))
            settings = {"max_new_tokens": max(1, min(int(new_tokens or 1), limits["max_new_tokens"])),
                        "temperature": max(0.0, float(temp or 0.0)), "top_p": min(1.0, max(0.05, float(nucleus or 1.0))),
                        "seed": max(0, int(seed_value or 0))}
            jobs = [(POOL.get(target), {"messages": conversation(history, system_text, text, limits["turns"]),
                                        **settings})]
            base = target.base_target() if side_by_side else None
            if base is not None and base.key != target.key:
                jobs.append((POOL.get(base), {"messages": conversation(base_history, system_text, text,
                                                                       limits["turns"]), **settings}))
        except LabError as problem:
            yield [gr.skip(), gr.skip(), gr.skip(), gr.update(value=error_html(problem, lang), visible=True), ""]
            return
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        if side_by_side:
            same = len(jobs) == 1
            base_history += [{"role": "user", "content": text},
                             {"role": "assistant", "content": t("chat.same_model", lang) if same else ""}]
        loading = t("chat.loading", lang) if any(not process.ready for process, _ in jobs) else t("chat.answering", lang)
        yield [history, base_history, "", gr.update(value="", visible=False), loading]
        texts, states = [""] * len(jobs), ["loading"] * len(jobs)
        for texts, states in stream(jobs):
            history[-1] = {"role": "assistant", "content": texts[0]}
            if len(jobs) > 1:
                base_history[-1] = {"role": "assistant", "content": texts[1]}
            yield [history, base_history, gr.skip(), gr.skip(), _status(states, lang)]
        problems = [s for s in states if isinstance(s, LabError)]
        if problems:
            yield [history, base_history, gr.skip(), gr.update(value=error_html(problems[0], lang), visible=True),
                   _status(states, lang)]

    inputs = [ui.lang, ui.visitor, ui.token, model, system, temperature, top_p, max_new, seed, compare, message, bot,
              base_bot]
    outputs = [bot, base_bot, message, error, status]
    for trigger in (send.click, message.submit):
        trigger(respond, inputs, outputs, concurrency_limit=limits["processes"], show_progress="hidden")
    clear.click(lambda: [[], [], "", gr.update(value="", visible=False), ""], None, outputs, show_progress="hidden")


def _status(states, lang: str) -> str:
    if any(s == "loading" for s in states):
        return t("chat.loading", lang)
    if any(s == "answering" for s in states):
        return t("chat.answering", lang)
    return ""
