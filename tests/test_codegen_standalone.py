"""Generated solver modules as standalone programs (``replicasym codegen ... -o solver.py``).

* Every generated module passes ``ruff check`` with ruff's default rules and no configuration
  (``--isolated``, as in a user's directory), for SK RS, SK 1RSB and the spherical 3-spin 1RSB in
  both backends; its docstring states the model, the ansatz, the equations in LaTeX and the
  conventions; long expressions are broken over lines.
* Imported in a fresh interpreter in which replicasym, sympy and scipy (and the other backend's
  library) cannot be imported, its ``solve(T=0.5)`` and ``solve(T=0)`` reproduce
  ``replicasym.solve`` (the oracle: the package's own solver on the same derivation), and SK's RS
  ground state is -sqrt(2/pi) (DESIGN.md oracle; Sherrington & Kirkpatrick 1975).
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import replicasym as rs
from replicasym import cli
from replicasym.codegen import render
from replicasym.solvers.thermo import derivation_for

CASES = {  # name -> (model, params, ansatz)
    "sk-rs": ("sk", {}, "rs"),
    "sk-1rsb": ("sk", {}, "1rsb"),
    "spherical3-1rsb": ("spherical", {"p": 3}, "1rsb"),
    "sk-h0.3-rs": ("sk", {"h": 0.3}, "rs"),
}
LINTED = ["sk-rs", "sk-1rsb", "spherical3-1rsb"]

_RUN = r"""
import importlib.abc, importlib.util, json, sys
backend, path, temps = sys.argv[1], sys.argv[2], [float(t) for t in sys.argv[3:]]
blocked = {"replicasym", "sympy", "scipy", "mpmath" if backend == "numpy" else "numpy"}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError("blocked in this test: " + name)
        return None

sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("solver", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
results = [module.solve(T=t) for t in temps]
print(json.dumps({"results": results, "modules": sorted(sys.modules)}, default=str))
"""


def _generate(path: Path, case: str, backend: str) -> Path:
    model, params, ansatz = CASES[case]
    argv = ["codegen", model, "--ansatz", ansatz, "--backend", backend, "-o", str(path)]
    for k, v in params.items():
        argv += ["--param", f"{k}={v}"]
    assert cli.main(argv) == 0
    return path


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("standalone")
    out = {}
    for case in CASES:
        for backend in ("numpy", "mpmath"):
            out[case, backend] = _generate(root / f"{case.replace('-', '_').replace('.', '')}_{backend}.py",
                                           case, backend)
    return out


def _ruff(*args) -> subprocess.CompletedProcess:
    try:
        import ruff  # noqa: F401  (the PyPI package that ships the ruff binary)
    except ImportError:
        pytest.fail("ruff is not installed; it is part of the test extra: pip install '.[test]'")
    return subprocess.run([sys.executable, "-m", "ruff", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_generated_modules_pass_ruff_without_configuration(modules):
    files = [str(modules[case, backend]) for case in LINTED for backend in ("numpy", "mpmath")]
    r = _ruff("check", "--isolated", "--no-cache", *files)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("backend", ["numpy", "mpmath"])
def test_docstring_and_layout(modules, backend):
    source = modules["spherical3-1rsb", backend].read_text()
    doc = source.split('"""', 2)[1]
    for fragment in ("Model: spherical", "Ansatz: 1rsb", "Order parameters theta: (q1, m)", r"\Phi = ",
                     "Saddle-point equations:", r"\lambda_R = ", "Conventions", "Phi(0) = 0", "Phi(0) = log 2",
                     "solve(T=0.5)", "E_0 = "):
        assert fragment in doc, fragment
    # readable: named functions, CSE temporaries, no giant one-liners
    for case in LINTED:
        text = modules[case, backend].read_text()
        assert max(len(line) for line in text.splitlines()) <= 200, case
        assert "x0 = " in text and "def solve(" in text


def test_render_is_deterministic():
    d = derivation_for(rs.models.sk(), "1rsb")
    assert render(d, "numpy") == render(d, "numpy")


def _standalone(path: Path, backend: str, temps) -> dict:
    r = subprocess.run([sys.executable, "-c", _RUN, backend, str(path), *map(str, temps)], capture_output=True,
                       text=True, timeout=300, check=False, cwd=path.parent)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _close(a, b, tol):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))


@pytest.mark.parametrize("case, backend", [
    ("sk-rs", "numpy"), ("sk-1rsb", "numpy"), ("spherical3-1rsb", "numpy"), ("sk-h0.3-rs", "numpy"),
    ("sk-rs", "mpmath"), ("spherical3-1rsb", "mpmath"),
    pytest.param("sk-1rsb", "mpmath", marks=pytest.mark.slow),
])
def test_standalone_solve_reproduces_replicasym_solve(modules, case, backend):
    model, params, ansatz = CASES[case]
    temps = (0.5, 0.0)
    out = _standalone(modules[case, backend], backend, temps)
    loaded = {m.split(".")[0] for m in out["modules"]}
    assert not loaded & {"replicasym", "sympy", "scipy"}
    assert backend in loaded and ({"numpy", "mpmath"} - {backend}).isdisjoint(loaded)
    for T, got in zip(temps, out["results"]):
        ref = rs.solve(rs.models.build(model, **params), T=T, ansatz=ansatz).as_dict()
        assert set(got) == set(ref) - {"profile"}
        assert got["model"] == ref["model"] and got["ansatz"] == ref["ansatz"] and got["params"] == ref["params"]
        assert got["converged"] is True
        for key in ("free_entropy", "energy", "entropy", "replicon"):
            assert _close(got[key], ref[key], 1e-9), (T, key, got[key], ref[key])
        assert got["order_parameters"].keys() == ref["order_parameters"].keys()
        for name, value in ref["order_parameters"].items():
            assert _close(got["order_parameters"][name], value, 1e-8), (T, name)
        if (case, T) == ("sk-rs", 0.0):
            assert _close(got["energy"], -math.sqrt(2 / math.pi), 1e-12)


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"standalone_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_solve_options_and_errors(modules):
    mod = _import(modules["sk-h0.3-rs", "numpy"])
    assert mod.PARAM_VALUES == {"h": 0.3} and mod.MODEL_PARAMS == {"h": 0.3}
    a = mod.solve(beta=2.0)
    b = mod.solve(T=0.5, start={"q": a["order_parameters"]["q"]})
    assert a["free_entropy"] == pytest.approx(b["free_entropy"], abs=1e-13)
    c = mod.solve(T=0.5, h=0.0)  # keyword parameters override the generated values
    assert c["order_parameters"]["q"] < a["order_parameters"]["q"]
    with pytest.raises(mod.ConvergenceError):
        mod.solve(T=0.5, maxiter=0)
    with pytest.raises(ValueError, match="exactly one of"):
        mod.solve(T=0.5, beta=2.0)
    with pytest.raises(ValueError, match="unknown parameters"):
        mod.solve(T=0.5, J=1.0)
    mp = _import(modules["sk-rs", "mpmath"])
    hi = mp.solve(T=0.5, precision=30)
    assert abs(hi["order_parameters"]["q"] - a["order_parameters"]["q"]) > 1e-3  # h = 0 vs h = 0.3
    assert hi["residual"] < 1e-25
