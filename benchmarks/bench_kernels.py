"""Benchmark: xi, xi', xi'' of a 3-layer tanh network (C_W = 1.5, C_b = 0.1) on 10^6 values of q.

Vectorized deep kernel map (replicasym.kernels.DeepKernel) vs a per-point scipy.integrate.dblquad
loop (each layer's kernel E[tanh tanh] and its Price derivatives E[tanh' tanh'], E[tanh'' tanh''] by
dblquad, chained through the layers) on a small subsample, scaled to 10^6 points.

    python benchmarks/bench_kernels.py [--subsample 5]    (after pip install ., or with PYTHONPATH=.)
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.integrate import dblquad

from replicasym.kernels import DeepKernel

L, C_W, C_b, N = 3, 1.5, 0.1, 10**6


def dblquad_kernel(f, g, s, c):
    """E[f(u) g(v)], Var = s, Cov = c, by dblquad over the standard normals (z1, z2)."""
    r = math.sqrt(max(s - c * c / s, 0.0))

    def integrand(z2, z1):
        return math.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * math.pi) * f(math.sqrt(s) * z1) * g(c / math.sqrt(s) * z1 + r * z2)

    return dblquad(integrand, -9, 9, -9, 9, epsabs=1e-10, epsrel=1e-10)[0]


def xi_dblquad(q, variances):
    t = math.tanh
    d1 = lambda x: 1 - math.tanh(x) ** 2
    d2 = lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2)
    K, K1, K2 = C_b + C_W * q, C_W, 0.0
    for l in range(L):
        s = variances[l]
        g0, g1, g2 = (dblquad_kernel(f, f, s, K) for f in (t, d1, d2))
        K, K1, K2 = C_b + C_W * g0, C_W * g1 * K1, C_W * (g2 * K1**2 + g1 * K2)
    return K, K1, K2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subsample", type=int, default=5)
    args = ap.parse_args()
    q = np.random.default_rng(0).uniform(-1, 1, N)
    t0 = time.perf_counter()
    dk = DeepKernel("tanh", L, C_W, C_b)
    dk(q[:10], 2)  # builds the layer tables
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    xi = dk(q, 2)
    t_vec = time.perf_counter() - t0
    sub = q[: args.subsample]
    t0 = time.perf_counter()
    ref = np.array([xi_dblquad(x, dk.variances) for x in sub]).T
    t_loop = (time.perf_counter() - t0) / sub.size * N
    err = np.max(np.abs(ref - xi[:, : sub.size]))
    print(f"vectorized: setup {t_setup:.3f} s, 10^6 points (xi, xi', xi'') {t_vec:.3f} s")
    print(f"dblquad loop: {t_loop / N * 1e3:.1f} ms/point over {sub.size} points -> {t_loop:.0f} s for 10^6")
    print(f"speed-up ratio: {t_loop / t_vec:.3g}x; max |difference| on the subsample: {err:.2e}")


if __name__ == "__main__":
    main()
