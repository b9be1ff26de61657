r"""Shaped activations in the depth continuum: the correlation ODE and its variational equations.

A shaped activation approaches the identity with depth L (Li, Nica & Roy, NeurIPS 2022; Martens
et al. 2021): :math:`\sigma_L(t) = t + \psi(t)/\sqrt L + \varphi(t)/L + O(L^{-3/2})`, with
:math:`\psi` extracted here from the activation's own expression by a series in
:math:`\varepsilon = L^{-1/2}`.  One layer maps the correlation :math:`\rho` of two unit-variance
pre-activations to :math:`\mathbb E[\sigma\sigma]/\mathbb E[\sigma^2]`; expanding, the
:math:`O(L^{-1/2})` terms cancel by Stein's lemma (:math:`\mathbb E[u\psi(v)] = \rho\,\mathbb E[t\psi]`)
and so do the :math:`\varphi` terms, leaving (reference/winer_hanin_mlp.md §6, checked here)

.. math::
    \rho_{\ell+1} = \rho_\ell + \frac{\nu(\rho_\ell)}{L} + O(L^{-3/2}),\qquad
    \nu(\rho) = \mathbb E[\psi(u)\psi(v)] - \rho\,\mathbb E[\psi(u)^2],

so with :math:`t = \ell/L` the correlation map of the whole network is the flow of
:math:`d\rho/dt = \nu(\rho)` from :math:`\rho(0) = q` to :math:`t = 1`, and the derivatives in q
obey the variational ODEs

.. math::  \dot\rho' = \nu'(\rho)\rho',\qquad \dot\rho'' = \nu''(\rho)\rho'^2 + \nu'(\rho)\rho'',

with :math:`\nu^{(k)}(\rho) = \mathbb E[\psi^{(k)}(u)\psi^{(k)}(v)] - \delta_{k1}\mathbb E[\psi^2]`
(Price's theorem).  Shaped ReLU (:math:`\psi = c|t|`) gives the Li--Nica--Roy drift
:math:`\nu = c^2[\tfrac2\pi(\sqrt{1-\rho^2} + \rho\arcsin\rho) - \rho]`; shaped tanh
(:math:`\psi = 0`) gives :math:`\nu = 0`: a deep shaped tanh network is linear in the limit.

:class:`ShapedKernel` is the normalised covariance :math:`\xi(q) = \rho(1; q)` (so
:math:`\xi(1) = 1`: the diagonal is preserved) and implements the covariance-kernel protocol of
:mod:`replicasym.symbolic.covariance`, so the engine treats the continuum network like any other
spherical model.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline

from ..errors import ParameterError
from ..parsing import parse_expression
from .activations import BUILTINS, Activation, X
from .evaluate import kernel, kernel_derivation

__all__ = ["ShapedKernel", "shaped_expansion", "shaping"]

_ROOT = sp.Symbol("r", positive=True)  # 1/sqrt(depth) while expanding the activation
_TABLE = 2001  # spline nodes in w = sqrt(1 - q)


def shaped_expansion(name: str, shape: float = 1.0) -> tuple:
    r"""(ψ, φ): :math:`\sigma_L(x) = x + L^{-1/2}\psi(x) + L^{-1}\varphi(x) + O(L^{-3/2})` for a built-in
    shaped activation (one with a ``depth`` parameter), by a SymPy series of its expression in
    :math:`r = L^{-1/2}`."""
    if name not in BUILTINS or "depth" not in BUILTINS[name][1]:
        shaped = sorted(k for k, (_, p) in BUILTINS.items() if "depth" in p)
        raise ParameterError(f"{name!r} is not a shaped activation; shaped activations: {', '.join(shaped)}")
    template, defaults = BUILTINS[name]
    expr = parse_expression(template, variables=(X,), parameters=tuple(defaults))
    expr = expr.subs({sp.Symbol("shape", real=True): sp.nsimplify(shape, rational=True),
                      sp.Symbol("depth", real=True): 1 / _ROOT**2})
    ser = sp.expand(sp.series(expr, _ROOT, 0, 3).removeO())
    lead, psi, phi = (sp.piecewise_fold(ser.coeff(_ROOT, k)) for k in range(3))
    if any(abs(float((lead - X).subs(X, x))) > 1e-12 for x in (-1.7, -0.3, 0.4, 2.1)):
        raise ParameterError(f"{name}: sigma_L does not approach the identity as depth -> oo")
    return psi, phi


def shaping(name: str, shape: float = 1.0) -> sp.Expr:
    r""":math:`\psi(x) = \lim_{L\to\infty}\sqrt L\,(\sigma_L(x) - x)` (:func:`shaped_expansion`)."""
    return shaped_expansion(name, shape)[0]


class ShapedKernel:
    r"""Normalised continuum covariance :math:`\xi(q) = \rho(1;q)` of a deep network with a shaped
    activation (see the module docstring); ``__call__(q, order)`` returns
    :math:`[\xi, \xi', ..., \xi^{(order)}]`, order <= 2."""

    def __init__(self, name: str, shape: float = 1.0, rtol: float = 1e-11):
        self.name, self.shape, self.rtol = name, float(shape), rtol
        self.psi = shaping(name, shape)
        act = Activation(f"psi[{name}]", self.psi)
        kd = kernel_derivation(act) if self.psi != 0 else None
        self.derivation = kd

        def moment(k):
            if self.psi == 0:
                return lambda r: np.zeros_like(r)
            if kd is not None and kd.closed:
                f = kd.numpy(k)
                return lambda r: f(1.0, 1.0, r)
            return lambda r: kernel(act, 1.0, 1.0, r, derivative=k)

        self._m = [moment(k) for k in range(3)]
        self.psi2 = float(self._m[0](np.array(1.0)))  # E[psi^2] at unit variance
        self._spline = None

    def drift(self, rho: np.ndarray, order: int = 0) -> np.ndarray:
        r""":math:`\nu^{(order)}(\rho)`."""
        r = np.clip(rho, -1.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.asarray(self._m[order](r), dtype=float)
        if order == 0:
            return m - r * self.psi2
        if order == 1:
            return m - self.psi2
        return m

    def _table(self):
        r"""Splines of :math:`\rho, \rho', w\rho''` in :math:`w = \sqrt{1-q}` on q in [0, 1): smooth even
        where :math:`\rho''` diverges like :math:`(1-q)^{-1/2}` (ReLU-type shaping)."""
        if self._spline is None:
            w = np.linspace(0.0, 1.0, _TABLE)[1:]
            y = self._solve(1.0 - w**2, 2)
            w0 = np.concatenate([[0.0], w])
            edge = self._solve(np.array([1.0 - 1e-14]), 2)[:, 0]  # the w -> 0 end, w rho'' finite
            cols = [np.concatenate([[edge[0]], y[0]]), np.concatenate([[edge[1]], y[1]]),
                    np.concatenate([[1e-7 * edge[2]], w * y[2]])]
            self._spline = [CubicSpline(w0, c) for c in cols]
        return self._spline

    def __call__(self, q, order: int = 0, strict: bool = True) -> np.ndarray:
        """[xi, xi', ..., xi^(order)] at q: tabulated (splines in sqrt(1 - q)) for 0 <= q < 1, the ODE
        itself elsewhere; ``strict=False`` gives NaN outside [-1, 1] instead of raising."""
        if order not in (0, 1, 2):
            raise ParameterError(f"order must be 0, 1 or 2 for the continuum kernel, got {order}")
        q = np.asarray(q, dtype=float)
        outside = np.abs(q) > 1 + 1e-12
        if strict and np.any(outside):
            raise ParameterError("the overlap q must lie in [-1, 1]")
        flat = np.where(outside, np.nan, q).ravel()
        inside = np.isfinite(flat) & (flat >= 0) & (flat < 1)
        out = np.empty((order + 1, flat.size))
        if inside.any():
            w = np.sqrt(1.0 - flat[inside])
            sp_ = self._table()
            vals = [sp_[0](w), sp_[1](w), sp_[2](w) / np.where(w > 0, w, np.nan)]
            out[:, inside] = np.stack(vals[: order + 1])
        if (~inside).any():
            out[:, ~inside] = self._solve(flat[~inside], order)
        return out.reshape((order + 1,) + q.shape)

    def _solve(self, q, order: int = 0) -> np.ndarray:
        """The variational ODE system integrated from t = 0 to 1 for the flat array q."""
        flat = np.asarray(q, dtype=float).ravel()
        nan = ~np.isfinite(flat)
        edge = ~nan & (np.abs(flat) >= 1.0)  # rho = +-1 is a fixed point: closed-form variational flow
        x = np.where(nan | edge, 0.0, flat)
        n = x.size

        def rhs(_t, y):
            rho, d1, d2 = y[:n], y[n:2 * n], y[2 * n:]
            nu1 = self.drift(rho, 1)
            nu2 = self.drift(rho, 2) if order >= 2 else 0.0
            return np.concatenate([self.drift(rho, 0), nu1 * d1, nu2 * d1**2 + nu1 * d2])

        y0 = np.concatenate([x, np.ones(n), np.zeros(n)])
        sol = solve_ivp(rhs, (0.0, 1.0), y0, method="DOP853", rtol=self.rtol, atol=1e-13)
        if not sol.success:
            raise ParameterError(f"the depth-continuum ODE failed: {sol.message}")
        y = sol.y[:, -1]
        out = np.stack([y[:n], y[n:2 * n], y[2 * n:]])[: order + 1]
        if edge.any():
            r = np.sign(flat[edge])
            nu1 = self.drift(r, 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                nu2 = self.drift(r, 2)
                d2 = np.where(nu1 != 0, nu2 * (np.exp(2 * nu1) - np.exp(nu1)) / np.where(nu1 != 0, nu1, 1), nu2)
            out[:, edge] = np.stack([r, np.exp(nu1), d2])[: order + 1]
        out[:, nan] = np.nan
        return out

    # -- the kernel protocol of replicasym.symbolic.covariance ---------------------------------
    @property
    def key(self) -> str:
        return f"ShapedKernel({self.name!r}, shape={self.shape!r}, rtol={self.rtol!r})"

    imports = ("from replicasym.kernels.shaped import ShapedKernel as _ShapedKernel",)

    def source(self) -> str:
        return f"_ShapedKernel({self.name!r}, {self.shape!r}, {self.rtol!r})"

    def symbolic(self, exact: bool = False):
        return None

    def mpmath(self, order: int = 0):
        return None
