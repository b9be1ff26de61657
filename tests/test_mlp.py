"""The random-MLP Hamiltonian in the GP limit (issue 5): engine output, exact linear results,
kernel values, s(E) by two routes, phases, shaped depth continuum, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

import replicasym as rs
from replicasym.cli import main
from replicasym.errors import ParameterError, ParseError, ReplicasymError
from replicasym.kernels.deep import deep_kernel
from replicasym.kernels.shaped import ShapedKernel
from replicasym.solvers.diagnostics import covariance_diagnostics
from replicasym.solvers.entropy import entropy_curve
from replicasym.symbolic.covariance import explicit
from replicasym.symbolic.ensemble import ENERGY, closed_form_entropy
from replicasym.symbolic.limit import closed_form_ground_state

Q = sp.Symbol("q", real=True)


@pytest.mark.parametrize("ansatz", ["rs", pytest.param("1rsb", marks=pytest.mark.slow)])  # 1rsb: ~90 s of SymPy
def test_gp_limit_is_the_spherical_model_with_the_nngp_kernel(ansatz):
    # reference/winer_hanin_mlp.md §3.4: S_n -> (1/2) log det q + (beta^2/2) sum xi(q_ab), xi = K^(L+1).
    # The engine's mlp derivation, with its opaque xi replaced by the closed-form kernel, must equal
    # the engine's spherical derivation with that xi typed in as an expression.
    m = rs.models.mlp("erf", depth=2, C_W=2.0)
    xi = deep_kernel("erf", 2, 2.0, 0.0).symbolic(exact=True)
    s = rs.models.spherical(xi=xi)
    dm, ds = rs.derive(m, ansatz), rs.derive(s, ansatz)
    assert [str(v) for v in dm.order_parameters] == [str(v) for v in ds.order_parameters]
    rng = np.random.default_rng(1)
    for _ in range(2):
        point = {v: sp.Float(x) for v, x in zip(ds.order_parameters, sorted(rng.uniform(0.1, 0.9, 3)))}
        point[ds.beta] = sp.Float(1.3)
        a = sp.N(explicit(dm.free_entropy).subs(point), 20)
        b = sp.N(ds.free_entropy.subs(point), 20)
        assert abs(a - b) < 1e-12


def test_tanh_gp_solution_matches_the_power_series_model():
    # independent route: xi as the truncated power series sum_p xi_p q^p (Schoenberg coefficients)
    # typed into the spherical model; at T = 0.4 the overlap is q ~ 0.6, where the tail beyond degree
    # 24 of xi' is < 25 * xi_25 * 0.6^24 ~ 1e-10 (xi_25 ~ 5e-7, DeepKernel.series)
    k = deep_kernel("tanh", 1, 1.0, 0.0)
    coeffs = k.series(24)
    poly = sum(sp.Float(c, 17) * Q**p for p, c in enumerate(coeffs) if p > 0 and c > 1e-18)
    a = rs.solve(rs.models.mlp("tanh", depth=1), T=0.4, ansatz="rs")
    b = rs.solve(rs.models.spherical(xi=poly), T=0.4, ansatz="rs")
    assert abs(a.order_parameters["q"] - b.order_parameters["q"]) < 1e-7
    # e = -beta (xi(1) - xi(q)): the series' missing tail at q = 1 (~2e-6) shifts the energy by exactly
    # -beta (xi(1) - poly(1)); the rest agrees
    tail = float(k(1.0, 0)[0]) - float(poly.subs(Q, 1))
    assert abs((a.energy - b.energy) - (-tail / 0.4)) < 1e-9


@pytest.mark.parametrize("L, C_W", [(1, 1.0), (2, 1.5), (3, 2.0)])
def test_linear_network_exact_solution_from_the_engine(L, C_W):
    # DESIGN.md / reference §5.1: s(E) = (1/2) log(1 - E^2/xi_1), E_gs = -C_W^{(L+1)/2}, xi_1 = C_W^{L+1}
    m = rs.models.mlp("linear", depth=L, C_W=C_W)
    d = rs.derive(m, "rs")
    xi1 = sp.nsimplify(C_W) ** (L + 1)
    s = closed_form_entropy(d)
    assert sp.simplify(s - sp.log(1 - ENERGY**2 / xi1) / 2) == 0
    assert sp.simplify(closed_form_ground_state(d.zero_temperature) + sp.sqrt(xi1)) == 0
    gs = rs.solve(m, T=0, ansatz="auto")
    assert gs.ansatz == "rs" and abs(gs.energy + float(C_W) ** ((L + 1) / 2)) < 1e-12
    E = -np.array([0.2, 0.5, 0.9]) * float(C_W) ** ((L + 1) / 2)
    curve = entropy_curve(m, E)
    exact = 0.5 * np.log(1 - E**2 / float(xi1))
    assert np.allclose(curve["s_legendre"], exact, atol=1e-10)
    assert np.allclose(curve["s_microcanonical"], exact, atol=1e-10)


def test_entropy_two_routes_agree_tanh():
    # reference §2.2: the delta(H - NE) route and the Legendre transform agree where s is concave
    curve = entropy_curve(rs.models.mlp("tanh", depth=2), [-0.5, -0.3, -0.1])
    assert np.allclose(curve["s_legendre"], curve["s_microcanonical"], atol=1e-10)
    s = np.array(curve["s_legendre"])
    assert np.all(s < 0) and np.all(np.diff(s) > 0)  # s increases towards the typical energy 0


@pytest.mark.parametrize("act, L, C_W, ref", [
    # reference/winer_hanin_mlp.md §7.2 table [NUM]: xi'(0), xi'(1), xi''(1)
    ("tanh", 1, 1.0, (0.3669, 0.4644, 0.3002)),
    ("tanh", 2, 1.0, (0.2139, 0.2956, 0.2607)),
    ("sin", 1, 2.0, (0.5413, 2.0366, 3.9267)),
    ("sin", 2, 2.0, (0.4057, 2.3225, 8.0436)),
])
def test_kernel_values_against_reference_table(act, L, C_W, ref):
    diag = covariance_diagnostics(rs.models.mlp(act, depth=L, C_W=C_W))
    got = (diag["xi1_0"], diag["xi1_1"], diag["xi2_1"])
    assert np.allclose(got, ref, atol=1e-4)


def test_rs_ground_state_is_minus_sqrt_xi1_when_locally_stable():
    # reference §3.5: RS (gamma = 0) GSE = sqrt(xi'(1)), valid iff xi''(1) <= xi'(1) -- tanh L = 1, C_W = 1
    m = rs.models.mlp("tanh", depth=1)
    diag = covariance_diagnostics(m)
    assert diag["rs_locally_stable_T0"]
    gs = rs.solve(m, T=0, ansatz="auto")
    assert gs.ansatz == "rs"
    assert abs(gs.energy + np.sqrt(diag["xi1_1"])) < 1e-10
    assert abs(gs.energy + 0.68147) < 1e-5  # reference §7.2 table: E_RS(T=0) = -0.68147


def test_sin_wide_breaks_rs_with_a_stable_one_step_solution():
    # reference §3.5/§7.2: sin, C_W = 2: xi''(1) > xi'(1) (RS unstable at T = 0) and xi''^{-1/2} convex
    # (Talagrand: at most 1RSB); the Parisi choice must be 1RSB, above the RS bound, and stable
    m = rs.models.mlp("sin", depth=1, C_W=2.0)
    diag = covariance_diagnostics(m)
    assert diag["xi2_inv_sqrt_shape"] == "convex" and not diag["rs_locally_stable_T0"]
    gs = rs.solve(m, T=0, ansatz="auto")
    rs_gs = rs.solve(m, T=0, ansatz="rs")
    assert gs.ansatz == "1rsb" and gs.replicon > 0
    assert rs_gs.energy < gs.energy < -np.sqrt(diag["xi1_1"]) + 0.1


def test_relu_rs_replicon_diverges_at_zero_temperature():
    # reference §4 item 5: relu'' = delta gives xi''(1) = oo, so the T = 0 RS replicon is -oo
    gs = rs.solve(rs.models.mlp("relu", depth=1, C_W=2.0), T=0, ansatz="rs")
    assert abs(gs.energy + np.sqrt(2.0)) < 1e-12 and gs.replicon == -np.inf


def test_shaped_relu_drift_is_li_nica_roy():
    # Li, Nica & Roy 2022 (reference §6): psi = c|t|, nu = c^2 [(2/pi)(sqrt(1-r^2) + r arcsin r) - r]
    c = 0.7
    k = ShapedKernel("shaped_relu", c)
    r = np.linspace(-0.95, 0.95, 9)
    nu = c**2 * (2 / np.pi * (np.sqrt(1 - r**2) + r * np.arcsin(r)) - r)
    assert np.allclose(k.drift(r), nu, atol=1e-13)
    # shaped tanh: psi = 0, the continuum network is linear (xi(q) = q)
    kt = ShapedKernel("shaped_tanh", 1.0)
    q = np.array([0.1, 0.5, 0.9])
    assert np.allclose(kt(q, 2), [q, np.ones(3), np.zeros(3)], atol=1e-12)


@pytest.mark.slow
def test_discrete_shaped_depth_converges_to_the_ode():
    # the discrete kernel map with sigma_L = shaped_relu(depth L), C_W = 1/(1 + c^2/L) (diagonal
    # preserved), normalised by xi(1), approaches the ODE flow with an O(1/L) error
    from replicasym.kernels.activations import activation
    c = 1.0
    ode = ShapedKernel("shaped_relu", c)
    q = np.array([0.0, 0.3, 0.7, 0.95])
    errors = []
    for L in (8, 32):
        dk = deep_kernel(activation("shaped_relu", shape=c, depth=L), L, 1 / (1 + c**2 / L), 0.0)
        v = dk(q, 2) / dk(np.array(1.0), 0)[0]
        errors.append(np.max(np.abs(v - ode(q, 2))))
    assert errors[1] < errors[0] / 3  # ~4x per 4x depth: O(1/L)


def test_mlp_bad_parameters():
    with pytest.raises(ParameterError):
        rs.models.mlp("tanh", depth=0)
    with pytest.raises(ParameterError):
        rs.models.mlp("tanh", C_W=-1.0)
    with pytest.raises(ParameterError):
        rs.models.mlp("tanh", alpha=-2.0)  # finite width exists (issue 7); a negative width does not
    with pytest.raises(ParseError):
        rs.models.mlp("__import__('os').system('true')")
    with pytest.raises(ParameterError):
        rs.models.mlp("tanh", continuum=True)  # not a shaped activation


def test_cli_solve_mlp_ground_state(capsys):
    # issue 5 "done when": the Parisi choice is named in the output
    assert main(["solve", "mlp", "--param", "activation=sin", "--param", "depth=1", "--param", "C_W=2",
                 "--ansatz", "auto", "--T", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ansatz"] == "1rsb" and out["T"] == 0.0 and out["energy"] < -1.4
    assert main(["phase", "mlp", "--param", "activation=tanh", "--param", "depth=1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["zero_temperature_phase"] == "rs" and out["T_AT"] is None
    assert out["diagnostics"]["rs_locally_stable_T0"] is True


def test_generated_module_carries_the_kernel(tmp_path):
    # the standalone module rebuilds xi from literals (no user text executed) and reproduces the solve
    from replicasym import codegen
    d = rs.derive(rs.models.mlp("x*erf(x)", depth=2), "rs")
    src = codegen.render(d, "numpy")
    assert "return _DeepKernel(_activation('x*erf(x)')" in src
    mod = codegen.load(d, "numpy")
    sol = rs.solve(d, T=0.8)
    r = mod.residuals([np.array([sol.order_parameters["q"]])], [np.array([1 / 0.8])])
    assert abs(float(np.ravel(r[0])[0])) < 1e-10
    with pytest.raises(ReplicasymError):
        rs.solve(d, T=0.8, precision=30)  # no closed form: double precision only


def test_activation_as_a_sympy_expression():
    # issue 10: a new activation from Python, as a SymPy expression object; same model as the string
    x = sp.Symbol("x")
    a = rs.models.mlp(x * sp.erf(x), depth=2)
    b = rs.models.mlp("x*erf(x)", depth=2)
    assert a.options == b.options and a.xi == b.xi
    with pytest.raises(ParameterError):
        rs.models.mlp(sp.Symbol("y") ** 2)
