"""Arbitrary-precision solves through the public API (``replicasym.solve(..., precision=DIGITS)``).

Each saddle point is checked three ways: the residual reaches 10^-(digits-5); the answer agrees with
the double-precision solve; and it agrees with an independent route written here, from the textbook
equations, not from the engine:

* SK in a field h, RS (Sherrington & Kirkpatrick 1975; de Almeida & Thouless 1978):
  q = E_z tanh^2(beta (sqrt(q) z + h)), solved by mpmath.findroot on mpmath.quad.
* Spherical pure 3-spin, 1RSB (Crisanti & Sommers, Z. Phys. B 87 (1992) 341), xi(q) = q^3/2, q_0 = 0:
  Phi(q, m) = beta^2/4 (1 - (1-m) q^3) + (m-1)/(2m) log(1-q) + log(1-(1-m) q)/(2m), stationary in
  q and m.  T = 0.5 lies below T_s = 0.586 of this model (Crisanti & Sommers 1992), where 1RSB is
  the stable solution (positive replicon, 0 < m < 1).
"""
from __future__ import annotations

import mpmath
import pytest

import replicasym as rs


def _sk_field_q(beta, h, start):
    """Independent RS overlap of SK in a field: q = E tanh^2(beta (sqrt(q) z + h)) by mpmath.quad,
    split at the zero of the argument (where the integrand has its structure)."""
    def F(q):
        return mpmath.quad(lambda z: mpmath.tanh(beta * (mpmath.sqrt(q) * z + h)) ** 2 * mpmath.npdf(z),
                           [-mpmath.inf, -h / mpmath.sqrt(q), mpmath.inf])
    return mpmath.findroot(lambda q: q - F(q), mpmath.mpf(start))


def _pspin3_1rsb(beta, start):
    """Independent 1RSB saddle point of the spherical 3-spin model: the Crisanti-Sommers functional
    (module docstring) made stationary in q and m with mpmath.diff; returns (q, m, Phi)."""
    def phi(q, m):
        return (beta**2 / 4 * (1 - (1 - m) * q**3) + (m - 1) / (2 * m) * mpmath.log(1 - q)
                + mpmath.log(1 - (1 - m) * q) / (2 * m))
    q, m = mpmath.findroot([lambda q, m: mpmath.diff(lambda x: phi(x, m), q),
                            lambda q, m: mpmath.diff(lambda y: phi(q, y), m)],
                           tuple(mpmath.mpf(s) for s in start))
    return q, m, phi(q, m)


@pytest.fixture(scope="module")
def sk_double():
    return rs.solve(rs.models.sk(h=0.3), T=0.5, ansatz="rs")


@pytest.fixture(scope="module")
def pspin_double():
    return rs.solve(rs.models.spherical(p=3), T=0.5, ansatz="1rsb")


def _check_residual(sol, digits):
    assert sol.converged
    assert sol.digits == digits
    assert abs(sol.residual) < mpmath.mpf(10) ** (-(digits - 5))


# 100 digits: ~6 s (the independent mpmath.quad route dominates)
@pytest.mark.parametrize("digits", [50, pytest.param(100, marks=pytest.mark.slow)])
def test_sk_field_rs_full_precision(digits, sk_double):
    sol = rs.solve(rs.models.sk(h=0.3), T=0.5, ansatz="rs", precision=digits)
    _check_residual(sol, digits)
    q = sol.order_parameters["q"]
    assert isinstance(q, mpmath.mpf)
    # double precision: Newton stops at residual 1e-11 (1 + beta^2), q to ~1e-10
    assert abs(q - sk_double.order_parameters["q"]) < 1e-9
    assert abs(sol.free_entropy - sk_double.free_entropy) < 1e-10
    with mpmath.workdps(digits + 5):
        ref = _sk_field_q(mpmath.mpf(2), mpmath.mpf(3) / 10, sk_double.order_parameters["q"])
        assert abs(q - ref) < mpmath.mpf(10) ** (-(digits - 5))


@pytest.mark.parametrize("digits", [50, 100])
def test_pspin3_1rsb_full_precision(digits, pspin_double):
    sol = rs.solve(rs.models.spherical(p=3), T=0.5, ansatz="1rsb", precision=digits)
    _check_residual(sol, digits)
    assert sol.replicon > 0 and 0 < sol.order_parameters["m"] < 1  # the stable 1RSB solution
    for name in ("q1", "m"):
        assert abs(sol.order_parameters[name] - pspin_double.order_parameters[name]) < 1e-10
    assert abs(sol.free_entropy - pspin_double.free_entropy) < 1e-10
    with mpmath.workdps(digits + 5):
        q, m, phi = _pspin3_1rsb(mpmath.mpf(2), (pspin_double.order_parameters["q1"],
                                                 pspin_double.order_parameters["m"]))
        tol = mpmath.mpf(10) ** (-(digits - 5))
        assert abs(sol.order_parameters["q1"] - q) < tol
        assert abs(sol.order_parameters["m"] - m) < tol
        assert abs(sol.free_entropy - phi) < tol


def test_decimal_parameters_are_exact_at_high_precision():
    """h = 0.3 means 3/10 at 50 digits, not the double nearest to 0.3 (which moves q by ~3e-18)."""
    sol = rs.solve(rs.models.sk(h=0.3), T=0.5, ansatz="rs", precision=40)
    with mpmath.workdps(45):
        ref = _sk_field_q(mpmath.mpf(2), mpmath.mpf(3) / 10, "0.5694")
        assert abs(sol.order_parameters["q"] - ref) < mpmath.mpf(10) ** -35
