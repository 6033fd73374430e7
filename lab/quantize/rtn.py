"""Round-to-nearest (RTN) weight quantization, written out for teaching, applied as fake-quant.

    q = clamp(round(w / s) + z, qmin, qmax)      w_hat = (q - z) * s

Symmetric: z = 0 and s = max|w| / (2^(bits-1) - 1), levels -(2^(bits-1)-1) .. 2^(bits-1)-1 (zero is exact).
Asymmetric: s = (max - min) / (2^bits - 1), z = round(-min / s), levels 0 .. 2^bits - 1 (all 2^bits used);
  the zero point is an integer, so zero stays exact (what GPU int kernels want).
Min-max: s as asymmetric, but the offset is the group's min itself (a float, stored in fp16):
  w_hat = min + s * clamp(round((w - min) / s), 0, 2^bits - 1) — the format of GGUF's Q4_1, which
  therefore reproduces a Q4_1 file's weights with (almost) no error at 4 bits, groups of 32.
The statistics (max, min) are taken per tensor, per output channel (a row of W) or per group of
`group_size` consecutive weights of the row-major tensor (as bitsandbytes' 4-bit blocks are; with
in_features a multiple of group_size every group lies inside one row). Fake-quant keeps the result in float, so its
effect on quality can be measured at any bit width; the packed size it would need is bits_per_weight.
"""
GRANULARITIES = ("per_tensor", "per_channel", "per_group")
MODES = ("symmetric", "asymmetric", "minmax")
SCALE_BITS = 16  # each scale (and zero point) is stored as fp16


def _grouped(weight, granularity: str, group_size: int):
    """The weight as rows of one statistics group each: (groups, elements)."""
    if granularity == "per_tensor":
        return weight.reshape(1, -1)
    if granularity == "per_channel":
        return weight.reshape(weight.shape[0], -1)
    if weight.numel() % group_size:
        from lab.errors import LabError

        raise LabError("rtn_group_divides", group_size=group_size, numel=weight.numel(), shape=tuple(weight.shape))
    return weight.reshape(-1, group_size)


def fake_quant(weight, bits: int, granularity: str = "per_channel", group_size: int = 128, mode: str = "symmetric"):
    """Quantize-dequantize `weight` (any float tensor, 2-D for Linear layers); returns a float32 tensor."""
    w = weight.detach().float()
    groups = _grouped(w, granularity, group_size)
    return round_to_grid(groups, grid_of(groups, bits, mode)).reshape(w.shape)


def grid_of(groups, bits: int, mode: str = "symmetric") -> tuple:
    """The grid each row of `groups` is rounded onto: (mode, qmax, scale, offset), scale and offset (rows, 1).
    Offset is the integer zero point (asymmetric), the row's min (minmax) or None (symmetric).
    GPTQ (lab/quantize/gptq.py) rounds columns onto grids from this same function, so both share one rule."""
    import torch

    if mode == "symmetric":
        qmax = 2 ** (bits - 1) - 1
        return mode, qmax, groups.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / qmax, None
    qmax = 2 ** bits - 1
    low, high = groups.amin(dim=1, keepdim=True), groups.amax(dim=1, keepdim=True)
    scale = (high - low).clamp(min=1e-12) / qmax
    return mode, qmax, scale, (low if mode == "minmax" else torch.round(-low / scale))


def round_to_grid(values, grid: tuple):
    """Round `values` (rows, n) onto `grid` (from grid_of, one scale per row) and map back to floats."""
    import torch

    mode, qmax, scale, offset = grid
    if mode == "symmetric":
        return torch.clamp(torch.round(values / scale), -qmax, qmax) * scale
    if mode == "minmax":
        return offset + scale * torch.clamp(torch.round((values - offset) / scale), 0, qmax)
    return (torch.clamp(torch.round(values / scale) + offset, 0, qmax) - offset) * scale


def bits_per_weight(bits: int, granularity: str, group_size: int, mode: str, shape: tuple) -> float:
    """Storage a packed RTN tensor would take, per weight: the codes plus the fp16 scales (and zeros)."""
    rows = shape[0]
    numel = 1
    for size in shape:
        numel *= size
    groups = {"per_tensor": 1, "per_channel": rows, "per_group": numel // max(1, group_size)}[granularity]
    extra = SCALE_BITS * (1 if mode == "symmetric" else 2) * groups  # a scale, plus a zero point or min
    return bits + extra / numel


def relative_error(weight, quantized) -> float:
    """||W - Q(W)||_F / ||W||_F."""
    w = weight.detach().float()
    return float((w - quantized.float()).norm() / w.norm().clamp(min=1e-12))
