r"""The replicated action: disorder average, overlaps and conjugates, ansatz, single-site trace.

For a Gaussian Hamiltonian with :math:`\mathbb E[H(x)H(y)] = N\xi(x\cdot y/N)`,

.. math::
   \mathbb E Z^n = \int\prod_a d\mu(x_a)\; \mathbb E\, e^{-\beta\sum_a H(x_a)}
   = \int\prod_a d\mu(x_a)\; e^{\frac{N\beta^2}{2}\sum_{ab}\xi(Q_{ab})}

(``disorder_average``), then the overlaps :math:`Q_{ab}=x_a\cdot x_b/N` are fixed with
δ-functions whose Fourier conjugates :math:`\Lambda_{ab}` decouple the sites, giving
:math:`\mathbb E Z^n \asymp e^{N S_n}` with

.. math::
   S_n = \frac{\beta^2}{2}\sum_{ab}\xi(Q_{ab}) + G_n(Q),

where the entropic term :math:`G_n` is, for spherical variables (uniform probability measure on
the sphere), :math:`\tfrac12\log\det Q` -- derived here as the Gaussian integral over x
followed by the saddle point over the conjugate, eigenvalue by eigenvalue -- and for Ising spins
:math:`-\tfrac12\sum_{a\ne b}\Lambda_{ab}Q_{ab} + \log\mathrm{Tr}\,e^{\frac12\sum_{a\ne b}
\Lambda_{ab}s_as_b + \beta h\sum_a s_a}`, decoupled by :func:`~.replica.hierarchical_decoupling`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .gaussian import E, closed_form
from .replica import ParisiMatrix, hierarchical_decoupling, parisi
from .trace import Trace

__all__ = ["ReplicatedAction", "replicated_action", "ansatz_symbols", "spherical_entropy", "ising_entropy"]

n = sp.Symbol("n", real=True)
beta = sp.Symbol("beta", positive=True)


@dataclass
class ReplicatedAction:
    """:math:`S_n` under an ansatz, exact in n, with the data later steps need."""

    S_n: sp.Expr
    n: sp.Symbol
    beta: sp.Symbol
    Q: ParisiMatrix
    conjugates: tuple            # Lambda levels to be eliminated (Ising), empty for spherical
    sizes: tuple                 # m_1..m_k
    site_log: object = None      # callable u -> log single-site partition function (Ising)
    cavity_field: sp.Expr = None  # the innermost field u(z_0..z_k)
    levels_L: list = field(default_factory=list)
    fields: tuple = ()
    trace: Trace = field(default_factory=Trace)


def ansatz_symbols(k: int):
    """Order-parameter symbols for k-RSB: levels q (k=0) or q0..qk, sizes m (k=1) or m1..mk,
    conjugates lam (k=0) or lam0..lamk, Gaussian fields z (k=0) or z0..zk."""
    if k == 0:
        return ((sp.Symbol("q", real=True),), (), (sp.Symbol("lam", real=True),),
                (sp.Symbol("z", real=True),))
    qs = tuple(sp.Symbol(f"q{i}", real=True) for i in range(k + 1))
    ms = (sp.Symbol("m", positive=True),) if k == 1 else tuple(
        sp.Symbol(f"m{i}", positive=True) for i in range(1, k + 1))
    lams = tuple(sp.Symbol(f"lam{i}", real=True) for i in range(k + 1))
    zs = tuple(sp.Symbol(f"z{i}", real=True) for i in range(k + 1))
    return qs, ms, lams, zs


def disorder_average(model, trace: Trace) -> sp.Expr:
    r"""Return :math:`\frac{\beta^2}{2}V` with V the variance of :math:`\sum_a H(x_a)/\sqrt N`,
    obtained from the Gaussian closed form :math:`\mathbb E_z e^{-\beta\sqrt{NV}z} = e^{N\beta^2V/2}`."""
    N, V, z = sp.Symbol("N", positive=True), sp.Symbol("V", positive=True), sp.Symbol("z_J", real=True)
    a, b = sp.symbols("a b", integer=True)
    Qab = sp.IndexedBase("Q")[a, b]
    before = E(sp.exp(-beta * sp.sqrt(N * V) * z), z)
    after = closed_form(before)
    trace.record("disorder average",
                 r"sum_a H(x_a) is Gaussian with variance N V, V = sum_ab xi(Q_ab); "
                 r"E exp(linear) in closed form", sp.Eq(before, after))
    exponent = sp.expand(sp.log(after) / N)
    trace.record("overlaps", "introduce Q_ab = x_a.x_b/N; the exponent per site",
                 exponent.subs(V, sp.Sum(model.xi_of(Qab), (a, 1, n), (b, 1, n))))
    return exponent  # beta**2*V/2


def spherical_entropy(Q: ParisiMatrix, trace: Trace) -> sp.Expr:
    r""":math:`\frac1N\log\mathrm{Vol}\{x_a: x_a\cdot x_b = NQ_{ab}\}` for the uniform probability
    measure on the sphere: Gaussian integral over x, then the saddle over the conjugate matrix μ
    (Parisi-structured, diagonal in the same eigenbasis as Q).  Any Gram matrix in Parisi form
    works, e.g. the Schur complement :math:`Q - R^2 J` of students conditioned on a teacher."""
    x = sp.Symbol("x", real=True)
    mu = sp.Symbol("mu", positive=True)
    # one mode: int dx/sqrt(2 pi) e^{-mu x^2/2} = E_x e^{(1-mu) x^2/2}
    gauss = closed_form(E(sp.exp((1 - mu) * x**2 / 2), x))
    trace.record("gaussian integral", "each eigenmode of the conjugate mu: "
                 "int dx e^{-mu x^2/2}/sqrt(2pi) via the Gaussian closed form",
                 sp.Eq(E(sp.exp((1 - mu) * x**2 / 2), x), gauss))
    total = sp.S.Zero
    eig = Q.eigenvalues()
    lam_j = sp.Symbol("lambda_j", positive=True)  # an eigenvalue of Q (positive definite)
    per_mode = mu * lam_j / 2 + sp.log(gauss)
    sol = sp.solve(sp.diff(per_mode, mu), mu)
    if len(sol) != 1:
        raise RuntimeError("conjugate saddle point is not unique")
    value = sp.expand_log(per_mode.subs(mu, sol[0]), force=True)
    trace.record("conjugate saddle", "per eigenmode: extremise mu lambda/2 - (1/2) log mu",
                 sp.Eq(sp.Symbol("mu"), sol[0]))
    # normalisation: the measure is a probability measure, so G_n(Q = I) = 0; every eigenvalue of
    # the identity is 1 and the multiplicities sum to n, so each mode is measured from lambda = 1
    for lam_expr, mult in eig:
        total += mult * (value.subs(lam_j, lam_expr) - value.subs(lam_j, 1))
    G = sp.expand(total)
    trace.record("sphere normalisation", "sum over eigenmodes with multiplicities; "
                 "normalise the sphere measure (G(Q=I) = 0): G_n = (1/2) log det Q",
                 sp.Eq(sp.Symbol("G_n"), G))
    return G


def ising_entropy(Q: ParisiMatrix, lam: ParisiMatrix, field_u: sp.Expr, fields, trace: Trace):
    r"""Ising single-site trace with the hierarchical Hubbard-Stratonovich decoupling,
    :math:`-\tfrac12\sum_{a\ne b}\Lambda_{ab}Q_{ab}
    + \log\mathrm{Tr}\,e^{\frac12\sum_{a\ne b}\Lambda_{ab}s_as_b + u_0\sum_a s_a}`.
    Returns (G_n, site_log, L_levels)."""
    u_sym = sp.Symbol("u", real=True)
    s = sp.Symbol("s", real=True)
    lam_k = lam.levels[-1]
    # one replica in a cavity field u: sum_{s=+-1} e^{u s - lam_k s^2/2}; s^2 = 1 for Ising spins
    site = sp.Add(*[sp.exp((u_sym * s - lam_k * s**2 / 2).subs(s, v)) for v in (-1, 1)])
    const = -lam_k / 2
    site_log_expr = sp.log(sp.simplify(sp.expand(site * sp.exp(-const)).rewrite(sp.cosh))) + const
    site_log_expr = sp.expand_log(site_log_expr, force=True)
    trace.record("single-site trace", "sum over s = +-1 of one replica in the cavity field u",
                 sp.Eq(sp.Symbol("L_site"), site_log_expr))

    def site_log(u):
        return site_log_expr.subs(u_sym, u)

    log_trace, L_levels = hierarchical_decoupling(lam, site_log, field_u, fields)
    trace.record("hubbard-stratonovich", "decouple the Parisi-structured (sum_a s_a)^2 level by level; "
                 "the replica product factorises over nested blocks", sp.Eq(sp.Symbol("log Tr"), log_trace))
    coupling = -sp.Rational(1, 2) * Q.elementwise(lam, lambda a, b: a * b).offdiagonal_sum(lambda v: v)
    return coupling + log_trace, site_log, L_levels


def replicated_action(model, k: int) -> ReplicatedAction:
    """Build :math:`S_n` for ``model`` under the k-RSB Parisi ansatz (k = 0 is RS)."""
    trace = Trace()
    qs, ms, lams, zs = ansatz_symbols(k)
    energy_density = disorder_average(model, trace)  # beta^2 V / 2
    V = sp.Symbol("V", positive=True)
    Q = parisi(n, 1, qs, ms)
    trace.record("ansatz", f"{'RS' if k == 0 else f'{k}RSB'} Parisi form of Q_ab (Q_aa = 1); "
                 "replica sum with multiplicities polynomial in n",
                 sp.Eq(sp.Symbol("V"), Q.sum(model.xi_of)))
    energy_term = energy_density.subs(V, Q.sum(model.xi_of))
    if model.spins == "spherical":
        G = spherical_entropy(Q, trace)
        S_n = energy_term + G
        act = ReplicatedAction(S_n, n, beta, Q, (), ms, trace=trace)
    else:
        lam = parisi(n, 0, lams, ms)
        field_u = beta * model.field
        G, site_log, L_levels = ising_entropy(Q, lam, field_u, zs, trace)
        S_n = energy_term + G
        u = field_u
        for i in range(k + 1):
            prev = lams[i - 1] if i >= 1 else sp.S.Zero
            u = u + sp.sqrt(lams[i] - prev) * zs[i]
        act = ReplicatedAction(S_n, n, beta, Q, lams, ms, site_log=site_log, cavity_field=u,
                               levels_L=L_levels, fields=zs, trace=trace)
    trace.record("replicated action", "S_n with E Z^n ~ exp(N S_n)", sp.Eq(sp.Symbol("S_n"), S_n))
    return act
