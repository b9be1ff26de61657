"""Tests of replicasym.codegen: printers, rendering, cache and the generated modules."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
import sympy as sp

import replicasym.codegen as cg
from replicasym.codegen.cache import content_hash
from replicasym.codegen.names import IDENT_RE
from replicasym.derivation import Derivation
from replicasym.symbolic.gaussian import E

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- hand-built derivations
def sk_rs_derivation(name="sk"):
    r"""SK replica-symmetric free entropy (Sherrington & Kirkpatrick 1975; Mezard-Parisi-Virasoro
    1987, eq. III.30): Phi = beta^2/4 (1-q)^2 + E_z log 2cosh(beta sqrt(q) z + beta h)."""
    beta, h, q, z = sp.symbols("beta h q z", real=True)
    phi = beta**2 / 4 * (1 - q) ** 2 + E(sp.log(2 * sp.cosh(beta * sp.sqrt(q) * z + beta * h)), z)
    # the fixed-point residual q - E tanh^2 (what the engine produces for Ising levels)
    g = q - E(sp.tanh(beta * sp.sqrt(q) * z + beta * h) ** 2, z)
    return Derivation(
        model=SimpleNamespace(name=name), ansatz="rs", beta=beta, params=(h,), param_values={},
        order_parameters=(q,), bounds={q: (0, 1)}, free_entropy=phi, equations=(sp.Eq(q, q - g),),
        residuals=(g,), jacobian=sp.Matrix([[sp.diff(g, q)]]), energy=-sp.diff(phi, beta),
        replicon=1 - beta**2 * E(sp.cosh(beta * sp.sqrt(q) * z + beta * h) ** -4, z),
        zero_temperature=None)


def sk_1rsb_derivation():
    r"""SK-like 1RSB functional with a nested expectation (Parisi 1979; MPV 1987 eq. III.47)."""
    beta, h, q0, q1, m, z0, z1 = sp.symbols("beta h q0 q1 m z0 z1", real=True)
    u = beta * (sp.sqrt(q0) * z0 + sp.sqrt(q1 - q0) * z1 + h)
    phi = (beta**2 / 4 * (1 - (1 - m) * q1**2 - m * q0**2)
           + E(sp.log(E(sp.exp(m * sp.log(2 * sp.cosh(u))), z1)) / m, z0))
    th = (q0, q1, m)
    g = tuple(sp.diff(phi, t) for t in th)
    jac = sp.Matrix([[sp.diff(gi, t) for t in th] for gi in g])
    w = sp.exp(m * sp.log(2 * sp.cosh(u)))
    return Derivation(
        model=SimpleNamespace(name="sk"), ansatz="1rsb", beta=beta, params=(h,), param_values={},
        order_parameters=th, bounds={q0: (0, 1), q1: (0, 1), m: (0, 1)}, free_entropy=phi,
        equations=tuple(sp.Eq(gi, 0) for gi in g), residuals=g, jacobian=jac,
        energy=-sp.diff(phi, beta),
        replicon=1 - beta**2 * E(E(w * sp.cosh(u) ** -4, z1) / E(w, z1), z0), zero_temperature=None)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("codegen-cache")


@pytest.fixture(scope="module")
def rs_mods(cache):
    d = sk_rs_derivation()
    return cg.load(d, "numpy", cache), cg.load(d, "mpmath", cache)


# --------------------------------------------------------------------------- numpy vs mpmath
FUNCS = ["free_entropy", "residuals", "jacobian", "energy", "replicon"]


def test_numpy_matches_mpmath_rs_grid(rs_mods):
    # Oracle: the mpmath module integrates the same expressions at 18 digits with its adaptive
    # trapezoidal rule (step halved until converged to the working precision); the numpy module
    # uses its default fixed rule (1601 nodes on [-10, 10]).  The grid reaches low temperature,
    # beta sqrt(q) up to 6.5, where 121-node Gauss-Hermite was wrong by up to ~1e-3.
    npm, mpm = rs_mods
    npm.set_quadrature(1601)
    mpm.set_precision(18)
    temps = [0.15, 0.3, 0.6, 1.2]
    qs = [0.15, 0.5, 0.95]
    hs = [0.0, 0.4]
    for T in temps:
        for q in qs:
            for h in hs:
                beta = 1.0 / T
                for fn in FUNCS:
                    a = np.array(getattr(npm, fn)((q,), (beta, h)), dtype=float)
                    b = np.array(getattr(mpm, fn)((q,), (beta, h)), dtype=float)
                    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=f"{fn} T={T} q={q} h={h}")
    # the same grid evaluated at once, vectorised (broadcasting q against (beta, h)), and chunked
    qg = np.array(qs)[:, None, None]
    bg = (1.0 / np.array(temps))[None, :, None]
    hg = np.array(hs)[None, None, :]
    vec = npm.free_entropy((qg, ), (bg, hg))
    assert vec.shape == (3, 4, 2)
    for i, q in enumerate(qs):
        for j, T in enumerate(temps):
            for k, h in enumerate(hs):
                assert abs(vec[i, j, k] - float(mpm.free_entropy((q,), (1 / T, h)))) < 1e-10
    old = npm.CHUNK_ELEMENTS
    try:
        npm.CHUNK_ELEMENTS = 3 * 1601  # 3 grid points per chunk: same values, same structure
        chunked = npm.jacobian((qg,), (bg, hg))
        np.testing.assert_array_equal(chunked[0][0], npm.jacobian((qg,), (bg, hg))[0][0] * 1)
        np.testing.assert_array_equal(npm.free_entropy((qg,), (bg, hg)), vec)
    finally:
        npm.CHUNK_ELEMENTS = old


def test_sk_rs_low_temperature_solution_vs_independent_mpmath(rs_mods):
    # Oracle: the SK RS fixed point q = E tanh^2(beta sqrt(q) z) at T = 0.1 (Sherrington-Kirkpatrick
    # 1975), solved with mpmath.findroot on mpmath.quad (tanh-sinh on 48 panels of [-12, 12]), written
    # here independently of the code generator.  121-node Gauss-Hermite gave q = 0.882 here.
    npm, _ = rs_mods
    npm.set_quadrature(1601)
    beta = 10.0
    theta, ok, res, its = npm.newton((np.array([0.9]),), (beta, 0.0))
    assert ok.all() and res.max() < 1e-12
    with mpmath.workdps(20):
        def fixed_point(q):
            return q - mpmath.quad(lambda z: mpmath.tanh(beta * mpmath.sqrt(q) * z) ** 2 * mpmath.npdf(z),
                                   mpmath.linspace(-12, 12, 49))
        q_ref = mpmath.findroot(fixed_point, mpmath.mpf("0.92"), tol=mpmath.mpf(10) ** -18)
    assert abs(float(theta[0][0]) - float(q_ref)) < 1e-9
    assert 0.91 < float(q_ref) < 0.93


def test_numpy_matches_mpmath_1rsb(cache):
    # Oracle: the mpmath module (nested adaptive trapezoidal sums at 12 digits) on the same 1RSB
    # functional; the numpy module uses its nested default (401 nodes per axis).
    d = sk_1rsb_derivation()
    npm, mpm = cg.load(d, "numpy", cache), cg.load(d, "mpmath", cache)
    assert npm.QUADRATURE_NODES == 401
    mpm.set_precision(12)
    th, pr = (0.2, 0.6, 0.5), (1.1, 0.1)
    assert abs(float(npm.free_entropy(th, pr)) - float(mpm.free_entropy(th, pr))) < 1e-10
    np.testing.assert_allclose(np.array(npm.residuals(th, pr), dtype=float),
                               np.array(mpm.residuals(th, pr), dtype=float), rtol=0, atol=1e-10)


@pytest.mark.slow
def test_numpy_matches_mpmath_1rsb_jacobian(cache):
    # Oracle: as above for the Jacobian (nested mpmath sums, ~1 min at 12 digits).
    d = sk_1rsb_derivation()
    npm, mpm = cg.load(d, "numpy", cache), cg.load(d, "mpmath", cache)
    mpm.set_precision(12)
    th, pr = (0.2, 0.6, 0.5), (1.1, 0.1)
    np.testing.assert_allclose(np.array(npm.jacobian(th, pr), dtype=float),
                               np.array(mpm.jacobian(th, pr), dtype=float), rtol=0, atol=1e-10)


def test_1rsb_residuals_and_jacobian_are_derivatives(cache):
    # Oracle: central finite differences of the generated free entropy itself (O(eps^2) ~ 1e-8);
    # this hand-built derivation's residuals are dPhi/dtheta.
    npm = cg.load(sk_1rsb_derivation(), "numpy", cache)
    npm.set_quadrature(121)
    th, pr = np.array([0.2, 0.6, 0.5]), (1.1, 0.1)
    g = np.array(npm.residuals(th, pr), dtype=float)
    J = np.array(npm.jacobian(th, pr), dtype=float)
    eps = 1e-4
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        fd = (npm.free_entropy(th + e, pr) - npm.free_entropy(th - e, pr)) / (2 * eps)
        assert abs(fd - g[i]) < 1e-7
        fdg = (np.array(npm.residuals(th + e, pr)) - np.array(npm.residuals(th - e, pr))) / (2 * eps)
        np.testing.assert_allclose(J[:, i], fdg, atol=1e-6)
    np.testing.assert_allclose(J, J.T, atol=1e-12)
    npm.set_quadrature(401)


def test_quadrature_log2cosh_vs_independent_mpmath(rs_mods):
    # Oracle: E_z log 2cosh(beta sqrt(q) z) integrated directly with mpmath.quad against the normal
    # density, written here independently of the code generator.
    npm, _ = rs_mods
    npm.set_quadrature(1601)
    mpmath.mp.dps = 25
    for beta, q in [(0.7, 0.3), (1.0, 0.5), (1.2, 0.9), (5.0, 0.9), (10.0, 0.95)]:
        ref = mpmath.quad(lambda z: mpmath.log(2 * mpmath.cosh(beta * mpmath.sqrt(q) * z))
                          * mpmath.npdf(z), mpmath.linspace(-14, 14, 57))
        got = npm.free_entropy((q,), (beta, 0.0)) - beta**2 / 4 * (1 - q) ** 2
        assert abs(float(got) - float(ref)) < 1e-11


def test_stable_at_large_beta(cache, rs_mods):
    # beta = 50: cosh(beta sqrt(q) z) overflows float64 at the outer nodes; the printed code must not.
    npm, _ = rs_mods
    npm.set_quadrature(1601)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for fn in FUNCS:
            v = np.array(getattr(npm, fn)((np.array([0.5, 0.99]),), (50.0, 0.3)), dtype=float)
            assert np.isfinite(v).all(), fn
    m1 = cg.load(sk_1rsb_derivation(), "numpy", cache)
    for fn in FUNCS:
        v = np.array(getattr(m1, fn)((0.3, 0.95, 0.4), (50.0, 0.1)), dtype=float)
        assert np.isfinite(v).all(), fn
    # Oracle: |Phi| <= beta^2/4 + beta E|field| + log 2 + |log E...|/m stays O(beta^2): finite, and
    # Phi / beta^2 lies in (0, 1) (the beta^2/4 (1 - ...) term dominates).
    assert 0 < float(m1.free_entropy((0.3, 0.95, 0.4), (50.0, 0.1))) / 50**2 < 1


def test_newton_solves_sk_rs(rs_mods):
    # Oracle: the SK RS fixed point q = E tanh^2(beta sqrt(q) z) (Sherrington-Kirkpatrick 1975),
    # checked with an independent mpmath.quad at each solution, down to T = 0.15.
    npm, _ = rs_mods
    npm.set_quadrature(1601)
    T = np.linspace(0.15, 0.95, 9)
    theta, ok, res, its = npm.newton((np.full_like(T, 0.9),), (1 / T, 0.0))
    assert ok.all() and (res < 1e-12).all() and its.shape == T.shape
    mpmath.mp.dps = 20
    for t, q in zip(T, theta[0]):
        b = 1 / t
        rhs = mpmath.quad(lambda z: mpmath.tanh(b * mpmath.sqrt(q) * z) ** 2 * mpmath.npdf(z),
                          mpmath.linspace(-12, 12, 49))
        assert abs(q - float(rhs)) < 1e-9


def test_quadrature_rule():
    src = cg.render(sk_rs_derivation(), "numpy")
    ns: dict = {}
    exec(compile(src, "<gen>", "exec"), ns)
    assert ns["QUADRATURE_NODES"] == 1601 and ns["QUADRATURE_HALF_WIDTH"] == 10.0
    z, w = ns["_NODES"], ns["_WEIGHTS"]
    assert z[800] == 0.0 and z[0] == -10.0 and z[-1] == 10.0
    np.testing.assert_array_equal(z, -z[::-1])
    assert abs(w.sum() - 1) < 1e-15 and abs(w @ z**2 - 1) < 1e-14 and abs(w @ z**4 - 3) < 1e-13
    ns["set_quadrature"](41, half_width=8.0)
    assert ns["_NODES"][0] == -8.0 and ns["_NODES"].size == 41
    with pytest.raises(ValueError):
        ns["set_quadrature"](40)


def test_mpmath_newton_precision(rs_mods):
    _, mpm = rs_mods
    mpm.set_precision(30)
    theta, ok, res, its = mpm.newton((0.5,), (1.5, 0.2))
    assert ok and res < mpmath.mpf(10) ** -25
    mpm.set_precision(20)


# --------------------------------------------------------------------------- rendering
def test_render_is_deterministic(tmp_path):
    d = sk_1rsb_derivation()
    for backend in ("numpy", "mpmath"):
        assert cg.render(d, backend) == cg.render(d, backend)
    # across interpreters with different hash seeds
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r})
        import hashlib, test_codegen as t, replicasym.codegen as cg
        print(hashlib.sha256(cg.render(t.sk_1rsb_derivation(), "numpy").encode()).hexdigest())
    """)
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout.strip())
    assert outs == {content_hash(cg.render(d, "numpy"))}


def test_generated_module_is_standalone(cache, tmp_path):
    mod = cg.load(sk_rs_derivation(), "numpy", cache)
    code = textwrap.dedent(f"""
        import sys
        sys.modules['sympy'] = None; sys.modules['scipy'] = None; sys.modules['replicasym'] = None
        import importlib.util, numpy as np
        spec = importlib.util.spec_from_file_location('gen', {mod.__file__!r})
        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
        T = np.linspace(0.3, 0.9, 5)
        th, ok, res, it = m.newton((np.full_like(T, 0.9),), (1 / T, 0.0))
        assert ok.all(), res
        print(m.ORDER_PARAMETERS, m.PARAMS, float(th[0][0]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "('q',) ('beta', 'h')" in out.stdout
    tree = ast.parse(Path(mod.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "numpy" in imported and imported - {"numpy"} <= set(sys.stdlib_module_names), imported
    mp_src = cg.render(sk_rs_derivation(), "mpmath")
    tree = ast.parse(mp_src)
    assert {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} == {"mpmath"}


def test_hostile_names_are_sanitized():
    d = sk_rs_derivation(name='evil"""\nimport os; os.system("echo pwned") #\\')
    chi, lam, x0 = sp.Symbol(r"\chi_{1}", positive=True), sp.Symbol("lambda"), sp.Symbol("x0")
    q = d.order_parameters[0]
    d.order_parameters = (q, chi)
    d.params = (d.params[0], lam, x0)
    d.bounds = {q: (0, 1), chi: (0, sp.oo)}
    d.free_entropy = d.free_entropy + lam * chi**2 + x0 * chi
    d.residuals = (d.residuals[0], 2 * lam * chi + x0)
    d.jacobian = sp.Matrix([[d.jacobian[0, 0], 0], [0, 2 * lam]])
    for backend in ("numpy", "mpmath"):
        src = cg.render(d, backend)
        tree = ast.parse(src)
        assert isinstance(tree.body[0], ast.Expr)  # the docstring stays one string
        assert "pwned" in ast.get_docstring(tree)
        assert not any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"
                       for n in ast.walk(tree))
        ns: dict = {}
        exec(compile(src, "<gen>", "exec"), ns)
        assert all(IDENT_RE.match(n) for n in ns["ORDER_PARAMETERS"] + ns["PARAMS"])
        assert ns["ORDER_PARAMETERS"] == ("q", "chi_1")
    ns = {}
    exec(compile(cg.render(d, "numpy"), "<gen>", "exec"), ns)
    g = ns["residuals"]((0.5, 2.0), (1.0, 0.0, 3.0, 1.0))
    assert ns["PARAMS"] == ("beta", "h", "lambda_", "x0_")
    assert abs(float(g[1]) - (2 * 3.0 * 2.0 + 1.0)) < 1e-14


def special_functions_derivation():
    """Every SymPy function that NumPyPrinter would map to math/scipy/functools, inside and outside an
    expectation (so that they must work elementwise on the quadrature axis too)."""
    beta, q, z = sp.symbols("beta q z", real=True)
    x = q - sp.Rational(1, 2)
    terms = [sp.erf(x), sp.erfc(x), sp.gamma(q + 1), sp.loggamma(q + 2), sp.Heaviside(x),
             sp.Heaviside(x, 1), sp.sign(x), sp.Abs(x), sp.Max(x, q**2, sp.Rational(1, 10)),
             sp.Min(x, -q), sp.atan(x), sp.asin(x), sp.acos(x), sp.factorial(q), sp.beta(q + 1, 2),
             sp.KroneckerDelta(q, 1), sp.erf2(x, q), sp.binomial(q + 2, 2)]
    inside = E(sp.erf(beta * q * z) ** 2 + sp.erfc(z + q) + sp.Abs(z) * sp.Max(z, q)
               + sp.gamma(2 + q * sp.sin(z)), z)
    phi = sum(terms) + inside
    # (derivatives of gamma would need polygamma, which has no numpy-only implementation here)
    g = q - sp.erf(x) * sp.gamma(q + 1) + inside
    return Derivation(
        model=SimpleNamespace(name="special"), ansatz="rs", beta=beta, params=(), param_values={},
        order_parameters=(q,), bounds={q: (0, 1)}, free_entropy=phi, equations=(sp.Eq(g, 0),),
        residuals=(g,), jacobian=sp.Matrix([[1 - sp.erf(x)]]), energy=sp.erf(beta) * q,
        replicon=sp.erfc(beta * q), zero_temperature=None)


def test_special_functions_numpy_only(cache):
    d = special_functions_derivation()
    src = cg.render(d, "numpy")
    tree = ast.parse(src)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported - {"numpy"} <= set(sys.stdlib_module_names), imported
    for bad in ("scipy", "functools", "math.erf", "math.gamma", "math.lgamma", "math.factorial"):
        assert bad + "." not in src and bad + "(" not in src, bad
    npm, mpm = cg.load(d, "numpy", cache), cg.load(d, "mpmath", cache)
    mpm.set_precision(20)
    qs = np.array([0.1, 0.35, 0.5, 0.8, 1.0])
    for fn in ("free_entropy", "residuals", "energy", "replicon"):
        a = np.array(getattr(npm, fn)((qs,), (1.3,)), dtype=float)
        assert a.shape[-1] == qs.size, fn
        # Oracle: the same expressions through the mpmath printer (mpmath.erf, mpmath.gamma, ...).
        # The integrand is discontinuous (Heaviside, |z|) at a node-free point: compare to 1e-3.
        for i, q in enumerate(qs):
            b = np.array(getattr(mpm, fn)((q,), (1.3,)), dtype=float)
            tol = 1e-3 if fn in ("free_entropy", "residuals") else 1e-14
            np.testing.assert_allclose(a[..., i], b, rtol=0, atol=tol, err_msg=f"{fn} q={q}")
    # the elementwise helpers themselves: exact math.* values, vectorised
    ns: dict = {}
    exec(compile(src, "<gen>", "exec"), ns)
    xs = np.linspace(-3, 3, 13)
    import math
    np.testing.assert_array_equal(ns["_erf"](xs), [math.erf(v) for v in xs])
    np.testing.assert_array_equal(ns["_erfc"](xs), [math.erfc(v) for v in xs])
    np.testing.assert_array_equal(ns["_lgamma"](xs + 3.5), [math.lgamma(v + 3.5) for v in xs])
    assert np.isnan(ns["_gamma"](np.array([-1.0, 0.0]))).all()


# --------------------------------------------------------------------------- cache
def test_corrupted_cache_entry_is_regenerated(tmp_path):
    d = sk_rs_derivation()
    src = cg.render(d, "numpy")
    mod = cg.load(d, "numpy", tmp_path)
    path = Path(mod.__file__)
    assert path.parent == tmp_path and content_hash(src) in path.name
    assert path.read_text() == src
    path.write_text(src[: len(src) // 2])  # truncated
    sys.modules.pop(mod.__name__, None)
    mod2 = cg.load(d, "numpy", tmp_path)
    assert path.read_text() == src
    assert abs(float(mod2.free_entropy((0.5,), (1.0, 0.0))) - float(mod.free_entropy((0.5,), (1.0, 0.0)))) == 0
    path.write_text(src.replace("return", "return 0 *", 1))  # same length class, wrong content
    sys.modules.pop(mod2.__name__, None)
    cg.load(d, "numpy", tmp_path)
    assert path.read_text() == src
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICASYM_CACHE", str(tmp_path / "envcache"))
    mod = cg.load(sk_rs_derivation(), "mpmath")
    assert Path(mod.__file__).parent == tmp_path / "envcache"


# --------------------------------------------------------------------------- real derivations
@pytest.mark.parametrize("model,ansatz", [("sk", "rs"), ("sk", "1rsb"), ("spherical", "rs"),
                                          ("spherical", "1rsb")])
def test_real_derivations_render_and_agree(model, ansatz, cache):
    import replicasym as rs
    factory = rs.models.sk if model == "sk" else (lambda: rs.models.spherical(p=3))
    d = rs.derive(factory(), ansatz=ansatz)
    npm, mpm = cg.load(d, "numpy", cache), cg.load(d, "mpmath", cache)
    mpm.set_precision(15)
    k = len(d.order_parameters)
    theta = [0.5, 0.6, 0.7][:k]
    params = [0.9] + [float(d.param_values.get(p, 0.1)) for p in d.params]
    # Oracle: the mpmath module (adaptive trapezoidal sums at 15 digits).
    a = float(npm.free_entropy(theta, params))
    b = float(mpm.free_entropy(theta, params))
    assert abs(a - b) < 1e-10
    g = np.array(npm.residuals(theta, params), dtype=float)
    assert g.shape == (k,) and np.isfinite(g).all()
    if d.zero_temperature is not None and d.zero_temperature.order_parameters:
        assert hasattr(npm, "ground_state_energy") and hasattr(npm, "ground_state_newton")


# --------------------------------------------------------------------------- fingerprint index
def test_second_load_uses_the_fingerprint_index_without_rendering(tmp_path, monkeypatch):
    """benchmarks/README.md, "Derivation cost": a second load must not render again."""
    d = sk_rs_derivation()
    mod = cg.load(d, "numpy", tmp_path)
    sys.modules.pop(mod.__name__, None)  # a fresh process: nothing memoised

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(cg, "render", no_render)
    mod2 = cg.load(d, "numpy", tmp_path)
    assert mod2.__file__ == mod.__file__
    assert float(mod2.free_entropy((0.5,), (1.0, 0.0))) == float(mod.free_entropy((0.5,), (1.0, 0.0)))


def test_fingerprint_separates_what_the_source_depends_on():
    import replicasym as rs
    from replicasym.solvers.thermo import derivation_for
    fp = cg.fingerprint
    sk = derivation_for(rs.models.sk(h=0.3), "rs")
    assert fp(sk, "numpy") == fp(derivation_for(rs.models.sk(h=0.3), "rs"), "numpy")
    others = [fp(sk, "mpmath"), fp(derivation_for(rs.models.sk(h=0.2), "rs"), "numpy"),
              fp(derivation_for(rs.models.sk(h=0.3), "1rsb"), "numpy"),
              # network kernels enter xi only by name in the expressions: their keys are part of it
              fp(derivation_for(rs.models.mlp(activation="tanh", depth=2), "rs"), "numpy"),
              fp(derivation_for(rs.models.mlp(activation="tanh", depth=3), "rs"), "numpy"),
              fp(derivation_for(rs.models.mlp(activation="tanh", depth=3, C_W=1.5), "rs"), "numpy")]
    assert len({fp(sk, "numpy"), *others}) == 1 + len(others)


def test_a_bad_or_shared_index_entry_falls_back_to_rendering(tmp_path, monkeypatch):
    d = sk_rs_derivation()
    src = cg.render(d, "numpy")
    mod = cg.load(d, "numpy", tmp_path)
    sys.modules.pop(mod.__name__, None)
    (entry,) = (tmp_path / "index").iterdir()
    # points at a module that is not there / is not hexadecimal / names a corrupted module
    for text in ("0" * 64, "not a digest", None):
        if text is None:
            entry.write_text(content_hash(src))
            Path(mod.__file__).write_text(src.replace("return", "return 0 *", 1))
        else:
            entry.write_text(text)
        m = cg.load(d, "numpy", tmp_path)
        sys.modules.pop(m.__name__, None)
        assert Path(m.__file__).read_text() == src and entry.read_text().strip() == content_hash(src)
    # an index that others may write is not trusted: it is ignored (the module is rendered)
    entry.chmod(0o666)
    calls = []
    real = cg.render

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cg, "render", counting)
    cg.load(d, "numpy", tmp_path)
    assert calls == [1]
