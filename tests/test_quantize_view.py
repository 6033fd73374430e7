"""The Quantize tab's data functions (no Gradio, no torch): model warnings, presets, empty states."""
from lab.classroom import presets
from lab.quantize import view
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL


def test_a_model_from_a_quantized_file_gets_a_visible_warning(lab_home, tmp_path):
    assert "Q4_1" in view.model_warning("smollm2-135m-instruct", "en")
    assert "Q4_1" in view.model_warning("smollm2-135m-instruct", "zh")
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert view.model_warning(str(folder), "en") == ""
    (folder / "lab_model_info.json").write_text('{"quantized_source": "nf4+dq"}')
    assert "nf4+dq" in view.model_warning(str(folder), "en")
    assert view.model_warning("no/such-model", "en") == ""  # a hub id: nothing known, no warning


def test_the_default_model_is_first_and_named_full_precision(lab_home):
    choices = view.model_choices()
    assert choices[0][1] == DEFAULT_QUANTIZE_MODEL and "fp32" in choices[0][0]


def test_presets_and_empty_states(lab_home):
    stems = {pid.split("/")[1] for _, pid in presets.choices("quantize", "en", "quantize")}
    prune = {pid.split("/")[1] for _, pid in presets.choices("quantize", "en", "prune")}
    assert {"compare_cpu", "int8_threshold"} <= stems and {"prune_cpu", "owl_cpu"} <= prune
    assert presets.load("quantize/compare_cpu").specs[0]["kind"] == "quantize"
    zh = dict(presets.choices("quantize", "zh", "quantize"))  # bare-spec presets have Chinese titles too
    assert all(title != en for (en, _), title in zip(presets.choices("quantize", "en", "quantize"), zh))
    assert list(view.table_frame(None, "zh").columns)[0] == "变体"
    assert view.answers_frame(None, "en").empty and view.sweep_frame(None, "en").empty
    assert view.figures(None, "", "en") == [None] * len(view.FIGURES)
    assert view.summary(None, "", "en") == "" and view.prune_figure(None, "en") is None
