"""Benchmark: the generated numpy RS solver for SK against two baselines.

Solves the SK replica-symmetric saddle point at h = 0 on a grid of 10^4 temperatures
T in [0.2, 0.95] with

* ``generated`` -- ``newton`` of the module produced by ``replicasym.codegen`` (batched damped Newton);
* ``reference`` -- a hand-written vectorised Newton on q = E tanh^2(beta sqrt(q) z) with the SAME
  quadrature rule (truncated trapezoidal rule, 1601 nodes on [-10, 10], written independently here);
* ``fsolve``    -- ``sympy.lambdify`` of the integrand + ``scipy.optimize.fsolve`` point by point,
  same quadrature rule (timed on a 200-point subsample and scaled to the grid).

Run: ``python benchmarks/bench_rs_solver.py``.  Prints times and ratios and checks that the three agree.
"""
from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import scipy.optimize
import sympy as sp

import replicasym.codegen as cg
from replicasym.derivation import Derivation
from replicasym.symbolic.gaussian import E

NPOINTS = 10_000
NSUB = 200
NODES = 1601
HALF_WIDTH = 10.0
Q0 = 0.9


def sk_rs_derivation():
    """SK RS: Phi = beta^2/4 (1-q)^2 + E_z log 2cosh(beta sqrt(q) z + beta h) (built by hand, so the
    benchmark does not depend on the derivation engine).  The residual is the fixed-point form
    q - E tanh^2(...) that the engine produces: dPhi/dq equals beta^2/2 times it only after Stein's
    lemma, which quadrature sums satisfy only up to quadrature error."""
    beta, h, q, z = sp.symbols("beta h q z", real=True)
    phi = beta**2 / 4 * (1 - q) ** 2 + E(sp.log(2 * sp.cosh(beta * sp.sqrt(q) * z + beta * h)), z)
    g = q - E(sp.tanh(beta * sp.sqrt(q) * z + beta * h) ** 2, z)
    return Derivation(
        model=SimpleNamespace(name="sk"), ansatz="rs", beta=beta, params=(h,), param_values={},
        order_parameters=(q,), bounds={q: (0, 1)}, free_entropy=phi, equations=(sp.Eq(g, 0),),
        residuals=(g,), jacobian=sp.Matrix([[sp.diff(g, q)]]), energy=-sp.diff(phi, beta),
        replicon=1 - beta**2 * E(sp.cosh(beta * sp.sqrt(q) * z + beta * h) ** -4, z),
        zero_temperature=None)


def trapezoid(nodes=NODES, half_width=HALF_WIDTH):
    """Trapezoidal nodes z_k = k h on [-L, L] and weights h phi(z_k) normalised to 1."""
    m = nodes // 2
    x = np.arange(-m, m + 1) * (half_width / m)
    w = np.exp(-0.5 * x * x)
    return x, w / w.sum()


def reference_newton(beta, nodes=NODES, tol=1e-13, maxiter=100):
    """Hand-written vectorised Newton on F(q) = q - E tanh^2(beta sqrt(q) z) = 0."""
    x, w = trapezoid(nodes)
    b = beta[:, None]
    q = np.full(beta.shape, Q0)
    for _ in range(maxiter):
        s = np.sqrt(q)[:, None]
        t = np.tanh(b * s * x)
        F = q - (t * t) @ w
        # dF/dq = 1 - E[2 t (1 - t^2) beta z / (2 sqrt q)]
        dF = 1.0 - (t * (1.0 - t * t) * b * x / s) @ w
        step = F / dF
        q = np.clip(q - step, 1e-12, 1 - 1e-15)
        if np.max(np.abs(F)) < tol:
            break
    return q


def fsolve_loop(beta):
    """Per point: lambdify the integrand, trapezoidal sum, scipy.optimize.fsolve."""
    q, b, z = sp.symbols("q beta z")
    integrand = sp.lambdify((q, b, z), sp.tanh(b * sp.sqrt(q) * z) ** 2, "numpy")
    x, w = trapezoid(NODES)
    out = np.empty_like(beta)
    with warnings.catch_warnings():  # fsolve: "not making good progress" once at machine precision
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, bi in enumerate(beta):
            sol = scipy.optimize.fsolve(lambda qq, bi=bi: qq - w @ integrand(qq[0], bi, x), [Q0], xtol=1e-12)
            out[i] = sol[0]
    return out


def best_of(fn, repeat=3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> int:
    T = np.linspace(0.2, 0.95, NPOINTS)
    beta = 1.0 / T
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        mod = cg.load(sk_rs_derivation(), "numpy", cache)
        t_gen = time.perf_counter() - t0
        mod.set_quadrature(NODES, HALF_WIDTH)
        params = (beta, 0.0)

        t_g, (theta, ok, res, its) = best_of(lambda: mod.newton((np.full_like(beta, Q0),), params))
        q_gen = theta[0]
        t_r, q_ref = best_of(lambda: reference_newton(beta))
        sub = np.linspace(0, NPOINTS - 1, NSUB).astype(int)
        t_f_sub, q_fs = best_of(lambda: fsolve_loop(beta[sub]), repeat=1)
        t_f = t_f_sub * NPOINTS / NSUB

    d_ref = np.max(np.abs(q_gen - q_ref))
    d_fs = np.max(np.abs(q_gen[sub] - q_fs))
    print(f"SK RS, h=0, {NPOINTS} temperatures T in [0.2, 0.95], {NODES} trapezoidal nodes on [-{HALF_WIDTH:g}, {HALF_WIDTH:g}]")
    print(f"  render + load generated module : {t_gen:8.3f} s (one-off)")
    print(f"  generated newton (batched)     : {t_g:8.4f} s  converged {ok.sum()}/{ok.size}, "
          f"max residual {res.max():.1e}, max iterations {its.max()}")
    print(f"  hand-written numpy reference   : {t_r:8.4f} s  ratio generated/reference = {t_g / t_r:6.2f}")
    print(f"  lambdify + fsolve loop (scaled): {t_f:8.3f} s  ({NSUB} points took {t_f_sub:.3f} s)"
          f"  speed-up of generated = {t_f / t_g:8.1f}x")
    print(f"  max |q_generated - q_reference| = {d_ref:.2e}")
    print(f"  max |q_generated - q_fsolve|    = {d_fs:.2e}  (on the {NSUB}-point subsample)")
    agree = ok.all() and d_ref < 1e-10 and d_fs < 1e-8
    print("  agreement:", "OK" if agree else "FAILED")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
