"""The Fine-tune tab's export section as data (lab/finetune/view.py): the q4_0 warning for bases expanded
from 4-bit files, and what an export's result shows (GGUF file, max |Δlogit|, top-1 agreement, download)."""
import json

from lab.finetune import view
from lab.present.i18n import t
from lab.runs.folder import RunFolder


def _fine_tune(run_id: str, base_model: str) -> None:
    adapter = RunFolder(run_id).path / "artifacts" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "lab_finetune.json").write_text(json.dumps({"method": "lora", "base_model": base_model,
                                                           "run_id": run_id}))


def test_q4_0_of_a_base_expanded_from_4_bits_is_warned_about(lab_home, tmp_path):
    _fine_tune("ft-default", "smollm2-135m-instruct")  # shipped as Q4_1 and expanded back
    warning = view.export_warning("ft-default", "gguf", "q4_0", "en")
    assert "Q4_1" in warning and warning == t("finetune.export_q4_warning", "en", source="Q4_1")
    assert "Q4_1" in view.export_warning("ft-default", "gguf", "q4_0", "zh")
    assert view.export_warning("ft-default", "gguf", "q8_0", "en") == ""
    assert view.export_warning("ft-default", "hf", "q4_0", "en") == ""
    folder = tmp_path / "full-precision"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    _fine_tune("ft-local", str(folder))  # a full-precision local model: q4_0 is an ordinary choice
    assert view.export_warning("ft-local", "gguf", "q4_0", "en") == ""
    assert view.export_warning("", "gguf", "q4_0", "en") == ""
    assert view.export_warning("no-such-run", "gguf", "q4_0", "en") == ""


def test_an_export_result_shows_the_gguf_file_and_how_it_reads_back(lab_home):
    gguf = RunFolder("ex-1").artifact_dir / "model-q8_0.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF")
    result = {"status": "succeeded", "outputs": {"gguf_file": str(gguf), "gguf_type": "q8_0"},
              "metrics": {"gguf_mb": 1.25, "gguf_max_abs_logit_diff": 0.0123, "gguf_top1_agreement": 0.975}}
    text = view.export_summary(result, "en")
    assert "model-q8_0.gguf" in text and "0.0123" in text and "98%" in text and "q8_0" in text
    assert "model-q8_0.gguf" in view.export_summary(result, "zh")
    assert view.export_file(result) == str(gguf)
    gguf.unlink()
    assert view.export_file(result) is None  # a file gone since (retention) is not offered
    folder = {"status": "succeeded", "outputs": {"merged_folder": "/data/runs/x/artifacts/merged"}, "metrics": {}}
    assert "/data/runs/x/artifacts/merged" in view.export_summary(folder, "en") and view.export_file(folder) is None
    assert view.export_summary(None, "en") == ""
