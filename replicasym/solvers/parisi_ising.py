r"""k-RSB and full-RSB (Parisi) solutions of Ising spin glasses with a general covariance and field.

Model: Ising spins, :math:`\mathbb E[H(s)H(s')] = N\xi(s\cdot s'/N)`, field h
(:math:`-\beta H\ni\beta h\sum_i s_i`).  The Parisi formula (Parisi 1980; Talagrand, Ann. Math.
163 (2006) 221 for the proof) reads

.. math::
   \Phi(\beta) = \inf_x\Big[f(0,\beta h) - \frac{\beta^2}{2}\int_0^1 x(q)\,q\,\xi''(q)\,dq\Big],
   \qquad \partial_q f = -\frac{\beta^2\xi''(q)}{2}\big[\partial_y^2 f + x(q)(\partial_y f)^2\big],

with :math:`f(1,u) = \log\sum_{s=\pm1}e^{us}` the engine's single-site function (the ``log 2`` is
included there).  In the scaled field :math:`y = u/\beta` and with :math:`\gamma = \beta x` the
PDE has diffusion :math:`\xi''(q)` and tilt :math:`\gamma`, which makes T = 0 a regular limit:
the ground state is :math:`E_{gs} = -\inf_\gamma\big[\Psi(0,h) - \frac12\int_0^1\gamma(q)q\xi''(q)dq\big]`
with :math:`\Psi(1,y) = |y|` and :math:`\gamma\ge0` non-decreasing on [0, 1) (Auffinger & Chen,
"Parisi formula for the ground state energy in the mixed p-spin model", Ann. Probab. 45 (2017)
4617).

k-RSB is the piecewise-constant :math:`x` (levels :math:`q_0\le\dots\le q_k`, breakpoints
:math:`0\le m_1\le\dots\le m_k\le 1`; x = 0 below :math:`q_0`, :math:`m_i` on
:math:`[q_{i-1},q_i)`, 1 above :math:`q_k`), for which the PDE is solved exactly level by level
(Cole--Hopf), i.e. the engine's recursion :math:`L_i = \frac1{m_i}\log\mathbb E e^{m_iL_{i+1}}`
with :math:`\Lambda_i = \beta^2\xi'(q_i)`:

.. math::
   \Phi = \beta\,\Psi_{\rm root} - \frac{\beta^2}{2}\Big[\sum_{i=1}^k m_i\,(G(q_i)-G(q_{i-1}))
   + G(1) - G(q_k)\Big],\quad G(q) = q\xi'(q) - \xi(q).

The top interval :math:`[q_k, 1]` (x = 1) is done in closed form by the engine
(:math:`\mathbb E_z e^{f(1,u+\sqrt Vz)} = e^{V/2}\sum_s e^{us}` since s^2 = 1), the others on a grid
of the cavity field (:mod:`.parisi_grid`).  At T = 0 the k-RSB levels are
:math:`q_0\le\dots\le q_{k-1} < q_k = 1` with :math:`\gamma_i = \lim\beta m_i` (the engine's
rescaled ``y_i``); the top interval :math:`[q_{k-1},1)` is the closed form
:math:`\frac1\gamma\log\mathbb E e^{\gamma|y+\sigma z|}` (the engine's
:func:`~replicasym.symbolic.gaussian.closed_form`, evaluated here stably with ``log_ndtr``).

Full RSB is the k -> oo limit: :func:`solve_frsb` doubles k (splitting every level, which keeps
the previous x(q) as the starting point) until the value stops changing.  The error of the best
k-step function falls fast because the functional is stationary in x: for SK at T = 0 by factors
4.7, 7.1, 9.7, 11.6 per doubling from k = 1 to 16 (local exponent 2.2 -> 3.5), at T = 0.5 by
6.9, 9.9, 12.4, 12.2 (``benchmarks/bench_sk_ground_state.py``).

Extremum: for Ising spins the Parisi functional is *minimised* over x (Guerra's bound: every x
gives an upper bound on Phi; Talagrand: the infimum is Phi), so every solve here is a
bound-constrained minimisation over all levels and breakpoints with the exact discrete gradient.
Note that at h = 0 the symmetric point q_0 = 0 is stationary but not always the minimum: the best
one-step x(q) of SK at T = 0 has q_0 = 0.477 (E = -0.765259, Parisi's 1RSB value), whereas
q_0 = 0 gives -0.768828.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import brentq, minimize
from scipy.special import log_ndtr

from ..errors import ConvergenceError, ParameterError
from ..models.spec import ModelSpec
from ..solution import Solution
from ..symbolic.action import replicated_action
from ..symbolic.gaussian import E, closed_form
from ..symbolic.limit import laplace_log_cosh
from .parisi_grid import Cascade, FieldGrid

__all__ = ["KRSBFunctional", "extrapolate_k", "solve_frsb", "solve_krsb"]

_SQRT2PI = math.sqrt(2 * math.pi)


# --------------------------------------------------------------------------------------------
# the model, from the engine
# --------------------------------------------------------------------------------------------
@dataclass
class _Site:
    """xi and its derivatives, the field, and the engine's single-site function (numpy)."""

    xi: object
    dxi: object
    d2xi: object
    h: float
    site: object          # u -> log sum_s e^{us}
    dsite: object
    d2site: object
    top_shift: object     # V -> c(V), log E e^{site(u + sqrt(V) z)} - site(u)
    dtop_shift: object


_SITES: dict = {}


def _site_for(model: ModelSpec) -> _Site:
    if not isinstance(model, ModelSpec) or model.spins != "ising":
        raise ParameterError("the Parisi Ising solvers need an Ising model (e.g. rs.models.sk())")
    key = (sp.srepr(model.xi), sp.srepr(model.field), tuple(sorted((str(k), v) for k, v in model.values.items())))
    if key in _SITES:
        return _SITES[key]
    q = model.overlap
    xi = model.xi.subs(model.values)
    h = float(sp.sympify(model.field).subs(model.values))
    fx = [sp.lambdify(q, sp.diff(xi, q, n), "numpy") for n in range(3)]
    # the engine's single-site function, log sum_s exp(u s - Lambda_k s^2/2), at Lambda_k = 0
    act = replicated_action(model, 0)
    u = sp.Symbol("u", real=True)
    site = act.site_log(u).subs({lam: 0 for lam in act.conjugates})
    # the x = 1 top interval in closed form: log E_z exp(site(u + sqrt(V) z)) - site(u)
    z, V = sp.Symbol("z_top", real=True), sp.Symbol("V", positive=True)
    integrand = sp.expand(sp.exp(site.subs(u, u + sp.sqrt(V) * z)).rewrite(sp.exp))
    shift = sp.log(closed_form(E(integrand, z))) - site
    probe = [float(shift.subs({u: uu, V: 0.7})) for uu in (-1.3, 0.2, 2.1)]
    if max(probe) - min(probe) > 1e-12:
        raise ParameterError("the Parisi Ising solver needs the +-1 spin trace (s^2 = 1)")
    shift = sp.simplify(shift.subs(u, 0))
    b = sp.Symbol("b", positive=True)
    for yy in (sp.Rational(2, 5), sp.Integer(-3)):  # the T = 0 terminal is the engine's Laplace limit |y|
        lim = sp.limit(laplace_log_cosh(site.subs(u, b * yy), b) / b, b, sp.oo)
        if abs(float(lim) - abs(float(yy))) > 1e-12:
            raise ParameterError("the Parisi Ising solver needs the +-1 spin trace (T = 0 limit |y|)")
    out = _Site(xi=fx[0], dxi=fx[1], d2xi=fx[2], h=h,
                site=sp.lambdify(u, site, "numpy"),
                dsite=sp.lambdify(u, sp.diff(site, u), "numpy"),
                d2site=sp.lambdify(u, sp.diff(site, u, 2), "numpy"),
                top_shift=sp.lambdify(V, shift, "numpy"),
                dtop_shift=sp.lambdify(V, sp.diff(shift, V), "numpy"))
    _SITES[key] = out
    return out


def _f(fn, x):
    return float(np.asarray(fn(np.asarray(x, dtype=float)), dtype=float))


def _terminal(site: _Site, beta: float, y: np.ndarray) -> np.ndarray:
    r""":math:`f(1,\beta y)/\beta` on the grid, with the engine's site function; where the
    double-precision formula overflows (:math:`\beta|y|\gtrsim 700`) it is continued linearly
    from the last two finite points on that side (exact there to :math:`e^{-2\beta|y|}`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.asarray(site.site(beta * y), dtype=float) / beta
    ok = np.flatnonzero(np.isfinite(t))
    if ok.size < t.size:
        i0, i1 = ok[0], ok[-1]
        t[:i0] = t[i0] + (t[i0] - t[i0 + 1]) * np.arange(i0, 0, -1)
        t[i1 + 1:] = t[i1] + (t[i1] - t[i1 - 1]) * np.arange(1, t.size - i1)
    return t


# --------------------------------------------------------------------------------------------
# T = 0 top interval: (1/g) log E exp(g |y + sigma z|), stably, with its derivatives
# --------------------------------------------------------------------------------------------
def _top_zero_temperature(y: np.ndarray, v: float, g: float):
    r"""Return :math:`\Psi = \frac1\gamma\log\mathbb E_z e^{\gamma|y+\sqrt v z|}`,
    :math:`\partial_\gamma\Psi`, :math:`\partial_v\Psi` and the density factor
    :math:`\varphi_{\sqrt v}(y)e^{-\gamma\Psi}` (the field density at q = 1 per unit weight).

    :math:`\mathbb E e^{\gamma|y+\sigma z|} = e^{\gamma^2\sigma^2/2}\big[e^{\gamma a}\Phi(a/\sigma+\gamma\sigma)
    + e^{-\gamma a}\Phi(-a/\sigma+\gamma\sigma)\big]`, a = |y| (the engine's closed form of
    E[exp(c|az+b|)]); :math:`\partial_v\Psi = \gamma/2 + \varphi_\sigma(y)e^{-\gamma\Psi}`."""
    a = np.abs(y)
    s = math.sqrt(v)
    b1, b2 = a / s + g * s, -a / s + g * s
    l1, l2 = log_ndtr(b1), log_ndtr(b2) - 2 * g * a
    LD = np.logaddexp(l1, l2)
    psi = g * v / 2 + a + LD / g
    p1, p2 = np.exp(l1 - LD), np.exp(l2 - LD)
    mills = lambda b, lb: np.exp(-b * b / 2 - lb) / _SQRT2PI  # phi(b)/Phi(b)
    dLD = p1 * s * mills(b1, log_ndtr(b1)) + p2 * (s * mills(b2, log_ndtr(b2)) - 2 * a)
    dpsi_dg = (g * v + a + dLD - psi) / g
    dens = np.exp(-a * a / (2 * v) - g * psi) / (s * _SQRT2PI)
    return psi, dpsi_dg, g / 2 + dens, dens


# --------------------------------------------------------------------------------------------
# the k-RSB functional
# --------------------------------------------------------------------------------------------
@dataclass
class KRSBPoint:
    """A k-RSB evaluation: value, gradient and the by-products the solution reports.

    Finite T: ``q`` = (q_0..q_k), ``x`` = (m_1..m_k), ``value`` = Phi.  T = 0: ``q`` =
    (q_0..q_{k-1}), ``x`` = (gamma_1..gamma_k), ``value`` = -E_gs."""

    q: np.ndarray
    x: np.ndarray
    value: float
    grad_q: np.ndarray | None = None
    grad_x: np.ndarray | None = None
    energy: float | None = None
    replicon: float | None = None


class KRSBFunctional:
    r"""The k-RSB Parisi functional of an Ising model at inverse temperature ``beta``
    (``numpy.inf``: the T = 0 functional), on a field grid of spacing ``dy`` and half-width
    ``half_width`` (in the scaled field y = u/beta)."""

    def __init__(self, model: ModelSpec, beta: float, k: int, dy: float, half_width: float):
        self.site = _site_for(model)
        self.beta, self.k = float(beta), int(k)
        self.zero_t = not math.isfinite(self.beta)
        self.grid = FieldGrid(self.site.h, half_width, dy)
        self.y = self.grid.y
        if not self.zero_t:
            self.T_beta = _terminal(self.site, self.beta, self.y)

    # G(q) = q xi'(q) - xi(q), G' = q xi''(q)
    def _G(self, q):
        return q * _f(self.site.dxi, q) - _f(self.site.xi, q)

    def evaluate(self, q: Sequence[float], x: Sequence[float], grad: bool = True,
                 extras: bool = False) -> KRSBPoint:
        """Value (and gradient in q and x; energy and replicon with ``extras``) at (q, x)."""
        with np.errstate(all="ignore"):
            return self._evaluate(q, x, grad, extras)

    def _evaluate(self, q, x, grad, extras) -> KRSBPoint:
        q = np.asarray(q, dtype=float)
        x = np.asarray(x, dtype=float)
        s = self.site
        dxi = np.array([_f(s.dxi, v) for v in q])
        d2xi = np.array([_f(s.d2xi, v) for v in q])
        G = np.array([self._G(v) for v in q])
        one = 1.0
        if self.zero_t:
            return self._evaluate_t0(q, x, dxi, d2xi, G, grad, extras)
        b = self.beta
        k = self.k
        vtop = _f(s.dxi, one) - dxi[k]
        top = self.T_beta + _f(s.top_shift, b * b * vtop) / b
        levels = [(dxi[i] - dxi[i - 1], b * x[i - 1]) for i in range(k, 0, -1)]
        cas = Cascade(self.grid, top, levels, dxi[0])
        mgrid = np.concatenate([[0.0], x, [1.0]])          # m_0 = 0, m_1..m_k, m_{k+1} = 1
        Gs = np.concatenate([G, [self._G(one)]])
        corr = float(np.sum(mgrid[1:] * np.diff(Gs)))
        value = b * cas.value - b * b / 2 * corr
        pt = KRSBPoint(q, x, value)
        if not (grad or extras):
            return pt
        rho, dmu, dv, dv0, _ = cas.backward()
        dmu, dv = np.array(dmu[::-1]), np.array(dv[::-1])    # index i-1 <-> level i = 1..k
        dvtop = b * _f(s.dtop_shift, b * b * vtop)          # d top / d vtop
        # dPsi_root/dv_i for i = 0..k+1 (v_{k+1} = vtop)
        D = np.concatenate([[dv0], dv, [dvtop]])
        gq = b * d2xi * (D[:-1] - D[1:]) - b * b / 2 * (mgrid[:-1] - mgrid[1:]) * q * d2xi
        gx = b * b * dmu - b * b / 2 * (G[1:] - G[:-1])
        pt.grad_q, pt.grad_x = gq, gx
        if extras:
            # e = -dPhi/dbeta at fixed (q, m)
            dT = (self.y * s.dsite(b * self.y) - self.T_beta) / b
            dtop = dT + 2 * vtop * _f(s.dtop_shift, b * b * vtop) - _f(s.top_shift, b * b * vtop) / b**2
            dpsi = float(np.sum(x * dmu)) + float(rho @ dtop)
            pt.energy = -(cas.value + b * dpsi - b * corr)
            pt.replicon = 1 - b * b * float(d2xi[k]) * float(rho @ s.d2site(b * self.y) ** 2)
        return pt

    def _evaluate_t0(self, q, g, dxi, d2xi, G, grad, extras):
        s = self.site
        k = self.k
        if k == 0:  # RS: E|h + sqrt(xi'(1)) z| (the engine's closed form of E|az + b|)
            sig, h = math.sqrt(_f(s.dxi, 1.0)), s.h
            value = sig * math.sqrt(2 / math.pi) * math.exp(-h * h / (2 * sig * sig)) + h * math.erf(h / (math.sqrt(2) * sig))
            dens = math.exp(-h * h / (2 * sig * sig)) / (sig * _SQRT2PI)
            return KRSBPoint(q, g, value, np.zeros(0), np.zeros(0), -value,
                             -4.0 / 3.0 * _f(s.d2xi, 1.0) * dens if extras else None)
        vtop = _f(s.dxi, 1.0) - dxi[k - 1]
        top, dtop_dg, dtop_dv, dens = _top_zero_temperature(self.y, vtop, g[k - 1])
        levels = [(dxi[i] - dxi[i - 1], g[i - 1]) for i in range(k - 1, 0, -1)]
        cas = Cascade(self.grid, top, levels, dxi[0])
        Gs = np.concatenate([G, [self._G(1.0)]])              # G(q_0..q_{k-1}), G(1)
        corr = float(np.sum(g * np.diff(Gs)))
        value = cas.value - corr / 2
        pt = KRSBPoint(q, g, value)
        if not (grad or extras):
            return pt
        rho, dmu, dv, dv0, _ = cas.backward()
        dmu, dv = np.array(dmu[::-1]), np.array(dv[::-1])
        D = np.concatenate([[dv0], dv, [float(rho @ dtop_dv)]])   # dv_0 .. dv_k
        gpad = np.concatenate([[0.0], g])                          # gamma_0 = 0 .. gamma_k
        gq = d2xi * (D[:-1] - D[1:]) - 0.5 * (gpad[:-1] - gpad[1:]) * q * d2xi
        gg = np.concatenate([dmu, [float(rho @ dtop_dg)]]) - 0.5 * np.diff(Gs)
        pt.grad_q, pt.grad_x = gq, gg
        if extras:
            pt.energy = -value
            # T lambda_R -> -(4/3) xi''(1) P(0), P the density of the field at q = 1
            pt.replicon = -4.0 / 3.0 * _f(s.d2xi, 1.0) * float(rho @ dens)
        return pt


# --------------------------------------------------------------------------------------------
# order-preserving box parametrisation and the minimiser
# --------------------------------------------------------------------------------------------
def _cumprod_jac(f: np.ndarray, reverse: bool) -> np.ndarray:
    """J[i, j] = d P_i / d f_j for P_i = prod_{l<=i} f_l (or prod_{l>=i} f_l when reverse)."""
    n = f.size
    J = np.zeros((n, n))
    for i in range(n):
        idx = range(i, n) if reverse else range(i + 1)
        for j in idx:
            J[i, j] = np.prod([f[l] for l in idx if l != j])
    return J


class _Box:
    r"""Box variables that keep the order automatically:
    :math:`q_i = 1-\prod_{j\le i}(1-t_j)` with :math:`t\in[0,1]`; finite T
    :math:`m_i=\prod_{j\ge i}s_j` with :math:`s\in[0,1]`; T = 0 :math:`\gamma_i=\sum_{j\le i}e_j`,
    :math:`e\ge0`.  ``t_min`` bounds the relative width :math:`t_i = (q_i-q_{i-1})/(1-q_{i-1})`
    of every level from below, so that no level is narrower than the grid resolves (where the
    discretisation error would otherwise be a spurious gain the minimiser could exploit)."""

    def __init__(self, nq: int, nx: int, zero_t: bool, t_min: float = 0.0):
        self.nq, self.nx, self.zero_t, self.t_min = nq, nx, zero_t, t_min
        tb = [(0.0, 1.0 - 1e-13)] + [(t_min, 1.0 - 1e-13)] * (nq - 1) if nq else []
        # T = 0: gamma_1 = e_1 > 0 keeps every gamma positive (gamma_1 -> 0 is a degenerate level,
        # removed by _reduce)
        xb = ([(1e-9, None)] + [(0.0, None)] * (nx - 1) if nx else []) if zero_t else [(0.0, 1.0)] * nx
        self.bounds = tb + xb

    def natural(self, z: np.ndarray):
        t, s = z[:self.nq], z[self.nq:]
        q = 1.0 - np.cumprod(1.0 - t)
        x = np.cumsum(s) if self.zero_t else np.cumprod(s[::-1])[::-1]
        return q, x

    def to_box(self, q, x) -> np.ndarray:
        q = np.clip(np.asarray(q, float), 0.0, 1.0 - 1e-13)
        x = np.asarray(x, float)
        prev = np.concatenate([[0.0], q[:-1]])
        t = np.clip(1.0 - (1.0 - q) / (1.0 - prev), [b[0] for b in self.bounds[:self.nq]], 1.0 - 1e-13)
        if self.zero_t:
            s = np.maximum(np.diff(np.concatenate([[0.0], x])), 0.0)
        else:
            x = np.clip(x, 0.0, 1.0)
            nxt = np.concatenate([x[1:], [1.0]])
            s = np.where(nxt > 0, np.clip(x / np.where(nxt > 0, nxt, 1.0), 0.0, 1.0), 1.0)
        return np.concatenate([t, s])

    def chain(self, z, gq, gx) -> np.ndarray:
        t, s = z[:self.nq], z[self.nq:]
        gt = _cumprod_jac(1.0 - t, False).T @ gq
        gs = np.cumsum(gx[::-1])[::-1] if self.zero_t else _cumprod_jac(s, True).T @ gx
        return np.concatenate([gt, gs])

    def at_width_bound(self, z) -> bool:
        """Whether some level sits at its minimal width."""
        return self.t_min > 0 and bool(np.any(z[1:self.nq] <= self.t_min * (1 + 1e-9)))

    def feasible(self, q, x) -> bool:
        return _interior(q, x, self.zero_t, 0.0) and bool(
            np.all(np.diff(q) >= self.t_min * (1.0 - q[:-1]) * (1 - 1e-12)))

    def projected(self, z, g) -> np.ndarray:
        pg = g.copy()
        for i, (lo, hi) in enumerate(self.bounds):
            if (z[i] <= lo and g[i] > 0) or (hi is not None and z[i] >= hi and g[i] < 0):
                pg[i] = 0.0
        return pg


@dataclass
class _Fit:
    q: np.ndarray
    x: np.ndarray
    value: float
    residual: float
    iterations: int
    message: str
    width_bound: bool = False   # a level sits at the minimal width the grid resolves


def _interior(q, x, zero_t: bool, gap: float = 1e-7) -> bool:
    """Every level strictly inside its ordering constraints (no collapsed level, no bound)."""
    ends = np.concatenate([[0.0], q, [1.0]])
    xs = np.concatenate([[0.0], x] if zero_t else [[0.0], x, [1.0]])
    return bool(np.all(np.diff(ends) > gap) and np.all(np.diff(xs) > gap))


def _hessian(grad, th: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Forward-difference Hessian of the exact gradient, symmetrised."""
    n = th.size
    H = np.zeros((n, n))
    for j in range(n):
        h = 1e-6 * max(1.0, abs(th[j]))
        e = th.copy()
        e[j] += h
        H[:, j] = (grad(e) - g) / h
    return (H + H.T) / 2


def _projected_bfgs(fun, z, lo, hi, tol: float, maxiter: int, projected):
    """Bound-constrained quasi-Newton: BFGS on the free variables (those not held at a bound by
    the gradient), projected Armijo line search.  Small dense problems only (a few dozen
    variables); written out because it is all the solver needs and it avoids the overhead of a
    general bound-constrained library call per iteration."""
    z = np.clip(np.asarray(z, dtype=float), lo, hi)
    f, g = fun(z)
    n = z.size
    H = np.eye(n)
    it = 0
    while it < maxiter:
        pg = projected(z, g)
        if np.max(np.abs(pg), initial=0.0) <= tol:
            break
        it += 1
        free = pg != 0.0
        d = np.zeros(n)
        d[free] = -(H[np.ix_(free, free)] @ g[free])
        if not g @ d < 0:
            H = np.eye(n)
            d = -pg
        step = min(1.0, 0.2 / np.max(np.abs(d))) if it == 1 else 1.0
        while True:
            zn = np.clip(z + step * d, lo, hi)
            fn, gn = fun(zn)
            if fn <= f + 1e-4 * float(g @ (zn - z)):
                break
            step /= 2
            if step < 1e-14:
                return z, it
        sv, yv = zn - z, gn - g
        sy = float(sv @ yv)
        if sy > 1e-12 * np.linalg.norm(sv) * np.linalg.norm(yv):
            if it == 1:
                H *= sy / float(yv @ yv)
            rho = 1.0 / sy
            V = np.eye(n) - rho * np.outer(sv, yv)
            H = V @ H @ V.T + rho * np.outer(sv, sv)
        stalled = fn >= f - 1e-16 * abs(f)
        z, f, g = zn, fn, gn
        if stalled and np.max(np.abs(projected(z, g)), initial=0.0) > tol:
            break
    return z, it


def _minimise(F: KRSBFunctional, q, x, tol: float, maxiter: int) -> _Fit:
    """Minimise the k-RSB functional from (q, x).

    1. projected BFGS in the order-preserving box variables (a short run: it finds collapsing
       levels and active bounds, e.g. the RS solution above the AT line);
    2. if the point is interior: quasi-Newton (BFGS) in the natural variables, seeded with the
       inverse of the finite-difference Hessian of the exact gradient (with |eigenvalues|, so a
       saddle such as a freshly split level is left along its negative directions), restarted
       with a fresh Hessian while it makes progress -- the breakpoints of a fine step function
       are nearly flat directions (condition numbers ~1e10 at k = 16), where first-order
       methods crawl;
    3. otherwise projected BFGS again (bounded; a degenerate valley is then pruned by _fit).
    """
    box = _Box(len(q), len(x), F.zero_t, (1.3 * F.grid.dy) ** 2 / max(_f(F.site.d2xi, 1.0), 1e-12))
    nq = len(q)
    calls = [0]

    def fun(z):
        calls[0] += 1
        qq, xx = box.natural(z)
        p = F.evaluate(qq, xx)
        if not np.isfinite(p.value):
            return np.inf, np.zeros_like(z)
        return p.value, box.chain(z, p.grad_q, p.grad_x)

    def nat(th):
        calls[0] += 1
        qq, xx = th[:nq], th[nq:]
        if not box.feasible(qq, xx):
            return np.inf, np.zeros_like(th)
        p = F.evaluate(qq, xx)
        if not np.isfinite(p.value):
            return np.inf, np.zeros_like(th)
        return p.value, np.concatenate([p.grad_q, p.grad_x])

    lo = np.array([b[0] for b in box.bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in box.bounds])

    def lbfgs(z, iters):
        return _projected_bfgs(fun, z, lo, hi, tol, iters, box.projected)

    z, it = lbfgs(box.to_box(q, x), min(maxiter, 20 + 2 * box.to_box(q, x).size))
    f, g = fun(z)
    pg = box.projected(z, g)
    qq, xx = box.natural(z)
    for _ in range(4):
        if np.max(np.abs(pg)) <= tol or not _interior(qq, xx, F.zero_t):
            break
        th = np.concatenate([qq, xx])
        f0, g0 = nat(th)
        w, V = np.linalg.eigh(_hessian(lambda t: nat(t)[1], th, g0))
        w = np.maximum(np.abs(w), 1e-9 * np.abs(w).max())
        Hi = V @ np.diag(1.0 / w) @ V.T
        with np.errstate(all="ignore"):
            r = minimize(nat, th, jac=True, method="BFGS",
                         options={"hess_inv0": (Hi + Hi.T) / 2, "gtol": tol, "maxiter": maxiter,
                                  "xrtol": 1e-15})
        it += int(r.nit)
        if not np.isfinite(r.fun) or r.fun > f0:
            break
        z = box.to_box(r.x[:nq], r.x[nq:])
        f, g = fun(z)
        pg = box.projected(z, g)
        qq, xx = box.natural(z)
        if r.fun > f0 - 1e-15 * abs(f0) and r.nit <= 1:
            break
    if np.max(np.abs(pg), initial=0.0) > tol:
        z, n2 = lbfgs(z, min(maxiter, 50 + 10 * z.size))
        it += n2
        f, g = fun(z)
        pg = box.projected(z, g)
        qq, xx = box.natural(z)
    return _Fit(qq, xx, float(f), float(np.max(np.abs(pg), initial=0.0)), it, f"{calls[0]} evaluations",
                box.at_width_bound(z))


# --------------------------------------------------------------------------------------------
# starting points and continuation in k
# --------------------------------------------------------------------------------------------
def _split(q: np.ndarray, x: np.ndarray, zero_t: bool, which: Sequence[int]):
    r"""Split the intervals ``which`` of a k-step x(q) at their midpoints: the two halves start
    from x -/+ a quarter of the local jump, so the new step function is the old one refined
    (the functional is unchanged to first order).  Interval i (1-based) is
    :math:`[q_{i-1}, q_i)` with value :math:`x_i`; at T = 0 the last one ends at q = 1."""
    ends = list(q) + ([1.0] if zero_t else [])
    k = len(x)
    new_ends, new_x = [ends[0]], []
    for i in range(1, k + 1):
        xi = x[i - 1]
        if i in which:
            below = x[i - 2] if i >= 2 else xi
            above = x[i] if i < k else (xi if zero_t else 1.0)
            new_ends += [(ends[i - 1] + ends[i]) / 2, ends[i]]
            new_x += [xi - (xi - below) / 4, xi + (above - xi) / 4]
        else:
            new_ends.append(ends[i])
            new_x.append(xi)
    return np.array(new_ends[:-1] if zero_t else new_ends), np.array(new_x)


def _widest(q, x, zero_t: bool, count: int) -> list[int]:
    """The ``count`` intervals with the largest weight (width in q times the jump of x across)."""
    ends = list(q) + ([1.0] if zero_t else [])
    xs = [0.0] + list(x) + ([x[-1]] if zero_t else [1.0])
    w = [(ends[i] - ends[i - 1]) * (xs[i + 1] - xs[i - 1] + 1e-3) for i in range(1, len(x) + 1)]
    return [int(i) + 1 for i in np.argsort(w)[::-1][:count]]


def _one_step_starts(zero_t: bool):
    """Starting points (q, x) for k = 1; the best local minimum is kept."""
    if zero_t:
        return [(np.array([q0]), np.array([g])) for q0 in (0.05, 0.5) for g in (0.7, 2.0)]
    return [(np.array([q0, q1]), np.array([m])) for q0, q1 in ((0.0, 0.5), (0.3, 0.8)) for m in (0.3, 0.7)]


def _grid_for(site: _Site, beta: float, x, q, dy: float | None, half_width: float | None):
    r"""Grid spacing and half-width of the field grid.

    Half-width: 8 standard deviations of the field (:math:`\sqrt{\xi'(1)}`) plus the outward
    drift of the tilted measures, :math:`\sum_i\mu_i v_i`.  Spacing: the trapezoid rule is
    spectrally accurate once the narrowest feature is resolved, i.e. ~1/beta for the site function
    and the width :math:`\sqrt{v}` of the narrowest level (at T = 0 the top interval below q = 1)."""
    s1 = math.sqrt(max(_f(site.dxi, 1.0), 1e-12))
    ends = np.concatenate([[0.0], q, [1.0]])
    dxs = np.maximum(np.diff([_f(site.dxi, v) for v in ends]), 0.0)
    if math.isfinite(beta):
        mus = np.concatenate([[0.0], beta * np.asarray(x), [beta]])
        fine = 0.3 / beta
    else:
        mus = np.concatenate([[0.0], np.asarray(x)])
        fine = math.sqrt(dxs[-1]) / 1.3 if dxs[-1] > 0 else 0.03 * s1
    widths = np.sqrt(dxs[1:-1][dxs[1:-1] > 1e-4 * s1 * s1]) / 1.3
    fine = min([fine, *widths])
    drift = float(np.sum(mus * dxs))
    dy = dy or float(np.clip(fine, 0.004 * s1, 0.03 * s1 if not math.isfinite(beta) else 0.08 * s1))
    if half_width is not None and half_width < 8.0 * s1:
        raise ParameterError(f"half_width must be at least 8 sqrt(xi'(1)) = {8 * s1:.3g} (the spread "
                             f"of the field), got {half_width}")
    return dy, half_width or (8.0 * s1 + drift + 1.0)


def _reduce(q, x, zero_t: bool, eps: float = 1e-7):
    """Drop the degenerate levels of a step function without changing it: an empty interval
    (q_i = q_{i-1}), two equal neighbouring values, x = 0 on the first interval, x = 1 on the last
    (finite T).  A degenerate optimum (e.g. k-RSB above the AT line, where x = 1 from q_RS) has
    flat directions; the reduced problem has none."""
    q, x = list(map(float, q)), list(map(float, x))
    changed = True
    while changed and x:
        changed = False
        ends = q + ([1.0] if zero_t else [])
        k = len(x)
        for i in range(1, k + 1):                      # interval i = [ends[i-1], ends[i]), value x[i-1]
            if ends[i] - ends[i - 1] < eps:           # empty: drop its right end and value
                del q[i if i < len(q) else i - 1]
                del x[i - 1]
                changed = True
                break
            if i < k and x[i] - x[i - 1] < eps * max(1.0, x[i]):   # equal values: merge
                del q[i]
                del x[i]
                changed = True
                break
        if changed:
            continue
        if x[0] < eps:                                 # x = 0 on the first interval: q_0 moves up
            del q[0]
            del x[0]
            changed = True
        elif not zero_t and x[-1] > 1 - eps:           # x = 1 on the last: the top region grows
            del q[-1]
            del x[-1]
            changed = True
    return np.array(q), np.array(x)


#: a level narrower than this in q, or a step smaller than this in x, is a candidate for pruning
_DEGENERATE = 1e-4


def _prune(model, beta, fit: _Fit, F: KRSBFunctional, gap: float = _DEGENERATE):
    """When a minimisation ends near, or crawls along, a degenerate valley (a level about to
    collapse: e.g. RS approached through m -> 0 or q_1 -> q_0), try the one-level-smaller step
    functions that remove a nearly degenerate level (an interval narrower than _DEGENERATE, two
    values closer than that, x ~ 0 on the first interval or ~ 1 on the last); return the best if
    it is as good as the fit to 1e-11, else None."""
    zero_t, eps = F.zero_t, max(gap, _DEGENERATE)
    q, x = list(fit.q), list(fit.x)
    k = len(x)
    ends = q + ([1.0] if zero_t else [])
    cands = []
    for j in range(1, k):                       # breakpoint ends[j] between intervals j and j+1
        if (ends[j] - ends[j - 1] < eps or ends[j + 1] - ends[j] < eps
                or x[j] - x[j - 1] < _DEGENERATE * max(1.0, x[j])):
            rest_q = q[:j] + q[j + 1:]
            cands += [(rest_q, x[:j] + x[j + 1:]), (rest_q, x[:j - 1] + x[j:])]
    if x[0] < _DEGENERATE or ends[1] - ends[0] < eps:
        cands.append((q[1:], x[1:]))            # x = 0 up to the next level
    if (not zero_t and (x[-1] > 1 - _DEGENERATE or q[-1] - q[-2] < eps)) or (zero_t and 1 - q[-1] < _DEGENERATE):
        cands.append((q[:-1], x[:-1]))          # x = 1 from the level below (T = 0: no top interval)
    best = None
    for cq, cx in cands:
        if not _interior(cq, cx, zero_t, 0.0):
            continue
        val = KRSBFunctional(model, beta, k - 1, F.grid.dy, F.grid.half_width).evaluate(cq, cx, grad=False).value
        if best is None or val < best[0]:
            best = (val, np.array(cq), np.array(cx))
    if best is not None and best[0] <= fit.value + 1e-11 * max(1.0, abs(fit.value)):
        return best[1], best[2]
    return None


def _fit(model, beta, q, x, dy, half_width, tol, maxiter, dy_hint: float | None = None
         ) -> tuple[_Fit, KRSBFunctional]:
    """Minimise on a grid fitted to the solution: the grid is chosen from the start point (and
    ``dy_hint``), and the fit is redone on a finer/wider grid when the optimum needs one (a level
    narrower than the grid spacing, or a larger drift), or without its degenerate levels
    (:func:`_reduce`, :func:`_prune`) when it has some.  The fit may have fewer levels than asked."""
    site = _site_for(model)
    zero_t = not math.isfinite(beta)
    for _ in range(12):
        k = len(x)
        ddy, hw = _grid_for(site, beta, x, q, dy, half_width)
        if dy is None and dy_hint is not None:
            ddy = min(ddy, dy_hint)
        F = KRSBFunctional(model, beta, k, ddy, hw)
        if zero_t and k == 0:
            return _Fit(np.zeros(0), np.zeros(0), F.evaluate([], []).value, 0.0, 0, "RS"), F
        fit = _minimise(F, q, x, tol, maxiter)
        rq, rx = _reduce(fit.q, fit.x, zero_t)
        if len(rx) < k:
            q, x = rq, rx
            continue
        if k and (fit.residual > tol or fit.width_bound or not _interior(fit.q, fit.x, zero_t, _DEGENERATE)):
            pruned = _prune(model, beta, fit, F, 1.01 * (1.3 * ddy) ** 2 / max(_f(site.d2xi, 1.0), 1e-12))
            if pruned is not None:
                q, x = pruned
                continue
        if fit.width_bound and ddy > 0.0045 * math.sqrt(max(_f(site.dxi, 1.0), 1e-12)) and dy is None:
            q, x, dy_hint = fit.q, fit.x, 0.6 * ddy   # a level wants to be narrower: finer grid
            continue
        ndy, nhw = _grid_for(site, beta, fit.x, fit.q, dy, half_width)
        if ndy >= 0.8 * ddy and nhw <= 1.05 * hw:
            break
        q, x, dy_hint = fit.q, fit.x, ndy
    return fit, F


def _hint(zero_t: bool, q, k_old: int, k_new: int) -> float | None:
    """T = 0: the top interval below q = 1 narrows by ~2.5 per doubling of k (measured for SK),
    so the next grid starts fine enough for it instead of being redone."""
    if not zero_t:
        return None
    return math.sqrt(max(1.0 - q[-1], 1e-12)) / (1.3 * 2.5 ** math.log2(k_new / k_old))


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
_NUMERICS = ("dy", "half_width", "tol", "maxiter")


def _numerics(numerics: dict) -> dict:
    bad = set(numerics) - set(_NUMERICS)
    if bad:
        raise ParameterError(f"unknown numerics option(s) {sorted(bad)}; use {', '.join(_NUMERICS)}")
    out = {"dy": None, "half_width": None, "tol": 1e-9, "maxiter": 5000}
    out.update({k: v for k, v in numerics.items() if v is not None})
    for key in ("dy", "half_width", "tol"):
        if out[key] is not None and not (isinstance(out[key], (int, float)) and out[key] > 0):
            raise ParameterError(f"numerics option {key} must be a positive number, got {out[key]!r}")
    return out


def _beta(beta) -> float:
    try:
        b = float(beta)
    except (TypeError, ValueError):
        raise ParameterError(f"beta must be a number (numpy.inf for T = 0), got {beta!r}") from None
    if not b > 0 or math.isnan(b):
        raise ParameterError(f"beta must be > 0 (numpy.inf for T = 0), got {beta!r}")
    return b


def _names(k: int, zero_t: bool) -> tuple[list[str], list[str]]:
    if zero_t:
        return [f"q{i}" for i in range(k)], [f"y{i + 1}" for i in range(k)]
    return [f"q{i}" for i in range(k + 1)], [f"m{i + 1}" for i in range(k)]


def _from_solution(sol: Solution, zero_t: bool):
    """(q, x) of a previous k-RSB or full-RSB solution of the same kind (finite T or T = 0), from
    its profile x(q) or else its order parameters (q0.., m1.. or m; T = 0: q0.., y1.. or y; a
    missing q0 is the engine's symmetric q0 = 0)."""
    ops = dict(sol.order_parameters or {})
    kind = None if sol.T is None else float(sol.T) == 0.0
    if kind is None and any(n[0] in "my" for n in ops):
        kind = any(n[0] == "y" for n in ops)
    if kind is not None and kind != zero_t:
        raise ParameterError("start must be a solution of the same kind (finite T or T = 0) as the solve")
    prof = sol.profile or {}
    if "q" in prof and ("gamma" if zero_t else "x") in prof:
        q = np.array(prof["q"], dtype=float)
        x = np.array(prof["gamma"] if zero_t else prof["x"][:-1], dtype=float)
    else:
        def index(name):
            return int(name[1:]) if name[1:].isdigit() else 1
        qs = {index(n): float(v) for n, v in ops.items() if n[0] == "q" and n[1:].isdigit()}
        qs.setdefault(0, 0.0)
        q = np.array([qs[i] for i in sorted(qs)])
        x = np.array([float(v) for n, v in sorted(ops.items(), key=lambda t: index(t[0])) if n[0] in "my"])
    if not x.size or len(q) != len(x) + (0 if zero_t else 1):
        raise ParameterError("start: not a k-RSB or full-RSB solution (needs q0.., m1.. or y1.., "
                             "or a profile)")
    return q, x


def _merge(q, x, zero_t: bool, k: int):
    """Reduce a step function to k steps by merging the narrowest intervals into a neighbour."""
    q, x = list(q), list(x)
    while len(x) > k:
        ends = q + ([1.0] if zero_t else [])
        w = [ends[i] - ends[i - 1] for i in range(1, len(x) + 1)]
        i = int(np.argmin(w))   # interval i+1 (1-based): drop its right end and its value
        del x[i]
        del q[i + 1 if i + 1 < len(q) else i]
    return np.array(q), np.array(x)


def _solve_path(model: ModelSpec, beta: float, ks: Sequence[int], opts: dict, start=None):
    """k-RSB fits for the increasing sequence ``ks``, each started from the previous one by
    splitting its widest intervals (continuation in k); yields (k, fit, functional)."""
    zero_t = not math.isfinite(beta)
    tol, maxiter = opts["tol"], opts["maxiter"]
    if start is not None:
        q, x = _from_solution(start, zero_t)
        q, x = _merge(q, x, zero_t, ks[0])
        if q[0] == 0.0:   # off the symmetric stationary point q0 = 0 (not always the minimum)
            q[0] = 0.1 * (q[1] if q.size > 1 else 1.0)
        k0 = len(x)
        fit, F = _fit(model, beta, q, x, opts["dy"], opts["half_width"], tol, maxiter)
    else:
        best = None
        for q, x in _one_step_starts(zero_t):
            cand = _fit(model, beta, q, x, opts["dy"], opts["half_width"], tol, maxiter)
            if best is None or cand[0].value < best[0].value:
                best = cand
        fit, F = best
        k0 = 1
    targets = sorted({int(k) for k in ks})
    k = k0
    for target in targets:
        while k < target:
            k_new = min(2 * k, target)
            have = len(fit.x)
            if have == 0:          # RS: there is no level to split
                k = target
                break
            q, x = _split(fit.q, fit.x, zero_t, _widest(fit.q, fit.x, zero_t, min(k_new - have, have)))
            fit, F = _fit(model, beta, q, x, opts["dy"], opts["half_width"], tol, maxiter,
                          _hint(zero_t, fit.q, have, len(x)))
            k = k_new
            if len(fit.x) <= have:  # the new levels collapsed: x(q) has no more steps to resolve
                k = target
        yield target, fit, F


def _solution(model: ModelSpec, beta: float, fit: _Fit, F: KRSBFunctional, ansatz: str,
              notes: list, k: int | None = None) -> Solution:
    """The Solution of a fit; a fit reduced to fewer levels is reported with ``k`` levels, the
    missing ones empty (q repeated; x = 1 at finite T, the last gamma at T = 0)."""
    zero_t = F.zero_t
    p = F.evaluate(fit.q, fit.x, grad=False, extras=True)
    q, x = list(map(float, fit.q)), list(map(float, fit.x))
    k = len(x) if k is None else k
    if len(x) < k:
        notes = notes + [f"the {k}-step solution reduces to {len(x)} step(s)"
                         + (" (replica symmetric)" if not x else "") + "; the other levels are empty"]
        while len(x) < k:
            if zero_t:
                q.append(1.0)
                x.append(x[-1] if x else 0.0)
            else:
                q.append(q[-1])
                x.append(1.0)
    qn, xn = _names(k, zero_t)
    ops = {**dict(zip(qn, q)), **dict(zip(xn, x))}
    if zero_t:
        notes = [*notes, ("T = 0: order parameters are q_0..q_{k-1} (q_k = 1) and y_i = beta m_i; the "
                          "replicon is the rescaled T * lambda_R -> -(4/3) xi''(1) P(0), P the density "
                          "of the local field at zero (0 for full RSB)")]
        return Solution(model=model.name, params=model.public_params(), ansatz=ansatz, T=0.0,
                        free_entropy=None, energy=float(p.energy), entropy=None, order_parameters=ops,
                        replicon=float(p.replicon), converged=True, residual=fit.residual, notes=notes,
                        profile={"q": q, "gamma": x})
    return Solution(model=model.name, params=model.public_params(), ansatz=ansatz, T=1.0 / beta,
                    free_entropy=float(p.value), energy=float(p.energy),
                    entropy=float(p.value + beta * p.energy), order_parameters=ops,
                    replicon=float(p.replicon), converged=True, residual=fit.residual, notes=notes,
                    profile={"q": q, "x": [*x, 1.0]})


def _check(fit: _Fit, opts: dict, what: str) -> None:
    """A fit whose projected gradient did not reach max(100 tol, 1e-7) is not a solution."""
    limit = max(100 * opts["tol"], 1e-7)
    if not fit.residual <= limit:
        raise ConvergenceError(f"{what}: the minimisation stopped with residual {fit.residual:.3g} "
                               f"> {limit:.3g} ({fit.message})", residual=fit.residual)


def solve_krsb(model: ModelSpec, beta: float, k: int, *, start: Solution | None = None,
               **numerics) -> Solution:
    r"""k-RSB solution (the best k-step Parisi function) of an Ising model at inverse temperature
    ``beta`` (``numpy.inf``: the ground state).

    The k-step functional (module docstring) is minimised over all its levels and breakpoints,
    starting from the best 1RSB point (several starts) or from ``start`` (a k'-RSB
    :class:`~replicasym.solution.Solution` of the same kind, k' <= k or merged down to k) and
    continuing in k by splitting levels.  ``numerics``: ``dy`` and ``half_width`` of the field
    grid (chosen from the solution by default), ``tol`` (projected gradient, default 1e-9),
    ``maxiter``.  Raises :class:`~replicasym.errors.ConvergenceError` when the minimisation does
    not converge.  Order parameters: q0..qk and m1..mk (T = 0: q0..q_{k-1} and y_i = beta m_i);
    ``profile`` is the step function x(q) (``{"q", "x"}``, x[i] on [q[i], q[i+1]); T = 0:
    ``{"q", "gamma"}``, gamma[i] on [q[i], q[i+1]) with q_k = 1).
    """
    b = _beta(beta)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be an integer >= 1 (RS is the engine's 'rs' ansatz), got {k!r}")
    opts = _numerics(numerics)
    *_, (_, fit, F) = _solve_path(model, b, [int(k)], opts, start)
    _check(fit, opts, f"k-RSB (k = {k})")
    return _solution(model, b, fit, F, f"krsb:{int(k)}", [], int(k))


def solve_frsb(model: ModelSpec, beta: float, *, k_max: int = 16, value_tol: float = 1e-9,
               **numerics) -> Solution:
    r"""Full-RSB solution: the k-step Parisi function with k doubled (1, 2, 4, ..., ``k_max``)
    until the value changes by less than ``value_tol``.

    Each k is a minimisation over all levels and breakpoints, started from the previous k with every
    level split, so x(q) is refined in place.  The returned value is that of the finest k, a
    Guerra upper bound on Phi (lower bound on E_gs at T = 0).  The notes list the sequence of values
    (the convergence with the number of levels) and the extrapolation of the last three
    (:func:`_richardson`).  Order parameters: q_min, q_max (the support of the Parisi measure,
    q_max = 1 at T = 0); ``profile``: x(q) (T = 0: gamma(q) = beta x(q)).
    The replicon is that of the top level q_max; it tends to 0 from below as k grows (the
    continuous part is marginal).
    """
    b = _beta(beta)
    if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)) or k_max < 2:
        raise ParameterError(f"k_max must be an integer >= 2, got {k_max!r}")
    opts = _numerics(numerics)
    ks = [2 ** i for i in range(int(math.log2(k_max)) + 1)]
    if ks[-1] != k_max:
        ks.append(int(k_max))
    values, used = [], []
    for kk, fit, F in _solve_path(model, b, ks, opts):
        _check(fit, opts, f"full RSB (k = {kk})")
        values.append(fit.value if math.isfinite(b) else -fit.value)
        used.append(kk)
        if len(values) >= 2 and abs(values[-1] - values[-2]) < value_tol:
            break
    what = "Phi" if math.isfinite(b) else "E_gs"
    notes = [f"full RSB as k-step x(q), k doubled: {what}(k) = "
             + ", ".join(f"{k}: {v:.10f}" for k, v in zip(used, values))]
    if len(values) >= 3:
        est, err = _richardson(used, values)
        notes.append(f"extrapolation k -> oo of the last three (Richardson, fitted exponent): "
                     f"{what} = {est:.10f} +- {err:.1e}")
    sol = _solution(model, b, fit, F, "frsb", notes)
    q_min = float(fit.q[0]) if fit.q.size else 1.0   # T = 0 RS: the only overlap is 1
    sol.order_parameters = {"q_min": q_min, "q_max": 1.0 if F.zero_t else float(fit.q[-1])}
    return sol


def _richardson(ks: Sequence[int], values: Sequence[float]) -> tuple[float, float]:
    r"""Extrapolate :math:`V_k = V_\infty + a\,k^{-p}` through the last three points, the exponent p
    fitted (not assumed): for SK the measured local exponent drifts (about 2.3 -> 3.3 at T = 0 and
    2.8 -> 3.6 at T = 0.5 between k = 1 and 16), so neither 1/k^2 nor a fixed 1/k^4 law describes
    the accessible k.  The error is the change of the extrapolation when the triple is shifted down
    by one point (at least 10% of the correction), or the whole correction with only three points.
    """
    k = np.asarray(ks, dtype=float)
    v = np.asarray(values, dtype=float)

    def triple(k3, v3):
        d1, d2 = v3[0] - v3[1], v3[1] - v3[2]
        if d1 * d2 <= 0 or abs(d2) >= abs(d1):
            return v3[2], abs(d2) if d2 else abs(d1)
        ratio = d1 / d2
        g = lambda p: (k3[0] ** -p - k3[1] ** -p) / (k3[1] ** -p - k3[2] ** -p) - ratio
        lo, hi = 0.05, 20.0
        if g(lo) * g(hi) > 0:
            return v3[2], abs(d2)
        p = brentq(g, lo, hi, xtol=1e-12)
        a = d2 / (k3[1] ** -p - k3[2] ** -p)
        return v3[2] - a * k3[2] ** -p, None

    if len(v) < 3:
        raise ParameterError("extrapolation in k needs at least three values of k")
    est, fallback = triple(k[-3:], v[-3:])
    if fallback is not None:
        return float(est), float(fallback)
    corr = abs(est - v[-1])
    if len(v) >= 4:
        prev, fb = triple(k[-4:-1], v[-4:-1])
        err = max(abs(est - prev), 0.1 * corr) if fb is None else corr
    else:
        err = corr
    return float(est), float(err)


def extrapolate_k(model: ModelSpec, beta: float, ks: Sequence[int] = (2, 3, 4, 6, 8), **numerics) -> dict:
    r"""k-RSB values for each k in ``ks`` (free entropy Phi at finite beta, E_gs at
    ``beta = numpy.inf``; each k continued from the previous one) and their extrapolation to
    k -> oo (:func:`_richardson`: a power law :math:`V_\infty + a k^{-p}` through the last three,
    exponent fitted; error from shifting the triple).

    Returns ``{"value", "error", "ks", "values", "quantity"}``.
    """
    b = _beta(beta)
    ks = sorted({int(k) for k in ks})
    if len(ks) < 3 or ks[0] < 1:
        raise ParameterError(f"ks must hold at least three integers >= 1, got {ks!r}")
    opts = _numerics(numerics)
    values = []
    for k, fit, F in _solve_path(model, b, ks, opts):
        _check(fit, opts, f"k-RSB (k = {k})")
        values.append(float(fit.value if math.isfinite(b) else -fit.value))
    value, error = _richardson(ks, values)
    return {"value": value, "error": error, "ks": list(ks), "values": values,
            "quantity": "free_entropy" if math.isfinite(b) else "E_gs"}
