r"""Stationarity: conjugate elimination, fixed-point forms, gradient, Jacobian, replicon.

* :func:`eliminate_conjugates` -- solve :math:`\partial\Phi/\partial q_i = 0` for the conjugate
  :math:`\Lambda_i` where it is linear (e.g. :math:`\Lambda_i = \beta^2\xi'(q_i)`) and substitute.
  At the saddle this is exact: :math:`d\Phi_{\rm red}/d\theta = \partial\Phi/\partial\theta`.
* :func:`fixed_point_equations` -- solve :math:`\partial\Phi/\partial\Lambda_i = 0` for
  :math:`q_i` (linear), giving the familiar :math:`q = \mathbb E\tanh^2(\dots)` forms.
* :func:`gaussian_simplify` -- Stein's lemma and linearity under expectations.
* :func:`replicon` -- the replicon eigenvalue of the last RSB level,
  :math:`\lambda_R = 1 - \beta^2\xi''(q_k)\,\gamma_k`, where :math:`\gamma_k` is the replicon
  eigenvalue of the single-site four-point susceptibility,
  :math:`\gamma_k = \langle(\partial_u^2 L_{k+1}(u))^2\rangle` averaged with the Parisi weights
  :math:`e^{m_i(L_{i+1}-L_i)}` level by level (de Almeida & Thouless, J. Phys. A 11 (1978) 983;
  for 1RSB Gardner, Nucl. Phys. B 257 (1985) 747).  For spherical variables the single site is
  Gaussian, :math:`\partial_u^2 L = q_d - q_k` (the eigenvalue of Q on the replicon modes), so
  :math:`\lambda_R = 1-\beta^2\xi''(q_k)(1-q_k)^2` (Crisanti & Sommers 1992).  The
  normalisation is that of the Hessian of :math:`-\Phi` in the replicon sector divided by its
  value at :math:`\beta = 0`: positive where the saddle is stable.
"""
from __future__ import annotations

import sympy as sp

from .gaussian import E, GaussianExpectation, linearize, stein
from .trace import Trace

__all__ = ["eliminate_conjugates", "fixed_point_equations", "gaussian_simplify", "jacobian", "replicon", "stationarity_residuals", "solve_linear"]


def gaussian_simplify(expr: sp.Expr) -> sp.Expr:
    """Stein's lemma + linearity under every expectation, then light algebraic cleaning."""
    out = stein(expr)
    out = out.replace(sp.sinh, lambda a: sp.tanh(a) * sp.cosh(a))
    return sp.expand(linearize(out))


def eliminate_conjugates(phi: sp.Expr, qs, lams, trace: Trace):
    """Return (phi_reduced, {lam_i: solution}) eliminating each conjugate linear in dPhi/dq_i."""
    solutions = {}
    for q, lam in zip(qs, lams):
        eq = sp.diff(phi, q)
        if eq.has(GaussianExpectation) or not eq.has(lam):
            raise ValueError(f"cannot eliminate {lam}: dPhi/d{q} is not an algebraic equation in it")
        solutions[lam] = sp.simplify(solve_linear(eq, lam))
    trace.record("conjugate elimination", "solve dPhi/dq_i = 0 for the conjugates",
                 [sp.Eq(k, v) for k, v in solutions.items()])
    reduced = sp.expand(phi.subs(solutions))
    trace.record("reduced free entropy", "substitute the conjugates: Phi(q, m)",
                 sp.Eq(sp.Symbol("Phi"), reduced))
    return reduced, solutions


def fixed_point_equations(phi: sp.Expr, qs, lams, solutions: dict, trace: Trace) -> list:
    """Eq(q_i, F_i) from dPhi/dLambda_i = 0 (solved for q_i), conjugates then substituted."""
    eqs = []
    for q, lam in zip(qs, lams):
        g = gaussian_simplify(sp.diff(phi, lam))
        rhs = sp.cancel(gaussian_simplify(sp.expand(solve_linear(g, q).subs(solutions))))
        eqs.append(sp.Eq(q, rhs))
    trace.record("fixed-point equations", "dPhi/dLambda_i = 0 solved for q_i (Stein's lemma under E)", eqs)
    return eqs


def solve_linear(eq: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The root of ``eq = a x + b`` (a != 0 free of x); ValueError when eq is not linear in x."""
    eq = sp.expand(eq)
    a = sp.diff(eq, x)
    if a == 0 or a.has(x):
        raise ValueError(f"the equation is not linear in {x}")
    return sp.expand(-eq.subs(x, 0) / a)


def stationarity_residuals(phi: sp.Expr, variables, multiplicities: dict, fixed_point) -> tuple:
    r"""The residuals Newton drives to zero, one per order parameter.

    For a level :math:`q_i` the stationarity condition carries the factor of its replica
    multiplicity at n = 0, :math:`m_i - m_{i+1}`, which vanishes on the m = 1 line (where the
    1RSB free entropy does not depend on :math:`q_1`).  The residual is therefore
    :math:`q_i - F_i(	heta)` when the engine found the fixed-point form, else
    :math:`\partial_{q_i}\Phi/(m_i - m_{i+1})` with the factor cancelled algebraically; for a
    breakpoint :math:`m_i` it is :math:`\partial_{m_i}\Phi`.
    """
    fp = {eq.lhs: eq.rhs for eq in fixed_point}
    canonical = sum(v not in fp and v not in multiplicities for v in variables) <= CANONICAL_MAX_BREAKPOINTS
    out = []
    for v in variables:
        if v in fp:
            out.append(sp.expand(v - fp[v]))
        elif v in multiplicities:
            g = gaussian_simplify(sp.diff(phi, v))
            out.append(_divide_multiplicity(g, multiplicities[v], canonical) if not g.has(GaussianExpectation)
                       else g / multiplicities[v])
        else:
            out.append(gaussian_simplify(sp.diff(phi, v)))
    return tuple(out)


#: with at most this many breakpoints m_i (RS, 1RSB) the residuals of the levels are put in the
#: canonical form (one fraction, factored); beyond (k-RSB, k >= 2) they stay sums of simple fractions
CANONICAL_MAX_BREAKPOINTS = 1


def _divide_multiplicity(g: sp.Expr, d: sp.Expr, canonical: bool) -> sp.Expr:
    r""":math:`g/d` for a rational :math:`g = \partial_{q_i}\Phi` that the multiplicity :math:`d = m_i - m_{i+1}`
    divides, term group by term group.

    The terms of g are grouped by the non-monomial part of their denominator (for spherical models
    the Parisi eigenvalues :math:`\lambda_j`, each group carrying the factor
    :math:`\partial\lambda_j/\partial q_i \propto d`), and each group's numerator is divided by d
    exactly.  This avoids the common denominator :math:`\prod_j\lambda_j`, whose expansion made
    ``cancel`` the cost of a k-RSB derivation (15 s of 24 at k = 3, minutes at k = 4).  ``canonical``
    (RS, 1RSB: :data:`CANONICAL_MAX_BREAKPOINTS`), or a group that d does not divide, gives the whole
    quotient cancelled and factored instead (one fraction, as printed in ``derivations/``)."""
    if canonical:
        return _bounded_factor(sp.cancel(g / d))
    groups: dict = {}
    keys: dict = {}
    for term in sp.Add.make_args(g):
        _, den = sp.fraction(sp.together(term))
        if den.is_number:
            keys[den] = sp.S.One
        elif den not in keys:  # den = monomial * integer * primitive part (leading coefficient > 0)
            _, rest = sp.Poly(den).terms_gcd()
            prim = rest.primitive()[1]
            keys[den] = (-prim if prim.LC() < 0 else prim).as_expr()
        key = keys[den]
        groups[key] = groups.get(key, sp.S.Zero) + term * key
    parts = []
    try:
        for key, rest in groups.items():
            num, monomial = sp.fraction(sp.together(sp.expand(rest)))
            quotient, remainder = sp.div(sp.expand(num), d)
            if remainder != 0:
                return _bounded_factor(sp.cancel(g / d))
            parts.append(quotient / (monomial * key))
    except sp.PolynomialError:
        return _bounded_factor(sp.cancel(g / d))
    return sp.Add(*parts)


#: above this total degree of numerator or denominator, :func:`_bounded_factor` keeps the cancelled
#: form: factoring over the integers (Zassenhaus/Hensel) takes seconds at degree ~130 and does not
#: finish at degree 1000 (xi = q**1000), while ``cancel`` (a polynomial gcd) stays fast
FACTOR_MAX_DEGREE = 40


def _bounded_factor(expr: sp.Expr) -> sp.Expr:
    """``sp.factor(expr)`` for an already cancelled rational ``expr`` of small degree; ``expr``
    itself beyond :data:`FACTOR_MAX_DEGREE` (the same function, cheaper canonical form).  The
    choice depends only on ``expr``, so derivations stay deterministic."""
    num, den = sp.fraction(expr)
    for part in (num, den):
        gens = sorted(part.free_symbols, key=str)
        if gens and part.is_polynomial(*gens) and sp.Poly(part, *gens).total_degree() > FACTOR_MAX_DEGREE:
            return expr
    return sp.factor(expr)


def jacobian(residuals, variables) -> sp.Matrix:
    r""":math:`\partial r_i/\partial\theta_j` by plain differentiation (no Stein rewriting: the
    Jacobian only steers Newton, and rewriting nested expectations here swells the expressions)."""
    return sp.Matrix([[sp.diff(r, v) for v in variables] for r in residuals])


def replicon(model, action, solutions: dict, fixed: dict, trace: Trace) -> sp.Expr:
    """lambda_R = 1 - beta^2 xi''(q_k) gamma_k (see the module docstring)."""
    Q = action.Q
    qk = Q.levels[-1]
    q = model.overlap
    xi2 = sp.diff(model.xi, q, 2).subs(q, qk)
    if model.spins == "spherical":
        mode, _ = Q.eigenvalues()[-1]
        gamma = mode**2
    else:
        u = sp.Symbol("u", real=True)
        d2 = sp.diff(action.site_log(u), u, 2)
        inner = d2.subs(u, action.cavity_field) ** 2
        L = action.levels_L
        for i in range(Q.k, 0, -1):
            m = Q.block_size(i)
            weight = sp.exp(sp.expand(m * (L[i] - L[i - 1])))
            inner = E(weight * inner, action.fields[i])
        gamma = E(inner, action.fields[0])
    lam_R = 1 - action.beta**2 * xi2 * gamma
    lam_R = gaussian_simplify(lam_R.subs(solutions).subs(fixed))
    trace.record("replicon", "replicon eigenvalue of the last level: 1 - beta^2 xi''(q_k) gamma_k",
                 sp.Eq(sp.Symbol("lambda_R"), lam_R))
    return lam_R
