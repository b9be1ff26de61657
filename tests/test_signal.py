"""Signal propagation (Poole et al. 2016; Schoenholz et al. 2017): fixed points, chi1, depth scales,
the order-chaos critical line, and the `signal` model on the command line."""
import json
import math

import numpy as np
import pytest

import replicasym as rs
from replicasym.cli import main
from replicasym.errors import ParameterError, ParseError
from replicasym.kernels import kernel


def model(**kw):
    return rs.models.build("signal", **kw)


def test_relu_critical_point():
    # reference/yoshino_bahri.md B.1 (KNOWN): ReLU critical point (sigma_w2, sigma_b2) = (2, 0)
    ph = rs.phase(model(activation="relu", sigma_b2=0.0))
    assert ph["sigma_w2_critical"] == pytest.approx(2.0, abs=1e-10)
    assert rs.phase(model(activation="max(x,0)", sigma_w2=2.0))["sigma_b2_critical"] == pytest.approx(0.0)


def test_erf_critical_point():
    # reference/yoshino_bahri.md B.1 (KNOWN): erf at sigma_b = 0 has sigma_w2 = pi/4
    assert rs.phase(model(activation="erf", sigma_b2=0.0))["sigma_w2_critical"] == pytest.approx(math.pi / 4,
                                                                                               rel=1e-10)


@pytest.mark.parametrize("b2, w2c, qc", [(0.01, 1.42420529, 0.27330091), (0.10, 1.98607264, 0.80579918)])
def test_tanh_critical_line_rows(b2, w2c, qc):
    # reference/yoshino_bahri.md B.1 tanh table (COMPUTED, mpmath 30 digits); other rows left unused
    ph = rs.phase(model(activation="tanh", sigma_b2=b2))
    assert ph["sigma_w2_critical"] == pytest.approx(w2c, abs=2e-8)
    assert ph["q_star"] == pytest.approx(qc, abs=2e-8)


def test_tanh_critical_value_high_precision_agrees():
    # the double-precision root and the mpmath root agree to >= 10 digits
    lo = rs.phase(model(activation="tanh", sigma_b2=0.05))["sigma_w2_critical"]
    hi = rs.phase(model(activation="tanh", sigma_b2=0.05), precision=20)["sigma_w2_critical"]
    assert isinstance(hi, str) and abs(float(hi) - lo) < 1e-10
    assert lo == pytest.approx(1.76, abs=0.01)  # Schoenholz et al. 2017 (reference/yoshino_bahri.md)


@pytest.mark.parametrize("w2, q, chi1, xi_q", [(1.5, 0.41803720, 0.93863627, 1.683),
                                               (4.0, 2.19549393, 1.34240241, 0.873)])
def test_tanh_point_values(w2, q, chi1, xi_q):
    # reference/yoshino_bahri.md B.1 "Point values at sigma_b2 = 0.05, tanh" (COMPUTED)
    s = rs.solve(model(activation="tanh", sigma_w2=w2, sigma_b2=0.05))
    assert s.q_star == pytest.approx(q, abs=1e-8)
    assert s.chi1 == pytest.approx(chi1, abs=1e-8)
    assert s.xi_q == pytest.approx(xi_q, abs=1e-3)


def test_tanh_chaotic_correlation_fixed_point():
    # reference/yoshino_bahri.md lists c* = 0.447154, chi_c = 0.918776, xi_c = 11.80 at (2.5, 0.05).  Three
    # independent kernel routes (split Gauss-Legendre, Hermite series, mpmath) put the fixed point of the
    # correlation map at c* = 0.446804 instead (the map at 0.447154 is off by -2.8e-5); xi_c agrees (11.80).
    s = rs.solve(model(activation="tanh", sigma_w2=2.5, sigma_b2=0.05))
    q = s.q_star
    for method in ("quadrature", "hermite"):
        assert (2.5 * kernel("tanh", q, q, s.c_star * q, method=method) + 0.05) / q == pytest.approx(s.c_star,
                                                                                                   abs=1e-10)
    assert s.c_star == pytest.approx(0.446804, abs=2e-6)
    assert s.xi_c == pytest.approx(11.80, abs=0.01)
    assert s.phase == "chaotic"


def test_ordered_phase_and_length_map_slope():
    s = rs.solve(model(activation="tanh", sigma_w2=1.5, sigma_b2=0.05))
    assert s.c_star == 1.0 and s.chi_c == pytest.approx(s.chi1)
    # chi_q = dq'/dq at q*, by finite differences of the length map
    from replicasym.kernels.quadrature import gaussian_expectation
    V = lambda q: 1.5 * gaussian_expectation(lambda x: np.tanh(x) ** 2, q) + 0.05
    h = 1e-5
    assert s.chi_q == pytest.approx((V(s.q_star + h) - V(s.q_star - h)) / (2 * h), rel=1e-6)


def test_user_activation_and_monte_carlo_length_map():
    # q* of a user activation vs a finite-width simulation of the length map (N = 2000, 30 layers)
    m = model(activation="x*erf(x)", sigma_w2=0.8, sigma_b2=0.1)
    s = rs.solve(m)
    rng = np.random.default_rng(1)
    N = 2000
    h = rng.standard_normal(N)
    qs = []
    f = m.activation.numpy()
    for layer in range(30):
        h = rng.standard_normal((N, N)) @ f(h) * math.sqrt(0.8 / N) + rng.standard_normal(N) * math.sqrt(0.1)
        if layer >= 10:
            qs.append(np.mean(h**2))
    assert np.mean(qs) == pytest.approx(s.q_star, rel=0.03)


def test_errors():
    with pytest.raises(ParseError):
        model(activation="__import__('os')")
    with pytest.raises(ParameterError):
        rs.solve(model(activation="relu", sigma_w2=3.0))  # q diverges
    with pytest.raises(ParameterError):
        rs.solve(model(activation="sign", sigma_w2=1.0))  # chi1 infinite
    with pytest.raises(ParameterError):
        model(activation="tanh", sigma_w2=-1)
    with pytest.raises(ParameterError):
        rs.solve(model(), T=1.0)


def test_derivation_trace():
    d = rs.derive(model(activation="erf"))
    assert d.kernel.closed and "asin" in str(d.equations[1])
    d2 = rs.derive(model(activation="x*erf(x)"))
    assert not d2.kernel.closed and "no closed form" in d2.steps.rules()
    assert "\\mathbb{E}" in d2.latex()


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_phase_json(capsys):
    code, out, err = run(capsys, "phase", "signal", "--param", "activation=tanh", "--param", "sigma_b2=0.05",
                         "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert {"q_star", "chi1", "sigma_w2_critical"} <= set(obj)
    assert obj["sigma_w2_critical"] == pytest.approx(1.7609546, abs=1e-6)


def test_cli_solve_derive_and_errors(capsys):
    code, out, err = run(capsys, "solve", "signal", "--param", "activation=tanh(2*x)+0.1*x", "--param",
                         "sigma_w2=1.2", "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["order_parameters"]["q_star"] > 0 and "xi_c" in obj
    code, out, err = run(capsys, "derive", "signal", "--param", "activation=x*erf(x)", "--latex")
    assert code == 0 and "Price" in out
    code, out, err = run(capsys, "phase", "signal", "--param", "activation=x.__class__")
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    code, out, err = run(capsys, "scan", "signal", "--param", "activation=erf", "--sigma_b2", "0:0.1:3", "--json")
    assert code == 0 and json.loads(out)["points"][0]["sigma_w2_critical"] == pytest.approx(math.pi / 4)


def test_cli_scan_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="the phase-diagram plot needs matplotlib (optional extra)")
    path = tmp_path / "phase.png"
    code, _out, err = run(capsys, "scan", "signal", "--param", "activation=tanh", "--sigma_b2", "0:0.2:5",
                         "--plot", str(path))
    assert code == 0, err
    assert path.stat().st_size > 0
