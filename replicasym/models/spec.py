r"""What a model module hands to the engine: the system, not its equations.

A :class:`ModelSpec` says which variables live on each site (``"spherical"``: x on
:math:`S^{N-1}(\sqrt N)` with the uniform probability measure; ``"ising"``: s in {±1}^N with the
counting measure), the covariance of the Gaussian Hamiltonian,
:math:`\mathbb E[H(x)H(y)] = N\,\xi(x\cdot y/N)` as a SymPy expression in the overlap symbol, and an
optional uniform external field, :math:`-\beta H \ni \beta h\sum_i s_i`.
Everything else (disorder average, overlaps, ansatz, n -> 0, equations) is the engine's job.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import sympy as sp

__all__ = ["ModelSpec", "OVERLAP"]

#: The overlap symbol in which every covariance function xi is written.
OVERLAP = sp.Symbol("q", real=True)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    spins: str
    xi: sp.Expr
    field: sp.Expr = sp.S.Zero
    params: tuple = ()
    values: dict = dataclasses.field(default_factory=dict)
    description: str = ""
    options: dict = dataclasses.field(default_factory=dict)
    #: how the model itself was built (e.g. a network's kernel map), prepended to every derivation
    steps: tuple = dataclasses.field(default=(), compare=False)

    def __post_init__(self):
        if self.spins not in ("spherical", "ising"):
            raise ValueError(f"unknown spin type {self.spins!r}: use 'spherical' or 'ising'")
        extra = self.xi.free_symbols - {OVERLAP} - set(self.params)
        if extra:
            raise ValueError(f"xi may depend only on q and declared parameters, found {sorted(map(str, extra))}")

    @property
    def overlap(self) -> sp.Symbol:
        return OVERLAP

    def xi_of(self, x: sp.Expr) -> sp.Expr:
        """xi evaluated at overlap ``x``."""
        return self.xi.subs(OVERLAP, x)

    def xi_numpy(self, order: int = 0):
        r"""Vectorised numpy function of :math:`\xi^{(order)}(q)` (parameters at their values)."""
        from ..symbolic.covariance import CovarianceFunction
        expr = self.xi.subs(self.values)
        funcs = expr.atoms(CovarianceFunction)
        if funcs and expr == next(iter(funcs)):  # xi known numerically (a kernel map)
            kernel = next(iter(funcs)).kernel
            return lambda q: kernel(q, order, strict=False)[order]
        f = sp.lambdify(OVERLAP, sp.diff(expr, OVERLAP, order), modules="numpy")
        return lambda q: np.broadcast_to(f(np.asarray(q, dtype=float)), np.shape(q)).astype(float)

    def public_params(self) -> dict:
        """The parameters as the user gave them (for JSON output)."""
        return dict(self.options)
