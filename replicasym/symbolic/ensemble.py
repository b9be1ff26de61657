r"""The microcanonical replica route: entropy at fixed energy from :math:`\delta(H - NE)`.

The log-volume of inputs at energy density E (reference/winer_hanin_mlp.md §2.2),
:math:`s(E) = \lim\frac1N\mathbb E\log\int dx\,\delta(H(x) - NE)`, is computed with replicas by
writing each replica's constraint as a Fourier integral,

.. math::
   \prod_a\delta(H(x_a) - NE) = \int\prod_a\frac{d\hat\beta_a}{2\pi i}\,
   e^{-\sum_a\hat\beta_a(H(x_a) - NE)} ,

so that the disorder average is the canonical one at inverse temperature :math:`\hat\beta`
(replica symmetric in :math:`\hat\beta_a = \hat\beta`, which is exact because the energy is a
one-replica observable), and the action gains :math:`n\hat\beta E`.  As :math:`n\to0`,

.. math::  s(E) = \operatorname*{extr}_{\hat\beta,\,\theta}\big[\Phi(\hat\beta;\theta) + \hat\beta E\big],

with the saddle-point equations of the canonical ansatz at :math:`\hat\beta` plus
:math:`\partial_{\hat\beta}\Phi + E = 0`.  :func:`microcanonical` builds that system from the
engine's canonical derivation; the Legendre transform of the canonical :math:`\Phi(\beta)` is the
independent route (:mod:`replicasym.solvers.entropy`).
"""
from __future__ import annotations

import sympy as sp

from ..derivation import Derivation
from .covariance import explicit
from .saddle import jacobian

__all__ = ["BETA_HAT", "ENERGY", "closed_form_entropy", "microcanonical"]

#: the conjugate of the energy constraint (an order parameter of the microcanonical saddle)
BETA_HAT = sp.Symbol("beta_hat", positive=True)
#: the energy density E (a parameter)
ENERGY = sp.Symbol("E", real=True)


def microcanonical(d: Derivation) -> Derivation:
    r"""The saddle-point system of :math:`s(E)` from a canonical derivation ``d`` of the same model
    and ansatz (see the module docstring).  Its ``free_entropy`` is :math:`s`, its order parameters
    those of ``d`` plus ``beta_hat``, its parameters those of ``d`` plus ``E``."""
    trace = d.steps.copy()
    b = d.beta
    phi = d.free_entropy.subs(b, BETA_HAT)
    s = phi + BETA_HAT * ENERGY
    trace.record("microcanonical", "insert prod_a delta(H(x_a) - N E) = int d(beta_hat) "
                 "exp(-beta_hat sum_a (H(x_a) - N E)): the disorder average is the canonical one at "
                 "beta_hat, plus n beta_hat E; n -> 0", sp.Eq(sp.Symbol("s"), s))
    residuals = tuple(r.subs(b, BETA_HAT) for r in d.residuals) + (sp.diff(s, BETA_HAT),)
    variables = tuple(d.order_parameters) + (BETA_HAT,)
    equations = tuple(eq.subs(b, BETA_HAT) for eq in d.equations) + (sp.Eq(sp.diff(s, BETA_HAT), 0),)
    trace.record("saddle-point equations", "the canonical equations at beta_hat and "
                 "dPhi/dbeta_hat + E = 0 (the energy constraint)", list(equations))
    bounds = dict(d.bounds)
    bounds[BETA_HAT] = (sp.S.Zero, sp.oo)
    return Derivation(model=d.model, ansatz=d.ansatz, beta=b, params=tuple(d.params) + (ENERGY,),
                      param_values=dict(d.param_values), order_parameters=variables, bounds=bounds,
                      free_entropy=s, equations=equations, residuals=residuals,
                      jacobian=jacobian(residuals, variables), energy=ENERGY,
                      replicon=d.replicon.subs(b, BETA_HAT), zero_temperature=None, steps=trace)


def closed_form_entropy(d: Derivation, probe: float = -1e-3) -> sp.Expr:
    r""":math:`s(E)` in closed form when the microcanonical system of ``d`` can be solved exactly
    (e.g. linear networks, where :math:`\xi` is linear in q and RS is exact).

    The stationarity equations of :math:`\Phi(\hat\beta;\theta) + \hat\beta E` (with closed-form
    covariances substituted) are solved by SymPy; the branch with admissible order parameters
    (0 < q < 1, :math:`\hat\beta > 0`) at the probe energy ``probe`` < 0 is kept.  Raises
    ``NotImplementedError`` when SymPy finds no admissible closed-form branch."""
    md = microcanonical(d)
    s = explicit(md.free_entropy)
    variables = md.order_parameters
    eqs = [sp.together(sp.diff(s, v)) for v in variables]
    eqs = [sp.numer(e) for e in eqs]
    sols = sp.solve(eqs, variables, dict=True)
    for sol in sols:
        if len(sol) != len(variables):
            continue
        point = {v: sol[v].subs(ENERGY, probe) for v in variables}
        try:
            vals = [complex(sp.N(point[v].subs(md.param_values))) for v in variables]
        except TypeError:
            continue
        if any(abs(v.imag) > 1e-12 for v in vals):
            continue
        ok = all((v.real > 0) if var == BETA_HAT else (0 < v.real < 1) for var, v in zip(variables, vals))
        if ok:
            value = sp.simplify(sp.expand_log(sp.simplify(s.subs(sol)), force=True))
            md.steps.record("closed form", "solve the microcanonical saddle point exactly; keep the "
                            "admissible branch", sp.Eq(sp.Symbol("s"), value))
            return value
    raise NotImplementedError("no admissible closed-form solution of the microcanonical saddle point")
