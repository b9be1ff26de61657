r"""Maxima over a variable, their maximisers, and the Laplace rule that produces them.

At zero temperature a thermal average :math:`\frac1\beta\log\mathbb E_\eta e^{\beta G}` concentrates on the
maximum of its exponent.  When the Gaussian field enters with a variance :math:`s/\beta` (the replica
overlap gap :math:`P_d - P_0 = \chi_P/\beta` seen through the weights), Laplace's method gives a **Moreau
envelope** (a sup-convolution with a quadratic penalty):

.. math::
   \lim_{\beta\to\infty}\frac1\beta\log\mathbb E_\eta\, e^{\beta G(y + \sqrt{s/\beta}\,\eta)}
   = \max_z\Big[G(z) - \frac{(z-y)^2}{2s}\Big]

(substitute :math:`z = y + \sqrt{s/\beta}\,\eta`: the Gaussian weight is :math:`e^{-\beta(z-y)^2/2s}`).
:func:`laplace_limit` applies this rule; the result is a :class:`Maximum` object.

The maximisation variable is the argument z of the activation, not the shift :math:`\delta = z - y`: then
the parameters that move y or s enter only the smooth penalty, and the envelope theorem gives
:math:`\partial_y\max_z = (z^*-y)/s` with no derivative of G.  That is what makes a **kinked activation**
(ReLU, |x|, leaky ReLU) exact at T = 0: its maximiser sits on the kink, :math:`z^* = c`, for a whole
window :math:`y\in[c - sG'(c^-), c - sG'(c^+)]` of positive Gaussian measure, where the δ-form's
:math:`G'(y+\delta^*)` is undefined (a subgradient) and the z-form's :math:`(z^*-y)/s` is the right
element of it (Danskin's theorem).  For a smooth activation the two forms agree by stationarity.

:class:`Maximum` ``(F, z)`` is :math:`\max_z F` and :class:`Argmax` ``(F, z)`` its maximiser
:math:`z^*`.  Both stay unevaluated (the maximisation is numerical; the quadrature of
:mod:`replicasym.solvers.envelope_quadrature` locates the global maximum and its jumps) but they
differentiate exactly:

* the **envelope theorem**, :math:`\partial_\theta\max_z F = \partial_\theta F\,|_{z=z^*}`
  (the stationarity :math:`\partial_z F = 0` removes the chain-rule term; on a kink, Danskin's theorem);
* the **implicit-function theorem**, :math:`\partial_\theta z^* = -F_{z\theta}/F_{zz}\,
  |_{z=z^*}`, valid where the maximiser is a non-degenerate interior maximum.

Where F is not concave the global maximiser jumps between branches as the parameters move (a first-order,
Maxwell-type switch).  The maximum stays continuous, so the envelope theorem holds everywhere, but
:math:`z^*` does not: a Gaussian integration by parts (Stein's lemma) in a variable that moves the
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


def laplace_limit(expr: sp.Expr, field: sp.Symbol, beta: sp.Symbol, z: sp.Symbol) -> sp.Expr:
    r"""Replace every :math:`\log\mathbb E_\eta e^{A}` in ``expr`` (``field`` = η) by
    :math:`\beta\max_z[G(z) - (z-y)^2/2s]` (module docstring), to leading order in :math:`\beta\to\infty`.

    ``A`` must be :math:`\beta G` with G finite as :math:`\beta\to\infty`, and η must enter only through one
    argument :math:`y + c\eta` (of any number of functions), :math:`c^2\beta \to s > 0`.  Anything else
    raises ``ValueError`` (no silent wrong limit)."""
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
        arguments = {
            f.args[0]
            for f in sp.preorder_traversal(A)
            if isinstance(f, sp.Function) and len(f.args) == 1 and f.args[0].has(field)
        }
        if len(arguments) != 1 or sp.diff(next(iter(arguments)), field, 2) != 0:
            raise ValueError(
                f"laplace_limit: {field} must enter through one argument y + c*{field} (got {arguments})"
            )
        arg = arguments.pop()
        c = sp.diff(arg, field)
        s = finite(c**2 * beta)
        if not (s.is_positive or s.is_positive is None) or s == 0 or s.has(sp.oo, sp.zoo):
            raise ValueError(
                f"laplace_limit: the field's variance c^2 = {c**2} is not s/beta with finite s > 0"
            )
        reduced = sp.expand((A / beta).xreplace({arg: z}))
        if reduced.has(field):
            raise ValueError(f"laplace_limit: {field} enters the exponent other than through {arg}")
        G = finite(reduced)
        y = finite(arg.subs(field, 0))
        if G.has(sp.oo, sp.zoo, sp.nan, beta, t) or y.has(sp.oo, sp.zoo, sp.nan, beta, t):
            raise ValueError(f"laplace_limit: the exponent is not beta times a finite function ({A})")
        return beta * Maximum(G - (z - y) ** 2 / (2 * s), z)

    return expr.replace(lambda e: rule(e) is not None, rule)
