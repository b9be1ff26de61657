"""Grid solves of the generated numpy module: ``sweep`` (continuation along one axis), the fused
``residuals_and_jacobian`` that ``newton`` iterates with, and chunk-independent weighted sums."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize

import replicasym as rs
import replicasym.codegen as cg


@pytest.fixture(scope="module")
def sk(tmp_path_factory):
    """The engine's SK RS module in a field (PARAMS = beta, h)."""
    d = rs.derive(rs.models.sk(h=0.3), ansatz="rs")
    mod = cg.load(d, "numpy", tmp_path_factory.mktemp("sweep-cache"))
    assert mod.ORDER_PARAMETERS == ("q",) and mod.PARAMS == ("beta", "h")
    return mod


def grid(n_t=12, n_h=7):
    T, h = np.meshgrid(np.linspace(0.25, 1.4, n_t), np.linspace(0.1, 0.9, n_h), indexing="ij")
    return 1.0 / T, h


def sk_rs_q(beta: float, h: float) -> float:
    """Oracle: the SK RS saddle point in a field, q = E_z tanh^2(beta (sqrt(q) z + h))
    (Sherrington & Kirkpatrick, PRL 35 (1975) 1792; Mezard, Parisi & Virasoro 1987, eq. III.30),
    solved independently of the code generator with scipy.integrate.quad inside brentq."""
    def saddle(q):
        avg = scipy.integrate.quad(lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
                                   * np.tanh(beta * (np.sqrt(q) * z + h)) ** 2,
                                   -np.inf, np.inf, epsabs=1e-13, epsrel=1e-13)[0]
        return q - avg

    return scipy.optimize.brentq(saddle, 1e-12, 1.0, xtol=1e-14)


def test_sweep_solves_the_grid_with_warm_starts(sk):
    beta, h = grid()
    theta, ok, res, its = sk.sweep([0.5], [beta, h], axis=0)
    assert theta[0].shape == ok.shape == res.shape == its.shape == beta.shape
    assert ok.all() and (res < 1e-12).all()
    # the same points from a cold start on the whole grid at once
    cold, ok_c, _, its_c = sk.newton([0.5], [beta, h])
    assert ok_c.all()
    np.testing.assert_allclose(theta[0], cold[0], rtol=0, atol=1e-10)
    assert its.mean() < its_c.mean()  # warm starts save Newton steps
    assert its.mean() < sk.sweep([0.5], [beta, h], extrapolate=0)[3].mean()  # and predictors more
    for i, j in [(0, 0), (0, 6), (5, 3), (11, 0), (11, 6)]:
        assert abs(theta[0][i, j] - sk_rs_q(beta[i, j], h[i, j])) < 1e-10, (i, j)


def test_sweep_axes_and_extrapolation_give_the_same_solution(sk):
    beta, h = grid(6, 5)
    ref = sk.sweep([0.5], [beta, h])[0][0]
    for kwargs in ({"axis": 1}, {"axis": -1}, {"axis": -2}, {"extrapolate": 0}, {"extrapolate": 1}):
        theta, ok, _, _ = sk.sweep([0.5], [beta, h], **kwargs)
        assert ok.all(), kwargs
        np.testing.assert_allclose(theta[0], ref, rtol=0, atol=1e-10, err_msg=str(kwargs))
    # a 1-D grid (slices of one point) and params broadcasting to the grid
    T = np.linspace(0.3, 1.2, 7)
    theta, ok, _, _ = sk.sweep([0.5], [1 / T, 0.4])
    assert ok.all() and theta[0].shape == (7,)
    np.testing.assert_allclose(theta[0], sk.newton([0.5], [1 / T, 0.4])[0][0], rtol=0, atol=1e-10)


def test_sweep_reports_failed_points_as_nan(sk):
    beta, h = grid()
    theta, ok, res, its = sk.sweep([0.5], [beta, h], maxiter=3)
    assert ok.any() and not ok.all()  # too few steps for some points: a meaningful mixture
    assert np.array_equal(np.isnan(theta[0]), ~ok)  # failed points are NaN, never a stale iterate
    assert (res[ok] < 1e-12).all() and (res[~ok] >= 1e-12).all()
    assert (its[~ok] == 3).all()
    full = sk.sweep([0.5], [beta, h])[0][0]
    np.testing.assert_allclose(theta[0][ok], full[ok], rtol=0, atol=1e-10)
    # a start where the residual is not even defined (sqrt of a negative q): every point fails
    theta, ok, res, _ = sk.sweep([-0.5], [beta, h])
    assert not ok.any() and np.isnan(theta[0]).all() and np.isinf(res).all()


def test_sweep_rejects_bad_arguments(sk):
    beta, h = grid(3, 2)
    with pytest.raises(ValueError, match="at least one axis"):
        sk.sweep([0.5], [2.0, 0.3])
    with pytest.raises(ValueError, match="out of range"):
        sk.sweep([0.5], [beta, h], axis=2)
    with pytest.raises(ValueError, match="expected 1 starting values"):
        sk.sweep([0.5, 0.2], [beta, h])


def test_fused_residuals_and_jacobian_match_the_separate_functions(sk):
    beta, h = grid(5, 4)
    q = np.linspace(0.05, 0.95, beta.size).reshape(beta.shape)
    g, J = sk.residuals_and_jacobian([q], [beta, h])
    np.testing.assert_allclose(g[0], sk.residuals([q], [beta, h])[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(J[0][0], sk.jacobian([q], [beta, h])[0][0], rtol=0, atol=1e-13)


def test_weighted_sums_do_not_depend_on_the_chunk(tmp_path):
    # a nested expectation (SK 1RSB: E_z0 log E_z1 ...) evaluated in one chunk and one point per chunk
    mod = cg.load(rs.derive(rs.models.sk(h=0.3), ansatz="1rsb"), "numpy", tmp_path)
    mod.set_quadrature(41)
    rng = np.random.default_rng(0)
    q0 = rng.uniform(0.05, 0.3, 5)
    theta = [q0, q0 + rng.uniform(0.1, 0.5, 5), rng.uniform(0.2, 0.9, 5)]
    params = [rng.uniform(0.8, 3.0, 5), 0.3]
    whole = mod.residuals_and_jacobian(theta, params)
    mod.CHUNK_ELEMENTS = 1
    pieces = mod.residuals_and_jacobian(theta, params)
    flat = [np.concatenate([np.ravel(v) for v in [*x[0], *(e for row in x[1] for e in row)]])
            for x in (whole, pieces)]
    assert np.array_equal(flat[0], flat[1])
