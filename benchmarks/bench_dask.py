"""Temperature scan: serial against a Dask LocalCluster with 1 and 2 worker processes.

    python benchmarks/bench_dask.py [--model sk --ansatz 1rsb --T 0.3:1.2:24 --chunk-size 3]

Needs ``pip install 'replicasym[dask]'``.  The three runs use the same chunks (continuation in T
inside each chunk), so their numbers must be identical; the script checks it.  Wall-clock times with
``time.perf_counter``; the Dask times include starting and closing the local cluster, whose cost is
also measured alone.  The machine's load average is printed: on a shared machine the 2-worker
ratio is bounded by the free cores, not by Dask.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import replicasym as rs
from replicasym.distributed import map_chunks
from replicasym.solvers.scan import scan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="sk")
    ap.add_argument("--ansatz", default="1rsb")
    ap.add_argument("--T", default="0.3:1.2:24", metavar="START:STOP:NUM")
    ap.add_argument("--chunk-size", type=int, default=3)
    args = ap.parse_args()
    a, b, n = args.T.split(":")
    temps = list(np.linspace(float(a), float(b), int(n)))
    model = rs.models.build(args.model)
    t = time.perf_counter()
    map_chunks(abs, [(-1,), (-2,)], workers=2)  # start, run two trivial tasks, close
    startup = time.perf_counter() - t

    rows, results = [], {}
    for label, kwargs in (("serial", {}), ("dask, 1 worker", {"scheduler": "dask", "workers": 1}),
                          ("dask, 2 workers", {"scheduler": "dask", "workers": 2})):
        load = os.getloadavg()[0]
        t = time.perf_counter()
        sols = scan(model, args.ansatz, temps, chunk_size=args.chunk_size, **kwargs)
        rows.append((label, time.perf_counter() - t, load))
        results[label] = [s.as_dict() for s in sols]
    identical = all(r == results["serial"] for r in results.values())
    print(f"{args.model} {args.ansatz}: {len(temps)} temperatures {args.T}, chunks of {args.chunk_size} "
          f"({-(-len(temps) // args.chunk_size)} chunks); local cluster start + close alone: {startup:.1f} s")
    print("| run | wall [s] | ratio to serial | load average at start |\n|---|---|---|---|")
    serial = rows[0][1]
    for label, wall, load in rows:
        print(f"| {label} | {wall:.1f} | {serial / wall:.2f} | {load:.1f} |")
    print(f"dask 1 -> 2 workers: {rows[1][1] / rows[2][1]:.2f}x; results identical to serial: {identical}")


if __name__ == "__main__":
    main()
