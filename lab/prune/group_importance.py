"""How much each removable group of a Llama decoder layer matters: attention heads and MLP channels.

A group is every weight that disappears with it (LLM-Pruner's "coupled structure", Ma et al., 2023,
arXiv 2305.11627):
    key/value group g   rows of q_proj for its query heads, rows of k_proj and v_proj for head g,
                        columns of o_proj for its query heads
    query head h        rows of q_proj and columns of o_proj for head h (its k/v are shared, so they stay)
    MLP channel j       row j of gate_proj and up_proj, column j of down_proj

Two scores per group:
    magnitude   ||W_group||_2 -- cheap, no data; small weights are assumed unimportant
    taylor      sum over the group of |w · dL/dw|: the first-order estimate of how much the loss changes
                if the weight is set to zero (LLM-Pruner's element-wise importance summed over the group),
                with dL/dw accumulated over a few calibration texts

    scores = group_scores(model, "taylor", "kv_groups", texts=..., tokenizer=...)
    scores[layer]["heads"]     # one value per key/value group (or per query head)
    scores[layer]["channels"]  # one value per MLP intermediate channel
"""
from lab.errors import LabError

IMPORTANCES = ("magnitude", "taylor")
MODES = ("kv_groups", "query_heads")


def head_layout(config) -> tuple:
    """(query heads, key/value heads, query heads per key/value head, head_dim) of a Llama config."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return heads, kv_heads, heads // kv_heads, head_dim


def _grouped(weight_rows, groups: int):
    """Per-group sum over [rows, cols] whose rows come in `groups` equal consecutive blocks."""
    return weight_rows.reshape(groups, -1).sum(dim=1)


def layer_group_sums(layer, config, mode: str, element) -> dict:
    """Sum of element(weight, module_name) over each group of one decoder layer. element maps a weight
    tensor to a same-shaped non-negative tensor (w² for magnitude, |w·g| for Taylor)."""
    heads, kv_heads, per_group, head_dim = head_layout(config)
    attn, mlp = layer.self_attn, layer.mlp
    q = element(attn.q_proj)  # [heads*head_dim, hidden]: head h = rows h*d .. (h+1)*d
    o = element(attn.o_proj).t()  # [heads*head_dim, hidden] after transposing its input columns
    per_query_head = _grouped(q, heads) + _grouped(o, heads)
    if mode == "kv_groups":  # query heads h of group g are g*per_group .. (g+1)*per_group - 1 (repeat_kv)
        head_scores = (per_query_head.reshape(kv_heads, per_group).sum(dim=1)
                       + _grouped(element(attn.k_proj), kv_heads) + _grouped(element(attn.v_proj), kv_heads))
    else:
        head_scores = per_query_head
    channel_scores = (element(mlp.gate_proj).sum(dim=1) + element(mlp.up_proj).sum(dim=1)
                      + element(mlp.down_proj).sum(dim=0))
    return {"heads": head_scores.detach().float().cpu(), "channels": channel_scores.detach().float().cpu()}


def magnitude_scores(model, mode: str) -> list:
    def squares(module):
        return module.weight.detach().float() ** 2

    out = []
    for layer in model.model.layers:
        sums = layer_group_sums(layer, model.config, mode, squares)
        out.append({key: value.sqrt() for key, value in sums.items()})  # L2 norm of the group
    return out


def accumulate_gradients(model, tokenizer, texts: list, max_length: int) -> None:
    """Backward of the causal LM loss on each text; .grad holds the sum over texts afterwards."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()  # no dropout: the score should not depend on a random mask
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"][:, :max_length].to(device)
            if ids.shape[1] < 2:
                continue
            model(input_ids=ids, labels=ids).loss.backward()
    model.train(was_training)


def taylor_scores(model, tokenizer, texts: list, mode: str, max_length: int = 256) -> list:
    if not texts:
        raise LabError("prune_structured_no_text")
    accumulate_gradients(model, tokenizer, texts, max_length)

    def first_order(module):
        grad = module.weight.grad
        if grad is None:  # a text too short to give a loss leaves no gradient anywhere
            raise LabError("prune_structured_no_text")
        return (module.weight.detach().float() * grad.float()).abs()

    try:
        return [layer_group_sums(layer, model.config, mode, first_order) for layer in model.model.layers]
    finally:
        model.zero_grad(set_to_none=True)  # the gradients are as big as the model: free them now


def group_scores(model, importance: str, mode: str, tokenizer=None, texts=(), max_length: int = 256) -> list:
    """Per decoder layer, {"heads": tensor, "channels": tensor} (higher = more important)."""
    if importance not in IMPORTANCES:
        raise LabError("prune_structured_importance", importance=importance, choices=", ".join(IMPORTANCES))
    if mode not in MODES:
        raise LabError("prune_structured_mode", mode=mode, choices=", ".join(MODES))
    if importance == "magnitude":
        return magnitude_scores(model, mode)
    return taylor_scores(model, tokenizer, list(texts), mode, max_length)
