r"""Newton's method on the generated saddle-point system, batched (numpy) or arbitrary precision.

:func:`newton_batch` drives the stationarity residuals (``Derivation.residuals``) to zero for many
starting points (or many temperatures) at once, with the symbolic Jacobian of the generated
module, a subset of free variables (the others held fixed, e.g. m = 1 on the dynamical line)
and step halving that keeps every iterate strictly inside the admissible box.
:func:`newton_mp` polishes one solution with ``mpmath.findroot`` at the working precision and
checks the residual.
"""
from __future__ import annotations

from typing import Callable, Sequence

import mpmath
import numpy as np

from ..errors import ConvergenceError

__all__ = ["newton_batch", "newton_mp", "damped_fixed_point"]


def newton_batch(residual: Callable, jacobian: Callable, theta0: np.ndarray, free: Sequence[int],
                 lower: np.ndarray, upper: np.ndarray, tol: float = 1e-11, maxiter: int = 80):
    """Solve residual(theta)[free] = 0 for every row of ``theta0`` (shape (S, V)).

    ``residual(theta) -> (S, V)`` and ``jacobian(theta) -> (S, V, V)``.  Returns
    ``(theta, converged, res)`` with ``res`` the max-norm of the free residuals per row.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    free = list(free)
    S = theta.shape[0]
    res = np.full(S, np.inf)
    for _ in range(maxiter):
        F = residual(theta)[:, free]
        res = np.max(np.abs(F), axis=1)
        active = np.isfinite(res) & (res > tol)
        if not active.any():
            break
        J = jacobian(theta)[:, free][:, :, free][active]
        rhs = F[active]
        ok = np.all(np.isfinite(J), axis=(1, 2)) & (np.abs(np.linalg.det(J)) > 1e-300)
        step = np.zeros_like(rhs)
        if ok.any():
            step[ok] = np.linalg.solve(J[ok], rhs[ok][..., None])[..., 0]
        idx = np.flatnonzero(active)
        cur = theta[idx][:, free]
        lo, hi = lower[free], upper[free]
        t = np.ones(len(idx))
        for _ in range(40):  # step halving: stay strictly inside the box
            new = cur - t[:, None] * step
            inside = np.all((new > lo) & (new < hi), axis=1)
            if inside.all():
                break
            t = np.where(inside, t, t / 2)
        new = cur - t[:, None] * step
        inside = np.all((new > lo) & (new < hi), axis=1)
        new[~inside | ~ok] = np.nan  # a start that cannot move inside the box is abandoned
        rows = theta[idx]
        rows[:, free] = new
        theta[idx] = rows
    F = residual(theta)[:, free]
    res = np.max(np.abs(F), axis=1)
    converged = np.isfinite(res) & (res <= tol)
    return theta, converged, res


def newton_mp(residual: Callable, jacobian: Callable, theta0: Sequence, free: Sequence[int],
              digits: int):
    """Polish ``theta0`` with multidimensional Newton (``mpmath.findroot``) at ``digits`` digits.

    Raises :class:`ConvergenceError` with the residual when 10^-(digits-5) is not reached.
    """
    free = list(free)
    theta = [mpmath.mpf(x) for x in theta0]

    def full(x):
        th = list(theta)
        for i, v in zip(free, x):
            th[i] = v
        return th

    def F(*x):
        r = residual(full(x))
        return [r[i] for i in free]

    def J(*x):
        jm = jacobian(full(x))
        return mpmath.matrix([[jm[i][j] for j in free] for i in free])

    x0 = [theta[i] for i in free]
    tol = mpmath.mpf(10) ** (-(digits - 5))
    try:
        x = mpmath.findroot(F, x0, J=J, tol=tol**2, maxsteps=100)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConvergenceError(f"mpmath Newton did not converge: {exc}") from None
    x = list(x) if isinstance(x, mpmath.matrix) else [x]
    sol = full(x)
    r = max(abs(v) for v in F(*x))
    if not r <= tol:
        raise ConvergenceError(f"mpmath Newton stopped with residual {mpmath.nstr(r, 5)} "
                               f"> 1e-{digits - 5}", residual=r, solution=sol)
    return sol, r


def damped_fixed_point(update: Callable, theta0: np.ndarray, damping: float = 0.5, tol: float = 1e-12,
                       maxiter: int = 10_000):
    r"""Iterate :math:`\theta \leftarrow (1-\eta)\theta + \eta F(\theta)` (vectorized over rows).

    Used for the fixed-point forms the engine finds (e.g. :math:`q = \mathbb E\tanh^2`);
    returns (theta, converged, residual)."""
    theta = np.array(theta0, dtype=float, copy=True)
    res = np.full(theta.shape[0], np.inf)
    for _ in range(maxiter):
        new = update(theta)
        res = np.max(np.abs(new - theta), axis=1)
        theta = (1 - damping) * theta + damping * new
        if np.all(res[np.isfinite(res)] < tol):
            break
    return theta, np.isfinite(res) & (res < tol), res
