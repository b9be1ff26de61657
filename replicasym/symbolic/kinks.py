r"""Where an expression stops being smooth in one variable: the kinks and jumps of piecewise activations.

ReLU (``Max(0, x)``), leaky ReLU, |x|, and user activations built from ``max``, ``min``, ``abs``, ``sign``,
``Heaviside`` or a ``Piecewise`` are smooth except where the argument of such a node vanishes (or two
arguments of a Max/Min tie).  Quadrature rules that put those points on panel ends converge geometrically;
rules that ignore them converge only like a power of the node spacing
(:mod:`replicasym.solvers.layer_quadrature`, :mod:`replicasym.solvers.envelope_quadrature`).
"""
from __future__ import annotations

import sympy as sp

__all__ = ["NONSMOOTH", "nonsmooth_gaps"]

#: the SymPy functions whose argument's zeros are kinks (or jumps)
NONSMOOTH = (sp.Max, sp.Min, sp.Abs, sp.sign, sp.Heaviside, sp.Piecewise)


def nonsmooth_gaps(expr: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """The distinct expressions whose zeros (in ``var``) are the points where ``expr`` may fail to be smooth in
    ``var``: the arguments of |.|, sign and Heaviside, the pairwise differences of the arguments of Max/Min,
    and ``lhs - rhs`` of a Piecewise's conditions; only nodes that depend on ``var``."""
    gaps: list[sp.Expr] = []
    for node in sp.preorder_traversal(expr):
        if not (isinstance(node, NONSMOOTH) and node.has(var)):
            continue
        if isinstance(node, (sp.Max, sp.Min)):
            new = [a - b for i, a in enumerate(node.args) for b in node.args[i + 1:]]
        elif isinstance(node, sp.Piecewise):
            new = [c.lhs - c.rhs for _, c in node.args if isinstance(c, sp.core.relational.Relational)]
        else:
            new = [node.args[0]]
        gaps += [g for g in (sp.expand(g) for g in new) if g.has(var) and g not in gaps]
    return gaps
