r"""Finite-width random MLP (issue 7): write ``derivations/mlp-finite-width.md`` from the engine.

    python -m replicasym.studies.mlp_finite_width -o derivations -j 2      # networks in 2 processes

Everything on the page is computed here: the engine's layer block, equations and replicon (the LaTeX
of the derivation trace of :mod:`replicasym.symbolic.layered`), the linear-network checks
(reference/winer_hanin_mlp.md §5, against random matrices), the alpha -> oo limit, and the nonlinear
alpha-sweep (tanh, ReLU, sin at alpha in {0.5, 1, 2, 4, 16, oo}: e, q, the finite-alpha replicon and
T_AT, the O(1/alpha) rate), RS s(E) curves at finite width (tanh, sin, ReLU), with figures (matplotlib, optional).
Not part of the default test run.
"""
from __future__ import annotations

import os
import time

import numpy as np

import replicasym as rs
from replicasym.errors import ConvergenceError
from replicasym.fileio import save_figure
from replicasym.kernels.activations import activation
from replicasym.solvers.zipper import replicon_line
from replicasym.studies.page import pyplot, write_page
from replicasym.symbolic.layered import generic_replicon

__all__ = ["ALPHAS", "NETWORKS", "main", "run"]

#: the widths of the sweep (oo = the GP-limit solver) and the extra widths of the rate fit
ALPHAS = (0.5, 1.0, 2.0, 4.0, 16.0, np.inf)
RATE_ALPHAS = (16.0, 64.0, 256.0)
#: (activation, C_W, temperatures of the e/q table, T range of the replicon line); C_W chosen so that
#: the GP limit has an AT line (rs.phase: tanh C_W = 4 T_AT = 0.3213, sin C_W = 2 0.5115, ReLU C_W = 2 0.0802)
NETWORKS = (("tanh", 4.0, (0.5, 1.0), (1.5, 0.12)), ("sin", 2.0, (0.6, 1.0), (1.5, 0.2)),
            ("relu", 2.0, (0.5, 1.0), (1.0, 0.06)))
DEPTHS = (1, 2)


def _solve(name, depth, cw, alpha, T):
    m = rs.models.mlp(name, depth=depth, C_W=cw) if np.isinf(alpha) else rs.models.mlp(name, depth=depth, C_W=cw,
                                                                                       alpha=alpha)
    s = rs.solve(m, T=T, ansatz="rs")
    return {"e": s.energy, "q": s.order_parameters["q"], "s": s.entropy, "replicon": s.replicon}


def _gp_at(name, depth, cw, T_max, T_min):
    """T_AT of the GP limit: the root of the spherical-model RS replicon on the same grid."""
    from scipy.optimize import brentq

    def lam(T):
        return rs.solve(rs.models.mlp(name, depth=depth, C_W=cw), T=T, ansatz="rs").replicon
    grid = np.geomspace(T_max, T_min, 24)
    vals = [lam(T) for T in grid]
    for i in range(1, len(grid)):
        if vals[i - 1] > 0 >= vals[i]:
            return float(brentq(lam, grid[i], grid[i - 1], xtol=1e-7))
    return None


def _network(task) -> tuple[list, list]:
    """The sweep rows and T_AT rows of one (activation, C_W, temperatures, T range, depth)."""
    name, cw, temps, (T_max, T_min), depth = task
    sweep, at = [], []
    for T in temps:
        for a in ALPHAS + RATE_ALPHAS[1:]:
            t0 = time.time()
            try:
                r = _solve(name, depth, cw, a, T)
            except ConvergenceError as exc:
                print(f"  {name} L={depth} alpha={a} T={T}: {exc}", flush=True)
                continue
            sweep.append({"activation": name, "C_W": cw, "depth": depth, "T": T, "alpha": a, **r})
            print(f"  {name} L={depth} C_W={cw} T={T} alpha={a}: e={r['e']:.6f} q={r['q']:.6f} "
                  f"lambda_R={_fmt(r['replicon'])} ({time.time() - t0:.1f}s)", flush=True)
    for a in ALPHAS:
        t0 = time.time()
        try:
            if np.isinf(a):
                T_AT = _gp_at(name, depth, cw, T_max, T_min)
            else:
                T_AT = replicon_line(rs.models.mlp(name, depth=depth, C_W=cw, alpha=a), T_max=T_max,
                                     T_min=T_min)["T_AT"]
        except ConvergenceError as exc:
            print(f"  T_AT {name} L={depth} alpha={a}: {exc}", flush=True)
            T_AT = float("nan")
        at.append({"activation": name, "C_W": cw, "depth": depth, "alpha": a, "T_AT": T_AT})
        print(f"  T_AT {name} L={depth} alpha={a}: {T_AT} ({time.time() - t0:.1f}s)", flush=True)
    return sweep, at


def run(jobs: int = 1) -> dict:
    """All numbers of the page: {"sweep": rows, "at": rows, "rates": rows, "entropy": rows}.  The networks
    (and s(E) curves) are independent tasks, run in ``jobs`` processes (the result does not depend on it)."""
    from concurrent.futures import ProcessPoolExecutor
    tasks = [(*net, depth) for net in NETWORKS for depth in DEPTHS]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            parts, curves = list(pool.map(_network, tasks)), list(pool.map(_entropy_curve, ENTROPY_NETWORKS))
    else:
        parts, curves = list(map(_network, tasks)), list(map(_entropy_curve, ENTROPY_NETWORKS))
    sweep = [r for p in parts for r in p[0]]
    at = [r for p in parts for r in p[1]]
    rates = []
    for key in {(r["activation"], r["depth"], r["T"]) for r in sweep}:
        rows = {r["alpha"]: r for r in sweep if (r["activation"], r["depth"], r["T"]) == key}
        if np.inf not in rows or not all(a in rows for a in RATE_ALPHAS):
            continue
        for x in ("e", "q", "replicon"):
            inv = np.array([1 / a for a in RATE_ALPHAS])
            if any(rows[a][x] is None for a in (*RATE_ALPHAS, np.inf)):  # a replicon not evaluated
                continue
            dev = np.array([abs(rows[a][x] - rows[np.inf][x]) for a in RATE_ALPHAS])
            slope = float(np.polyfit(np.log(inv), np.log(dev), 1)[0]) if np.all(dev > 0) else float("nan")
            rates.append({"activation": key[0], "depth": key[1], "T": key[2], "x": x, "slope": slope,
                          "coefficient": float(dev[-1] * RATE_ALPHAS[-1])})
    rates.sort(key=lambda r: (r["activation"], r["depth"], r["T"], r["x"]))
    return {"sweep": sweep, "at": at, "rates": rates, "entropy": [r for c in curves for r in c]}


#: s(E) curves: (activation, C_W) at depth 1, temperatures from hot to cold (continuation in T)
ENTROPY_NETWORKS = (("tanh", 4.0), ("sin", 2.0), ("relu", 2.0))
ENTROPY_T = tuple(np.geomspace(2.0, 0.25, 14))


def _entropy_curve(network) -> list[dict]:
    """(e(T), s(T)) along ENTROPY_T for every width of one (activation, C_W): the RS entropy as a function of
    the energy.  A curve whose scan fails is left out (logged); the replicon marks where RS is no longer
    stable."""
    name, cw = network
    rows = []
    for a in ALPHAS:
        m = rs.models.mlp(name, depth=1, C_W=cw) if np.isinf(a) else rs.models.mlp(name, depth=1, C_W=cw, alpha=a)
        t0 = time.time()
        try:
            sols = rs.scan(m, "rs", list(ENTROPY_T))
        except ConvergenceError as exc:
            print(f"  s(E) {name} alpha={a}: {exc}", flush=True)
            continue
        rows += [{"activation": name, "C_W": cw, "alpha": a, "T": s.T, "e": s.energy, "s": s.entropy,
                  "replicon": s.replicon} for s in sols]
        print(f"  s(E) {name} alpha={a}: {len(sols)} points ({time.time() - t0:.1f}s)", flush=True)
    return rows


def _fmt(v, d=5):
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{d}f}"


def _alpha(a):
    return "∞" if np.isinf(a) else f"{a:g}"


def _figures(res, outdir, log) -> list[str]:
    plt = pyplot(log)
    if plt is None:
        return []
    os.makedirs(os.path.join(outdir, "figures"), exist_ok=True)
    names = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, x in zip(axes, ("e", "q", "replicon")):
        for name, cw, temps, _ in NETWORKS:
            for depth in DEPTHS:
                T = temps[0]
                rows = [r for r in res["sweep"] if (r["activation"], r["depth"], r["T"]) == (name, depth, T)]
                gp = [r for r in rows if np.isinf(r["alpha"])]
                fin = sorted((r for r in rows if np.isfinite(r["alpha"])), key=lambda r: r["alpha"])
                if not gp or not fin:
                    continue
                pts = [(1 / r["alpha"], abs(r[x] - gp[0][x])) for r in fin if None not in (r[x], gp[0][x])]
                if pts:
                    ax.loglog(*zip(*pts), "o-", label=f"{name} L={depth} T={T}")
        inv = np.array([1 / 256, 2.0])
        ax.loglog(inv, 0.1 * inv, "k--", lw=0.8, label="∝ 1/α")
        ax.set_xlabel("1/α")
        ax.set_ylabel(f"|{x}(α) − {x}(∞)|")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(outdir, "figures", "mlp_finite_width_convergence.png")
    save_figure(fig, path)
    names.append(os.path.basename(path))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, cw, _, _ in NETWORKS:
        for depth in DEPTHS:
            rows = [r for r in res["at"] if (r["activation"], r["depth"]) == (name, depth)]
            fin = [r for r in rows if np.isfinite(r["alpha"]) and r["T_AT"] is not None and np.isfinite(r["T_AT"])]
            line = ax.plot([1 / r["alpha"] for r in fin], [r["T_AT"] for r in fin], "o-",
                           label=f"{name} L={depth} C_W={cw:g}")[0]
            gp = [r["T_AT"] for r in rows if np.isinf(r["alpha"]) and r["T_AT"] is not None]
            if gp and np.isfinite(gp[0]):
                ax.plot([0], gp, "s", color=line.get_color())
    ax.set_xlabel("1/α (square: GP limit)")
    ax.set_ylabel("T_AT")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(outdir, "figures", "mlp_finite_width_tat.png")
    save_figure(fig, path)
    names.append(os.path.basename(path))
    fig, axes = plt.subplots(1, len(ENTROPY_NETWORKS), figsize=(11, 3.8))
    for ax, (name, cw) in zip(np.atleast_1d(axes), ENTROPY_NETWORKS):
        for a in ALPHAS:
            rows = [r for r in res["entropy"] if (r["activation"], r["alpha"]) == (name, a)]
            stable = [r for r in rows if r["replicon"] is not None and r["replicon"] > 0]
            line = ax.plot([r["e"] for r in stable], [r["s"] for r in stable], "o-", ms=3,
                           label=f"α = {_alpha(a)}")[0]
            unstable = [r for r in rows if r["replicon"] is not None and r["replicon"] <= 0]
            if unstable:
                ax.plot([r["e"] for r in unstable], [r["s"] for r in unstable], "x--", color=line.get_color(), ms=3)
        ax.set_title(f"{name}, C_W = {cw:g}, depth 1 (x: RS unstable)", fontsize=9)
        ax.set_xlabel("E/N")
        ax.set_ylabel("s(E)")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(outdir, "figures", "mlp_finite_width_entropy.png")
    save_figure(fig, path)
    names.append(os.path.basename(path))
    plt.close("all")
    return names


def _rmt(alphas, draws=40, N=300, seed=7):
    """Linear network ground state by random matrices: x* = -sqrt(N) g/|g|, g = v W^(L)...W^(1)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        widths = [N] + [round(a * N) for a in alphas]
        Ws = [rng.normal(0, np.sqrt(1 / widths[k]), (widths[k + 1], widths[k])) for k in range(len(alphas))]
        g = rng.normal(0, np.sqrt(1 / widths[-1]), widths[-1])
        for W in reversed(Ws):
            g = g @ W
        x = -np.sqrt(N) * g / np.linalg.norm(g)
        row, z = [np.sqrt(N) * (g @ x) / N], x
        for W in Ws:
            z = W @ z
            row.append(z @ z / z.size)
        out.append(row)
    a = np.array(out)
    return a.mean(axis=0), a.std(axis=0, ddof=1) / np.sqrt(len(a))


def markdown(res, figures) -> str:
    eqs, _rk, rtrace = generic_replicon(activation("tanh"))
    L = ["# Random MLP at finite width (issue 7): layered action, zipper, replicon", "",
         ("Generated by `python -m replicasym.studies.mlp_finite_width -o derivations` (do not edit by hand). "
         "Conventions of reference/winer_hanin_mlp.md §2.1: H(x) = √N z^(L+1)(x), W ~ N(0, C_W/fan-in), "
         "hidden widths N_l = α_l N; `rs.models.mlp(activation, depth, C_W, C_b, alpha=...)`."), "",
         "## The engine's generic layer block and equations (tanh; trace of `generic_equations`)", "",
         ("The block φ(P, Q, Λ; α) is derived once for an opaque σ and summed over the layers "
         "(module docstring of `replicasym.symbolic.layered`)."), "",
         eqs.block.trace.markdown(), "",
         "## Replicon at finite α (derived here; not in the reference)", "",
         ("Second variation of the action in the replicon sector (δq, δQ^(l), δΛ^(l) off-diagonal, zero row "
         "sums); per replica pair each layer contributes the AT averages A_ij = E[(∂_i∂_j log Z_1)²] of its "
         "single-site function, and the Schur complement from the top (K_L = 0: the output term is linear in "
         "Q^(L)) down to the input gives λ_R = 1 − (1−q)² K_0. The engine's steps:"), "",
         rtrace.markdown(), "",
         ("Checks (tests/test_finite_width.py): the kernels against finite differences of an independent "
         "log Z_1 (tanh, sin); α → ∞ equals the GP solver's replicon 1 − β²ξ''(q)(1−q)² with an O(1/α) "
         "correction (sin depth 1, tanh depth 2); the finite-width T_AT at α = 10⁴ equals the GP-limit T_AT; "
         "the linear network has λ_R = 1 at every T and width (§5.1)."), ""]
    L += ["## Linear networks (reference §5)", ""]
    alphas = [0.5, 2.0, 1.0]
    gs = rs.models.mlp("linear", depth=3, alpha=alphas).solve(T=0)
    mean, sem = _rmt(alphas)
    L += [("Ground state, α = (0.5, 2, 1), C_W = 1: the zipper at T = 0 against 40 random networks (N = 300, "
          "x* = −√N g/|g|)."), "", "| quantity | replica (T = 0) | random matrices (mean ± s.e.) |", "|---|---|---|"]
    for lab, pred, m_, e_ in zip(["E_gs", "Q^(1)_d", "Q^(2)_d", "Q^(3)_d"], [gs.energy, *gs.profile["Q_d"]], mean, sem):
        L.append(f"| {lab} | {pred:.6f} | {m_:.3f} ± {e_:.3f} |")
    lin = rs.models.mlp("linear", depth=3, alpha=alphas).solve(T=0.7)
    L += ["", (f"At T = 0.7 the thermodynamics is α-independent (q = {lin.order_parameters['q']:.10f}, "
          f"e = {lin.energy:.10f}) and the replicon is λ_R = {lin.replicon:.12f}."), ""]
    L += ["## Nonlinear α-sweep (RS)", "",
          ("e, q and the finite-α replicon λ_R (∞: the GP-limit solver `rs.solve(rs.models.mlp(...), T, "
          "ansatz=\"rs\")`)."), "", "| activation | C_W | depth | T | α | e | q | s | λ_R |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res["sweep"]:
        if r["alpha"] in ALPHAS:
            L.append(f"| {r['activation']} | {r['C_W']:g} | {r['depth']} | {r['T']:g} | {_alpha(r['alpha'])} | "
                     f"{_fmt(r['e'])} | {_fmt(r['q'])} | {_fmt(r['s'])} | {_fmt(r['replicon'])} |")
    L += ["", ("**T_AT(α)**: the highest T where the finite-α replicon changes sign (`phase` / `replicon_line`; "
          "– : RS stable down to the lowest T solved, or the zipper failed there)."), "",
          "| activation | C_W | depth | " + " | ".join(f"α = {_alpha(a)}" for a in ALPHAS) + " |",
          "|---|---|---|" + "---|" * len(ALPHAS)]
    for name, cw, _, _ in NETWORKS:
        for depth in DEPTHS:
            vals = {r["alpha"]: r["T_AT"] for r in res["at"] if (r["activation"], r["depth"]) == (name, depth)}
            L.append(f"| {name} | {cw:g} | {depth} | " + " | ".join(_fmt(vals.get(a)) for a in ALPHAS) + " |")
    L += ["", ("**Rate**: log-log slope of |x(α) − x(∞)| against 1/α over α ∈ {16, 64, 256} (1 = O(1/α)) and "
          "the coefficient α|x(α) − x(∞)| at α = 256."), "", "| activation | depth | T | x | slope | coefficient |",
          "|---|---|---|---|---|---|"]
    for r in res["rates"]:
        L.append(f"| {r['activation']} | {r['depth']} | {r['T']:g} | {r['x']} | {_fmt(r['slope'], 3)} | "
                 f"{_fmt(r['coefficient'], 4)} |")
    L.append("")
    for f in figures:
        L += [f"![{f}](figures/{f})", ""]
    L += ["## Entropy at given energy, s(E), at finite width (RS)", "",
          ("The RS entropy s = Φ + βe against e along T = 2 … 0.25 (continuation in T, depth 1); the lowest "
           "RS-stable point of each curve (λ_R > 0) and, where λ_R changes sign on the grid, the first "
           "unstable one. Figure: mlp_finite_width_entropy.png."), "",
          "| activation | C_W | α | lowest stable T | e | s | λ_R | first unstable T |", "|---|---|---|---|---|---|---|---|"]
    for name, cw in ENTROPY_NETWORKS:
        for a in ALPHAS:
            rows = [r for r in res["entropy"] if (r["activation"], r["alpha"]) == (name, a)]
            stable = [r for r in rows if r["replicon"] is not None and r["replicon"] > 0]
            unstable = [r for r in rows if r["replicon"] is not None and r["replicon"] <= 0]
            if not stable:
                continue
            low = stable[-1]
            L.append(f"| {name} | {cw:g} | {_alpha(a)} | {low['T']:.4f} | {_fmt(low['e'])} | {_fmt(low['s'])} | "
                     f"{_fmt(low['replicon'], 4)} | " + (f"{unstable[0]['T']:.4f}" if unstable else "–") + " |")
    L += ["",
          "## Monte Carlo", "",
          ("One nonlinear finite-width point (tanh, C_W = 4, depth 1, α = 0.5, T = 1) against the simulation of "
           "the explicit network at N = 40…320, extrapolated in 1/N, including the hidden layer's pre- and "
           "post-activation norms and overlaps: [mlp-finite-width-mc.md](mlp-finite-width-mc.md) "
           "(`python -m replicasym.studies.mlp_finite_width_mc`)."), "",
          "## Limits", "",
          ("* RS on this page; below T_AT the RS numbers are not the equilibrium ones. The 1RSB equations of the "
          "layered action are derived for any depth and solved for one hidden layer: "
          "[mlp-finite-width-1rsb.md](mlp-finite-width-1rsb.md)."), ("* T = 0 for nonlinear blocks (a Moreau envelope) and E_gs(α): "
          "[mlp-finite-width-ground-state.md](mlp-finite-width-ground-state.md) "
          "(`python -m replicasym.studies.mlp_finite_width_ground_state`)."),
          ("* ReLU: the η-average has a kink; `replicasym.solvers.layer_quadrature` splits its η panels there "
          "(Gauss–Hermite across the kink had left e 2% off at T = 1). At low T the tilted η-measure moves out "
          "to ~√Λ₀ u c and the rule must grow with it; the GP T_AT ≈ 0.08 is at the edge of the zipper's range "
          "(a failed T_AT scan shows as –)."), ""]
    return "\n".join(L)


def main(argv=None) -> int:
    return write_page("mlp-finite-width", __doc__.splitlines()[0], run, markdown, _figures, argv, parallel=True)


if __name__ == "__main__":
    raise SystemExit(main())
