"""The perceptron (Gardner volume) derived by the engine: textbook forms, capacity, RS instability,
Ising weights, teacher-student, command line, and finite-N checks (maximal-margin perceptrons, exact
enumeration of Ising weights, Gibbs sampling of the version space)."""
import json
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq, minimize
from scipy.stats import norm

import replicasym as rs
from replicasym.cli import main
from replicasym.errors import ParameterError
from replicasym.models.perceptron import ALPHA, KAPPA, TEACHER_OVERLAP, markdown
from replicasym.solvers.gardner import Compiled
from replicasym.symbolic.constraint import LogH
from replicasym.symbolic.gaussian import E, GaussianExpectation, linearize

q, t = sp.Symbol("q", real=True), sp.Symbol("t", real=True)
ROOT = Path(__file__).resolve().parent.parent


def model(**kw):
    return rs.models.build("perceptron", **kw)


def H(x):
    return mpmath.erfc(x / mpmath.sqrt(2)) / 2


def gauss(f):
    return mpmath.quad(lambda z: f(z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])


def capacity_oracle(kappa):
    """Gardner, J. Phys. A 21 (1988) 257: 1/alpha_c = int_{-kappa}^oo Dt (t + kappa)^2 (by quadrature)."""
    k = mpmath.mpf(kappa)
    return 1 / mpmath.quad(lambda z: (z + k) ** 2 * mpmath.npdf(z), [-k, mpmath.inf])


# -- the engine's equations are the textbook ones ------------------------------------------------
def test_rs_free_entropy_is_gardners():
    """Gardner 1988 (reference/yoshino_bahri.md B.4): Phi = 1/2 log(1-q) + q/(2(1-q))
    + alpha E_t log H((kappa - sqrt(q) t)/sqrt(1-q)); the engine writes t -> -t (an even measure)."""
    d = rs.derive(model(), "rs")
    gardner = (sp.log(1 - q) / 2 + q / (2 * (1 - q))
               + ALPHA * E(LogH((KAPPA + sp.sqrt(q) * t) / sp.sqrt(1 - q)), t))
    assert sp.simplify(linearize(d.free_entropy - gardner)) == 0


def test_teacher_free_entropy_is_textbook():
    """Engel & Van den Broeck, Statistical Mechanics of Learning (2001) ch. 2 (RS, Gibbs learning):
    Phi = 1/2 log(1-q) + (q - R^2)/(2(1-q)) + 2 alpha E_t H(-R t/sqrt(q-R^2)) log H(-sqrt(q) t/sqrt(1-q))
    at kappa = 0 (t -> -t as above)."""
    d = rs.derive(model(labels="teacher"), "rs")
    R = TEACHER_OVERLAP
    book = (sp.log(1 - q) / 2 + (q - R**2) / (2 * (1 - q))
            + 2 * ALPHA * E(sp.exp(LogH(R * t / sp.sqrt(q - R**2)))
                            * LogH((KAPPA + sp.sqrt(q) * t) / sp.sqrt(1 - q)), t))
    assert sp.simplify(linearize(d.free_entropy - book)) == 0


def test_replicon_is_gardner_derrida_at_condition():
    """Gardner & Derrida, J. Phys. A 21 (1988) 271: RS is stable while
    alpha E_t [(log H)''(x)]^2 < 1, x = (kappa + sqrt(q) t)/sqrt(1-q); hand-typed with mpmath."""
    d = rs.derive(model(), "rs")
    f = Compiled(d.replicon, (q, ALPHA, KAPPA))
    for qv, a, k in ((0.3, 1.2, 0.4), (0.8, 1.7, 0.0), (0.95, 4.0, -0.5)):
        def d2(z, qv=qv, k=k):
            x = (k + mpmath.sqrt(qv) * z) / mpmath.sqrt(1 - qv)
            m = mpmath.npdf(x) / H(x)
            return (m * (m - x)) ** 2
        assert float(f(qv, a, k)) == pytest.approx(float(1 - a * gauss(d2)), rel=1e-9)


def test_ising_rs_free_entropy_has_the_ising_trace():
    """Gardner & Derrida 1988 (Ising weights, RS): Phi = -Lambda (1-q)/2 + E_z log 2cosh(sqrt(Lambda) z)
    + alpha E_t log H(...)."""
    d = rs.derive(model(weights="ising"), "rs")
    lam, z = sp.Symbol("lam", real=True), sp.Symbol("z", real=True)
    book = (-lam * (1 - q) / 2 + E(sp.log(2 * sp.cosh(sp.sqrt(lam) * z)), z)
            + ALPHA * E(LogH((KAPPA + sp.sqrt(q) * t) / sp.sqrt(1 - q)), t))
    diff = linearize(sp.expand(sp.expand_log(d.free_entropy - book, force=True)))
    assert sp.simplify(diff) == 0
    assert [str(v) for v in d.order_parameters] == ["q", "lam"]


def test_one_step_rsb_reduces_to_rs():
    """The 1RSB functional (nested expectations; derived, not solved) equals the RS one at q1 = q0."""
    d1 = rs.derive(model(), "1rsb")
    d0 = rs.derive(model(), "rs")
    q0, q1, _ = d1.order_parameters
    nested = [e for e in sp.preorder_traversal(d1.free_entropy)
              if isinstance(e, GaussianExpectation) and e.integrand.has(GaussianExpectation)]
    assert nested
    t0 = sp.Symbol("t0", real=True)
    reduced = sp.expand(linearize(sp.expand_log(d1.free_entropy.subs(q1, q0), force=True))).xreplace({t0: t})
    assert sp.simplify(reduced - d0.free_entropy.subs(q, q0)) == 0
    with pytest.raises(ParameterError, match="not available"):
        rs.solve(model(alpha=1), ansatz="1rsb")


# -- capacity -----------------------------------------------------------------------------------
def test_capacity_closed_form():
    d = rs.derive(model(), "rs")
    ac = d.capacity["alpha_c"]
    # Cover (1965) / Gardner (1988): alpha_c(0) = 2 exactly
    assert sp.simplify(ac.subs(KAPPA, 0)) == 2
    # DESIGN.md oracle alpha_c(0.5) = 0.961205053; reference/yoshino_bahri.md B.4: alpha_c(2) =
    # 0.200231016 and the (invalid) RS value alpha_c(-0.5) = 4.770098883
    assert float(ac.subs(KAPPA, sp.Rational(1, 2))) == pytest.approx(0.961205053, abs=5e-10)
    assert float(ac.subs(KAPPA, 2)) == pytest.approx(0.200231016, abs=5e-10)
    assert float(ac.subs(KAPPA, -sp.Rational(1, 2))) == pytest.approx(4.770098883, abs=5e-9)
    for k in ("-1", "0.3", "1", "1.5"):  # against the integral form, by quadrature at 30 digits
        with mpmath.workdps(30):
            exact = sp.Float(str(capacity_oracle(k)), 30)
            assert abs(sp.N(ac.subs(KAPPA, sp.Rational(k)), 30) - exact) < 1e-25


def test_phase_capacity_and_rs_stability():
    # kappa = 0: marginal exactly at capacity (Gardner & Derrida 1988: RS stable for kappa >= 0)
    ph = rs.phase(model(kappa=0))
    assert ph["alpha_c"] == pytest.approx(2.0, abs=1e-14)
    assert ph["replicon_at_capacity"] == pytest.approx(0.0, abs=1e-14)
    assert ph["capacity_phase"] == "rs" and ph["alpha_AT"] is None
    # kappa = 1: stable, and 1/(kappa^2 + 1) (a wrong formula, reference B.4) is not the capacity
    ph = rs.phase(model(kappa=1))
    assert ph["replicon_at_capacity"] > 0 and abs(ph["alpha_c"] - 0.5) > 0.01
    assert ph["alpha_c"] == pytest.approx(float(capacity_oracle(1)), rel=1e-13)


def test_negative_margin_rs_failure_is_detected():
    """kappa < 0 (non-convex): the RS replicon vanishes before the RS q -> 1 point (Gardner &
    Derrida 1988; Franz & Parisi 2016), so the RS capacity is reported as an RS value only."""
    ph = rs.phase(model(kappa=-0.5))
    assert ph["capacity_phase"] == "frsb" and ph["replicon_at_capacity"] < 0
    assert 0 < ph["alpha_AT"] < ph["alpha_c"]
    s = rs.solve(model(kappa=-0.5, alpha=ph["alpha_AT"]))
    assert s.replicon == pytest.approx(0.0, abs=1e-8)
    assert any("replicon < 0" in n for n in rs.solve(model(kappa=-0.5, alpha=4.5)).notes)
    assert "full RSB" in " ".join(ph["notes"])


def test_rs_overlap_reference_values():
    # reference/yoshino_bahri.md A.4 / B.4 (COMPUTED): Q(alpha=1) = 0.5853, Q(1.9) = 0.9709 at kappa = 0
    assert rs.solve(model(alpha=1)).order_parameters["q"] == pytest.approx(0.5853, abs=5e-5)
    assert rs.solve(model(alpha=1.9)).order_parameters["q"] == pytest.approx(0.9709, abs=5e-5)


@pytest.mark.slow
def test_saddle_point_precision_path_agrees():
    lo = rs.solve(model(alpha=1.3, kappa=0.2))
    hi = rs.solve(model(alpha=1.3, kappa=0.2), precision=20)
    assert abs(float(hi.order_parameters["q"]) - lo.order_parameters["q"]) < 1e-11
    assert abs(float(hi.free_entropy) - lo.free_entropy) < 1e-11


def test_beyond_capacity_is_refused():
    with pytest.raises(ParameterError, match="empty"):
        rs.solve(model(alpha=2.5))


# -- Ising weights --------------------------------------------------------------------------------
def test_ising_capacities():
    d = rs.derive(model(weights="ising"), "rs")
    # Gardner & Derrida 1988: the RS q -> 1 point of Ising weights is 4/pi at kappa = 0
    assert sp.simplify(d.capacity["alpha_c"].subs(KAPPA, 0) - 4 / sp.pi) == 0
    ph = rs.phase(model(weights="ising"))
    # Krauth & Mezard, J. Phys. France 50 (1989) 3057: the RS entropy vanishes at alpha ~ 0.833 (the
    # constant alpha* ~ 0.833 of Ding & Sun arXiv:1809.07742 and Huang arXiv:2404.18902)
    assert ph["alpha_c"] == pytest.approx(0.833, abs=5e-4)
    assert ph["alpha_c_rs"] == pytest.approx(4 / math.pi, rel=1e-14)
    assert ph["replicon_at_capacity"] > 0 and ph["capacity_phase"] == "1rsb"
    s = rs.solve(model(weights="ising", alpha=ph["alpha_c"]))
    assert s.free_entropy == pytest.approx(0.0, abs=1e-11)
    assert any("negative" in n for n in rs.solve(model(weights="ising", alpha=1.0)).notes)


# -- teacher-student -----------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.5, 2.0, 20.0])
def test_teacher_student_nishimori_and_closed_form_equation(alpha):
    """The engine's (q, R) saddle point lies on q = R, and R solves the closed-form RS equation
    R/sqrt(1-R) = (alpha/pi) E_t exp(-R t^2/2)/H(-sqrt(R) t) (reference/yoshino_bahri.md B.5;
    Engel & Van den Broeck ch. 2), hand-typed here with mpmath."""
    s = rs.solve(model(labels="teacher", alpha=alpha))
    R, qq = s.order_parameters["R"], s.order_parameters["q"]
    assert qq == pytest.approx(R, abs=1e-9)
    Rm = mpmath.mpf(R)
    rhs = alpha / mpmath.pi * gauss(lambda z: mpmath.exp(-Rm * z * z / 2) / H(-mpmath.sqrt(Rm) * z))
    assert float(Rm / mpmath.sqrt(1 - Rm)) == pytest.approx(float(rhs), rel=1e-8)
    assert s.epsilon_g == pytest.approx(math.acos(R) / math.pi, abs=1e-15)


def test_teacher_student_generalisation_table():
    # reference/yoshino_bahri.md B.5 (COMPUTED, two forms checked): epsilon_g(alpha)
    for alpha, eg in ((1, 0.3383595), (5, 0.1180060), (100, 0.0062456)):
        assert rs.solve(model(labels="teacher", alpha=alpha)).epsilon_g == pytest.approx(eg, abs=1e-7)


# -- command line ---------------------------------------------------------------------------------
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_phase_prints_capacity(capsys):
    code, out, _ = run(capsys, "phase", "perceptron", "--param", "kappa=1", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["alpha_c"] == pytest.approx(float(capacity_oracle(1)), abs=1e-12)
    code, out, _ = run(capsys, "phase", "perceptron", "--param", "kappa=1", "--precision", "25", "--json")
    with mpmath.workdps(30):
        assert abs(mpmath.mpf(json.loads(out)["alpha_c"]) - capacity_oracle(1)) < mpmath.mpf(10) ** -23


def test_cli_solve_and_errors(capsys):
    code, out, _ = run(capsys, "solve", "perceptron", "--param", "labels=teacher", "--param", "alpha=2",
                       "--json")
    obj = json.loads(out)
    assert code == 0 and obj["epsilon_g"] == pytest.approx(0.2403116, abs=1e-7)  # reference B.5
    assert obj["T"] is None and obj["order_parameters"]["R"] == pytest.approx(obj["order_parameters"]["q"])
    for argv, msg in ((("solve", "perceptron"), "alpha"),
                      (("solve", "perceptron", "--param", "alpha=1", "--T", "1"), "no temperature"),
                      (("scan", "perceptron"), "--alpha"),
                      (("solve", "perceptron", "--param", "weights=potts", "--param", "alpha=1"), "weights"),
                      (("solve", "perceptron", "--param", "weights=ising", "--param", "labels=teacher",
                        "--param", "alpha=1"), "spherical"),
                      (("solve", "perceptron", "--param", "alpha=-1"), "alpha"),
                      (("codegen", "perceptron", "--ansatz", "rs", "--backend", "numpy", "-o", "-"),
                       "not available")):
        code, out, err = run(capsys, *argv)
        assert code != 0 and out == "" and msg in err and "Traceback" not in err
    code, _, err = run(capsys, "solve", "sk", "--ansatz", "rs")
    assert code == 2 and "--T" in err


def test_cli_scan(capsys):
    code, out, _ = run(capsys, "scan", "perceptron", "--param", "kappa=0.5", "--alpha", "0.2:1.2:3", "--json")
    pts = json.loads(out)["points"]
    assert code == 0 and [p["alpha"] for p in pts] == [0.2, 0.7, 1.2]
    assert pts[0]["converged"] and pts[1]["order_parameters"]["q"] > pts[0]["order_parameters"]["q"]
    assert not pts[2]["converged"] and "empty" in pts[2]["notes"][0]
    code, out, _ = run(capsys, "scan", "perceptron", "--alpha", "0.5:1.5:2")
    assert code == 0 and "alpha" in out.splitlines()[1]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        code, _, err = run(capsys, "scan", "perceptron", "--alpha", "0.5:1.5:2", "--plot", "x.png")
        assert code != 0 and "matplotlib" in err


# -- finite N -------------------------------------------------------------------------------------
def max_margin(X):
    """Largest kappa with X w/sqrt(N) >= kappa, |w|^2 = N: the dual of min |v|^2 s.t. X v >= 1
    (kappa = 1/|v|); returns (kappa, number of patterns at the margin)."""
    K = X @ X.T
    res = minimize(lambda lam: (0.5 * lam @ K @ lam - lam.sum(), K @ lam - 1),
                   np.full(len(X), 1 / X.shape[1]), jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(X),
                   options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-10})
    v = X.T @ res.x
    return float(np.min(X @ v) / np.linalg.norm(v)), int(np.sum(res.x > 1e-8))


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_max_margin_perceptrons_match_rs(alpha):
    """Convex side (kappa >= 0, RS exact): the maximal margin of N = 200 random instances is the
    margin whose RS capacity is alpha, and the support vectors are the RS contacts alpha H(-kappa)."""
    d = rs.derive(model(), "rs")
    ac = sp.lambdify(KAPPA, d.capacity["alpha_c"], "mpmath")
    kappa_c = brentq(lambda k: float(ac(k)) - alpha, -1, 4)
    rng = np.random.default_rng(20240611)
    N, runs = 200, 6
    ks, sv = zip(*(max_margin(rng.standard_normal((int(alpha * N), N))) for _ in range(runs)))
    assert abs(np.mean(ks) - kappa_c) < 4 * np.std(ks, ddof=1) / np.sqrt(runs)
    contacts = alpha * norm.cdf(kappa_c)
    assert abs(np.mean(sv) / N - contacts) < 4 * np.std(np.array(sv) / N, ddof=1) / np.sqrt(runs) + 1 / N


def _configs(N):
    idx = np.arange(2**N)[:, None]
    return (1 - 2 * ((idx >> np.arange(N)) & 1)).astype(np.float32)


@pytest.mark.slow
def test_ising_exact_enumeration_matches_rs_entropy():
    """(1/N) E log #{s in {+-1}^N: X s >= 0} by exact enumeration at N = 12, 16, 20 (alpha N integer),
    extrapolated linearly in 1/N, against the engine's RS entropy at alpha = 1/4 (RS exact there)."""
    alpha = 0.25
    rng = np.random.default_rng(3)
    Ns, means, errs = [], [], []
    for N, runs in ((12, 60), (16, 60), (20, 30)):
        S = _configs(N)
        vals = []
        for _ in range(runs):
            X = rng.standard_normal((int(alpha * N), N)).astype(np.float32)
            vals.append(np.log(np.count_nonzero(np.all(S @ X.T >= 0, axis=1))) / N)
        Ns.append(N)
        means.append(np.mean(vals))
        errs.append(np.std(vals, ddof=1) / np.sqrt(runs))
    A = np.vstack([np.ones(3), 1 / np.array(Ns)]).T
    W = np.diag(1 / np.array(errs) ** 2)
    cov = np.linalg.inv(A.T @ W @ A)
    s_inf = (cov @ A.T @ W @ np.array(means))[0]
    s_rs = rs.solve(model(weights="ising", alpha=alpha)).free_entropy
    assert abs(s_inf - s_rs) < 4 * math.sqrt(cov[0, 0])


def _hit_and_run(A, w, steps, rng, thin):
    """Uniform samples of {|w| <= 1, A w >= 0} (hit-and-run; directions of uniform points of a cone
    cut by the ball are uniform on the sphere's version space)."""
    Aw, out = A @ w, []
    for i in range(steps):
        d = rng.standard_normal(w.size)
        d /= np.linalg.norm(d)
        Ad, wd = A @ d, w @ d
        disc = math.sqrt(wd * wd - w @ w + 1)
        lo, hi = -wd - disc, -wd + disc
        with np.errstate(divide="ignore", invalid="ignore"):
            r = -Aw / Ad
        if (Ad > 0).any():
            lo = max(lo, r[Ad > 0].max())
        if (Ad < 0).any():
            hi = min(hi, r[Ad < 0].min())
        step = rng.uniform(lo, hi)
        w, Aw = w + step * d, Aw + step * Ad
        if i % thin == 0:
            out.append(w / np.linalg.norm(w))
    return w, np.array(out)


@pytest.mark.slow
def test_gibbs_learning_monte_carlo_matches_rs():
    """Students sampled uniformly from the version space of a spherical teacher (N = 50, alpha = 2)
    have the overlap R of the engine's RS solution (RS exact on the Nishimori line)."""
    alpha, N, runs = 2.0, 50, 8
    rng = np.random.default_rng(11)
    Rs = []
    for _ in range(runs):
        T = rng.standard_normal(N)
        T /= np.linalg.norm(T)
        X = rng.standard_normal((int(alpha * N), N))
        A = np.sign(X @ T)[:, None] * X
        w, _ = _hit_and_run(A, 0.5 * T, 20000, rng, 20000)
        _, S = _hit_and_run(A, w, 40000, rng, 20)
        Rs.append(np.mean(S @ T))
    R = rs.solve(model(labels="teacher", alpha=alpha)).order_parameters["R"]
    assert abs(np.mean(Rs) - R) < 4 * np.std(Rs, ddof=1) / math.sqrt(runs)


@pytest.mark.slow
def test_ising_capacity_high_precision():
    lo = rs.phase(model(weights="ising"))["alpha_c"]
    hi = rs.phase(model(weights="ising"), precision=20)["alpha_c"]
    assert isinstance(hi, str) and abs(float(hi) - lo) < 1e-11


@pytest.mark.slow
def test_checked_in_derivation_is_current():
    path = ROOT / "derivations" / "perceptron.md"
    assert path.read_text(encoding="utf-8") == markdown(), (
        "derivations/perceptron.md is stale: run python -c 'from replicasym.models.perceptron import "
        "write_markdown; write_markdown()'")


def test_checked_in_derivation_has_the_numbers():
    text = (ROOT / "derivations" / "perceptron.md").read_text(encoding="utf-8")
    for needle in ("**hierarchical decoupling**", "**capacity limit**", "**replicon**", "0.961205052801542",
                   "0.519572229604938", "0.4095575194", "Comparison with the claims of the seed abstracts"):
        assert needle in text
