r"""Maxima over a variable, their maximisers, and the Laplace rule that produces them.

At zero temperature a thermal average :math:`\frac1\beta\log\mathbb E_\eta e^{\beta G}` concentrates on the
maximum of its exponent.  When the Gaussian field enters with a variance :math:`s/\beta` (the replica
overlap gap :math:`P_d - P_0 = \chi_P/\beta` seen through the weights), Laplace's method gives a **Moreau
envelope** (a sup-convolution with a quadratic penalty):

.. math::
   \lim_{\beta\to\infty}\frac1\beta\log\mathbb E_\eta\, e^{\beta G(y + \sqrt{s/\beta}\,\eta)}
   = \max_\delta\Big[G(y+\delta) - \frac{\delta^2}{2s}\Big]

(substitute :math:`\delta = \sqrt{s/\beta}\,\eta`: the Gaussian weight is :math:`e^{-\beta\delta^2/2s}`).
:func:`laplace_limit` applies this rule; the result is a :class:`Maximum` object.

:class:`Maximum` ``(F, delta)`` is :math:`\max_\delta F` and :class:`Argmax` ``(F, delta)`` its maximiser
:math:`\delta^*`.  Both stay unevaluated (the maximisation is numerical; the quadrature of
:mod:`replicasym.solvers.envelope_quadrature` locates the global maximum and its jumps) but they
differentiate exactly:

* the **envelope theorem**, :math:`\partial_\theta\max_\delta F = \partial_\theta F\,|_{\delta=\delta^*}`
  (the stationarity :math:`\partial_\delta F = 0` removes the chain-rule term);
* the **implicit-function theorem**, :math:`\partial_\theta\delta^* = -F_{\delta\theta}/F_{\delta\delta}\,
  |_{\delta=\delta^*}`, valid where the maximiser is a non-degenerate interior maximum.

Where F is not concave the global maximiser jumps between branches as the parameters move (a first-order,
Maxwell-type switch).  The maximum stays continuous, so the envelope theorem holds everywhere, but
:math:`\delta^*` does not: a Gaussian integration by parts (Stein's lemma) in a variable that moves the
maximiser would lose the jump terms, so :func:`replicasym.symbolic.gaussian.stein` is not applied to
expressions that contain an :class:`Argmax` (see :func:`has_maximiser`).
"""

from __future__ import annotations

import sympy as sp

from .gaussian import BoundVariable, GaussianExpectation

__all__ = ["Argmax", "Maximum", "has_maximiser", "laplace_limit", "maximisers"]


class _Optimum(BoundVariable, sp.Expr):
    """Common part of :class:`Maximum` and :class:`Argmax`: args ``(F, var)`` with ``var`` bound."""

    is_real = True

    def __new__(cls, F, var):
        F, var = sp.sympify(F), sp.sympify(var)
        if not isinstance(var, sp.Symbol):
            raise TypeError(f"the maximisation variable must be a Symbol, got {var!r}")
        if not F.has(var):
            raise ValueError(f"{cls.__name__}: {F} does not depend on {var}")
        return sp.Expr.__new__(cls, F, var)

    @property
    def function(self) -> sp.Expr:
        return self.args[0]

    def at_optimum(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` (a function of the variable) at the maximiser."""
        return expr.xreplace({self.variable: Argmax(*self.args)})


class Maximum(_Optimum):
    r""":math:`\max_\delta F(\delta, \theta)`; derivatives by the envelope theorem."""

    def _eval_derivative(self, s):
        if s == self.variable:
            return sp.S.Zero
        return self.at_optimum(sp.diff(self.function, s))

    def _latex(self, printer, exp=None):
        tex = r"\max_{%s}\left[%s\right]" % (printer._print(self.variable), printer._print(self.function))
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)

    def _sympystr(self, printer):
        return "Maximum(%s, %s)" % (printer._print(self.function), printer._print(self.variable))


class Argmax(_Optimum):
    r"""The maximiser :math:`\delta^*(\theta)`; derivatives by the implicit-function theorem."""

    def _eval_derivative(self, s):
        if s == self.variable:
            return sp.S.Zero
        F_d = sp.diff(self.function, self.variable)
        return self.at_optimum(-sp.diff(F_d, s) / sp.diff(F_d, self.variable))

    def _latex(self, printer, exp=None):
        tex = r"\operatorname{arg\,max}_{%s}\left[%s\right]" % (
            printer._print(self.variable),
            printer._print(self.function),
        )
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)

    def _sympystr(self, printer):
        return "Argmax(%s, %s)" % (printer._print(self.function), printer._print(self.variable))


def has_maximiser(expr: sp.Expr) -> bool:
    """True when ``expr`` contains an :class:`Argmax` or a :class:`Maximum`."""
    return expr.has(Argmax) or expr.has(Maximum)


def maximisers(expr: sp.Expr) -> list:
    """The distinct :class:`Argmax` objects of ``expr`` (a :class:`Maximum` counts as its Argmax)."""
    out = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (Maximum, Argmax)):
            a = Argmax(*node.args)
            if a not in out:
                out.append(a)
    return out


def laplace_limit(expr: sp.Expr, field: sp.Symbol, beta: sp.Symbol, delta: sp.Symbol) -> sp.Expr:
    r"""Replace every :math:`\log\mathbb E_\eta e^{A}` in ``expr`` (``field`` = η) by
    :math:`\beta\max_\delta[G(y+\delta) - \delta^2/2s]` (module docstring), to leading order in
    :math:`\beta\to\infty`.

    ``A`` must be :math:`\beta G` with G finite as :math:`\beta\to\infty`, and η must enter only through
    arguments :math:`y + c\eta` with one common c, :math:`c^2\beta \to s > 0`.  Anything else raises
    ``ValueError`` (no silent wrong limit)."""
    t = sp.Symbol("t_beta", positive=True)  # t = 1/beta

    def finite(e):
        return sp.simplify(e.subs(beta, 1 / t)).subs(t, 0)

    def rule(node):
        if not (
            isinstance(node, sp.log)
            and isinstance(node.args[0], GaussianExpectation)
            and node.args[0].variable == field
        ):
            return None
        integrand = sp.powsimp(node.args[0].integrand, combine="exp")
        if not isinstance(integrand, sp.exp):
            raise ValueError(f"laplace_limit: the integrand {integrand} is not exp(beta G)")
        A = integrand.args[0]
        slopes = {
            sp.simplify(sp.diff(f.args[0], field))
            for f in sp.preorder_traversal(A)
            if isinstance(f, sp.Function)
            and len(f.args) == 1
            and f.args[0].has(field)
            and sp.diff(f.args[0], field, 2) == 0
        }
        if len(slopes) != 1:
            raise ValueError(
                f"laplace_limit: {field} must enter through y + c*{field} with one c (got {slopes})"
            )
        c = slopes.pop()
        s = finite(c**2 * beta)
        if not (s.is_positive or s.is_positive is None) or s == 0 or s.has(sp.oo, sp.zoo):
            raise ValueError(
                f"laplace_limit: the field's variance c^2 = {c**2} is not s/beta with finite s > 0"
            )
        G = finite(sp.expand(A / beta).xreplace({field: delta / c}))
        if G.has(sp.oo, sp.zoo, sp.nan, beta, t):
            raise ValueError(f"laplace_limit: the exponent is not beta times a finite function ({A})")
        return beta * Maximum(G - delta**2 / (2 * s), delta)

    return expr.replace(lambda e: rule(e) is not None, rule)
