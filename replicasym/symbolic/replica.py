r"""Parisi-structured replica matrices and the hierarchical decoupling.

A :class:`ParisiMatrix` with ``k`` levels is the :math:`n\times n` matrix

.. math::  Q = (q_d - q_k)\,I + \sum_{i=0}^{k} (q_i - q_{i-1})\, B_{m_i},\qquad q_{-1}=0,

with :math:`B_{m}` the block-diagonal matrix of all-ones blocks of size :math:`m` and block
sizes :math:`n = m_0 \ge m_1 \ge \dots \ge m_k \ge m_{k+1} = 1` (Parisi 1980; Mézard, Parisi &
Virasoro, *Spin Glass Theory and Beyond*, ch. III).  RS is ``k = 0``, 1RSB ``k = 1``; nothing
here depends on ``k``, so k-RSB is the same class and full RSB its ``k -> oo`` limit.

Every replica sum becomes a sum over levels with multiplicities polynomial in ``n``:

* :meth:`ParisiMatrix.sum` -- :math:`\sum_{ab} f(Q_{ab}) = n\,[f(q_d) + \sum_i (m_i-m_{i+1}) f(q_i)]`;
* :meth:`ParisiMatrix.eigenvalues` -- on the space of vectors constant on :math:`m_j` blocks and
  summing to zero on :math:`m_{j-1}` blocks (dimension :math:`n/m_j - n/m_{j-1}`), the eigenvalue
  is :math:`\lambda_j = q_d - q_k + \sum_{i=j}^{k} m_i (q_i - q_{i-1})`;
* :meth:`ParisiMatrix.logdet` -- :math:`\log\det Q = \sum_j \mathrm{mult}_j \log\lambda_j`.

:func:`hierarchical_decoupling` is the engine's central rule (DESIGN.md): a Parisi-structured
quadratic tilt :math:`\tfrac12\sum_{a\ne b}\Lambda_{ab}s_a s_b` is decoupled level by level with
Hubbard--Stratonovich fields,
:math:`\sum_{a\ne b}\Lambda_{ab}s_as_b = \sum_i(\Lambda_i-\Lambda_{i-1})\sum_{B\in\mathcal B_{m_i}}(\sum_{a\in B}s_a)^2 - \Lambda_k\sum_a s_a^2`,
after which the replica product factorises over nested blocks:
:math:`L_{k+1} = \log Z_{\rm site}(u)`, :math:`L_i = \frac{1}{m_i}\log\mathbb E_{z_i} e^{m_i L_{i+1}}`,
and :math:`\log \mathrm{Tr}\, e^{\dots} = \log \mathbb E_{z_0} e^{n L_1}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

from .gaussian import E

__all__ = ["ParisiMatrix", "parisi", "hierarchical_decoupling", "log_expect_exp"]


@dataclass(frozen=True)
class ParisiMatrix:
    """A replica matrix in Parisi form: ``diagonal``, ``levels`` q_0..q_k, ``sizes`` m_1..m_k."""

    n: sp.Symbol
    diagonal: sp.Expr
    levels: tuple
    sizes: tuple

    def __post_init__(self):
        if len(self.sizes) != len(self.levels) - 1:
            raise ValueError("a Parisi matrix with k+1 levels needs k block sizes")

    @property
    def k(self) -> int:
        return len(self.levels) - 1

    def block_size(self, i: int) -> sp.Expr:
        """m_i with m_0 = n and m_{k+1} = 1."""
        if i == 0:
            return self.n
        if i == self.k + 1:
            return sp.S.One
        return self.sizes[i - 1]

    def multiplicity(self, i: int) -> sp.Expr:
        """Number of b != a with Q_ab = q_i, for any a: m_i - m_{i+1}."""
        return self.block_size(i) - self.block_size(i + 1)

    def offdiagonal_sum(self, f: Callable[[sp.Expr], sp.Expr]) -> sp.Expr:
        r""":math:`\sum_{a\ne b} f(Q_{ab}) = n\sum_i (m_i - m_{i+1}) f(q_i)`."""
        return self.n * sp.Add(*[self.multiplicity(i) * f(q) for i, q in enumerate(self.levels)])

    def sum(self, f: Callable[[sp.Expr], sp.Expr]) -> sp.Expr:
        r""":math:`\sum_{ab} f(Q_{ab})`, diagonal included."""
        return self.n * f(self.diagonal) + self.offdiagonal_sum(f)

    def elementwise(self, other: "ParisiMatrix", op: Callable) -> "ParisiMatrix":
        """The Parisi matrix with entries op(self_ab, other_ab) (same block sizes)."""
        if other.sizes != self.sizes or other.n != self.n:
            raise ValueError("elementwise operations need the same replica structure")
        return ParisiMatrix(self.n, op(self.diagonal, other.diagonal),
                            tuple(op(a, b) for a, b in zip(self.levels, other.levels)), self.sizes)

    def eigenvalues(self) -> list[tuple[sp.Expr, sp.Expr]]:
        """(eigenvalue, multiplicity) pairs, from the replica-symmetric mode j = 0 to the
        replicon-like mode j = k+1 (eigenvalue q_d - q_k)."""
        out = []
        k = self.k
        for j in range(k + 2):
            lam = self.diagonal - self.levels[k]
            for i in range(j, k + 1):
                prev = self.levels[i - 1] if i >= 1 else sp.S.Zero
                lam += self.block_size(i) * (self.levels[i] - prev)
            mult = sp.S.One if j == 0 else self.n / self.block_size(j) - self.n / self.block_size(j - 1)
            out.append((sp.expand(lam), sp.expand(mult)))
        return out

    def logdet(self) -> sp.Expr:
        r""":math:`\log\det Q = \sum_j \mathrm{mult}_j\,\log\lambda_j`."""
        return sp.Add(*[mult * sp.log(lam) for lam, mult in self.eigenvalues()])

    def explicit(self, n_value: int, size_values: Sequence[int]) -> sp.Matrix:
        """The explicit matrix for an integer n and integer block sizes (for tests)."""
        sizes = [n_value, *size_values, 1]

        def level(a, b):
            if a == b:
                return None
            lev = 0
            for i in range(1, self.k + 1):
                if a // sizes[i] == b // sizes[i]:
                    lev = i
            return lev
        return sp.Matrix(n_value, n_value,
                         lambda a, b: self.diagonal if a == b else self.levels[level(a, b)])


def parisi(n: sp.Symbol, diagonal, levels: Sequence, sizes: Sequence = ()) -> ParisiMatrix:
    """Build a :class:`ParisiMatrix` (``levels`` q_0..q_k, ``sizes`` m_1..m_k)."""
    return ParisiMatrix(n, sp.sympify(diagonal), tuple(sp.sympify(q) for q in levels),
                        tuple(sp.sympify(m) for m in sizes))


def log_expect_exp(A: sp.Expr, z: sp.Symbol, *shared: sp.Symbol) -> sp.Expr:
    r""":math:`\log\mathbb E_z e^{A} = c + \log\mathbb E_z e^{A - c}` with ``c`` the ``z``-free part
    of ``A`` (a constant factor leaves the expectation).  ``shared``: further independent Gaussian
    fields averaged together with ``z`` (outside it): :math:`\log\mathbb E_{s}\mathbb E_z e^{A}`."""
    A = sp.expand(A)
    c, rest = A.as_independent(z, *shared, as_Add=True)
    if rest == 0:
        return c
    avg = E(sp.exp(rest), z)
    for s in shared:
        avg = E(avg, s)
    return c + sp.log(avg)


def hierarchical_decoupling(lam: ParisiMatrix, site_log: Callable[[sp.Expr], sp.Expr],
                            field: sp.Expr, fields: Sequence[sp.Symbol],
                            shared: Sequence[Sequence[sp.Symbol]] = ()) -> tuple[sp.Expr, list]:
    r"""Decouple :math:`\log\mathrm{Tr}_{\{s_a\}}\exp(\tfrac12\sum_{a\ne b}\Lambda_{ab}s_as_b + \sum_a u_0 s_a)`.

    ``site_log(u)`` is :math:`\log\sum_s e^{u s - \Lambda_k s^2/2}` for one replica in the cavity
    field ``u``; ``field`` is the external part :math:`u_0`; ``fields`` are k+1 fresh Gaussian
    symbols z_0..z_k.  Returns ``(log_trace, L_levels)`` where
    ``log_trace`` :math:`= \log\mathbb E_{z_0} e^{n L_1}` (exact in n) and ``L_levels`` lists
    :math:`L_1,\dots,L_{k+1}`.

    ``shared`` (optional, one tuple per level): Gaussian fields that ``site_log`` depends on and that
    carry the **same** block structure, e.g. the level fields :math:`\xi_i` of Parisi-correlated
    pre-activations :math:`z_a = \sum_i\sqrt{\Sigma_i-\Sigma_{i-1}}\,\xi_i + \dots` in a layer
    (:mod:`~.layered`): a field of level i is common to the replicas of one :math:`m_i` block, so it is
    averaged together with :math:`z_i`, :math:`L_i = \frac1{m_i}\log\mathbb E_{\xi_i, z_i}e^{m_iL_{i+1}}`.
    """
    k = lam.k
    if len(fields) != k + 1:
        raise ValueError("one Hubbard-Stratonovich field per level is needed")
    shared = tuple(tuple(s) for s in shared) or ((),) * (k + 1)
    if len(shared) != k + 1:
        raise ValueError("shared fields: one tuple per level is needed")
    u = field
    for i in range(k + 1):
        prev = lam.levels[i - 1] if i >= 1 else sp.S.Zero
        u = u + sp.sqrt(lam.levels[i] - prev) * fields[i]
    L = site_log(u)
    levels = [L]
    for i in range(k, 0, -1):
        m = lam.block_size(i)
        L = log_expect_exp(m * L, fields[i], *shared[i]) / m
        levels.insert(0, L)
    log_trace = log_expect_exp(lam.n * L, fields[0], *shared[0])
    return log_trace, levels
