r"""Temperature scans with continuation.

Every temperature is solved by one batched Newton run over the multi-start grid plus the previous
temperature's solution (continuation in T): the branch found at the previous point is followed even
where the grid would miss it, and the Parisi choice between branches is re-made at every point, so a
first-order change of solution is not missed.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParameterError
from ..progress import progress as _progress
from ..solution import Solution
from .thermo import solve

__all__ = ["scan"]


def scan(model, ansatz: str = "auto", T: Sequence[float] = (), precision=None,
         progress: bool | None = None) -> list[Solution]:
    """Solve ``model`` at every temperature in ``T`` (see the module docstring).

    ``progress``: a progress bar on stderr (:func:`replicasym.progress.progress`; None: only in an
    interactive terminal)."""
    T = list(T)
    if not T:
        raise ParameterError("scan needs at least one temperature")
    out: list[Solution] = []
    for t in _progress(T, desc=f"scan {getattr(model, 'name', '')}".strip(), enabled=progress):
        start = out[-1].order_parameters if out and out[-1].T != 0 else None
        out.append(solve(model, T=t, ansatz=ansatz, precision=precision, start=start))
    return out
