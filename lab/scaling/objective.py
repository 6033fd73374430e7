"""The Huber-on-log-loss objective of Hoffmann et al. (2022), Approach 3, and its gradient, for many
parameter vectors at once.

A law is a sum of power-law terms and an optional constant, fitted in log space:

    log L̂ = LSE(c_1 − k_1·x_1, …, c_m − k_m·x_m [, e])        x_j = log of variable j

Chinchilla: m = 2, x = (log N, log D), parameters (a, b, e, α, β), so L̂ = E + A/N^α + B/D^β with
A = e^a, B = e^b, E = e^e. Kaplan's single-variable laws are m = 1, with or without the constant.
The objective is Σ_i w_i · Huber_δ(log L̂_i − log L_i); δ = 1e-3 makes it least squares for residuals
under 0.1 % and least absolute deviations above, so a few outlying runs pull the fit little.
Parameter layout of a row: [c_1 … c_m, e (if any), k_1 … k_m].

Speed: rows are evaluated in blocks that fit in the CPU cache, with the sum of exponentials taken
directly (no max-shift) and the stable log-sum-exp only for rows whose sum over- or underflowed.
"""
import numpy as np

HUBER_DELTA = 1e-3  # Hoffmann et al.: δ = 10^-3
BLOCK_ELEMENTS = 1 << 16  # rows × points per block: ~0.5 MB per float64 array, stays in L2 cache


def huber(residual: np.ndarray, delta: float) -> np.ndarray:
    """0.5·r² for |r| ≤ δ, δ·(|r| − δ/2) beyond: quadratic near zero, linear in the tails."""
    clipped = np.clip(residual, -delta, delta)
    return clipped * (residual - 0.5 * clipped)


class LawObjective:
    """Huber objective of one data set (features (m, n), log_loss (n,)), callable on rows of parameters.

    weights: None, (n,) or (R, n) with one row per problem (bootstrap resamples are integer weights);
    calls pass `rows` to say which problems the parameter rows belong to.
    """

    def __init__(self, features: np.ndarray, log_loss: np.ndarray, constant: bool = True,
                 delta: float = HUBER_DELTA, weights: np.ndarray | None = None, dtype=np.float64):
        self.dtype = np.dtype(dtype)  # float32: ~3x faster exp/log, for screening starts; float64 for the fit
        self.features = np.atleast_2d(np.asarray(features, dtype=float))
        self.log_loss = np.asarray(log_loss, dtype=float)
        self.terms = self.features.shape[0]
        self.constant = constant
        self.delta = float(delta)
        self.weights = None if weights is None else np.asarray(weights, dtype=float)
        self.n_params = 2 * self.terms + (1 if constant else 0)
        # [1, x_j] columns: one matrix product gives both d/dc_j and d/dk_j of a block
        self._design = [np.stack([np.ones_like(x), -x], axis=1).astype(self.dtype) for x in self.features]
        self._features = self.features.astype(self.dtype)
        self._log_loss = self.log_loss.astype(self.dtype)

    def log_prediction(self, theta: np.ndarray) -> np.ndarray:
        """log L̂ (R, n) for parameter rows theta (R, P), by the stable log-sum-exp."""
        m = self.terms
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        parts = theta[:, :m, None] - theta[:, -m:, None] * self.features[None]
        if self.constant:
            constant = np.broadcast_to(theta[:, m, None, None], (len(theta), 1, parts.shape[2]))
            parts = np.concatenate([parts, constant], axis=1)
        top = parts.max(axis=1)
        return top + np.log(np.exp(parts - top[:, None]).sum(axis=1))

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """log L̂ − log L for one parameter vector."""
        return self.log_prediction(theta)[0] - self.log_loss

    def __call__(self, theta: np.ndarray, rows: np.ndarray | None = None):
        """(objective (R,), gradient (R, P)) at parameter rows theta (R, P)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        rows = np.arange(len(theta)) if rows is None else np.asarray(rows)
        value = np.empty(len(theta))
        grad = np.empty_like(theta)
        block = max(1, BLOCK_ELEMENTS // max(1, self.log_loss.size))
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for start in range(0, len(theta), block):
                part = slice(start, start + block)
                value[part], grad[part] = self._block(theta[part], rows[part])
        bad = ~np.isfinite(value) | ~np.isfinite(grad).all(axis=1)
        if bad.any():  # an exponential over- or underflowed: redo those rows the careful way
            value[bad], grad[bad] = self._stable(theta[bad], rows[bad])
        return value, grad

    def _weights(self, rows):
        if self.weights is None:
            return None
        return self.weights if self.weights.ndim == 1 else self.weights[rows]

    def _block(self, theta, rows):
        m, delta = self.terms, self.delta
        theta = theta.astype(self.dtype)
        exps = []
        for j in range(m):
            term = np.multiply.outer(theta[:, m + self.constant + j], self._features[j])
            np.subtract(theta[:, j, None], term, out=term)
            exps.append(np.exp(term, out=term))
        total = exps[0].copy()
        for extra in exps[1:]:
            total += extra
        if self.constant:
            constant = np.exp(theta[:, m])
            total += constant[:, None]
        residual = np.log(total)
        residual -= self._log_loss
        slope = np.clip(residual, -delta, delta)  # dHuber/dr
        loss = slope * (residual - 0.5 * slope)
        weights = self._weights(rows)
        if weights is not None:
            loss *= weights.astype(self.dtype, copy=False)
            slope *= weights.astype(self.dtype, copy=False)
        slope /= total  # dHuber/dr · d(log L̂)/d(exp term) for every term
        grad = np.empty_like(theta)
        for j in range(m):
            exps[j] *= slope
            pair = exps[j] @ self._design[j]  # (R, 2): Σ share·slope and −Σ share·slope·x
            grad[:, j], grad[:, m + self.constant + j] = pair[:, 0], pair[:, 1]
        if self.constant:
            grad[:, m] = constant * slope.sum(axis=1)
        return loss.sum(axis=1, dtype=np.float64), grad

    def _stable(self, theta, rows):
        """Same figures with the max-shifted log-sum-exp; rows that still overflow give inf."""
        m, delta = self.terms, self.delta
        parts = theta[:, :m, None] - theta[:, -m:, None] * self.features[None]
        if self.constant:
            constant = np.broadcast_to(theta[:, m, None, None], (len(theta), 1, parts.shape[2]))
            parts = np.concatenate([parts, constant], axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            top = parts.max(axis=1)
            expo = np.exp(parts - top[:, None])
            total = expo.sum(axis=1)
            residual = top + np.log(total) - self.log_loss
            slope = np.clip(residual, -delta, delta)
            loss = slope * (residual - 0.5 * slope)
            weights = self._weights(rows)
            if weights is not None:
                loss, slope = loss * weights, slope * weights
            weighted = expo / total[:, None] * slope[:, None]
            grad = np.empty_like(theta)
            grad[:, :m] = weighted[:, :m].sum(axis=2)
            if self.constant:
                grad[:, m] = weighted[:, m].sum(axis=1)
            grad[:, -m:] = -np.einsum("rmn,mn->rm", weighted[:, :m], self.features)
            value = loss.sum(axis=1)
        value[~np.isfinite(value) | ~np.isfinite(grad).all(axis=1)] = np.inf
        return value, np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
