"""Replica-symmetry breaking at finite width: the engine's k-RSB layer block, the depth-1 reduction and
its 1RSB solutions (replicasym.symbolic.layered, symbolic.one_hidden_layer, solvers.one_hidden_layer)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import replicasym as rs
from replicasym.errors import ConvergenceError, ParameterError
from replicasym.kernels.activations import activation
from replicasym.solvers.layer_quadrature import Quadrature, Rule, compile_expression
from replicasym.solvers.one_hidden_layer import solve_one_hidden_layer
from replicasym.symbolic.layered import ALPHA, C_B, C_W, generic_equations
from replicasym.symbolic.one_hidden_layer import one_hidden_layer


def _value(expr, fields, point, rule):
    args = tuple(point)
    f = compile_expression(expr, args, Quadrature(rule, fields))
    return float(f(*[np.array([v]) for v in point.values()])[0])


def test_1rsb_block_collapses_to_the_rs_block():
    """With equal levels (P_1 = P_0, Q_1 = Q_0, Lambda_1 = Lambda_0) the 1RSB block is the RS block for any m:
    the level-1 fields drop out and (1/m) log E Z^m = log Z (reference/winer_hanin_mlp.md §3.6)."""
    act = activation("tanh")
    rsb, rs_ = generic_equations(act, "finite", 1).block, generic_equations(act, "finite", 0).block
    assert rsb.sizes == (sp.Symbol("m", positive=True),) and len(rsb.own) == 3
    vals = {"P_d": 1.0, "P_0": 0.4, "Q_d": 0.7, "Q_0": 0.3, "Lambda_d": 1.9, "Lambda_0": 1.2}
    common = {ALPHA: 1.5, C_W: 1.3, C_B: 0.2}
    sym = {s.name: s for s in rsb.phi.free_symbols | rs_.phi.free_symbols}
    rs_point = {**{sym[k]: v for k, v in vals.items()}, **common}
    ref = _value(rs_.phi, (sp.Symbol("xi", real=True), sp.Symbol("u", real=True), sp.Symbol("eta", real=True)),
                 rs_point, Rule(25, 25, 24))
    fields = tuple(sp.Symbol(n, real=True) for n in ("xi_0", "u_0", "xi_1", "u_1", "eta"))
    for m in (0.3, 0.8):
        point = {**rs_point, sym["P_1"]: vals["P_0"], sym["Q_1"]: vals["Q_0"], sym["Lambda_1"]: vals["Lambda_0"],
                 sym["m"]: m}
        assert _value(rsb.phi, fields, point, Rule(25, 25, 24)) == pytest.approx(ref, abs=1e-10)


def test_1rsb_equations_have_one_condition_per_level():
    eqs = generic_equations(activation("sin"), "finite", 1)
    assert len(eqs.forward) == len(eqs.backward) == len(eqs.top) == 3
    assert len(eqs.input_residuals) == 2 and len(eqs.breakpoints) == 1
    assert eqs.input_solution is None
    # the top condition: Lambda^(L) = beta^2 C_W / alpha at every level
    assert len(set(eqs.top)) == 1


def test_depth_one_reduction_cancels_Q_and_matches_the_zipper():
    """The engine's depth-1 reduction (Lambda fixed by the top condition, Q cancelled) at k = 0 against the
    generic RS zipper: an independent route to the same saddle point (sin, C_W = 2, alpha = 4, T = 0.5)."""
    act = activation("sin")
    red = one_hidden_layer(act, 0)
    assert not any(s.name.startswith("Q_") for s in red.phi.free_symbols)
    s = solve_one_hidden_layer(act, 4.0, 0.5, 2.0, 0.0, k=0)
    z = rs.models.mlp("sin", depth=1, C_W=2.0, alpha=4.0).solve(T=0.5)
    assert s.values["q"] == pytest.approx(z.order_parameters["q"], abs=2e-7)
    assert s.free_entropy == pytest.approx(z.free_entropy, abs=1e-7)
    assert s.energy == pytest.approx(z.energy, abs=1e-6)


def test_1rsb_bad_input():
    m = rs.models.mlp("sin", depth=2, C_W=2.0, alpha=4.0)
    with pytest.raises(ParameterError, match="one hidden layer only"):
        m.solve(T=0.4, ansatz="1rsb")
    with pytest.raises(ParameterError, match="T must be > 0"):
        rs.models.mlp("sin", depth=1, C_W=2.0, alpha=4.0).solve(T=0, ansatz="1rsb")
    with pytest.raises(ParameterError, match="RS and 1RSB"):
        m.derive(ansatz="frsb")
    d = m.derive(ansatz="1rsb")  # any depth is derived
    assert d.ansatz == "1rsb" and {"q_0", "q_1", "m"} <= {str(s) for s in d.order_parameters}


@pytest.mark.slow
def test_1rsb_appears_where_the_finite_width_replicon_is_negative():
    """Two independent derivations: the finite-alpha replicon of the RS zipper (symbolic.layered.replicon_kernels)
    and the 1RSB saddle point.  sin, C_W = 2, alpha = 4: the replicon is negative at T = 0.4, 0.5 and positive at
    T = 0.6; 1RSB solutions exist at T = 0.4, 0.5 with Phi_1RSB < Phi_RS and a gap q_1 - q_0 that closes towards
    T_AT (continuous transition), and none is found at T = 0.6."""
    m = rs.models.mlp("sin", depth=1, C_W=2.0, alpha=4.0)
    gaps = []
    for T in (0.4, 0.5):
        r, s = m.solve(T=T), m.solve(T=T, ansatz="1rsb")
        assert r.replicon < 0
        assert s.free_entropy < r.free_entropy
        o = s.order_parameters
        assert 0 < o["q_0"] < o["q_1"] < 1 and 0 < o["m"] < 1
        gaps.append(o["q_1"] - o["q_0"])
    assert gaps[1] < 0.5 * gaps[0]
    assert m.solve(T=0.6).replicon > 0
    with pytest.raises(ConvergenceError, match="RS"):
        solve_one_hidden_layer(m.activation, 4.0, 0.6, 2.0, 0.0, k=1)


@pytest.mark.slow
def test_wide_network_1rsb_approaches_the_gp_limit_as_one_over_alpha():
    """alpha -> oo: the GP limit's 1RSB (the spherical model with xi = NNGP kernel, solved by the Parisi route of
    replicasym.solvers.thermo) at sin, C_W = 2, T = 0.4; the finite-width free entropy approaches it as
    c/alpha with the same c at alpha = 64 and 1e4."""
    gp = rs.solve(rs.models.mlp("sin", depth=1, C_W=2.0), T=0.4, ansatz="1rsb")
    slopes = []
    for alpha in (64.0, 1e4):
        s = solve_one_hidden_layer(activation("sin"), alpha, 0.4, 2.0, 0.0, k=1)
        slopes.append((s.free_entropy - gp.free_entropy) * alpha)
        for k in ("q_0", "q_1", "m"):
            assert s.values[k] == pytest.approx(gp.order_parameters[{"q_0": "q0", "q_1": "q1"}.get(k, k)],
                                                abs=30 / alpha)
    assert slopes[0] == pytest.approx(slopes[1], rel=0.1)


def test_cli_derives_the_finite_width_1rsb_equations(capsys):
    import json

    from replicasym.cli import main
    assert main(["derive", "mlp", "--param", "activation=tanh", "--param", "depth=2", "--param", "alpha=2",
                 "--ansatz", "1rsb", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["ansatz"] == "1rsb"
    assert {"q_0", "q_1", "m", "Lambda^{(2)}_1", "Q^{(1)}_1"} <= set(obj["order_parameters"])
