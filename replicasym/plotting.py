r"""Plots of full-RSB and k-RSB results (matplotlib is optional: ``pip install 'replicasym[plot]'``).

* :func:`plot_parisi` -- the Parisi function x(q) of a solution (``Solution.profile``) and the
  overlap distribution :math:`P(q) = dx/dq`: its density on the continuous parts and its atoms
  (jumps of x, e.g. at :math:`q_{\min}` and :math:`q_{\max}`) drawn as bars of height = weight.
* :func:`plot_k_extrapolation` -- k-RSB values against 1/k with the k -> oo extrapolation and its
  error bar (:func:`replicasym.solvers.parisi_spherical.extrapolate_k` or the Ising twin).

:func:`overlap_distribution` is the matplotlib-free part (density and atoms from a profile).
"""
from __future__ import annotations

import numpy as np

from .errors import ReplicasymError

__all__ = ["overlap_distribution", "plot_k_extrapolation", "plot_parisi"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ReplicasymError("plotting needs matplotlib, which is not installed; "
                              "install it with: pip install 'replicasym[plot]'") from None
    return plt


def overlap_distribution(profile: dict, tol: float = 1e-12) -> dict:
    r"""P(q) = dx/dq from a profile polyline (``{"q": [...], "x": [...]}``, jumps as repeated q):
    ``{"q": midpoints, "density": dx/dq on the pieces of positive length (0 where x is flat),
    "atoms": [(q, weight), ...]}``; the weights and the integral of the density add up to
    x(1) - x(0) (= 1 at T > 0)."""
    q = np.asarray(profile["q"], dtype=float)
    x = np.asarray(profile["x"], dtype=float)
    if q.shape != x.shape or q.ndim != 1 or len(q) < 2:
        raise ReplicasymError("a profile needs matching 'q' and 'x' lists with at least two points")
    dq, dx = np.diff(q), np.diff(x)
    atoms = [(float(q[i]), float(dx[i])) for i in np.flatnonzero((dq <= tol) & (np.abs(dx) > tol))]
    if x[0] > tol:  # x jumps from 0 at the first point
        atoms.insert(0, (float(q[0]), float(x[0])))
    seg = dq > tol
    return {"q": (0.5 * (q[1:] + q[:-1]))[seg], "density": (dx[seg] / dq[seg]), "atoms": atoms,
            "edges": np.stack([q[:-1][seg], q[1:][seg]], axis=1)}


def plot_parisi(solution, path: str | None = None):
    """Figure with x(q) (left) and P(q) (right) of ``solution`` (a Solution or its dict); saved to
    ``path`` when given.  Returns the matplotlib figure."""
    data = solution.as_dict() if hasattr(solution, "as_dict") else dict(solution)
    profile = data.get("profile")
    if not profile:
        raise ReplicasymError("this solution has no Parisi function (profile): solve a k-RSB or frsb ansatz")
    plt = _pyplot()
    dist = overlap_distribution(profile)
    fig, (ax_x, ax_p) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax_x.plot(profile["q"], profile["x"], color="C0")
    ax_x.set_xlabel("q")
    ax_x.set_ylabel("x(q)" if data.get("T") not in (0, 0.0) else r"$\alpha(q) = \lim\ \beta x(q)$")
    ax_x.set_xlim(0, 1)
    for (a, b), d in zip(dist["edges"], dist["density"]):
        ax_p.plot([a, b], [d, d], color="C1")
    width = 0.01
    for qa, w in dist["atoms"]:
        ax_p.bar(qa, w, width=width, color="C3", alpha=0.7)
        ax_p.annotate(f"{w:.3g}", (qa, w), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
    ax_p.set_xlabel("q")
    ax_p.set_ylabel("P(q): density, atoms (bars: weight)")
    ax_p.set_xlim(0, 1)
    fig.suptitle(f"{data.get('model', '')} {data.get('ansatz', '')}  T = {data.get('T')}")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def plot_k_extrapolation(result: dict, path: str | None = None, label: str = "value"):
    """k-RSB values against 1/k and the extrapolated k -> oo value with its error bar
    (``result`` = ``{"value", "error", "ks", "values"}``).  Returns the matplotlib figure."""
    plt = _pyplot()
    ks = np.asarray(result["ks"], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(1 / ks, result["values"], "o-", color="C0", label="k-RSB")
    ax.errorbar([0.0], [result["value"]], yerr=[result["error"]], fmt="s", color="C3", capsize=4,
                label=r"$k\to\infty$")
    ax.set_xlabel("1/k")
    ax.set_ylabel(label)
    ax.legend()
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig
