"""Benchmark: the jax backend (on the CPU) against the numpy backend of the same generated solver.

The SK RS saddle point q = E_z tanh^2(beta (sqrt(q) z + h)) on a (T, h) grid, T in [0.2, 1.5] x
h in [0.1, 1.0], with the modules that ``replicasym.codegen`` renders from the engine's derivation for
``backend="numpy"`` and ``backend="jax"`` (same quadrature: 1601 trapezoidal nodes on [-10, 10]; same
tolerance 1e-12): ``newton`` on the whole grid from q = 0.5, and ``sweep`` along T.  jax compiles each
kernel per input shape on first use (``jax.jit``), so the jax calls are timed twice: the first call
(compilation included) and the second (compiled).  Prints wall and CPU seconds (XLA may run on
several threads; CPU seconds add them up), ratios numpy / jax and max |Delta q|.

Run: ``python benchmarks/bench_backends.py`` (needs jax: ``pip install 'replicasym[jax]'``; CPU only
here -- the cupy backend needs a CUDA GPU, which this project does not have).
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import replicasym as rs
import replicasym.codegen as cg
from replicasym.errors import ParameterError

TOL = 1e-12
Q0 = 0.5


def timed(fn):
    """(wall seconds, CPU seconds of this process -- all its threads --, result)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100x100,300x300", help="grids n_T x n_h, comma separated")
    args = ap.parse_args(argv)
    d = rs.derive(rs.models.sk(h=0.5), ansatz="rs")
    with tempfile.TemporaryDirectory() as cache:
        try:
            jm = cg.load(d, "jax", cache)
        except ParameterError as exc:
            print(f"bench_backends: {exc}", file=sys.stderr)
            return 2
        import jax

        nm = cg.load(d, "numpy", cache)
        print(f"python {platform.python_version()}, numpy {np.__version__}, jax {jax.__version__} "
              f"({jax.devices()[0].platform}); numpy module CHUNK_ELEMENTS {nm.CHUNK_ELEMENTS}, "
              f"jax module CHUNK_ELEMENTS {jm.CHUNK_ELEMENTS}")
        ok = True
        for size in args.sizes.split(","):
            n_t, n_h = (int(v) for v in size.split("x"))
            T, h = np.meshgrid(np.linspace(0.2, 1.5, n_t), np.linspace(0.1, 1.0, n_h), indexing="ij")
            params = [1.0 / T, h]
            print(f"\n{T.size} points ({n_t} x {n_h})")
            for name in ("newton", "sweep"):
                def call(m, name=name, params=params):
                    if name == "newton":
                        return m.newton([np.full(params[0].shape, Q0)], params, tol=TOL)
                    return m.sweep([Q0], params, axis=0, tol=TOL)

                t_np, c_np, (q_np, ok_np, _, _) = timed(lambda: call(nm))
                t_first, _, _ = timed(lambda: call(jm))
                t_jax, c_jax, (q_jax, ok_jax, _, _) = timed(lambda: call(jm))
                dq = float(np.max(np.abs(np.asarray(q_jax[0]) - q_np[0])))
                conv = bool(ok_np.all()) and bool(np.all(np.asarray(ok_jax)))
                ok &= conv and dq < 1e-10
                print(f"  {name:7s} wall: numpy {t_np:7.3f} s, jax first call {t_first:7.3f} s, compiled "
                      f"{t_jax:7.3f} s, numpy / jax = {t_np / t_jax:5.2f}x | CPU: numpy {c_np:7.3f} s, "
                      f"jax {c_jax:7.3f} s, numpy / jax = {c_np / c_jax:5.2f}x | max |dq| {dq:.1e}, "
                      f"all converged {conv}")
    print("\nagreement:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
