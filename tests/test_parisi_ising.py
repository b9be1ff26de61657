"""k-RSB and full-RSB (Parisi) solvers for Ising models, each checked against an independent route.

Oracles (cited at each test): the engine's own k-RSB free entropy (generated numpy code), brute
force nested Gauss-Hermite quadrature, mpmath quadrature, finite differences, the literature values
of the SK ground state (Parisi 1979; Crisanti & Rizzo, PRE 65 (2002) 046137; Oppermann, Schmidt &
Sherrington, PRL 98 (2007) 127201) and the de Almeida-Thouless line (J. Phys. A 11 (1978) 983).
"""
import itertools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import minimize_scalar

import replicasym as rs
from replicasym.errors import ConvergenceError, ParameterError
from replicasym.solvers.parisi_grid import Cascade, FieldGrid
from replicasym.solvers.parisi_ising import (
    KRSBFunctional,
    _top_zero_temperature,
    extrapolate_k,
    solve_frsb,
    solve_krsb,
)
from replicasym.solvers.thermo import derivation_for, evaluator_for
from replicasym.symbolic.gaussian import E, closed_form

MIXED = "q**2/2 + q**4/4"   # an Ising mixed 2+4-spin model
#: SK ground state with full RSB, E_gs = -0.7631667 (Crisanti & Rizzo 2002: -0.763166(2);
#: Oppermann, Schmidt & Sherrington 2007, extrapolated from up to 200 RSB steps)
SK_EGS = -0.7631667


def _names(ev):
    return list(ev.names)


def _engine_point(ev, q, x, zero_t=False):
    """Engine order-parameter row from (q, x) (q0 absent when the engine fixed it by symmetry)."""
    k = len(x)
    if zero_t:
        vals = {**{f"q{i}": v for i, v in enumerate(q)}, **({"y": x[0]} if k == 1 else
                                                            {f"y{i + 1}": v for i, v in enumerate(x)})}
        names = ev.gs_names
    else:
        vals = {**{f"q{i}": v for i, v in enumerate(q)}, **({"m": x[0]} if k == 1 else
                                                            {f"m{i + 1}": v for i, v in enumerate(x)})}
        names = ev.names
    return np.array([[vals[n] for n in names]])


def _check_against_engine(model, k, h):
    """Phi, energy and replicon of the grid evaluator vs the engine's generated code for the
    same k-RSB functional (derive(model, 'krsb:k') -> codegen), at random points; and the
    T = 0 functional vs the engine's ground-state functional."""
    d = derivation_for(model, "1rsb" if k == 1 else f"krsb:{k}")
    ev = evaluator_for(d)
    rng = np.random.default_rng(7)
    beta = 1.7
    F = KRSBFunctional(model, beta, k, 0.05, 12.0)
    F0 = KRSBFunctional(model, np.inf, k, 0.02, 12.0)
    for _ in range(3):
        q = np.sort(rng.uniform(0.05, 0.95, k + 1))
        x = np.sort(rng.uniform(0.1, 0.9, k))
        if h == 0:
            q[0] = 0.0  # the engine fixed q0 = 0 (its symmetry step)
        row = _engine_point(ev, q, x)
        vals = {"beta": beta, "h": h}
        p = F.evaluate(q, x, extras=True)
        assert abs(p.value - ev.scalar("free_entropy", row, vals)[0]) < 1e-12
        assert abs(p.energy - ev.scalar("energy", row, vals)[0]) < 1e-12
        assert abs(p.replicon - ev.scalar("replicon", row, vals)[0]) < 1e-12
        g = np.sort(rng.uniform(0.3, 4.0, k))
        row0 = _engine_point(ev, q[:k], g, zero_t=True)
        p0 = F0.evaluate(q[:k], g, extras=True)
        assert abs(p0.energy - ev.gs_energy(row0, {"h": h, "beta": np.inf})[0]) < 1e-11


def test_krsb_functional_matches_engine_k1_mixed_xi():
    """The engine's 1RSB free entropy (and its T = 0 functional) for an Ising 2+4 mixture."""
    _check_against_engine(rs.models.sk(xi=MIXED), 1, 0.0)


def test_krsb_functional_matches_engine_k2():
    """The engine's 2RSB free entropy of SK (nested expectations, generated numpy code)."""
    _check_against_engine(rs.models.sk(), 2, 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2])
def test_krsb_functional_matches_engine_in_a_field(k):
    """As above, with a field (q0 free) and a mixed covariance for k = 1."""
    _check_against_engine(rs.models.sk(h=0.3, xi=MIXED) if k == 1 else rs.models.sk(h=0.3), k, 0.3)


def test_cascade_matches_nested_gauss_hermite():
    """The grid recursion vs brute-force nested Gauss-Hermite quadrature (a tensor product of
    three 80-node rules, the straightforward evaluation) for a smooth 2RSB case."""
    beta, h = 2.0, 0.3
    q, m = (0.1, 0.4, 0.7), (0.3, 0.6)
    F = KRSBFunctional(rs.models.sk(h=h), beta, 2, 0.05, 12.0)
    z, w = hermegauss(80)
    w = w / w.sum()
    z0, z1, z2 = z[:, None, None], z[None, :, None], z[None, None, :]
    u = beta * (h + math.sqrt(q[0]) * z0 + math.sqrt(q[1] - q[0]) * z1 + math.sqrt(q[2] - q[1]) * z2)
    L2 = np.log(np.sum(w * np.exp(m[1] * np.logaddexp(u, -u)), axis=2)) / m[1]
    L1 = np.log(np.sum(w[None, :] * np.exp(m[0] * L2), axis=1)) / m[0]
    G = lambda s: s * s / 2  # q xi'(q) - xi(q) for xi = q^2/2
    ref = (np.sum(w * L1) + beta**2 / 2 * (1 - q[2])
           - beta**2 / 2 * (m[0] * (G(q[1]) - G(q[0])) + m[1] * (G(q[2]) - G(q[1])) + G(1) - G(q[2])))
    assert abs(F.evaluate(q, m, grad=False).value - ref) < 1e-12


def test_zero_temperature_top_step_is_the_engine_closed_form():
    """The stable T = 0 top interval (1/g) log E exp(g|y + s z|) vs the engine's closed form of
    E[exp(c|az+b|)] (symbolic.gaussian.closed_form) evaluated with mpmath, and its derivatives
    vs finite differences."""
    yy, s, g = sp.symbols("y s g", positive=True)
    zz = sp.Symbol("z", real=True)
    expr = closed_form(E(sp.exp(g * sp.Abs(yy + s * zz)), zz))
    f = sp.lambdify((yy, s, g), sp.log(expr) / g, "mpmath")
    for y0, v, gam in [(0.37, 0.2, 3.0), (1.5, 0.05, 0.4), (0.01, 0.6, 7.0)]:
        psi, dg, dv, _ = _top_zero_temperature(np.array([y0]), v, gam)
        with mpmath.workdps(30):
            assert abs(psi[0] - float(f(y0, mpmath.sqrt(v), gam))) < 1e-13
        e = 1e-6
        fd_g = (_top_zero_temperature(np.array([y0]), v, gam + e)[0] - _top_zero_temperature(np.array([y0]), v, gam - e)[0]) / (2 * e)
        fd_v = (_top_zero_temperature(np.array([y0]), v + e, gam)[0] - _top_zero_temperature(np.array([y0]), v - e, gam)[0]) / (2 * e)
        assert abs(dg[0] - fd_g[0]) < 1e-7 and abs(dv[0] - fd_v[0]) < 1e-7


@pytest.mark.parametrize("beta", [1.6, np.inf])
def test_gradient_matches_finite_differences(beta):
    """The adjoint (backward recursion of the tilted measures) gradient vs central differences,
    for a 3-step x(q) of the 2+4 mixture in a field."""
    F = KRSBFunctional(rs.models.sk(h=0.4, xi=MIXED), beta, 3, 0.03, 12.0)
    if math.isfinite(beta):
        q, x = np.array([0.1, 0.35, 0.6, 0.8]), np.array([0.2, 0.45, 0.7])
    else:
        q, x = np.array([0.2, 0.5, 0.85]), np.array([0.6, 1.5, 4.0])
    p = F.evaluate(q, x)
    e = 1e-6
    for arr, grad in ((q, p.grad_q), (x, p.grad_x)):
        for i in range(arr.size):
            save = arr[i]
            arr[i] = save + e
            fp = F.evaluate(q, x, grad=False).value
            arr[i] = save - e
            fm = F.evaluate(q, x, grad=False).value
            arr[i] = save
            assert abs((fp - fm) / (2 * e) - grad[i]) < 1e-7


def test_collapsed_level_and_small_tilt_are_continuous():
    """A level with v -> 0 (collapsed) or mu -> 0 (x = 0) joins the v = 0 / mu = 0 formulas
    smoothly: the value is continuous and the analytic derivative is the finite difference."""
    g = FieldGrid(0.3, 12.0, 0.05)
    top = np.logaddexp(2 * g.y, -2 * g.y) / 2
    val = lambda v, mu: Cascade(g, top, [(v, mu), (0.2, 0.8)], 0.1).value
    assert abs(val(1e-12, 0.5) - val(0.0, 0.5)) < 1e-11
    assert abs(val(0.3, 1e-9) - val(0.3, 0.0)) < 1e-9
    c = Cascade(g, top, [(0.3, 0.0), (0.2, 0.8)], 0.1)
    _, dmu, _, _, _ = c.backward()
    assert abs(dmu[0] - (val(0.3, 2e-7) - val(0.3, 0.0)) / 2e-7) < 1e-6


def test_sk_one_step_ground_state():
    """1RSB SK ground state E = -0.76526 (Parisi, PRL 43 (1979) 1754: -0.7652; q0 free).  With q0
    pinned at 0 (a stationary point, the engine's symmetry choice) the one-step value is
    -0.768828, which the engine's own 1RSB solve reproduces: the minimum over x lies at q0 > 0."""
    s = solve_krsb(rs.models.sk(), np.inf, 1)
    assert abs(s.energy - (-0.7652594)) < 1e-6
    assert s.order_parameters["q0"] > 0.4 and s.residual < 1e-7
    engine = rs.solve(rs.models.sk(), T=0, ansatz="1rsb")
    F = KRSBFunctional(rs.models.sk(), np.inf, 1, 0.02, 12.0)
    pinned = minimize_scalar(lambda g: F.evaluate([0.0], [g], grad=False).value, bounds=(0.5, 1.2),
                             method="bounded", options={"xatol": 1e-9})
    assert abs(engine.energy + pinned.fun) < 1e-9 and s.energy > engine.energy


def test_sk_ground_state_converges_with_levels():
    """E_gs(k) for k = 1, 2, 4, 8 (continuation in k) approaches the full-RSB value from below
    (each k-step value is a bound) with an error that shrinks at every doubling."""
    s = solve_frsb(rs.models.sk(), np.inf, k_max=8)
    values = [float(t.split(": ")[1]) for t in s.notes[0].split("= ", 1)[1].split(", ")]
    errors = [abs(v - SK_EGS) for v in values]
    assert all(v < SK_EGS for v in values)
    assert all(e2 < e1 / 4 for e1, e2 in itertools.pairwise(errors))
    assert errors[-1] < 1e-5


def test_sk_frsb_ground_state_five_digits():
    """Full RSB (k = 16 levels) SK ground state to 5 digits: E_gs = -0.7631667 (Crisanti & Rizzo
    2002; Oppermann, Schmidt & Sherrington 2007); the profile gamma(q) = beta x(q) is increasing
    and the rescaled replicon at q = 1 is small and negative (marginal in the limit)."""
    s = solve_frsb(rs.models.sk(), np.inf)
    assert abs(s.energy - SK_EGS) < 1e-6
    assert s.ansatz == "frsb" and s.order_parameters["q_max"] == 1.0
    assert np.all(np.diff(s.profile["gamma"]) > 0) and np.all(np.diff(s.profile["q"]) > 0)
    assert -0.02 < s.replicon < 0


def _at_temperature(h):
    """de Almeida-Thouless line, solved here with mpmath: q = E tanh^2(beta(h + sqrt(q) z)),
    beta^2 E sech^4(beta(h + sqrt(q) z)) = 1 (de Almeida & Thouless 1978)."""
    def nq(f):
        return mpmath.quad(lambda t: f(t) * mpmath.npdf(t), [-mpmath.inf, 0, mpmath.inf])

    def eqs(q, b):
        u = lambda t: b * (h + mpmath.sqrt(q) * t)
        return [q - nq(lambda t: mpmath.tanh(u(t)) ** 2), b**2 * nq(lambda t: mpmath.sech(u(t)) ** 4) - 1]
    with mpmath.workdps(15):
        _, b = mpmath.findroot(eqs, (mpmath.mpf("0.5"), mpmath.mpf("1.6")))
    return float(1 / b)


@pytest.mark.parametrize("h", [0.2, 0.4, 0.7])
def test_at_line(h):
    """On the AT line the engine's RS replicon vanishes; 5% below it the 1RSB levels split
    (q1 > q0, Phi below RS, the top-level replicon < 0), 5% above they collapse to RS (same Phi and
    replicon as the engine's RS solution)."""
    T_at = _at_temperature(h)
    model = rs.models.sk(h=h)
    assert abs(rs.solve(model, T=T_at, ansatz="rs").replicon) < 1e-8
    below = solve_krsb(model, 1 / (0.95 * T_at), 1)
    rs_below = rs.solve(model, T=0.95 * T_at, ansatz="rs")
    assert below.order_parameters["q1"] - below.order_parameters["q0"] > 0.01
    assert below.free_entropy < rs_below.free_entropy - 1e-7 and below.replicon < 0
    above = solve_krsb(model, 1 / (1.05 * T_at), 1)
    rs_above = rs.solve(model, T=1.05 * T_at, ansatz="rs")
    assert abs(above.order_parameters["q1"] - above.order_parameters["q0"]) < 1e-9
    assert abs(above.order_parameters["q0"] - rs_above.order_parameters["q"]) < 1e-7
    assert abs(above.free_entropy - rs_above.free_entropy) < 1e-10
    assert abs(above.replicon - rs_above.replicon) < 1e-7


def test_thermodynamics_and_continuation():
    """At the k-RSB saddle e = -dPhi/dbeta (envelope theorem: finite differences of the solved
    Phi(beta)), s = Phi + beta e; a 3RSB solve continued from a 1RSB start equals one from scratch."""
    model = rs.models.sk(h=0.2)
    b, db = 1.8, 1e-4
    one = solve_krsb(model, b, 1)
    fp = solve_krsb(model, b + db, 1, start=one).free_entropy
    fm = solve_krsb(model, b - db, 1, start=one).free_entropy
    assert abs(-(fp - fm) / (2 * db) - one.energy) < 1e-7
    assert abs(one.entropy - (one.free_entropy + b * one.energy)) < 1e-12
    three = solve_krsb(model, b, 3, start=one)
    assert abs(three.free_entropy - solve_krsb(model, b, 3).free_entropy) < 1e-10
    assert three.free_entropy < one.free_entropy


def test_bad_input_and_non_convergence():
    with pytest.raises(ParameterError):
        solve_krsb(rs.models.sk(), 2.0, 0)
    with pytest.raises(ParameterError):
        solve_krsb(rs.models.sk(), -1.0, 1)
    with pytest.raises(ParameterError):
        solve_krsb(rs.models.spherical(p=3), 2.0, 1)
    with pytest.raises(ParameterError):
        solve_krsb(rs.models.sk(), 2.0, 1, bogus=1)
    with pytest.raises(ConvergenceError) as err:
        solve_krsb(rs.models.sk(), 2.0, 2, maxiter=1)
    assert err.value.residual > 0


@pytest.mark.slow
def test_sk_frsb_at_half_temperature_agrees_with_k_extrapolation():
    """SK at T = 0.5, h = 0: the full-RSB free entropy (16 levels) agrees with the k -> oo
    extrapolation of independent k-RSB values, k = 2, 3, 4, 6, 8, within its error estimate."""
    frsb = solve_frsb(rs.models.sk(), 2.0)
    ext = extrapolate_k(rs.models.sk(), 2.0, ks=(2, 3, 4, 6, 8))
    assert ext["error"] < 1e-7
    assert abs(frsb.free_entropy - ext["value"]) < 2 * ext["error"]
    assert frsb.free_entropy < ext["values"][-1]     # more levels: a better (lower) bound
    assert -1e-3 < frsb.replicon < 0


@pytest.mark.slow
def test_frsb_mixed_model_in_a_field():
    """A 2+4 mixture in a field: full RSB above q_min > 0, values decreasing in k at T = 0.4 and at
    T = 0 (each a Guerra bound), the T = 0 limit of the finite-T energy consistent with E_gs."""
    model = rs.models.sk(h=0.3, xi=MIXED)
    s = solve_frsb(model, 2.5, k_max=8)
    values = [float(t.split(": ")[1]) for t in s.notes[0].split("= ", 1)[1].split(", ")]
    assert np.all(np.diff(values) < 0) and s.order_parameters["q_min"] > 0.1
    g = solve_frsb(model, np.inf, k_max=8)
    assert g.energy < s.energy
