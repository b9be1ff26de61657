r"""Numerics of Gardner-type volumes from the engine's expressions (the perceptron).

The RS expressions of :mod:`replicasym.models.perceptron` hold one-dimensional, non-nested Gaussian
expectations of :class:`~replicasym.symbolic.constraint.LogH` and
:class:`~replicasym.symbolic.constraint.MillsRatio`.  :class:`Compiled` evaluates such an
expression, batched over its arguments:

* numpy: each :math:`\mathbb E_z[f]` is a trapezoidal sum on :math:`|z|\le 12` with 4001 nodes
  (h = 0.006; geometric convergence for analytic integrands, Trefethen & Weideman, SIAM Review 56
  (2014) 385: the integrands are analytic in a strip of half-width ~ :math:`2\sqrt{1-q}`, so the
  error stays below ~1e-12 up to :math:`1-q \approx 10^{-4}`);
  :math:`\log H(x)` is ``scipy.special.log_ndtr(-x)`` and
  :math:`M(x) = e^{-x^2/2-\log H(x)}/\sqrt{2\pi}`, finite where :math:`H` underflows;
* mpmath (``digits``): ``mpmath.quad`` on :math:`(-\infty, 0, \infty)` at the working precision.

:func:`roots_1d` brackets every sign change of a scalar function on a grid (batched) and refines it
with ``brentq`` (double) or ``mpmath.findroot`` (``digits``); a failure raises
:class:`~replicasym.errors.ConvergenceError` with the residual.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import mpmath
import numpy as np
import sympy as sp
from scipy.optimize import brentq
from scipy.special import log_ndtr

from ..errors import ConvergenceError, ParameterError
from ..symbolic.gaussian import GaussianExpectation, expectations

__all__ = ["Compiled", "roots_1d", "QUADRATURE_NODES", "QUADRATURE_HALF_WIDTH"]

QUADRATURE_NODES = 4001
QUADRATURE_HALF_WIDTH = 12.0


def _np_log_h(x):
    return log_ndtr(-np.asarray(x, dtype=float))


def _np_mills(x):
    x = np.asarray(x, dtype=float)
    return np.exp(-x * x / 2 - log_ndtr(-x)) / np.sqrt(2 * np.pi)


def _mp_log_h(x):
    return mpmath.log(mpmath.erfc(x / mpmath.sqrt(2)) / 2)


def _mp_mills(x):
    return mpmath.npdf(x) / (mpmath.erfc(x / mpmath.sqrt(2)) / 2)


_NUMPY = [{"LogH": _np_log_h, "MillsRatio": _np_mills}, "numpy"]
_MPMATH = [{"LogH": _mp_log_h, "MillsRatio": _mp_mills}, "mpmath"]


def _nodes(n: int = QUADRATURE_NODES, half_width: float = QUADRATURE_HALF_WIDTH):
    z = np.linspace(-half_width, half_width, n)
    w = np.exp(-z * z / 2)
    return z, w / w.sum()


class Compiled:
    """``expr`` (non-nested Gaussian expectations allowed) as a function of ``args``.

    ``Compiled(expr, args)(*values)`` broadcasts numpy arrays over a batch axis (double precision);
    with ``digits`` the call takes scalars and returns an ``mpf`` at that precision."""

    def __init__(self, expr: sp.Expr, args: Sequence[sp.Symbol], digits: int | None = None):
        expr = sp.sympify(expr)
        self.args, self.digits = tuple(args), digits
        found = []
        for e in expectations(expr):
            if e.integrand.has(GaussianExpectation):
                raise ParameterError("nested Gaussian expectations (RSB) are not supported by the Gardner "
                                     "numerics; solve the RS ansatz")
            if e not in found:
                found.append(e)
        dummies = [sp.Dummy(f"E{i}") for i in range(len(found))]
        modules = _MPMATH if digits is not None else _NUMPY
        self._outer = sp.lambdify([*self.args, *dummies], expr.xreplace(dict(zip(found, dummies))),
                                  modules=modules)
        self._inner = [sp.lambdify([*self.args, e.variable], e.integrand, modules=modules) for e in found]
        if digits is None:
            self._z, self._w = _nodes()

    def __call__(self, *values):
        if self.digits is not None:
            with mpmath.workdps(self.digits + 10):
                vals = [mpmath.mpf(v) for v in values]
                ints = [mpmath.quad(lambda z, f=f: f(*vals, z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
                        for f in self._inner]
                return self._outer(*vals, *ints)
        vals = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))
        shape = vals[0].shape
        with np.errstate(all="ignore"):
            ints = [np.broadcast_to(f(*(v[..., None] for v in vals), self._z), (*shape, self._z.size))
                    @ self._w for f in self._inner]
            out = self._outer(*vals, *ints)
        return np.broadcast_to(np.asarray(out, dtype=float), shape)


def roots_1d(f: Callable, grid: np.ndarray, digits: int | None = None, f_mp: Callable | None = None,
             tol: float = 1e-9) -> list:
    """All roots of ``f`` bracketed by sign changes of ``f(grid)`` (``f`` vectorised), refined with
    brentq, and with ``f_mp`` at ``digits`` when given.  Empty list when ``f`` has no sign change."""
    vals = np.asarray(f(grid), dtype=float)
    ok = np.isfinite(vals)
    out = []
    for i in np.flatnonzero(ok[:-1] & ok[1:] & (np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)):
        x = brentq(lambda v: float(f(np.array([v]))[0]), grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15,
                   maxiter=200)
        res = abs(float(f(np.array([x]))[0]))
        if not np.isfinite(res) or res > tol * max(1.0, float(np.max(np.abs(vals[i:i + 2])))):
            raise ConvergenceError(f"root refinement did not converge near {x:.6g}", residual=res)
        if digits is not None:
            with mpmath.workdps(digits + 10):
                x = mpmath.findroot(f_mp, mpmath.mpf(x), tol=mpmath.mpf(10) ** (-digits - 3))
                res = abs(f_mp(x))
                if res > mpmath.mpf(10) ** (5 - digits):
                    raise ConvergenceError(f"mpmath refinement did not converge near {mpmath.nstr(x, 8)}",
                                           residual=float(res))
        out.append(x)
    return out
