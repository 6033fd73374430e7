"""GGUF export: tensor names, the Q/K rotary row order, metadata, and the file read back by transformers.

Tolerances (max |Δlogit| against the fp32 source on tiny_models' trained Llama, logits up to ~7.3; measured
0.003 / 0.07 / 0.59): f16 0.02, q8_0 0.25, q4_0 1.5 with the same top-1 token at >= 85% of positions.
A file written without the permutation loads and runs but is off by ~1.9: the f16 tolerance catches it.
"""
import json
import shutil

import numpy as np
import pytest
import torch

from lab.errors import LabError
from lab.export import gguf_writer
from lab.export.gguf_check import compare_gguf
from lab.export.gguf_vocab import pre_tokenizer_name
from lab.export.gguf_writer import gguf_tensor_name, permute_qk, write_gguf
from tiny_models import make_config, make_tokenizer, trained_tiny_model_dir

TOLERANCE = {"f16": (0.02, 1.0), "q8_0": (0.25, 0.95), "q4_0": (1.5, 0.85)}  # (max |Δlogit|, top-1 agreement)


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    folder = trained_tiny_model_dir("llama")
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(folder)


def test_tensor_names_follow_llama_cpp():
    assert gguf_tensor_name("model.embed_tokens.weight") == "token_embd.weight"
    assert gguf_tensor_name("model.layers.11.self_attn.o_proj.weight") == "blk.11.attn_output.weight"
    assert gguf_tensor_name("model.layers.0.mlp.gate_proj.weight") == "blk.0.ffn_gate.weight"
    assert gguf_tensor_name("model.layers.2.post_attention_layernorm.weight") == "blk.2.ffn_norm.weight"
    assert gguf_tensor_name("model.norm.weight") == "output_norm.weight"
    assert gguf_tensor_name("lm_head.weight") == "output.weight"
    with pytest.raises(LabError) as caught:
        gguf_tensor_name("model.layers.0.self_attn.q_proj.bias")
    assert caught.value.key == "gguf_unknown_tensor"


def test_permutation_turns_rotate_half_pairs_into_adjacent_pairs():
    # Hugging Face rotates dimension i with i + d/2; llama.cpp rotates 2i with 2i+1. After the permutation,
    # row 2i of each head must be the old row i and row 2i+1 the old row i + d/2.
    heads, head_dim = 3, 8
    weight = np.arange(heads * head_dim * 2, dtype=np.float32).reshape(heads * head_dim, 2)
    out = permute_qk(weight, heads)
    for h in range(heads):
        for i in range(head_dim // 2):
            assert (out[h * head_dim + 2 * i] == weight[h * head_dim + i]).all()
            assert (out[h * head_dim + 2 * i + 1] == weight[h * head_dim + i + head_dim // 2]).all()


def test_f16_file_reads_back_with_the_same_weights_tokenizer_and_logits(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = tiny
    figures = write_gguf(model, tokenizer, tmp_path / "tiny.gguf", "f16")
    assert figures["gguf_tensors"] == {"f16": 16, "f32": 5} and figures["gguf_pre_tokenizer"] == "gpt2"
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="tiny.gguf", dtype=torch.float32)
    want, got = model.state_dict(), loaded.state_dict()
    for name, tensor in want.items():  # q_proj/k_proj are only right if the permutation was undone on load
        assert torch.allclose(got[name], tensor, atol=1e-3, rtol=1e-3), name
    back = AutoTokenizer.from_pretrained(tmp_path, gguf_file="tiny.gguf")
    assert (back.bos_token, back.eos_token, back.pad_token) == ("<s>", "</s>", "<pad>")
    assert back.chat_template == tokenizer.chat_template
    check = compare_gguf(model, tokenizer, tmp_path / "tiny.gguf")
    assert check["gguf_same_tokens"] and check["gguf_max_abs_logit_diff"] <= TOLERANCE["f16"][0], check


def test_a_file_written_without_the_permutation_is_caught(tiny, tmp_path, monkeypatch):
    model, tokenizer = tiny
    monkeypatch.setattr(gguf_writer, "permute_qk", lambda weight, heads: weight)
    write_gguf(model, tokenizer, tmp_path / "unpermuted.gguf", "f16")
    check = compare_gguf(model, tokenizer, tmp_path / "unpermuted.gguf")
    assert check["gguf_max_abs_logit_diff"] > 10 * TOLERANCE["f16"][0], check


@pytest.mark.parametrize("gguf_type", ["q8_0", "q4_0"])
def test_quantized_files_are_smaller_and_close(tiny, tmp_path, gguf_type):
    from gguf import GGUFReader

    model, tokenizer = tiny
    f16 = write_gguf(model, tokenizer, tmp_path / "f16.gguf", "f16")
    figures = write_gguf(model, tokenizer, tmp_path / f"{gguf_type}.gguf", gguf_type)
    assert figures["gguf_mb"] < f16["gguf_mb"]
    types = {t.name: t.tensor_type.name for t in GGUFReader(tmp_path / f"{gguf_type}.gguf").tensors}
    assert types["blk.0.attn_q.weight"] == gguf_type.upper() and types["output_norm.weight"] == "F32"
    assert types["output.weight"] == "Q8_0"  # kept at 8 bits under q4_0 too
    check = compare_gguf(model, tokenizer, tmp_path / f"{gguf_type}.gguf")
    worst, agreement = TOLERANCE[gguf_type]
    assert check["gguf_max_abs_logit_diff"] <= worst and check["gguf_top1_agreement"] >= agreement, check
    assert check["gguf_max_abs_logit_diff"] > 0  # really quantized


def test_grouped_query_attention_and_tied_embeddings(tmp_path):
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM

    tokenizer = make_tokenizer()
    config = make_config("llama", tokenizer)
    config.num_attention_heads, config.num_key_value_heads, config.tie_word_embeddings = 2, 1, True
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    with torch.no_grad():  # larger weights than the init, so a wrong k row order shows in the logits
        for name, p in model.named_parameters():
            if "proj" in name:
                p.mul_(10)
    write_gguf(model, tokenizer, tmp_path / "gqa.gguf", "f16")
    reader = GGUFReader(tmp_path / "gqa.gguf")
    assert "output.weight" not in {t.name for t in reader.tensors}
    assert int(reader.fields["llama.attention.head_count_kv"].contents()) == 1
    check = compare_gguf(model, tokenizer, tmp_path / "gqa.gguf")
    assert check["gguf_max_abs_logit_diff"] <= TOLERANCE["f16"][0], check


def test_unknown_architectures_and_features_are_refused_by_name(tmp_path):
    from transformers import AutoModelForCausalLM

    tokenizer = make_tokenizer()
    gpt2 = AutoModelForCausalLM.from_config(make_config("gpt2", tokenizer))
    with pytest.raises(LabError) as caught:
        write_gguf(gpt2, tokenizer, tmp_path / "x.gguf")
    assert caught.value.key == "gguf_unknown_architecture" and "GPT2" in str(caught.value.params)
    config = make_config("llama", tokenizer)
    config.attention_bias = True
    with pytest.raises(LabError) as caught:
        write_gguf(AutoModelForCausalLM.from_config(config), tokenizer, tmp_path / "x.gguf")
    assert caught.value.key == "gguf_llama_feature"
    assert not (tmp_path / "x.gguf").exists()


def test_pre_tokenizer_names():
    assert pre_tokenizer_name({"type": "ByteLevel", "use_regex": True}) == "gpt2"
    smollm = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                                                    {"type": "ByteLevel", "use_regex": True}]}
    assert pre_tokenizer_name(smollm) == "smollm"
    assert pre_tokenizer_name({"type": "Whitespace"}) is None


def _finished_lora_run(run_id: str):
    """A tiny LoRA fine-tune run, trained in this process into the test's LAB_HOME (as the worker would)."""
    from lab.finetune import train as recipe
    from lab.runs.folder import RunFolder
    from lab.runs.job_context import JobContext
    from lab.specs import spec_from_dict

    data = RunFolder(run_id).path.parent.parent / "hello.jsonl"
    data.write_text("\n".join(json.dumps({"instruction": "Say hello", "output": "hello cat, the cat sat"})
                              for _ in range(8)))
    spec = spec_from_dict(dict(kind="finetune", model=str(trained_tiny_model_dir("llama")), dataset=str(data),
                               method="lora", max_steps=3, batch_size=2, eval_steps=0, save_steps=0,
                               accuracy_examples=0, learning_rate=5e-2, dtype="fp32"))
    RunFolder(run_id).path.mkdir(parents=True)
    ctx = JobContext(RunFolder(run_id).path, threads=1)
    setup = recipe.prepare(spec, ctx)
    recipe.train(setup, ctx)
    recipe.save(setup, ctx)
    return ctx


def test_export_kind_writes_a_gguf_of_the_merged_fine_tune(lab_home):
    from lab.kinds.export import run as export
    from lab.runs.folder import RunFolder
    from lab.runs.job_context import JobContext
    from lab.specs import spec_from_dict

    _finished_lora_run("ft-lora")
    spec = spec_from_dict({"kind": "export", "run_id": "ft-lora", "format": "gguf", "gguf_type": "q8_0"})
    RunFolder("ex-gguf").path.mkdir(parents=True)
    figures = export(spec, JobContext(RunFolder("ex-gguf").path, threads=1))
    assert figures["gguf_file"].endswith("artifacts/model-q8_0.gguf") and figures["gguf_type"] == "q8_0"
    # compared with the merged model (adapter folded in), not the base
    assert figures["gguf_max_abs_logit_diff"] <= TOLERANCE["q8_0"][0] and figures["gguf_same_tokens"], figures
    with pytest.raises(LabError) as caught:
        spec_from_dict({"kind": "export", "run_id": "ft-lora", "format": "gguf", "gguf_type": "q2_k"})
    assert caught.value.key == "bad_choice"


def test_export_refuses_a_gpt2_fine_tune_before_the_job_starts(lab_home):
    from lab.runs.folder import RunFolder
    from lab.specs import spec_from_dict
    from tiny_models import tiny_model_dir

    adapter = RunFolder("ft-gpt2").path / "artifacts" / "adapter"
    shutil.copytree(tiny_model_dir("gpt2"), adapter)  # what full fine-tuning leaves: a whole model folder
    (adapter / "lab_finetune.json").write_text(json.dumps({"method": "full", "base_model": "x", "run_id": "ft-gpt2"}))
    with pytest.raises(LabError) as caught:
        spec_from_dict({"kind": "export", "run_id": "ft-gpt2", "format": "gguf"})
    assert caught.value.key == "gguf_unknown_architecture" and "GPT2LMHeadModel" in str(caught.value)
    assert spec_from_dict({"kind": "export", "run_id": "ft-gpt2"}).format == "hf"  # a folder export is fine
