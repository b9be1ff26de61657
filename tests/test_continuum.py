"""The k -> oo limit (replicasym.symbolic.continuum) and derive(model, "frsb").

Oracles: the engine's own k-RSB objects (ParisiMatrix sums and eigenvalues, the k-RSB free entropy
from replicated_action + n -> 0), evaluated at random rational points with mpmath; the textbook
Crisanti-Sommers functional (Crisanti & Sommers, Z. Phys. B 87 (1992) 341), the Parisi PDE for SK
(Parisi 1980; Mezard, Parisi & Virasoro, Spin Glass Theory and Beyond, ch. III) and the Chen-Sen
T = 0 functional (CMP 350 (2017) 129), typed here from the literature.
"""
import random

import mpmath
import pytest
import sympy as sp

import replicasym as rs
from replicasym import cli
from replicasym.symbolic import continuum as C
from replicasym.symbolic.action import beta, n, replicated_action
from replicasym.symbolic.gaussian import E
from replicasym.symbolic.limit import replica_limit
from replicasym.symbolic.replica import parisi
from replicasym.symbolic.trace import Trace

q = sp.Symbol("q", real=True)


def _canonical(expr):
    """Integrals split over the terms of their (expanded) integrands, constants pulled out, so that
    equal functionals compare equal under sp.expand."""
    def split(e):
        var = e.limits[0][0]
        out = 0
        for term in sp.Add.make_args(sp.expand(e.function)):
            c, rest = term.as_independent(var, as_Add=False)
            out += c * sp.Integral(rest, *e.limits)
        return out
    return sp.expand(expr.replace(lambda e: isinstance(e, sp.Integral), split))


def _random_steps(k, seed):
    rng = random.Random(seed)
    qs = sorted(sp.Rational(rng.randint(1, 97), 100) for _ in range(k + 1))
    ms = sorted(sp.Rational(rng.randint(1, 97), 100) for _ in range(k))
    return qs, ms


@pytest.mark.parametrize("k", [1, 2, 3])
def test_level_and_spectral_rules_are_exact_on_step_functions(k):
    """(1/n) sum_ab F(Q_ab) and (1/n) sum_j mult_j g(lambda_j) at n -> 0, from ParisiMatrix.sum /
    ParisiMatrix.eigenvalues, equal the continuum rules evaluated on the step function x."""
    qs_sym = [sp.Symbol(f"q{i}") for i in range(k + 1)]
    ms_sym = [sp.Symbol(f"m{i}") for i in range(1, k + 1)]
    Q = parisi(n, 1, qs_sym, ms_sym)
    F = sp.Lambda(q, q**3 / 3 + sp.exp(q) / 5)
    g = sp.Lambda(q, sp.log(q) / 2 + q**2)
    discrete_sum = sp.expand(Q.sum(F) / n).subs(n, 0)
    discrete_spec = sp.diff(sp.Add(*[mult * g(lv) for lv, mult in Q.eigenvalues()]), n).subs(n, 0)
    cont_sum = C.level_sum(F, F(1))
    cont_spec = C.spectral_sum(g)
    qs, ms = _random_steps(k, 10 + k)
    point = dict(zip(qs_sym + ms_sym, qs + ms))
    with mpmath.workdps(30):
        for disc, cont in ((discrete_sum, cont_sum), (discrete_spec, cont_spec)):
            a = mpmath.mpf(sp.Float(sp.N(disc.subs(point), 30), 30))
            b = C.on_step_function(cont, qs, ms, {})
            assert abs(a - b) < mpmath.mpf(10) ** -25


@pytest.mark.parametrize("xi,k", [("q**3/2", 3), ("q/7 + q**2/2 + q**4/3", 1)])
def test_spherical_functional_equals_engine_krsb(xi, k):
    """The Crisanti-Sommers functional of derive(model, "frsb") on the (k+1)-step x of k-RSB equals
    the engine's k-RSB free entropy (replicated_action + n -> 0) to 25 digits."""
    model = rs.models.spherical(xi=xi)
    phi = C.spherical_functional(model, Trace())
    act = replicated_action(model, k)
    phi_k = replica_limit(act.S_n, act.n, Trace())
    qs, ms = _random_steps(k, 3 * k)
    b = sp.Rational(17, 10)
    point = {act.beta: b, **dict(zip(act.Q.levels, qs)), **dict(zip(act.sizes, ms))}
    with mpmath.workdps(30):
        engine = mpmath.mpf(sp.Float(sp.N(phi_k.subs(point), 30), 30))
        assert abs(engine - C.on_step_function(phi, qs, ms, {beta: b})) < mpmath.mpf(10) ** -25


def test_derive_frsb_spherical_is_the_crisanti_sommers_functional():
    """derive(spherical, "frsb"): the textbook CS functional, its closed-form x(q), the marginal top,
    the replicon along q and the Chen-Sen T = 0 functional."""
    d = rs.derive(rs.models.spherical(xi="q**2/2 + q**4/4"), "frsb")
    x, p, s, qM = C.x, C.p, C.s, C.q_M
    xi = q**2 / 2 + q**4 / 4
    lam = 1 - qM + sp.Integral(x(p), (p, q, qM))
    textbook = (beta**2 / 2 * (xi.subs(q, 1) - xi.subs(q, qM) + sp.Integral(x(q) * sp.diff(xi, q), (q, 0, qM)))
                + sp.log(1 - qM) / 2 + sp.Integral(1 / lam, (q, 0, qM)) / 2)
    assert d.ansatz == "frsb" and d.k == float("inf") and d.order_parameters == (x(q), qM)
    assert _canonical(d.free_entropy - textbook) == 0
    xi2, xi3 = sp.diff(xi, q, 2).subs(q, s), sp.diff(xi, q, 3).subs(q, s)
    closed = [eq for eq in d.equations if eq.lhs == x(s)]
    assert len(closed) == 1 and sp.simplify(closed[0].rhs - xi3 / (2 * beta * xi2 ** sp.Rational(3, 2))) == 0
    top = d.equations[-1]
    assert sp.simplify(top.lhs - (1 - qM)) == 0
    assert sp.simplify(top.rhs - 1 / (beta * sp.sqrt(sp.diff(xi, q, 2).subs(q, qM)))) == 0
    assert _canonical(d.replicon - (1 - beta**2 * sp.diff(xi, q, 2) * lam**2)) == 0
    assert _canonical(d.energy + sp.diff(textbook, beta)) == 0
    alpha, chi = sp.Function("alpha"), sp.Symbol("chi", positive=True)
    chen_sen = -(sp.diff(xi, q).subs(q, 1) * chi + sp.Integral(alpha(q) * sp.diff(xi, q), (q, 0, 1))
                 + sp.Integral(1 / (chi + sp.Integral(alpha(p), (p, q, 1))), (q, 0, 1))) / 2
    assert _canonical(d.zero_temperature.energy - chen_sen) == 0
    assert "check" in d.steps.rules() and "levels -> integral" in d.steps.rules()


def test_derive_frsb_sk_is_the_parisi_functional():
    """derive(sk, "frsb"): Phi = f(0, 0) - (beta^2/2) int_0^1 q x(q) dq with the Parisi PDE
    d_q f = -(beta^2/2)(f_yy + x f_y^2), f(1, y) = log 2cosh y (SK, xi = q^2/2)."""
    d = rs.derive(rs.models.sk(), "frsb")
    f, x, y = C.f, C.x, C.y
    assert _canonical(d.free_entropy - (f(0, 0) - beta**2 / 2 * sp.Integral(q * x(q), (q, 0, 1)))) == 0
    pde = d.equations[0]
    fq = f(q, y)
    expected = -beta**2 / 2 * (sp.Derivative(fq, y, 2) + x(q) * sp.Derivative(fq, y) ** 2)
    assert pde.lhs == sp.Derivative(fq, q) and sp.simplify(pde.rhs - expected) == 0
    assert sp.simplify(d.equations[1].rhs - sp.log(2 * sp.cosh(y))) == 0
    assert d.zero_temperature is None and d.residuals == ()


def test_ising_functional_with_linear_xi_and_field():
    """A general Ising xi with xi'(0) > 0 and a field: the lowest level keeps a Gaussian field of
    variance beta^2 xi'(0) around beta h; the algebraic part is -(beta^2/2) int_0^1 x q xi''."""
    model = rs.models.sk(h=0.3, xi="q/4 + q**2/2 + q**3/3")
    d = rs.derive(model, "frsb")
    z = sp.Symbol("z", real=True)
    h = sp.Symbol("h", real=True)
    expected = (E(C.f(0, beta * h + beta * z / 2), z)
                - beta**2 / 2 * sp.Integral(x_q_xi2(q), (q, 0, 1)))
    assert _canonical(d.free_entropy - expected) == 0


def x_q_xi2(t):
    return C.x(t) * t * (1 + 2 * t)


def test_ising_continuum_on_rs_step_equals_engine_rs():
    """x = 1 above q* (RS): the Parisi PDE is solved by Cole-Hopf (f = log 2cosh y + beta^2(1-q)/2
    above q*, heat flow below), and the functional equals the engine's RS free entropy for SK
    (evaluated by its generated module)."""
    import numpy as np

    from replicasym.solvers.thermo import evaluator_for
    d_rs = rs.derive(rs.models.sk(), "rs")
    ev = evaluator_for(d_rs)
    for qstar, b in ((0.3, 1.5), (0.7, 2.2)):
        with mpmath.workdps(25):
            def f0_integrand(t, qstar=qstar, b=b):  # f(q*, y) = log 2cosh y + beta^2 (1 - q*)/2 at y = b sqrt(q*) t
                return (mpmath.log(2 * mpmath.cosh(b * mpmath.sqrt(qstar) * t)) + b**2 * (1 - qstar) / 2) \
                    * mpmath.npdf(t)
            f0 = mpmath.quad(f0_integrand, [-mpmath.inf, 0, mpmath.inf])
            algebraic = -b**2 / 2 * mpmath.quad(lambda t: t, [qstar, 1])  # int x q xi'' with x = 1 above q*
            cont = float(f0 + algebraic)
        engine = ev.scalar("free_entropy", np.array([[qstar]]), {"beta": b})[0]
        assert abs(cont - engine) < 1e-11


def test_cli_derive_frsb(capsys):
    """replicasym derive sk --ansatz frsb --latex / derive spherical --param p=3 --ansatz frsb."""
    assert cli.main(["derive", "sk", "--ansatz", "frsb", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\Phi =" in out and r"\frac{\partial}{\partial q} f" in out
    assert cli.main(["derive", "spherical", "--param", "p=3", "--ansatz", "frsb"]) == 0
    out = capsys.readouterr().out
    assert "ansatz: frsb" in out and "x(q), q_M" in out and "Integral" in out
    assert cli.main(["derive", "spherical", "--param", "p=3", "--ansatz", "frsb", "--markdown"]) == 0
    assert "levels -> integral" in capsys.readouterr().out


def test_parse_ansatz_accepts_frsb():
    from replicasym.derive import parse_ansatz
    assert parse_ansatz("frsb") == float("inf") and parse_ansatz(" FRSB ") == float("inf")
