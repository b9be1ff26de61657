r"""k-RSB and full-RSB (Parisi) solutions of spherical mixed p-spin models, at T > 0 and T = 0.

The free entropy of a Parisi function x(q) is the Crisanti--Sommers functional
(:mod:`.crisanti_sommers`); it is convex in x and the Parisi formula is its minimum (Talagrand,
PTRF 134 (2006) 339; at T = 0 the Chen--Sen functional, CMP 350 (2017) 129).  Hence:

* :func:`solve_krsb` -- minimise over step functions with k + 1 steps (levels
  :math:`q_0 \le \dots \le q_k`, breakpoints :math:`0 \le m_1 \le \dots \le m_k \le 1`; at T = 0
  :math:`\chi = \beta(1-q_k)`, :math:`y_i = \beta m_i`) by projected Newton
  (:mod:`.projected_newton`) on the analytic O(k) gradient, in variables that make the ordering a
  box (:math:`1-q_i = e^{-\sum_{j\le i}w_j}`, :math:`w\ge0`; likewise for the m's), with
  continuation in k: up to k = 4 every one-level split of the k-RSB optimum is tried, beyond that
  the cells are halved (k -> 2k).  When the extra levels bring nothing (pure p-spin beyond 1RSB)
  levels merge or the m's coincide.
* :func:`solve_frsb` -- the minimiser over all x.  On an interval where the Parisi measure has a
  continuous part, stationarity :math:`\beta^2\xi'(q) = \int_0^q dp/\lambda(p)^2` differentiated
  twice gives the closed form

  .. math:: \lambda(q) = \frac{1}{\beta\sqrt{\xi''(q)}},\qquad
            x(q) = \frac{\xi'''(q)}{2\beta\,\xi''(q)^{3/2}},

  admissible where it increases, i.e. where :math:`\xi''^{-1/2}` is concave (Crisanti & Sommers
  1992; Talagrand 2006).  The lower edge solves :math:`\xi'(q_m) = q_m\xi''(q_m)`; the solver tries
  the structures "continuous part [q_m, q_c] + one flat step m up to q_M" (pure FRSB when the step
  is empty, Crisanti & Leuzzi's 1-FRSB otherwise) and the atomic ones (RS, 1RSB, 2RSB), solves
  their boundary conditions with Newton, and accepts the structure that satisfies the global
  optimality condition of the convex problem
  (:meth:`.crisanti_sommers.ParisiFunction.optimality_gap`).  If none does, the large-k
  numerical optimum is returned with a note.
* :func:`extrapolate_k` -- k-RSB values at increasing k extrapolated to k -> oo (Richardson, with
  the convergence exponent estimated from the data) with an error estimate.

``beta = numpy.inf`` is T = 0 throughout.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError, ParameterError
from ..models.spec import ModelSpec
from ..solution import Solution
from . import crisanti_sommers as cs
from .projected_newton import minimise_box

__all__ = ["extrapolate_k", "solve_frsb", "solve_krsb"]

#: largest accepted projected gradient of a k-RSB optimum
_KKT_TOL = 1e-7


# ---------------------------------------------------------------------------------------------
# step functions <-> box variables
# ---------------------------------------------------------------------------------------------
@dataclass
class _Steps:
    """A k-RSB step function.  T > 0: levels ``q`` (k+1), ``gap`` = 1 - q_k, breakpoints ``m`` (k).
    T = 0: levels ``q`` (k; q_k = 1 is implicit), ``gap`` = chi, slopes ``m`` = y_1..y_k."""

    q: np.ndarray
    gap: float
    m: np.ndarray

    @property
    def k(self) -> int:
        return len(self.m)


def _unpack(z: np.ndarray, k: int, ground: bool):
    """Box variables (rows of ``z``) -> (levels, gap, breakpoints) and the factors dq/dW, dm/dS."""
    if ground:
        W, S = np.cumsum(z[..., 1:k + 1], axis=-1), np.cumsum(z[..., k + 1:], axis=-1)
        tail = np.exp(-W)
        return -np.expm1(-W), np.exp(z[..., 0]), S, tail, np.ones_like(S)
    W, S = np.cumsum(z[..., :k + 1], axis=-1), np.cumsum(z[..., k + 1:], axis=-1)
    tail, mtail = np.exp(-W), np.exp(-S)
    return -np.expm1(-W), tail[..., -1], -np.expm1(-S), tail, mtail


def _steps(z: np.ndarray, k: int, ground: bool) -> _Steps:
    q, gap, m, _, _ = _unpack(z, k, ground)
    return _Steps(q, float(gap), m)


def _pack(st: _Steps, ground: bool) -> np.ndarray:
    q = np.clip(st.q, 0.0, 1 - 1e-15)
    w = np.maximum(np.diff(-np.log1p(-q), prepend=0.0), 0.0)
    if ground:
        return np.concatenate([[math.log(st.gap)], w, np.maximum(np.diff(st.m, prepend=0.0), 0.0)])
    w[-1] = max(-math.log(st.gap) - float(np.sum(w[:-1])), 0.0)
    m = np.clip(st.m, 0.0, 1 - 1e-15)
    return np.concatenate([w, np.maximum(np.diff(-np.log1p(-m), prepend=0.0), 0.0)])


def _cells(q, m, ground: bool):
    """Cell boundaries b and values v of the step function (x = 0 below q_0); rows batch."""
    zero = np.zeros_like(m[..., :1]) if m.shape[-1] else np.zeros(q.shape[:-1] + (1,))
    v = np.concatenate([zero, m], axis=-1)
    if ground:
        return np.concatenate([q, np.ones(q.shape[:-1] + (1,))], axis=-1), v
    return q, v


def _rcumsum(a: np.ndarray) -> np.ndarray:
    return np.flip(np.cumsum(np.flip(a, -1), axis=-1), -1)


def _objective(z: np.ndarray, xi: cs.Covariance, beta: float, k: int, ground: bool):
    """(values, gradients in z) for rows of z: Phi at T > 0, the Chen-Sen functional at T = 0
    (both minimised)."""
    q, gap, m, tail, mtail = _unpack(z, k, ground)
    b, v = _cells(q, m, ground)
    if ground:
        val, dchi, db, dv = cs.ground_functional(xi, gap, b, v)
        return val, np.concatenate([(dchi * gap)[..., None], _rcumsum(db[..., :-1] * tail),
                                    _rcumsum(dv[..., 1:])], axis=-1)
    val, db, dv = cs.free_entropy(xi, beta, b, v, gap=gap)
    return val, np.concatenate([_rcumsum(db * tail), _rcumsum(dv[..., 1:] * mtail)], axis=-1)


def _minimise(xi, beta, st: _Steps, ground: bool, tol: float = 1e-13):
    """Minimise over the box variables from ``st`` (:func:`.projected_newton.minimise_box`);
    returns (steps, value, projected gradient)."""
    k = st.k
    z0 = _pack(st, ground)
    lo = np.zeros(z0.size)
    if ground:
        lo[0] = -np.inf  # log chi

    def fg(rows):
        with np.errstate(all="ignore"):
            return _objective(rows, xi, beta, k, ground)
    z, f, pg = minimise_box(fg, z0, lo, tol=tol)
    return _steps(z, k, ground), f, pg


# ---------------------------------------------------------------------------------------------
# k-RSB with continuation in k
# ---------------------------------------------------------------------------------------------
def _first(xi, beta, k: int, ground: bool) -> tuple[_Steps, float, float]:
    """The best of a small grid of starts at k = 0 or 1."""
    best = None
    if k == 0:
        starts = ([_Steps(np.zeros(0), 1.0, np.zeros(0))] if ground else
                  [_Steps(np.array([q]), 1 - q, np.zeros(0)) for q in (0.3, 0.9)])
    elif ground:
        starts = [_Steps(np.array([q]), chi, np.array([y])) for q in (0.0, 0.5) for chi in (0.3, 1.0)
                  for y in (0.5, 2.0)]
    else:
        starts = [_Steps(np.array([0.0, q]), 1 - q, np.array([m])) for q in (0.5, 0.9, 0.99)
                  for m in (0.2, 0.6)]
    for st in starts:
        out = _minimise(xi, beta, st, ground)
        if best is None or out[1] < best[1]:
            best = out
    return best


def _splits(st: _Steps, ground: bool, limit: int) -> list[_Steps]:
    """(k+1)-level starts: one gap of the level sequence split at its midpoint p, the new cell
    taking the mean of its neighbours' values (the widest gaps first).

    Gaps are (0, q_0), (q_0, q_1), ..., up to 1; x is 0 on the first, m_i (or y_i) on the next ones
    and 1 above q_k (T > 0).  Splitting gap j >= 1 gives (E_j, p) the value (X_{j-1} + X_j)/2; the
    first gap keeps x = 0 below p and gets X_1/2 on (p, q_0)."""
    edges = np.concatenate([[0.0], st.q, [1.0]])
    X = np.concatenate([[0.0], st.m, [] if ground else [1.0]])
    order = np.argsort(-np.diff(edges), kind="stable")[:limit]
    out = []
    for j in order:
        p = 0.5 * (edges[j] + edges[j + 1])
        if j == 0:
            new = 0.5 * (X[1] if len(X) > 1 else 1.0)
        else:
            new = 0.5 * (X[j - 1] + X[j])
        q = np.sort(np.concatenate([st.q, [p]]))
        m = np.sort(np.concatenate([st.m, [new]]))
        gap = st.gap if ground or p < st.q[-1] else 1.0 - p
        out.append(_Steps(q, gap, m))
    return out


def _refine(st: _Steps, extra: int) -> _Steps:
    """Split the ``extra`` widest cells (q_{i-1}, q_i) carrying x = m_i in two halves valued
    (m_{i-1} + 3 m_i)/4 and (3 m_i + m_{i+1})/4 (the ends repeat m_1, m_k): a continuous x(q) is
    refined in place, atoms are kept."""
    k = st.k
    q = st.q
    edges = np.concatenate([st.q, [1.0]])[:k + 1]
    widths = np.diff(edges)
    chosen = set(np.argsort(-widths, kind="stable")[:extra].tolist())
    ext = np.concatenate([st.m[:1], st.m, st.m[-1:]])
    qs, ms = [q[0]], []
    for i in range(k):
        if i in chosen:
            qs.append(0.5 * (edges[i] + edges[i + 1]))
            ms.append(0.25 * ext[i] + 0.75 * ext[i + 1])
            ms.append(0.75 * ext[i + 1] + 0.25 * ext[i + 2])
        else:
            ms.append(ext[i + 1])
        if i + 1 < len(q):
            qs.append(q[i + 1])
    return _Steps(np.array(qs), st.gap, np.array(ms))


def _continue(xi, beta, st: _Steps, k_target: int, ground: bool, val=None, pg=0.0, record=None):
    """Continuation in k from ``st`` to ``k_target`` levels: single-level splits (every gap tried)
    up to k = 4, then doubling by :func:`_refine`; returns (steps, value, pg)."""
    if val is None:
        st, val, pg = _minimise(xi, beta, st, ground)
    if record is not None:
        record[st.k] = (st, val, pg)
    while st.k < k_target:
        if st.k < 4:
            cands = _splits(st, ground, st.k + 2)
        else:
            cands = [_refine(st, min(st.k, k_target - st.k))]
        best = None
        for cand in cands:
            out = _minimise(xi, beta, cand, ground)
            if best is None or out[1] < best[1]:
                best = out
        if best[1] > val + 1e-13 * (1 + abs(val)):  # a larger class can only do better
            raise ConvergenceError(f"k-RSB continuation lost the optimum at k = {best[0].k}",
                                   residual=best[1] - val)
        st, val, pg = best
        if record is not None:
            record[st.k] = (st, val, pg)
    return st, val, pg


def _krsb_path(model: ModelSpec, beta: float, k: int, start: Solution | None = None):
    """(xi, steps, value, pg, record): the k-RSB optimum by continuation from k = 1 (record: the
    optima met on the way, RS included), or from ``start`` when that does better."""
    xi = cs.Covariance.of(model)
    ground = beta == np.inf
    record: dict = {}
    first = _first(xi, beta, min(k, 1), ground)
    st, val, pg = _continue(xi, beta, first[0], k, ground, *first[1:], record=record)
    if k >= 1:
        record[0] = _first(xi, beta, 0, ground)
    st0 = _from_solution(start, ground) if start is not None else None
    if st0 is not None and st0.k <= k:
        alt = _continue(xi, beta, st0, k, ground)
        if alt[1] < val:
            st, val, pg = alt
    return xi, st, val, pg, record


def _from_solution(sol: Solution, ground: bool) -> _Steps | None:
    """The step function of a k'-RSB solution's order parameters (q0.., m/m1.. or chi, y/y1..; the
    engine's RS name q and its levels fixed at 0 by symmetry are understood); None if not one."""
    ops = sol.order_parameters

    def indexed(letter):
        out = {int(n[1:]) if n[1:] else -1: float(v) for n, v in ops.items()
               if n[0] == letter and (n[1:].isdigit() or n == letter)}
        return np.array([out[i] for i in sorted(out)])
    q, m = indexed("q"), indexed("y" if ground else "m")
    need = len(m) if ground else len(m) + 1
    if len(q) > need or (ground and "chi" not in ops):
        return None
    q = np.concatenate([np.zeros(need - len(q)), q])  # levels fixed at q = 0 by the engine's symmetry step
    return _Steps(q, float(ops["chi"]) if ground else 1 - float(q[-1]), m)


def _names(k: int, ground: bool) -> tuple[list[str], list[str]]:
    if ground:
        return [f"q{i}" for i in range(k)], (["y"] if k == 1 else [f"y{i}" for i in range(1, k + 1)])
    return [f"q{i}" for i in range(k + 1)], (["m"] if k == 1 else [f"m{i}" for i in range(1, k + 1)])


def _ansatz_name(k: int) -> str:
    return "rs" if k == 0 else "1rsb" if k == 1 else f"krsb:{k}"


def _profile(P: cs.ParisiFunction) -> dict:
    """x(q) as a polyline (jumps = repeated q) with the replicon 1 - beta^2 xi''(q) lambda(q)^2 along it."""
    q, x, lam = P.polyline()
    return {"q": q.tolist(), "x": x.tolist(), "replicon": cs.replicon(P.xi, P.scale, q, lam).tolist()}


def _function(xi, beta, st: _Steps) -> cs.ParisiFunction:
    ground = beta == np.inf
    b, v = _cells(st.q, st.m, ground)
    return cs.ParisiFunction.steps(xi, 1.0 if ground else beta, b, v, st.gap, ground)


def _solution(model, beta, P: cs.ParisiFunction, value: float, J1: float, ansatz: str, ops: dict,
              residual: float, notes: list) -> Solution:
    """A Solution from the optimum P: Phi, e = -beta J1, s (T > 0) or E_gs = -Q (T = 0); the
    replicon of the top level, 1 - beta^2 xi''(q_M)(1 - q_M)^2 (T = 0: 1 - xi''(1) chi^2)."""
    top = 1.0 if P.ground else P.top
    rep = float(cs.replicon(P.xi, P.scale, top, P.gap))
    common = {"model": model.name, "params": model.public_params(), "ansatz": ansatz, "order_parameters": ops,
              "replicon": rep, "converged": True, "residual": residual, "notes": notes, "profile": _profile(P)}
    if P.ground:
        sol = Solution(T=0.0, free_entropy=None, energy=-value, entropy=None, **common)
    else:
        e = -beta * J1
        sol = Solution(T=1.0 / beta, free_entropy=value, energy=e, entropy=value + beta * e, **common)
    if rep < -1e-9:
        sol.notes.append("replicon < 0: this saddle point is unstable (more RSB levels are needed)")
    return sol


def _krsb_solution(model, beta, xi, st: _Steps, val: float, pg: float) -> Solution:
    ground = beta == np.inf
    k = st.k
    qn, mn = _names(k, ground)
    ops = {"chi": st.gap} if ground else {}
    ops.update(zip(qn, map(float, st.q)))
    ops.update(zip(mn, map(float, st.m)))
    notes = []
    merged = k >= 1 and (np.min(np.diff(st.q), initial=1.0) < 1e-7 or np.min(np.diff(st.m), initial=1.0) < 1e-7
                         or (not ground and st.m[-1] > 1 - 1e-7) or st.m[0] < 1e-7)
    if merged:
        notes.append(f"{_ansatz_name(k)}: levels merge (coinciding q's or m's): the optimum has fewer "
                     "distinct levels")
    P = _function(xi, beta, st)
    _, J1 = P.functional()
    return _solution(model, beta, P, val, J1, _ansatz_name(k), ops, pg, notes)


def _check(model, beta, k=None) -> float:
    if not isinstance(model, ModelSpec) or model.spins != "spherical":
        raise ParameterError("parisi_spherical solves spherical models only")
    if k is not None and (isinstance(k, bool) or int(k) != k or not 0 <= k <= 500):
        raise ParameterError(f"k must be an integer between 0 and 500, got {k!r}")
    beta = float(beta)
    if not beta > 0:
        raise ParameterError(f"beta must be > 0 (numpy.inf is T = 0), got {beta}")
    return beta


def solve_krsb(model: ModelSpec, beta: float, k: int, *, start: Solution | None = None,
               **numerics) -> Solution:
    r"""The k-RSB optimum of a spherical model at inverse temperature ``beta`` (``numpy.inf``: T = 0).

    Minimises the Crisanti--Sommers functional over step functions with k + 1 steps (see the
    module docstring), with continuation from k = 1 (or from ``start``, a k'-RSB solution with
    k' <= k, e.g. at a neighbouring temperature).  ``order_parameters``: q0..qk, m1..mk (T > 0;
    ``m`` for k = 1), chi, q0..q_{k-1}, y1..yk (T = 0); ``profile``: the step function x(q) and
    the replicon :math:`1 - \beta^2\xi''(q_i)\lambda(q_i)^2` at each level; ``residual``: the
    projected gradient of the minimisation.  Raises ConvergenceError when it exceeds 1e-7.
    """
    beta = _check(model, beta, k)
    _reject(numerics)
    xi, st, val, pg, _ = _krsb_path(model, beta, int(k), start)
    if not pg <= _KKT_TOL * (1 + (0 if beta == np.inf else beta**2)):
        raise ConvergenceError(f"k-RSB minimisation (k = {k}) did not converge: projected gradient {pg:.3g}",
                               residual=pg)
    return _krsb_solution(model, beta, xi, st, val, pg)


def _reject(numerics: dict) -> None:
    if numerics:
        raise ParameterError(f"unknown numerical option(s): {', '.join(sorted(numerics))}")


# ---------------------------------------------------------------------------------------------
# full RSB
# ---------------------------------------------------------------------------------------------
#: accepted optimality gap of a closed-form Parisi function (see ParisiFunction.optimality_gap)
_GAP_TOL = 1e-9


def _lower_edge(xi: cs.Covariance) -> float | None:
    r"""The lower edge of a continuous part, :math:`\xi'(q_m) = q_m\xi''(q_m)` (F(q_m) = 0 with the
    closed-form :math:`\lambda`): 0 when :math:`\xi'(0) = 0`, else the smallest root in (0, 1)."""
    if abs(float(xi(1, 0.0))) < 1e-14:
        return 0.0
    from scipy.optimize import brentq
    g = np.linspace(0.0, 1.0, 2001)
    h = xi(1, g) - g * xi(2, g)
    change = np.flatnonzero(np.sign(h[:-1]) != np.sign(h[1:]))
    if not len(change):
        return None
    i = change[0]
    return float(brentq(lambda q: float(xi(1, q) - q * xi(2, q)), g[i], g[i + 1], xtol=1e-15))


def _structure(xi, scale, ground, q_m, q_c, v, top, gap) -> cs.ParisiFunction:
    """x = 0 below q_m, the closed form on [q_m, q_c], x = v on (q_c, top)."""
    segs = []
    if q_m > 0:
        segs.append(cs.Segment("flat", 0.0, q_m, 0.0))
    if q_c > q_m:
        segs.append(cs.Segment("cont", q_m, q_c))
    if top > q_c:
        segs.append(cs.Segment("flat", q_c, top, v))
    return cs.ParisiFunction(xi, scale, segs, gap, ground)


def _pure_frsb(xi, beta, ground, q_m) -> cs.ParisiFunction | None:
    r"""Continuous part from q_m to the top: :math:`\beta\sqrt{\xi''(q_M)}(1 - q_M) = 1` (the
    replicon of the top level vanishes); at T = 0 up to q = 1 with :math:`\chi = \xi''(1)^{-1/2}`."""
    if not (float(xi(2, q_m)) > 0 and float(xi(2, 1.0)) > 0):
        return None
    if ground:
        return _structure(xi, 1.0, True, q_m, 1.0, np.nan, 1.0, float(xi(2, 1.0)) ** -0.5)
    from scipy.optimize import brentq
    g = np.linspace(q_m, 1.0, 4001)
    with np.errstate(all="ignore"):
        h = beta * np.sqrt(xi(2, g)) * (1 - g) - 1
    if not np.all(np.isfinite(h)) or xi(2, q_m) <= 0:
        return None
    change = np.flatnonzero((h[:-1] > 0) & (h[1:] <= 0))
    if not len(change):
        return None
    i = change[0]
    qM = brentq(lambda q: beta * math.sqrt(float(xi(2, q))) * (1 - q) - 1, g[i], g[i + 1], xtol=1e-15)
    return _structure(xi, beta, False, q_m, qM, np.nan, qM, 1 - qM)


def _one_step_residual(u, xi, s, ground):
    r"""Boundary conditions of "closed form on [q_m, q_c], flat v on (q_c, Q)", with
    :math:`\lambda_c = 1/(s\sqrt{\xi''(q_c)})`, g = :math:`\lambda(Q)` (T > 0: Q = q_M, g = 1 - q_M;
    T = 0: Q = 1, g = chi, s = 1): continuity of :math:`\lambda` at q_c, F(Q) = 0 and
    :math:`\int_{q_c}^Q F = 0`."""
    qc, v, t = u
    Q, g = (1.0, t) if ground else (t, 1 - t)
    x2 = float(xi(2, qc))
    if not (x2 > 0 and g > 0 and v != 0):
        return [1e3, 1e3, 1e3]
    lc = 1.0 / (s * math.sqrt(x2))
    d1 = float(xi(1, Q) - xi(1, qc))
    r1 = g + v * (Q - qc) - lc
    r2 = s**2 * d1 - (1 / g - 1 / lc) / v
    r3 = s**2 * float(xi(0, Q) - xi(0, qc) - xi(1, qc) * (Q - qc)) - (math.log(lc / g) / v - (Q - qc) / lc) / v
    return [r1, r2, r3] if np.all(np.isfinite([r1, r2, r3])) else [1e3, 1e3, 1e3]


def _one_step_frsb(xi, beta, ground, q_m, guess) -> cs.ParisiFunction | None:
    """1-FRSB (Crisanti & Leuzzi, PRL 93 (2004) 217203): the closed form on [q_m, q_c] and one
    flat step up to the top, solved by Newton (MINPACK hybrd) from ``guess`` = (q_c, v, q_M or chi)."""
    from scipy.optimize import root
    s = 1.0 if ground else beta
    with np.errstate(all="ignore"):
        r = root(_one_step_residual, guess, args=(xi, s, ground), method="hybr", options={"xtol": 1e-14})
    qc, v, t = r.x
    Q = 1.0 if ground else t
    if not (q_m < qc < Q <= 1.0 and v > 0 and (ground or v < 1) and t > 0):  # r.success is too strict at xtol
        return None
    if max(abs(e) for e in _one_step_residual(r.x, xi, s, ground)) > 1e-10:
        return None
    return _structure(xi, s, ground, q_m, qc, v, Q, t if ground else 1 - t)


def _top_step(P: cs.ParisiFunction):
    """(q_c, v, q_M or chi): where the top flat of a step function starts, its value, its top."""
    flats = [seg for seg in P.segments if seg.b - seg.a > 1e-9]
    if len(flats) < 2:
        return None
    top = flats[-1]
    start = top.a
    for seg in reversed(flats[:-1]):
        if abs(seg.value - top.value) > 1e-7 * (1 + abs(top.value)):
            break
        start = seg.a
    return (start, top.value, P.gap if P.ground else P.top)


def _monotone(P: cs.ParisiFunction) -> bool:
    """x nondecreasing, >= 0 (and <= 1 at T > 0) along P."""
    _, x, _ = P.polyline(200)
    ok = np.all(np.isfinite(x)) and np.all(np.diff(x) >= -1e-12) and x[0] >= -1e-12
    return bool(ok and (P.ground or x[-1] <= 1 + 1e-12))


def _describe(P: cs.ParisiFunction) -> str:
    parts = []
    for seg in P.segments:
        if seg.kind == "cont":
            parts.append(f"continuous x(q) = xi'''/(2 beta xi''^(3/2)) on [{seg.a:.6g}, {seg.b:.6g}]")
        elif seg.value > 0:
            parts.append(f"x = {seg.value:.6g} on ({seg.a:.6g}, {seg.b:.6g})")
    top = "" if P.ground else f", x = 1 above q_max = {P.top:.10g}"
    return "Parisi function: " + ("; ".join(parts) or "x = 0") + top


def _support_edges(P: cs.ParisiFunction) -> tuple[float, float]:
    """(q_min, q_max): the smallest and largest point of the support of dx."""
    q, x, _ = P.polyline(2)
    rise = np.flatnonzero(np.diff(x) > 1e-12)
    q_min = float(q[0]) if x[0] > 1e-12 else float(q[rise[0]]) if len(rise) else 0.0
    return q_min, float(1.0 if P.ground else P.top)


def solve_frsb(model: ModelSpec, beta: float, *, k_probe: int = 4, k_numeric: int = 32,
               gap_tol: float = _GAP_TOL) -> Solution:
    r"""The full-RSB (Parisi) solution of a spherical model at ``beta`` (``numpy.inf``: T = 0).

    1. k-RSB optima for k = 0..``k_probe`` (continuation) give the atomic candidates and the
       starting points of the closed-form structures (module docstring);
    2. every candidate that is monotone, continuous in :math:`\lambda` and passes the optimality
       test of the convex problem (gap <= ``gap_tol``, :meth:`ParisiFunction.optimality_gap`) is
       exact; the one with the smallest functional is returned (there is one: the minimiser is
       unique), and must not exceed the k-RSB value;
    3. otherwise the k-RSB optimum at k = ``k_numeric`` is returned with the extrapolated value
       and its error in ``notes`` (ConvergenceError if that error exceeds 1e-6).

    ``order_parameters``: q_min, q_max (the edges of the support of the Parisi measure; at T = 0
    q_max = 1 and chi); ``profile``: x(q) (alpha(q) = lim beta x(q) at T = 0) and the replicon along
    it; ``replicon``: that of the top level (0 on a continuous part: marginal).
    """
    beta = _check(model, beta)
    ground = beta == np.inf
    xi, st, val, _, record = _krsb_path(model, beta, int(k_probe))
    cands = [(_function(xi, beta, s), f"{_ansatz_name(k)} (atomic Parisi measure)")
             for k, (s, _, _) in sorted(record.items())]
    q_m = _lower_edge(xi) if len(xi.d) > 3 else None
    if q_m is not None:
        P = _pure_frsb(xi, beta, ground, q_m)
        if P is not None:
            cands.insert(min(2, len(cands)), (P, "full RSB (continuous Parisi measure)"))
        for k, (s, _, _) in sorted(record.items()):
            guess = _top_step(_function(xi, beta, s))
            P = None if guess is None else _one_step_frsb(xi, beta, ground, q_m, guess)
            if P is not None:
                cands.insert(min(3, len(cands)), (P, "1-FRSB (continuous part plus one step)"))
                break
    valid = []
    for P, label in cands:
        if _monotone(P) and P.continuity_defect() <= 1e-10:
            gap = P.optimality_gap()
            if gap <= gap_tol:
                valid.append((P, *P.functional(), gap, label))
    # the minimiser is unique: valid candidates agree to round-off; take the one closest to
    # optimal, the simplest among those at the round-off floor
    best = min(valid, key=lambda c: max(c[3], 1e-13)) if valid else None
    if best is not None and best[1] <= val + 1e-10 * (1 + abs(val)):
        P, value, J1, gap, label = best
        notes = [f"frsb: {label}, exact (optimality gap {gap:.2g})", _describe(P)]
    else:
        P, value, J1, gap, notes = _numeric_frsb(model, beta, xi, st, int(k_numeric))
    q_min, q_max = _support_edges(P)
    ops = {"q_min": q_min, "q_max": q_max}
    if ground:
        ops["chi"] = P.gap
    return _solution(model, beta, P, value, J1, "frsb", ops, gap, notes)


def _numeric_frsb(model, beta, xi, st, k_numeric):
    """Fallback: the k-RSB optimum at k = k_numeric, with the k -> oo extrapolation in notes."""
    ground = beta == np.inf
    record: dict = {}
    st, val, _ = _continue(xi, beta, st, k_numeric, ground, record=record)
    ext = _extrapolate({k: v for k, (_, v, _) in record.items() if k >= 4})
    if not ext["error"] <= 1e-6:
        raise ConvergenceError(f"full RSB: no closed-form structure passed the optimality test and the "
                               f"k-RSB values do not converge (k -> oo error estimate {ext['error']:.3g})",
                               residual=ext["error"])
    P = _function(xi, beta, st)
    value, J1 = P.functional()
    sign = -1.0 if ground else 1.0
    notes = [(f"frsb: no closed-form structure passed the optimality test; numerical {k_numeric}-RSB "
              f"optimum (Phi/E differs from k -> oo by about {ext['error'] + abs(ext['value'] - val):.2g}; "
              f"extrapolated {'E' if ground else 'Phi'} = {sign * ext['value']:.12g} +- {ext['error']:.2g})"),
             _describe(P)]
    return P, value, J1, P.optimality_gap(), notes


def _richardson(ks, v) -> tuple[float, float]:
    """(v_oo, |v_oo - v_last|) from three points of v_k = v_oo + C k^-p, p fitted to them."""
    from scipy.optimize import brentq
    (k1, k2, k3), (a, b, c) = ks, v
    d1, d2 = b - a, c - b
    if d1 * d2 <= 0 or abs(d2) <= 1e-15 * (1 + abs(c)):  # converged to round-off, or not monotone
        return c, abs(d2)
    ratio = d1 / d2
    try:
        p = brentq(lambda p: (k1**-p - k2**-p) / (k2**-p - k3**-p) - ratio, 0.05, 20.0)
    except ValueError:
        return c, abs(d2)
    tail = d2 / (k3**-p - k2**-p) * k3**-p
    return c - tail, abs(tail)


def _extrapolate(values: dict) -> dict:
    r"""Richardson extrapolation of :math:`v_k = v_\infty + C k^{-p}` from the last three k (p
    fitted; the k-RSB error decays like :math:`k^{-4}` for a smooth x(q), cf. Oppermann, Schmidt &
    Sherrington, PRL 98 (2007) 127201).  The error estimate is the change of the extrapolation
    when the last point is dropped, or the size of the correction with only three points."""
    ks = sorted(values)
    if len(ks) < 3:
        raise ParameterError("extrapolation in k needs at least three values of k")
    v = [float(values[k]) for k in ks]
    value, tail = _richardson(ks[-3:], v[-3:])
    error = abs(value - _richardson(ks[-4:-1], v[-4:-1])[0]) if len(ks) >= 4 else tail
    return {"value": value, "error": max(error, 1e-15 * (1 + abs(value))), "ks": ks, "values": v}


def extrapolate_k(model: ModelSpec, beta: float, ks=(4, 8, 16, 32), **numerics) -> dict:
    r"""k-RSB values at the ``ks`` (one continuation path) extrapolated to k -> oo.

    Returns {"value", "error", "ks", "values"}: the free entropy :math:`\Phi` at T > 0, the
    ground-state energy at T = 0 (``beta = numpy.inf``)."""
    beta = _check(model, beta)
    _reject(numerics)
    ks = sorted({int(k) for k in ks})
    if len(ks) < 3 or ks[0] < 1:
        raise ParameterError(f"extrapolate_k needs at least three k >= 1, got {ks}")
    ground = beta == np.inf
    record: dict = {}
    xi = cs.Covariance.of(model)
    first = _first(xi, beta, 1, ground)
    st, val, pg = first
    record[1] = first
    for k in ks:
        st, val, pg = _continue(xi, beta, st, k, ground, val, pg)
        record[k] = (st, val, pg)
    sign = -1.0 if ground else 1.0
    ext = _extrapolate({k: record[k][1] for k in ks})
    return {"value": sign * ext["value"], "error": ext["error"], "ks": ks,
            "values": [sign * record[k][1] for k in ks]}
