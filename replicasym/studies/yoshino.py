r"""Layer profiles of Yoshino's deep network and the page ``derivations/yoshino.md``.

    python -m replicasym.studies.yoshino -o derivations          # depth 10 random, teacher 1..4 (~30 min)
    python -m replicasym.studies.yoshino -o derivations --reuse  # redraw from the cached JSON

It runs :func:`replicasym.solvers.yoshino.phase` on a geometric grid of loads, draws the weight
overlap :math:`Q_\ell` against the layer for several loads, the transition load of each layer and
the frozen thickness at each boundary against :math:`\log\alpha`, fits the output-side thickness
:math:`k` (the k-th layer from the output freezes at :math:`\alpha_k`) against :math:`\log\alpha_k`,
and writes the page with the engine's derivation trace.  The teacher-student scenario
(:data:`TEACHER_DEPTHS`) adds the per-layer overlap with the teacher :math:`R_\ell` against the load,
the crystalline transition load of each layer, and the depth-1 check against the perceptron's Gibbs
learning.  The phase results are cached as JSON next to the figures, one file per scenario and depth
(``--reuse`` reads the cached ones back and computes only the missing ones).  A study, regenerated on
demand (not part of the default test run).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from replicasym.fileio import atomic_write, save_figure

__all__ = ["front_fit", "gibbs_check", "main", "plot_profiles", "run", "write"]

#: the default grid: geometric to alpha = 3000, then loads where the output front meets the input
#: side of a depth-10 net (coexisting profiles near 4500, the whole net frozen at 6500)
ALPHAS = [*np.geomspace(2.0, 3000.0, 17), 4500.0, 6500.0]
#: teacher-student: the depths solved and their grid (a factor sqrt 2 per load; each scan ends where the
#: net nearly generalises perfectly and the quadrature refuses the frozen layers, ``scan_stopped``)
TEACHER_DEPTHS = (1, 2, 3, 4)
TEACHER_ALPHAS = [float(a) for a in np.geomspace(1.0, 256.0, 17)]
#: depth 1 against the perceptron's Gibbs learning at these loads
GIBBS_ALPHAS = (0.5, 1.0, 2.0, 5.0)


def plot_profiles(plt, points: list, path: str, title: str = "") -> None:
    """:math:`Q_\\ell` and :math:`q_\\ell` against the layer, one curve per load (``points``: the
    ``as_dict`` of :class:`~replicasym.solvers.yoshino.YoshinoProfile`)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for p in points:
        prof = p["profile"]
        axes[0].plot(prof["layer"], prof["Q"], "o-", label=f"alpha = {p['alpha']:.4g}")
        axes[1].plot(range(len(prof["q"])), prof["q"], "o-", label=f"alpha = {p['alpha']:.4g}")
    axes[0].set_xlabel("weight layer l")
    axes[0].set_ylabel("Q_l")
    axes[1].set_xlabel("neuron layer l")
    axes[1].set_ylabel("q_l")
    for ax in axes:
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def run(depth: int = 10, scenario: str = "random", alphas=None, log=print) -> dict:
    """The phase result (transition per layer, thickness and profiles along the grid)."""
    import replicasym as rs
    from replicasym.solvers.yoshino import phase
    model = rs.models.yoshino(depth=depth, scenario=scenario)
    result = phase(model, ALPHAS if alphas is None else alphas)
    log(f"depth {depth}, {scenario}: transitions {result['alpha_transition']}, jumps {result['alpha_jump']}")
    return result


def gibbs_check(alphas=GIBBS_ALPHAS) -> list[dict]:
    """Depth 1, teacher: :math:`R` of the deep network's solver and of the perceptron's teacher-student
    (Gibbs learning) solver at each load."""
    import replicasym as rs
    out = []
    for a in alphas:
        s = rs.models.perceptron(alpha=a, labels="teacher").solve()
        p = rs.models.yoshino(depth=1, alpha=a, scenario="teacher").solve()
        out.append({"alpha": float(a), "R_yoshino": p.Q[0], "R_perceptron": float(s.order_parameters["R"]),
                    "free_entropy_yoshino": p.free_entropy, "free_entropy_perceptron": float(s.free_entropy)})
    return out


def front_fit(result: dict) -> dict:
    r"""The output front: the k-th layer from the output freezes continuously at :math:`\alpha_k`
    (alone: layers that share one onset lose stability together and end the front);
    least squares of :math:`k = a + b\ln\alpha_k` (thickness logarithmic in the load) and of
    :math:`\ln k = c + s\ln\alpha_k` (a power law), over the continuous onsets adjacent to the output."""
    tr = result["alpha_transition"]
    ks, al = [], []
    for k, a in enumerate(reversed(tr), start=1):
        # the front ends at a liquid layer or at a layer sharing its onset with another one (a block of
        # liquid layers losing stability together: a collective jump, not the front moving one layer)
        if a is None or sum(b is not None and abs(b - a) <= 1e-6 * a for b in tr) > 1:
            break
        ks.append(k)
        al.append(a)
    ks, al = np.array(ks, float), np.array(al, float)
    out = {"k": ks.astype(int).tolist(), "alpha": al.tolist(),
           "ratio": (al[1:] / al[:-1]).tolist()}
    if ks.size >= 3:
        (b, a), res_log = np.polyfit(np.log(al), ks, 1, full=True)[:2]
        s, c = np.polyfit(np.log(al), np.log(ks), 1)
        out.update({"log_slope": float(b), "log_intercept": float(a),
                    "log_rms": float(np.sqrt(res_log[0] / ks.size)) if res_log.size else 0.0,
                    "power_exponent": float(s), "power_prefactor": float(np.exp(c)),
                    "power_rms": float(np.sqrt(np.mean((np.exp(c) * al**s - ks) ** 2)))})
    return out


def _figures(plt, result: dict, directory: str, tag: str) -> list[str]:
    sc = result["scan"]
    L = len(sc["Q"][0])
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for a, Q in list(zip(sc["alpha"], sc["Q"]))[::2]:
        ax.plot(range(1, L + 1), Q, "o-", label=f"alpha = {a:.3g}")
    ax.set_xlabel("weight layer l (1: input side, L: output side)")
    ax.set_ylabel("Q_l")
    ax.set_title(f"RS layer profile, depth {L}")
    ax.legend(fontsize=6)
    p = os.path.join(directory, "figures", f"yoshino_{tag}_profiles.png")
    fig.tight_layout()
    save_figure(fig, p)
    plt.close(fig)
    paths.append(p)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    tr = result["alpha_transition"]
    lay = [i + 1 for i, a in enumerate(tr) if a is not None]
    axes[0].semilogy(lay, [a for a in tr if a is not None], "o-", label="continuous onset")
    for layer, (lo, hi) in result["alpha_jump"].items():
        axes[0].plot([int(layer)] * 2, [lo, hi], "r-", lw=3, label="jump (bracket)" if layer == min(
            result["alpha_jump"]) else None)
    axes[0].set_xlabel("weight layer l")
    axes[0].set_ylabel("alpha at which layer l freezes")
    axes[0].legend(fontsize=7)
    fit = front_fit(result)
    axes[1].semilogx(sc["alpha"], sc["thickness_output"], "o-", label="output side (grid)")
    axes[1].semilogx(sc["alpha"], sc["thickness_input"], "s--", label="input side (grid)")
    if "log_slope" in fit:
        x = np.geomspace(min(fit["alpha"]), max(fit["alpha"]), 50)
        axes[1].semilogx(fit["alpha"], fit["k"], "k^", label="onsets alpha_k")
        axes[1].semilogx(x, fit["log_intercept"] + fit["log_slope"] * np.log(x), "k:",
                         label=f"k = {fit['log_intercept']:.2f} + {fit['log_slope']:.3f} ln alpha")
    axes[1].set_xlabel("alpha")
    axes[1].set_ylabel("frozen layers")
    axes[1].legend(fontsize=7)
    p = os.path.join(directory, "figures", f"yoshino_{tag}_transitions.png")
    fig.tight_layout()
    save_figure(fig, p)
    plt.close(fig)
    paths.append(p)
    return paths


def _teacher_figure(plt, results: dict, directory: str) -> str:
    """Left: the overlap with the teacher R_l against alpha, one curve per layer, deepest net solved;
    right: the crystalline transition load of each layer against its distance from the output."""
    deepest = results[max(results)]
    sc = deepest["scan"]
    L = len(sc["Q"][0])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ell in range(L):
        axes[0].semilogx(sc["alpha"], [Q[ell] for Q in sc["Q"]], "o-", ms=3, label=f"layer {ell + 1}")
    axes[0].set_xlabel("alpha")
    axes[0].set_ylabel("R_l (weight overlap with the teacher)")
    axes[0].set_title(f"teacher-student, depth {L} (layer {L}: output side)")
    axes[0].legend(fontsize=6)
    for depth, r in sorted(results.items()):
        tr = r["alpha_transition"]
        ks = [depth - i for i, a in enumerate(tr) if a]
        axes[1].semilogy(ks, [a for a in tr if a], "o-", label=f"depth {depth}")
    axes[1].set_xlabel("k = L + 1 - l (1: output layer)")
    axes[1].set_ylabel("crystalline transition alpha_l")
    axes[1].legend(fontsize=7)
    path = os.path.join(directory, "figures", "yoshino_teacher_overlaps.png")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def _teacher_lines(teacher: dict, gibbs: list) -> list[str]:
    lines = ["### teacher-student: crystalline transition load per weight layer", "",
             ("`alpha_transition` of `phase` (layer 1: input side, layer L: output side; 0: the overlap grows "
              "from alpha = 0, no liquid phase; — : not crystalline where the scan stopped)."), "",
             "| depth | alpha_l, l = 1..L | first boundary | jumps | scan stopped at |", "|---|---|---|---|---|"]
    for depth, r in sorted(teacher.items()):
        stop = r.get("scan_stopped")
        stopped = "" if not stop else f"{stop['alpha']:.4g}"
        lines.append(f"| {depth} | {', '.join(_fmt(a) for a in r['alpha_transition'])} | "
                     f"{r.get('first_boundary')} | {r['alpha_jump'] or ''} | "
                     f"{stopped} |")
    deepest = teacher[max(teacher)]
    fit = front_fit(deepest)
    lines += ["", f"Output front of depth {max(teacher)} (k-th layer from the output crystallises at alpha_k):", "",
              "| k | alpha_k | alpha_k / alpha_{k-1} |", "|---|---|---|"]
    ratios = ["", *(f"{x:.3f}" for x in fit["ratio"])]
    lines += [f"| {k} | {a:.6g} | {x} |" for k, a, x in zip(fit["k"], fit["alpha"], ratios)]
    sc = deepest["scan"]
    lines += ["", f"Overlap with the teacher per layer, depth {max(teacher)}:", "",
              "| alpha | R_1 .. R_L | r_1 .. r_(L-1) |", "|---|---|---|"]
    lines += [f"| {a:.4g} | {' '.join(f'{x:.3f}' for x in Q)} | {' '.join(f'{x:.3f}' for x in q[1:-1])} |"
              for a, Q, q in zip(sc["alpha"], sc["Q"], sc["q"])]
    lines += ["", "Depth 1 against the perceptron's teacher-student (Gibbs learning) solver:", "",
              "| alpha | R (yoshino, L = 1) | R (perceptron, labels = teacher) | Phi (yoshino) | Phi (perceptron) |",
              "|---|---|---|---|---|"]
    lines += [f"| {g['alpha']:g} | {g['R_yoshino']:.10f} | {g['R_perceptron']:.10f} | "
              f"{g['free_entropy_yoshino']:.10f} | {g['free_entropy_perceptron']:.10f} |" for g in gibbs]
    return [*lines, ""]


def _fmt(a) -> str:
    return "—" if a is None else f"{a:.6g}"


def write(directory: str, results: dict, figures: list[str], teacher: dict | None = None,
          gibbs: list | None = None) -> str:
    """Append the engine's derivation and the measured tables to the hand-written page head
    (everything above ``<!-- generated -->`` in derivations/yoshino.md is kept)."""
    import replicasym as rs
    from replicasym.markdown import results_markdown
    path = os.path.join(directory, "yoshino.md")
    head = "# Yoshino\n\n"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            head = fh.read().split("<!-- generated -->")[0]
    d = rs.derive(rs.models.yoshino(depth=2), "rs")
    lines = [head.rstrip(), "", "<!-- generated -->", "",
             "## The engine's derivation trace (cavity closure, random data)", "",
             d.steps.markdown(), "", "## The assembled equations at depth 2", "", *results_markdown(d), "",
             "## Measured", ""]
    for tag, r in results.items():
        lines += [f"### {tag}: transition load per weight layer", "",
                  "| layer | continuous onset alpha_l | jump bracket |", "|---|---|---|"]
        jumps = {int(k): v for k, v in r["alpha_jump"].items()}
        lines += [f"| {i + 1} | {_fmt(a)} | {'' if i + 1 not in jumps else f'[{jumps[i + 1][0]:.4g}, {jumps[i + 1][1]:.4g}]'} |"
                  for i, a in enumerate(r["alpha_transition"])]
        fit = front_fit(r)
        lines += ["", "Output front (k-th layer from the output freezes at alpha_k):", "",
                  "| k | alpha_k | alpha_k / alpha_{k-1} |", "|---|---|---|"]
        ratios = ["", *(f"{x:.3f}" for x in fit["ratio"])]
        lines += [f"| {k} | {a:.6g} | {x} |" for k, a, x in zip(fit["k"], fit["alpha"], ratios)]
        if "log_slope" in fit:
            lines += ["", (f"Least squares over these onsets: k = {fit['log_intercept']:.3f} + "
                           f"{fit['log_slope']:.4f} ln alpha (rms {fit['log_rms']:.3f} layers); power law "
                           f"k = {fit['power_prefactor']:.3f} alpha^{fit['power_exponent']:.4f} (rms "
                           f"{fit['power_rms']:.3f} layers).")]
        sc = r["scan"]
        lines += ["", "| alpha | frozen (input side) | frozen (output side) | Q_1 .. Q_L |", "|---|---|---|---|"]
        lines += [f"| {a:.4g} | {i} | {o} | {' '.join(f'{x:.3f}' for x in Q)} |"
                  for a, i, o, Q in zip(sc["alpha"], sc["thickness_input"], sc["thickness_output"], sc["Q"])]
        lines.append("")
    if teacher:
        lines += _teacher_lines(teacher, gibbs or [])
    lines += [f"![{os.path.basename(f)}](figures/{os.path.basename(f)})" for f in figures]
    text = "\n".join(lines) + "\n"
    atomic_write(path, text.encode())
    return path


def _cached(path: str, reuse: bool, compute) -> dict:
    """The phase result cached at ``path``: read back with ``reuse`` (when present), else computed and
    written; returned in the form read back (layer keys as strings)."""
    if reuse and os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    text = json.dumps(compute(), indent=1)
    atomic_write(path, text.encode())
    return json.loads(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="derivations")
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--teacher-depths", default=",".join(map(str, TEACHER_DEPTHS)),
                    help="comma-separated depths of the teacher-student scenario")
    ap.add_argument("--reuse", action="store_true",
                    help="read the cached phase results (computing only the missing ones)")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tag = f"random_L{args.depth}"
    figdir = os.path.join(args.output, "figures")
    os.makedirs(figdir, exist_ok=True)
    result = _cached(os.path.join(figdir, f"yoshino_{tag}.json"), args.reuse, lambda: run(args.depth))
    teacher = {}
    for d in (int(x) for x in args.teacher_depths.split(",") if x.strip()):
        teacher[d] = _cached(os.path.join(figdir, f"yoshino_teacher_L{d}.json"), args.reuse,
                             lambda d=d: run(d, "teacher", TEACHER_ALPHAS))
    results = {f"random, depth {args.depth}": result}
    figs = _figures(plt, result, args.output, tag)
    if teacher:
        figs.append(_teacher_figure(plt, teacher, args.output))
    print(write(args.output, results, figs, teacher, gibbs_check() if teacher else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
