r"""Saddle points of a one-hidden-layer network at finite width, RS or k-RSB, at T > 0.

The engine reduces the layered action of a depth-1 network to the input overlaps and block sizes
(:func:`replicasym.symbolic.one_hidden_layer.one_hidden_layer`); this module compiles its free entropy,
gradient and energy with the layer quadrature (:mod:`~replicasym.solvers.layer_quadrature`: one axis per
field, :math:`\xi_0, u, \xi_1, \eta` for 1RSB) and solves :math:`\nabla\Phi = 0` by Powell's hybrid method
(:func:`scipy.optimize.root`) in variables that keep :math:`0 < q_0 < q_1 < 1`, :math:`0 < m < 1`.  The
rule is refined until the gradient of the solution on every finer rule is below
:data:`QUADRATURE_TOLERANCE` (:func:`~replicasym.solvers.layer_quadrature.resolved`).

1RSB start: a continuous transition leaves the RS solution (:math:`q_0 = q_1`, any m) a solution of the
1RSB equations, so the solver tries starts around the RS overlap from a narrow gap :math:`q_1 - q_0` (near a
continuous transition) to a wide one, picks the branch on a coarse rule and reports the first non-trivial
solution (:math:`q_1 - q_0 >` :data:`MIN_GAP`); when every start falls back to RS or fails it says so
(:class:`~replicasym.errors.ConvergenceError`): no RSB stationary point was found.  k > 1 needs ``start``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import root

from ..errors import ConvergenceError, ParameterError
from ..solution import Solution
from ..symbolic.layered import ALPHA, BETA, C_B, C_W
from ..symbolic.one_hidden_layer import one_hidden_layer
from .layer_quadrature import Quadrature, Rule, compile_expression, resolved

__all__ = ["MIN_GAP", "OneLayerSolution", "solve_finite_width_rsb", "solve_one_hidden_layer"]

#: the largest |grad Phi| of an accepted solution on the finer rules, and the root finder's own tolerance
QUADRATURE_TOLERANCE = 1e-7
TOLERANCE = 1e-9
#: the smallest q_1 - q_0 of a solution reported as replica-symmetry broken
MIN_GAP = 1e-4
#: gradient evaluations per root search
MAX_EVALUATIONS = 120
#: the rule the solve starts on (nested under the refinement of :func:`~.layer_quadrature.resolved`)
COARSE_RULE = Rule(xi=25, u=49, eta=24)


@dataclass
class OneLayerSolution:
    """A stationary point: ``values`` (q_0..q_k, m_1..m_k; RS: q), the free entropy, energy, entropy,
    the gradient's size ``residual`` and the quadrature ``rule`` it was solved with."""

    k: int
    values: dict
    free_entropy: float
    energy: float
    entropy: float
    residual: float
    rule: Rule


@functools.lru_cache(maxsize=32)
def _compiled(act, k: int, rule: Rule) -> tuple:
    red = one_hidden_layer(act, k)
    args = (*red.variables, ALPHA, BETA, C_W, C_B)
    c = functools.partial(compile_expression, args=args, quad=Quadrature(rule, red.fields))
    return red, c(red.phi), tuple(map(c, red.gradient)), c(red.energy)


def _call(f, theta, alpha, beta, cw, cb) -> float:
    v = [np.array([x], dtype=float) for x in (*theta, alpha, beta, cw, cb)]
    return float(f(*v)[0])


def _gradient(grads, theta, params) -> np.ndarray:
    return np.array([_call(g, theta, *params) for g in grads])


def _to_theta(k: int, x) -> np.ndarray:
    """Unconstrained solver variables -> (q_0..q_k, m_1..m_k) with 0 < q_0 < ... < q_k < 1 and
    0 < m_1 < ... < m_k < 1 (each level a logistic fraction of the room left above the previous one)."""
    s = 1 / (1 + np.exp(-np.clip(np.asarray(x, dtype=float), -700, 700)))
    q = np.cumsum(np.cumprod(np.concatenate([[1.0], 1 - s[:k]])) * s[:k + 1])
    m = np.cumsum(np.cumprod(np.concatenate([[1.0], 1 - s[k + 1:-1]])) * s[k + 1:]) if k else s[:0]
    return np.concatenate([q, m])


def _to_x(k: int, theta) -> np.ndarray:
    """The inverse of :func:`_to_theta`."""
    theta = np.asarray(theta, dtype=float)
    out = []
    for part in (theta[:k + 1], theta[k + 1:]):
        prev = 0.0
        for v in part:
            f = (v - prev) / (1 - prev)
            out.append(np.log(f / (1 - f)))
            prev = v
    return np.array(out)


def _solve_rule(act, k, params, rule, start):
    """The root of the gradient on one rule from ``start``: (theta, max |gradient|)."""
    grads = _compiled(act, k, rule)[2]

    def F(x):
        return _gradient(grads, _to_theta(k, x), params)
    sol = root(F, _to_x(k, start), method="hybr", options={"xtol": 1e-13, "maxfev": MAX_EVALUATIONS})
    r = F(sol.x)
    return _to_theta(k, sol.x), float(np.max(np.abs(r))) if np.all(np.isfinite(r)) else np.inf


def _starts(q_rs: float, k: int) -> list:
    """1RSB starts around the RS overlap, from a narrow gap q_1 - q_0 (near a continuous transition) to a wide
    one (deep in the broken phase)."""
    if k == 0:
        return [(q_rs,)]
    if k != 1:
        raise ParameterError("one hidden layer: automatic starts are built for RS and 1RSB; give start= for k > 1")
    room = 1 - q_rs
    return [(max(q_rs - dq0, 1e-3), q_rs + f1 * room, m)
            for dq0, f1, m in ((0.01, 0.03, 0.5), (0.03, 0.1, 0.5), (0.05, 0.3, 0.4), (0.05, 0.6, 0.8))]


def solve_one_hidden_layer(act, alpha: float, T: float, C_W: float = 1.0, C_b: float = 0.0, k: int = 1,
                           start=None) -> OneLayerSolution:
    r"""The k-RSB (``k = 0``: RS) stationary point of a one-hidden-layer network of width ratio ``alpha`` at
    temperature ``T > 0`` (module docstring).  ``start``: (q_0..q_k, m_1..m_k); by default RS is solved
    first and the RSB starts are built around its overlap."""
    if not (np.isfinite(T) and T > 0):
        raise ParameterError(f"one hidden layer: T must be > 0 (got {T!r}); T = 0 is derived for RS only")
    if not (np.isfinite(alpha) and alpha > 0):
        raise ParameterError(f"one hidden layer: alpha must be a number > 0 (got {alpha!r})")
    params = (float(alpha), 1.0 / float(T), float(C_W), float(C_b))
    what = f"one hidden layer ({k}RSB, alpha = {alpha:g}, T = {T:g})"
    if start is not None:
        starts = [tuple(start)]
    else:
        q_rs = solve_one_hidden_layer(act, alpha, T, C_W, C_b, 0, (0.5,)).values["q"] if k else 0.5
        starts = _starts(q_rs, k)

    gaps = []

    def solve(rule, s):
        theta, r = _solve_rule(act, k, params, rule, s)
        if not r < TOLERANCE:
            gaps.append(float(np.min(np.diff(theta[:k + 1]))) if k else np.inf)
            raise ConvergenceError(f"{what}: the saddle-point equations did not converge", residual=r)
        return theta

    def error(theta, rule):
        return np.max(np.abs(_gradient(_compiled(act, k, rule)[2], theta, params)))
    fallbacks, last, theta = 0, None, None
    for s in starts:  # the branch is chosen on the first (coarse) rule, then refined
        try:
            th = solve(COARSE_RULE, s)
        except ConvergenceError as err:
            last = err
            continue
        if k and np.min(np.diff(th[:k + 1])) <= MIN_GAP:
            fallbacks += 1
            continue
        theta = th
        break
    if theta is None and k and (fallbacks or max(gaps, default=1.0) < 10 * MIN_GAP):
        raise ConvergenceError(f"{what}: every start fell back to the RS solution q_1 = q_0 (no "
                               "replica-symmetry-broken stationary point found; RS is the only one found here)",
                               residual=0.0)
    if theta is None:
        raise ConvergenceError(f"{what}: no start converged ({len(starts)} starts; smallest q_1 - q_0 of the last "
                               f"iterates {min(gaps, default=np.nan):.2g}): no stationary point of this ansatz was "
                               "found here (above the RS instability RS is expected to be the only one)",
                               residual=last.residual if last else np.inf)
    theta, rule = resolved(solve, error, COARSE_RULE, QUADRATURE_TOLERANCE, what, theta)
    if k and np.min(np.diff(theta[:k + 1])) <= MIN_GAP:
        raise ConvergenceError(f"{what}: the replica-symmetry-broken solution of the coarse rule collapsed to RS "
                               "on the resolved rule", residual=0.0)
    red, phi, grads, energy = _compiled(act, k, rule)
    names = ("q",) if k == 0 else tuple(str(v) for v in red.variables)
    f, e = _call(phi, theta, *params), _call(energy, theta, *params)
    r = float(np.max(np.abs(_gradient(grads, theta, params))))
    return OneLayerSolution(k, dict(zip(names, map(float, theta))), f, e, f + params[1] * e, r, rule)


def solve_finite_width_rsb(model, T=None, beta=None, precision=None) -> Solution:
    """The 1RSB solution of a finite-width MLP (``replicasym solve mlp --param alpha=... --ansatz 1rsb``):
    one hidden layer at T > 0, with the RS solution and its finite-alpha replicon for comparison in ``notes``."""
    if precision is not None:
        raise ParameterError("the finite-width MLP is solved in double precision; drop --precision")
    if len(model.alphas) != 1:
        raise ParameterError(f"finite-width mlp, 1RSB: the equations are derived for any depth (replicasym derive "
                             f"--ansatz 1rsb) but solved for one hidden layer only (got depth {len(model.alphas)}); "
                             "deeper networks need the nested level averages per layer, which are not built")
    if (T is None) == (beta is None):
        raise ParameterError("give exactly one of T and beta")
    T = float(T) if T is not None else 1 / float(beta)
    if not (np.isfinite(T) and T > 0):
        raise ParameterError(f"finite-width mlp, 1RSB: T must be > 0 (got {T!r}); T = 0 is derived for RS only")
    alpha = float(model.alphas[0])
    sol = solve_one_hidden_layer(model.activation, alpha, T, model.C_W, model.C_b, 1)
    rs = model.solve(T=T, ansatz="rs")
    notes = [("finite width, one hidden layer: the layered 1RSB action reduced to (q_0, q_1, m) (Lambda fixed by "
              "the top condition, Q cancels), grad Phi = 0 solved by Powell's hybrid method"),
             f"RS at the same point: Phi = {rs.free_entropy:.10g}, finite-alpha replicon {rs.replicon:.6g}"]
    return Solution(model="mlp", params=model.public_params(), ansatz="1rsb", T=T, free_entropy=sol.free_entropy,
                    energy=sol.energy, entropy=sol.entropy, order_parameters=dict(sol.values), replicon=None,
                    converged=True, residual=sol.residual, notes=notes)
