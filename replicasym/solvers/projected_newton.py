r"""Minimisation in a box :math:`z \ge \ell` by projected Newton (Bertsekas, SIAM J. Control Optim.
20 (1982) 221).

The Hessian is the central finite difference of the analytic gradient, computed in one batched
call (the objective takes rows of z), restricted to the free variables (those off their bound, or
on it with the gradient pointing inwards); a Levenberg shift makes it positive definite; the step
is searched along the projected arc with the Armijo rule.  Near the optimum, where f has reached
its round-off floor, a full step is also accepted when it halves the projected gradient, so the
iteration ends on the gradient rather than on f.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["minimise_box", "projected_gradient"]


def projected_gradient(z: np.ndarray, g: np.ndarray, lo: np.ndarray) -> float:
    """Max-norm of the gradient projected on the box (zero exactly at a KKT point)."""
    return float(np.max(np.where(z <= lo, np.maximum(-g, 0.0), np.abs(g)), initial=0.0))


def _regularised_solve(H: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(H + mu I)^{-1} r with the smallest mu >= 0 of a geometric ladder making H + mu I positive definite."""
    scale = float(np.max(np.abs(np.diag(H)), initial=1.0)) or 1.0
    mu = 0.0
    eye = np.eye(len(r))
    while mu <= 1e8 * scale:
        try:
            L = np.linalg.cholesky(H + mu * eye)
            return np.linalg.solve(L.T, np.linalg.solve(L, r))
        except np.linalg.LinAlgError:
            mu = max(1e-12 * scale, 10 * mu)
    return r / scale


def minimise_box(fg: Callable, z0: np.ndarray, lo: np.ndarray, tol: float = 1e-13,
                 maxiter: int = 300) -> tuple[np.ndarray, float, float]:
    """Minimise f over z >= lo from z0.  ``fg(rows)`` returns (f, grad) for the rows of a 2-d array.
    Returns (z, f(z), projected gradient)."""
    z = np.maximum(np.asarray(z0, dtype=float), lo)
    n = z.size
    f, g = (a[0] for a in fg(z[None]))
    pg = projected_gradient(z, g, lo)
    for _ in range(maxiter):
        if pg <= tol:
            break
        idx = np.flatnonzero(~((z <= lo) & (g > 0)))
        m = len(idx)
        h = 1e-5 * np.maximum(1.0, np.abs(z[idx]))
        rows = np.repeat(z[None], 2 * m, axis=0)
        rows[np.arange(m), idx] += h
        rows[m + np.arange(m), idx] -= h
        rows = np.maximum(rows, lo)
        _, G = fg(rows)
        span = rows[np.arange(m), idx] - rows[m + np.arange(m), idx]
        H = (G[:m][:, idx] - G[m:][:, idx]) / span[:, None]
        d = np.zeros(n)
        d[idx] = _regularised_solve(0.5 * (H + H.T), -g[idx])
        step = 1.0
        while step > 1e-12:
            zn = np.maximum(z + step * d, lo)
            fn, gn = (a[0] for a in fg(zn[None]))
            pgn = projected_gradient(zn, gn, lo)
            if np.isfinite(fn) and (fn <= f + 1e-4 * float(g @ (zn - z))
                                    or step == 1.0 and fn <= f + 1e-14 * (1 + abs(f)) and pgn < 0.5 * pg):
                break
            step *= 0.5
        else:
            break
        z, f, g, pg = zn, float(fn), gn, pgn
    return z, float(f), pg
