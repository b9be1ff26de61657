r"""Reproduce the infinite-width claims of Winer & Hanin (seed 000) and write ``derivations/mlp.md``.

    python -m replicasym.studies.mlp_table -o derivations        # ~30 min on 2 cores

For each activation x depth x C_W of the table it runs :func:`replicasym.phase` (RS and 1RSB, the
replicon, T_AT, T_1RSB, the T = 0 Parisi choice; full RSB where the engine supports it) and
:func:`replicasym.solvers.diagnostics.covariance_diagnostics`; it draws s(E) per depth and the
phase diagrams in (T, depth) and (T, C_W) (matplotlib).  Not part of the default test run (it is a
study, regenerated on demand); the numbers it prints are the ones the page shows.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import replicasym as rs
from replicasym.fileio import atomic_write
from replicasym.solvers.diagnostics import covariance_diagnostics
from replicasym.solvers.entropy import entropy_curve
from replicasym.studies.page import pyplot

__all__ = ["ROWS", "main", "run"]

#: (activation, depth, C_W, extra model parameters) -- C_W = 1 for the saturating activations,
#: 2 (He / critical) for ReLU, shaped networks at their depth and in the continuum
ROWS = [
    ("linear", 1, 1.0, {}), ("linear", 3, 2.0, {}),
    *[("tanh", L, 1.0, {}) for L in (1, 2, 3, 5, 10)],
    ("tanh", 1, 2.0, {}), ("tanh", 1, 4.0, {}),
    *[("relu", L, 2.0, {}) for L in (1, 2, 3)],
    *[("sin", L, 1.0, {}) for L in (1, 2, 3)],
    *[("sin", L, 2.0, {}) for L in (1, 2, 3)], ("sin", 1, 4.0, {}),
    *[("shaped_relu", L, 1.0, {"shape": 1.0}) for L in (5, 10)],
    ("shaped_relu", None, None, {"shape": 1.0, "continuum": True}),
    *[("shaped_tanh", L, 1.0, {"shape": 1.0}) for L in (5, 10)],
    ("shaped_tanh", None, None, {"shape": 1.0, "continuum": True}),
]


def _model(act, L, cw, extra):
    if extra.get("continuum"):
        return rs.models.mlp(act, **extra)
    return rs.models.mlp(act, depth=L, C_W=cw, **extra)


def _fmt(x, digits=6) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}"


def run(rows=ROWS, log=print) -> list[dict]:
    out = []
    for act, L, cw, extra in rows:
        t0 = time.perf_counter()
        m = _model(act, L, cw, extra)
        diag = covariance_diagnostics(m)
        try:
            ph = rs.phase(m)
            err = None
        except Exception as exc:  # noqa: BLE001 - a study reports failures in the table
            ph, err = {}, f"{type(exc).__name__}: {exc}"
        row = {"activation": act, "depth": "∞ (continuum)" if extra.get("continuum") else L,
               "C_W": cw, **diag, "E_gs": ph.get("E_gs"), "E_gs_ansatz": ph.get("E_gs_ansatz"),
               "T_AT": ph.get("T_AT"), "T_1RSB": ph.get("T_1RSB"),
               "phase": ph.get("zero_temperature_phase"), "error": err,
               "seconds": time.perf_counter() - t0}
        log(f"{act:12s} L={row['depth']!s:14s} C_W={cw!s:5s} E_gs={_fmt(row['E_gs'])} ({row['E_gs_ansatz']}) "
            f"T_AT={_fmt(row['T_AT'])} T_1RSB={_fmt(row['T_1RSB'])} phase={row['phase']} "
            f"[{row['seconds']:.0f} s]{'  ' + err if err else ''}")
        out.append(row)
    return out


def _save(plt, fig, directory: str, name: str) -> str:
    """Save ``fig`` atomically as ``directory/figures/name``; returns the path."""
    os.makedirs(os.path.join(directory, "figures"), exist_ok=True)
    path = os.path.join(directory, "figures", name)
    fig.tight_layout()
    fig.savefig(path + ".tmp.png", dpi=110)
    os.replace(path + ".tmp.png", path)
    plt.close(fig)
    return path


def _figures(directory: str, log=print) -> list[str]:
    """s(E) per depth (tanh, C_W = 1, RS), by the Legendre route."""
    plt = pyplot(log)
    if plt is None:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    for L in (1, 2, 3, 5, 10):
        m = rs.models.mlp("tanh", depth=L)
        e_gs = rs.solve(m, T=0, ansatz="rs").energy
        E = np.linspace(float(e_gs) * 0.97, -0.01 * abs(float(e_gs)), 25)
        c = entropy_curve(m, E)
        ax.plot(c["E"], c["s_legendre"], label=f"L = {L}")
    ax.set_xlabel("E (energy per input dimension)")
    ax.set_ylabel("s(E)")
    ax.set_title("tanh MLP, C_W = 1, GP limit (RS)")
    ax.legend()
    return [_save(plt, fig, directory, "mlp_entropy_tanh.png")]


COMMENTARY = """
## What the table says, and how it compares with the abstract

The abstract of Winer & Hanin says: sin gives full RSB; shallow tanh and ReLU networks are RS; deep
shaped networks are RS. In the infinite-width (GP) limit with the conventions above (C_b = 0, output
variance C_W), the engine finds:

- **Linear** networks are RS at every temperature, with E_gs = −C_W^{(L+1)/2} and
  s(E) = ½ log(1 − E²/ξ₁), derived in closed form by the engine (tests `test_linear_*`).
- **tanh at C_W = 1** is RS down to T = 0 for L = 1, 2 (ξ''(1) < ξ'(1)); deeper networks approach
  marginality (ξ''(1)/ξ'(1) = 0.65, 0.88, 1.004 for L = 1, 2, 3) and break RS only very close to
  T = 0 (below the T = 0.05 end of the T_AT scan) with a tiny energy gain. So "shallow tanh is RS"
  agrees. At C_W = 2, 4 tanh breaks RS below T_AT ≈ 0.08 and 0.32 and the T = 0 phase is full RSB.
- **ReLU** is RS at high temperature but never down to T = 0: ξ''(q) ~ (1 − q)^{-1/2} makes the RS
  replicon fail below T_AT (0.080, 0.245, 0.345 for L = 1, 2, 3 at C_W = 2), and since ξ''^{-1/2} is
  concave the low-temperature phase is full RSB (reference §4 item 5). "Shallow ReLU is RS" is true
  above T_AT only.
- **sin**: at C_W = 1 the GP-limit networks are RS (L = 1, 2) or break RS only near T = 0 (L = 3);
  at C_W ≥ 2 RS breaks at T_AT ≈ 0.5–0.9, but ξ''^{-1/2} is convex, so by Talagrand's criterion the
  Parisi measure has at most two atoms: the phase is **1RSB, not full RSB**, and the engine's full-RSB
  solver confirms it (the Parisi choice is 1RSB with a positive replicon). The abstract's "sin → full
  RSB" is therefore not reproduced in the GP limit with these variances. Likely reasons (reference
  §3.5, §7.2): the paper works at finite width α (issue 7, the layered action), uses other variances
  or biases, or diagnoses FRSB from k-RSB fits in the temperature range it simulated.
- **Shaped** networks: shaped tanh is linear in the depth continuum (its O(L^{-1/2}) shaping vanishes,
  ψ = 0), hence RS, as the abstract says. Shaped ReLU keeps ξ''(1) = ∞ at every depth and in the
  continuum, so its RS phase ends at a (low) T_AT; "deep shaped MLPs are RS" holds for the odd
  (tanh-like) shaping and above T_AT for ReLU-type shaping.

Temperatures: T_AT is the highest T where the RS replicon changes sign (a scan down to T = 0.05);
T_1RSB is the highest T at which the Parisi choice between RS and 1RSB is 1RSB (a scan down to
T = 0.02); both equal within the scan resolution when the transition is continuous, as here. A dash
means no transition in the scanned range. The T = 0 phase is the Parisi choice among RS, 1RSB and full
RSB (`solve --ansatz auto --T 0`).
"""


def phase_figures(directory: str, rows: list[dict], log=print) -> list[str]:
    """T_AT against depth (per activation and C_W) and against C_W (tanh, L = 1), from the table rows;
    x(q) of the ReLU network's full-RSB phase."""
    plt = pyplot(log)
    if plt is None:
        return []
    from replicasym.plotting import plot_parisi
    out = []

    def save(fig, name):
        out.append(_save(plt, fig, directory, name))

    fig, ax = plt.subplots(figsize=(6, 4))
    for act, cw in (("relu", 2.0), ("sin", 2.0), ("tanh", 1.0), ("sin", 1.0)):
        pts = sorted((r["depth"], r["T_AT"] or 0.0) for r in rows
                     if r["activation"] == act and r["C_W"] == cw and isinstance(r["depth"], int))
        if pts:
            ax.plot(*zip(*pts), "o-", label=f"{act}, C_W = {cw:g}")
    ax.set_xlabel("depth L")
    ax.set_ylabel("T_AT (RS unstable below; 0: RS down to T = 0.05)")
    ax.set_title("GP-limit MLP: RS/RSB phase boundary in (T, depth)")
    ax.legend()
    save(fig, "mlp_phase_T_depth.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    for act in ("tanh", "sin"):
        pts = sorted((r["C_W"], r["T_AT"] or 0.0) for r in rows if r["activation"] == act and r["depth"] == 1)
        if pts:
            ax.plot(*zip(*pts), "o-", label=f"{act}, L = 1")
    ax.set_xlabel("C_W")
    ax.set_ylabel("T_AT")
    ax.set_title("GP-limit MLP: RS/RSB phase boundary in (T, C_W)")
    ax.legend()
    save(fig, "mlp_phase_T_CW.png")
    sol = rs.solve(rs.models.mlp("relu", depth=1, C_W=2.0), T=0.05, ansatz="frsb")
    fig = plot_parisi(sol)
    fig.suptitle("ReLU MLP, L = 1, C_W = 2, T = 0.05 (GP limit): x(q) and P(q)")
    save(fig, "mlp_relu_xq.png")
    return out


def write(directory: str, rows: list[dict], figures: list[str]) -> str:
    lines = ["# Random MLP Hamiltonian, infinite width (Winer & Hanin, seed 000)", "",
             "Generated by `python -m replicasym.studies.mlp_table -o derivations` (do not edit).",
             "Conventions: DESIGN.md (x on the sphere of radius √N, H = √N·output, W ~ N(0, C_W/fan-in),",
             "C_b = 0, energies per N). In the GP limit the model is the spherical mixed p-spin model with",
             "ξ = K^(L+1) (see `derivations/` for the engine's derivation of any model × ansatz:",
             "`replicasym derive mlp --param activation=tanh --ansatz rs --markdown`).", "",
             "| activation | L | C_W | ξ'(0) | ξ'(1) | ξ''(1) | ξ''(1) ≤ ξ'(1) | ξ''^{-1/2} | E_gs | ansatz | T_AT | T_1RSB | T = 0 phase |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join([
            r["activation"], str(r["depth"]), _fmt(r["C_W"]), _fmt(r["xi1_0"], 5), _fmt(r["xi1_1"], 5),
            _fmt(r["xi2_1"], 5), "yes" if r["rs_locally_stable_T0"] else "no", r["xi2_inv_sqrt_shape"],
            _fmt(r["E_gs"], 8), str(r["E_gs_ansatz"]), _fmt(r["T_AT"], 5), _fmt(r["T_1RSB"], 5),
            str(r["phase"]) + (f" ({r['error']})" if r["error"] else "")]) + " |")
    lines += [COMMENTARY, *[f"![{os.path.basename(f)}](figures/{os.path.basename(f)})" for f in figures], ""]
    path = os.path.join(directory, "mlp.md")
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", default="derivations")
    args = p.parse_args(argv)
    rows = run()
    figs = _figures(args.out) + phase_figures(args.out, rows)
    print(write(args.out, rows, figs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
