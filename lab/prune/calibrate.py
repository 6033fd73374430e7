"""Input-feature norms of every linear layer on calibration text: ||X_j||_2 over all tokens (Wanda)."""


def input_norms(model, tokenizer, texts: list, layers: list, max_length: int = 256) -> dict:
    from lab.quantize.inside import run_texts

    sums, hooks = {}, []
    for name, module in layers:
        def hook(mod, args, name=name):
            x = args[0].detach().float().reshape(-1, args[0].shape[-1])
            squares = (x * x).sum(dim=0)
            sums[name] = sums[name] + squares if name in sums else squares
        hooks.append(module.register_forward_pre_hook(hook))
    try:
        run_texts(model, tokenizer, texts, max_length)
    finally:
        for h in hooks:
            h.remove()
    return {name: value.sqrt() for name, value in sums.items()}
