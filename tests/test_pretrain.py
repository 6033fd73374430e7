"""Pre-training tiny models: the architecture knobs map to standard Transformers models whose
parameter counts match the closed form, the schedule ends where the run ends, the tokenizer and
data split behave, and a few training steps lower the loss and leave a folder that loads back."""
import subprocess
import sys

import numpy as np
import pytest
from lab.runs import run_files
from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.pretrain.architecture import ARCHITECTURES, Shape, build_model, param_counts
from lab.pretrain.data import DATA_DIR, WindowSampler, eval_windows, load_works, split_work
from lab.pretrain.train import cosine_lr
from lab.specs import example_spec, spec_from_dict

torch = pytest.importorskip("torch")


def test_kind_modules_import_no_torch():
    code = ("import lab.kinds.pretrain, lab.kinds.scaling, lab.kinds.scaling_sweep, lab.scaling.plots, sys; "
            "assert not {'torch', 'transformers', 'scipy'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("knobs", list(ARCHITECTURES))
def test_every_knob_combination_is_a_standard_model_with_the_counted_parameters(knobs):
    arch = ARCHITECTURES[knobs]
    ids = {"bos_token_id": 256, "eos_token_id": 256, "pad_token_id": 256}
    for shape in (Shape(32, 1, 2, 288, 64), Shape(96, 2, 3, 288, 128, mlp_ratio=3.0)):
        model = build_model(arch, shape, ids)
        counts = param_counts(arch, shape)
        assert model.config.model_type == arch.model_type
        assert sum(p.numel() for p in model.parameters()) == counts["total"]
        assert counts["non_embedding"] + counts["embedding"] == counts["total"]
        assert model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr()


@pytest.mark.parametrize("fields, key", [
    ({"norm": "rmsnorm", "positions": "learned"}, "pretrain_unsupported_architecture"),
    ({"norm_placement": "post"}, "pretrain_unsupported_architecture"),
    ({"width": 100}, "pretrain_width_multiple"),
    ({"width": 96, "heads": 5}, "pretrain_heads_divide"),
    ({"width": 96, "heads": 32}, "pretrain_rotary_head_dim"),
    ({"norm": "layernorm", "positions": "learned", "norm_placement": "post", "width": 64, "heads": 2}, None),
])
def test_pretrain_spec_validation(fields, key):
    if key is None:
        spec_from_dict({"kind": "pretrain", **fields})
        return
    with pytest.raises(LabError) as info:
        spec_from_dict({"kind": "pretrain", **fields})
    assert info.value.key == key and "{" not in info.value.message("zh")


def test_cosine_schedule_warms_up_peaks_and_ends_at_the_last_step():
    rates = [cosine_lr(step, 100, 1e-3, 0.1, 0.1) for step in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert max(rates) == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))  # decays monotonically after warm-up


def test_byte_and_bpe_tokenizers_round_trip():
    from lab.pretrain.tokenizer import build_tokenizer

    text = "Hark! What light through yonder window breaks? — ça va"
    byte = build_tokenizer("byte")
    ids = byte(text, add_special_tokens=False)["input_ids"]
    assert ids == list(text.encode("utf-8")) and len(byte) == 257 and byte.decode(ids) == text
    bpe = build_tokenizer("bpe", 300, "to be or not to be, that is the question " * 50)
    assert len(bpe) <= 300 and bpe.decode(bpe(text)["input_ids"]) == text
    assert len(bpe("to be or not to be")["input_ids"]) < len("to be or not to be")


def test_held_out_text_is_the_end_of_every_work_and_batches_cover_before_repeating():
    works = load_works()
    assert len(works) == 13 and (DATA_DIR / "NOTICE").exists()
    head, tail = split_work(works[0])
    assert head + tail == works[0] and 0.04 < len(tail) / len(works[0]) < 0.07 and head.endswith("\n")
    tokens = np.arange(101)
    sampler = WindowSampler(tokens, context=10, batch_size=5, seed=0)
    starts = {int(row[0]) for _ in range(2) for row in sampler.next_batch()}
    assert starts == set(range(0, 100, 10)) and sampler.epochs == 0  # 10 windows, each once
    windows = eval_windows(tokens, context=10, max_tokens=30)
    assert windows.shape == (3, 11) and windows[1, 0] == 10


def test_a_short_pretrain_lowers_the_loss_and_saves_a_loadable_folder(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lab.kinds.pretrain import run

    torch.manual_seed(0)
    spec = spec_from_dict({"kind": "pretrain", "width": 32, "depth": 1, "heads": 2, "context": 32, "batch_size": 8,
                           "tokens": 8 * 32 * 30, "learning_rate": 0.01, "eval_tokens": 2048, "device": "cpu"})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ctx = JobContext(run_dir, threads=1)
    result = run(spec, ctx)
    curve = [line["loss"] for line in run_files.read_jsonl(run_dir / "metrics.jsonl")]
    assert len(curve) == 30 and np.mean(curve[-5:]) < np.mean(curve[:3]) - 0.5  # from ~ln(288) = 5.7 downwards
    assert result["held_out_loss"] < 5.0 and result["D"] == 8 * 32 * 30 and result["steps"] == 30
    assert result["N"] == param_counts(ARCHITECTURES[("rmsnorm", "rotary", "pre")], Shape(32, 1, 2, 288, 32))["non_embedding"]
    assert result["C"] == 6 * result["N"] * result["D"] and isinstance(result["sample"], str)
    model = AutoModelForCausalLM.from_pretrained(result["model_dir"])
    tokenizer = AutoTokenizer.from_pretrained(result["model_dir"])
    ids = tokenizer("ROMEO.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all()
    assert (tmp_path / "run" / "artifacts" / "model" / "lab_pretrain.json").exists()


def test_example_pretrain_spec_is_a_few_minutes_on_a_cpu():
    spec = example_spec("pretrain")
    counts = param_counts(ARCHITECTURES[(spec.norm, spec.positions, spec.norm_placement)],
                          Shape(spec.width, spec.depth, spec.heads, 288, spec.context))
    # 6·N·D FLOPs; measured here 8-20 GFLOP/s of useful work for such models on one core, 5 is pessimistic
    assert 6 * counts["total"] * spec.tokens / 5e9 < 300
