r"""One entry point for the kernel :math:`\partial_c^j\,\mathbb{E}[\sigma(u)\sigma(v)]` of an activation.

``method="auto"`` uses the closed form of :func:`.closed_forms.derive_kernel` when there is one;
otherwise Gauss--Hermite quadrature of Price's :math:`\mathbb{E}[\sigma^{(j)}(u)\sigma^{(j)}(v)]`
when :math:`\sigma^{(j)}` is a function, and the Hermite series when it is a distribution
(``max(x,0)**2`` has :math:`\sigma''' = 2\delta`).  ``precision`` (digits) switches to mpmath.
"""
from __future__ import annotations

import functools

import mpmath
import numpy as np
import sympy as sp

from ..errors import ParameterError
from .activations import Activation, activation
from .closed_forms import S1, S2, C, KernelDerivation, derive_kernel
from .quadrature import _pair_arrays, gauss_hermite_kernel, hermite_kernel, mpmath_kernel

__all__ = ["METHODS", "kernel", "kernel_derivation"]

METHODS = ("auto", "closed", "quadrature", "hermite", "mpmath")


@functools.lru_cache(maxsize=128)
def _cached_derivation(act: Activation) -> KernelDerivation:
    return derive_kernel(act, derivatives=3)


def kernel_derivation(act: str | Activation) -> KernelDerivation:
    """The (memoised) symbolic kernel derivation of an activation (name, expression or object)."""
    return _cached_derivation(activation(act))


def kernel(act: str | Activation, s1, s2, c, derivative: int = 0, method: str = "auto",
           precision: int | None = None, nodes: int = 64):
    r""":math:`\partial_c^j K(s_1,s_2,c)=\mathbb{E}[\sigma^{(j)}(u)\sigma^{(j)}(v)]` (Price's theorem).

    Vectorized over numpy arrays ``s1, s2, c`` (except ``method="hermite"``, scalar variances, and
    ``"mpmath"``/``precision``, scalars, returning an ``mpmath.mpf``)."""
    act = activation(act)
    if method not in METHODS:
        raise ParameterError(f"unknown kernel method {method!r}; use one of {', '.join(METHODS)}")
    if not 0 <= int(derivative) <= 6:
        raise ParameterError(f"derivative order must be between 0 and 6, got {derivative}")
    kd = kernel_derivation(act)
    if method == "auto":
        method = ("closed" if kd.closed else "mpmath" if precision is not None
                  else "quadrature" if act.is_evaluable(derivative) else "hermite")
    if method == "closed":
        expr = kd.derivative(derivative)
        if expr is None:
            raise ParameterError(f"activation {act.name!r} has no closed-form kernel; use quadrature")
        if precision is None:
            s1, s2, c = _pair_arrays(s1, s2, c)
            with np.errstate(divide="ignore"):  # relu'' = delta diverges at |c| = sqrt(s1 s2)
                return kd.numpy(derivative)(s1, s2, c)
        with mpmath.workdps(int(precision) + 10):
            f = sp.lambdify((S1, S2, C), expr, modules="mpmath")
            return +f(*(mpmath.mpf(str(v)) for v in (s1, s2, c)))
    if method == "hermite":
        return hermite_kernel(act.numpy(), s1, s2, c, derivative)
    f = act.numpy(derivative) if method == "quadrature" else act.mpmath(derivative)
    if method == "quadrature":
        return gauss_hermite_kernel(f, s1, s2, c, n=nodes)
    return mpmath_kernel(f, s1, s2, c, digits=int(precision or 30))
