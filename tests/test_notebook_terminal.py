"""Notebook and terminal polish: ``_repr_latex_`` on derivations and equations, progress bars on
scans (tqdm when installed, else a plain counter; silent off a terminal), help texts with examples."""
from __future__ import annotations

import io

import pytest
import sympy as sp

import replicasym as rs
from replicasym import cli
from replicasym import progress as progress_module
from replicasym.progress import progress
from replicasym.solvers.thermo import derivation_for


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_derivation_repr_latex():
    d = derivation_for(rs.models.spherical(p=3), "1rsb")
    tex = d._repr_latex_()
    assert tex.startswith(r"$$\begin{aligned}") and tex.endswith(r"\end{aligned}$$")
    assert r"\text{spherical, 1rsb}" in tex and r"\Phi &= " + sp.latex(d.free_entropy) in tex
    for eq in d.equations:
        assert sp.latex(eq.lhs) + " &= " + sp.latex(eq.rhs) in tex
        assert eq._repr_latex_().startswith("$")  # SymPy's own, for single equations
    assert r"\lambda_{\mathrm{R}} &= " in tex


def test_plain_progress_counter(monkeypatch):
    monkeypatch.delenv("REPLICASYM_PROGRESS", raising=False)
    monkeypatch.setattr(progress_module, "_tqdm", lambda: None)
    out = _Terminal()
    assert list(progress(range(3), desc="scan", stream=out)) == [0, 1, 2]
    assert out.getvalue() == "\rscan: 1/3\rscan: 2/3\rscan: 3/3\n"
    quiet = io.StringIO()  # not a terminal: silent
    assert list(progress(iter(range(2)), desc="scan", stream=quiet)) == [0, 1]
    assert quiet.getvalue() == ""
    monkeypatch.setenv("REPLICASYM_PROGRESS", "0")  # switched off everywhere
    list(progress(range(2), stream=out, enabled=True))
    assert out.getvalue().endswith("3/3\n")
    monkeypatch.setenv("REPLICASYM_PROGRESS", "1")  # forced on off a terminal
    list(progress(range(2), desc="x", stream=quiet))
    assert quiet.getvalue() == "\rx: 1/2\rx: 2/2\n"


def test_tqdm_progress_bar(monkeypatch):
    if progress_module._tqdm() is None:
        pytest.fail("tqdm is not installed; it is part of the test extra: pip install '.[test]'")
    monkeypatch.delenv("REPLICASYM_PROGRESS", raising=False)
    out = _Terminal()
    assert list(progress(range(4), desc="scan", stream=out)) == [0, 1, 2, 3]
    assert "scan:" in out.getvalue() and "/4 [" in out.getvalue()  # tqdm's bar


def test_scan_shows_progress_on_request(capsys, monkeypatch):
    monkeypatch.delenv("REPLICASYM_PROGRESS", raising=False)
    model = rs.models.spherical(p=2)
    quiet = rs.scan(model, "rs", [0.5, 2.0], progress=False)
    assert capsys.readouterr().err == ""
    shown = rs.scan(model, "rs", [0.5, 2.0], progress=True)
    assert "scan spherical" in capsys.readouterr().err
    assert [s.free_entropy for s in shown] == [s.free_entropy for s in quiet]


@pytest.mark.parametrize("command", ["derive", "solve", "codegen", "scan", "phase", "check", "demo",
                                     "derivations"])
def test_help_has_examples(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert ("examples:" in out or "example:" in out) and f"  replicasym {command}" in out
