r"""Spherical mixed p-spin glass.

:math:`x\in S^{N-1}(\sqrt N)`, Gaussian Hamiltonian with :math:`\mathbb E[H(x)H(y)] = N\xi(x\cdot y/N)`.
Pure p-spin: :math:`\xi(q) = q^p/2` (DESIGN.md conventions; Crisanti & Sommers, Z. Phys. B 87 (1992) 341).
"""
from __future__ import annotations

import sympy as sp

from ..errors import ParameterError
from ..parsing import parse_expression
from .spec import OVERLAP, ModelSpec

__all__ = ["spherical"]


def spherical(xi: str | sp.Expr | None = None, p: int | None = None) -> ModelSpec:
    """Spherical mixed p-spin model with covariance ``xi`` (an expression in ``q``) or pure ``p``-spin.

    ``xi`` may be a SymPy expression in the symbol ``q`` or a string parsed by the whitelist parser.
    """
    if (xi is None) == (p is None):
        raise ParameterError("spherical: give exactly one of xi=... (an expression in q) or p=...")
    if p is not None:
        if isinstance(p, bool) or not float(p).is_integer() or int(p) < 2:
            raise ParameterError(f"spherical: p must be an integer >= 2, got {p!r}")
        p = int(p)
        expr = OVERLAP**p / 2
        options = {"p": p}
    else:
        if isinstance(xi, str):
            expr = parse_expression(xi, variables=("q",))
            expr = expr.subs(sp.Symbol("q"), OVERLAP)
        else:
            expr = sp.sympify(xi).subs(sp.Symbol("q"), OVERLAP)
        options = {"xi": str(expr)}
    _check_covariance(expr)
    return ModelSpec(name="spherical", spins="spherical", xi=expr, options=options,
                     description=f"spherical mixed p-spin, xi(q) = {sp.sstr(expr)}")


def _check_covariance(expr: sp.Expr) -> None:
    q = OVERLAP
    if expr.free_symbols - {q}:
        raise ParameterError(f"xi must be an expression in q only, got {expr}")
    if not expr.has(q):
        raise ParameterError(f"xi must depend on q, got {expr}")
    try:
        v1 = float(expr.subs(q, 1))
        d1 = float(sp.diff(expr, q).subs(q, 1))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"xi(q) = {expr} cannot be evaluated at q = 1") from exc
    if not (v1 > 0 and d1 > 0):
        raise ParameterError(f"xi must be a covariance: need xi(1) > 0 and xi'(1) > 0, got {v1}, {d1}")
