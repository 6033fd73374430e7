"""Structured pruning of a Llama model: remove whole attention heads and MLP channels (LLM-Pruner,
Ma et al., 2023, arXiv 2305.11627), so the model really gets smaller and faster on any hardware.

Hugging Face's Llama has one head count and one intermediate size for all layers, so every layer loses
the SAME number of heads and channels; which ones is chosen per layer by importance
(lab/prune/group_importance.py). Grouped-query attention (SmolLM2-135M: 9 query heads share 3
key/value heads) stays consistent in one of two ways:
    kv_groups     remove whole key/value heads together with the query heads that read them
    query_heads   remove the same number of query heads from every group (k/v stay)
The weights are sliced (q/k/v/o, gate/up/down), the config updated (num_attention_heads,
num_key_value_heads, intermediate_size; head_dim is written out because hidden_size / heads no
longer gives it), and the model saved as an ordinary folder that AutoModelForCausalLM loads.

    check_request(model.config, mode, heads=1, channels=384)       # LabError naming the bad value
    report = prune_structured(model, heads=1, channels=384, mode="kv_groups", importance="taylor",
                              tokenizer=tok, texts=calibration)    # slices in place
    save_pruned(model, tok, folder)                                # saves, reloads and checks shapes
"""
from lab.errors import LabError
from lab.prune.group_importance import MODES, group_scores, head_layout

PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def check_architecture(model) -> None:
    """Refuse a model whose heads this code cannot map (not a Llama-style decoder)."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    arch = type(model).__name__
    if layers is None or not len(layers):
        raise LabError("prune_structured_arch", arch=arch)
    for name in PROJECTIONS:
        owner, _, leaf = name.partition(".")
        if not hasattr(getattr(layers[0], owner, None), leaf):
            raise LabError("prune_structured_arch", arch=arch)
    if getattr(model.config, "layer_types", None) and len(set(model.config.layer_types)) > 1:
        raise LabError("prune_structured_arch", arch=arch)  # mixed layer kinds (sliding/full): not mapped


def check_request(config, mode: str, heads: int, channels: int) -> None:
    """heads: key/value groups to remove (kv_groups) or query heads to remove from every group
    (query_heads); channels: MLP intermediate channels to remove. Every layer keeps at least one of each."""
    n_heads, kv_heads, per_group, _ = head_layout(config)
    if mode not in MODES:
        raise LabError("prune_structured_mode", mode=mode, choices=", ".join(MODES))
    if n_heads % kv_heads:
        raise LabError("prune_structured_gqa", heads=n_heads, kv_heads=kv_heads)
    if mode == "kv_groups" and not 0 <= heads < kv_heads:
        raise LabError("prune_structured_kv_groups", heads=heads, kv_heads=kv_heads, most=kv_heads - 1)
    if mode == "query_heads" and not 0 <= heads < per_group:
        raise LabError("prune_structured_query_heads", heads=heads, per_group=per_group, most=per_group - 1)
    left = n_heads - (heads * per_group if mode == "kv_groups" else heads * kv_heads)
    if heads and config.hidden_size % left:  # transformers' Llama config refuses it (validate_architecture)
        raise LabError("prune_structured_hidden", heads=heads, left=left, hidden=config.hidden_size,
                       choices=", ".join(str(c) for c in valid_head_counts(config, mode)))
    intermediate = config.intermediate_size
    if not 0 <= channels < intermediate:
        raise LabError("prune_structured_channels", channels=channels, intermediate=intermediate,
                       most=intermediate - 1)


def valid_head_counts(config, mode: str) -> list:
    """Head counts this mode may remove: at least one head per group stays, and the query heads left
    divide the hidden size (Hugging Face's Llama config requires it, even with head_dim written out)."""
    n_heads, kv_heads, per_group, _ = head_layout(config)
    units = kv_heads if mode == "kv_groups" else per_group
    step = per_group if mode == "kv_groups" else kv_heads
    return [h for h in range(units) if config.hidden_size % (n_heads - h * step) == 0]


def counts_for_ratio(config, ratio: float, mode: str = "kv_groups", multiple: int = 32) -> tuple:
    """(heads, channels) removing about `ratio` of each; the kept intermediate size stays a multiple of
    `multiple` where it can (the lab's 4-bit CPU kernels want multiples of 32), and one of each is kept.
    Heads: the valid count (valid_head_counts) nearest to the ratio, the smaller on a tie."""
    _, kv_heads, per_group, _ = head_layout(config)
    units = kv_heads if mode == "kv_groups" else per_group
    heads = min(valid_head_counts(config, mode), key=lambda h: (abs(h / units - ratio), h))
    intermediate = config.intermediate_size
    if intermediate % multiple == 0:
        kept = max(multiple, int((1 - ratio) * intermediate / multiple + 0.5) * multiple)
    else:
        kept = max(1, int((1 - ratio) * intermediate + 0.5))
    return heads, intermediate - kept


def lowest(scores, count: int) -> list:
    """Indices of the `count` lowest scores, sorted (ties: the lower index goes first, deterministic)."""
    import torch

    order = torch.sort(scores, stable=True).indices
    return sorted(order[:count].tolist())


def kept_indices(config, scores: list, mode: str, heads: int, channels: int) -> list:
    """Per layer: the query heads, key/value heads and MLP channels that stay (sorted, original order)."""
    n_heads, kv_heads, per_group, _ = head_layout(config)
    out = []
    for layer in scores:
        if mode == "kv_groups":
            gone = set(lowest(layer["heads"], heads))
            kv_keep = [g for g in range(kv_heads) if g not in gone]
            q_keep = [g * per_group + i for g in kv_keep for i in range(per_group)]
        else:  # the same count from every group, each group's weakest, so repeat_kv still pairs them right
            kv_keep, q_keep = list(range(kv_heads)), []
            for g in range(kv_heads):
                group = layer["heads"][g * per_group:(g + 1) * per_group]
                gone = set(lowest(group, heads))
                q_keep += [g * per_group + i for i in range(per_group) if i not in gone]
        gone = set(lowest(layer["channels"], channels))
        out.append({"q_heads": q_keep, "kv_heads": kv_keep,
                    "channels": [j for j in range(config.intermediate_size) if j not in gone]})
    return out


def _rows(head_list: list, head_dim: int) -> list:
    return [h * head_dim + i for h in head_list for i in range(head_dim)]


def _slice(linear, rows=None, columns=None) -> None:
    """Keep the given output rows / input columns of an nn.Linear, in place (bias follows the rows)."""
    import torch

    weight = linear.weight.detach()
    if rows is not None:
        index = torch.tensor(rows, device=weight.device)
        weight = weight.index_select(0, index)
        if linear.bias is not None:
            linear.bias = torch.nn.Parameter(linear.bias.detach().index_select(0, index).clone())
        linear.out_features = len(rows)
    if columns is not None:
        weight = weight.index_select(1, torch.tensor(columns, device=weight.device))
        linear.in_features = len(columns)
    linear.weight = torch.nn.Parameter(weight.clone().contiguous())


def apply_slices(model, kept: list) -> None:
    """Slice every layer's projections to the kept heads/channels and update the config to match.
    Every layer must keep the same counts (one config for all layers)."""
    config = model.config
    n_heads, _, _, head_dim = head_layout(config)
    counts = {(len(k["q_heads"]), len(k["kv_heads"]), len(k["channels"])) for k in kept}
    assert len(counts) == 1, f"layers would differ in shape: {counts}"  # a bug here, never user input
    q_count, kv_count, channel_count = counts.pop()
    for layer, keep in zip(model.model.layers, kept):
        attn, mlp = layer.self_attn, layer.mlp
        q_rows, kv_rows = _rows(keep["q_heads"], head_dim), _rows(keep["kv_heads"], head_dim)
        _slice(attn.q_proj, rows=q_rows)
        _slice(attn.k_proj, rows=kv_rows)
        _slice(attn.v_proj, rows=kv_rows)
        _slice(attn.o_proj, columns=q_rows)
        _slice(mlp.gate_proj, rows=keep["channels"])
        _slice(mlp.up_proj, rows=keep["channels"])
        _slice(mlp.down_proj, columns=keep["channels"])
        attn.num_key_value_groups = q_count // kv_count  # read by repeat_kv in every attention backend
        attn.head_dim = head_dim
        mlp.intermediate_size = channel_count
    config.head_dim = head_dim  # written out: hidden_size // num_attention_heads is no longer the head size
    config.num_attention_heads = q_count
    config.num_key_value_heads = kv_count
    config.intermediate_size = channel_count


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def prune_structured(model, heads: int, channels: int, mode: str = "kv_groups", importance: str = "magnitude",
                     tokenizer=None, texts=(), max_length: int = 256) -> dict:
    """Score, choose and slice in place; returns what was removed and the parameter counts."""
    check_architecture(model)
    check_request(model.config, mode, heads, channels)
    before = parameter_count(model)
    shape_before = head_layout(model.config)[:2] + (model.config.intermediate_size,)
    scores = group_scores(model, importance, mode, tokenizer, texts, max_length)
    kept = kept_indices(model.config, scores, mode, heads, channels)
    apply_slices(model, kept)
    after = parameter_count(model)
    return {
        "mode": mode, "importance": importance, "heads_removed": heads, "channels_removed": channels,
        "before": dict(zip(("heads", "kv_heads", "intermediate_size"), shape_before)),
        "after": {"heads": model.config.num_attention_heads, "kv_heads": model.config.num_key_value_heads,
                  "intermediate_size": model.config.intermediate_size},
        "parameters_before": before, "parameters_after": after,
        "parameters_removed_share": round(1 - after / before, 6),
        "kept": kept,
    }


def save_pruned(model, tokenizer, folder) -> None:
    """save_pretrained + tokenizer, then reload with AutoModelForCausalLM and compare every shape; a folder
    that does not load back as the same model is a LabError (the run fails with the reason)."""
    from pathlib import Path

    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    try:
        model.save_pretrained(folder)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)
    except Exception as error:  # noqa: BLE001 -- e.g. a config transformers refuses: the run fails with the reason
        raise LabError("prune_structured_reload", folder=str(folder), reason=f"{type(error).__name__}: {error}"[:300]) from None
    try:
        reloaded = AutoModelForCausalLM.from_pretrained(folder, dtype=next(model.parameters()).dtype)
    except Exception as error:  # noqa: BLE001 -- any load failure is reported with its reason
        raise LabError("prune_structured_reload", folder=str(folder), reason=f"{type(error).__name__}: {error}") from None
    want = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    got = {name: tuple(p.shape) for name, p in reloaded.state_dict().items()}
    if want != got:
        differ = sorted(n for n in set(want) | set(got) if want.get(n) != got.get(n))[:3]
        raise LabError("prune_structured_reload", folder=str(folder), reason=f"shapes differ: {', '.join(differ)}")
