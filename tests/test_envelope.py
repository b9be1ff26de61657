"""The zero-temperature Moreau envelope: symbolic Maximum/Argmax, the Laplace rule, and the quadrature that
locates the maximiser's jumps (replicasym.symbolic.envelope, replicasym.solvers.envelope_quadrature)."""
import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from replicasym.kernels.activations import activation
from replicasym.solvers import envelope_quadrature as eq
from replicasym.symbolic.envelope import Argmax, Maximum, laplace_limit, maximisers
from replicasym.symbolic.gaussian import E
from replicasym.symbolic.layered import XI, U, generic_equations

a, b, s, y, h = sp.symbols("a b s y h", positive=True)
d, eta, beta = sp.symbols("delta eta beta", real=True)


def _inner_problem(name, vals, equation=0):
    """The inner problem of the T = 0 forward equation ``equation`` of activation ``name`` and its parameters
    at ``vals`` (by symbol name): (problem, params)."""
    arg = maximisers(generic_equations(activation(name), "zero").forward[equation])[0]
    syms = tuple(sorted(arg.free_symbols - {XI, U}, key=str))
    return eq._problem(arg, XI, U, syms), tuple(vals[str(t)] for t in syms)


def _value(expr, F, var, values):
    """expr with every Argmax(F, var) replaced by the numerical maximiser (scipy-free: F is quadratic here)."""
    root = sp.solve(sp.diff(F, var), var)[0]
    return float(expr.xreplace({Argmax(F, var): root}).subs(values))


def test_maximum_derivative_is_the_envelope_theorem():
    # max_d [a d - d^2/(2 b)] = a^2 b/2 (closed form): d/da = a b, d/db = a^2/2, d2/da2 = b
    F = a * d - d**2 / (2 * b)
    M = Maximum(F, d)
    vals = {a: 1.3, b: 0.7}
    assert _value(sp.diff(M, a), F, d, vals) == pytest.approx(1.3 * 0.7)
    assert _value(sp.diff(M, b), F, d, vals) == pytest.approx(1.3**2 / 2)
    # the second derivative goes through the implicit-function theorem for the Argmax
    assert _value(sp.diff(M, a, 2), F, d, vals) == pytest.approx(0.7)
    assert M.free_symbols == {a, b}
    with pytest.raises(ValueError):
        Maximum(a * b, d)


def test_laplace_rule_structure_and_value():
    f = sp.Function("f")
    expr = sp.log(E(sp.exp(beta * h * f(y + sp.sqrt(s / beta) * eta)), eta))
    z = sp.Symbol("z", real=True)
    out = laplace_limit(expr, eta, beta, z)
    # the maximisation runs over the argument z = y + delta (the z-form: y and s only in the penalty)
    assert out == beta * Maximum(h * f(z) - (z - y) ** 2 / (2 * s), z)
    # numerically: (1/beta) log E exp(beta h tanh(y + sqrt(s/beta) eta)) -> max_d [h tanh(y + d) - d^2/2s], O(log(beta)/beta)
    hv, yv, sv = 1.5, -0.4, 2.0
    dz = np.linspace(-20, 20, 400001)
    target = np.max(hv * np.tanh(yv + dz) - dz**2 / (2 * sv))
    errs = []
    for bv in (50.0, 400.0):
        mpmath.mp.dps = 30
        g = lambda t: mpmath.exp(bv * hv * mpmath.tanh(yv + mpmath.sqrt(sv / bv) * t) - t**2 / 2) / mpmath.sqrt(2 * mpmath.pi)
        errs.append(abs(float(mpmath.log(mpmath.quad(g, [-mpmath.inf, -5, 0, 5, 40, mpmath.inf])) / bv) - target))
    assert errs[1] < errs[0] / 4 and errs[1] < 0.01


def test_laplace_rule_rejects_a_finite_variance():
    f = sp.Function("f")
    with pytest.raises(ValueError, match="s/beta"):
        laplace_limit(sp.log(E(sp.exp(beta * f(y + eta)), eta)), eta, beta, d)


def test_zero_temperature_equations_come_from_the_envelope():
    eqs = generic_equations(activation("tanh"), "zero")
    assert eqs.block.phi.has(Maximum)
    assert eqs.top == (0, sp.Symbol("C_W", positive=True) / sp.Symbol("alpha", positive=True))
    # forward: Q_d = E sigma(z*)^2, chi = E[u sigma(z*)]/sqrt(lambda): the u-form (no Stein, no derivative of Argmax)
    for f in eqs.forward:
        assert len(maximisers(f)) == 1 and not f.has(sp.Derivative)
    assert eqs.forward[1].has(U)
    # an Argmax differentiated by the implicit-function theorem would divide by F_dd: none of that here
    assert all(len(maximisers(f)) == 1 for f in eqs.backward)


def _brute_maximiser(rule, prob, params, yv, uv, sv):
    """The global maximiser by brute force: every local maximum of a dense grid, each polished by Newton,
    the best exact value wins (a grid value alone misorders near-ties by ~ spacing^2)."""
    z = yv + np.linspace(-30, 30, 60001)
    v = prob.G(z, uv, *params) - (z - yv) ** 2 / (2 * sv)
    peaks = np.flatnonzero((v[1:-1] >= v[:-2]) & (v[1:-1] >= v[2:])) + 1
    zp, ok = rule._local(z[peaks], np.full(peaks.size, yv), np.full(peaks.size, uv))
    vals = np.where(ok, prob.G(zp, uv, *params) - (zp - yv) ** 2 / (2 * sv), -np.inf)
    return float(zp[np.argmax(vals)])


@pytest.mark.parametrize("mu", [0.3, 0.0, -0.5])
def test_envelope_rule_against_adaptive_quadrature(mu):
    """The per-u xi-integral of tanh(z*)^2, with z* jumping, against scipy's adaptive quad over a brute-force
    maximiser (polished by Newton), split at the jump found by bisection on the brute-force maximiser."""
    vals = {"C_W": 4.0, "C_b": 0.0, "P_d": 1.0, "chi_P": 1.0, "lambda": 8.0, "mu": mu}
    prob, params = _inner_problem("tanh", vals)
    rule = eq.EnvelopeRule(prob, params)
    assert np.sum(rule.w) == pytest.approx(1.0, abs=1e-12)
    sv, slope = 4.0, 2.0
    wu = rule.w.sum(axis=1)
    for iu in np.linspace(0, rule.u.shape[0] - 1, 5).astype(int)[1:-1]:
        uv = rule.u[iu, 0]

        def zs(x):
            return _brute_maximiser(rule, prob, params, slope * x, uv, sv)
        # where z* jumps: the largest increase on a grid, then bisection
        grid = np.linspace(-9, 9, 721)
        zg = np.array([zs(x) for x in grid])
        j = int(np.argmax(np.diff(zg)))
        lo, hi = grid[j], grid[j + 1]
        for _ in range(50):
            m = (lo + hi) / 2
            lo, hi = (m, hi) if abs(zs(m) - zg[j]) < abs(zs(m) - zg[j + 1]) else (lo, m)

        def f(x):
            return np.tanh(zs(x)) ** 2 * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
        ref = sum(quad(f, p, q_, limit=200, epsabs=1e-13, epsrel=1e-13)[0] for p, q_ in ((-9, lo), (hi, 9)))
        mine = np.sum(rule.w[iu] * np.tanh(rule.z[iu]) ** 2) / wu[iu]
        assert mine == pytest.approx(ref, abs=2e-9)


def test_envelope_rule_refines_to_its_tolerance():
    # the whole (xi, u) integral at two panel tolerances agrees to the looser one's size
    vals = {"C_W": 4.0, "C_b": 0.1, "P_d": 0.9, "chi_P": 1.5, "lambda": 4.0, "mu": -0.2}
    prob, params = _inner_problem("tanh", vals, 1)
    out = []
    for tol in (1e-8, 1e-12):
        r = eq.EnvelopeRule(prob, params, tol)
        dlt = r.z - prob.y(r.xi, *params)
        out.append((np.sum(r.w * r.u * np.tanh(r.z)), np.sum(r.w * dlt**2)))
    assert out[0] == pytest.approx(out[1], abs=1e-7)


def test_envelope_problem_with_a_polynomial_part():
    """sigma = x + sin(x): the expanded F mixes the activation's own delta^2 with the penalty; the split must
    still give s = C_W chi_P and G(z) = sqrt(lambda) u sigma(z) + mu sigma(z)^2/2 (found by a user activation)."""
    vals = {"C_W": 1.5, "C_b": 0.2, "P_d": 0.9, "chi_P": 0.7, "lambda": 2.0, "mu": 0.3}
    prob, params = _inner_problem("x + sin(x)", vals)
    assert float(prob.s(*params)) == pytest.approx(1.5 * 0.7)
    z, u = np.linspace(-3, 3, 7), 0.8
    sig = z + np.sin(z)
    assert prob.G(z, u, *params) == pytest.approx(np.sqrt(2.0) * u * sig + 0.3 * sig**2 / 2, abs=1e-12)
    assert float(prob.y(1.0, *params)) == pytest.approx(np.sqrt(0.2 + 1.5 * 0.9))


def test_envelope_equations_evaluate_scipy_special_functions():
    # erf is not in numpy: the generated functions must use scipy's (a math.erf on an array fails)
    from replicasym.solvers.zipper import _System, compile_equations
    sys_ = _System(compile_equations(generic_equations(activation("erf"), "zero")), [2.0], 1.0, 3.0, 0.0)
    Q = sys_.forward(sys_.prev(1.0, np.zeros((1, 2))), np.array([[0.0, 1.5]]), sys_.alphas)
    assert np.all(np.isfinite(Q)) and 0 < Q[0, 0] < 1 and Q[0, 1] > 0


def _relu_maximiser(y, a, m, s):
    """The exact global maximiser of a relu(z) + m relu(z)^2/2 - (z - y)^2/2s (m s < 1): on z <= 0 it is
    min(y, 0); on z >= 0 the stationary point (a + y/s)/(1/s - m), clipped at 0; the higher one wins."""
    zl = min(y, 0.0)
    zr = max((a + y / s) / (1 / s - m), 0.0)
    vl = -((zl - y) ** 2) / (2 * s)
    vr = a * zr + m * zr**2 / 2 - (zr - y) ** 2 / (2 * s)
    return zl if vl >= vr else zr


@pytest.mark.parametrize("mu", [0.2, 0.0, -0.4])
def test_envelope_rule_for_relu_against_the_exact_maximiser(mu):
    """ReLU at T = 0: the kink at z = 0 is convex for u > 0 (the maximiser jumps over it) and concave for
    u < 0 (it rests on z = 0 for y in [0, -s a]).  The rule's per-u xi-integrals against scipy's adaptive
    quad of the closed-form maximiser, split at the jump (bisection on the closed form) and at both kink
    points; relu(z*)^2, delta*^2 and xi delta* (the integrands of the T = 0 equations)."""
    vals = {"C_W": 2.0, "C_b": 0.3, "P_d": 1.2, "chi_P": 0.6, "lambda": 0.8, "mu": mu}
    prob, params = _inner_problem("relu", vals)
    assert prob.kinks == (0.0,)
    rule = eq.EnvelopeRule(prob, params)
    assert np.sum(rule.w) == pytest.approx(1.0, abs=1e-12)
    sv, slope = 2.0 * 0.6, np.sqrt(0.3 + 2.0 * 1.2)
    wu = rule.w.sum(axis=1)
    rows = [int(np.argmin(np.abs(rule.u[:, 0] - t))) for t in (-2.1, -0.4, 0.05, 0.7, 2.5)]
    for iu in rows:
        uv = rule.u[iu, 0]
        av = np.sqrt(0.8) * uv

        def zs(x):
            return _relu_maximiser(slope * x, av, mu, sv)
        points = [0.0, -sv * av / slope]
        grid = np.linspace(-9, 9, 1801)
        zg = np.array([zs(x) for x in grid])
        j = int(np.argmax(np.diff(zg)))
        if zg[j + 1] - zg[j] > 0.05:  # a jump: bisection on the closed form
            lo, hi = grid[j], grid[j + 1]
            for _ in range(60):
                m = (lo + hi) / 2
                lo, hi = (m, hi) if abs(zs(m) - zg[j]) < abs(zs(m) - zg[j + 1]) else (lo, m)
            points.append((lo + hi) / 2)
        cuts = [-9.0, *sorted(p for p in points if -9 < p < 9), 9.0]
        xs, zz = rule.xi[iu], rule.z[iu]
        for f, g in ((lambda z, x: max(z, 0.0) ** 2, lambda z, x: np.maximum(z, 0) ** 2),
                     (lambda z, x: (z - slope * x) ** 2, lambda z, x: (z - slope * x) ** 2),
                     (lambda z, x: x * (z - slope * x), lambda z, x: x * (z - slope * x))):
            ref = sum(quad(lambda x: f(zs(x), x) * np.exp(-x * x / 2) / np.sqrt(2 * np.pi), p, q_, limit=200,
                           epsabs=1e-13, epsrel=1e-13)[0] for p, q_ in zip(cuts[:-1], cuts[1:]))
            assert np.sum(rule.w[iu] * g(zz, xs)) / wu[iu] == pytest.approx(ref, abs=2e-9), (mu, uv)


def test_envelope_problem_splits_kinked_activations():
    """|x| and leaky ReLU split into smooth pieces at 0; a jump (sign) is refused."""
    for name, val in (("abs(x)", lambda z: np.abs(z)), ("leaky_relu", lambda z: np.maximum(z, z / 100))):
        vals = {"C_W": 1.5, "C_b": 0.0, "P_d": 1.0, "chi_P": 0.7, "lambda": 2.0, "mu": 0.3}
        prob, params = _inner_problem(name, vals)
        assert prob.kinks == (0.0,)
        z, u = np.array([-1.5, -0.2, 0.0, 0.3, 2.0]), 0.8
        assert prob.G(z, u, *params) == pytest.approx(np.sqrt(2.0) * u * val(z) + 0.3 * val(z) ** 2 / 2, abs=1e-12)
    with pytest.raises(ValueError, match="jumps"):
        _inner_problem("sign", {})


def test_thermal_mixing_across_a_jump_gives_beta_cubed():
    """The T -> 0 replicon's jump term (solvers.zipper.zero_temperature_replicon): across a jump of the
    maximiser, log Z(y) = log E_eta exp(beta G(y + sqrt(s/beta) eta)) mixes the two branches and
    int dy (d^2 log Z/dy^2)^2 = beta^3 |Delta|^3/6, Delta = [z*]/s.  Checked on the exact log Z of
    G = a relu(z) (closed form in normal CDFs; the maximiser jumps from y to y + s a at y = -s a/2, Delta = a),
    by finite differences, independently of the engine."""
    from scipy.special import log_ndtr
    a_, s_ = 1.3, 0.8

    def log_z(yv, bv):
        e0 = -yv / np.sqrt(s_ / bv)
        return np.logaddexp(log_ndtr(e0), bv * a_ * yv + bv * a_**2 * s_ / 2 + log_ndtr(a_ * np.sqrt(bv * s_) - e0))
    ratios = []
    for bv in (50.0, 800.0):
        w = 1 / (bv * a_)
        yv = np.linspace(-s_ * a_ / 2 - 40 * w, -s_ * a_ / 2 + 40 * w, 40001)
        step = yv[1] - yv[0]
        f = log_z(yv, bv)
        d2 = (f[2:] - 2 * f[1:-1] + f[:-2]) / step**2
        ratios.append(np.sum(d2**2) * step / (bv**3 * a_**3 / 6))
    assert ratios[0] == pytest.approx(1.0, abs=1e-4) and ratios[1] == pytest.approx(1.0, abs=1e-6)


def test_replicon_moments_for_relu_against_closed_forms():
    """EnvelopeRule.replicon_moments for ReLU at mu = 0 (the depth-1 top layer): the maximiser rests on the
    kink for u < 0, 0 < y < s eps|u| (M'' = -1/s there, 0 elsewhere), and jumps by s eps u at y = -s eps u/2 for
    u > 0 (Delta = eps u), eps = sqrt(lambda): both moments as one-dimensional integrals over u (scipy quad)."""
    from scipy.stats import norm
    vals = {"C_W": 2.0, "C_b": 0.0, "P_d": 1.0, "chi_P": 0.7, "lambda": 1.5, "mu": 0.0}
    rule = eq.EnvelopeRule(*_inner_problem("relu", vals))
    smooth, jumps = rule.replicon_moments()
    sv, slope, eps = 2.0 * 0.7, np.sqrt(2.0), np.sqrt(1.5)
    window = quad(lambda uv: norm.pdf(uv) * (norm.cdf(sv * eps * uv / slope) - 0.5), 0, 12)[0]  # u -> -u
    jump = quad(lambda uv: norm.pdf(uv) * norm.pdf(sv * eps * uv / 2 / slope) / slope * (eps * uv) ** 3 / 6, 0, 12)[0]
    # the rule refines u on other integrands (its proxies, to 1e-10): these come out to ~1e-7
    assert smooth == pytest.approx(window / sv**2, rel=1e-6)
    assert jumps == pytest.approx(jump, rel=1e-6)
