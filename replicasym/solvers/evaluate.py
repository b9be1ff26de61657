"""Numerical access to a derivation through its generated module (numpy or mpmath backend).

The solvers never evaluate SymPy expressions point by point: they call the module that
:func:`replicasym.codegen.load` generated from the derivation (cached by content hash).
"""
from __future__ import annotations

import mpmath
import numpy as np

from .. import codegen

__all__ = ["Evaluator"]


class Evaluator:
    """Batched (numpy) and scalar (mpmath) evaluation of one derivation's functions.

    ``theta`` arrays have shape (S, V) in the order of ``derivation.order_parameters``; ``values``
    maps parameter names (``"beta"``, ``"h"``, ...) to arrays of shape (S,) or scalars.
    """

    def __init__(self, derivation, digits: int | None = None):
        self.d = derivation
        self.np = codegen.load(derivation, "numpy")
        self.digits = digits
        self._mp = None
        self.names = tuple(self.np.ORDER_PARAMETERS)
        self.gs_names = tuple(getattr(self.np, "GROUND_STATE_ORDER_PARAMETERS", ()))

    @property
    def mp(self):
        if self._mp is None:
            self._mp = codegen.load(self.d, "mpmath")
        return self._mp

    # -- numpy, batched ------------------------------------------------------------------
    def _params(self, module_params, values, S):
        return [np.broadcast_to(np.asarray(values[name], dtype=float), (S,)) for name in module_params]

    def _theta(self, theta):
        return [theta[:, i] for i in range(theta.shape[1])]

    def _stack(self, arrays, S):
        return np.stack([np.broadcast_to(np.asarray(a, dtype=float), (S,)) for a in arrays], axis=-1)

    def residual(self, theta, values):
        S = theta.shape[0]
        with np.errstate(all="ignore"):
            g = self.np.residuals(self._theta(theta), self._params(self.np.PARAMS, values, S))
        return self._stack(g, S)

    def jacobian(self, theta, values):
        S = theta.shape[0]
        with np.errstate(all="ignore"):
            j = self.np.jacobian(self._theta(theta), self._params(self.np.PARAMS, values, S))
        return np.stack([self._stack(row, S) for row in j], axis=1)

    def scalar(self, name, theta, values):
        """``free_entropy``, ``energy`` or ``replicon`` as an array of shape (S,)."""
        S = theta.shape[0]
        with np.errstate(all="ignore"):
            v = getattr(self.np, name)(self._theta(theta), self._params(self.np.PARAMS, values, S))
        return np.broadcast_to(np.asarray(v, dtype=float), (S,)).copy()

    def gs_residual(self, theta, values):
        S = theta.shape[0]
        with np.errstate(all="ignore"):
            g = self.np.ground_state_gradient(self._theta(theta),
                                              self._params(self.np.GROUND_STATE_PARAMS, values, S))
        return self._stack(g, S)

    def gs_jacobian(self, theta, values):
        S = theta.shape[0]
        with np.errstate(all="ignore"):
            j = self.np.ground_state_jacobian(self._theta(theta),
                                              self._params(self.np.GROUND_STATE_PARAMS, values, S))
        return np.stack([self._stack(row, S) for row in j], axis=1)

    def gs_energy(self, theta, values):
        S = theta.shape[0]
        with np.errstate(all="ignore"):
            v = self.np.ground_state_energy(self._theta(theta),
                                            self._params(self.np.GROUND_STATE_PARAMS, values, S))
        return np.broadcast_to(np.asarray(v, dtype=float), (S,)).copy()

    # -- mpmath, one point -----------------------------------------------------------------
    def _mp_params(self, module_params, values):
        # a float parameter stands for the decimal it prints as (h = 0.3 is 3/10 at the working precision,
        # not the double nearest to it, which differs by ~1e-17), as the temperature does in solve()
        return [mpmath.mpf(str(v)) if isinstance(v, float) else mpmath.mpf(v)
                for v in (values[name] for name in module_params)]

    def mp_call(self, name, theta, values, ground_state=False):
        mod = self.mp
        mod.set_precision(self.digits)
        names = mod.GROUND_STATE_PARAMS if ground_state else mod.PARAMS
        return getattr(mod, name)(list(theta), self._mp_params(names, values))
