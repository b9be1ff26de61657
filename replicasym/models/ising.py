r"""Sherrington--Kirkpatrick model (Ising spins), optionally in a uniform field.

:math:`H = -\sum_{i<j}J_{ij}s_is_j - h\sum_i s_i`, :math:`J_{ij}\sim\mathcal N(0,1/N)`, so the
random part has covariance :math:`N\xi(q)` with :math:`\xi(q)=q^2/2` (up to O(1) terms);
Sherrington & Kirkpatrick, PRL 35 (1975) 1792.  A general ``xi`` gives the Ising mixed p-spin model.
"""
from __future__ import annotations

import math

import sympy as sp

from ..errors import ParameterError
from .spec import OVERLAP, ModelSpec, check_covariance, covariance_expression

__all__ = ["sk", "FIELD"]

#: The external field symbol.
FIELD = sp.Symbol("h", real=True)


def sk(h: float = 0.0, xi: str | sp.Expr | None = None) -> ModelSpec:
    """SK model (``xi = q**2/2``) or an Ising mixed p-spin model with covariance ``xi``, field ``h``."""
    try:
        h = float(h)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParameterError(f"sk: the field h must be a number, got {h!r}") from exc
    if not math.isfinite(h):
        raise ParameterError(f"sk: the field h must be finite, got {h}")
    if xi is None:
        expr = OVERLAP**2 / 2
    else:
        expr = covariance_expression(xi, "sk")
        check_covariance(expr, "sk")
    options = {"h": h} if xi is None else {"h": h, "xi": str(expr)}
    if h == 0.0:
        return ModelSpec(name="sk", spins="ising", xi=expr, options=options,
                         description=f"Ising spin glass, xi(q) = {sp.sstr(expr)}, no field")
    return ModelSpec(name="sk", spins="ising", xi=expr, field=FIELD, params=(FIELD,),
                     values={FIELD: h}, options=options,
                     description=f"Ising spin glass, xi(q) = {sp.sstr(expr)}, field h")
