r"""Diagnostics of a spherical model's covariance :math:`\xi` that predict its replica structure.

* :math:`\xi'(0) > 0` acts as a random external field: no sharp paramagnet--glass transition in q.
* :math:`T = 0` replicon of the RS ground state, :math:`1-\xi''(1)\chi^2` with
  :math:`\chi = 1/\sqrt{\xi'(1)}`: RS is locally stable at :math:`T = 0` iff
  :math:`\xi''(1)\le\xi'(1)` (the condition for a topologically trivial landscape; Fyodorov &
  Le Doussal 2014; Belius, Černý, Nakajima & Schmidt 2022).  It is the local condition only.
* The shape of :math:`\xi''(q)^{-1/2}` on (0, 1]: convex implies at most 1RSB (Talagrand, PTRF 134
  (2006) 339), concave on the support of the Parisi measure is needed for full RSB, where
  :math:`x(q) = \xi'''/(2\beta\xi''^{3/2})` (Crisanti & Sommers 1992; Auffinger & Chen 2015).
"""
from __future__ import annotations

import numpy as np

from ..models.spec import ModelSpec

__all__ = ["covariance_diagnostics"]


def _shape(g: np.ndarray, h: float) -> str:
    d2 = (g[2:] - 2 * g[1:-1] + g[:-2]) / h**2
    scale = np.max(np.abs(g)) + 1e-300
    tol = 1e-8 * scale
    if np.all(d2 >= -tol):
        return "convex"
    if np.all(d2 <= tol):
        return "concave"
    return "mixed"


def covariance_diagnostics(model: ModelSpec, points: int = 401) -> dict:
    r""":math:`\xi'(0)`, :math:`\xi'(1)`, :math:`\xi''(1)`, the T = 0 RS replicon
    :math:`1-\xi''(1)/\xi'(1)` and the shape of :math:`\xi''^{-1/2}` on (0, 1) for a spherical model."""
    d1, d2 = model.xi_numpy(1), model.xi_numpy(2)
    q = np.linspace(0.0, 1.0, points)[1:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = np.asarray(d2(q), dtype=float)
        g = x2 ** -0.5
    xi1_0, xi1_1 = float(d1(np.array(0.0))), float(d1(np.array(1.0)))
    with np.errstate(invalid="ignore"):
        xi2_1 = float(d2(np.array(1.0)))
    if np.all(x2 == 0):
        shape = "none (xi'' = 0: linear xi)"
    elif np.all(np.isfinite(g)):
        shape = _shape(g, q[1] - q[0])
    else:
        shape = "undefined (xi'' = 0 inside (0, 1))"
    return {"xi1_0": xi1_0, "xi1_1": xi1_1, "xi2_1": xi2_1,
            "rs_replicon_T0": 1.0 - xi2_1 / xi1_1,
            "rs_locally_stable_T0": bool(xi2_1 <= xi1_1),
            "xi2_inv_sqrt_shape": shape}
