"""Benchmark: the eta-average across ReLU's kink, kink-split Gauss-Legendre panels vs Gauss-Hermite.

    python benchmarks/bench_kink_eta.py

One finite-width RS quantity: the forward equation Q_d = E_{xi,u} <relu(z)^2> of the engine's layer block
(replicasym.symbolic.layered.generic_equations, ReLU), at C_W = 2, C_b = 0.1, P_d = 1, P_0 = 0.45,
Lambda_d = 0.9, Lambda_0 = 0.6, with xi and u on a fixed fine rule.  The eta rule is either Gauss-Hermite (the
rule for a smooth activation) or Gauss-Legendre panels split where z = sqrt(S_0) xi + sqrt(S_d - S_0) eta
crosses 0 (replicasym.solvers.layer_quadrature, the default for a kinked activation).  Reference: the closed-form
eta moments (truncated normal) with 200-node Gauss-Hermite in xi and u, as in tests/test_finite_width.py.
Printed: error and time per evaluation for each node count, and the nodes each rule needs for an error below 1e-7.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from replicasym.kernels.activations import activation
from replicasym.kernels.quadrature import gauss_hermite
from replicasym.solvers import layer_quadrature
from replicasym.solvers.layer_quadrature import Rule
from replicasym.solvers import zipper
from replicasym.solvers.zipper import compile_equations
from replicasym.symbolic.layered import generic_equations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_finite_width import _call, _relu_moments_closed_form  # noqa: E402

from _convergence import compare_rules  # noqa: E402

CW, CB, PD, P0, LD, L0 = 2.0, 0.1, 1.0, 0.45, 0.9, 0.6


def _reference() -> float:
    z_, w_ = gauss_hermite(200)
    xi, u = z_[:, None], z_[None, :]
    _, s2 = _relu_moments_closed_form(np.sqrt(CB + CW * P0) * xi, np.sqrt(CW * (PD - P0)), np.sqrt(L0) * u, LD - L0)
    return float(w_ @ s2 @ w_)


def _value(eta: int, split: bool) -> tuple[float, float]:
    saved = layer_quadrature._kinked_fields
    if not split:
        layer_quadrature._kinked_fields = lambda *a: []
    zipper._compiled.cache_clear()  # compiled per rule and cached: the two eta rules share Rule objects
    try:
        ce = compile_equations(generic_equations(activation("relu")), Rule(xi=193, u=193, eta=eta))
    finally:
        layer_quadrature._kinked_fields = saved
    kw = {"P_d": PD, "P_0": P0, "Lambda_d": LD, "Lambda_0": L0, "alpha": 1.0, "C_W": CW, "C_b": CB}
    t0 = time.perf_counter()
    v = _call(ce.forward[0], **kw)
    return v, time.perf_counter() - t0


def main() -> None:
    ref = _reference()
    print(f"reference (closed-form eta moments): Q_d = {ref:.12f}")
    compare_rules(ref, (("gauss-hermite", (20, 40, 60, 90, 135, 200, 300), lambda n: (*_value(n, False), n)),
                        ("kink-split GL", (10, 15, 20, 25, 30, 40), lambda n: (*_value(n, True), 2 * n))),
                  label="eta nodes")


if __name__ == "__main__":
    main()
