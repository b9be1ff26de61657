r"""The result of :func:`replicasym.derive`: a free-entropy functional and its saddle-point system.

All expressions are SymPy and may contain unevaluated Gaussian expectations
(:class:`replicasym.symbolic.gaussian.GaussianExpectation`, printed ``E(f, z)``), possibly nested.
Conventions are those of DESIGN.md: :math:`\Phi(\beta) = \lim \frac1N \mathbb E\log Z`, energy
:math:`e = -\partial_\beta\Phi`, entropy :math:`s = \Phi + \beta e`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from .symbolic.trace import Trace

__all__ = ["Derivation", "ZeroTemperature"]


@dataclass
class ZeroTemperature:
    r"""The :math:`T\to 0` limit with rescaled order parameters (e.g. :math:`\chi=\beta(1-q)`,
    :math:`y=\beta m`).

    ``energy`` is the ground-state energy functional :math:`E_0(\theta) = -\lim_{\beta\to\infty}
    \Phi/\beta`; the ground state is its stationary point in ``order_parameters``
    (a maximum of :math:`\Phi`, so ``energy`` is minimised over the RS variable and, for RSB,
    extremised following Parisi).  ``equations`` are :math:`\partial E_0/\partial\theta = 0`.
    """

    order_parameters: tuple
    energy: sp.Expr
    equations: tuple
    jacobian: sp.Matrix
    substitutions: dict
    replicon: sp.Expr | None = None


@dataclass
class Derivation:
    r"""A derived replica calculation for one model and one ansatz.

    Attributes
    ----------
    model : the :class:`~replicasym.models.spec.ModelSpec` it came from.
    ansatz : ``"rs"``, ``"1rsb"``, ``"krsb:K"`` or ``"frsb"`` (full RSB: the order parameter is the
        function x(q), the equations are functional, ``residuals`` and ``jacobian`` are empty).
    beta : the inverse-temperature symbol.
    params : model parameter symbols other than ``beta`` (e.g. the field ``h``), in a fixed order.
    param_values : numeric values of ``params`` given when the model was built.
    order_parameters : the variables of the saddle point, in a fixed order (e.g. ``(q,)`` for RS,
        ``(q0, q1, m)`` for 1RSB).
    bounds : per order parameter, the admissible open interval ``(lo, hi)`` as SymPy numbers.
    free_entropy : :math:`\Phi(\theta;\beta,\text{params})` per spin after n -> 0.
    equations : stationarity conditions ``Eq(lhs, rhs)``; where the engine found a fixed-point
        form the lhs is the order parameter itself, otherwise it is ``Eq(dPhi/dtheta, 0)``.
    residuals : the stationarity residuals Newton drives to zero, one per order parameter: for a
        level q_i, q_i - F_i(theta) where the engine found the fixed-point form, else
        dPhi/dq_i divided by its replica multiplicity; for a breakpoint m_i, dPhi/dm_i
        (see :func:`replicasym.symbolic.saddle.stationarity_residuals`).
    jacobian : the matrix :math:`\partial r_i/\partial\theta_j` of the residuals.
    energy : :math:`e = -\partial_\beta\Phi` at fixed order parameters (valid at the saddle).
    replicon : the replicon eigenvalue in its standard normalisation, positive where stable.
    zero_temperature : the T -> 0 functional, when the engine could take the limit.
    steps : the derivation trace.
    """

    model: object
    ansatz: str
    beta: sp.Symbol
    params: tuple
    param_values: dict
    order_parameters: tuple
    bounds: dict
    free_entropy: sp.Expr
    equations: tuple
    residuals: tuple
    jacobian: sp.Matrix
    energy: sp.Expr
    replicon: sp.Expr
    zero_temperature: ZeroTemperature | None
    steps: Trace = field(default_factory=Trace)

    @property
    def k(self) -> int | float:
        """Number of replica-symmetry-breaking levels (``math.inf`` for full RSB)."""
        if self.ansatz == "frsb":
            return math.inf
        return 0 if self.ansatz == "rs" else 1 if self.ansatz == "1rsb" else int(self.ansatz.split(":")[1])

    def latex(self) -> str:
        r"""The free entropy, the saddle-point equations and the replicon as a LaTeX document body,
        preceded by the model's own construction when it has one (e.g. a network's kernel map)."""
        lines = []
        for step in getattr(self.model, "steps", ()):
            lines += [f"% {step.rule}: {step.description}", step.latex, ""]
        lines += [r"\Phi = " + sp.latex(self.free_entropy), ""]
        for eq in self.equations:
            lines.append(sp.latex(eq))
        lines.append("")
        lines.append(r"\lambda_{\mathrm{R}} = " + sp.latex(self.replicon))
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        r"""Jupyter display: the model and ansatz, then :math:`\Phi`, the saddle-point equations and
        the replicon, aligned on their equals signs."""
        name = str(getattr(self.model, "name", "") or type(self.model).__name__).replace("_", r"\_")
        rows = [r"&\text{" + f"{name}, {self.ansatz}" + "}"]
        if self.free_entropy is not None:
            rows.append(r"\Phi &= " + sp.latex(self.free_entropy))
        rows += [sp.latex(eq.lhs) + " &= " + sp.latex(eq.rhs) for eq in self.equations]
        if self.replicon is not None:
            rows.append(r"\lambda_{\mathrm{R}} &= " + sp.latex(self.replicon))
        return r"$$\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"
