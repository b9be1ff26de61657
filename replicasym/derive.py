"""``derive(model, ansatz)``: the whole symbolic pipeline, one recorded step at a time.

ModelSpec -> replicated action (disorder average, overlaps, conjugates) -> ansatz -> n -> 0 ->
free entropy -> conjugate elimination / fixed-point forms -> residuals, Jacobian, energy,
replicon -> T = 0 functional.
"""
from __future__ import annotations

import math

import sympy as sp

from .derivation import Derivation, ZeroTemperature
from .errors import ParameterError
from .models.spec import ModelSpec
from .symbolic.action import replicated_action
from .symbolic.continuum import continuum_derivation
from .symbolic.limit import replica_limit, zero_temperature, zero_temperature_replicon
from .symbolic.saddle import (eliminate_conjugates, fixed_point_equations, gaussian_simplify, jacobian,
                              replicon, stationarity_residuals)

__all__ = ["derive", "parse_ansatz", "ANSATZE"]

ANSATZE = ("rs", "1rsb", "krsb:K", "frsb")
#: the largest K of a symbolic k-RSB derivation.  Derivation + numpy + mpmath codegen (benchmarks/README.md,
#: "Derivation cost"): spherical p = 3 ~3 s at K = 3, ~6 s at K = 4, ~110 s at K = 12 (~K^2.6); SK ~30 s
#: at K = 3, ~80 s at K = 4 (~K^3.9: nested Gaussian expectations, their Jacobian and its cse); the
#: numerical Parisi solvers (solve) need no symbolic derivation
MAX_SYMBOLIC_K = 3


def parse_ansatz(ansatz: str) -> int | float:
    """Number of RSB levels k of an ansatz name: rs -> 0, 1rsb -> 1, krsb:K -> K, frsb -> math.inf
    (full RSB is the k -> oo limit)."""
    a = str(ansatz).strip().lower()
    if a == "rs":
        return 0
    if a == "1rsb":
        return 1
    if a.startswith("krsb:"):
        try:
            k = int(a.split(":", 1)[1])
        except ValueError:
            raise ParameterError(f"ansatz {ansatz!r}: K in krsb:K must be an integer") from None
        if not 0 <= k <= 50:
            raise ParameterError(f"ansatz {ansatz!r}: K must be between 0 and 50")
        return k
    if a == "frsb":
        return math.inf
    raise ParameterError(f"unknown ansatz {ansatz!r}; use rs, 1rsb, krsb:K or frsb")


def _canonical(k: int | float) -> str:
    return "rs" if k == 0 else "1rsb" if k == 1 else "frsb" if k == math.inf else f"krsb:{k}"


def derive(model, ansatz: str = "rs") -> Derivation:
    """Derive the free entropy, saddle-point equations and replicon of ``model`` under ``ansatz``.

    A model that is not a replica calculation (e.g. signal propagation) carries its own
    ``derive(ansatz)`` and is dispatched to it."""
    if not isinstance(model, ModelSpec):
        return model.derive(ansatz)
    k = parse_ansatz(ansatz)
    if MAX_SYMBOLIC_K < k < math.inf:
        raise ParameterError(f"derive: the symbolic {_canonical(k)} derivation is available up to "
                             f"krsb:{MAX_SYMBOLIC_K} (krsb:3 takes ~30 s for SK and the cost grows steeply with K); "
                             "solve krsb:K or frsb numerically with solve")
    if k == math.inf:
        d = continuum_derivation(model)
        d.steps.steps[:0] = list(model.steps)
        return d
    act = replicated_action(model, k)
    trace = act.trace
    trace.steps[:0] = list(model.steps)  # the model's own construction (e.g. a kernel map)
    phi = replica_limit(act.S_n, act.n, trace)
    qs = list(act.Q.levels)
    lams = list(act.conjugates)
    fixed = {}
    q = model.overlap
    if k >= 1 and model.field == 0 and sp.diff(model.xi, q).subs(q, 0) == 0:
        # With no field and xi'(0) = 0 the level-0 field has zero variance at q_0 = 0 and the
        # global spin-flip (x -> -x) symmetry makes q_0 = 0 a stationary point.
        fixed[qs[0]] = sp.S.Zero
        if lams:
            fixed[lams[0]] = sp.S.Zero
        phi = sp.expand(phi.subs(fixed))
        trace.record("symmetry", "no field and xi'(0) = 0: q_0 = 0 solves its stationarity equation",
                     sp.Eq(sp.Symbol("Phi"), phi))
        qs = qs[1:]
        lams = lams[1:]
    solutions = {}
    fixed_point = []
    if lams:
        phi_full = phi
        phi, solutions = eliminate_conjugates(phi_full, qs, lams, trace)
        fixed_point = fixed_point_equations(phi_full, qs, lams, solutions, trace)
    variables = tuple(qs) + tuple(act.sizes)
    multiplicities = {lv: act.Q.multiplicity(i).subs(act.n, 0) for i, lv in enumerate(act.Q.levels)}
    grad = stationarity_residuals(phi, variables, multiplicities, fixed_point)
    fp = {eq.lhs: eq for eq in fixed_point}
    equations = tuple(fp.get(v, sp.Eq(g, 0)) for v, g in zip(variables, grad))
    trace.record("saddle-point equations", "stationarity of Phi in every order parameter; the equation "
                 "of level q_i is divided by its multiplicity m_i - m_{i+1} (or put in fixed-point "
                 "form q_i = F_i)", list(equations))
    jac = jacobian(grad, variables)
    energy = gaussian_simplify(-sp.diff(phi, act.beta))
    trace.record("energy", "e = -dPhi/dbeta at fixed order parameters (exact at the saddle)",
                 sp.Eq(sp.Symbol("e"), energy))
    lam_R = replicon(model, act, solutions, fixed, trace)
    zt = None
    try:
        E0, zvars, subs = zero_temperature(phi, act.beta, qs[-1], tuple(act.sizes), trace)
        # the lower levels q_0..q_{k-1} stay order parameters; keep the variables that survive
        zvars = tuple(v for v in (*qs[:-1], *zvars) if E0.has(v))
        zgrad = tuple(sp.diff(E0, v) for v in zvars)
        zt = ZeroTemperature(order_parameters=zvars, energy=E0, equations=tuple(sp.Eq(g, 0) for g in zgrad),
                             jacobian=jacobian(zgrad, zvars), substitutions=subs,
                             replicon=zero_temperature_replicon(lam_R, act.beta, subs, trace))
    except (ValueError, NotImplementedError) as exc:
        trace.record("zero temperature", f"the T -> 0 limit was not taken: {exc}", sp.S.Zero)
    bounds = {v: (sp.S.Zero, sp.S.One) for v in variables}
    return Derivation(model=model, ansatz=_canonical(k), beta=act.beta, params=tuple(model.params),
                      param_values=dict(model.values), order_parameters=variables, bounds=bounds,
                      free_entropy=phi, equations=equations, residuals=grad, jacobian=jac, energy=energy,
                      replicon=lam_R, zero_temperature=zt, steps=trace)
