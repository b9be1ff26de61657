r"""Numerics of Yoshino's deep network: the RS layer profile, the transition load of each layer.

The engine's layer blocks (:func:`replicasym.models.yoshino.blocks`) hold Gaussian expectations
nested at most two deep, :math:`\mathbb E_y\,g\big(y, \mathbb E_t f(y,t)\big)` (the neuron's field y
outside, the pre-activation's field t inside).  :class:`Nested` evaluates such an expression batched
over the layers: every expectation is a trapezoidal sum on :math:`|z|\le` :data:`HALF_WIDTH` with
:data:`NODES` nodes per field (geometric convergence for analytic integrands, Trefethen & Weideman,
SIAM Review 56 (2014) 385; the default grid is checked against a grid twice as fine in
tests/test_yoshino.py).

**Profile** (:func:`profile`).  With :math:`q_0 = 1` the stationarity conditions are, per layer,

.. math::
   w'(Q_\ell) + \alpha\,\partial_Q(\text{block}_\ell) = 0,\qquad
   \partial_{\hat q}h_\ell = 0\ \Rightarrow\ q_\ell = F_q,\qquad
   \partial_q h_\ell + \partial_p(\text{block}_{\ell+1}) = 0\ \Rightarrow\ \hat q_\ell = F_{\hat q},

all from the engine (:func:`replicasym.models.yoshino.block_fixed_points`).  They are iterated
(damped sweeps, all layers at once); whenever a sweep moves the overlaps by less than
:data:`POLISH_STEP` (then ten times less than at the last failed try) Newton's method polishes the
iterate, and the result is accepted when the largest residual is below :data:`TOLERANCE` *and* it
attracts the sweeps (every eigenvalue of the Jacobian of the sweep map minus the identity has a
negative real part): a Newton step may land on an unstable branch nearby, e.g. the liquid branch of
a layer past its onset.  Otherwise :class:`~replicasym.errors.ConvergenceError` carries the residual.
The sweeps are slow in two places, which is why a fixed number of them is not enough: next to a
layer's onset (an eigenvalue of the linearised map near 1) and, from a frozen start, while a frozen
chain on the input side dissolves through a bottleneck (a ghost of a saddle-node).  Two starts are
iterated, frozen (every overlap 0.9) and liquid or continued from the previous load; deep nets have
loads where both converge to different stable solutions (depth 10, alpha ~ 4500-5000: the output
front of six frozen layers, and the whole net frozen), and the profile of largest free entropy is
reported with the other one in ``notes``.  A layer whose overlap is below :data:`FROZEN` is reported
liquid.

**Transitions** (:func:`phase`).  A layer's continuous transition is where its liquid branch (its
overlaps exactly 0, followed by Newton) loses stability: the largest eigenvalue of the linearised
stationarity map crosses 0 (:func:`onset`, Brent's method in the bracket of the grid of loads where
the layer first shows :math:`Q_\ell >` :data:`FROZEN`).  Where no such crossing is bracketed the
layer froze discontinuously (the profile of largest free entropy jumped to another branch); that is
reported as a bracket, ``alpha_jump``, not as a transition load.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import sympy as sp
from scipy.optimize import brentq
from scipy.special import log_ndtr

from ..errors import ConvergenceError, ParameterError
from ..symbolic.gaussian import GaussianExpectation
from ..symbolic.saddle import gaussian_simplify

__all__ = [
    "FROZEN",
    "HALF_WIDTH",
    "NODES",
    "TOLERANCE",
    "Nested",
    "YoshinoProfile",
    "phase",
    "profile",
    "scan",
]

NODES = 161
HALF_WIDTH = 10.0
#: the largest stationarity residual of an accepted profile
TOLERANCE = 1e-9
#: the largest change of one sweep of an accepted profile on a grid twice as fine
QUADRATURE_TOL = 1e-8
#: a layer whose weight overlap is below this is reported liquid
FROZEN = 1e-4
#: the most damped sweeps; Newton's method is tried whenever a sweep moves the overlaps by less than
#: POLISH_STEP (then ten times less than at the last failed try)
MAX_SWEEPS = 1500
POLISH_STEP = 1e-3
NEWTON_STEPS = 30
#: an accepted fixed point attracts the sweeps: its Jacobian's eigenvalues have real part < MARGINAL
#: (slightly positive, for the zero mode at a layer's onset)
MARGINAL = 1e-6
#: the liquid start, and the floor of a previous profile's overlaps in continuation
SEED = 1e-2
#: two profiles are the same solution when no weight overlap differs by more than this
COINCIDE = 1e-6
TINY = 1e-30
#: the teacher's Stein-simplified block derivatives keep a removable 1/sqrt(C) against an odd
#: expectation that vanishes only to rounding: its error ~ 1e-16/sqrt(C) (0.003 at C = 1e-30, below
#: 1e-12 for C >= 1e-11), so there the overlaps are shifted by this (an O(1e-11) change of the forces,
#: far below TOLERANCE and FROZEN; a shift, not a floor, keeps the finite differences unbiased)
TEACHER_FLOOR = 1e-11


def _np_log_h(x):
    return log_ndtr(-np.asarray(x, dtype=float))


def _np_mills(x):
    x = np.asarray(x, dtype=float)
    return np.exp(-x * x / 2 - log_ndtr(-x)) / np.sqrt(2 * np.pi)


_MODULES = [{"LogH": _np_log_h, "MillsRatio": _np_mills}, "numpy"]


def _nodes(n: int, half_width: float):
    z = np.linspace(-half_width, half_width, n)
    w = np.exp(-z * z / 2)
    return z, w / w.sum()


def _top_level(expr) -> list:
    """Expectations not inside another expectation."""
    out = []

    def walk(e):
        if isinstance(e, GaussianExpectation):
            if e not in out:
                out.append(e)
            return
        for a in e.args:
            walk(a)
    walk(expr)
    return out


class Nested:
    """``exprs`` (expectations nested at most two deep) as numpy functions of ``args``, batched.

    All expressions are evaluated together: every outer expectation's variable becomes one grid axis
    and every inner one a second axis, and the integrands are lambdified as one list with common
    subexpressions shared (``cse``), so the nested log H's are computed once per call."""

    def __init__(self, exprs, args, nodes: int = NODES, half_width: float = HALF_WIDTH):
        exprs = [sp.sympify(e) for e in exprs]
        self.args = tuple(args)
        self.z, self.w = _nodes(nodes, half_width)
        y0, t0 = sp.Dummy("y0", real=True), sp.Dummy("t0", real=True)
        outer = []
        for e in exprs:
            outer += [o for o in _top_level(e) if o not in outer]
        inner, integrands = [], []
        for o in outer:
            for i in _top_level(o.integrand):
                if _top_level(i.integrand):
                    raise ParameterError("expectations nested more than two deep are not supported")
                std = sp.Subs(i.integrand, (o.variable, i.variable), (y0, t0)).doit()
                if (std, o.variable) not in inner:
                    inner.append((std, o.variable))
        inner_d = [sp.Dummy(f"I{k}") for k in range(len(inner))]
        for o in outer:
            g = o.integrand.xreplace({i: inner_d[inner.index((sp.Subs(i.integrand, (o.variable, i.variable),
                                                                      (y0, t0)).doit(), o.variable))]
                                      for i in _top_level(o.integrand)})
            integrands.append(g.subs(o.variable, y0))
        outer_d = [sp.Dummy(f"E{k}") for k in range(len(outer))]
        self._inner = sp.lambdify([*self.args, y0, t0], [f for f, _ in inner], modules=_MODULES, cse=True)
        self._mid = sp.lambdify([*self.args, y0, *inner_d], integrands, modules=_MODULES, cse=True)
        self._outer = sp.lambdify([*self.args, *outer_d], [e.xreplace(dict(zip(outer, outer_d))) for e in exprs],
                                  modules=_MODULES, cse=True)
        self._n_inner, self.size = len(inner), len(exprs)

    def __call__(self, *values) -> list:
        vals = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))
        shape = vals[0].shape
        z, w = self.z, self.w
        with np.errstate(all="ignore"):
            inner = []
            if self._n_inner:
                full = (*shape, z.size, z.size)
                inner = [np.broadcast_to(a, full) @ w for a in
                         self._inner(*(v[..., None, None] for v in vals), z[:, None], z[None, :])]
            mids = [np.broadcast_to(a, (*shape, z.size)) @ w
                    for a in self._mid(*(v[..., None] for v in vals), z, *inner)]
            outs = self._outer(*vals, *mids)
        return [np.broadcast_to(np.asarray(o, dtype=float), shape) for o in outs]


@dataclass
class YoshinoProfile:
    """The RS layer profile at one load: ``Q`` (layers 1..L), ``q`` (neuron layers 0..L, clamped ends
    1), ``qhat`` (hidden layers 1..L-1), ``replicon`` per weight layer (random data).  Teacher-student:
    on the Nishimori line the student-student overlaps equal the student-teacher ones, so ``Q`` is the
    weight overlap with the teacher R_l and ``q`` the neuron overlap r_l
    (``as_dict`` also names them ``teacher_overlap``)."""

    params: dict
    alpha: float
    free_entropy: float
    Q: list
    q: list
    qhat: list
    replicon: list
    residual: float
    sweeps: int
    converged: bool = True
    notes: list = field(default_factory=list)

    @property
    def frozen(self) -> list:
        """Per weight layer: frozen (solid, Q > FROZEN) or liquid."""
        return [Q > FROZEN for Q in self.Q]

    @property
    def thickness(self) -> tuple:
        """Frozen weight layers adjacent to the input and to the output boundary."""
        fr = self.frozen
        left = next((i for i, f in enumerate(fr) if not f), len(fr))
        right = next((i for i, f in enumerate(reversed(fr)) if not f), len(fr))
        return left, right

    @property
    def order_parameters(self) -> dict:
        out = {f"Q_{i + 1}": v for i, v in enumerate(self.Q)}
        out.update({f"q_{i}": self.q[i] for i in range(1, len(self.q) - 1)})
        out.update({f"qhat_{i + 1}": v for i, v in enumerate(self.qhat)})
        return out

    @property
    def entropy(self):
        return self.free_entropy

    def as_dict(self) -> dict:
        rep = [None if r is None else float(r) for r in self.replicon]
        return {"model": "yoshino", "params": self.params, "ansatz": "rs", "T": None, "alpha": self.alpha,
                "free_entropy": self.free_entropy, "energy": None, "entropy": self.free_entropy,
                "order_parameters": self.order_parameters,
                "replicon": min((r for r in rep if r is not None), default=None),
                "converged": self.converged, "residual": self.residual,
                "profile": {"layer": list(range(1, len(self.Q) + 1)), "Q": self.Q, "q": self.q,
                            "qhat": self.qhat, "replicon": rep, "frozen": self.frozen},
                "thickness": {"input": self.thickness[0], "output": self.thickness[1]},
                **({"teacher_overlap": {"R": self.Q, "r": self.q}} if self.params.get("scenario") == "teacher"
                   else {}),
                "notes": list(self.notes)}


class _Numerics:
    """The compiled block expressions of one (closure, scenario, kappa)."""

    _CACHE: ClassVar[dict] = {}

    def __new__(cls, closure: str, teacher: bool, nodes: int = NODES, half_width: float = HALF_WIDTH):
        key = (closure, teacher, nodes, half_width)
        if key not in cls._CACHE:
            obj = super().__new__(cls)
            obj._build(closure, teacher, nodes, half_width)
            cls._CACHE[key] = obj
        return cls._CACHE[key]

    def _build(self, closure: str, teacher: bool, nodes: int, half_width: float):
        from ..models.yoshino import KAPPA, P_IN, Q_HAT, Q_OUT, Q_W, block_fixed_points, blocks
        b, _ = blocks(closure, teacher)
        self.teacher = teacher
        self.floor = TEACHER_FLOOR if teacher else TINY
        fp = block_fixed_points(b)
        X = sp.Symbol("X", real=True)
        h_args = (Q_W, P_IN, Q_HAT, Q_OUT, KAPPA)
        o_args = (Q_W, P_IN, KAPPA)

        def d(expr, v):
            return gaussian_simplify(sp.diff(expr, v))
        qh0, cX = fp["qhat"].subs(X, 0), sp.diff(fp["qhat"], X)
        if cX.free_symbols:
            raise ParameterError("the conjugate's fixed point is not linear in the next layer's force")
        self.cX = float(cX)
        #: hidden blocks: dPhi/dQ, dPhi/dp, the fixed points of q and (without X) of qhat
        self.hid = Nested([d(b.hidden, Q_W), d(b.hidden, P_IN), gaussian_simplify(fp["q"]),
                           gaussian_simplify(qh0)], h_args, nodes, half_width)
        self.out = Nested([d(b.output, Q_W), d(b.output, P_IN)], o_args, nodes, half_width)
        self.phi = (Nested([b.hidden], h_args, nodes, half_width), Nested([b.output], o_args, nodes, half_width))
        self.w = sp.lambdify([Q_W], b.weights, "numpy")
        self.w1 = sp.lambdify([Q_W], fp["W1"], "numpy")
        self.rep = None
        if b.replicon_hidden is not None:
            self.rep = (Nested([b.replicon_hidden], h_args, nodes, half_width),
                        Nested([b.replicon_output], o_args, nodes, half_width))


def _solve_Q(num: _Numerics, F: np.ndarray) -> np.ndarray:
    """The weight overlap with w'(Q) = F on [0, 1) by bisection (w' is monotone: the entropy of the
    sphere is concave in Q); 0 where the force points to Q < 0.  Bisection, not the closed-form
    root of the quadratic, which loses every digit of a small Q to cancellation."""
    lo, hi = np.zeros_like(F), np.full_like(F, 1 - 1e-15)
    sign = np.sign(num.w1(np.full_like(F, 0.5)) - num.w1(np.zeros_like(F)))
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        up = sign * (num.w1(mid) - F) < 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def _floored(num: _Numerics, x):
    """Overlaps as the blocks are evaluated: floored at TINY, or for the teacher shifted by
    TEACHER_FLOOR (see there)."""
    return np.maximum(x, TINY) if num.floor == TINY else np.maximum(x, 0.0) + num.floor


def _sweep(num: _Numerics, alpha: float, kappa: float, Q, q, qh):
    """One Jacobi update of every layer; returns the proposed (Q, q, qh)."""
    L = Q.size
    # the Stein-simplified derivatives hold removable factors like sqrt(qhat)/sqrt(qhat): evaluate at
    # overlaps floored at TINY (exact to double precision; no cancellation is involved; the teacher's
    # blocks at TEACHER_FLOOR, see there)
    Qe, qe, qhe = _floored(num, Q), _floored(num, q), np.maximum(qh, TINY)
    prev = np.concatenate([[1.0], qe])      # q_0 .. q_{L-1}
    k = np.full(L - 1, kappa)
    if L > 1:
        hi = (Qe[:-1], prev[:-1], qhe, qe, k)
        dQ_h, dp_h, q_new, qh0 = num.hid(*hi)
    dQ_o, dp_o = (np.atleast_1d(v) for v in num.out(Qe[-1], prev[-1], kappa))
    F = -alpha * (np.concatenate([dQ_h, dQ_o]) if L > 1 else dQ_o)
    Q_new = _solve_Q(num, np.atleast_1d(F))
    if L == 1:
        return Q_new, q, qh
    X = np.concatenate([dp_h[1:], dp_o])   # d/dp of the next layer's block
    qh_new = qh0 + num.cX * X
    return Q_new, np.clip(q_new, 0.0, 1.0), np.maximum(qh_new, 0.0)


def _jacobian(G, x, g, layer, kind) -> np.ndarray:
    """Forward differences of ``G`` at ``x`` in 9 colours (layer mod 3 x variable kind): a layer's
    update reads only its neighbours, so every third layer is perturbed at once."""
    J = np.zeros((x.size, x.size))
    for colour in range(3):
        for kd in range(3):
            cols = np.flatnonzero((layer % 3 == colour) & (kind == kd))
            if cols.size == 0:
                continue
            h = 1e-7 * np.maximum(1.0, np.abs(x[cols]))
            xp = x.copy()
            xp[cols] += h
            dg = G(xp) - g
            for c, hc in zip(cols, h):
                rows = np.flatnonzero(np.abs(layer - layer[c]) <= 1)
                J[rows, c] = dg[rows] / hc
    return J


def _layout(L: int):
    """The layer index and the kind (0: Q, 1: q, 2: qhat) of every unknown."""
    return (np.concatenate([np.arange(L), np.arange(L - 1), np.arange(L - 1)]),
            np.concatenate([np.zeros(L, int), np.ones(L - 1, int), np.full(L - 1, 2)]))


def _polish(num, alpha, kappa, Q, q, qh):
    """Newton's method on the fixed-point map :math:`x = S(x)` (S: one sweep), with the Jacobian by
    finite differences in 9 colours: a layer's update reads only its neighbours, so perturbing every
    third layer at once gives separate columns.  Removes the critical slowing down of the sweeps."""
    L = Q.size
    layer, kind = _layout(L)

    def clip(x):
        return np.concatenate([np.clip(x[:L], 0, 1 - 1e-15), np.clip(x[L:2 * L - 1], 0, 1),
                               np.maximum(x[2 * L - 1:], 0)])

    def G(x):
        Qn, qn, qhn = _sweep(num, alpha, kappa, x[:L], x[L:2 * L - 1], x[2 * L - 1:])
        return np.concatenate([Qn, qn, qhn]) - x

    x = clip(np.concatenate([Q, q, qh]))
    g = G(x)
    for _ in range(NEWTON_STEPS):
        if np.max(np.abs(g)) < 1e-3 * TOLERANCE:
            break
        J = _jacobian(G, x, g, layer, kind)
        try:
            step = np.linalg.solve(J, -g)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-4:
            xn = clip(x + t * step)
            gn = G(xn)
            if np.max(np.abs(gn)) < np.max(np.abs(g)):
                break
            t *= 0.5
        else:
            break
        x, g = xn, gn
    return x[:L], x[L:2 * L - 1], x[2 * L - 1:]


def _residual(num, alpha, kappa, Q, q, qh) -> float:
    _, qn, qhn = _sweep(num, alpha, kappa, Q, q, qh)
    L = Q.size
    Qe, qe, qhe = _floored(num, Q), _floored(num, q), np.maximum(qh, TINY)
    prev = np.concatenate([[1.0], qe])
    F = np.concatenate([num.hid(Qe[:-1], prev[:-1], qhe, qe, np.full(L - 1, kappa))[0] if L > 1 else [],
                        np.atleast_1d(num.out(Qe[-1], prev[-1], kappa)[0])])
    rQ = num.w1(Q) + alpha * F      # dPhi/dQ_l (up to the sign of the blocks' force)
    parts = [np.abs(rQ * (1 - Q) ** 2), np.abs(qn - q), np.abs(qhn - qh) / (1 + qh)]
    return float(max(np.max(p) if p.size else 0.0 for p in parts))


def _stable(num, alpha, kappa, Q, q, qh) -> bool:
    """Whether the fixed point is an attractor of the damped sweeps: every eigenvalue of the Jacobian
    of :math:`S(x) - x` (S: one sweep) has a negative real part (:data:`MARGINAL` allowed)."""
    L = Q.size
    x = np.concatenate([Q, q, qh])

    def G(x):
        return np.concatenate(_sweep(num, alpha, kappa, x[:L], x[L:2 * L - 1], x[2 * L - 1:])) - x
    J = _jacobian(G, x, G(x), *_layout(L))
    return bool(np.max(np.linalg.eigvals(J).real) < MARGINAL)


def _iterate(num, alpha, kappa, Q, q, qh):
    """Damped sweeps from (Q, q, qh), with Newton tries (module docstring): the converged, stable
    fixed point, its residual and the number of sweeps; :class:`ConvergenceError` otherwise."""
    damp, threshold, res = 0.5, POLISH_STEP, float("inf")
    for sweep in range(1, MAX_SWEEPS + 1):
        Qn, qn, qhn = _sweep(num, alpha, kappa, Q, q, qh)
        step = max(np.max(np.abs(Qn - Q)), np.max(np.abs(qn - q), initial=0.0),
                   np.max(np.abs(qhn - qh) / (1 + qh), initial=0.0))
        if not np.isfinite(step):
            raise ConvergenceError(f"yoshino: the profile iteration produced non-finite values at alpha = {alpha:g}",
                                   residual=float("nan"))
        Q, q, qh = (1 - damp) * Q + damp * Qn, (1 - damp) * q + damp * qn, (1 - damp) * qh + damp * qhn
        if step < threshold or sweep == MAX_SWEEPS:
            # Newton from here; accepted only if it lands on an attractor of the sweeps (not on an
            # unstable branch nearby); otherwise sweep on and try again ten times closer
            Qp, qp, qhp = _polish(num, alpha, kappa, Q, q, qh)
            res = _residual(num, alpha, kappa, Qp, qp, qhp)
            if res < TOLERANCE and _stable(num, alpha, kappa, Qp, qp, qhp):
                return Qp, qp, qhp, res, sweep
            threshold = step / 10
    raise ConvergenceError(f"yoshino: the RS layer profile did not converge at alpha = {alpha:g} "
                           f"(depth {Q.size}, {MAX_SWEEPS} sweeps)", residual=res)


def _quadrature_error(model, alpha: float, p: YoshinoProfile) -> float:
    """The largest change of one sweep of the converged profile ``p`` when every expectation is taken
    on a grid twice as fine and wider (:data:`QUADRATURE_TOL` bounds it)."""
    teacher, kappa = model.scenario == "teacher", float(model.kappa)
    x = (np.array(p.Q), np.array(p.q[1:-1]), np.array(p.qhat))
    coarse = _sweep(_Numerics(model.closure, teacher), alpha, kappa, *x)
    fine = _sweep(_Numerics(model.closure, teacher, 2 * NODES - 1, HALF_WIDTH + 2), alpha, kappa, *x)
    return float(max(np.max(np.abs(a - b), initial=0.0) for a, b in zip(coarse, fine)))


def profile(model, alpha: float, start=None) -> YoshinoProfile:
    """The RS layer profile of ``model`` at load ``alpha``: the stable fixed points reached from a
    frozen start (every overlap 0.9) and from ``start`` (a previous profile, its overlaps raised to at
    least :data:`SEED`) or, without one, from a liquid start (every overlap :data:`SEED`); where they differ (two stable RS
    solutions coexist) the one of largest free entropy, the other recorded in ``notes``."""
    num = _Numerics(model.closure, model.scenario == "teacher")
    L, kappa = model.depth, float(model.kappa)
    starts = [(np.full(L, 0.9), np.full(L - 1, 0.9), np.full(L - 1, 5.0))]
    if start is not None:
        starts.append(tuple(np.maximum(np.array(v, float), SEED) for v in (start.Q, start.q[1:-1], start.qhat)))
    else:
        starts.append((np.full(L, SEED), np.full(L - 1, SEED), np.full(L - 1, SEED)))
    found, failure = [], None
    for Q, q, qh in starts:
        try:
            Q, q, qh, res, sweeps = _iterate(num, alpha, kappa, Q, q, qh)
        except ConvergenceError as exc:
            failure = exc
            continue
        if all(np.max(np.abs(Q - p.Q)) > COINCIDE for p in found):
            found.append(_finish(model, num, alpha, Q, q, qh, res, sweeps))
    if failure is not None or not found:
        # a start that converges nowhere may hide a solution: never report the others silently
        raise failure
    best = max(found, key=lambda p: p.free_entropy)
    err = _quadrature_error(model, alpha, best)
    if not err < QUADRATURE_TOL:
        C = np.array(best.Q) * np.array(best.q[:-1])
        raise ConvergenceError(f"yoshino: the quadrature grid does not resolve the profile at alpha = {alpha:g} "
                               f"(a layer is nearly frozen, 1 - Q_l q_(l-1) = {np.min(1 - C):.3g}: the constraint "
                               f"is a step of width {np.sqrt(np.min(1 - C)):.3g} against node spacing "
                               f"{2 * HALF_WIDTH / (NODES - 1):.3g})", residual=err)
    for p in found:
        if p is not best:
            best.notes.append(f"a second stable RS profile coexists (frozen layers {sum(p.frozen)}, free "
                              f"entropy {p.free_entropy:.10g} < {best.free_entropy:.10g}): metastable")
    return best


def _finish(model, num, alpha, Q, q, qh, res, sweeps) -> YoshinoProfile:
    L, kappa = model.depth, float(model.kappa)
    prev = np.concatenate([[1.0], q])
    k = np.full(L - 1, kappa)
    phi = float(np.sum(num.w(Q)) + alpha * (np.sum(num.phi[0](Q[:-1], prev[:-1], qh, q, k)[0]) if L > 1 else 0.0)
                + alpha * float(num.phi[1](Q[-1], prev[-1], kappa)[0]))
    rep: list = [None] * L
    notes = []
    if num.rep is not None:
        gam = np.concatenate([num.rep[0](Q[:-1], prev[:-1], qh, q, k)[0] if L > 1 else [],
                              np.atleast_1d(num.rep[1](Q[-1], prev[-1], kappa)[0])])
        rep = [float(v) for v in 1 - alpha * (1 - Q) ** 2 * gam]
        if min(rep) < 0:
            notes.append("a layer's weight replicon is negative: RS is unstable there (glassy layer needs RSB)")
    else:
        notes.append("teacher-student on the Nishimori line: RS is exact (no replicon needed)")
    return YoshinoProfile(model.public_params(), alpha, phi, [float(v) for v in Q],
                          [1.0, *[float(v) for v in q], 1.0], [float(v) for v in qh], rep, res, sweeps,
                          notes=notes)


def scan(model, alphas, stop: list | None = None) -> list[YoshinoProfile]:
    """Profiles along ``alphas``, each from the frozen start and by continuation from the previous one
    (:func:`profile`).  With a list ``stop``, the scan ends at the first load that raises
    :class:`~replicasym.errors.ConvergenceError` and appends ``{"alpha", "reason", "residual"}`` to
    ``stop`` (the profiles before it are returned); without it the error propagates."""
    out: list = []
    for a in alphas:
        try:
            out.append(profile(model, a, start=out[-1] if out else None))
        except ConvergenceError as exc:
            if stop is None or not out:
                raise
            stop.append({"alpha": float(a), "reason": str(exc), "residual": exc.residual})
            break
    return out


def _jacobian_growth(num, alpha, kappa, x, L) -> tuple[np.ndarray, float]:
    """Newton-polish ``x`` at ``alpha`` keeping exact zeros (the liquid branch of the liquid layers)
    and return it with the largest real part of the eigenvalues of the fixed-point map's Jacobian
    minus the identity: negative where the damped sweeps converge, 0 at a continuous transition."""
    zero = x == 0
    Q, q, qh = _polish(num, alpha, kappa, x[:L], x[L:2 * L - 1], x[2 * L - 1:])
    y = np.concatenate([Q, q, qh])
    y[zero] = 0.0

    def G(x):
        return np.concatenate(_sweep(num, alpha, kappa, x[:L], x[L:2 * L - 1], x[2 * L - 1:])) - x
    J = _jacobian(G, y, G(y), *_layout(L))
    return y, float(np.max(np.linalg.eigvals(J).real))


def _liquid_branch(p: YoshinoProfile) -> np.ndarray:
    """The unknowns of ``p`` with its liquid overlaps set exactly to 0."""
    x = np.concatenate([p.Q, p.q[1:-1], p.qhat])
    x[np.abs(x) < FROZEN] = 0.0
    return x


def _growth_at(model, alpha: float, liquid: YoshinoProfile) -> float:
    """The growth rate of the liquid branch of ``liquid`` followed to ``alpha`` (:func:`_jacobian_growth`);
    nan where that branch does not reach ``alpha``."""
    num, L, kappa = _Numerics(model.closure, model.scenario == "teacher"), model.depth, float(model.kappa)
    y, growth = _jacobian_growth(num, alpha, kappa, _liquid_branch(liquid), L)
    if not _residual(num, alpha, kappa, y[:L], y[L:2 * L - 1], y[2 * L - 1:]) < TOLERANCE:
        return float("nan")         # the branch does not reach alpha (it ended at a saddle-node)
    return growth


def onset(model, layer: int, a_lo: float, a_hi: float, liquid_at_lo: YoshinoProfile) -> float:
    r"""The load in (a_lo, a_hi) where weight layer ``layer`` (1-based) starts to freeze: the liquid
    branch of that layer (followed from ``liquid_at_lo`` with its liquid overlaps exactly 0) loses
    stability, the largest eigenvalue of the linearised stationarity map crosses 0 (Brent's method)."""
    num = _Numerics(model.closure, model.scenario == "teacher")
    L, kappa = model.depth, float(model.kappa)
    x0 = _liquid_branch(liquid_at_lo)
    state = {"x": x0}

    def f(a):
        y, g = _jacobian_growth(num, a, kappa, state["x"], L)
        state["x"] = y
        return g
    f_lo, f_hi = f(a_lo), f(a_hi)
    if not (f_lo < 0 < f_hi):
        raise ConvergenceError(f"yoshino: no loss of stability of layer {layer} bracketed in "
                               f"[{a_lo:g}, {a_hi:g}]", residual=float(min(abs(f_lo), abs(f_hi))))
    state["x"] = x0
    return float(brentq(f, a_lo, a_hi, xtol=1e-12, rtol=1e-7))


def _forced_at_zero(model, alpha: float) -> np.ndarray:
    """Per weight layer: whether the all-liquid point (every overlap 0) is *not* stationary for it, i.e.
    the layer's overlap is forced from alpha = 0 on (depth 1: Gardner's Q, the teacher's R)."""
    num, L = _Numerics(model.closure, model.scenario == "teacher"), model.depth
    Q, _, _ = _sweep(num, alpha, float(model.kappa), np.zeros(L), np.zeros(L - 1), np.zeros(L - 1))
    return Q > FROZEN


def _first_boundary(onsets: list) -> str | None:
    """The boundary whose adjacent weight layer has the lowest transition load."""
    a_in, a_out = onsets[0], onsets[-1]
    if a_in is None and a_out is None:
        return None
    if len(onsets) == 1 or (a_in is not None and a_out is not None and abs(a_in - a_out) <= 1e-6 * a_out):
        return "both"
    if a_out is None or (a_in is not None and a_in < a_out):
        return "input"
    return "output"


def phase(model, alphas=None) -> dict:
    """Transition load of every weight layer on a geometric grid of loads (refined by :func:`onset`),
    the frozen thickness at each side along the grid, and the profiles.

    The scan ends at the first load the solver cannot resolve (after at least one solved load; e.g.
    a teacher-student net close to perfect generalisation, where the quadrature refuses the nearly
    frozen layers): that load and the reason are reported under ``scan_stopped``, and layers not yet
    frozen there have ``alpha_transition`` null.  A layer frozen at the first load whose overlap is
    forced from alpha = 0 on (no liquid branch: depth 1) has ``alpha_transition`` 0."""
    if alphas is None:
        alphas = np.geomspace(1.0, 30.0 * model.depth, int(4 * np.log(30 * model.depth)) + 1)
    stopped: list = []
    profiles = scan(model, [float(a) for a in alphas], stop=stopped)
    alphas = [p.alpha for p in profiles]
    L = model.depth
    onsets: list = [None if not (fr and forced) else 0.0
                    for fr, forced in zip(profiles[0].frozen, _forced_at_zero(model, alphas[0]))]
    jumps: dict = {}
    for k in range(1, len(alphas)):
        before, after = profiles[k - 1].frozen, profiles[k].frozen
        for ell in range(L):
            if after[ell] and not before[ell] and onsets[ell] is None and ell + 1 not in jumps:
                if not _growth_at(model, alphas[k], profiles[k - 1]) > 0:
                    # the liquid branch is still stable (or gone) where the layer is found frozen: a jump
                    jumps[ell + 1] = [alphas[k - 1], alphas[k]]
                    continue
                onsets[ell] = onset(model, ell + 1, alphas[k - 1], alphas[k], profiles[k - 1])
    thick = [p.thickness for p in profiles]
    teacher = model.scenario == "teacher"
    what = ("weight overlap with the teacher R_l = Q_l (Nishimori line: student-student overlaps equal "
            "student-teacher overlaps)" if teacher else "weight overlap")
    notes = [(f"RS throughout; a transition is the continuous onset of a layer's {what} "
              "(the linearised stationarity map at that layer's liquid branch has a zero mode)"),
             f"layers still liquid at alpha = {alphas[-1]:g} have alpha_transition null",
             ("alpha_jump: layer -> [a, b], the layer froze discontinuously between the grid loads a and b "
              "(its liquid branch was still stable at b, or gone; another branch had the larger free "
              "entropy)")]
    if stopped:
        notes.append(f"the scan stopped at alpha = {stopped[0]['alpha']:g}: {stopped[0]['reason']}")
    return {"model": "yoshino", "params": model.public_params(), "ansatz": "rs",
            "alpha_transition": onsets,
            "first_transition": min((a for a in onsets if a is not None), default=None),
            "first_boundary": _first_boundary(onsets),
            "alpha_jump": jumps,
            "scan_stopped": stopped[0] if stopped else None,
            "scan": {"alpha": alphas, "thickness_input": [t[0] for t in thick],
                     "thickness_output": [t[1] for t in thick], "Q": [p.Q for p in profiles],
                     "q": [p.q for p in profiles]},
            "transition": "crystalline (teacher-student)" if teacher else "glass",
            "notes": notes}
