"""Benchmark: the pre-activation field xi of the finite-width layer integrals, trapezoidal vs Gauss-Hermite.

    python benchmarks/bench_layer_quadrature.py

One finite-width RS quantity with steep steps in xi: dPhi/dq of the depth-1 reduction
(replicasym.symbolic.one_hidden_layer, k = 0) for sin, C_W = 2, alpha = 4, T = 0.4 at q = 0.6.  u and eta use
a fixed fine rule; the xi rule is either Gauss-Hermite (the zipper's former rule, 40 nodes) or the truncated
trapezoid on [-9, 9] (replicasym.solvers.layer_quadrature).  Reference: trapezoid with 1537 nodes.  Printed: the
error and time per evaluation for each node count, and the nodes each rule needs for an error below 1e-7.
"""
from __future__ import annotations

import time

import numpy as np
from _convergence import compare_rules

from replicasym.kernels.activations import activation
from replicasym.kernels.quadrature import gauss_hermite
from replicasym.solvers.layer_quadrature import Quadrature, Rule, _trapezoid, compile_expression
from replicasym.symbolic.layered import ALPHA, BETA, C_B, C_W
from replicasym.symbolic.one_hidden_layer import one_hidden_layer

POINT = (0.6, 4.0, 2.5, 2.0, 0.0)  # q, alpha, beta, C_W, C_b


def _value(xi_rule) -> tuple[float, float]:
    red = one_hidden_layer(activation("sin"), 0)
    quad = Quadrature(Rule(49, 193, 60), red.fields)
    quad.rules = (xi_rule, *quad.rules[1:])
    f = compile_expression(red.gradient[0], (*red.variables, ALPHA, BETA, C_W, C_B), quad)
    args = [np.array([v]) for v in POINT]
    t0 = time.perf_counter()
    v = float(f(*args)[0])
    return v, time.perf_counter() - t0


def main() -> None:
    ref, _ = _value(_trapezoid(1537))
    print(f"reference (trapezoid, 1537 nodes): dPhi/dq = {ref:.12f}")
    counts = (25, 40, 49, 80, 97, 135, 193, 300)
    compare_rules(ref, ((name, counts, lambda n, rule=rule: (*_value(rule(n)), n))
                        for name, rule in (("gauss-hermite", gauss_hermite), ("trapezoid", _trapezoid))))


if __name__ == "__main__":
    main()
