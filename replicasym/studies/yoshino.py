r"""Layer profiles of Yoshino's deep network and the page ``derivations/yoshino.md``.

    python -m replicasym.studies.yoshino -o derivations          # depth 10, random data (long)

It runs :func:`replicasym.solvers.yoshino.phase` on a geometric grid of loads, draws the weight
overlap :math:`Q_\ell` against the layer for several loads, the transition load of each layer and
the frozen thickness at each boundary against :math:`\log\alpha`, and writes the page with the
engine's derivation trace.  A study, regenerated on demand (not part of the default test run).
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from replicasym.fileio import atomic_write, save_figure

__all__ = ["main", "plot_profiles", "run", "write"]


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
    if alphas is None:
        alphas = np.geomspace(2.0, 3000.0, 17)
    result = phase(model, alphas)
    log(f"depth {depth}, {scenario}: transitions {result['alpha_transition']}")
    return result


def _figures(plt, result: dict, directory: str, tag: str) -> list[str]:
    os.makedirs(os.path.join(directory, "figures"), exist_ok=True)
    sc = result["scan"]
    L = len(sc["Q"][0])
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for a, Q in list(zip(sc["alpha"], sc["Q"]))[::2]:
        ax.plot(range(1, L + 1), Q, "o-", label=f"alpha = {a:.3g}")
    ax.set_xlabel("weight layer l (1: input side, L: output side)")
    ax.set_ylabel("Q_l")
    ax.legend(fontsize=7)
    p = os.path.join(directory, "figures", f"yoshino_{tag}_profiles.png")
    fig.tight_layout()
    save_figure(fig, p)
    plt.close(fig)
    paths.append(p)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    tr = result["alpha_transition"]
    lay = [i + 1 for i, a in enumerate(tr) if a is not None]
    axes[0].semilogy(lay, [a for a in tr if a is not None], "o-")
    axes[0].set_xlabel("weight layer l")
    axes[0].set_ylabel("alpha at which layer l freezes")
    axes[1].semilogx(sc["alpha"], sc["thickness_output"], "o-", label="output side")
    axes[1].semilogx(sc["alpha"], sc["thickness_input"], "s--", label="input side")
    axes[1].set_xlabel("alpha")
    axes[1].set_ylabel("frozen layers")
    axes[1].legend()
    p = os.path.join(directory, "figures", f"yoshino_{tag}_transitions.png")
    fig.tight_layout()
    save_figure(fig, p)
    plt.close(fig)
    paths.append(p)
    return paths


def write(directory: str, results: dict, figures: list[str]) -> str:
    """Append the measured tables to the hand-written page head (derivations/yoshino.md)."""
    path = os.path.join(directory, "yoshino.md")
    head = "# Yoshino\n\n"
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            head = fh.read().split("<!-- generated -->")[0]
    import replicasym as rs
    d = rs.derive(rs.models.yoshino(depth=3), "rs")
    lines = [head.rstrip(), "", "<!-- generated -->", "",
             "## The engine's derivation trace (cavity closure, random data, depth 3)", "",
             d.steps.markdown(), "", "## Measured", ""]
    for tag, r in results.items():
        lines += [f"### {tag}: transition load per weight layer", "", "| layer | alpha_l |", "|---|---|"]
        lines += [f"| {i + 1} | {'liquid' if a is None else f'{a:.6g}'} |" for i, a in enumerate(r["alpha_transition"])]
        sc = r["scan"]
        lines += ["", "| alpha | frozen (input side) | frozen (output side) |", "|---|---|---|"]
        lines += [f"| {a:.4g} | {i} | {o} |" for a, i, o in zip(sc["alpha"], sc["thickness_input"],
                                                              sc["thickness_output"])]
        lines.append("")
    lines += [f"![{os.path.basename(f)}](figures/{os.path.basename(f)})" for f in figures]
    text = "\n".join(lines) + "\n"
    atomic_write(path, text.encode())
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="derivations")
    ap.add_argument("--depth", type=int, default=10)
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    results = {f"random, depth {args.depth}": run(args.depth)}
    figs = _figures(plt, results[f"random, depth {args.depth}"], args.output, f"random_L{args.depth}")
    print(write(args.output, results, figs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
