"""Array-API backends of the code generator: ``render(d, "jax" | "cupy")`` prints the numpy template
family against ``xp`` (jax.numpy / cupy).  Without a GPU (and without jax in the test install) the
cupy and jax sources are checked statically (parse, ruff, imports, sanitised names, the missing-library
messages); the jax module runs on the CPU when the optional extra ``jax`` is installed."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_codegen import sk_rs_derivation, special_functions_derivation

import replicasym as rs
import replicasym.codegen as cg
from replicasym import cli
from replicasym.codegen.names import IDENT_RE
from replicasym.errors import ParameterError

ARRAY = ("jax", "cupy")
ALLOWED_IMPORTS = {"jax": {"math", "numpy", "jax", "jax.numpy", "jax.scipy"},
                   "cupy": {"math", "numpy", "cupy", "cupyx.scipy"}}


@pytest.fixture(scope="module")
def derivations():
    return {"sk-field-rs": rs.derive(rs.models.sk(h=0.3), ansatz="rs"),
            "sk-1rsb": rs.derive(rs.models.sk(), ansatz="1rsb"),
            "special": special_functions_derivation()}


@pytest.fixture(scope="module")
def sources(derivations, tmp_path_factory):
    root = tmp_path_factory.mktemp("array-sources")
    out = {}
    for name, d in derivations.items():
        for backend in ARRAY:
            path = root / f"{name.replace('-', '_')}_{backend}.py"
            path.write_text(cg.render(d, backend))
            out[name, backend] = path
    return out


def _imports(tree) -> set:
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_array_sources_parse_and_import_only_their_library(sources):
    for (name, backend), path in sources.items():
        src = path.read_text()
        tree = ast.parse(src)
        assert isinstance(tree.body[0], ast.Expr) and f"({backend} backend" in ast.get_docstring(tree)
        assert _imports(tree) == ALLOWED_IMPORTS[backend], (name, backend)
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert {"free_entropy", "residuals", "jacobian", "residuals_and_jacobian", "energy", "replicon",
                "newton", "sweep", "set_quadrature"} <= defined
        assert "solve" not in defined  # the multi-start solve stays in the numpy backend
        # the printed kernels use the array namespace only (numpy is for host-side shapes and nodes)
        kernels = {c.args[0].id for c in ast.walk(tree) if isinstance(c, ast.Call)
                   and getattr(c.func, "id", "") == "_evaluate" and isinstance(c.args[0], ast.Name)}
        assert "_residuals_and_jacobian" in kernels
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in kernels):
            used = {n.value.id for n in ast.walk(fn) if isinstance(n, ast.Attribute)
                    and isinstance(n.value, ast.Name)}
            assert "numpy" not in used and "math" not in used, (name, backend, fn.name)


def test_array_sources_pass_ruff(sources):
    try:
        import ruff  # noqa: F401  (the PyPI package that ships the ruff binary)
    except ImportError:
        pytest.fail("ruff is not installed; it is part of the test extra: pip install '.[test]'")
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
                        *map(str, sources.values())], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_array_render_is_deterministic_and_sanitises_names():
    d = sk_rs_derivation(name='evil"""\nimport os; os.system("echo pwned") #\\')
    for backend in ARRAY:
        src = cg.render(d, backend)
        assert src == cg.render(d, backend)
        tree = ast.parse(src)
        assert isinstance(tree.body[0], ast.Expr) and "pwned" in ast.get_docstring(tree)
        assert not any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"
                       for n in ast.walk(tree))
        args = {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
        assert all(IDENT_RE.match(a) for a in args)


def test_xp_is_a_reserved_name():
    # a user symbol called xp must not shadow the array namespace inside the kernels
    import sympy as sp

    d = sk_rs_derivation()
    xp_sym = sp.Symbol("xp")
    d.params = (*d.params, xp_sym)
    d.free_entropy = d.free_entropy + xp_sym
    src = cg.render(d, "jax")
    assert "PARAMS = (\"beta\", \"h\", \"xp_\", )" in src


def _hide(monkeypatch, library):
    """Make ``library`` look uninstalled (whether or not it is)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == library else real(name, *a))


@pytest.mark.parametrize("backend, extra", [("jax", "jax"), ("cupy", "gpu-cupy")])
def test_missing_library_is_a_clear_parameter_error(backend, extra, monkeypatch, tmp_path):
    _hide(monkeypatch, backend)
    with pytest.raises(ParameterError, match=rf"backend '{backend}' needs {backend}, which is not "
                                             rf"installed; install it with: pip install 'replicasym\[{extra}\]'"):
        cg.load(sk_rs_derivation(), backend, tmp_path)
    with pytest.raises(ParameterError, match="unknown backend 'cuda'"):
        cg.load(sk_rs_derivation(), "cuda", tmp_path)


@pytest.mark.parametrize("backend, extra", [("jax", "jax"), ("cupy", "gpu-cupy")])
def test_generated_module_without_its_library_says_how_to_install(backend, extra, tmp_path):
    path = tmp_path / f"m_{backend}.py"
    path.write_text(cg.render(sk_rs_derivation(), backend))
    code = textwrap.dedent(f"""
        import sys
        sys.modules[{backend!r}] = None  # as if not installed
        import importlib.util
        spec = importlib.util.spec_from_file_location('gen', {str(path)!r})
        m = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(m)
        except ImportError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert f"pip install 'replicasym[{extra}]'" in out.stdout


def test_kernel_models_need_the_numpy_backend():
    # the GP-limit MLP's xi is evaluated by replicasym.kernels on the host
    d = rs.derive(rs.models.mlp(activation="tanh", depth=1), ansatz="rs")
    for backend in ARRAY:
        with pytest.raises(ParameterError, match="generate it with backend 'numpy'"):
            cg.render(d, backend)


def test_cli_codegen_array_backend(tmp_path, capsys, monkeypatch):
    _hide(monkeypatch, "cupy")
    target = tmp_path / "sk_cupy.py"
    code = cli.main(["codegen", "sk", "--param", "h=0.3", "--ansatz", "rs", "--backend", "cupy",
                     "-o", str(target)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "cupy backend" in captured.out and "pip install 'replicasym[gpu-cupy]'" in captured.err
    assert "import cupy as xp" in target.read_text()


# --------------------------------------------------------------------------- jax on the CPU
@pytest.fixture(scope="module")
def jax_modules(derivations, tmp_path_factory):
    pytest.importorskip("jax", reason="the optional extra 'jax' (pip install 'replicasym[jax]') is not "
                                      "installed; the jax backend is then only checked statically")
    cache = tmp_path_factory.mktemp("jax-cache")
    d = derivations["sk-field-rs"]
    return cg.load(d, "jax", cache), cg.load(d, "numpy", cache)


def test_jax_module_matches_numpy_on_the_cpu(jax_modules):
    jm, nm = jax_modules
    T, h = np.meshgrid(np.linspace(0.3, 1.4, 9), np.linspace(0.1, 0.9, 6), indexing="ij")
    params = [1 / T, h]
    q = np.linspace(0.05, 0.95, T.size).reshape(T.shape)
    for fn in ("free_entropy", "energy", "replicon"):
        np.testing.assert_allclose(np.asarray(getattr(jm, fn)([q], params)), getattr(nm, fn)([q], params),
                                   rtol=0, atol=1e-12, err_msg=fn)
    np.testing.assert_allclose(np.asarray(jm.jacobian([q], params)[0][0]), nm.jacobian([q], params)[0][0],
                               rtol=0, atol=1e-12)
    theta, ok, _, _ = jm.newton([0.5], params)
    ref, ok_n, _, _ = nm.newton([0.5], params)
    assert bool(np.all(np.asarray(ok))) and ok_n.all()
    np.testing.assert_allclose(np.asarray(theta[0]), ref[0], rtol=0, atol=1e-10)
    theta, ok, _, _ = jm.sweep([0.5], params, axis=0)
    assert bool(np.all(np.asarray(ok)))
    np.testing.assert_allclose(np.asarray(theta[0]), ref[0], rtol=0, atol=1e-10)
    theta, ok, _, _ = jm.sweep([-0.5], params)  # undefined residual: reported, NaN
    assert not np.asarray(ok).any() and np.isnan(np.asarray(theta[0])).all()
