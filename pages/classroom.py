"""The Classroom box of the Runs tab: the teacher/admin token, run bundles (export, hand in), HTML
reports of a run or a comparison, and the teacher's "lock settings as a class preset" upload.

Logic lives in lab/ (access, bundles, report, presets); this only wires widgets to it.
"""
import gradio as gr
from lab.classroom import bundles, downloads, html_report, presets
from lab.errors import LabError
from lab.present.i18n import t
from pages.ui import K, session_lang, viewer, warn


def role_text(lang, token) -> str:
    role = viewer("", token).role
    return t("classroom.role", session_lang(lang), role=t(f"classroom.role.{role}", session_lang(lang)))


class Classroom:
    def __init__(self, ui):
        self.ui = ui
        with ui.make(gr.Accordion, label=K("classroom.title"), open=False, elem_id="runs-classroom"):
            with gr.Row():
                self.token = ui.make(gr.Textbox, label=K("classroom.token"), info=K("classroom.token_info"),
                                     type="password", scale=2, elem_id="classroom-token")
                with gr.Column(scale=1, min_width=160):
                    self.sign_in = ui.make(gr.Button, value=K("classroom.sign_in"), size="sm", elem_id="classroom-sign-in")
                    self.sign_out = ui.make(gr.Button, value=K("classroom.sign_out"), size="sm",
                                            elem_id="classroom-sign-out")
                self.role = gr.Markdown(role_text("en", ""), elem_id="classroom-role")
            with gr.Row():
                self.export = ui.make(gr.Button, value=K("classroom.export"), size="sm", elem_id="classroom-export")
                self.run_report = ui.make(gr.Button, value=K("classroom.run_report"), size="sm",
                                          elem_id="classroom-run-report")
                self.compare_report = ui.make(gr.Button, value=K("classroom.compare_report"), size="sm",
                                              elem_id="classroom-compare-report")
            self.file = gr.File(label="", interactive=False, elem_id="classroom-file", show_label=False, visible=False)
            with gr.Row():
                self.bundle = ui.make(gr.File, label=K("classroom.import"), file_types=[".zip"], height=90,
                                      elem_id="classroom-import")
                self.preset = ui.make(gr.File, label=K("classroom.preset_upload"),
                                      file_types=[".yaml", ".yml", ".json"], height=90, elem_id="classroom-preset")
            self.note = gr.Markdown("", elem_id="classroom-note")
        ui.on_language(role_text, [ui.token], [self.role])

    def wire(self, selected, picks, redraw_table, table_io) -> None:
        ui = self.ui
        who = [ui.visitor, ui.token]

        def sign_in(lang, typed):
            """The token is checked on the server and kept in this session's server state only: the box
            is emptied, nothing is stored in the browser, and a reload (or Sign out) is a visitor again."""
            lang = session_lang(lang)
            if viewer("", typed).role == "visitor":
                if (typed or "").strip():
                    warn(LabError("token_not_recognised"), lang)
                return "", "", role_text(lang, "")
            return "", typed, role_text(lang, typed)

        self.sign_in.click(sign_in, [ui.lang, self.token], [self.token, ui.token, self.role]).then(redraw_table, *table_io)
        self.token.submit(sign_in, [ui.lang, self.token], [self.token, ui.token, self.role]).then(redraw_table, *table_io)
        self.sign_out.click(lambda lang: ["", "", role_text(lang, "")], [ui.lang], [self.token, ui.token, self.role]
                            ).then(redraw_table, *table_io)

        def make_file(action, lang, run_id, run_ids, visitor, token):
            lang = session_lang(lang)
            seen = viewer(visitor, token)
            try:
                if action == "compare":
                    if not run_ids:
                        raise LabError("no_run_selected")
                    html = html_report.comparison_report(list(run_ids), lang, seen)
                    return gr.update(value=downloads.copy_for_download(
                        html_report.write(html, f"comparison-{run_ids[0]}.html")), visible=True)
                if not run_id:
                    raise LabError("no_run_selected")
                if action == "bundle":
                    return gr.update(value=downloads.copy_for_download(bundles.export_run(run_id, seen)), visible=True)
                return gr.update(value=downloads.copy_for_download(html_report.write_run_report(run_id, lang, seen)),
                                 visible=True)
            except LabError as error:
                warn(error, lang)
                return gr.skip()

        for button, action in ((self.export, "bundle"), (self.run_report, "run"), (self.compare_report, "compare")):
            button.click(lambda lang, run_id, run_ids, visitor, token, action=action:
                         make_file(action, lang, run_id, run_ids, visitor, token),
                         [ui.lang, selected, picks, *who], self.file)

        def hand_in(lang, file, visitor):
            lang = session_lang(lang)
            if file is None:
                return gr.skip(), gr.skip()
            try:
                run_id = bundles.import_bundle(file if isinstance(file, str) else file.name, owner=visitor or "")
            except LabError as error:
                return error.message(lang), gr.skip()
            return t("classroom.imported", lang, run_id=run_id), run_id

        self.bundle.upload(hand_in, [ui.lang, self.bundle, ui.visitor], [self.note, selected]).then(
            redraw_table, *table_io)

        def lock_preset(lang, file, visitor, token):
            lang = session_lang(lang)
            if file is None:
                return gr.skip()
            try:
                preset_id = presets.save_class_preset(file if isinstance(file, str) else file.name,
                                                      viewer(visitor, token))
            except LabError as error:
                return error.message(lang)
            return t("classroom.preset_saved", lang, preset=preset_id)

        self.preset.upload(lock_preset, [ui.lang, self.preset, *who], self.note)
