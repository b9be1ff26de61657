r"""Quadrature for the Gaussian fields of a layered action, and its refinement until it is resolved.

Every expectation the layer engine leaves (:mod:`replicasym.symbolic.layered`) is printed by the project's
quadrature printer (:class:`~replicasym.codegen.printers.NumpyQuadraturePrinter` after
:func:`~replicasym.codegen.printers.stabilize`) with one broadcast axis per Gaussian field.  A :class:`Rule`
gives the nodes per kind of field:

* the pre-activation fields :math:`\xi, \xi_i` (shared by replicas): the truncated trapezoidal rule on
  :math:`[-9, 9]` with ``xi`` nodes;
* the Hubbard--Stratonovich fields :math:`u, u_i`: the same rule with ``u`` nodes;
* the single-replica field :math:`\eta`: Gauss--Hermite with ``eta`` nodes; for a kinked activation (ReLU,
  |x|, leaky ReLU: :func:`~replicasym.symbolic.kinks.nonsmooth_gaps`) Gauss--Legendre panels with ``eta``
  nodes each on :math:`[-R, R]` (R grows with ``eta``, :meth:`Quadrature.split_rule`), split where the activation's argument :math:`y + c\eta` crosses a kink.  That
  point moves with the pre-activation fields, so these nodes and weights are computed per call, per value of
  the parameters and per node of the other fields.  (A Gauss--Hermite rule across a kink converges only
  algebraically, and the error moves with :math:`\xi` as the kink slides past the nodes: ReLU at T = 1, alpha =
  1 left a residual of 4e-4 on the finest rule.)

Why trapezoidal rules for :math:`\xi` and u.  The single-site function
:math:`\log\mathbb E_\eta e^{h\sigma(y + c\eta) + \dots}`, :math:`h = \sqrt{\Lambda_0}u`, behaves like
:math:`|h|` with the kink smoothed over :math:`|u|\lesssim 1/\sqrt{\Lambda_0}`, and at large :math:`|h|` the
tilted measure of :math:`\eta` sits in one of several wells of :math:`h\sigma(y + c\eta) - \eta^2/2`; which well
wins switches with :math:`y = \sqrt{\Sigma_0}\xi` over a width :math:`\propto 1/|h|` (the finite-temperature
remnant of the T = 0 maximiser's jumps, :mod:`~replicasym.solvers.envelope_quadrature`).  The integrands then
have steep steps in :math:`\xi` and u.  Gauss--Hermite rules spread their nodes into the tails (central
spacing :math:`\approx\pi/\sqrt{2n}`) and resolve such steps only with hundreds of nodes (sin, C_W = 2,
alpha = 4, T = 0.4: with 40 Gauss--Hermite nodes in :math:`\xi` the energy was 3.5e-4 off, and 135 nodes still
left a residual of 5e-7); the trapezoidal rule converges geometrically once its spacing is below the step width
(Trefethen & Weideman, SIAM Review 56 (2014) 385) and nests under doubling.

:func:`resolved` solves on a rule, evaluates the solution's residual on each finer rule (``xi`` and ``u``
doubled, nested; ``eta`` x 1.5) and re-solves on whichever failed, until every check is below the
tolerance (:class:`~replicasym.errors.ConvergenceError` beyond :data:`MAX_RULE`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import sympy as sp
from scipy.special import roots_legendre

from ..codegen.printers import NumpyQuadraturePrinter, normalized_tilts, stabilize
from ..errors import ConvergenceError
from ..kernels.quadrature import gauss_hermite
from ..symbolic.gaussian import GaussianExpectation
from ..symbolic.kinks import nonsmooth_gaps

__all__ = ["FIRST_RULE", "MAX_RULE", "U_RANGE", "Quadrature", "Rule", "compile_expression", "finer", "resolved"]

#: the half-width of the truncated trapezoidal rules
U_RANGE = 9.0


class Rule(NamedTuple):
    """Nodes per kind of field: ``xi`` (trapezoidal, pre-activation level fields), ``u`` (trapezoidal,
    Hubbard--Stratonovich fields), ``eta`` (Gauss--Hermite, the single-replica field)."""

    xi: int
    u: int
    eta: int


#: the first rule of a solve, and the finest rule refinement may reach
FIRST_RULE = Rule(xi=49, u=97, eta=40)
MAX_RULE = Rule(xi=769, u=1537, eta=135)


def _trapezoid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the truncated trapezoidal rule for E over N(0, 1) on [-U_RANGE, U_RANGE]."""
    z = np.linspace(-U_RANGE, U_RANGE, n)
    return z, np.exp(-z**2 / 2) / np.sqrt(2 * np.pi) * (z[1] - z[0])


def _kind(z: sp.Symbol) -> str:
    base = z.name.split("_")[0]
    return {"xi": "xi", "u": "u", "eta": "eta"}.get(base, "eta")


class Quadrature:
    """The helpers the quadrature printer calls: weighted sums over one trailing axis per field of
    ``fields`` (in that order), with the nodes of ``rule``."""

    def __init__(self, rule: Rule, fields: tuple):
        self.rule, self.fields = rule, tuple(fields)
        self.rules = tuple(gauss_hermite(rule.eta) if _kind(z) == "eta" else _trapezoid(getattr(rule, _kind(z)))
                           for z in self.fields)

    def _weights(self, axis):
        shape = [1] * len(self.fields)
        shape[axis] = -1
        return self.rules[axis][1].reshape(shape)

    def nodes(self) -> list:
        """The node arrays, shaped to broadcast along their own trailing axis."""
        k = len(self.fields)
        return [self.rules[i][0].reshape([-1] + [1] * (k - 1 - i)) for i in range(k)]

    def split_rule(self, i: int, kinks: list) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights of field ``i`` (an eta field) for E over N(0, 1) on [-R, R]: Gauss--Legendre panels
        of ``rule.eta`` nodes between the ``kinks`` (arrays of one broadcast shape, of size 1 along field i's
        axis), laid out along field i's axis.  R = 1.5 sqrt(4 eta + 2) (1.5 times about the largest node of the
        Gauss--Hermite rule of the same size) grows with the rule: the tilt exp(h sigma) of an unbounded
        activation moves the eta-measure to ~h c, beyond a fixed [-9, 9] (ReLU at T = 1, alpha = 1: 2e-6 in e;
        at T = 0.3, 5e-3), and refining eta must see that (without the factor 1.5, ReLU at alpha = 1 was not
        resolved below T = 0.2; with it, down to T = 0.1 and below)."""
        k = len(self.fields)
        R = max(U_RANGE, 1.5 * float(np.sqrt(4 * self.rule.eta + 2)))
        x, w = roots_legendre(self.rule.eta)
        shape = [-1] + [1] * (k - 1 - i)
        x, w = x.reshape(shape), w.reshape(shape)
        inner = np.clip(np.sort(np.stack(np.broadcast_arrays(*kinks)), axis=0), -R, R)
        ends = [np.full(inner.shape[1:], -R), *inner, np.full(inner.shape[1:], R)]
        nodes, weights = [], []
        for lo, hi in zip(ends[:-1], ends[1:]):
            z = lo + (hi - lo) * (x + 1) / 2
            nodes.append(z)
            weights.append((hi - lo) / 2 * w * np.exp(-z**2 / 2) / np.sqrt(2 * np.pi))
        axis = i - k
        return np.concatenate(nodes, axis=axis), np.concatenate(weights, axis=axis)

    def namespace(self, override: dict | None = None) -> dict:
        """The printer's helpers; ``override`` maps an axis to weights (full arrays) that replace the fixed rule's
        there (filled per call for a kinked eta field, :func:`compile_expression`)."""
        override = {} if override is None else override

        def E(f, axis):
            w = override.get(axis)
            return np.sum((self._weights(axis) if w is None else w) * f, axis=axis, keepdims=True)

        def lme(a, axis):
            a = np.asarray(a, dtype=float)
            m = np.max(a, axis=axis, keepdims=True)
            return m + np.log(E(np.exp(a - m), axis))

        def tilt(g, an, ad, axis):
            m = np.max(np.asarray(ad, dtype=float), axis=axis, keepdims=True)
            return E(g * np.exp(an - m), axis) / E(np.exp(ad - m), axis)

        from scipy.special import erf, erfc
        return {"_E": E, "_lme": lme, "_tilt": tilt, "_erf": erf, "_erfc": erfc,
                "_logcosh": lambda x: np.logaddexp(x, -x) - np.log(2.0)}


def compile_expression(expr: sp.Expr, args: tuple, quad: Quadrature):
    """A numpy function of ``args`` (arrays of one shape); Gaussian fields become quadrature axes."""
    if not expr.has(GaussianExpectation):
        f = sp.lambdify(args, expr, modules="numpy")
        return lambda *v: np.broadcast_to(np.asarray(f(*v), dtype=float), np.broadcast(*v).shape)
    fields = quad.fields
    printer = NumpyQuadraturePrinter(axes={z: -(len(fields) - i) for i, z in enumerate(fields)},
                                     settings={"fully_qualified_modules": False})
    override: dict = {}
    f = sp.lambdify((*args, *fields), stabilize(normalized_tilts(expr)), modules=[quad.namespace(override), "numpy"],
                    printer=printer)
    nodes = quad.nodes()
    kinked = _kinked_fields(expr, args, fields)

    def call(*v):
        shape = np.broadcast(*v).shape
        tail = (1,) * len(fields)
        vals = [np.reshape(np.broadcast_to(a, shape), shape + tail) for a in v]
        with np.errstate(all="ignore"):
            here = list(nodes)
            for i, kinks in kinked:
                here[i], override[i - len(fields)] = quad.split_rule(i, kinks(*vals, *nodes))
            out = f(*vals, *here)
        return np.broadcast_to(np.asarray(out, dtype=float), shape + tail).reshape(shape)
    return call


def _kinked_fields(expr: sp.Expr, args: tuple, fields: tuple) -> list:
    """[(i, kinks)] for the eta fields in which ``expr`` has kinks: ``kinks(*args, *fields)`` gives the list of
    the eta values of the kinks, -g_0/g_1 for each non-smooth point g_0 + g_1 eta = 0 (g_1 free of eta)."""
    out = []
    for i, z in enumerate(fields):
        if _kind(z) != "eta":
            continue
        points = []
        for gap in nonsmooth_gaps(expr, z):
            g1 = sp.diff(gap, z)
            if g1.has(z):
                raise ValueError(f"layer quadrature: the non-smooth point {gap} = 0 is not linear in {z}")
            points.append(-gap.subs(z, 0) / g1)
        if points:
            out.append((i, sp.lambdify((*args, *fields), points, modules=["scipy", "numpy"])))
    return out


def finer(rule: Rule) -> dict:
    """The check rules: each kind of field refined alone (trapezoids doubled, nested; eta x 1.5)."""
    return {"xi": rule._replace(xi=2 * rule.xi - 1), "u": rule._replace(u=2 * rule.u - 1),
            "eta": rule._replace(eta=(3 * rule.eta) // 2)}


def resolved(solve: Callable, error: Callable, rule: Rule, tolerance: float, what: str, start=None):
    """``solve(rule, start)`` on ``rule``, then on finer rules until ``error(result, finer_rule)`` (the residual of
    the result on a finer rule) is at most ``tolerance`` for every kind of field.  Returns (result, rule)."""
    result = solve(rule, start)
    while True:
        checks = finer(rule)
        errs = {name: float(error(result, r)) for name, r in checks.items()}
        if max(errs.values()) <= tolerance:
            return result, rule
        rule = Rule(*(getattr(checks[name], name) if errs[name] > tolerance else getattr(rule, name)
                      for name in Rule._fields))
        if any(getattr(rule, k) > getattr(MAX_RULE, k) for k in Rule._fields):
            worst = max(errs, key=errs.get)
            raise ConvergenceError(f"{what}: the quadrature in {worst} is not resolved (the residual on the finer "
                                   f"rule is {errs[worst]:.1e} > {tolerance:g}; temperature too low for these widths)",
                                   residual=errs[worst])
        result = solve(rule, result)
