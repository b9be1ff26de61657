"""Monte Carlo simulation (replicasym.montecarlo): the finite-N Hamiltonians have the covariance of
the replica models, the samplers sample the Gibbs measure (checked against exact enumeration and
quadrature on tiny systems), and simulations agree with the engine's predictions within error bars
(after finite-size extrapolation where the finite-N bias is larger than the error bars).

Default tests take a few seconds each; ``-m slow`` runs the long validations (MLP in the GP limit,
finite width, SK below T_c).
"""
import json
import math
import sys

import numpy as np
import pytest

from replicasym import cli
from replicasym.errors import ParameterError, ReplicasymError
from replicasym.kernels import deep_kernel
from replicasym.montecarlo import compare, scan_sizes, simulate
from replicasym.montecarlo.backend import array_module
from replicasym.montecarlo.compare import overlap_moments
from replicasym.montecarlo.finite_size import scan_widths
from replicasym.montecarlo.hamiltonians import build_hamiltonian
from replicasym.montecarlo.observables import Estimate, estimate, extrapolate, thermodynamic_integration
from replicasym.montecarlo.plots import plot_result
from replicasym.montecarlo.samplers import Chains, metropolis_sweep, refresh, tempering_swap


def within(est: Estimate, value: float, k: float = 3.0) -> bool:
    return abs(est.mean - value) <= k * est.err


def sphere_points(N: int, chains: int, rng) -> np.ndarray:
    x = rng.standard_normal((chains, N))
    return x * math.sqrt(N) / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# the Hamiltonians have the models' covariance E[H(x)H(y)] = N xi(x.y/N)  (DESIGN.md conventions)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,params,xi", [
    ("spherical", {"xi": "q/3 + q**2/2 + q**3/4"}, lambda q: q / 3 + q**2 / 2 + q**3 / 4),
    # SK: H = -sum_{i<j} J_ij s_i s_j, J ~ N(0, 1/N): covariance N q^2/2 - 1/2 (the -1/2 from i = j)
    ("sk", {}, None),
    ("mlp", {"activation": "tanh", "depth": 1, "alpha": 3.0}, "kernel"),
    ("mlp", {"activation": "sin", "depth": 2, "C_W": 2.0, "C_b": 0.3, "alpha": [2.0, 3.0]}, "kernel"),
])
def test_covariance_of_the_hamiltonians(model, params, xi):
    N, S = 8, 4000
    rng = np.random.default_rng(5)
    pts = sphere_points(N, 2, rng)
    if model == "sk":
        pts = np.sign(pts)
    q = float(pts[0] @ pts[1] / N)
    ham = build_hamiltonian(model, params, N, S, seed=11)
    E = ham.energy(np.broadcast_to(pts, (S, 2, N)).copy())
    if model == "sk":
        expected = [N * q**2 / 2 - 0.5, N / 2 - 0.5]
    elif xi == "kernel":
        # exact at finite width for depth 1 (the first layer is Gaussian); the GP limit (Neal 1996)
        # for depth 2: the kernel map K^(L+1) of replicasym.kernels, up to O(1/width) corrections
        k = deep_kernel(params["activation"], params["depth"], params.get("C_W", 1.0), params.get("C_b", 0.0))
        expected = [N * float(k(np.array(q))[0]), N * float(k(np.array(1.0))[0])]
    else:
        expected = [N * xi(q), N * xi(1.0)]
    for product, value in ((E[:, 0] * E[:, 1], expected[0]), (E[:, 0] ** 2, expected[1])):
        est = estimate(product)
        tol = 4 * est.err + (0.03 * abs(value) if model == "mlp" and params["depth"] > 1 else 0.0)
        assert abs(est.mean - value) <= tol, (model, est, value)


def test_gradients_match_finite_differences():
    N, S = 5, 3
    rng = np.random.default_rng(2)
    x = np.broadcast_to(sphere_points(N, 2, rng), (S, 2, N)).copy()
    for model, params in (("spherical", {"xi": "q/2 + q**2 + q**3/3 + q**4/5"}),
                          ("mlp", {"activation": "tanh", "depth": 2, "alpha": [2.0, 1.0], "C_b": 0.1}),
                          ("mlp", {"activation": "x*erf(x)", "depth": 1})):
        ham = build_hamiltonian(model, params, N, S, seed=3)
        g = ham.gradient(x)
        h = 1e-6
        for i in range(N):
            d = np.zeros_like(x)
            d[:, :, i] = h
            fd = (ham.energy(x + d) - ham.energy(x - d)) / (2 * h)
            np.testing.assert_allclose(g[:, :, i], fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model,params", [
    ("sk", {"h": 0.3}), ("spherical", {"xi": "q/2 + q**2/2"}), ("spherical", {"p": 3}),
    ("mlp", {"activation": "relu", "depth": 2, "alpha": [1.5, 0.5], "C_b": 0.2}),
    ("perceptron", {"alpha": 1.5, "kappa": 0.2}),
])
def test_incremental_moves_keep_the_energy_exact(model, params):
    # the samplers update E and u = A x incrementally; after sweeps they must equal a full evaluation
    ham = build_hamiltonian(model, params, 12, 3, seed=1)
    host, rng = np.random.default_rng(0), np.random.default_rng(1)
    ch = Chains.start(ham, 4, host)
    for _ in range(5):
        metropolis_sweep(ham, ch, np.full(4, 1.3), rng, host)
    np.testing.assert_allclose(ch.E, ham.energy(ch.x), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ch.u, ham.linear(ch.x), rtol=1e-9, atol=1e-9)
    if ham.spins == "spherical":
        np.testing.assert_allclose(np.sum(ch.x**2, axis=-1), 12.0)
    else:
        assert set(np.unique(ch.x)) <= {-1.0, 1.0}


def test_bad_parameters_are_one_line_errors():
    with pytest.raises(ParameterError, match="polynomial"):
        build_hamiltonian("spherical", {"xi": "exp(q) - 1"}, 8, 1)
    with pytest.raises(ParameterError, match="unknown parameter"):
        build_hamiltonian("mlp", {"width": 3}, 8, 1)
    with pytest.raises(ParameterError, match="alpha has 1 entries for depth 2"):
        build_hamiltonian("mlp", {"depth": 2, "alpha": [1.0]}, 8, 1)
    with pytest.raises(ParameterError, match="N must be an integer"):
        build_hamiltonian("sk", {}, 1, 1)
    with pytest.raises(ParameterError, match="no simulation for model"):
        build_hamiltonian("yoshino", {}, 8, 1)
    with pytest.raises(ParameterError, match="couplings need"):
        build_hamiltonian("spherical", {"p": 4}, 200, 10)
    with pytest.raises(ParameterError, match="T must be"):
        simulate("sk", N=8, T=-1.0)


def test_cupy_backend_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # as if cupy were not installed
    with pytest.raises(ParameterError, match="needs cupy"):
        array_module("cupy")
    with pytest.raises(ParameterError, match="unknown backend"):
        array_module("jax")


# ---------------------------------------------------------------------------------------------
# the samplers sample the Gibbs measure: exact enumeration / quadrature on tiny systems
# ---------------------------------------------------------------------------------------------
def _exact_ising(ham, betas):
    N = ham.N
    states = np.array(np.meshgrid(*[[-1.0, 1.0]] * N, indexing="ij")).reshape(N, -1).T
    E = ham.energy(np.broadcast_to(states, (ham.samples,) + states.shape).copy())  # (S, 2^N)
    out_e, out_phi = [], []
    for b in betas:
        w = np.exp(-b * (E - E.min(axis=1, keepdims=True)))
        Z = w.sum(axis=1)
        out_e.append((w * E).sum(axis=1) / Z / N)
        out_phi.append((np.log(Z / 2**N) - b * E.min(axis=1)) / N + math.log(2))
    return np.array(out_e).T, np.array(out_phi).T


def _exact_sphere3(ham, beta):
    # N = 3: quadrature on S^2(sqrt 3) with the uniform measure (density sin(theta))
    th = (np.arange(300) + 0.5) * math.pi / 300
    ph = (np.arange(600) + 0.5) * 2 * math.pi / 600
    T, P = np.meshgrid(th, ph, indexing="ij")
    pts = math.sqrt(3) * np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    wts = np.sin(T).ravel()
    E = ham.energy(np.broadcast_to(pts, (ham.samples,) + pts.shape).copy())
    w = wts * np.exp(-beta * (E - E.min(axis=1, keepdims=True)))
    return (w * E).sum(axis=1) / w.sum(axis=1) / 3


def _per_sample_energy(ham, beta, sweeps, replicas=4, ladder=None):
    host, rng = np.random.default_rng(3), np.random.default_rng(4)
    betas = np.array([beta]) if ladder is None else np.asarray(ladder)
    K = len(betas)
    ch = Chains.start(ham, K * replicas, host)
    chain_beta = np.repeat(betas, replicas)
    acc_sum = np.zeros((ham.samples, K))
    for t in range(2 * sweeps):
        acc = metropolis_sweep(ham, ch, chain_beta, rng, host)
        if ham.spins == "spherical" and t < sweeps // 2:
            ch.step = np.clip(ch.step * np.exp(acc - 0.4), 1e-4, math.pi)
        if K > 1:
            tempering_swap(ham, ch, betas, replicas, rng, t % 2)
        if t % 10 == 9:
            refresh(ham, ch)
        if t >= sweeps:
            acc_sum += ch.E.reshape(ham.samples, K, replicas).mean(axis=-1)
    return acc_sum / sweeps / ham.N


def test_spin_flips_with_tempering_sample_the_sk_gibbs_measure():
    # exact enumeration of the 2^8 states of each sample (per-sample thermal averages)
    ham = build_hamiltonian("sk", {"h": 0.2}, 8, 24, seed=7)
    ladder = [0.0, 0.6, 1.2, 1.8]
    mc = _per_sample_energy(ham, None, 1500, ladder=ladder)
    exact_e, _ = _exact_ising(ham, ladder)
    for k in range(len(ladder)):
        assert within(estimate(mc[:, k] - exact_e[:, k]), 0.0), k
    # thermodynamic integration of the exact e(beta) on a fine ladder reproduces the exact Phi
    fine = np.linspace(0, 1.8, 25)
    e_fine, phi_fine = _exact_ising(ham, fine)
    phi, s = thermodynamic_integration(fine, e_fine, math.log(2))
    np.testing.assert_allclose(phi, phi_fine, atol=2e-4)
    np.testing.assert_allclose(s, phi_fine + fine * e_fine, atol=2e-4)


@pytest.mark.parametrize("model,params", [
    ("spherical", {"xi": "q/2 + q**2"}),
    ("mlp", {"activation": "tanh", "depth": 1, "alpha": 2.0, "C_W": 3.0, "C_b": 0.5}),
])
def test_rotations_sample_the_gibbs_measure_on_the_sphere(model, params):
    ham = build_hamiltonian(model, params, 3, 16, seed=2)
    beta = 1.5
    mc = _per_sample_energy(ham, beta, 3000)[:, 0]
    assert within(estimate(mc - _exact_sphere3(ham, beta)), 0.0)


# ---------------------------------------------------------------------------------------------
# simulations against the replica predictions
# ---------------------------------------------------------------------------------------------
def test_sk_paramagnet_energy_and_entropy():
    # SK at T = 1.5 > T_c = 1: the engine's RS paramagnet, e = -beta/2 and s = log 2 - beta^2/4
    # (Sherrington & Kirkpatrick 1975); the finite-N bias is O(1/N) (Aizenman, Lebowitz & Ruelle
    # 1987), so the simulation is extrapolated in 1/N.
    fs = scan_sizes("sk", {}, (24, 48, 96), T=1.5, exponent=1.0, samples=12, sweeps=200, tempering=5)
    c = compare(fs, ansatz="rs")
    rows = {r.observable: r for r in c.rows}
    assert abs(rows["energy"].replica + 1 / 3) < 1e-9
    assert abs(rows["entropy"].replica - (math.log(2) - 1 / 9)) < 1e-9
    assert rows["energy"].agree and rows["entropy"].agree and rows["free_entropy"].agree
    assert fs.target["energy"].err < 0.01


def test_spherical_two_spin_in_the_glassy_phase():
    # spherical 2-spin (xi = q^2/2) at T = 0.5 < T_c = 1: e = -(1 - T/2) = -0.75, q = 1 - T
    # (Kosterlitz, Thouless & Jones, PRL 36 (1976) 1217); finite-size corrections ~ N^-2/3 (Baik & Lee 2016)
    fs = scan_sizes("spherical", {"p": 2}, (32, 64, 128), T=0.5, exponent=2 / 3, samples=10, sweeps=500)
    c = compare(fs, ansatz="rs")  # RS is exact for the 2-spin model
    rows = {r.observable: r for r in c.rows}
    assert abs(rows["energy"].replica + 0.75) < 1e-6
    assert abs(rows["q2"].replica - 0.25) < 1e-4
    assert rows["energy"].agree and rows["q2"].agree
    assert fs.target["energy"].err < 0.03


def _linear_norms(C_W, alphas, q):
    # reference/winer_hanin_mlp.md §5.2 (T = 0: q = 1), extended to T > 0 as derived in
    # replicasym.montecarlo.compare.linear_layer_norms: |z^l|^2/N_l = C_W^l (1 + q sum_{k<=l} 1/alpha_k)
    return [C_W ** (l + 1) * (1 + q * sum(1 / a for a in alphas[: l + 1])) for l in range(len(alphas))]


def test_linear_mlp_at_finite_width():
    # linear MLP: H = g.x with |g|^2/N -> C_W^(L+1) (reference §5.1), so the thermodynamics is the
    # RS random-field spherical model for every width; the engine's mlp model (GP limit) predicts it
    params = {"activation": "linear", "depth": 2, "alpha": [1.0, 0.5], "C_W": 1.2}
    r = simulate("mlp", params, N=100, T=0.5, samples=16, sweeps=300)
    c = compare(r, ansatz="rs")  # xi'' = 0: RS is exact
    rows = {row.observable: row for row in c.rows}
    assert rows["energy"].agree and rows["q"].agree
    q = rows["q"].replica
    for l, norm in enumerate(_linear_norms(1.2, [1.0, 0.5], q), start=1):
        assert abs(rows[f"layer {l} pre_norm"].replica - norm) < 1e-12
        assert within(r.target["layers"][l - 1]["pre_norm"], norm), l
    # alpha-independence: a narrow network has the same energy
    narrow = simulate("mlp", {**params, "alpha": [0.25, 0.25]}, N=100, T=0.5, samples=16, sweeps=300, seed=1)
    assert within(narrow.target["energy"], rows["energy"].replica)


def test_linear_mlp_ground_state_and_hidden_norms():
    # E_gs = -C_W^((L+1)/2) and per-neuron pre-activation norms |z^l|^2/N_l = C_W^l (1 + sum_{k<=l} 1/alpha_k)
    # (reference/winer_hanin_mlp.md §5.1-5.2); gradient descent finds the unique minimum x* = -g sqrt(N)/|g|
    C_W, alphas = 1.5, [1.0, 0.5]
    r = simulate("mlp", {"activation": "linear", "depth": 2, "alpha": alphas, "C_W": C_W}, N=300, T=0,
                 samples=16, replicas=2)
    assert r.method == "descent"
    assert within(r.target["energy"], -C_W**1.5)
    layers = r.target["layers"]
    for l, norm in enumerate(_linear_norms(C_W, alphas, 1.0)):
        assert within(layers[l]["pre_norm"], norm), l
    # the other normalisation, per input site |z^l|^2/N = alpha_l |z^l|^2/N_l, does not obey the formula
    assert not within(Estimate(layers[1]["pre_norm"].mean * alphas[1], layers[1]["pre_norm"].err * alphas[1], 16),
                      _linear_norms(C_W, alphas, 1.0)[1])
    c = compare(r, ansatz="rs")
    assert all(row.agree for row in c.rows)


# ---------------------------------------------------------------------------------------------
# statistics, comparison helpers, command line
# ---------------------------------------------------------------------------------------------
def test_estimates_and_extrapolation():
    e = estimate([1.0, 2.0, 3.0, 4.0])
    assert e.mean == 2.5 and abs(e.err - math.sqrt(5 / 3) / 2) < 1e-12
    assert math.isnan(estimate([1.0]).err)
    sizes = [16, 32, 64, 128]
    pts = [Estimate(-0.5 + 0.8 / n, 0.01, 10) for n in sizes]
    fit = extrapolate(sizes, pts, 1.0)
    assert abs(fit["value"].mean + 0.5) < 1e-12 and abs(fit["slope"] - 0.8) < 1e-9 and fit["chi2"] < 1e-18
    with pytest.raises(ParameterError):
        extrapolate([16], pts[:1])
    # e(beta) = -beta/2 -> Phi = log 2 + beta^2/4 (a quadratic: the spline integral is exact)
    b = np.linspace(0, 2, 9)
    phi, s = thermodynamic_integration(b, -b[None, :] / 2, math.log(2))
    np.testing.assert_allclose(phi[0], math.log(2) + b**2 / 4, atol=1e-12)
    np.testing.assert_allclose(s[0], math.log(2) - b**2 / 4, atol=1e-12)


def test_replica_overlap_moments():
    rs_sol = {"order_parameters": {"q": 0.4}}
    assert overlap_moments(rs_sol, False)["q"] == 0.4 and abs(overlap_moments(rs_sol, True)["q2"] - 0.16) < 1e-15
    # 1RSB without a field: P(q) = m delta(q) + (1 - m) delta(q - q1)
    one = {"order_parameters": {"q1": 0.6, "m": 0.25}}
    assert abs(overlap_moments(one, True)["q2"] - 0.75 * 0.36) < 1e-15
    # full RSB profile x(q): mass dx at each q, and 1 - x(q_max) at q_max
    frsb = {"order_parameters": {}, "profile": {"q": [0.0, 0.5], "x": [0.2, 0.6]}}
    m = overlap_moments(frsb, False)
    assert abs(m["q"] - (0.4 * 0.5 + 0.4 * 0.5)) < 1e-15


def test_plot_needs_matplotlib_or_writes_a_file(tmp_path):
    r = simulate("sk", N=8, T=1.0, samples=2, sweeps=10)
    path = tmp_path / "mc.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(ReplicasymError, match="matplotlib"):
            plot_result(r, str(path))
    else:
        plot_result(r, str(path))
        assert path.stat().st_size > 0


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_mc_json_and_compare(capsys):
    code, out, err = run_cli(capsys, "mc", "sk", "--N", "16", "--T", "1.5", "--samples", "4", "--sweeps", "40",
                             "--tempering", "3", "--json", "--compare")
    assert code == 0, err
    obj = json.loads(out)
    assert {"model", "params", "N", "T", "samples", "observables", "overlap_distribution", "throughput",
            "compare"} <= set(obj)
    assert set(obj["observables"]["energy"]) == {"mean", "err", "n"}
    assert "entropy" in obj["observables"] and len(obj["ladder"]) == 3
    assert obj["compare"]["rows"][0]["observable"] == "energy"
    assert abs(obj["compare"]["rows"][0]["replica"] + 1 / 3) < 1e-9
    code, out, _ = run_cli(capsys, "mc", "mlp", "--param", "activation=linear", "--param", "alpha=1,0.5",
                           "--param", "depth=2", "--N", "20", "--T", "0", "--samples", "2")
    assert code == 0 and "energy" in out and "layer 2" in out


@pytest.mark.parametrize("argv,fragment", [
    (["mc", "sk", "--N", "1", "--T", "1"], "N must be an integer >= 2"),
    (["mc", "mlp", "--param", "widths=3", "--N", "8", "--T", "1"], "unknown parameter"),
    (["mc", "sk", "--N", "8", "--T", "1", "--samples", "0"], "samples must be"),
    (["mc", "signal", "--N", "8", "--T", "1"], "no simulation for model"),
    (["mc", "sk", "--N", "8", "--T", "1", "--plot", "x.txt"], ".png"),
])
def test_cli_mc_errors_are_one_line(capsys, argv, fragment):
    code, out, err = run_cli(capsys, *argv)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err


# ---------------------------------------------------------------------------------------------
# slow validations (pytest -m slow)
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_nonlinear_mlp_in_the_gp_limit(activation):
    # widths alpha N, alpha = 2, 4, 8, extrapolated in 1/alpha (the layer tilts are O(1/alpha),
    # reference/winer_hanin_mlp.md §3.2) to the GP limit, where the engine's mlp model is exact
    fs = scan_widths({"activation": activation, "depth": 1}, (2.0, 4.0, 8.0), N=100, T=0.5, samples=16,
                     sweeps=600)
    c = compare(fs)
    rows = {r.observable: r for r in c.rows}
    assert rows["energy"].agree and rows["q"].agree, c.table()
    assert rows["layer 1 post_norm"].agree, c.table()


@pytest.mark.slow
def test_finite_width_nonlinear_point():
    # at alpha = 1 the tanh MLP is not Gaussian: its energy differs from the GP limit by the O(1/alpha)
    # correction, and the 1/alpha fit through alpha = 1, 2, 4 extrapolates to the GP prediction
    fs = scan_widths({"activation": "tanh", "depth": 1}, (1.0, 2.0, 4.0), N=100, T=0.5, samples=16, sweeps=600)
    c = compare(fs)
    energy = next(r for r in c.rows if r.observable == "energy")
    assert energy.agree, c.table()
    narrow = fs.results[0].target["energy"]
    assert (narrow.mean - energy.replica) / narrow.err > 3  # the finite-width shift is resolved
    assert fs.fits["energy"]["chi2"] < 9.0  # one dof: linear in 1/alpha within errors


@pytest.mark.slow
def test_sk_energy_below_tc_approaches_the_rsb_prediction():
    # SK at T = 0.5: replica symmetry is broken; the engine's best ansatz (auto) against a simulation
    # with parallel tempering, extrapolated in N^-2/3 (Parisi & Rizzo 2009)
    fs = scan_sizes("sk", {}, (32, 64, 128), T=0.5, exponent=2 / 3, samples=16, sweeps=1000, tempering=12)
    c = compare(fs)
    energy = next(r for r in c.rows if r.observable == "energy")
    assert energy.agree, c.table()
    gaps = [abs(r.target["energy"].mean - energy.replica) for r in fs.results]
    assert gaps[-1] < gaps[0]
