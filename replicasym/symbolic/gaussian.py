r"""Gaussian expectations over named standard Gaussian variables.

``E(f, z)`` is the SymPy object :math:`\mathbb{E}_z[f] = \int \frac{dz}{\sqrt{2\pi}} e^{-z^2/2} f(z)`
with ``z`` a standard normal variable.  It stays unevaluated (so that it can be differentiated,
expanded in the replica number and finally turned into quadrature by the code generator) unless a
closed-form rule applies:

* :func:`closed_form` -- :math:`\mathbb{E}_z[p(z)\, e^{a z + b z^2}]` for a polynomial ``p``
  (Gaussian moments and completion of the square, :math:`b < 1/2`):
  :math:`\mathbb{E}_z e^{a z + b z^2} = (1-2b)^{-1/2} \exp\!\big(\tfrac{a^2}{2(1-2b)}\big)`.
* :math:`\mathbb{E}_z|az+b|` and :math:`\mathbb{E}_z |az+b|^k e^{c|az+b|}` in closed form (erf and
  Gaussians): the zero-temperature functionals of Ising models are made of these.
* :math:`\mathbb{E}_z[p(z)\,\theta(az+b)]` for a polynomial ``p`` (truncated Gaussian moments); in
  particular :math:`\mathbb{E}_z\theta(az+b) = H(-b/|a|) = \tfrac12\mathrm{erfc}(-b/(\sqrt2|a|))`,
  the hard-constraint output channel of the perceptron; and the probit identity
  :math:`\mathbb{E}_z\,\mathrm{erfc}(az+b) = \mathrm{erfc}(b/\sqrt{1+2a^2})`
  (:math:`\mathbb E_z H(az+b) = H(b/\sqrt{1+a^2})`), which normalises a teacher's label law.
* :func:`stein` -- Stein's lemma / Gaussian integration by parts,
  :math:`\mathbb{E}_z[z f(z)] = \mathbb{E}_z[f'(z)]`.
* :func:`hubbard_stratonovich` -- :math:`e^{A X^2/2} = \mathbb{E}_z e^{\sqrt{A} X z}` (``A >= 0``).
* :func:`linearize` -- linearity: constants (free of ``z``) leave the expectation, sums split.

Derivatives with respect to any symbol other than the integration variable pass under the
expectation, which is what the saddle-point equations and the ``n -> 0`` expansion need.
"""
from __future__ import annotations

import sympy as sp

__all__ = ["E", "GaussianExpectation", "closed_form", "stein", "hubbard_stratonovich",
           "linearize", "gaussian_variables", "expectations"]


class BoundVariable:
    """Mixin for an unevaluated operation ``(f, var)`` that binds ``var`` (an expectation over it, a maximum
    over it): ``variable`` is ``var`` and the free symbols are those of ``f`` without it."""

    @property
    def variable(self) -> sp.Symbol:
        return self.args[1]

    @property
    def free_symbols(self):
        return self.args[0].free_symbols - {self.variable}


class GaussianExpectation(BoundVariable, sp.Function):
    r"""Unevaluated :math:`\mathbb{E}_z[f]` over a standard Gaussian ``z`` (a SymPy ``Symbol``)."""

    nargs = 2

    @classmethod
    def eval(cls, f, z):
        if not isinstance(z, sp.Symbol):
            raise TypeError(f"the integration variable of E must be a Symbol, got {z!r}")
        if not f.has(z):
            return f
        return None

    @property
    def integrand(self) -> sp.Expr:
        return self.args[0]

    def _eval_derivative(self, s):
        if s == self.variable:
            return sp.S.Zero
        return GaussianExpectation(sp.diff(self.integrand, s), self.variable)

    def _eval_is_real(self):
        return self.integrand.is_real

    def _eval_is_positive(self):
        return True if self.integrand.is_positive else None

    def _eval_is_extended_positive(self):
        return True if self.integrand.is_positive else None

    def _latex(self, printer, exp=None):
        tex = r"\mathbb{E}_{%s}\left[%s\right]" % (printer._print(self.variable),
                                                    printer._print(self.integrand))
        return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)

    def _sympystr(self, printer):
        return "E(%s, %s)" % (printer._print(self.integrand), printer._print(self.variable))

    def doit(self, **hints):
        f = self.integrand.doit(**hints) if hints.get("deep", True) else self.integrand
        res = closed_form(GaussianExpectation(f, self.variable))
        return res


E = GaussianExpectation


def gaussian_variables(expr: sp.Expr) -> list[sp.Symbol]:
    """All integration variables of the expectations in ``expr``, outermost first, no repeats."""
    out: list[sp.Symbol] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, GaussianExpectation) and node.variable not in out:
            out.append(node.variable)
    return out


def expectations(expr: sp.Expr) -> list[GaussianExpectation]:
    """The expectation sub-expressions of ``expr`` (pre-order)."""
    return [n for n in sp.preorder_traversal(expr) if isinstance(n, GaussianExpectation)]


def _double_factorial_moment(k: int) -> sp.Integer:
    return sp.S.Zero if k % 2 else sp.factorial2(k - 1) if k else sp.S.One


def _abs_linear(f: sp.Expr, z: sp.Symbol):
    r""":math:`\mathbb E_z|az+b| = |a|\sqrt{2/\pi}\,e^{-b^2/2a^2} + b\,\mathrm{erf}(b/\sqrt2|a|)`,
    or None when ``f`` is not ``c*Abs(a z + b)``."""
    c, rest = f.as_independent(z, as_Add=False)
    if not isinstance(rest, sp.Abs):
        return None
    arg = sp.expand(rest.args[0])
    if not arg.is_polynomial(z) or sp.degree(arg, z) != 1:
        return None
    a, b = arg.coeff(z, 1), arg.coeff(z, 0)
    sa = sp.sqrt(a**2)  # |a|, smooth in the parameters of a
    return c * (sa * sp.sqrt(2 / sp.pi) * sp.exp(-b**2 / (2 * a**2)) + b * sp.erf(b / (sp.sqrt(2) * sa)))


def _exp_abs_linear(f: sp.Expr, z: sp.Symbol):
    r""":math:`\mathbb E_z\big[|w|^k e^{c|w|}\big]`, :math:`w = az+b \sim \mathcal N(b, a^2)`, as the
    k-th c-derivative of
    :math:`\mathbb E e^{c|w|} = e^{cb+c^2a^2/2}\Phi\big(\tfrac{b+ca^2}{|a|}\big)
    + e^{-cb+c^2a^2/2}\Phi\big(\tfrac{-b+ca^2}{|a|}\big)` (split at w = 0, complete the square);
    None when ``f`` is not ``const * |w|^k * exp(c |w|)``."""
    f = sp.powsimp(f, combine="exp")
    coeff, rest = f.as_independent(z, as_Add=False)
    factors = sp.Mul.make_args(rest)
    exps = [fa for fa in factors if isinstance(fa, sp.exp)]
    if len(exps) != 1:
        return None
    arg = sp.expand(exps[0].args[0])
    cands = [t for t in arg.atoms(sp.Abs) if t.has(z)]
    if len(cands) != 1:
        return None
    absw = cands[0]
    c = sp.simplify(arg / absw)
    if c.has(z) or c == 0:
        return None
    w = sp.expand(absw.args[0])
    k = 0
    for factor in factors:
        if factor is exps[0]:
            continue
        base, power = factor.as_base_exp()
        # |w|^j, or w^j with j even (SymPy writes |w|^2 as w^2 for real w)
        is_abs = base == absw
        is_even_power = sp.expand(base) in (w, -w) and power.is_Integer and power % 2 == 0
        if not (is_abs or is_even_power) or not power.is_Integer or not 0 < power <= 6:
            return None
        k += int(power)
    if not w.is_polynomial(z) or sp.degree(w, z) != 1:
        return None
    a, b = w.coeff(z, 1), w.coeff(z, 0)
    sa = sp.sqrt(a**2)  # |a|, smooth in the parameters of a
    cs = sp.Dummy("c")
    Phi = lambda x: (1 + sp.erf(x / sp.sqrt(2))) / 2  # noqa: E731
    base = (sp.exp(cs * b + cs**2 * a**2 / 2) * Phi((b + cs * a**2) / sa)
            + sp.exp(-cs * b + cs**2 * a**2 / 2) * Phi((-b + cs * a**2) / sa))
    return coeff * sp.diff(base, cs, k).subs(cs, c)


def _heaviside_linear(f: sp.Expr, z: sp.Symbol):
    r""":math:`\mathbb E_z[p(z)\,\theta(az+b)]` for a polynomial ``p``, or None when ``f`` is not
    ``p(z) * Heaviside(a z + b)``.

    With :math:`s = |a|`, :math:`z = (a/s)\,y` and :math:`\theta(az+b) = \theta(y - c)`,
    :math:`c = -b/s`, so the expectation is :math:`\sum_k p_k (a/s)^k M_k(c)` with the truncated
    moments :math:`M_k(c) = \mathbb E_y[y^k\theta(y-c)]`: :math:`M_0 = H(c) =
    \tfrac12\mathrm{erfc}(c/\sqrt2)`, :math:`M_1 = \varphi(c)`,
    :math:`M_k = c^{k-1}\varphi(c) + (k-1)M_{k-2}` (integration by parts)."""
    steps = [fa for fa in sp.Mul.make_args(f) if isinstance(fa, sp.Heaviside) and fa.has(z)]
    if len(steps) != 1:
        return None
    poly = sp.expand(f / steps[0])
    arg = sp.expand(steps[0].args[0])
    if not poly.is_polynomial(z) or not arg.is_polynomial(z) or sp.degree(arg, z) != 1:
        return None
    a, b = arg.coeff(z, 1), arg.coeff(z, 0)
    sa = sp.sqrt(a**2)  # |a|, smooth in the parameters of a
    c = -b / sa
    phi_c = sp.exp(-c**2 / 2) / sp.sqrt(2 * sp.pi)
    p = sp.Poly(poly, z)
    moments = [sp.erfc(c / sp.sqrt(2)) / 2, phi_c]
    while len(moments) <= p.degree():
        k = len(moments)
        moments.append(c ** (k - 1) * phi_c + (k - 1) * moments[k - 2])
    return sp.Add(*[cf * (a / sa) ** mon[0] * moments[mon[0]] for mon, cf in p.terms()])


def _erfc_linear(f: sp.Expr, z: sp.Symbol):
    r""":math:`\mathbb E_z\,\mathrm{erfc}(az+b) = \mathrm{erfc}(b/\sqrt{1+2a^2})` (with
    :math:`\mathrm{erfc}(x) = 2H(\sqrt2 x)`: :math:`P(y > \sqrt2(az+b))` for independent standard
    y and z, i.e. :math:`P(y - \sqrt2 a z > \sqrt2 b)`), or None when ``f`` is not
    ``c * erfc(a z + b)``."""
    c, rest = f.as_independent(z, as_Add=False)
    if not isinstance(rest, sp.erfc):
        return None
    arg = sp.expand(rest.args[0])
    if not arg.is_polynomial(z) or sp.degree(arg, z) != 1:
        return None
    a, b = arg.coeff(z, 1), arg.coeff(z, 0)
    return c * sp.erfc(b / sp.sqrt(1 + 2 * a**2))


def _closed_form_one(e: GaussianExpectation) -> sp.Expr:
    f, z = e.integrand, e.variable
    for rule in (_heaviside_linear, _erfc_linear, _abs_linear, _exp_abs_linear):
        value = rule(f, z)
        if value is not None:
            return value
    f = sp.powsimp(sp.expand(f, deep=False, mul=True, power_exp=False), combine="exp")
    terms = sp.Add.make_args(sp.expand(f))
    total = sp.S.Zero
    for term in terms:
        coeff, rest = term.as_independent(z, as_Add=False)
        exponent = sp.S.Zero
        poly_part = sp.S.One
        for factor in sp.Mul.make_args(rest):
            if isinstance(factor, sp.exp):
                exponent += factor.args[0]
            elif factor.is_Pow and factor.base == sp.E:
                exponent += factor.exp
            else:
                poly_part *= factor
        if not poly_part.is_polynomial(z) or not exponent.is_polynomial(z):
            return e
        ex = sp.Poly(sp.expand(exponent), z) if exponent != 0 else sp.Poly(0, z)
        if ex.degree() > 2:
            return e
        b = ex.coeff_monomial(z**2)
        a = ex.coeff_monomial(z)
        c = ex.coeff_monomial(1)
        if b == 0 and a == 0:
            p = sp.Poly(poly_part, z)
            val = sum(cf * _double_factorial_moment(mon[0]) for mon, cf in p.terms())
            total += coeff * sp.exp(c) * val
            continue
        # complete the square: e^{az+bz^2} phi(z) = (1-2b)^{-1/2} e^{a^2/(2(1-2b))} phi_s(w)
        # with z = mu + s w, s = (1-2b)^{-1/2}, mu = a s^2.
        s2 = 1 / (1 - 2 * b)
        mu = a * s2
        w = sp.Dummy("w")
        shifted = sp.expand(poly_part.subs(z, mu + sp.sqrt(s2) * w))
        p = sp.Poly(shifted, w)
        val = sum(cf * _double_factorial_moment(mon[0]) for mon, cf in p.terms())
        total += coeff * sp.exp(c + a**2 * s2 / 2) * sp.sqrt(s2) * val
    return total


def closed_form(expr: sp.Expr) -> sp.Expr:
    r"""Evaluate every :math:`\mathbb{E}_z[p(z)e^{az+bz^2}]` in ``expr`` in closed form.

    Expectations whose integrand is not of that shape are left untouched (innermost first).
    """
    def rule(node):
        if isinstance(node, GaussianExpectation):
            return _closed_form_one(node)
        return node
    return _bottom_up(expr, rule)


def _bottom_up(expr, rule):
    if not expr.args:
        return rule(expr)
    new_args = [_bottom_up(a, rule) for a in expr.args]
    if any(n is not o for n, o in zip(new_args, expr.args)):
        expr = expr.func(*new_args)
    return rule(expr)


def linearize(expr: sp.Expr) -> sp.Expr:
    r"""Apply linearity: :math:`\mathbb{E}_z[c f + g] = c\,\mathbb{E}_z f + \mathbb{E}_z g`."""
    def rule(node):
        if not isinstance(node, GaussianExpectation):
            return node
        f, z = node.integrand, node.variable
        out = sp.S.Zero
        for term in sp.Add.make_args(sp.expand(f, deep=False)):
            c, rest = term.as_independent(z, as_Add=False)
            out += c * GaussianExpectation(rest, z)
        return out
    return _bottom_up(expr, rule)


def stein(expr: sp.Expr) -> sp.Expr:
    r"""Gaussian integration by parts, :math:`\mathbb{E}_z[z\,f(z)] = \mathbb{E}_z[\partial_z f(z)]`.

    Applied to every term of every expectation whose integrand carries an explicit factor ``z``
    (and no other power of it), after :func:`linearize`.
    """
    def rule(node):
        if not isinstance(node, GaussianExpectation):
            return node
        f, z = node.integrand, node.variable
        out = sp.S.Zero
        changed = False
        for term in sp.Add.make_args(sp.expand(f, deep=False)):
            c, rest = term.as_independent(z, as_Add=False)
            factors = sp.Mul.make_args(rest)
            if z in factors:
                others = sp.Mul(*[fa for fa in factors if fa != z]) if len(factors) > 1 else sp.S.One
                if others.has(z) or others == 1:
                    out += c * GaussianExpectation(sp.diff(others, z), z)
                    changed = True
                    continue
            out += c * GaussianExpectation(rest, z)
        return out if changed else node
    return _bottom_up(linearize(expr), rule)


def hubbard_stratonovich(A: sp.Expr, X: sp.Expr, z: sp.Symbol) -> sp.Expr:
    r"""Decouple a square: :math:`e^{A X^2/2} = \mathbb{E}_z\, e^{\sqrt{A}\,X z}` for ``A >= 0``.

    Returns the (unevaluated) right-hand side; :func:`closed_form` maps it back to the left-hand
    side, which is how the rule is tested.
    """
    return GaussianExpectation(sp.exp(sp.sqrt(A) * X * z), z)
