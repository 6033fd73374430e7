"""Next-token loss computed only where labels are set.

A causal LM's output layer turns every position's hidden state into a vocabulary-sized row of logits; with
answer-only training the prompt positions have no label, so those rows are computed and thrown away. On
SmolLM2-135M the 49k-word output layer is about a fifth of the model's FLOPs, and its fp32 logits
(batch x length x vocabulary) are the largest activation. Here the model runs up to its output layer, the hidden
states of the positions whose *next* token is labelled are gathered, and only those go through the output layer
and the cross-entropy. transformers 5.23 refuses `logits_to_keep` together with `labels`, and its
`logits_to_keep` keeps the same positions in every row, so the gathering is done here.

The value equals transformers' own causal-LM loss (ForCausalLMLoss: fp32 logits, labels shifted by one,
-100 ignored, summed and divided by `num_items_in_batch` when the Trainer gives it, else the mean), to ~1e-6
on a tiny model (tests/test_finetune_speed.py). Final-logit soft-capping (Gemma 2/3) is applied as the
model would; `check_same_loss` compares both ways on a real batch before training relies on it.
"""
IGNORE = -100


class _StopAtHead:
    """A forward pre-hook on the output layer: remembers its input and hands it an empty slice instead, so the
    model's own forward computes no logits."""

    def __init__(self, head):
        self.hidden = None
        self.handle = head.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        hidden = args[0] if args else kwargs.pop("input")
        self.hidden = hidden
        return (hidden[..., :0, :],) + tuple(args[1:]), kwargs

    def remove(self):
        self.handle.remove()


def output_layer(model):
    """The module that makes logits (lm_head), through peft's wrappers."""
    head = model.get_output_embeddings()
    if head is None:
        raise ValueError("the model has no output layer")
    return head


def softcap_of(model):
    config = getattr(model, "config", None)
    return getattr(config, "final_logit_softcapping", None) or None


def labelled_loss(model, inputs: dict, num_items_in_batch=None, return_outputs: bool = False, bf16: bool = False):
    """Causal-LM loss over the labelled positions only. inputs: input_ids, labels, optionally attention_mask /
    position_ids / use_cache. bf16: the output layer runs under bf16 autocast, as the model's forward does on the
    bf16 path (the Trainer's autocast wraps only the model's forward). Returns the loss (and the model's outputs,
    whose logits are empty)."""
    import torch
    import torch.nn.functional as F

    labels = inputs["labels"]
    head = output_layer(model)
    stop = _StopAtHead(head)
    try:
        outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
    finally:
        stop.remove()
    hidden = stop.hidden[:, -labels.shape[1]:, :]  # prompt-style methods prepend virtual tokens
    targets = labels[:, 1:]
    keep = targets != IGNORE
    selected = hidden[:, :-1][keep]
    weight = getattr(head, "weight", None)
    if bf16:
        with torch.autocast(selected.device.type, dtype=torch.bfloat16):
            logits = head(selected).float()
    else:
        if weight is not None and weight.dtype.is_floating_point and selected.dtype != weight.dtype:
            selected = selected.to(weight.dtype)
        logits = head(selected).float()
    cap = softcap_of(model)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    total = F.cross_entropy(logits, targets[keep], reduction="sum")
    if num_items_in_batch is not None:
        divisor = num_items_in_batch.to(total.device) if torch.is_tensor(num_items_in_batch) else num_items_in_batch
        loss = total / divisor
    else:
        loss = total / keep.sum().clamp(min=1)
    return (loss, outputs) if return_outputs else loss


def full_loss(model, inputs: dict, num_items_in_batch=None):
    """The same quantity computed the usual way, from every position's logits (for checks and tests)."""
    import torch.nn.functional as F

    labels = inputs["labels"]
    outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
    logits = outputs.logits[:, -labels.shape[1]:, :].float()
    total = F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE,
                            reduction="sum")
    count = (labels[:, 1:] != IGNORE).sum()
    return total / (num_items_in_batch if num_items_in_batch is not None else count.clamp(min=1))


def check_same_loss(model, inputs: dict, tolerance: float) -> tuple[bool, float, float]:
    """Both losses on one batch, without gradients and without dropout: (agree, labelled, full). A model whose
    forward does more to its logits than the output layer and soft-capping fails this and trains the usual way."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ours = float(labelled_loss(model, inputs))
            theirs = float(full_loss(model, inputs))
    finally:
        model.train(was_training)
    return abs(ours - theirs) <= tolerance * max(1.0, abs(theirs)), ours, theirs
