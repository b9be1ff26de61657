r"""Spherical mixed p-spin glass.

:math:`x\in S^{N-1}(\sqrt N)`, Gaussian Hamiltonian with :math:`\mathbb E[H(x)H(y)] = N\xi(x\cdot y/N)`.
Pure p-spin: :math:`\xi(q) = q^p/2` (DESIGN.md conventions; Crisanti & Sommers, Z. Phys. B 87 (1992) 341).
"""
from __future__ import annotations

import sympy as sp

from ..errors import ParameterError
from .spec import MAX_DEGREE, OVERLAP, ModelSpec, check_covariance, covariance_expression

__all__ = ["spherical"]


def spherical(xi: str | sp.Expr | None = None, p: int | None = None) -> ModelSpec:
    """Spherical mixed p-spin model with covariance ``xi`` (an expression in ``q``) or pure ``p``-spin.

    ``xi`` may be a SymPy expression in the symbol ``q`` or a string parsed by the whitelist parser.
    """
    if (xi is None) == (p is None):
        raise ParameterError("spherical: give exactly one of xi=... (an expression in q) or p=...")
    if p is not None:
        try:
            ok = not isinstance(p, bool) and float(p).is_integer() and 2 <= int(p) <= MAX_DEGREE
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise ParameterError(f"spherical: p must be an integer between 2 and {MAX_DEGREE}, got {p!r}")
        p = int(p)
        expr = OVERLAP**p / 2
        options = {"p": p}
    else:
        expr = covariance_expression(xi, "spherical")
        options = {"xi": str(expr)}
    check_covariance(expr, "spherical")
    return ModelSpec(name="spherical", spins="spherical", xi=expr, options=options,
                     description=f"spherical mixed p-spin, xi(q) = {sp.sstr(expr)}")

