"""Array backends of the simulation: numpy (the default, what the tests use) or cupy (optional GPU).

The simulation code is written against the numpy API through a module object ``xp``; cupy provides
the same API on a GPU and is imported only when ``backend="cupy"`` is asked for.  Disorder is always
drawn with numpy's generator on the host (so a seed gives the same samples on every backend) and
moved to the device once; observables are copied back to the host for the statistics.
"""
from __future__ import annotations

import types

import numpy as np
import sympy as sp

from ..errors import ParameterError

__all__ = ["BACKENDS", "activation_function", "array_module", "to_numpy"]

BACKENDS = ("numpy", "cupy")


def array_module(name: str = "numpy") -> types.ModuleType:
    """The array module of backend ``name`` ("numpy" or "cupy"); a clear error when cupy is missing."""
    if name == "numpy":
        return np
    if name == "cupy":
        try:
            import cupy
        except ImportError:
            raise ParameterError("backend 'cupy' needs cupy, which is not installed; install the "
                                 "package matching your CUDA version (e.g. pip install cupy-cuda12x) "
                                 "or use backend 'numpy'") from None
        return cupy
    raise ParameterError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")


def to_numpy(a) -> np.ndarray:
    """A host numpy array from a numpy or cupy array (or a scalar)."""
    get = getattr(a, "get", None)
    return np.asarray(get() if callable(get) else a)


def activation_function(act, k: int, xp: types.ModuleType):
    """The k-th derivative of the activation ``act`` (a :class:`~replicasym.kernels.Activation`) as a
    vectorized function of ``xp`` arrays: ``act.numpy(k)`` on numpy; on cupy the same expression
    lambdified with cupy (``erf`` from ``cupyx.scipy.special``).  A derivative that is a
    distribution (``sign' = 2 delta``) raises :class:`~replicasym.errors.ParameterError`."""
    if xp is np:
        return act.numpy(k)
    from ..kernels.activations import X

    expr = act.derivative(k)
    if expr.has(sp.DiracDelta):
        act.numpy(k)  # raises the ParameterError explaining that it is a distribution
    from cupyx.scipy import special

    if not expr.has(X):
        const = float(expr)
        return lambda x: xp.full(x.shape, const)
    return sp.lambdify(X, expr, modules=[{"erf": special.erf, "erfc": special.erfc}, "cupy"])
