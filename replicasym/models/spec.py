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
import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

__all__ = ["MAX_DEGREE", "OVERLAP", "ModelSpec", "check_covariance", "covariance_expression"]

#: The overlap symbol in which every covariance function xi is written.
OVERLAP = sp.Symbol("q", real=True)

#: the largest power of q (and polynomial degree) of a typed covariance function xi: the pipeline
#: expands powers of q_k = 1 - chi/beta and factors the stationarity conditions, so its cost grows
#: with the degree (p = 100: ~4 s for 1RSB; q**1000 does not finish)
MAX_DEGREE = 100

#: functions that make xi non-smooth (a covariance is a power series in q)
_NON_SMOOTH = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min, sp.DiracDelta, sp.Piecewise, sp.floor,
               sp.ceiling)


def covariance_expression(xi, who: str) -> sp.Expr:
    """``xi`` (a string for the whitelist parser, or a SymPy expression / number) as an expression
    in :data:`OVERLAP`; never ``sympify`` of text."""
    from ..errors import ParameterError
    from ..parsing import parse_expression

    if isinstance(xi, str):
        expr = parse_expression(xi, variables=(OVERLAP,))
    else:
        try:
            expr = sp.sympify(xi, strict=True)
        except (sp.SympifyError, TypeError, ValueError):
            raise ParameterError(f"{who}: xi must be an expression in q (a string or a SymPy expression), "
                                 f"got {type(xi).__name__}") from None
        if not isinstance(expr, sp.Expr):
            raise ParameterError(f"{who}: xi must be a scalar expression in q, got {type(expr).__name__}")
    return expr.subs(sp.Symbol("q"), OVERLAP)


def check_covariance(expr: sp.Expr, who: str) -> None:
    r"""Raise :class:`~replicasym.errors.ParameterError` unless ``expr`` can be the covariance
    :math:`\xi(q)` of a Gaussian Hamiltonian, :math:`\mathbb E[H(x)H(y)] = N\xi(x\cdot y/N)`.

    A covariance on spheres of every dimension is a power series with non-negative coefficients,
    :math:`\xi(q)=\sum_p a_p q^p`, :math:`a_p\ge 0` (Schoenberg, Duke Math. J. 9 (1942) 96).
    Checked: xi depends on q only, is smooth (no abs/max/sign/Heaviside/E), has powers of q of
    degree <= :data:`MAX_DEGREE`; a polynomial has coefficients >= 0; any other xi is real and finite
    with its first three derivatives on [-1, 1], has derivatives >= 0 at q = 0 up to order 4 and
    satisfies Cauchy--Schwarz, :math:`|\xi(q)|\le\xi(1)`; and :math:`\xi(1) > 0`,
    :math:`\xi'(1) > 0`."""
    import mpmath

    from ..errors import ParameterError
    from ..symbolic.gaussian import GaussianExpectation

    q = OVERLAP
    if expr.free_symbols - {q}:
        raise ParameterError(f"{who}: xi must be an expression in q only, got {expr}")
    if not expr.has(q):
        raise ParameterError(f"{who}: xi must depend on q, got {expr}")
    if expr.has(GaussianExpectation, *_NON_SMOOTH):
        raise ParameterError(f"{who}: xi must be smooth in q (a power series with coefficients >= 0); "
                             f"abs, max, min, sign, Heaviside and E(...) are not allowed, got {expr}")
    for pw in expr.atoms(sp.Pow):
        if pw.base.has(q) and pw.exp.is_Number and abs(pw.exp) > MAX_DEGREE:
            raise ParameterError(f"{who}: xi has the power {pw.exp} of an expression in q; the symbolic "
                                 f"pipeline supports degrees up to {MAX_DEGREE}")
    if expr.is_polynomial(q):
        poly = sp.Poly(expr, q)
        if poly.degree() > MAX_DEGREE:
            raise ParameterError(f"{who}: xi has degree {poly.degree()} in q; the symbolic pipeline "
                                 f"supports degrees up to {MAX_DEGREE}")
        for (k,), c in poly.terms():
            if not (c.is_real and c.is_finite and c >= 0):
                raise ParameterError(f"{who}: xi(q) = sum_p a_p q^p is a covariance only with every "
                                     f"a_p >= 0 (Schoenberg); the coefficient of q^{k} is {c}")
    else:
        _check_smooth_covariance(expr, who, mpmath)
    try:
        v1 = float(expr.subs(q, 1))
        d1 = float(sp.diff(expr, q).subs(q, 1))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParameterError(f"{who}: xi(q) = {expr} cannot be evaluated at q = 1") from exc
    if not (0 < v1 < math.inf and 0 < d1 < math.inf):
        raise ParameterError(f"{who}: xi must be a covariance: need xi(1) > 0 and xi'(1) > 0, got {v1}, {d1}")


def _check_smooth_covariance(expr: sp.Expr, who: str, mpmath) -> None:
    """The numerical part of :func:`check_covariance` for an xi that is not a polynomial."""
    from ..errors import ParameterError

    q = OVERLAP
    derivs = [expr]
    for _ in range(4):
        derivs.append(sp.diff(derivs[-1], q))
    funcs = [sp.lambdify(q, f, modules="mpmath") for f in derivs]
    with mpmath.workdps(20):
        def value(j, x):
            try:
                v = funcs[j](mpmath.mpf(x))
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                v = None
            if not (isinstance(v, (mpmath.mpf, int, float)) and mpmath.isfinite(v)):
                raise ParameterError(f"{who}: xi(q) = {expr} and its first three derivatives must be "
                                     f"real and finite for -1 <= q <= 1; {'xi' + chr(39) * j}({x}) is not")
            return v
        top = value(0, 1)
        for i in range(41):
            x = sp.Rational(i - 20, 20)
            for j in range(4):
                v = value(j, x)
                if j == 0 and abs(v) > top * (1 + mpmath.mpf(10) ** -12):
                    raise ParameterError(f"{who}: |xi(q)| <= xi(1) must hold (Cauchy-Schwarz), but "
                                         f"xi({x}) = {mpmath.nstr(v, 6)}, xi(1) = {mpmath.nstr(top, 6)}")
        for j in range(5):
            try:
                v = funcs[j](mpmath.mpf(0))
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                continue
            if isinstance(v, mpmath.mpf) and mpmath.isfinite(v) and v < -mpmath.mpf(10) ** -12:
                raise ParameterError(f"{who}: xi(q) = sum_p a_p q^p is a covariance only with every a_p >= 0 "
                                     f"(Schoenberg); the derivative of order {j} at q = 0 is {mpmath.nstr(v, 6)}")


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
