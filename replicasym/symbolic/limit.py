r"""Limits: the replica limit n -> 0 and the zero-temperature limit beta -> oo.

* :func:`replica_limit` -- :math:`\Phi = \lim_{n\to0}\frac1n S_n` by the first-order series in n:
  :math:`S_n = S_0 + n\,\partial_n S_n|_{0} + O(n^2)` with :math:`S_0 = 0` checked.  Under an
  unevaluated expectation this is the rule
  :math:`\frac1n\log\mathbb E[F^n] = \frac1n\log\mathbb E[e^{n\log F}] \to \mathbb E\log F`, which
  follows from differentiating under the expectation.
* :func:`zero_temperature` -- rescaled order parameters :math:`q_k = 1-\chi/\beta`,
  :math:`m_i = y_i/\beta`, the Laplace rule :math:`\frac1\beta\log 2\cosh(\beta w)\to|w|`, and
  :math:`E_0 = -\lim_{\beta\to\infty}\Phi/\beta`.
"""
from __future__ import annotations

import sympy as sp

from .gaussian import GaussianExpectation, closed_form, linearize
from .trace import Trace

__all__ = ["replica_limit", "zero_temperature", "zero_temperature_replicon", "laplace_log_cosh"]


def replica_limit(S_n: sp.Expr, n: sp.Symbol, trace: Trace) -> sp.Expr:
    """:math:`\\lim_{n\\to 0} S_n/n` (S_n must vanish at n = 0)."""
    S0 = sp.simplify(S_n.subs(n, 0))
    if S0 != 0:
        raise ValueError(f"S_n does not vanish at n = 0 (got {S0}); the replica limit is ill-defined")
    phi = sp.diff(S_n, n).subs(n, 0)
    phi = sp.expand(phi)
    trace.record("replica limit", "S_0 = 0; Phi = lim (1/n) S_n = dS_n/dn at n = 0 "
                 "(under E: (1/n) log E[F^n] -> E log F)", sp.Eq(sp.Symbol("Phi"), phi))
    return phi


def laplace_log_cosh(expr: sp.Expr, beta: sp.Symbol) -> sp.Expr:
    r"""Replace :math:`\log\cosh(\beta w)` by :math:`\beta|w| - \log 2`, the Laplace (log-sum-exp
    -> max) asymptotics of :math:`\log(e^{\beta w}+e^{-\beta w})`; the error
    :math:`\log(1+e^{-2\beta|w|})` vanishes as beta -> oo for w != 0 and contributes
    O(1/beta) after a Gaussian average."""
    def rule(node):
        if isinstance(node, sp.log) and isinstance(node.args[0], sp.cosh):
            arg = node.args[0].args[0]
            w = sp.simplify(arg / beta)
            if not w.has(beta):
                return beta * sp.Abs(w) - sp.log(2)
        return node
    return expr.replace(lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.cosh), rule)


def zero_temperature(phi: sp.Expr, beta: sp.Symbol, top_level: sp.Symbol, sizes: tuple,
                     trace: Trace):
    r"""Return (E_0, new_variables, substitutions) with :math:`E_0=-\lim_{\beta\to\infty}\Phi/\beta`.

    ``top_level`` is the largest overlap q_k (-> 1 with :math:`\chi = \beta(1-q_k)` fixed) and
    ``sizes`` the breakpoints m_i (-> 0 with :math:`y_i = \beta m_i` fixed).
    """
    t = sp.Symbol("t", positive=True)  # t = 1/beta
    chi = sp.Symbol("chi", positive=True)
    ys = tuple(sp.Symbol("y" if len(sizes) == 1 else f"y{i + 1}", positive=True) for i in range(len(sizes)))
    subs = {top_level: 1 - chi / beta, **{m: y / beta for m, y in zip(sizes, ys)}}
    scaled = linearize(laplace_log_cosh(phi, beta))
    scaled = linearize(sp.expand(scaled.subs(subs) / beta))
    scaled = sp.expand(sp.powsimp(sp.expand_log(scaled, force=True), force=True))
    scaled = scaled.subs(beta, 1 / t)
    regular, singular = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(scaled):
        if term.has(GaussianExpectation):
            regular += term
        else:
            singular += term
    lim_sing = sp.limit(singular, t, 0, "+") if singular != 0 else sp.S.Zero
    lim_reg = _regular_limit(regular, t)
    if lim_sing.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or lim_reg.has(sp.zoo, sp.nan):
        raise ValueError("the zero-temperature limit of Phi/beta does not exist with these rescalings")
    E0 = sp.expand(closed_form(-(lim_sing + lim_reg)))
    trace.record("zero temperature", "q_k = 1 - chi/beta, m_i = y_i/beta, log 2cosh(beta w) -> beta|w|; "
                 "E_0 = -lim Phi/beta", sp.Eq(sp.Symbol("E_0"), E0))
    return E0, (chi, *ys), subs


def _regular_limit(expr: sp.Expr, t: sp.Symbol) -> sp.Expr:
    """Terms with expectations: the integrands must be regular at t = 0 once the expectation's
    prefactor has been taken to its limit."""
    out = sp.S.Zero
    for term in sp.Add.make_args(expr):
        coeff, rest = term.as_independent(GaussianExpectation, as_Add=False)
        c0 = sp.limit(coeff, t, 0, "+")
        out += c0 * rest.subs(t, 0)
    return out


def zero_temperature_replicon(lam_R: sp.Expr, beta: sp.Symbol, subs: dict, trace: Trace):
    r"""The replicon as beta -> oo in the rescaled variables, when it has no expectation left
    (spherical models: :math:`1-\xi''(1)\chi^2`); None otherwise."""
    if lam_R.has(GaussianExpectation):
        return None
    t = sp.Symbol("t", positive=True)
    scaled = sp.expand(sp.expand(lam_R.subs(subs)).subs(beta, 1 / t))
    r = scaled.subs(t, 0)  # regular at t = 0 (the usual case); sp.limit mishandles opaque xi(q)
    if r.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        r = sp.limit(scaled, t, 0, "+")
    if r.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        return None
    trace.record("zero-temperature replicon", "the replicon in the rescaled variables as beta -> oo",
                 sp.Eq(sp.Symbol("lambda_R"), r))
    return r


def closed_form_ground_state(zt) -> sp.Expr:
    r"""The ground-state energy in closed form from a zero-temperature functional ``zt``
    (:class:`~replicasym.derivation.ZeroTemperature`) when SymPy can solve its stationarity equations
    (closed-form covariances substituted; e.g. RS spherical: :math:`-\sqrt{\xi'(1)}`).  The branch with
    positive rescaled variables is kept; raises ``NotImplementedError`` otherwise."""
    from .covariance import explicit
    E0 = explicit(zt.energy)
    variables = zt.order_parameters
    sols = sp.solve([sp.diff(E0, v) for v in variables], variables, dict=True)
    for sol in sols:
        if len(sol) == len(variables) and all(sol[v].is_positive for v in variables):
            return sp.simplify(E0.subs(sol))
    raise NotImplementedError("no closed-form stationary point of the zero-temperature functional")
