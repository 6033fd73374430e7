"""L-BFGS run on many independent problems at once (one row of X per problem), in numpy.

The Chinchilla fit starts L-BFGS from 4,500 grid points. Run one at a time (scipy's loop), each
step costs a Python call on a few hundred numbers; run here, one step evaluates every live start in
one array operation, and a start leaves the batch as soon as it has converged.

    result = minimize_batched(fun, x0)   # fun(x[k, p], rows[k]) -> (f[k], grad[k, p])

`rows` tells `fun` which original problems the live rows are (e.g. to pick each row's data weights).
Steps: two-loop recursion over the last `memory` (s, y) pairs per row, then a backtracking line
search with the Armijo condition, all vectorised; a row whose direction is not a descent direction
restarts from steepest descent. Stops per row when the relative decrease of f falls below `ftol`,
the largest gradient component below `gtol`, or the line search cannot decrease f any more.
"""
from dataclasses import dataclass

import numpy as np

EXTRAPOLATE = 4.0  # step growth while the slope stays steep (scipy's line search uses 4 too)


@dataclass
class BatchedResult:
    x: np.ndarray  # (S, P) final points
    f: np.ndarray  # (S,) final objective values
    converged: np.ndarray  # (S,) bool: met a stopping rule before max_iter
    iterations: np.ndarray  # (S,) iterations used
    evaluations: int  # row-evaluations of fun in total (one row evaluated once counts 1)


def minimize_batched(fun, x0: np.ndarray, max_iter: int = 1000, memory: int = 10, ftol: float = 1e-13,
                     gtol: float = 1e-10, max_line_search: int = 40, patience: int = 3) -> BatchedResult:
    """Minimise each row's problem from x0[row]. `patience`: consecutive tiny decreases before a row stops
    (one tiny step can happen on a kink of a Huber loss before L-BFGS finds its way again)."""
    x = np.array(x0, dtype=float)
    n_rows, n_params = x.shape
    rows = np.arange(n_rows)
    f, g = fun(x, rows)
    evaluations = n_rows
    s_hist = np.zeros((memory, n_rows, n_params))
    y_hist = np.zeros((memory, n_rows, n_params))
    rho = np.zeros((memory, n_rows))  # 0 marks an empty or rejected pair: the recursion skips it
    gamma = np.ones(n_rows)  # initial inverse-Hessian scale s.y / y.y
    first = np.ones(n_rows, dtype=bool)
    calm = np.zeros(n_rows, dtype=int)  # consecutive iterations with a negligible decrease
    iterations = np.zeros(n_rows, dtype=int)
    converged = np.zeros(n_rows, dtype=bool)
    live = np.flatnonzero(np.abs(g).max(axis=1) > gtol)
    converged[np.setdiff1d(rows, live)] = True

    for iteration in range(max_iter):
        if live.size == 0:
            break
        xl, fl, gl = x[live], f[live], g[live]
        direction = -_two_loop(gl, s_hist[:, live], y_hist[:, live], rho[:, live], iteration, gamma[live])
        slope = np.einsum("ij,ij->i", direction, gl)
        bad = ~(slope < 0) | ~np.isfinite(slope)
        if bad.any():  # not a descent direction: forget the history, go downhill
            direction[bad] = -gl[bad]
            slope[bad] = -np.einsum("ij,ij->i", gl[bad], gl[bad])
            rho[:, live[bad]] = 0.0
            first[live[bad]] = True
        step = np.ones(live.size)
        fresh = first[live] | bad
        step[fresh] = np.minimum(1.0, 1.0 / np.maximum(np.linalg.norm(gl[fresh], axis=1), 1e-300))

        new_x, new_f, new_g, accepted, calls = _wolfe_search(fun, live, xl, fl, gl, direction, slope, step,
                                                             max_line_search)
        evaluations += calls

        # A failed line search along an L-BFGS direction is retried downhill; failing downhill too
        # means f cannot be decreased at this precision: the row is done.
        stuck = ~accepted & fresh
        retry = ~accepted & ~fresh
        rho[:, live[retry]] = 0.0
        first[live[retry]] = True
        s = new_x - xl
        y = new_g - gl
        sy = np.einsum("ij,ij->i", s, y)
        yy = np.einsum("ij,ij->i", y, y)
        good = accepted & (sy > 1e-12 * np.sqrt(yy * np.einsum("ij,ij->i", s, s)))
        pos = iteration % memory  # one ring position for every row; a rejected pair is stored as rho = 0
        s_hist[pos, live], y_hist[pos, live] = s, y
        rho[pos, live] = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
        gamma[live[good]] = sy[good] / yy[good]
        first[live[good]] = False

        x[live], f[live], g[live] = new_x, new_f, new_g
        iterations[live] += 1
        decrease = fl - new_f
        small = accepted & (decrease <= ftol * np.maximum(np.abs(fl), 1e-300))
        calm[live] = np.where(small, calm[live] + 1, 0)
        finished = stuck | (calm[live] >= patience) | (np.abs(new_g).max(axis=1) <= gtol)
        converged[live[finished]] = True
        live = live[~finished]
    return BatchedResult(x=x, f=f, converged=converged, iterations=iterations, evaluations=evaluations)


def _wolfe_search(fun, live, x, f, g, direction, slope, step, max_steps, c1=1e-4, c2=0.9):
    """Weak Wolfe line search for every row at once: halve after too long a step (Armijo fails), double
    while the slope along the direction is still steep (curvature fails) and no bound is known yet.
    Returns the new points, values, gradients and which rows found a step that lowers f."""
    n = len(live)
    new_x, new_f, new_g = x.copy(), f.copy(), g.copy()
    accepted = np.zeros(n, dtype=bool)
    low = np.zeros(n)
    high = np.full(n, np.inf)
    trying = np.arange(n)
    calls = 0
    for _ in range(max_steps):
        trial = x[trying] + step[trying, None] * direction[trying]
        tf, tg = fun(trial, live[trying])
        calls += trying.size
        armijo = np.isfinite(tf) & (tf <= f[trying] + c1 * step[trying] * slope[trying])
        steep = np.einsum("ij,ij->i", tg, direction[trying]) < c2 * slope[trying]
        # any step meeting Armijo is kept as the best so far (a fallback if no Wolfe step is found)
        keep = trying[armijo]
        better = tf[armijo] <= new_f[keep]
        keep, kept = keep[better], np.flatnonzero(armijo)[better]
        new_x[keep], new_f[keep], new_g[keep] = trial[kept], tf[kept], tg[kept]
        accepted[keep] = True
        done = armijo & ~steep
        too_long = ~armijo
        too_short = armijo & steep
        high[trying[too_long]] = step[trying[too_long]]
        low[trying[too_short]] = step[trying[too_short]]
        trying = trying[~done]
        if trying.size == 0:
            break
        bounded = np.isfinite(high[trying])
        step[trying] = np.where(bounded, 0.5 * (low[trying] + high[trying]), EXTRAPOLATE * step[trying])
    return new_x, new_f, new_g, accepted, calls


def _two_loop(g, s_hist, y_hist, rho, iteration, gamma):
    """H·g for every row by the L-BFGS two-loop recursion over the stored pairs, newest first."""
    memory = len(rho)
    order = [(iteration - 1 - j) % memory for j in range(memory)]
    q = g.copy()
    alphas = []
    for pos in order:
        a = rho[pos] * np.einsum("ij,ij->i", s_hist[pos], q)
        q -= a[:, None] * y_hist[pos]
        alphas.append(a)
    q *= gamma[:, None]
    for pos, a in zip(reversed(order), reversed(alphas)):
        b = rho[pos] * np.einsum("ij,ij->i", y_hist[pos], q)
        q += (a - b)[:, None] * s_hist[pos]
    return q
