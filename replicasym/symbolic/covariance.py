r"""Covariance functions known numerically: :math:`\xi(q)` as an opaque SymPy function.

A random network's Hamiltonian in the infinite-width limit is a Gaussian field with
:math:`\mathbb E[H(x)H(y)] = N\xi(x\cdot y/N)`, where :math:`\xi = K^{(L+1)}` is the NNGP kernel
(:mod:`replicasym.kernels.deep`).  For most activations (tanh, user expressions) :math:`\xi` has no
closed form, and even when it has one (ReLU, erf, sin) its depth-L composition is a large
expression.  The engine does not need it: every step of the derivation (disorder average, Parisi
sums, :math:`n\to0`, stationarity, replicon, :math:`T\to0`) only differentiates :math:`\xi` and
evaluates it at the overlaps.  So :math:`\xi` enters the derivation as an opaque function
:math:`\xi(q)` whose derivatives are the functions :math:`\xi', \xi'', \dots` of the same family
(``fdiff``), printed as :math:`\xi^{(j)}(q)` in LaTeX and as calls to the module's ``_xi(j, q)`` in
generated code, where the kernel object evaluates them (closed form or Hermite series).

A kernel object given to :func:`covariance_function` provides

* ``key`` -- a string that identifies it (it enters ``srepr`` and so every cache key);
* ``__call__(q, order)`` -- numpy array ``[xi, xi', ..., xi^(order)]`` at ``q``;
* ``source()`` -- Python source of an expression that rebuilds it in a generated module, and
  ``imports`` -- the import lines that expression needs;
* ``mpmath(order)`` -- an mpmath callable for :math:`\xi^{(order)}`, or ``None`` when it is only known
  in double precision.
"""
from __future__ import annotations

import hashlib
import math

import mpmath
import sympy as sp
from mpmath.libmp import prec_to_dps

__all__ = ["CovarianceFunction", "covariance_function", "covariance_kernels", "explicit", "numeric_covariances", "require_precision"]

_CLASSES: dict = {}


class CovarianceFunction(sp.Function):
    r""":math:`\xi^{(j)}(q)` for one numerically known covariance function (class attributes
    ``kernel`` and ``order`` = j)."""

    nargs = 1
    kernel = None
    order = 0
    is_real = True

    def fdiff(self, argindex=1):
        return covariance_function(self.kernel, self.order + 1)(self.args[0])

    def _eval_evalf(self, prec):
        arg = self.args[0].evalf(prec)
        if not arg.is_number:
            return None
        if not -1 <= arg <= 1:
            return None
        mp = self.kernel.mpmath(self.order) if prec > 53 else None
        if mp is not None:
            try:
                with mpmath.workprec(prec):
                    return sp.Float(mp(mpmath.mpf(str(arg))), prec_to_dps(prec))
            except (ZeroDivisionError, ValueError):  # a removable singularity (e.g. ReLU at q = 1)
                pass
        value = float(self.kernel(float(arg), self.order)[self.order])
        if math.isinf(value):  # a divergent derivative (ReLU: xi''(1) = oo)
            return sp.oo if value > 0 else -sp.oo
        if math.isnan(value):
            return None
        return sp.Float(value, min(15, prec_to_dps(prec)))

    def _latex(self, printer, exp=None):
        j = self.order
        mark = "'" * j if j <= 3 else f"^{{({j})}}"
        tex = rf"\xi{mark}\left({printer._print(self.args[0])}\right)"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _code(self, printer):
        # generated modules define _xi(j, q) from the kernel's source() (see codegen.render)
        return f"_xi({self.order}, {printer._print(self.args[0])})"

    _numpycode = _mpmathcode = _code

    def _sympystr(self, printer):
        return f"xi{chr(39) * self.order}({printer._print(self.args[0])})"


def covariance_function(kernel, order: int = 0) -> type:
    r"""The SymPy function class of :math:`\xi^{(order)}` for ``kernel`` (memoised, so that equal
    kernels give identical classes and derivatives close on the family)."""
    key = (kernel.key, int(order))
    if key not in _CLASSES:
        tag = hashlib.sha256(kernel.key.encode()).hexdigest()[:10]
        _CLASSES[key] = type(f"xi_{tag}_d{order}", (CovarianceFunction,),
                             {"kernel": kernel, "order": int(order)})
    return _CLASSES[key]


def covariance_kernels(exprs) -> list:
    """The distinct kernels of the covariance functions in ``exprs`` (first appearance order)."""
    out: dict = {}
    for e in exprs:
        if not isinstance(e, sp.Basic):
            continue
        for f in sorted(e.atoms(CovarianceFunction), key=sp.default_sort_key):
            out.setdefault(f.kernel.key, f.kernel)
    return list(out.values())


def explicit(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with every :math:`\xi^{(j)}(q)` whose kernel has a closed form replaced by that
    closed form (exact rationals; e.g. a linear network's :math:`\xi = C_W^{L+1}q + \text{const}`)."""
    q = sp.Symbol("q", real=True)
    reps = {}
    for f in expr.atoms(CovarianceFunction):
        closed = f.kernel.symbolic(exact=True)
        if closed is not None:
            reps[f] = sp.diff(closed, q, f.order).subs(q, f.args[0])
    return expr.xreplace(reps)


def numeric_covariances(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with every :math:`\xi^{(j)}(a)` at a number a replaced by its value (``oo`` where it
    diverges, e.g. ReLU's :math:`\xi''(1)`), so that SymPy's arithmetic with infinities applies."""
    reps = {}
    for f in expr.atoms(CovarianceFunction):
        if f.args[0].is_number:
            value = float(f.kernel(float(f.args[0]), f.order)[f.order])
            reps[f] = (sp.oo if value > 0 else -sp.oo) if math.isinf(value) else sp.Float(value)
    return expr.xreplace(reps)


def require_precision(exprs, digits: int | None) -> None:
    """Raise ParameterError when ``digits`` > 15 is asked of expressions whose covariance function is
    known in double precision only (no closed-form kernel)."""
    from ..errors import ParameterError
    if digits is None or digits <= 15:
        return
    for kernel in covariance_kernels(exprs):
        if kernel.mpmath(0) is None:
            raise ParameterError(f"precision {digits}: the covariance of this model ({kernel.key.split(',')[0]})) "
                                 "has no closed form and is known in double precision only; omit --precision")
