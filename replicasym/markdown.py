"""Markdown pieces shared by the derivation documents (``derivations/*.md``)."""
from __future__ import annotations

import sympy as sp

__all__ = ["latex_block", "results_markdown"]


def latex_block(tex: str) -> list[str]:
    """A displayed equation: ``$$ tex $$`` and a blank line."""
    return ["$$", tex, "$$", ""]


def results_markdown(d) -> list[str]:
    r"""The free entropy :math:`\Phi`, the saddle-point equations and the replicon of a
    :class:`~replicasym.derivation.Derivation`, as markdown lines with displayed LaTeX."""
    out = ["Free entropy:", ""]
    out += latex_block(r"\Phi = " + sp.latex(d.free_entropy))
    out += ["Saddle-point equations:", ""]
    for eq in d.equations:
        out += latex_block(sp.latex(eq))
    out += ["Replicon (stable where positive):", ""]
    out += latex_block(r"\lambda_R = " + sp.latex(d.replicon))
    return out
