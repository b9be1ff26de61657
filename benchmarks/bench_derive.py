"""Cost of the symbolic derivation and of code generation as the ansatz or the network grows.

    python benchmarks/bench_derive.py [--kmax-spherical 12] [--kmax-sk 4] [--depths 1,2,5,10,20,50]
                                      [--finite-width tanh,linear] [--limit 300]

Each size runs in a fresh subprocess (cold: no derivation memo, no imported module), timed with
``time.perf_counter``:

* ``derive``: ``replicasym.derive(model, ansatz)`` (the symbolic k-RSB limit is lifted for the
  benchmark: ``replicasym.derive.MAX_SYMBOLIC_K``);
* ``numpy`` / ``mpmath``: ``replicasym.codegen.render`` of each backend;
* ``load 1st`` / ``load 2nd``: ``replicasym.codegen.load`` (numpy) into an empty cache, then again:
  the second call renders again (the cache key is the hash of the rendered source) and imports the
  verified cached file;
* ``solve 2nd``: a second ``replicasym.solve`` at the same point in the same process (derivation and
  generated module memoised), RS and 1RSB only.

Models: spherical pure 3-spin with ``krsb:K``, SK with ``krsb:K``, and the random MLP Hamiltonian in
the GP limit (tanh and ReLU, RS) against its depth L.  A size that exceeds ``--limit`` seconds is
recorded as such and ends its series.  At the end a power law t = a K^b is fitted to derive + numpy +
mpmath over the sizes >= 2.

The finite-width MLP (alpha = 1 in every layer, RS, T = 0.5) has no template module: its derivation
is one generic layer block plus the layer-indexed network action (``derive``), the block's equations
are compiled to numpy once (``compile``, :func:`replicasym.solvers.zipper.compile_equations`) and the
zipper solves the depth-L profile (``solve 1st`` includes the replicon's compilation, ``solve 2nd``
is the same point again: the numerical cost, linear in L).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, tempfile, time
sys.path.insert(0, {root!r})
import replicasym as rs
from replicasym import codegen
sys.modules["replicasym.derive"].MAX_SYMBOLIC_K = 100
kind, size = {kind!r}, {size!r}
if kind == "spherical":
    model, ansatz, T = rs.models.spherical(p=3), f"krsb:{{size}}", 0.5
elif kind == "sk":
    model, ansatz, T = rs.models.sk(), f"krsb:{{size}}", 0.5
elif kind.startswith("finite-"):
    from replicasym.symbolic.layered import layered_derivation
    from replicasym.solvers.zipper import compile_equations
    model = rs.models.mlp(activation=kind.split("-")[1], depth=size, alpha=1.0)
    out = {{}}
    t = time.perf_counter(); d = layered_derivation(model); out["derive"] = time.perf_counter() - t
    t = time.perf_counter(); compile_equations(d.generic); out["compile"] = time.perf_counter() - t
    for key in ("solve1", "solve2"):
        t = time.perf_counter(); s = rs.solve(model, T=0.5, ansatz="rs"); out[key] = time.perf_counter() - t
    out["residual"] = s.residual
    print(json.dumps(out)); sys.exit(0)
else:
    model, ansatz, T = rs.models.mlp(activation=kind.split("-")[1], depth=size), "rs", 0.5
out = {{}}
t = time.perf_counter(); d = rs.derive(model, ansatz); out["derive"] = time.perf_counter() - t
for backend in ("numpy", "mpmath"):
    t = time.perf_counter(); src = codegen.render(d, backend); out[backend] = time.perf_counter() - t
    out[backend + "_lines"] = len(src.splitlines())
with tempfile.TemporaryDirectory() as cache:
    t = time.perf_counter(); codegen.load(d, "numpy", cache); out["load1"] = time.perf_counter() - t
    t = time.perf_counter(); codegen.load(d, "numpy", cache); out["load2"] = time.perf_counter() - t
if ansatz in ("rs", "krsb:1"):
    a = "rs" if ansatz == "rs" else "1rsb"
    rs.solve(model, T=T, ansatz=a)
    t = time.perf_counter(); rs.solve(model, T=T, ansatz=a); out["solve2"] = time.perf_counter() - t
print(json.dumps(out))
"""


def run(kind: str, size: int, limit: float) -> dict | None:
    code = CHILD.format(root=str(ROOT), kind=kind, size=size)
    t = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} {size}: {proc.stderr.strip().splitlines()[-1]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - t
    return res


def series(kind: str, sizes, limit: float, label: str) -> list[tuple[int, dict]]:
    print(f"\n{label}")
    print(f"{'size':>5} {'derive':>8} {'numpy':>8} {'mpmath':>8} {'lines':>6} {'load 1st':>9} {'load 2nd':>9} "
          f"{'solve 2nd':>10}")
    rows = []
    for s in sizes:
        res = run(kind, s, limit)
        if res is None:
            print(f"{s:>5}  exceeds {limit:g} s (process wall clock): the series stops here")
            break
        rows.append((s, res))
        solve2 = f"{1e3 * res['solve2']:8.1f}ms" if "solve2" in res else f"{'-':>10}"
        print(f"{s:>5} {res['derive']:8.2f} {res['numpy']:8.2f} {res['mpmath']:8.2f} {res['numpy_lines']:>6} "
              f"{res['load1']:9.2f} {res['load2']:9.2f} {solve2}", flush=True)
    pts = [(s, r["derive"] + r["numpy"] + r["mpmath"]) for s, r in rows if s >= 2]
    if len(pts) >= 2:
        b, loga = np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)
        print(f"fit (sizes >= 2): derive + codegen ~ {np.exp(loga):.3g} * size^{b:.2f} s")
    return rows


def finite_width_series(act: str, depths, limit: float) -> None:
    print(f"\nfinite-width MLP, {act}, alpha = 1, rs, T = 0.5 (time [s] vs depth L)")
    print(f"{'L':>5} {'derive':>8} {'compile':>8} {'solve 1st':>10} {'solve 2nd':>10} {'residual':>10}")
    rows = []
    for L in depths:
        res = run(f"finite-{act}", L, limit)
        if res is None:
            print(f"{L:>5}  exceeds {limit:g} s (process wall clock): the series stops here")
            break
        rows.append((L, res))
        print(f"{L:>5} {res['derive']:8.2f} {res['compile']:8.2f} {res['solve1']:10.2f} {res['solve2']:10.2f} "
              f"{res['residual']:10.1e}", flush=True)
    for key, what in (("derive", "derive + compile"), ("solve2", "solve 2nd")):
        pts = [(L, r["derive"] + r["compile"] if key == "derive" else r[key]) for L, r in rows if L >= 2]
        if len(pts) >= 2:
            b, loga = np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)
            print(f"fit (L >= 2): {what} ~ {np.exp(loga):.3g} * L^{b:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kmax-spherical", type=int, default=12)
    ap.add_argument("--kmax-sk", type=int, default=4)
    ap.add_argument("--depths", default="1,2,5,10,20,50")
    ap.add_argument("--activations", default="tanh,relu")
    ap.add_argument("--finite-width", default="tanh,linear", help="activations of the finite-width series")
    ap.add_argument("--limit", type=float, default=300.0, help="seconds per size (default 300)")
    args = ap.parse_args()
    ks = [k for k in (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20) if k <= args.kmax_spherical]
    series("spherical", ks, args.limit, "spherical p = 3, krsb:K (time [s] vs K)")
    series("sk", [k for k in range(1, args.kmax_sk + 1)], args.limit, "SK, krsb:K (time [s] vs K)")
    depths = [int(x) for x in args.depths.split(",")]
    for act in filter(None, args.activations.split(",")):
        series(f"mlp-{act}", depths, args.limit, f"MLP GP limit, {act}, rs (time [s] vs depth L)")
    for act in filter(None, args.finite_width.split(",")):
        finite_width_series(act, depths, args.limit)


if __name__ == "__main__":
    main()
