"""Finite-width random MLP (issue 7): the layered replica action, the zipper solver, the linear checks.

Oracles:
* reference/winer_hanin_mlp.md §3.3 (RS saddle-point equations, re-derived by hand in the
  independent quadrature below), §3.4 (alpha -> oo gives the spherical model with xi = the NNGP
  kernel: compared with the project's GP-limit solver), §5.1 (linear network: thermodynamics
  alpha-independent, the random-field spherical model) and §5.2 (ground-state hidden norms
  C_W^l (1 + sum_{k<=l} 1/alpha_k));
* a random-matrix computation: the linear network's H(x) = sqrt(N) g.x is minimised on the sphere by
  x* = -sqrt(N) g/|g| with g the row vector v W^(L)...W^(1).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import replicasym as rs
from replicasym.cli import main
from replicasym.errors import ConvergenceError, ParameterError
from replicasym.kernels.activations import activation
from replicasym.kernels.quadrature import gauss_hermite
from replicasym.montecarlo.compare import finite_width_layers as compare_layers
from replicasym.solvers import layer_quadrature
from replicasym.solvers import zipper as zmod
from replicasym.solvers.layer_quadrature import FIRST_RULE, Rule
from replicasym.symbolic.layered import generic_equations


def test_trace_records_the_engine_steps():
    d = rs.derive(rs.models.mlp("linear", depth=2, alpha=[1.0, 0.5]), ansatz="rs")
    rules = d.steps.rules()
    for rule in ("network", "hidden layer", "hubbard-stratonovich", "replica limit", "layer block",
                 "sphere normalisation", "output layer", "forward", "backward", "top", "input"):
        assert rule in rules, rule
    # the top boundary of §3.3, symbolically: Lambda^L_d = Lambda^L_0 = beta^2 C_W / alpha_L
    eqs = generic_equations(activation("linear"))
    beta, cw, alpha = sp.symbols("beta C_W alpha", positive=True)
    assert all(sp.simplify(t - beta**2 * cw / alpha) == 0 for t in eqs.top)
    # input equation: q/(1-q)^2 = 2R (the spherical entropy's slope), q in (0, 1)
    R = eqs.input_rhs
    q = eqs.input_solution
    assert sp.simplify(q / (1 - q) ** 2 - 2 * R) == 0


def _independent_layer(act, Sd, S0, Ld, L0, n=80):
    """reference §3.3 by brute-force Gauss-Hermite quadrature (independent of the engine): the tilted
    averages of sigma, sigma^2 and of g' = (sqrt(L0) u + (Ld - L0) sigma) sigma',
    g'' = (sqrt(L0) u + (Ld - L0) sigma) sigma'' + (Ld - L0) sigma'^2."""
    s, ds, dds = (act.numpy(k) for k in range(3))
    z_, w_ = gauss_hermite(n)
    xi, u, eta = z_[:, None, None], z_[None, :, None], z_[None, None, :]
    z = np.sqrt(S0) * xi + np.sqrt(Sd - S0) * eta
    sig = s(z)
    weight = w_[None, None, :] * np.exp(np.sqrt(L0) * u * sig + 0.5 * (Ld - L0) * sig**2)

    def avg(f):
        return np.sum(weight * f, axis=2) / np.sum(weight, axis=2)

    def E(f):
        return float(np.einsum("i,j,ij->", w_, w_, f))
    h = np.sqrt(L0) * u + (Ld - L0) * sig
    g1 = h * ds(z)
    g2 = h * dds(z) + (Ld - L0) * ds(z) ** 2
    zz = np.broadcast_to(z, weight.shape)
    return {"Q_d": E(avg(sig**2)), "Q_0": E(avg(sig) ** 2), "dG_dSd": 0.5 * E(avg(g2 + g1**2)),
            "dG_dS0": -0.5 * E(avg(g1) ** 2), "pre_d": E(avg(zz**2)), "pre_0": E(avg(zz) ** 2)}


def _call(f, **kw):
    names = ["P_d", "P_0", "Q_d", "Q_0", "Lambda_d", "Lambda_0", "Lambda_d'", "Lambda_0'", "alpha", "alpha'",
             "q", "R", "beta", "C_W", "C_b"]
    return float(f(*[np.array([float(kw.get(k, 0.0))]) for k in names])[0])


def test_engine_equations_match_the_reference_for_tanh():
    # §3.3: forward Q_d = E<sigma^2>, Q_0 = E<sigma>^2; backward Lambda_d = (2 alpha' C_W/alpha) dG'/dSigma_d,
    # Lambda_0 = -(2 alpha' C_W/alpha) dG'/dSigma_0; input R = -alpha C_W dG_1/dSigma_0 (q/(1-q)^2 = 2R)
    act = activation("tanh")
    ce = zmod.compile_equations(generic_equations(act), Rule(xi=97, u=97, eta=60))
    cw, cb, a, a2 = 1.3, 0.2, 0.7, 1.6
    P_d, P_0, Ld, L0 = 0.9, 0.4, 0.8, 0.5
    ref = _independent_layer(act, cb + cw * P_d, cb + cw * P_0, Ld, L0)
    kw = {"P_d": P_d, "P_0": P_0, "Lambda_d": Ld, "Lambda_0": L0, "alpha": a, "C_W": cw, "C_b": cb}
    assert _call(ce.forward[0], **kw) == pytest.approx(ref["Q_d"], abs=1e-9)
    assert _call(ce.forward[1], **kw) == pytest.approx(ref["Q_0"], abs=1e-9)
    kb = {"Q_d": P_d, "Q_0": P_0, "Lambda_d'": Ld, "Lambda_0'": L0, "alpha": a, "alpha'": a2, "C_W": cw, "C_b": cb}
    assert _call(ce.backward[0], **kb) == pytest.approx(2 * a2 * cw / a * ref["dG_dSd"], abs=1e-8)
    assert _call(ce.backward[1], **kb) == pytest.approx(-2 * a2 * cw / a * ref["dG_dS0"], abs=1e-8)
    ki = {"q": P_0, "Lambda_d": Ld, "Lambda_0": L0, "alpha": a, "C_W": cw, "C_b": cb}
    ref1 = _independent_layer(act, cb + cw, cb + cw * P_0, Ld, L0)
    assert _call(ce.input_rhs, **ki) == pytest.approx(-a * cw * ref1["dG_dS0"], abs=1e-8)


def _relu_moments_closed_form(m, c, h, D):
    """<relu(z)^k>, k = 0, 1, 2, under the tilted measure phi(eta) exp(h relu(z) + D relu(z)^2/2), z = m + c eta,
    in closed form (independent of the engine): eta < -m/c contributes Phi(-m/c) with relu = 0; above, the
    exponent is a Gaussian of precision p = 1 - D c^2 in eta (truncated-normal moments, erfc)."""
    from scipy.special import log_ndtr
    p = 1 - D * c**2
    mu = (h * c + D * m * c) / p
    t0 = np.sqrt(p) * (-m / c - mu)
    A, B = m + c * mu, c / np.sqrt(p)
    log_i0 = log_ndtr(-t0)
    i1 = np.exp(-t0**2 / 2 - log_i0) / np.sqrt(2 * np.pi)  # phi(t0)/I_0
    j = (1.0, A + B * i1, A**2 + 2 * A * B * i1 + B**2 * (1 + t0 * i1))  # J_k/I_0
    log_f = p * mu**2 / 2 + h * m + D * m**2 / 2 - np.log(p) / 2 + log_i0
    left = np.exp(log_ndtr(-m / c) - log_f)  # Phi(-m/c)/(F I_0)
    return [jk / (left + 1.0) for jk in j][1:]


def test_relu_forward_equations_against_closed_form_eta_integrals():
    """ReLU's eta-average has a kink where z = sqrt(S0) xi + sqrt(Sd - S0) eta crosses 0; the layer quadrature
    splits its eta panels there (a Gauss-Hermite rule across the kink left 4e-4 residuals).  The compiled forward
    equations (Q_d = E<sigma^2>, Q_0 = E<sigma>^2) against the closed-form eta moments and Gauss-Hermite in xi, u
    (smooth after the eta average)."""
    act = activation("relu")
    ce = zmod.compile_equations(generic_equations(act), Rule(xi=97, u=97, eta=40))
    cw, cb, P_d, P_0, Ld, L0 = 2.0, 0.1, 1.0, 0.45, 0.9, 0.6
    z_, w_ = gauss_hermite(120)
    xi, u = z_[:, None], z_[None, :]
    m, c = np.sqrt(cb + cw * P_0) * xi, np.sqrt(cw * (P_d - P_0))
    s1, s2 = _relu_moments_closed_form(m, c, np.sqrt(L0) * u, Ld - L0)
    kw = {"P_d": P_d, "P_0": P_0, "Lambda_d": Ld, "Lambda_0": L0, "alpha": 1.0, "C_W": cw, "C_b": cb}
    assert _call(ce.forward[0], **kw) == pytest.approx(float(w_ @ s2 @ w_), abs=1e-9)
    assert _call(ce.forward[1], **kw) == pytest.approx(float(w_ @ s1**2 @ w_), abs=1e-9)


def test_wide_network_reduces_to_the_gp_limit():
    # §3.4: alpha -> oo is the spherical model with xi = K^(L+1); the finite-alpha correction is O(1/alpha),
    # so the Richardson extrapolation of alpha = 1e3, 1e4 must equal the GP-limit solver's RS solution
    gp = rs.solve(rs.models.mlp("tanh", depth=2), T=0.5, ansatz="rs")
    s3, s4 = (rs.models.mlp("tanh", depth=2, alpha=a).solve(T=0.5) for a in (1e3, 1e4))
    for get in (lambda s: s.order_parameters["q"], lambda s: s.free_entropy, lambda s: s.energy):
        d3, d4 = get(s3) - get(gp), get(s4) - get(gp)
        assert abs(d4) < 1e-4 and abs(d3) > 5 * abs(d4)  # O(1/alpha)
        assert abs((10 * get(s4) - get(s3)) / 9 - get(gp)) < 1e-7


def test_linear_thermodynamics_is_alpha_independent():
    # §5.1: xi_1 = C_W^(L+1), b = beta^2 xi_1, y = 1 - q = (sqrt(1 + 4b) - 1)/(2b),
    # Phi = log(y)/2 + b y, e = -beta xi_1 y (the RS random-field spherical model) at every width
    cw, T = 1.2, 0.7
    beta, xi1 = 1 / T, cw**4
    b = beta**2 * xi1
    y = (np.sqrt(1 + 4 * b) - 1) / (2 * b)
    gp = rs.solve(rs.models.mlp("linear", depth=3, C_W=cw), T=T, ansatz="rs")
    for alphas in ([0.5, 2.0, 1.0], [0.3, 0.3, 0.3]):
        s = rs.models.mlp("linear", depth=3, C_W=cw, alpha=alphas).solve(T=T)
        assert s.order_parameters["q"] == pytest.approx(1 - y, abs=1e-10)
        assert s.free_entropy == pytest.approx(0.5 * np.log(y) + b * y, abs=1e-10)
        assert s.energy == pytest.approx(-beta * xi1 * y, abs=1e-10)
        assert s.entropy == pytest.approx(0.5 * np.log(1 - s.energy**2 / xi1), abs=1e-10)  # s(E), §5.1
        assert s.free_entropy == pytest.approx(gp.free_entropy, abs=1e-9)
        # §5.1: xi'' = 0, so the replicon 1 - beta^2 xi''(q)(1 - q)^2 is 1 at every T and width
        assert s.replicon == pytest.approx(1.0, abs=1e-10)
        # hidden norms at T > 0: C_W^l (1 + q sum_{k<=l} 1/alpha_k) (replicasym.montecarlo.compare,
        # linear_layer_norms, derived there independently from the Gaussian weights)
        q = 1 - y
        for ell, Qd in enumerate(s.profile["Q_d"]):
            assert Qd == pytest.approx(cw ** (ell + 1) * (1 + q * sum(1 / a for a in alphas[: ell + 1])), rel=1e-9)


@pytest.mark.parametrize("cw, alphas", [(1.0, [0.5, 2.0, 1.0]), (2.0, [1.0, 0.25]), (0.8, [0.7] * 25)])
def test_linear_ground_state_hidden_norms(cw, alphas):
    # §5.2: Q^l_d(ground state) = C_W^l (1 + sum_{k<=l} 1/alpha_k), E_gs = -C_W^((L+1)/2) (§5.1)
    s = rs.models.mlp("linear", depth=len(alphas), C_W=cw, alpha=alphas).solve(T=0)
    assert s.energy == pytest.approx(-cw ** ((len(alphas) + 1) / 2), rel=1e-10)
    for ell, Qd in enumerate(s.profile["Q_d"]):
        assert Qd == pytest.approx(cw ** (ell + 1) * (1 + sum(1 / a for a in alphas[: ell + 1])), rel=1e-10)


def test_zero_temperature_is_the_low_temperature_limit():
    # the engine's T -> 0 block against the finite-T zipper: Q_d(T) -> Q_d(0) linearly in T (below
    # T ~ 0.02 the finite-T variables lose digits: Q_0 = Q_d - O(T), Lambda = O(1/T^2); T = 0 is the way)
    m = rs.models.mlp("linear", depth=3, alpha=[0.5, 2.0, 1.0])
    gs = m.solve(T=0)
    gaps = [max(abs(a - b) for a, b in zip(m.solve(T=T).profile["Q_d"], gs.profile["Q_d"])) for T in (0.04, 0.02)]
    assert 0.4 * gaps[0] < gaps[1] < 0.6 * gaps[0] and gaps[1] < 0.1
    assert m.solve(T=0.02).energy == pytest.approx(gs.energy, abs=0.02)


def _rmt_ground_state(N, alphas, cw, rng):
    """One draw: E_gs = H(x*)/N and |z^(l)(x*)|^2/N_l at x* = -sqrt(N) g/|g|, g = v W^(L)...W^(1)."""
    widths = [N] + [round(a * N) for a in alphas]
    Ws = [rng.normal(0, np.sqrt(cw / widths[k]), (widths[k + 1], widths[k])) for k in range(len(alphas))]
    g = rng.normal(0, np.sqrt(cw / widths[-1]), widths[-1])
    for W in reversed(Ws):
        g = g @ W
    x = -np.sqrt(N) * g / np.linalg.norm(g)
    out, z = [np.sqrt(N) * (g @ x) / N], x
    for W in Ws:
        z = W @ z
        out.append(z @ z / z.size)
    return out


def test_linear_ground_state_against_random_matrices():
    # 40 networks at N = 300 (C_b = 0): the minimiser's energy and hidden norms agree with the replica
    # prediction within 4 standard errors of the mean
    alphas = [0.5, 2.0, 1.0]
    rng = np.random.default_rng(7)
    draws = np.array([_rmt_ground_state(300, alphas, 1.0, rng) for _ in range(40)])
    mean, sem = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    s = rs.models.mlp("linear", depth=3, alpha=alphas).solve(T=0)
    pred = [s.energy, *s.profile["Q_d"]]
    assert np.all(np.abs(mean - pred) < 4 * sem), (mean, sem, pred)


def test_design_contract_user_activation():
    # DESIGN.md public contract: rs.models.mlp(activation="x*erf(x)", depth=3, alpha=[1.0, 0.5, 2.0]);
    # the block is derived for an opaque sigma and the activation substituted at the end
    m = rs.models.mlp(activation="x*erf(x)", depth=3, alpha=[1.0, 0.5, 2.0])
    d = rs.derive(m, ansatz="rs")
    assert "activation" in d.steps.rules() and len(d.order_parameters) == 1 + 4 * 3
    s = rs.solve(m, T=0.5)
    assert s.converged and s.residual < 1e-9 and s.energy < 0 and 0 < s.order_parameters["q"] < 1


def test_cli_done_criterion(capsys):
    import json
    assert main(["solve", "mlp", "--param", "activation=linear", "--param", "depth=3", "--param", "alpha=0.5,2,1",
                 "--T", "0", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["energy"] == pytest.approx(-1.0, abs=1e-9)
    assert obj["profile"]["Q_d"] == pytest.approx([3.0, 3.5, 4.5], abs=1e-9)
    assert {"Q1_d", "chi1", "mu1", "lambda1"} <= set(obj["order_parameters"])


def test_replicon_that_overflows_is_reported_not_returned(monkeypatch):
    """At low T the replicon kernels' Cameron-Martin weights overflow (tanh, C_W = 4, alpha = 0.5: NaN at
    T = 0.065, where Lambda_0 = 1.9e3).  A NaN replicon compares as neither > 0 nor <= 0, so replicon_line
    used to run past it and report 'RS stable'; now replicon raises, solve keeps the solution with
    replicon None and a note, and replicon_line ends its scan there (T_reached)."""
    m = rs.models.mlp("tanh", depth=1, C_W=4.0, alpha=0.5)
    real = zmod._compiled_replicon

    def nan_kernels(act, rule):
        kernels, recursion, lam, K = real(act, rule)
        return tuple(lambda *v: np.full(np.broadcast(*v).shape, np.nan) for _ in kernels), recursion, lam, K
    monkeypatch.setattr(zmod, "_compiled_replicon", nan_kernels)
    s = m.solve(T=0.5)
    assert s.replicon is None and any("replicon not evaluated" in n for n in s.notes)
    assert np.isfinite(s.energy)
    with pytest.raises(ConvergenceError, match="not finite"):
        zmod.replicon_line(m, T_max=0.6, T_min=0.5, points=2)


@pytest.mark.slow
def test_replicon_is_resolved_on_its_own_rule():
    """The replicon's kernels (squares of second derivatives) need finer rules than the solution: sin, C_W = 2,
    depth 2, alpha = 0.5, T = 0.6 was 5.5e-4 off on the solution's rule (0.59346 against 0.59290 with xi
    doubled; 0.75525 with the old 40-node Gauss-Hermite rules).  Started from two different rules (which end
    on different rules), the refined replicon agrees to the quadrature tolerance."""
    import dataclasses
    m = rs.models.mlp("sin", depth=2, C_W=2.0, alpha=0.5)
    prof = zmod.zipper(generic_equations(m.activation, "finite"), m.alphas, 1 / 0.6, 2.0, 0.0)
    coarse = zmod.replicon(m.activation, prof, m.alphas, 2.0, 0.0)
    fine = zmod.replicon(m.activation, dataclasses.replace(prof, rule=Rule(xi=97, u=193, eta=60)), m.alphas, 2.0, 0.0)
    assert coarse == pytest.approx(fine, abs=5e-7)
    assert coarse == pytest.approx(0.59290, abs=2e-5)


def test_bad_input_and_non_convergence(monkeypatch):
    with pytest.raises(ParameterError, match="one value or one per hidden layer"):
        rs.models.mlp("tanh", depth=3, alpha=[1.0, 2.0])
    with pytest.raises(ParameterError, match="alpha must be a finite number"):
        rs.models.mlp("tanh", depth=1, alpha=-1)
    m = rs.models.mlp("tanh", depth=1, alpha=1.0)
    with pytest.raises(ParameterError, match="jumps"):  # a step activation has no T = 0 envelope maximiser
        rs.models.mlp("sign", depth=1, alpha=1.0).solve(T=0)
    with pytest.raises(ParameterError, match="solves the RS ansatz"):
        m.solve(T=0.5, ansatz="frsb")
    with pytest.raises(ParameterError, match="T_min < T_max"):
        zmod.replicon_line(m, T_max=0.5, T_min=1.0)
    monkeypatch.setattr(zmod, "MAX_SWEEPS", 1)
    with pytest.raises(ConvergenceError) as err:
        zmod.zipper(generic_equations(activation("linear")), [1.0, 1.0], beta=2.0, tol=1e-300)
    assert err.value.residual is not None and err.value.residual > 0


@pytest.mark.slow
def test_deep_tanh_network():
    # depth 20 at finite width (~30 s): the zipper + Newton converge to the full residual tolerance
    s = rs.models.mlp("tanh", depth=20, alpha=2.0).solve(T=0.5)
    assert s.converged and s.residual < 1e-9
    assert len(s.profile["Q_d"]) == 20


@pytest.mark.slow
def test_tanh_at_alpha_one_against_monte_carlo():
    # the project's Monte Carlo of the explicit network (replicasym.montecarlo: Gaussian weights, N = 100,
    # N_1 = 100, Metropolis on the sphere, 16 samples; independent of the replica engine) against the
    # finite-width RS prediction; the GP limit (e = -0.451, q = 0.454) is many error bars away (~35 s)
    from replicasym.montecarlo import simulate
    r = simulate("mlp", {"activation": "tanh", "depth": 1, "alpha": [1.0]}, N=100, T=0.5, samples=16, sweeps=600)
    s = rs.models.mlp("tanh", depth=1, alpha=1.0).solve(T=0.5)
    layer = r.target["layers"][0]
    pre = compare_layers(rs.models.mlp("tanh", depth=1, alpha=1.0), s)[0]
    for est, pred in ((r.target["energy"], s.energy), (r.target["q"], s.order_parameters["q"]),
                      (layer["post_norm"], s.order_parameters["Q1_d"]),
                      (layer["post_overlap"], s.order_parameters["Q1_0"]),
                      (layer["pre_norm"], pre["pre_norm"]), (layer["pre_overlap"], pre["pre_overlap"])):
        assert abs(est.mean - pred) < 3 * est.err, (est, pred)


def _independent_replicon_kernels(act, Sd, S0, Ld, L0, n=60, dy=2e-3, dh=2e-3):
    """A_ij = E_(xi,u)[(d_i d_j log Z_1)^2] (the derivation in replicasym/symbolic/layered.py,
    "Replicon") by brute force: log Z_1(y, h) = log E_eta exp(h sigma(y + c eta) + (Ld - L0) sigma^2/2)
    on a Gauss-Hermite grid, second derivatives by central differences (independent of the engine)."""
    s = act.numpy(0)
    z_, w_ = gauss_hermite(n)
    xi, u, eta = z_[:, None, None], z_[None, :, None], z_[None, None, :]
    c = np.sqrt(Sd - S0)

    def logZ(y, h):
        sig = s(y + c * eta)
        return np.log(np.sum(w_[None, None, :] * np.exp(h * sig + 0.5 * (Ld - L0) * sig**2), axis=2))
    y0, h0 = np.sqrt(S0) * xi, np.sqrt(L0) * u
    f = {(i, j): logZ(y0 + i * dy, h0 + j * dh) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    Lyy = (f[1, 0] - 2 * f[0, 0] + f[-1, 0]) / dy**2
    Lhh = (f[0, 1] - 2 * f[0, 0] + f[0, -1]) / dh**2
    Lyh = (f[1, 1] - f[1, -1] - f[-1, 1] + f[-1, -1]) / (4 * dy * dh)
    return [float(np.einsum("i,j,ij->", w_, w_, v**2)) for v in (Lyy, Lyh, Lhh)]


@pytest.mark.parametrize("name", ["tanh", "sin"])
def test_replicon_kernels_against_finite_differences(name):
    # the engine's kernels (Cameron-Martin shift: no derivative of sigma is used) against central
    # differences of an independently computed log Z_1 (smooth activations: Gauss-Hermite is exact to
    # ~1e-6 for both; a ReLU kink limits both quadratures to ~1e-2)
    act = activation(name)
    kernels, *_ = zmod._compiled_replicon(act, Rule(xi=97, u=193, eta=60))
    cw, cb, P_d, P_0, Ld, L0 = 1.3, 0.2, 0.9, 0.4, 0.8, 0.5
    ref = _independent_replicon_kernels(act, cb + cw * P_d, cb + cw * P_0, Ld, L0)
    got = [_call(k, P_d=P_d, P_0=P_0, Lambda_d=Ld, Lambda_0=L0, C_W=cw, C_b=cb) for k in kernels]
    assert got == pytest.approx(ref, rel=2e-4)


@pytest.mark.parametrize("name, depth, cw, T", [("sin", 1, 2.0, 0.5), ("tanh", 2, 2.0, 0.3)])
def test_replicon_reduces_to_the_gp_limit(name, depth, cw, T):
    # §3.5/§4: alpha -> oo must give the spherical-model replicon 1 - beta^2 xi''(q)(1 - q)^2 of the
    # GP-limit solver, with an O(1/alpha) correction (Richardson from alpha = 1e3, 1e4)
    gp = rs.solve(rs.models.mlp(name, depth=depth, C_W=cw), T=T, ansatz="rs").replicon
    r3, r4 = (rs.models.mlp(name, depth=depth, C_W=cw, alpha=a).solve(T=T).replicon for a in (1e3, 1e4))
    assert abs(r4 - gp) < 2e-4 and 7 * abs(r4 - gp) < abs(r3 - gp) < 13 * abs(r4 - gp)
    assert abs((10 * r4 - r3) / 9 - gp) < 2e-5


def test_at_temperature_reduces_to_the_gp_limit():
    # sin, depth 1, C_W = 2: the GP-limit T_AT = 0.51146 (root of the GP solver's RS replicon, computed
    # here); at alpha = 1e4 the finite-width T_AT is within O(1/alpha) of it
    from scipy.optimize import brentq
    gp = brentq(lambda T: rs.solve(rs.models.mlp("sin", C_W=2.0), T=T, ansatz="rs").replicon, 0.45, 0.6, xtol=1e-8)
    line = zmod.replicon_line(rs.models.mlp("sin", C_W=2.0, alpha=1e4), T_max=0.6, T_min=0.45, points=3)
    assert line["T_AT"] == pytest.approx(gp, abs=3e-4)
    assert line["replicon"][0] > 0 > line["replicon"][-1]


# ---------------------------------------------------------------------------------------------
# hidden-layer observables at finite width (what the Monte Carlo measures)
# ---------------------------------------------------------------------------------------------
def test_layer_observables_against_an_independent_quadrature():
    """The engine's single-neuron moments (symbolic.layered.layer_observables, compiled) against the
    brute-force tilted averages of reference §3.3 written above; post = the forward equations."""
    act = activation("tanh")
    funcs = zmod._compiled_observables(act, Rule(xi=49, u=193, eta=40))
    cw, cb, Pd, P0, Ld, L0 = 1.7, 0.2, 1.0, 0.35, 1.3, 0.6
    ref = _independent_layer(act, cb + cw * Pd, cb + cw * P0, Ld, L0)
    got = {k: _call(f, P_d=Pd, P_0=P0, Lambda_d=Ld, Lambda_0=L0, C_W=cw, C_b=cb) for k, f in funcs.items()}
    assert got["post_norm"] == pytest.approx(ref["Q_d"], rel=1e-6)
    assert got["post_overlap"] == pytest.approx(ref["Q_0"], rel=1e-6)
    assert got["pre_norm"] == pytest.approx(ref["pre_d"], rel=1e-6)
    assert got["pre_overlap"] == pytest.approx(ref["pre_0"], rel=1e-6)
    # the tilt matters: without Lambda the pre-activation moments are Sigma_d, Sigma_0
    assert abs(got["pre_norm"] - (cb + cw * Pd)) > 0.05


def test_layer_moments_limits_and_the_linear_network():
    from replicasym.montecarlo.compare import _layer_predictions
    # alpha -> oo: the GP kernel map (pre = Sigma, post = the NNGP kernel) of montecarlo.compare
    m = rs.models.mlp("tanh", depth=2, alpha=1e6, C_W=2.0)
    s = m.solve(T=0.8)
    wide = compare_layers(m, s)
    q = s.order_parameters["q"]
    gp = _layer_predictions({"activation": "tanh", "depth": 2, "C_W": 2.0},
                            {"levels": np.array([q]), "weights": np.array([1.0])})
    for got, ref in zip(wide, gp):
        for key, value in ref.items():
            assert got[key] == pytest.approx(value, abs=1e-4), key
    # linear: pre = post = the zipper's Q at every layer (finite width, T > 0)
    m = rs.models.mlp("linear", depth=3, alpha=[0.5, 2, 1])
    s = m.solve(T=0.7)
    for ell, lay in enumerate(compare_layers(m, s), start=1):
        assert lay["pre_norm"] == pytest.approx(lay["post_norm"], rel=1e-9)
        assert lay["post_norm"] == pytest.approx(s.order_parameters[f"Q{ell}_d"], rel=1e-6)
        assert lay["pre_overlap"] == pytest.approx(s.order_parameters[f"Q{ell}_0"], rel=1e-6)


def test_compare_uses_the_finite_width_layers():
    from replicasym.montecarlo.compare import predict
    p = predict("mlp", {"activation": "tanh", "depth": 1, "alpha": 0.5}, 0.7, "rs", alpha=[0.5])
    assert p["layer_source"] == "finite width (RS, zipper)"
    gp = predict("mlp", {"activation": "tanh", "depth": 1}, 0.7, "rs", alpha=[0.5])
    assert gp["layer_source"].startswith("GP")
    # at alpha = 0.5 the hidden layer differs from the GP limit by far more than MC error bars
    assert p["layers"][0]["pre_overlap"] - gp["layers"][0]["pre_overlap"] > 0.2


def test_quadrature_is_refined_at_low_temperature(monkeypatch):
    """tanh, C_W = 4, alpha = 0.5: Lambda_0 ~ beta^2 C_W/alpha makes the single-site function kinked in u
    on the scale 1/sqrt(Lambda_0) (and steep in xi, where the tilted eta-measure switches wells).  With a fixed
    40-node Gauss-Hermite rule in u the energy at T = 0.3134 was -0.960 instead of -1.0253 and e(T) was not
    monotonic; the refined rule must satisfy the thermodynamic identity de/dT = T ds/dT (central differences,
    an independent consistency check) and agree with a rule finer in every field."""
    m = rs.models.mlp("tanh", depth=1, C_W=4.0, alpha=0.5)
    eqs = generic_equations(m.activation, "finite")
    T, h = 0.35, 0.01
    p = zmod.zipper(eqs, m.alphas, 1 / T, m.C_W, m.C_b)
    assert p.rule != FIRST_RULE  # refinement happened
    finer = Rule(2 * p.rule.xi - 1, 4 * p.rule.u - 3, (3 * p.rule.eta) // 2)
    fine = zmod.zipper(eqs, m.alphas, 1 / T, m.C_W, m.C_b, rule=finer, start=p)
    assert p.energy == pytest.approx(fine.energy, abs=1e-6)
    sols = [m.solve(T=t) for t in (T - h, T + h)]
    de = (sols[1].energy - sols[0].energy) / (2 * h)
    ds = (sols[1].entropy - sols[0].entropy) / (2 * h)
    assert de > 0 and de == pytest.approx(T * ds, rel=2e-3)
    # a rule that cannot be refined far enough is an error, not a silent number
    monkeypatch.setattr(layer_quadrature, "MAX_RULE", FIRST_RULE)
    with pytest.raises(ConvergenceError, match="quadrature"):
        zmod.zipper(eqs, m.alphas, 1 / T, m.C_W, m.C_b)


# --- T = 0 for a nonlinear activation: the Moreau envelope (symbolic.envelope, solvers.envelope_quadrature) ---
def _ground_state(act, alphas, cw):
    return zmod.zipper(generic_equations(activation(act), "zero"), alphas, 1.0, cw, 0.0)


def _stationarity(alphas, act="tanh", cw=4.0):
    """The T = 0 equations are SymPy derivatives of phi_0 (envelope theorem for the max, the u-form for chi);
    here the compiled phi_0 itself (only values of the max, no derivative rule) is differentiated by finite
    differences at the solution: every partial derivative vanishes (the top layer's mu, lambda excepted: the
    action is linear in them there, their equation is the top condition)."""
    eqs = generic_equations(activation(act), "zero")
    prof = _ground_state(act, alphas, cw)
    sys_ = zmod._System(zmod.compile_equations(eqs), alphas, 1.0, cw, 0.0)
    th = sys_.pack(prof.x, prof.Q, prof.Lam)
    assert sys_.scalars(*sys_.unpack(th))[0] == pytest.approx(prof.free_entropy, abs=1e-12)
    top = len(th) - 2
    for i in range(th.size):
        if i >= top:
            continue
        h = 1e-4 * max(1.0, abs(th[i]))
        vals = []
        for sgn in (1, -1):
            t = th.copy()
            t[i] += sgn * h
            vals.append(sys_.scalars(*sys_.unpack(t))[0])
        assert (vals[0] - vals[1]) / (2 * h) == pytest.approx(0.0, abs=2e-6), i


def test_nonlinear_ground_state_is_a_stationary_point_of_the_envelope_action():
    _stationarity([0.5])


def test_relu_ground_state_is_a_stationary_point_of_the_envelope_action():
    """ReLU: the maximiser rests on the kink z = 0 for a window of y of positive measure (u < 0), where the
    derivative of sigma is undefined; the equations use the z-form envelope theorem, (z* - y)/s, and must
    still be the gradient of phi_0's values (with the delta-form's sigma'(z*) they are not)."""
    _stationarity([1.0], "relu", 2.0)


@pytest.mark.slow
def test_deep_nonlinear_ground_state_is_a_stationary_point():
    _stationarity([0.5, 2.0])  # the backward equations (mu^(1), lambda^(1) from layer 2's envelope)


def test_nonlinear_ground_state_bounds_the_finite_temperature_energies():
    # tanh, C_W = 4, alpha = 0.5 (RS-stable down to T = 0.12, derivations/mlp-finite-width.md): e(T) is
    # increasing, so E_0 < e(0.1) = -1.07663 (finite-T zipper), and within the O(T^0.8) gap seen at T = 0.05..0.1
    gs = rs.models.mlp("tanh", depth=1, C_W=4.0, alpha=0.5).solve(T=0)
    warm = zmod.zipper(generic_equations(activation("tanh"), "finite"), [0.5], 10.0, 4.0, 0.0)  # T = 0.1
    assert gs.energy < warm.energy < gs.energy + 0.05
    assert gs.order_parameters["Q1_d"] > warm.Q[0, 0]
    assert gs.order_parameters["mu1"] == 0.0 and gs.order_parameters["lambda1"] == pytest.approx(8.0)
    assert any("Moreau envelope" in n for n in gs.notes)


def test_relu_ground_state_approaches_the_gp_limit_as_alpha_to_the_minus_half():
    """The kink window of the T = 0 envelope (u < 0: the maximiser rests on z = 0; u > 0: it jumps over it)
    changes phi_0 by -C_W^3 chi_0^2/(24 pi sqrt(alpha)) at large alpha (derived in
    derivations/mlp-finite-width-ground-state.md; a smooth activation gives O(1/alpha)), so
    E_gs(alpha) = -sqrt(2) + C_W^3 chi_0^2/(24 pi sqrt(alpha)) + o(alpha^-1/2) for ReLU, C_W = 2; -sqrt(2) is the
    GP limit's RS ground state (the GP solver, below)."""
    gp = rs.solve(rs.models.mlp("relu", depth=1, C_W=2.0), T=0, ansatz="rs").energy
    assert gp == pytest.approx(-np.sqrt(2.0), abs=1e-9)
    dev = []
    for a in (4096.0, 16384.0):
        s = rs.models.mlp("relu", depth=1, C_W=2.0, alpha=a).solve(T=0)
        predicted = 2.0**3 * s.order_parameters["chi_0"] ** 2 / (24 * np.pi)
        dev.append((s.energy - gp) * np.sqrt(a) / predicted - 1)
    # measured when written: 1.4e-3 and 6.5e-4, the next order's alpha^-1/2 relative correction
    assert abs(dev[0]) < 2e-3 and abs(dev[1]) < 0.6 * abs(dev[0])


def test_zero_temperature_replicon_of_relu():
    """ReLU at T = 0, alpha = 1: the maximiser jumps over the convex kink (u > 0), so lambda_R -> -oo as T -> 0
    (replicon None) and the note gives lambda_0, c_J and the T_AT estimate c_J/lambda_0; the same numbers as
    zero_temperature_replicon (whose parts are checked against closed forms in tests/test_envelope.py)."""
    s = rs.models.mlp("relu", depth=1, C_W=2.0, alpha=1.0).solve(T=0)
    assert s.replicon is None
    note = next(n for n in s.notes if n.startswith("T -> 0 replicon"))
    eqs = generic_equations(activation("relu"), "zero")
    lam_0, c_J = zmod.zero_temperature_replicon(eqs, zmod.zipper(eqs, [1.0], 1.0, 2.0, 0.0), 1.0, 2.0, 0.0)
    assert 0 < lam_0 < 1 and c_J > 0
    assert f"lambda_0 = {lam_0:.6g}" in note and f"{c_J / lam_0:.3g}" in note and "unstable at T = 0" in note


def test_degenerate_ground_state_is_reported():
    # sin, C_W = 2, alpha = 0.5: the finite-T solution has 1 - q -> 0.60 as T -> 0 (T = 0.1: 0.5989, T = 0.07:
    # 0.6077), so chi_0 = beta (1 - q) diverges and the T = 0 scaling has no solution: a clear error
    with pytest.raises(ConvergenceError, match="runs away"):
        rs.models.mlp("sin", depth=1, C_W=2.0, alpha=0.5).solve(T=0)


def test_cli_nonlinear_ground_state(capsys):
    import json
    assert main(["solve", "mlp", "--param", "activation=tanh", "--param", "depth=1", "--param", "alpha=0.5",
                 "--param", "C_W=4", "--T", "0", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["T"] == 0 and obj["energy"] < -1.08
    assert {"Q1_d", "chi1", "mu1", "lambda1", "chi_0"} <= set(obj["order_parameters"])


@pytest.mark.slow
def test_nonlinear_ground_state_is_the_low_temperature_limit():
    """tanh, C_W = 4, alpha = 0.5, depth 1: the finite-T zipper at T = 0.05 ... 0.1 fitted by E_0 + A T^gamma
    (free gamma) extrapolates to the T = 0 envelope solution (the fit gave gamma = 0.8, E_0 = -1.1100 to -1.1108
    depending on the window; the envelope gives -1.10943)."""
    from scipy.optimize import least_squares
    m = rs.models.mlp("tanh", depth=1, C_W=4.0, alpha=0.5)
    eqs = generic_equations(m.activation, "finite")
    Ts, es, prof = [], [], None
    for T in (0.3, 0.2, 0.14, 0.1, 0.08, 0.065, 0.05):
        prof = zmod.zipper(eqs, [0.5], 1 / T, 4.0, 0.0, start=prof)
        if T <= 0.1:
            Ts.append(T)
            es.append(prof.energy)
    Ts, es = np.array(Ts), np.array(es)
    fit = least_squares(lambda p: p[0] + p[1] * Ts ** p[2] - es, [-1.1, 0.3, 1.0]).x
    gs = m.solve(T=0)
    assert fit[0] == pytest.approx(gs.energy, abs=2e-3)
    assert 0.5 < fit[2] < 1.2


@pytest.mark.slow
def test_relu_ground_state_is_the_low_temperature_limit():
    """ReLU, C_W = 2, alpha = 1, depth 1: the finite-T zipper (kink-split eta panels) at T = 0.14 ... 0.065,
    fitted by E_0 + A T^gamma, extrapolates to the T = 0 envelope solution (kink-aware maximiser).  Measured when
    written: e = -1.31422, -1.33517, -1.34576, -1.35376 at T = 0.14, 0.1, 0.08, 0.065; E_gs = -1.38920."""
    from scipy.optimize import least_squares
    m = rs.models.mlp("relu", depth=1, C_W=2.0, alpha=1.0)
    eqs = generic_equations(m.activation, "finite")
    Ts, es, prof = [], [], None
    for T in (0.3, 0.2, 0.14, 0.1, 0.08, 0.065):
        prof = zmod.zipper(eqs, [1.0], 1 / T, 2.0, 0.0, start=prof)
        if T <= 0.14:
            Ts.append(T)
            es.append(prof.energy)
    Ts, es = np.array(Ts), np.array(es)
    assert np.all(np.diff(es) < 0)  # e(T) decreases as T does
    fit = least_squares(lambda p: p[0] + p[1] * Ts ** p[2] - es, [es[-1], 0.5, 1.0]).x
    gs = m.solve(T=0)
    assert fit[0] == pytest.approx(gs.energy, abs=3e-3)
    assert gs.energy < es[-1]


@pytest.mark.slow
def test_zero_temperature_replicon_is_the_low_temperature_limit():
    """tanh, C_W = 4, alpha = 0.5, depth 1: the finite-T replicon at T = 0.14, 0.1, 0.08 (0.76843, 0.75367,
    0.74451 when written), with the derived jump term c_J/T added back, extrapolates quadratically to the
    T = 0 lambda_0 of zero_temperature_replicon (0.71050; the extrapolation gave 0.7126).  The jump term is
    tiny here (c_J = 5.5e-4: T_AT ~ 8e-4), so this checks the smooth part."""
    m = rs.models.mlp("tanh", depth=1, C_W=4.0, alpha=0.5)
    eqs = generic_equations(m.activation, "finite")
    Ts, lams, prof = [], [], None
    for T in (0.3, 0.2, 0.14, 0.1, 0.08):
        prof = zmod.zipper(eqs, [0.5], 1 / T, 4.0, 0.0, start=prof)
        if T <= 0.14:
            Ts.append(T)
            lams.append(zmod.replicon(m.activation, prof, [0.5], 4.0, 0.0))
    zeqs = generic_equations(m.activation, "zero")
    lam_0, c_J = zmod.zero_temperature_replicon(zeqs, zmod.zipper(zeqs, [0.5], 1.0, 4.0, 0.0), 0.5, 4.0, 0.0)
    assert 0 < c_J < 1e-3
    Ts = np.array(Ts)
    fit = np.polyfit(Ts, np.array(lams) + c_J / Ts, 2)
    assert fit[-1] == pytest.approx(lam_0, abs=5e-3)


@pytest.mark.slow
def test_relu_replicon_diverges_with_the_derived_jump_coefficient():
    """ReLU, C_W = 2, alpha = 1: the finite-T replicon (kink-split eta panels, normalised tilts, its own
    quadrature check) along replicon_line down to T ~ 0.13, fitted by A - C/T + B T on T <= 0.33, has
    C = c_J of zero_temperature_replicon (the thermal mixing across the maximiser's jumps, derived at T = 0).
    Measured when written: C = 0.0964, c_J = 0.0953; A = 0.934 (lambda_0 = 0.847 plus the jump regions'
    constant, not computed)."""
    from replicasym.solvers.zipper import replicon_line
    m = rs.models.mlp("relu", depth=1, C_W=2.0, alpha=1.0)
    line = replicon_line(m, T_max=1.0, T_min=0.06, points=16)
    T, lam = np.array(line["T"]), np.array(line["replicon"])
    keep = T <= 0.33
    assert keep.sum() >= 5 and T.min() < 0.14
    A, C, B = np.linalg.lstsq(np.stack([np.ones(keep.sum()), -1 / T[keep], T[keep]], 1), lam[keep], rcond=None)[0]
    eqs = generic_equations(m.activation, "zero")
    lam_0, c_J = zmod.zero_temperature_replicon(eqs, zmod.zipper(eqs, [1.0], 1.0, 2.0, 0.0), 1.0, 2.0, 0.0)
    assert C == pytest.approx(c_J, rel=0.03)


@pytest.mark.slow
def test_nonlinear_ground_state_against_gradient_descent():
    """Direct finite-N minimisation (projected gradient descent from 16 random starts, per-sample minimum;
    montecarlo.ground_state) of tanh, C_W = 4, alpha = 0.5 at N = 200: within 3 standard errors of E_0."""
    from replicasym.montecarlo import ground_state
    gs = rs.models.mlp("tanh", depth=1, C_W=4.0, alpha=0.5).solve(T=0)
    r = ground_state("mlp", {"activation": "tanh", "depth": 1, "C_W": 4.0, "alpha": [0.5]}, N=200, samples=64,
                     starts=16, seed=3, progress=False)
    est = r.ladder[0]["energy"]
    assert abs(est.mean - gs.energy) < 3 * est.err
    post = r.ladder[0]["layers"][0]["post_norm"]
    assert abs(post.mean - gs.order_parameters["Q1_d"]) < 3 * post.err + 0.01  # + O(1/N) finite size


def test_normalized_tilts_cancel_the_normaliser_and_stop_the_overflow():
    """codegen.printers.normalized_tilts: (d^2/dh^2 log E_eta e^{h relu(y + eta/2)})^2, the shape of the replicon
    kernels, becomes a polynomial in TiltedMeans (the normaliser cancels).  Compiled (compile_expression
    applies it) against scipy's quad of the tilted variance.  In the zipper this is what keeps ReLU's replicon
    finite: at T = 0.5, alpha = 1 (Lambda_0 = 8) its kernels overflowed to NaN before."""
    from scipy.integrate import quad as squad

    from replicasym.codegen.printers import TiltedMean, normalized_tilts
    from replicasym.solvers.layer_quadrature import Quadrature, compile_expression
    from replicasym.symbolic.gaussian import E as Ex
    from replicasym.symbolic.layered import ETA
    h, y = sp.symbols("h y", real=True)
    sig = sp.Max(0, y + ETA / 2)
    expr = sp.diff(sp.log(Ex(sp.exp(h * sig), ETA)), h, 2) ** 2
    norm = normalized_tilts(expr)
    assert norm.has(TiltedMean) and not norm.has(sp.exp(h * sig))
    f = compile_expression(expr, (h, y), Quadrature(Rule(xi=49, u=49, eta=60), (ETA,)))
    for hv, yv in ((0.7, 0.2), (-1.3, 0.5), (3.0, -0.4)):
        def moment(k, hv=hv, yv=yv):
            return squad(lambda e: max(0.0, yv + e / 2) ** k * np.exp(hv * max(0.0, yv + e / 2) - e * e / 2),
                         -12, 30, points=[-2 * yv], epsabs=1e-14, limit=200)[0]
        var = moment(2) / moment(0) - (moment(1) / moment(0)) ** 2
        assert f(np.array([hv]), np.array([yv]))[0] == pytest.approx(var**2, rel=1e-9)
    # a strong tilt: the mass sits above the kink, where relu(y + eta/2) has variance 1/4
    assert f(np.array([20.0]), np.array([0.3]))[0] == pytest.approx(0.25**2, rel=1e-9)
    lam = rs.models.mlp("relu", depth=1, C_W=2.0, alpha=1.0).solve(T=0.5).replicon
    assert lam is not None and 0 < lam < 1
