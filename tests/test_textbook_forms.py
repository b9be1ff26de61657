"""The engine's free entropies equal the textbook forms (symbolically, and at random points to 30
digits through the generated mpmath module against hand-typed formulas)."""
import random

import mpmath
import pytest
import sympy as sp

import replicasym as rs
from replicasym import codegen
from replicasym.symbolic.gaussian import E, linearize

beta, q, q1, m, h = sp.symbols("beta q q1 m h", real=True)


def _normal_quad(f):
    return mpmath.quad(lambda t: f(t) * mpmath.exp(-t**2 / 2) / mpmath.sqrt(2 * mpmath.pi),
                       [-mpmath.inf, 0, mpmath.inf])


def _same(expr, other):
    """Equal symbolically, or (expectation-free expressions) at 5 random admissible points to 30
    digits; the engine's own symbols are matched by name."""
    names = {s.name: s for s in expr.free_symbols}
    other = other.subs({s: names[s.name] for s in other.free_symbols if s.name in names})
    diff = sp.expand(sp.expand_log(linearize(expr - other), force=True))
    if sp.simplify(diff) == 0:
        return True
    if diff.has(E):
        return False
    rng = random.Random(7)
    for _ in range(5):
        point = {s: sp.Rational(rng.randint(5, 95), 100) for s in diff.free_symbols}
        if abs(sp.N(diff.subs(point), 30)) > 1e-28:
            return False
    return True


@pytest.mark.parametrize("xi", ["q**3/2", "q**2/2", "q**2/4 + q**4/2", "q**2/2 + q**3/3 + q**5/10"])
def test_spherical_rs_is_crisanti_sommers(xi):
    """Crisanti & Sommers, Z. Phys. B 87 (1992) 341, eq. (2.19) at RS (q_0 = q, x = 1 on [q, 1]):
    Phi = beta^2/2 (xi(1) - xi(q)) + 1/2 [q/(1-q) + log(1-q)]."""
    d = rs.derive(rs.models.spherical(xi=xi), "rs")
    X = sp.sympify(xi, locals={"q": q})
    cs = beta**2 / 2 * (X.subs(q, 1) - X) + (q / (1 - q) + sp.log(1 - q)) / 2
    assert _same(d.free_entropy, cs)


@pytest.mark.parametrize("xi", ["q**3/2", "q**4/2", "q**3/2 + q**4/4"])
def test_spherical_1rsb_is_crisanti_sommers(xi):
    """1RSB Crisanti-Sommers with q_0 = 0 (reference/yoshino_bahri.md B.3 for pure p):
    Phi = beta^2/2 [xi(1) - (1-m) xi(q1)] + 1/(2m) log[1 + m q1/(1-q1)] + 1/2 log(1-q1)."""
    d = rs.derive(rs.models.spherical(xi=xi), "1rsb")
    X = sp.sympify(xi, locals={"q": q1})
    cs = (beta**2 / 2 * (X.subs(q1, 1) - (1 - m) * X) + sp.log(1 + m * q1 / (1 - q1)) / (2 * m)
          + sp.log(1 - q1) / 2)
    assert _same(d.free_entropy, cs)


def test_spherical_1rsb_q1_equation_matches_reference():
    """reference/yoshino_bahri.md B.3: (beta^2 p/2) q^{p-2} (1-q)(1-(1-m)q) = 1 for q1 != 0."""
    d = rs.derive(rs.models.spherical(p=3), "1rsb")
    eq = d.equations[0]
    residual = eq.lhs - eq.rhs
    ref = sp.Rational(3, 2) * beta**2 * q1 * (1 - q1) * (1 - (1 - m) * q1) - 1
    names = {s.name: s for s in residual.free_symbols}
    ref = ref.subs({s: names[s.name] for s in ref.free_symbols})
    ratio = sp.simplify(residual / ref)
    # the same equation: the ratio is free of beta and nonzero inside 0 < q1 < 1, 0 < m < 1
    assert not ratio.has(names["beta"])
    assert ratio.subs({names["q1"]: sp.Rational(1, 2), names["m"]: sp.Rational(1, 3)}) != 0


def test_sk_rs_textbook_symbolic():
    """Sherrington & Kirkpatrick (1975); Mezard-Parisi-Virasoro eq. (II.40):
    Phi = beta^2/4 (1-q)^2 + E log 2cosh(beta sqrt(q) z + beta h); q = E tanh^2(...)."""
    d = rs.derive(rs.models.sk(h=0.3), "rs")
    zz = sp.Symbol("z", real=True)
    u = beta * sp.sqrt(q) * zz + beta * h
    textbook = beta**2 / 4 * (1 - q)**2 + E(sp.log(2 * sp.cosh(u)), zz)
    assert _same(d.free_entropy, textbook)
    assert _same(d.equations[0].rhs, E(sp.tanh(u)**2, zz))



def test_sk_rs_textbook_at_random_points_30_digits():
    """Free entropy and replicon of the generated mpmath module vs hand-typed formulas
    (replicon: de Almeida & Thouless 1978, 1 - beta^2 E sech^4)."""
    d = rs.derive(rs.models.sk(h=0.3), "rs")
    mod = codegen.load(d, "mpmath")
    mod.set_precision(30)
    rng = random.Random(1)
    with mpmath.workdps(30):
        for _ in range(3):
            B, Q, H = (mpmath.mpf(rng.uniform(0.3, 2.5)), mpmath.mpf(rng.uniform(0.05, 0.95)),
                       mpmath.mpf(rng.uniform(-1, 1)))
            params = [B, H] if list(mod.PARAMS) == ["beta", "h"] else [H, B]
            phi_ref = B**2 / 4 * (1 - Q)**2 + _normal_quad(
                lambda t: mpmath.log(2 * mpmath.cosh(B * mpmath.sqrt(Q) * t + B * H)))
            rep_ref = 1 - B**2 * _normal_quad(lambda t: mpmath.sech(B * mpmath.sqrt(Q) * t + B * H)**4)
            assert abs(mod.free_entropy([Q], params) - phi_ref) < mpmath.mpf(10)**-25
            assert abs(mod.replicon([Q], params) - rep_ref) < mpmath.mpf(10)**-25


def test_sk_1rsb_is_parisi_1979():
    """Parisi's 1RSB functional for SK (Mezard-Parisi-Virasoro eq. (III.30)) at q_0 = 0, h = 0:
    Phi = log 2 + beta^2/4 [1 - 2 q1 + (1-m) q1^2] + (1/m) log E cosh^m(beta sqrt(q1) z)."""
    d = rs.derive(rs.models.sk(), "1rsb")
    zz = sp.Symbol("z1", real=True)
    ref = (sp.log(2) + beta**2 / 4 * (1 - 2 * q1 + (1 - m) * q1**2)
           + sp.log(E(sp.cosh(beta * sp.sqrt(q1) * zz)**m, zz)) / m)
    mod = codegen.load(d, "mpmath")
    mod.set_precision(25)
    with mpmath.workdps(25):
        B, Q, M = mpmath.mpf("1.7"), mpmath.mpf("0.62"), mpmath.mpf("0.35")
        inner = _normal_quad(lambda t: mpmath.cosh(B * mpmath.sqrt(Q) * t)**M)
        ref_val = mpmath.log(2) + B**2 / 4 * (1 - 2 * Q + (1 - M) * Q**2) + mpmath.log(inner) / M
        assert abs(mod.free_entropy([Q, M], [B]) - ref_val) < mpmath.mpf(10)**-20
    assert ref.has(zz)
