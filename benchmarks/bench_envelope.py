"""The zero-temperature envelope quadrature vs a jump-blind tensor grid (the baseline), same run.

    python benchmarks/bench_envelope.py

One expectation of the finite-width T = 0 layer block, E_{xi,u} tanh(z*)^2 with
z* = argmax_z [sqrt(lambda) u tanh(z) + mu tanh(z)^2/2 - (z - y)^2/(2 s)], y = sqrt(C_W P_d) xi
(tanh, C_W = 4, P_d = 1, chi_P = 1, lambda = 8, mu = 0.3: the maximiser jumps for every u).

* the rule (``replicasym.solvers.envelope_quadrature.EnvelopeRule``): adaptive u-panels, jumps located;
* the baseline: the trapezoidal rule on an n x n grid of (xi, u) in [-9, 9]^2, the maximiser at each node by
  the same global search (crossings of Y(z) = z - s G'(z) on a z-grid, Newton polish), the jumps ignored.

Both use the same inner maximiser, so the ratio measures what locating the jumps buys: the time to reach a
given error.  The reference value is the rule on 4x finer starting grids (u panels, xi cells) at a panel
tolerance of 1e-12.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from replicasym.kernels.activations import activation
from replicasym.solvers import envelope_quadrature as eq
from replicasym.symbolic.envelope import maximisers
from replicasym.symbolic.layered import U, XI, generic_equations

VALUES = {"C_W": 4.0, "C_b": 0.0, "P_d": 1.0, "chi_P": 1.0, "lambda": 8.0, "mu": 0.3}


def main() -> None:
    eqs = generic_equations(activation("tanh"), "zero")
    arg = maximisers(eqs.forward[0])[0]
    syms = tuple(sorted(arg.free_symbols - {XI, U}, key=str))
    params = tuple(VALUES[str(s)] for s in syms)
    prob = eq._problem(arg, XI, U, syms)
    panels, cells = eq.U_PANELS, eq.XI_CELLS
    eq.U_PANELS, eq.XI_CELLS = 4 * panels, 4 * cells  # the reference: 4x finer starting grids, tolerance 1e-12
    ref_rule = eq.EnvelopeRule(prob, params, tol=1e-12)
    eq.U_PANELS, eq.XI_CELLS = panels, cells
    ref = float(np.sum(ref_rule.w * np.tanh(ref_rule.z) ** 2))
    print(f"reference (4x finer grids, panel tolerance 1e-12): {ref:.15f}")
    for tol in (1e-8, 1e-10):
        t = time.perf_counter()
        r = eq.EnvelopeRule(prob, params, tol=tol)
        dt = time.perf_counter() - t
        v = float(np.sum(r.w * np.tanh(r.z) ** 2))
        print(f"rule tol {tol:g}: {r.u.size} u-nodes x {r.xi.shape[1]} xi-nodes, {dt:.2f} s, error {abs(v - ref):.1e}")
    for n in (101, 201, 401, 801, 1601):
        t = time.perf_counter()
        g = np.linspace(-9, 9, n)
        w = np.exp(-g**2 / 2) / np.sqrt(2 * np.pi) * (g[1] - g[0])
        u = g[:, None]
        y = ref_rule.slope * g[None, :] * np.ones((n, 1))
        z = np.concatenate([ref_rule._global(y[i:i + 50], u[i:i + 50]) for i in range(0, n, 50)])
        v = float(np.sum(w[:, None] * w[None, :] * np.tanh(z) ** 2))
        dt = time.perf_counter() - t
        print(f"baseline {n} x {n}: {dt:.2f} s, error {abs(v - ref):.1e}")


if __name__ == "__main__":
    main()
