"""The engine's rules, each against an independent route (explicit matrices, numerical integrals)."""
import mpmath
import pytest
import sympy as sp

from replicasym.symbolic.gaussian import E, closed_form, hubbard_stratonovich, linearize, stein
from replicasym.symbolic.limit import replica_limit
from replicasym.symbolic.replica import hierarchical_decoupling, parisi
from replicasym.symbolic.trace import Trace

z = sp.Symbol("z", real=True)
a, b, x = sp.symbols("a b x", real=True)


def _quad(f, kinks=()):
    """E_z f(z) by mpmath.quad with the normal density (the independent route), split at kinks."""
    pts = [-mpmath.inf, *sorted({0, *kinks}), mpmath.inf]
    return mpmath.quad(lambda t: f(t) * mpmath.exp(-t**2 / 2) / mpmath.sqrt(2 * mpmath.pi), pts)


@pytest.mark.parametrize("integrand", [
    sp.exp(a * z + b * z**2), z**2 * sp.exp(a * z), (z**3 - 2 * z + 1) * sp.exp(a * z + b * z**2), z**6,
    sp.Abs(a * z + b), sp.exp(2 * sp.Abs(a * z + b)), sp.Abs(a * z + b) * sp.exp(sp.Abs(a * z + b) / 2),
    (a * z + b)**2 * sp.exp(-sp.Abs(a * z + b))])
def test_closed_form_matches_quadrature(integrand):
    vals = {a: sp.Rational(7, 10), b: sp.Rational(-3, 10)}
    exact = closed_form(E(integrand, z)).subs(vals)
    assert not exact.has(E)
    f = sp.lambdify(z, integrand.subs(vals), "mpmath")
    with mpmath.workdps(30):
        kinks = [mpmath.mpf(3) / 7]  # where a z + b = 0 for the Abs integrand
        assert abs(sp.N(exact, 30) - _quad(f, kinks)) < 1e-25


def test_stein_lemma_numerically():
    expr = E(z * sp.tanh(a * z + b), z)
    after = stein(expr)
    assert not after.has(z * sp.tanh(a * z + b))
    vals = {a: 1.3, b: 0.4}
    g = sp.lambdify(z, after.args[0].subs(vals) if isinstance(after, E) else 0, "mpmath")
    with mpmath.workdps(25):
        lhs = _quad(lambda t: t * mpmath.tanh(1.3 * t + 0.4))
        rhs = _quad(g) if isinstance(after, E) else sp.N(after.subs(vals), 25)
        assert abs(lhs - rhs) < 1e-20


def test_hubbard_stratonovich_round_trip():
    A = sp.Symbol("A", positive=True)
    assert sp.simplify(closed_form(hubbard_stratonovich(A, x, z)) - sp.exp(A * x**2 / 2)) == 0


def test_linearity_and_derivative_under_expectation():
    expr = E(3 * a * sp.cosh(z) + b, z)
    assert linearize(expr) == 3 * a * E(sp.cosh(z), z) + b
    assert sp.diff(E(sp.cosh(a * z), z), a) == E(z * sp.sinh(a * z), z)
    assert E(a + 1, z) == a + 1  # no z: the expectation is its integrand


@pytest.mark.parametrize("n_value,sizes", [(4, []), (6, [2]), (6, [3]), (8, [4, 2])])
def test_parisi_sums_eigenvalues_logdet_against_explicit_matrix(n_value, sizes):
    """Multiplicities and the Parisi eigenvalues against an explicit n x n matrix."""
    k = len(sizes)
    qs = [sp.Rational(i + 1, 10 + k) for i in range(k + 1)]
    n = sp.Symbol("n")
    Q = parisi(n, 1, qs, sizes)
    M = Q.explicit(n_value, sizes)
    f = lambda v: v**3 + 2 * v  # noqa: E731
    assert sp.simplify(Q.sum(f).subs(n, n_value) - sum(f(M[i, j]) for i in range(n_value)
                                                       for j in range(n_value))) == 0
    eig = {}
    for lam, mult in Q.eigenvalues():
        lam, mult = sp.nsimplify(lam.subs(n, n_value)), mult.subs(n, n_value)
        eig[lam] = eig.get(lam, 0) + mult
    explicit = {sp.nsimplify(kv): mult for kv, mult in M.eigenvals().items()}
    assert eig == explicit
    assert sp.simplify(sp.exp(Q.logdet().subs(n, n_value)) - M.det()) == 0


def test_replica_limit_of_log_moment():
    """(1/n) log E[F^n] -> E log F, via the first-order series in n."""
    n = sp.Symbol("n")
    F = 2 * sp.cosh(a * z)
    phi = replica_limit(sp.log(E(F**n, z)), n, Trace())
    assert sp.simplify(phi - E(sp.log(2 * sp.cosh(a * z)), z)) == 0


def test_hierarchical_decoupling_rs_is_the_ising_trace():
    """RS: log Tr exp(lam/2 sum_{a!=b} s_a s_b) by explicit enumeration at n = 3 vs the HS form."""
    import itertools
    n = sp.Symbol("n")
    lam_v = sp.Rational(3, 10)
    lam = parisi(n, 0, [lam_v])
    log_trace, _ = hierarchical_decoupling(
        lam, lambda u: sp.log(2 * sp.cosh(u)) - lam_v / 2, sp.S.Zero, [z])
    explicit = sp.log(sum(sp.exp(lam_v / 2 * sum(s[i] * s[j] for i in range(3) for j in range(3) if i != j))
                          for s in itertools.product((-1, 1), repeat=3)))
    approx = closed_form(sp.expand(log_trace.subs(n, 3)).rewrite(sp.exp).expand())
    assert abs(sp.N(approx - explicit, 30)) < 1e-25
