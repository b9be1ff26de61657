"""Arbitrary-precision saddle points through the public API, ``replicasym.solve(..., precision=D)``.

    python benchmarks/bench_precision.py [--digits 15,30,50,100]

Two points (see tests/test_precision.py for the independent checks):

* SK in a field, RS, T = 0.5, h = 0.3 (below the AT line: replicon < 0, RS is a bound there);
* spherical pure 3-spin, 1RSB, T = 0.5 < T_s = 0.586, where 1RSB is the stable solution.

For each precision: the wall time of a cold solve (first call in the process at that precision; the
derivation and the generated modules are already loaded by a double-precision warm-up), the
residual, the difference from the double-precision answer and, for SK, from the 100-digit answer.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mpmath

import replicasym as rs

POINTS = (("SK RS, h = 0.3, T = 0.5", lambda: rs.models.sk(h=0.3), "rs", "q"),
          ("spherical p = 3, 1RSB, T = 0.5", lambda: rs.models.spherical(p=3), "1rsb", "q1"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits", default="15,30,50,100")
    args = ap.parse_args()
    digits = [int(x) for x in args.digits.split(",")]
    for label, build, ansatz, name in POINTS:
        model = build()
        t = time.perf_counter()
        double = rs.solve(model, T=0.5, ansatz=ansatz)
        t_double = time.perf_counter() - t
        sols = {}
        print(f"\n{label}: double precision {t_double:.2f} s (incl. derivation and codegen), "
              f"{name} = {double.order_parameters[name]!r}")
        print(f"| digits | time [s] | residual | {name} | abs diff from double | abs diff from {max(digits)} digits |")
        print("|---|---|---|---|---|---|")
        for dg in digits:
            t = time.perf_counter()
            sols[dg] = rs.solve(model, T=0.5, ansatz=ansatz, precision=dg)
            sols[dg].wall = time.perf_counter() - t
        top = sols[max(digits)].order_parameters[name]
        for dg in digits:
            s = sols[dg]
            v = s.order_parameters[name]
            with mpmath.workdps(max(digits) + 5):
                print(f"| {dg} | {s.wall:.2f} | {mpmath.nstr(s.residual, 3)} | {mpmath.nstr(v, min(dg, 30))}"
                      f"{'...' if dg > 30 else ''} | {mpmath.nstr(abs(v - double.order_parameters[name]), 3)} | "
                      f"{mpmath.nstr(abs(v - top), 3)} |")


if __name__ == "__main__":
    main()
