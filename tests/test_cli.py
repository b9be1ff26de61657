"""The command line.

Part 1 runs ``replicasym.cli.main`` in-process against a small fake API (so the CLI's own
behaviour -- argument handling, JSON shape, error lines, atomic writes -- is tested independently
of the engine).  Part 2 runs the real program end to end with ``python -m replicasym`` in a
subprocess.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest
import sympy as sp

import replicasym
import replicasym.codegen
import replicasym.models
from replicasym import cli
from replicasym.errors import ConvergenceError, ParameterError

ROOT = Path(__file__).resolve().parents[1]
SOLVE_KEYS = {"model", "params", "ansatz", "T", "free_entropy", "energy", "entropy", "order_parameters",
              "replicon", "converged", "residual"}


# ---------------------------------------------------------------------------------------------
# fake API
# ---------------------------------------------------------------------------------------------
class FakeModel:
    has_temperature = True  # the CLI asks models without temperature (perceptron) to say so

    def __init__(self, name, params):
        self.name, self.params = name, params


class FakeSolution:
    def __init__(self, model, ansatz, T, precision):
        self.model, self.ansatz, self.T, self.precision = model, ansatz, T, precision

    def as_dict(self):
        if self.precision:
            with mpmath.workdps(self.precision):
                fe = mpmath.log(2) + mpmath.mpf(1) / 3
                q = mpmath.sqrt(mpmath.mpf(2)) / 3
        else:
            fe, q = math.log(2) + 1 / 3, math.sqrt(2) / 3
        return {"model": self.model.name, "params": dict(self.model.params),
                "ansatz": "rs" if self.ansatz == "auto" else self.ansatz,
                "T": self.T, "free_entropy": fe, "energy": -0.5, "entropy": 0.1,
                "order_parameters": {"q": q}, "replicon": -0.25, "converged": True, "residual": 1e-13}


class FakeDerivation:
    def __init__(self, model, ansatz):
        qs, bs = sp.symbols("q beta", real=True)
        self.model, self.ansatz = model, ansatz
        self.order_parameters = (qs,)
        self.free_entropy = bs**2 * (1 - qs) ** 2 / 4 + sp.log(2)
        self.equations = (sp.Eq(qs, sp.tanh(bs * qs) ** 2),)
        self.replicon = 1 - bs**2
        self.steps = []

    def latex(self):
        return r"\Phi = " + sp.latex(self.free_entropy)


@pytest.fixture
def fake_api(monkeypatch):
    calls = []

    def build(name, **params):
        calls.append(("build", name, params))
        if name not in ("sk", "spherical"):
            raise ParameterError(f"unknown model {name!r}")
        if params.get("p") == 99:
            raise ValueError("p must be <= 20")
        return FakeModel(name, params)

    def derive(model, ansatz="rs"):
        calls.append(("derive", model.name, ansatz))
        return FakeDerivation(model, ansatz)

    def solve(model, T=None, beta=None, ansatz="auto", precision=None):
        if isinstance(model, FakeDerivation):
            model, ansatz = model.model, model.ansatz
        calls.append(("solve", model.name, T, beta, ansatz, precision))
        if model.params.get("p") == 7:
            raise ConvergenceError("Newton did not converge", residual=0.1)
        if model.params.get("p") == 8:
            raise RuntimeError("boom\nsecond line")
        print("noise from the library")  # must not reach stdout under --json
        return FakeSolution(model, ansatz, T if T is not None else 1 / beta, precision)

    def scan(model, ansatz, Ts):
        calls.append(("scan", model.name, ansatz, list(Ts)))
        return [FakeSolution(model, ansatz, T, None) for T in Ts]

    def phase(model, precision=None):
        calls.append(("phase", model.name, precision))
        return {"T_d": math.sqrt(3 / 8), "T_s": 0.5865, "T_c": None, "zero_temperature_phase": "1rsb",
                "E_gs": -1.6572}

    def render(derivation, backend):
        calls.append(("render", backend))
        if backend == "mpmath" and derivation.model.params.get("p") == 5:
            return "def broken(:\n"
        return f"# generated ({backend})\nBACKEND = {backend!r}\n"

    monkeypatch.setattr(replicasym.models, "build", build)
    monkeypatch.setattr(replicasym, "derive", derive, raising=False)
    monkeypatch.setattr(replicasym, "solve", solve, raising=False)
    monkeypatch.setattr(replicasym, "scan", scan, raising=False)
    monkeypatch.setattr(replicasym, "phase", phase, raising=False)
    monkeypatch.setattr(replicasym.codegen, "render", render, raising=False)
    return calls


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("replicasym: error: ")
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# part 1: in-process, fake API
# ---------------------------------------------------------------------------------------------
def test_solve_json_keys_and_params(fake_api, capsys):
    code, out, err = run(capsys, "solve", "sk", "--param", "p=3", "--param", "act=x*erf(x)",
                         "--param", "alpha=1,0.5", "--T", "0.5", "--json")
    assert code == 0, err
    obj = json.loads(out)  # exactly one JSON object on stdout
    assert SOLVE_KEYS <= set(obj)
    assert obj["params"] == {"p": 3, "act": "x*erf(x)", "alpha": [1, 0.5]}
    assert isinstance(obj["free_entropy"], float) and isinstance(obj["order_parameters"]["q"], float)
    assert "noise from the library" in err  # diverted, not lost
    assert ("build", "sk", {"p": 3, "act": "x*erf(x)", "alpha": [1, 0.5]}) in fake_api
    assert ("solve", "sk", 0.5, None, "auto", None) in fake_api


def test_solve_beta_and_precision_strings(fake_api, capsys):
    code, out, err = run(capsys, "solve", "sk", "--ansatz", "rs", "--beta", "2", "--precision", "40",
                         "--param", "h=0.25", "--json")
    assert code == 0, err
    obj = json.loads(out)
    fe = obj["free_entropy"]
    assert isinstance(fe, str)
    with mpmath.workdps(40):
        assert abs(mpmath.mpf(fe) - (mpmath.log(2) + mpmath.mpf(1) / 3)) < mpmath.mpf(10) ** -38
    assert len(fe.replace("-", "").replace(".", "")) >= 38
    assert isinstance(obj["order_parameters"]["q"], str)
    assert obj["converged"] is True
    assert obj["params"] == {"h": 0.25}  # echoed as given, not as digit strings
    assert ("solve", "sk", None, 2.0, "rs", 40) in fake_api


def test_solve_text(fake_api, capsys):
    code, out, _err = run(capsys, "solve", "sk", "--T", "0")
    assert code == 0
    assert "ground state" in out and "free_entropy" in out and "unstable" in out


@pytest.mark.parametrize("argv, fragment", [
    (["solve", "nosuch", "--T", "1"], "unknown model 'nosuch'"),
    (["solve", "sk", "--param", "p=99", "--T", "1"], "p must be <= 20"),
    (["solve", "sk", "--param", "p=7", "--T", "1"], "Newton did not converge"),
    (["solve", "sk", "--param", "p=8", "--T", "1"], "internal error: RuntimeError: boom second line"),
    (["solve", "sk", "--param", "p=nan", "--T", "1"], "not a finite number"),
    (["solve", "sk", "--param", "xi=q**10**10", "--T", "1"], "exponent"),
    (["solve", "sk", "--param", "p", "--T", "1"], "KEY=VALUE"),
    (["solve", "sk", "--param", "p=1", "--param", "p=2", "--T", "1"], "given twice"),
    (["solve", "sk", "--T", "-1"], ">= 0"),
    (["solve", "sk", "--T", "inf"], "finite"),
    (["solve", "sk"], "--T --beta"),
    (["solve", "sk", "--T", "1", "--beta", "1"], "not allowed with"),
    (["solve", "sk", "--T", "1", "--precision", "0"], "between 1 and"),
    (["derive", "sk", "--ansatz", "2rsb"], "unknown ansatz"),
    (["derive", "sk"], "--ansatz"),
    (["scan", "sk", "--ansatz", "rs", "--T", "0:1"], "START:STOP:NUM"),
    (["scan", "sk", "--ansatz", "rs", "--T", "0:1:x"], "NUM must be an integer"),
    (["scan", "sk", "--ansatz", "rs", "--T", "0:1:0"], "between 1 and"),
    (["nosuchcommand"], "invalid choice"),
    ([], "required"),
])
def test_errors_are_one_line(fake_api, capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert out == ""
    assert_one_error_line(err)
    assert fragment in err


@pytest.mark.parametrize("command", ["derive", "solve", "codegen", "scan", "phase", "check", "mc", "demo"])
def test_every_command_has_help_with_example(command, capsys):
    code = cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert code == 0
    assert "example" in out and f"replicasym {command}" in out


def test_top_level_help_and_version(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for c in ("derive", "solve", "codegen", "scan", "phase", "check", "mc", "demo"):
        assert c in out
    assert cli.main(["--version"]) == 0
    assert "replicasym" in capsys.readouterr().out


def test_derive_outputs(fake_api, capsys):
    code, out, _ = run(capsys, "derive", "sk", "--ansatz", "rs")
    assert code == 0 and "Phi =" in out and "q = tanh(beta*q)**2" in out and "lambda_R" in out
    code, out, _ = run(capsys, "derive", "sk", "--ansatz", "rs", "--latex")
    assert code == 0 and out.startswith(r"\Phi =")
    code, out, _ = run(capsys, "derive", "sk", "--ansatz", "rs", "--json")
    obj = json.loads(out)
    assert obj["ansatz"] == "rs" and obj["order_parameters"] == ["q"]
    assert obj["equations"] == ["q = tanh(beta*q)**2"]
    assert {"free_entropy", "replicon", "latex", "steps", "model", "params"} <= set(obj)


def test_phase(fake_api, capsys):
    code, out, _ = run(capsys, "phase", "spherical", "--param", "p=3", "--json")
    obj = json.loads(out)
    assert code == 0
    assert obj["T_c"] is None and abs(obj["T_d"] - math.sqrt(3 / 8)) < 1e-15
    assert obj["model"] == "spherical" and obj["params"] == {"p": 3}
    code, out, _ = run(capsys, "phase", "spherical", "--param", "p=3")
    assert "T_d" in out and "none" in out


def test_scan_table_and_json(fake_api, capsys):
    code, out, _ = run(capsys, "scan", "sk", "--ansatz", "rs", "--T", "0.5:1.5:3")
    assert code == 0
    assert ("scan", "sk", "rs", [0.5, 1.0, 1.5]) in fake_api
    lines = out.strip().splitlines()
    assert "free_entropy" in lines[1] and "q" in lines[1] and len(lines) == 5
    code, out, _ = run(capsys, "scan", "sk", "--ansatz", "rs", "--T", "0.5:1.5:3", "--json")
    obj = json.loads(out)
    assert [p["T"] for p in obj["points"]] == [0.5, 1.0, 1.5]
    assert all(SOLVE_KEYS <= set(p) for p in obj["points"])


def test_scan_plot_without_matplotlib(fake_api, capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    code, _out, err = run(capsys, "scan", "sk", "--ansatz", "rs", "--T", "0.5:1:2", "--plot",
                         str(tmp_path / "s.png"))
    assert code == 1
    assert_one_error_line(err)
    assert "pip install 'replicasym[plot]'" in err
    assert not any(c[0] == "scan" for c in fake_api)  # fails before computing


def test_scan_plot_with_matplotlib(fake_api, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "s.png"
    code, _out, err = run(capsys, "scan", "sk", "--ansatz", "rs", "--T", "0.5:1:3", "--plot", str(png))
    assert code == 0, err
    assert png.stat().st_size > 0


def test_codegen_atomic(fake_api, capsys, tmp_path):
    target = tmp_path / "mod.py"
    code, out, err = run(capsys, "codegen", "sk", "--ansatz", "rs", "--backend", "numpy", "-o", str(target))
    assert code == 0, err
    assert target.read_text() == "# generated (numpy)\nBACKEND = 'numpy'\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mod.py"]  # no temporary left behind
    # a generated module that does not compile is not written and the old file is kept
    code, out, err = run(capsys, "codegen", "sk", "--param", "p=5", "--ansatz", "rs", "--backend", "mpmath",
                         "-o", str(target))
    assert code == 1 and "does not compile" in err
    assert target.read_text().endswith("'numpy'\n")
    assert [p.name for p in tmp_path.iterdir()] == ["mod.py"]
    # missing directory
    code, out, err = run(capsys, "codegen", "sk", "--ansatz", "rs", "--backend", "numpy",
                         "-o", str(tmp_path / "nodir" / "m.py"))
    assert code == 1 and "does not exist" in err
    # stdout
    code, out, err = run(capsys, "codegen", "sk", "--ansatz", "rs", "--backend", "mpmath", "-o", "-")
    assert code == 0 and "BACKEND = 'mpmath'" in out
    code, out, err = run(capsys, "codegen", "sk", "--ansatz", "rs", "--backend", "cuda", "-o", "-")
    assert code == 2 and "invalid choice" in err


def test_demo_with_fake_api(fake_api, capsys):
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    for fragment in ("Phi =", "q = tanh(beta*q)**2", "T_d", "E_gs", "all parts succeeded"):
        assert fragment in out


def test_missing_api_is_a_clean_error(monkeypatch, capsys):
    monkeypatch.delattr(replicasym, "phase", raising=False)
    code, _out, err = run(capsys, "phase", "sk")
    assert code == 1
    assert_one_error_line(err)


def test_jsonable():
    assert cli.jsonable({"a": float("nan"), "b": [1, 2.5], sp.Symbol("q"): sp.Rational(1, 2)}) == \
        {"a": None, "b": [1, 2.5], "q": 0.5}
    with mpmath.workdps(30):
        third = mpmath.mpf(1) / 3
    assert cli.jsonable(third, 20) == "0.33333333333333333333"
    assert cli.jsonable(sp.Rational(1, 3), 20) == "0.33333333333333333333"
    assert cli.jsonable(third) == 1 / 3
    assert cli.jsonable(sp.Integer(3), 30) == 3
    assert cli.jsonable(True, 30) is True
    assert cli.jsonable(0.5, 30) == 0.5  # plain floats are not re-formatted


def test_parse_range():
    assert cli.parse_range("0:1:5") == [0, 0.25, 0.5, 0.75, 1.0]
    assert cli.parse_range("0.3:0.3:1") == [0.3]


# ---------------------------------------------------------------------------------------------
# part 2: the real program, end to end
# ---------------------------------------------------------------------------------------------
def rs_cli(*argv, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "replicasym", *argv], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=env, timeout=timeout)


def test_real_help_and_error():
    r = rs_cli("--help")
    assert r.returncode == 0 and "solve" in r.stdout
    r = rs_cli("solve", "nosuchmodel", "--T", "1")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("replicasym: error:")


def test_real_derive_sk_latex():
    r = rs_cli("derive", "sk", "--ansatz", "rs", "--latex")
    assert r.returncode == 0, r.stderr
    assert r"\Phi" in r.stdout and r"\tanh" in r.stdout


def test_real_solve_sk_high_precision():
    r = rs_cli("solve", "sk", "--ansatz", "rs", "--T", "0.5", "--precision", "50", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert SOLVE_KEYS <= set(obj)
    fe = obj["free_entropy"]
    assert isinstance(fe, str) and len(fe.lstrip("-").replace(".", "")) >= 40
    # SK RS equation q = E tanh^2(beta sqrt(q) z) (DESIGN.md oracle), checked independently at 30 digits
    with mpmath.workdps(30):
        q = mpmath.mpf(obj["order_parameters"]["q"])
        rhs = mpmath.quad(lambda t: mpmath.npdf(t) * mpmath.tanh(2 * mpmath.sqrt(q) * t) ** 2,
                          [-mpmath.inf, 0, mpmath.inf])
        assert abs(rhs - q) < mpmath.mpf(10) ** -20
    assert float(obj["replicon"]) < 0  # T = 0.5 lies below the AT line (T_AT(h=0) = 1)


def test_real_solve_spherical_1rsb_ground_state():
    r = rs_cli("solve", "spherical", "--param", "p=3", "--ansatz", "1rsb", "--T", "0", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert SOLVE_KEYS <= set(obj)
    assert obj["ansatz"] == "1rsb"
    # 1RSB ground state of the pure 3-spin spherical model (xi = q^3/2) lies strictly between the RS
    # value -sqrt(xi'(1)) = -sqrt(3/2) and the threshold energy E_th = -2/sqrt(3) (DESIGN.md oracles)
    assert -math.sqrt(1.5) < obj["energy"] < -2 / math.sqrt(3)


def test_real_phase_spherical_p3():
    r = rs_cli("phase", "spherical", "--param", "p=3", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert abs(obj["T_d"] - math.sqrt(3 / 8)) < 1e-6  # DESIGN.md oracle
    assert obj["T_s"] < obj["T_d"]
    assert {"E_gs"} <= set(obj)


def test_real_demo():
    r = rs_cli("demo")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "all parts succeeded" in r.stdout
