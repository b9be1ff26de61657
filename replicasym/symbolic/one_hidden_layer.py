r"""One hidden layer at finite width: the layered action reduced to the input overlaps (any k-RSB).

For depth L = 1 the layer's overlaps enter the action only linearly,
:math:`-\tfrac\alpha2\mathrm{Tr}\,\Lambda Q + \tfrac{\beta^2}{2}\sum_{ab}(C_b + C_WQ_{ab})`, so the top
condition (:func:`~.layered.layer_equations`) fixes the conjugate to the constant matrix
:math:`\Lambda_{ab} = \beta^2C_W/\alpha` at every level, and Q drops out of the action.  With the block
of :func:`~.layered.layer_block` at :math:`P = q` this leaves (reference/winer_hanin_mlp.md §3.6, here
derived by the engine and checked: the Q-terms are cancelled symbolically, the Hubbard--Stratonovich
fields of the levels above 0 and the diagonal tilt vanish since :math:`\Lambda` has no steps)

.. math::
   \Phi(q, m) = s(q, m) + \alpha\,\mathbb E_{\xi_0,u}\,\frac1{m}\log\mathbb E_{\xi_1}\Big[\Big(\mathbb E_\eta\,
   e^{\beta\sqrt{C_W/\alpha}\,u\,\sigma(z)}\Big)^m\Big],\qquad
   z = \sqrt{C_b + C_Wq_0}\,\xi_0 + \sqrt{C_W(q_1-q_0)}\,\xi_1 + \sqrt{C_W(1-q_1)}\,\eta

(1RSB; RS has no :math:`\xi_1` level, k-RSB one per level), with :math:`s` the input sphere's entropy.
The saddle-point conditions are the gradient :math:`\partial\Phi/\partial q_i = \partial\Phi/\partial m_i = 0`
and the energy is :math:`e = -\partial\Phi/\partial\beta` (the other order parameters are stationary).
As :math:`\alpha\to\infty` the single-site term tends to :math:`\frac{\beta^2}2\sum(C_b + C_W g(\dots))`,
the GP limit's spherical model (checked numerically in tests/test_finite_width_rsb.py).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from ..kernels.activations import Activation
from .gaussian import GaussianExpectation, linearize
from .layered import BETA, generic_equations
from .trace import Trace

__all__ = ["OneHiddenLayer", "one_hidden_layer"]


@dataclass(frozen=True)
class OneHiddenLayer:
    """The reduced free entropy ``phi`` of a one-hidden-layer network in ``variables`` (q_0..q_k, then
    m_1..m_k), its ``gradient`` (the saddle-point conditions, in the same order), the ``energy``
    :math:`-\\partial\\Phi/\\partial\\beta`, the Gaussian ``fields`` it averages over (outermost first) and the
    derivation ``trace``."""

    activation: Activation
    k: int
    phi: sp.Expr
    variables: tuple
    gradient: tuple
    energy: sp.Expr
    fields: tuple
    trace: Trace


def _drop_trivial_averages(expr: sp.Expr) -> sp.Expr:
    """E_z f = f for an integrand free of z (the averages over the Hubbard--Stratonovich fields of the
    levels where Lambda has no step)."""
    return expr.replace(lambda e: isinstance(e, GaussianExpectation) and not e.integrand.has(e.variable),
                        lambda e: e.integrand)


def _expectation_fields(expr: sp.Expr) -> tuple:
    """The Gaussian fields of ``expr``, outermost expectation first."""
    out: list = []

    def walk(e):
        if isinstance(e, GaussianExpectation) and e.variable not in out:
            out.append(e.variable)
        for a in e.args:
            walk(a)
    walk(expr)
    return tuple(out)


@functools.lru_cache(maxsize=16)
def one_hidden_layer(act: Activation, k: int = 1) -> OneHiddenLayer:
    """Reduce the generic k-RSB layered action to a one-hidden-layer network (module docstring)."""
    eqs = generic_equations(act, "finite", k)
    b = eqs.block
    trace = Trace(list(b.trace.steps))
    top = dict(zip(b.conj, eqs.top))
    trace.record("depth 1: top condition", "Lambda^(1) = beta^2 C_W/alpha at every level (the conjugate of the "
                 "only hidden layer)", [sp.Eq(lam, v) for lam, v in top.items()])
    first = dict(zip(b.prev, b.prev_input))
    phi = b.input_term + b.phi.xreplace({**first, **top}) + b.top_term
    phi = sp.expand(_drop_trivial_averages(linearize(phi)))
    left = phi.free_symbols & set(b.own)
    if left:
        raise ValueError(f"one hidden layer: the overlaps {sorted(map(str, left))} did not cancel at the top "
                         "condition (the layer action is not linear in Q)")
    variables = (*b.input_vars, *b.sizes)
    trace.record("depth 1: reduced action", "Q^(1) cancels between the layer's -alpha Tr(Lambda Q)/2 and the output "
                 "term; the steps of Lambda vanish, so do their Hubbard-Stratonovich fields and the diagonal tilt",
                 sp.Eq(sp.Symbol("Phi"), phi))
    gradient = tuple(sp.diff(phi, v) for v in variables)
    trace.record("depth 1: saddle point", "dPhi/dq_i = 0 and dPhi/dm_i = 0",
                 [sp.Eq(sp.Derivative(sp.Symbol("Phi"), v), 0) for v in variables])
    energy = -sp.diff(phi, BETA)
    trace.record("depth 1: energy", "e = -dPhi/dbeta (beta enters through Lambda = beta^2 C_W/alpha)",
                 sp.Eq(sp.Symbol("e"), energy))
    return OneHiddenLayer(act, k, phi, variables, gradient, energy, _expectation_fields(phi), trace)
