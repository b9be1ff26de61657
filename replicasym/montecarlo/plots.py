"""Figures of a simulation: the overlap distribution P(q) and the energy e(T) (matplotlib, optional)."""
from __future__ import annotations

import itertools
import math

from ..errors import ParameterError, ReplicasymError
from ..fileio import atomic_write

__all__ = ["plot_result"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ReplicasymError("plots need matplotlib, which is not installed; install it with: "
                              "pip install 'replicasym[plot]'") from None
    return plt


def plot_result(result, path: str, comparison=None) -> None:
    """Write a figure of ``result`` (an :class:`~.simulation.MCResult`) to ``path`` (.png, .pdf,
    .svg): P(q) at the target temperature, and e(T) along the simulated temperatures with error
    bars; the replica values of ``comparison`` (a :class:`~.compare.Comparison`) are drawn over
    them (the replica overlap levels as vertical lines)."""
    import io

    if not str(path).lower().endswith((".png", ".pdf", ".svg")):
        raise ParameterError("the plot file must end in .png, .pdf or .svg")
    plt = _pyplot()
    fig, (ax_q, ax_e) = plt.subplots(1, 2, figsize=(10, 4))
    title = f"{result.model} {result.params or ''} N = {result.N}"
    if result.overlap is not None:
        edges = result.overlap["edges"]
        centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        ax_q.bar(centres, result.overlap["density"], width=edges[1] - edges[0], alpha=0.6, label="simulation")
        if comparison is not None and comparison.solution is not None:
            for key, value in (comparison.solution.get("order_parameters") or {}).items():
                if key[0] == "q" and key[1:].isdigit() or key == "q":
                    ax_q.axvline(float(value), color="k", ls="--", lw=1)
                    if result.symmetric:
                        ax_q.axvline(-float(value), color="k", ls="--", lw=1)
        ax_q.set_xlabel("q")
        ax_q.set_ylabel("P(q)")
        ax_q.set_title(f"overlap distribution, T = {result.T:g}")
    else:
        ax_q.text(0.5, 0.5, "no overlaps (one replica or T = 0)", ha="center", va="center")
    temps = [e["T"] for e in result.ladder if math.isfinite(e["T"])]
    energies = [e["energy"] for e in result.ladder if math.isfinite(e["T"])]
    ax_e.errorbar(temps, [e.mean for e in energies], yerr=[e.err if math.isfinite(e.err) else 0 for e in energies],
                  fmt="o", label="simulation")
    if comparison is not None:
        for row in comparison.rows:
            if row.observable == "energy" and row.replica is not None:
                ax_e.plot([result.T], [row.replica], "kx", ms=10, label=f"replica ({comparison.ansatz})")
    ax_e.set_xlabel("T")
    ax_e.set_ylabel("e = <H>/N")
    ax_e.set_title("energy per site")
    ax_e.legend()
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=str(path).rsplit(".", 1)[-1].lower(), dpi=120)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
