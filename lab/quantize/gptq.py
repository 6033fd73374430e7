"""GPTQ for one linear layer: quantize the weight column by column and let the columns not yet quantized
absorb each column's rounding error, weighted by second-order information from the layer's real inputs.

Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers", arXiv 2210.17323 (Algorithm 1); the Optimal Brain Quantization line
(Frantar & Alistarh 2022, arXiv 2208.11580; LeCun et al. 1990 Optimal Brain Damage).

For inputs X (columns x_t, one per token) the layer's output error after replacing W by Ŵ is
    ‖WX − ŴX‖² = (N/2) · tr((W − Ŵ) H (W − Ŵ)ᵀ),   H = 2/N · Σ_t x_t x_tᵀ   (N tokens).
Rows are independent and share H, so all rows are processed together, one column q at a time:
    round w_q onto the grid;  err = (w_q − q) / [U]_qq;  w_{q+1:} −= err · U_{q, q+1:}
where U is the upper Cholesky factor of H⁻¹ (the paper's Step 3: it holds every row of the
successively shrunk inverse Hessians at once, so nothing is re-inverted). Updates to columns beyond the
current block of `block_size` columns are batched ("lazy batch updates", Step 2) — same result, fewer
memory passes.

Choices here (the reference is IST-DASLab/gptq, gptq.py):
- dampening: H += percdamp · mean(diag H) · I before inverting (keeps H positive definite);
- dead inputs (diag H = 0: a feature that is always zero): H_jj = 1 and W[:, j] = 0, as the reference;
- grids are the lab's RTN grids (lab/quantize/rtn.py grid_of / round_to_grid: symmetric, asymmetric,
  minmax), so with H = I no error propagates and GPTQ equals RTN exactly. (The reference's "sym" grid
  differs: it uses all 2^bits levels with the zero point in the middle.)
- group_size 0: one grid per row from the whole row (RTN per_channel). group_size g: one grid per row
  and g consecutive input columns, computed when the sweep reaches the group's first column from the
  current, error-updated weights. Blocks are made a multiple of g, so a group never straddles a block
  and its weights are fully up to date (the reference reads the block-start copy when g < block size).
- act_order: columns in order of descending diag(H) (the most active inputs first, while the most
  columns remain to absorb their error), permuted back at the end. With groups, `static_groups`
  (default when act_order is on) computes every group's grid up front from the original weights over
  the original contiguous columns, so the result keeps RTN's storage format (no per-column group
  index); static_groups=False groups the permuted columns instead (as the reference does without
  --static-groups: the format then needs a group index per column).
"""
from lab.errors import LabError
from lab.quantize import rtn

BITS = range(2, 9)
DEFAULT_GROUP_SIZE = 64  # 128 does not divide SmolLM2's widths (576 = 9·64); 64 divides 576, 1536 and 256


def check_settings(bits: int, group_size: int = 0, percdamp: float = 0.01, mode: str = "symmetric") -> None:
    """Refuse settings GPTQ cannot use, naming the value."""
    if bits not in BITS:
        raise LabError("gptq_bad_bits", bits=bits)
    if group_size < 0 or group_size == 1:
        raise LabError("gptq_bad_group", group_size=group_size)
    if not 0 < percdamp <= 1:
        raise LabError("gptq_bad_damp", percdamp=percdamp)
    if mode not in rtn.MODES:
        raise LabError("gptq_bad_mode", mode=mode, modes=", ".join(rtn.MODES))


def check_group_divides(layers, group_size: int) -> None:
    """A group must lie inside one row: refuse a group size that does not divide a layer's in_features."""
    for name, module in layers:
        if group_size and module.in_features % group_size:
            raise LabError("gptq_group_divides", group_size=group_size, layer=name, columns=module.in_features)


class Hessian:
    """Running H = 2/N · Σ x xᵀ over every token a layer sees (float32, like the reference)."""

    def __init__(self, columns: int, device=None):
        import torch

        self.matrix = torch.zeros(columns, columns, device=device)
        self.tokens = 0

    def add(self, inputs) -> None:
        x = inputs.detach().reshape(-1, inputs.shape[-1]).float()
        total = self.tokens + x.shape[0]
        self.matrix *= self.tokens / total  # rescale the old mean, then add the new tokens' share
        self.matrix += (2 / total) * (x.t() @ x)
        self.tokens = total


def output_error(weight, quantized, hessian) -> float:
    """Mean over calibration tokens of ‖W x − Ŵ x‖² (summed over output rows) = tr(Δ H Δᵀ) / 2."""
    delta = (weight.float() - quantized.float()).to(hessian.dtype)
    return float(((delta @ hessian) * delta).sum() / 2)


def rtn_quantize(weight, bits: int, group_size: int = 0, mode: str = "symmetric"):
    """RTN at the same grid as gptq_quantize (the baseline GPTQ is compared against)."""
    granularity = "per_group" if group_size else "per_channel"
    return rtn.fake_quant(weight, bits, granularity, group_size or weight.shape[1], mode)


def gptq_quantize(weight, hessian, bits: int, group_size: int = 0, mode: str = "symmetric",
                  act_order: bool = False, static_groups=None, percdamp: float = 0.01, block_size: int = 128):
    """The GPTQ-quantized weight (rows, columns), back in float (float64 in, float64 out; else float32).
    `hessian` is H = 2/N Σ x xᵀ (columns × columns); it is not modified."""
    import torch

    check_settings(bits, group_size, percdamp, mode)
    dtype = torch.float64 if weight.dtype == torch.float64 else torch.float32
    W = weight.detach().clone().to(dtype)
    H = hessian.detach().clone().to(dtype)
    rows, columns = W.shape
    if group_size and columns % group_size:
        raise LabError("gptq_group_divides", group_size=group_size, layer=f"{rows}×{columns}", columns=columns)
    static = act_order if static_groups is None else static_groups

    row_grid = None if group_size else rtn.grid_of(W, bits, mode)  # from the weights before dead-column zeroing
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    static_grids = ([rtn.grid_of(W[:, start:start + group_size], bits, mode) for start in range(0, columns, group_size)]
                    if group_size and static else None)

    perm = torch.argsort(torch.diag(H), descending=True) if act_order else torch.arange(columns)
    W, H = W[:, perm], H[perm][:, perm]

    H.diagonal().add_(percdamp * torch.mean(torch.diag(H)))
    try:
        U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    except torch.linalg.LinAlgError:
        raise LabError("gptq_not_positive", percdamp=percdamp) from None

    if group_size:
        block_size = group_size * max(1, block_size // group_size)
    Q = torch.zeros_like(W)
    grid = row_grid
    for start in range(0, columns, block_size):
        end = min(start + block_size, columns)
        W1, U1 = W[:, start:end].clone(), U[start:end, start:end]
        errors = torch.zeros_like(W1)
        for i in range(end - start):
            column = start + i
            if static_grids is not None:
                grid = static_grids[int(perm[column]) // group_size]  # its original group's grid
            elif group_size and column % group_size == 0:
                grid = rtn.grid_of(W1[:, i:i + group_size], bits, mode)  # current, error-updated weights
            w = W1[:, i:i + 1]
            q = rtn.round_to_grid(w, grid)
            Q[:, column] = q[:, 0]
            err = (w - q) / U1[i, i]
            W1[:, i:] -= err @ U1[i:i + 1, i:]
            errors[:, i] = err[:, 0]
        W[:, end:] -= errors @ U[start:end, end:]  # the batched update of every later column
    return Q[:, torch.argsort(perm)]


def quantize_linear(module, hessian, bits: int, group_size: int = 0, mode: str = "symmetric", **options) -> dict:
    """GPTQ one nn.Linear in place; returns its output errors under GPTQ and under RTN (same H), the output's own
    energy ‖WX‖² (same units), and times."""
    import time

    import torch

    weight = module.weight.detach().float().clone()  # .float() of an fp32 weight is the weight itself
    started = time.perf_counter()
    quantized = gptq_quantize(weight, hessian, bits, group_size, mode, **options)
    gptq_seconds = time.perf_counter() - started
    started = time.perf_counter()
    baseline = rtn_quantize(weight, bits, group_size, mode)
    rtn_seconds = time.perf_counter() - started
    with torch.no_grad():
        module.weight.copy_(quantized.to(module.weight.dtype))
    return {"gptq_error": output_error(weight, quantized, hessian), "rtn_error": output_error(weight, baseline, hessian),
            "output_energy": output_error(weight, torch.zeros_like(weight), hessian),  # ‖WX‖²: makes the errors relative
            "gptq_seconds": gptq_seconds, "rtn_seconds": rtn_seconds, "rows": weight.shape[0], "columns": weight.shape[1]}
