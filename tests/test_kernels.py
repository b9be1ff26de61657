"""Activation kernels: closed forms vs quadrature vs Monte Carlo, Price derivatives, the deep kernel
map, and the activation parser's rejections."""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicasym.errors import ParameterError, ParseError
from replicasym.kernels import BUILTINS, DeepKernel, activation, derive_kernel, kernel
from replicasym.kernels.quadrature import gauss_hermite_kernel, hermite_series

CLOSED = ["linear", "relu", "erf", "sin", "cos", "sign", "leaky_relu", "shaped_relu", "x**3 - x",
          "abs(x)", "x + erf(2*x)", "min(x, 0)"]


@pytest.mark.parametrize("name", CLOSED)
def test_closed_form_found_and_matches_quadrature(name):
    act = activation(name)
    assert derive_kernel(act).closed
    s1, s2, c = 1.3, 0.8, np.array([-0.6, 0.0, 0.4, 0.9])
    closed = kernel(act, s1, s2, c)
    quad = kernel(act, s1, s2, c, method="quadrature", nodes=200)
    tol = 2e-3 if name == "sign" else 1e-6  # a jump of sign(v) off the quadrature's split lines
    np.testing.assert_allclose(closed, quad, atol=tol)


@pytest.mark.parametrize("name", ["relu", "sign", "erf", "sin", "shaped_relu"])
@pytest.mark.parametrize("j", [1, 2])
def test_price_derivatives_match_hermite_series(name, j):
    # Price's theorem d^j K/dc^j = E[sigma^(j) sigma^(j)]; the Hermite series is an independent route
    # (and handles the distributional derivatives, relu'' = delta, sign' = 2 delta).
    c = np.array([-0.5, 0.1, 0.7])
    np.testing.assert_allclose(kernel(name, 1.1, 1.1, c, j), kernel(name, 1.1, 1.1, c, j, method="hermite"),
                               rtol=1e-8, atol=1e-10)


def test_textbook_closed_forms():
    # reference/winer_hanin_mlp.md §2.1 (Cho & Saul arc-cosine; sin e^{-s} sinh c; ReLU'' = delta)
    s, c = 1.7, 0.6
    rho = c / s
    assert kernel("relu", s, s, c) == pytest.approx(s / (2 * math.pi) * (math.sqrt(1 - rho**2)
                                                                         + (math.pi - math.acos(rho)) * rho))
    assert kernel("relu", s, s, c, 1) == pytest.approx((math.pi - math.acos(rho)) / (2 * math.pi))
    assert kernel("relu", s, s, c, 2) == pytest.approx(1 / (2 * math.pi * math.sqrt(s * s - c * c)))
    assert kernel("sin", s, s, c) == pytest.approx(math.exp(-s) * math.sinh(c))
    assert kernel("cos", s, s, c) == pytest.approx(math.exp(-s) * math.cosh(c))
    # reference/yoshino_bahri.md B.1: E[erf erf] = (2/pi) arcsin(2 q12 / sqrt((1+2q11)(1+2q22)))
    assert kernel("erf", 0.7, 1.2, 0.5) == pytest.approx(2 / math.pi * math.asin(1.0 / math.sqrt(2.4 * 3.4)))


def test_polynomial_kernel_is_wick():
    # Isserlis: E[u^3 v^3] = 9 s1 s2 c + 6 c^3
    from replicasym.kernels.closed_forms import S1, S2, C

    assert (derive_kernel(activation("x**3")).kernel - (9 * S1 * S2 * C + 6 * C**3)).expand() == 0


@pytest.mark.parametrize("name", ["tanh", "x*erf(x)", "max(x,0)**2", "tanh(2*x)+0.1*x", "sigmoid", "gelu"])
def test_no_closed_form_quadrature_routes_agree(name):
    act = activation(name)
    kd = derive_kernel(act)
    assert not kd.closed and kd.trace.rules()[-1].startswith("Price")
    c = np.array([-0.3, 0.5])
    quad = kernel(act, 0.9, 0.9, c, method="quadrature", nodes=100)
    np.testing.assert_allclose(quad, kernel(act, 0.9, 0.9, c, method="hermite"), rtol=1e-7, atol=1e-9)


def test_mpmath_route_agrees():
    # mpmath nested quadrature vs the closed form (ReLU) and vs Gauss-Legendre (tanh)
    assert float(kernel("relu", 1.3, 0.8, 0.4, method="mpmath", precision=15)) == pytest.approx(
        kernel("relu", 1.3, 0.8, 0.4), rel=1e-12)
    assert kernel("relu", 1.3, 0.8, 0.4, precision=30) == pytest.approx(kernel("relu", 1.3, 0.8, 0.4))
    assert float(mpmath.mpf(kernel("relu", 1, 1, 0.2, precision=30))) == pytest.approx(
        kernel("relu", 1, 1, 0.2), rel=1e-14)


@pytest.mark.parametrize("name", ["relu", "tanh", "x*erf(x)", "sin"])
def test_kernel_matches_monte_carlo(name):
    # sample average over 4e5 Gaussian pairs; 5 standard errors
    rng = np.random.default_rng(0)
    s1, s2, c = 1.2, 0.7, 0.5
    L = np.linalg.cholesky([[s1, c], [c, s2]])
    u, v = L @ rng.standard_normal((2, 400_000))
    f = activation(name).numpy()
    vals = f(u) * f(v)
    assert abs(vals.mean() - float(kernel(name, s1, s2, c))) < 5 * vals.std() / math.sqrt(vals.size)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["relu", "tanh", "erf", "sin", "x*erf(x)", "sign"]),
       s1=st.floats(0.1, 3.0), s2=st.floats(0.1, 3.0), r=st.floats(-1.0, 1.0))
def test_kernel_is_psd(name, s1, s2, r):
    # the 2x2 Gram matrix of (sigma(u), sigma(v)) is positive semi-definite
    c = r * math.sqrt(s1 * s2)
    k11, k22 = kernel(name, s1, s1, s1), kernel(name, s2, s2, s2)
    k12 = kernel(name, s1, s2, c)
    assert k11 >= -1e-12 and k22 >= -1e-12
    assert k11 * k22 - k12 * k12 >= -1e-9 * max(1.0, k11 * k22)


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(["relu", "tanh", "erf", "sin", "x*erf(x)", "gelu", "linear", "cos"]),
       depth=st.integers(1, 3), C_W=st.floats(0.5, 2.0), C_b=st.floats(0.0, 0.5))
def test_xi_series_coefficients_nonnegative(name, depth, C_W, C_b):
    # Schoenberg: xi is a power series with non-negative coefficients (reference/winer_hanin_mlp.md §2.1)
    coeffs = DeepKernel(name, depth, C_W, C_b).series(12)
    assert np.all(coeffs >= -1e-12)


@pytest.mark.parametrize("name", ["relu", "tanh", "erf"])
def test_deep_kernel_chain_rule_and_series(name):
    dk = DeepKernel(name, 3, 1.5, 0.1)
    q = np.linspace(-0.9, 0.9, 7)
    xi = dk(q, 3)
    h = 1e-4
    for j in range(3):  # each derivative is the finite difference of the previous one
        fd = (dk(q + h, j)[j] - dk(q - h, j)[j]) / (2 * h)
        np.testing.assert_allclose(xi[j + 1], fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.polynomial.polynomial.polyval(0.5, dk.series(60)), dk(0.5)[0], rtol=1e-3)
    # the Hermite-series route equals the closed-form route
    np.testing.assert_allclose(DeepKernel(name, 3, 1.5, 0.1, method="hermite")(q, 2), xi[:3], rtol=1e-8,
                               atol=1e-10)


def test_deep_linear_and_symbolic():
    # linear network: xi(q) = C_W^{L+1} q + C_b (1 + C_W + ... + C_W^L)
    dk = DeepKernel("linear", 2, 2.0, 0.5)
    assert dk(0.3)[0] == pytest.approx(8 * 0.3 + 0.5 * 7)
    import sympy as sp

    expr = DeepKernel("relu", 2, 2.0, 0.0).symbolic()  # ReLU at C_W = 2 preserves the length
    assert float(expr.subs(sp.Symbol("q", real=True), sp.Rational(1, 2))) == pytest.approx(
        DeepKernel("relu", 2, 2.0, 0.0)(0.5)[0])


def test_shaped_activations():
    a = activation("shaped_relu", shape=1.0, depth=4)
    assert a.numpy()(np.array([-2.0, 2.0])).tolist() == [-1.0, 3.0]
    b = activation("shaped_tanh", shape=1.0, depth=100)
    assert b.numpy()(np.array(0.5)) == pytest.approx(10 * math.tanh(0.05))
    assert activation("leaky_relu", slope=0.2).numpy()(np.array(-1.0)) == pytest.approx(-0.2)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_evaluate(name):
    assert np.all(np.isfinite(activation(name).numpy()(np.linspace(-3, 3, 11))))


HOSTILE = ["__import__('os')", "x.__class__", "(lambda: x)()", "x**10**10", "x" + "+x" * 6000,
           "os.system('ls')", "y*erf(y)", "foo(x)", "[x for x in ()]", "x if x else 0", "1+1", "",
           "x; import os", "erf(x, x)", "E(x, z)", "exec('1')", "x" * 20000, "(" * 200 + "x" + ")" * 200]


@pytest.mark.parametrize("text", HOSTILE)
def test_parser_rejects_hostile_activations(text):
    with pytest.raises((ParseError, ParameterError)):
        activation(text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="x()*+-/._'abcdefgijklmnopqrstuvw0123456789[]{}:;=, ", max_size=40))
def test_parser_never_crashes(text):
    try:
        act = activation(text)
    except (ParseError, ParameterError):
        return
    from replicasym.kernels.activations import X

    assert act.expr.has(X)


def test_bad_parameters():
    with pytest.raises(ParameterError):
        activation("relu", slope=0.1)
    with pytest.raises(ParameterError):
        activation("shaped_relu", depth=0)
    with pytest.raises(ParameterError):
        kernel("relu", 1.0, 1.0, 2.0)
    with pytest.raises(ParameterError):
        DeepKernel("tanh", 2, -1.0)


def test_hermite_series_tail_converges_for_tanh():
    b = hermite_series(np.tanh, 1.0)
    assert np.sum(b**2) == pytest.approx(float(gauss_hermite_kernel(np.tanh, 1.0, 1.0, 1.0, n=200)), rel=1e-10)
