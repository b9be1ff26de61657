"""Benchmark: time vs accuracy for the SK ground-state energy with replica symmetry breaking.

Reference: E_gs = -0.7631667 (full RSB; Crisanti & Rizzo, PRE 65 (2002) 046137; Oppermann,
Schmidt & Sherrington, PRL 98 (2007) 127201).

* ``frsb``     -- :func:`replicasym.solvers.parisi_ising.solve_frsb` with ``k_max`` = 2, 4, 8, 16 (the
  T = 0 Parisi functional on a grid of the cavity field, one convolution per level, exact adjoint
  gradient, continuation in k, quasi-Newton with a finite-difference Hessian seed);
* ``krsb``     -- :func:`~replicasym.solvers.parisi_ising.solve_krsb` for k = 1..6 (same machinery);
* ``baseline`` -- the straightforward k-RSB: the same T = 0 functional with the same closed-form top
  interval, but every lower level integrated by a tensor product of Gauss-Hermite rules (n nodes per
  level, cost n^k), minimised by L-BFGS-B with finite-difference gradients from a fixed generic start
  (no continuation), for k = 1..6 with n chosen so that one evaluation stays below ~3 10^5 points.

Run: ``python benchmarks/bench_sk_ground_state.py``.  Prints wall and CPU times, |E - E_ref| and
ratios, then the cost of ONE evaluation of the functional at the k-RSB optimum on the grid and by
the tensor quadrature.  The machine may be shared: CPU (process) time is the comparable number.
For k >= 3 the fixed-node tensor quadrature is inaccurate where the levels are narrow and the tilts
large, and the minimiser runs into those spurious minima; the table flags them.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import minimize

import replicasym as rs
from replicasym.solvers.parisi_ising import KRSBFunctional, _top_zero_temperature, solve_frsb, solve_krsb

E_REF = -0.7631667


def timed(fn, *args, **kw):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t, time.process_time() - c


def baseline_functional(k: int, nodes: int):
    """The T = 0 k-RSB functional of SK by nested Gauss-Hermite tensor quadrature, as a function of
    (q increments, gamma increments)."""
    z, w = hermegauss(nodes)
    w = w / w.sum()

    def gs(theta):
        dq, dg = theta[:k], theta[k:]
        q = np.cumsum(dq)                       # q_0 .. q_{k-1}
        g = np.cumsum(dg)                       # gamma_1 .. gamma_k
        if q[-1] >= 1.0:
            return 10.0
        var = np.diff(np.concatenate([[0.0], q]))  # xi'(q) = q for SK
        # field on the tensor grid of z_0 .. z_{k-1}
        u = 0.0
        for i in range(k):
            shape = [1] * k
            shape[i] = nodes
            u = u + math.sqrt(max(var[i], 0.0)) * z.reshape(shape)
        psi = _top_zero_temperature(np.ravel(u), 1.0 - q[-1], g[-1])[0].reshape(np.shape(u))
        for i in range(k - 1, 0, -1):           # levels gamma_i over z_i, innermost first
            m = g[i - 1]
            top = psi.max(axis=i, keepdims=True)
            psi = top.squeeze(axis=i) + np.log(np.tensordot(np.exp(m * (psi - top)), w, axes=([i], [0]))) / m
        val = float(psi @ w) if k >= 1 else float(psi)
        G = lambda s: s * s / 2  # q xi' - xi
        ends = np.concatenate([q, [1.0]])
        return val - 0.5 * float(np.sum(g * np.diff([G(v) for v in ends])))
    return gs


def baseline_energy(k: int, nodes: int):
    """Straightforward k-RSB ground state: L-BFGS-B with finite-difference gradients on the
    tensor-quadrature functional, from a fixed generic start."""
    gs = baseline_functional(k, nodes)
    start = np.concatenate([np.full(k, 0.9 / k), np.diff(np.concatenate([[0.0], np.linspace(0.5, 3.0 * k, k)]))])
    bounds = [(1e-6, 1.0)] * k + [(1e-6, None)] * k
    res = minimize(gs, start, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 500, "ftol": 1e-14, "gtol": 1e-9})
    return -res.fun


def main():
    rows = []
    model = rs.models.sk()
    solve_krsb(model, np.inf, 1)   # warm-up (engine site function, lambdify)
    for kmax in (2, 4, 8, 16):
        s, wall, cpu = timed(solve_frsb, model, np.inf, k_max=kmax)
        rows.append(("frsb", kmax, s.energy, wall, cpu))
    sols = {}
    for k in range(1, 7):
        s, wall, cpu = timed(solve_krsb, model, np.inf, k)
        sols[k] = s
        rows.append(("krsb", k, s.energy, wall, cpu))
    nodes = {1: 80, 2: 60, 3: 40, 4: 20, 5: 12, 6: 8}
    for k in range(1, 7):
        e, wall, cpu = timed(baseline_energy, k, nodes[k])
        rows.append((f"baseline (GH n={nodes[k]})", k, e, wall, cpu))
    print(f"SK ground state, reference E_gs = {E_REF}")
    print(f"{'method':<24}{'k':>4}{'E_gs':>16}{'|E - E_ref|':>14}{'wall [s]':>10}{'CPU [s]':>10}")
    for name, k, e, wall, cpu in rows:
        flag = "  <- spurious minimum of the quadrature" if abs(e - E_REF) > 1e-2 else ""
        print(f"{name:<24}{k:>4}{e:>16.10f}{abs(e - E_REF):>14.2e}{wall:>10.2f}{cpu:>10.2f}{flag}")
    print("\nratios at equal k (baseline / krsb): CPU time, error")
    kr = {k: (e, cpu) for name, k, e, _, cpu in rows if name == "krsb"}
    for name, k, e, _, cpu in rows:
        if name.startswith("baseline"):
            ek, ck = kr[k]
            print(f"  k = {k}: time x{cpu / ck:8.1f}   error x{abs(e - E_REF) / max(abs(ek - E_REF), 1e-12):10.1f}")
    best_base = min((abs(e - E_REF), cpu, k) for name, k, e, _, cpu in rows if name.startswith("baseline"))
    fast = min((cpu, k) for name, k, e, _, cpu in rows if name == "frsb" and abs(e - E_REF) <= best_base[0])
    print(f"best baseline accuracy {best_base[0]:.2e} (k = {best_base[2]}, {best_base[1]:.2f} s CPU); "
          f"frsb reaches it at k_max = {fast[1]} in {fast[0]:.2f} s CPU")
    f16 = next(r for r in rows if r[0] == "frsb" and r[1] == 16)
    print(f"frsb k_max = 16: |E - E_ref| = {abs(f16[2] - E_REF):.1e} in {f16[4]:.2f} s CPU ({f16[3]:.2f} s wall)")

    # one evaluation of the functional at the k-RSB optimum: grid cascade vs tensor quadrature
    print("\none evaluation at the k-RSB optimum (value, gradient excluded): grid vs Gauss-Hermite")
    print(f"{'k':>3}{'grid [ms]':>11}{'GH n':>6}{'GH [ms]':>10}{'|GH - grid|':>14}")
    for k in range(1, 7):
        s = sols[k]
        q = np.array([s.order_parameters[f"q{i}"] for i in range(k)])
        g = np.array([s.order_parameters[f"y{i + 1}"] for i in range(k)])
        F = KRSBFunctional(model, np.inf, k, 0.02, 10.0)
        theta = np.concatenate([np.diff(np.concatenate([[0.0], q])), np.diff(np.concatenate([[0.0], g]))])
        tg = min(timed(F.evaluate, q, g, grad=False)[1] for _ in range(3))
        gs = baseline_functional(k, nodes[k])
        tb = min(timed(gs, theta)[1] for _ in range(3))
        print(f"{k:>3}{1e3 * tg:>11.2f}{nodes[k]:>6}{1e3 * tb:>10.2f}"
              f"{abs(gs(theta) - F.evaluate(q, g, grad=False).value):>14.2e}")


if __name__ == "__main__":
    main()
