"""The numbers a solve returns, and their JSON form (DESIGN.md, ``solve --json``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import mpmath

from .errors import ParameterError

__all__ = ["Solution", "check_precision", "number"]

#: the working precisions the mpmath paths accept, in significant digits
PRECISION_RANGE = (10, 1000)


def check_precision(precision) -> int | None:
    """``precision`` (digits) validated, or None for double precision."""
    if precision is None:
        return None
    try:
        p = int(precision)
    except (TypeError, ValueError):
        raise ParameterError(f"precision must be a number of digits, got {precision!r}") from None
    lo, hi = PRECISION_RANGE
    if not lo <= p <= hi:
        raise ParameterError(f"precision must be between {lo} and {hi} digits, got {p}")
    return p


def number(x, digits: int | None = None):
    """A JSON-ready number: float in double precision, a string of digits beyond it, None for None."""
    if x is None:
        return None
    if digits is not None and digits > 15:
        with mpmath.workdps(digits + 5):
            return mpmath.nstr(mpmath.mpf(x), digits, strip_zeros=False, min_fixed=-mpmath.inf,
                               max_fixed=mpmath.inf)
    return float(x)


@dataclass
class Solution:
    """One solved saddle point.

    ``T == 0`` is the ground state: ``energy`` is E_gs, ``free_entropy`` and ``entropy`` are None
    (Phi diverges like -beta E_gs) and ``order_parameters`` holds the rescaled variables
    (chi = beta(1 - q_k), y = beta m).
    """

    model: str
    params: dict
    ansatz: str
    T: object
    free_entropy: object
    energy: object
    entropy: object
    order_parameters: dict
    replicon: object
    converged: bool
    residual: object
    digits: int | None = None
    notes: list = field(default_factory=list)
    #: functional order parameters (full RSB: ``{"q": [...], "x": [...]}`` for the Parisi x(q)),
    #: or per-layer profiles; None when the solution is a finite set of numbers
    profile: dict | None = None

    def as_dict(self) -> dict:
        d = self.digits
        return {
            "model": self.model,
            "params": self.params,
            "ansatz": self.ansatz,
            "T": number(self.T, d),
            "free_entropy": number(self.free_entropy, d),
            "energy": number(self.energy, d),
            "entropy": number(self.entropy, d),
            "order_parameters": {k: number(v, d) for k, v in self.order_parameters.items()},
            "replicon": number(self.replicon, d),
            "converged": bool(self.converged),
            "residual": number(self.residual, None if d is None else 6),
            "notes": list(self.notes),
            **({"profile": {k: [number(v, d) for v in vals] for k, vals in self.profile.items()}}
               if self.profile else {}),
        }
