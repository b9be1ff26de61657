r"""SymPy printers turning :class:`~replicasym.symbolic.gaussian.GaussianExpectation` into quadrature.

Two backends:

* :class:`NumpyQuadraturePrinter` -- vectorised truncated trapezoidal rule for Gaussian integrals
  (nodes ``z_k = k h`` on ``[-L, L]``, weights ``h phi(z_k)`` normalised to 1; geometrically
  convergent for analytic integrands, Trefethen & Weideman, SIAM Review 56 (2014) 385).  Every
  Gaussian variable owns a trailing broadcast axis of the arrays (``axis = -(K - k)`` for the
  ``k``-th of ``K`` variables); ``E(f, z)`` is a weighted sum over that axis with ``keepdims``,
  so nested expectations reduce their own axis and parameters of any shape broadcast in front.
  Before printing, :func:`stabilize` rewrites the expression into overflow-free primitives
  (``log cosh``, ``logaddexp``, weighted log-sum-exp, tilted averages).
* :class:`MpmathQuadraturePrinter` -- ``E(f, z)`` becomes ``_E(lambda z: f)``, an adaptive
  trapezoidal sum against the normal density at the working precision (step halved until the
  extrapolated error is below the precision); nested expectations nest the lambdas.

Special functions: the numpy printer never emits ``math.*``, ``scipy.*`` or ``functools.*``; erf,
erfc, gamma, loggamma (and factorial, beta, binomial through gamma) call the vectorised helpers
``_erf``, ``_erfc``, ``_gamma``, ``_lgamma`` of the generated module, ``Heaviside`` is
``numpy.heaviside``, ``Max``/``Min`` nest ``numpy.maximum``/``numpy.minimum``, ``KroneckerDelta``
is ``numpy.where``.  Generated numpy modules import only numpy and the standard library.

The generated modules define the helpers ``_E``, ``_lme``, ``_tilt``, ``_logcosh``, ``_erf``,
``_erfc``, ``_gamma``, ``_lgamma`` (numpy) and ``_E`` (mpmath) that the printed code calls; see the
templates.
"""
from __future__ import annotations

import functools

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

from ..symbolic.gaussian import GaussianExpectation

__all__ = [
    "Expectation",
    "LogAddExp",
    "LogCosh",
    "LogMeanExp",
    "MpmathQuadraturePrinter",
    "NumpyQuadraturePrinter",
    "TiltedMean",
    "inert",
    "stabilize",
]


# --------------------------------------------------------------------------- stable primitives
class Expectation(sp.Function):
    r"""Inert :math:`\mathbb E_z[f]` for printing: unlike ``GaussianExpectation`` it never
    simplifies itself away, so CSE may replace parts of ``f`` by temporaries."""
    nargs = 2

    @property
    def free_symbols(self):
        return self.args[0].free_symbols - {self.args[1]}


def inert(expr):
    """Replace every ``GaussianExpectation`` in ``expr`` by an inert :class:`Expectation`."""
    return expr.replace(lambda e: isinstance(e, GaussianExpectation),
                        lambda e: Expectation(e.args[0], e.args[1]))


class LogCosh(sp.Function):
    r""":math:`\log\cosh x`, printed as ``|x| + log1p(exp(-2|x|)) - log 2``."""
    nargs = 1


class LogAddExp(sp.Function):
    r""":math:`\log\sum_i e^{a_i}`, printed with ``numpy.logaddexp``."""


class LogMeanExp(sp.Function):
    r""":math:`\log\mathbb E_z e^{A}`, printed as a weighted log-sum-exp over the nodes."""
    nargs = 2


class TiltedMean(sp.Function):
    r""":math:`\mathbb E_z[g\,e^{A_N}] / \mathbb E_z[e^{A_D}]`, both scaled by :math:`e^{-\max A_D}`."""
    nargs = 4


def _is_pos_number(e) -> bool:
    return bool(e.is_Number and e.is_positive)


def _sinh_cosh(factors: list) -> list:
    r"""Rewrite :math:`\sinh^a x \cosh^b x \to \tanh^a x \cosh^{a+b} x` inside one product."""
    sinh_pow: dict = {}
    cosh_pow: dict = {}
    rest = []
    for f in factors:
        b, e = f.as_base_exp()
        if isinstance(b, sp.sinh):
            sinh_pow[b.args[0]] = sinh_pow.get(b.args[0], 0) + e
        elif isinstance(b, sp.cosh):
            cosh_pow[b.args[0]] = cosh_pow.get(b.args[0], 0) + e
        else:
            rest.append(f)
    out = list(rest)
    for x, a in sinh_pow.items():
        if x in cosh_pow:
            b = cosh_pow.pop(x)
            out.append(sp.tanh(x) ** a)
            if a + b != 0:
                out.append(sp.cosh(x) ** (a + b))
        else:
            out.append(sp.sinh(x) ** a)
    for x, b in cosh_pow.items():
        out.append(sp.cosh(x) ** b)
    return out


@functools.lru_cache(maxsize=65536)
def _logform(f):
    r"""``A`` (stabilised) with ``f == exp(A)`` when ``f`` is manifestly positive and exponential-like,
    else ``None``."""
    if _is_pos_number(f):
        return sp.log(f)
    if isinstance(f, sp.exp):
        return stabilize(f.args[0])
    if isinstance(f, sp.cosh):
        return LogCosh(stabilize(f.args[0]))
    if isinstance(f, GaussianExpectation):
        a = _logform(f.integrand)
        return None if a is None else LogMeanExp(a, f.variable)
    if f.is_Pow:
        b, e = f.args
        lb = _logform(b)
        return None if lb is None else stabilize(e) * lb
    if f.is_Mul:
        parts = [_logform(a) for a in _sinh_cosh(list(f.args))]
        return None if any(p is None for p in parts) else sp.Add(*parts)
    if f.is_Add:
        parts = [_logform(a) for a in f.args]
        return None if any(p is None for p in parts) else LogAddExp(*parts)
    return None


def _split_exp(f):
    """``(g, A)`` with ``f == g * exp(A)``; ``A`` is ``None`` when ``f`` has no exponential-like factor.

    A sum is split when every term has an exponential-like factor; the first term's exponent is
    factored out (the others contribute ``exp(A_i - A_0)``, ``1`` when they coincide).
    """
    if f.is_Add:
        parts = [_split_exp(t) for t in f.args]
        if any(a is None for _, a in parts):
            return f, None
        a0 = parts[0][1]
        g = sp.Add(*[gi if ai == a0 else gi * sp.exp(ai - a0) for gi, ai in parts])
        return g, a0
    factors = _sinh_cosh(list(sp.Mul.make_args(f)))
    g, logs = [], []
    for fa in factors:
        lf = None if fa.is_Number else _logform(fa)
        if lf is None:
            g.append(fa)
        else:
            logs.append(lf)
    if not logs:
        return f, None
    return sp.Mul(*g), sp.Add(*logs)


def _stab_mul(expr):
    factors = _sinh_cosh(list(expr.args))
    # denominators E(D, z)**(-k) with D exponential-like, numerators E(g e^A, z)**p
    dens = []
    others = []
    for f in factors:
        b, e = f.as_base_exp()
        if (isinstance(b, GaussianExpectation) and e.is_Integer and e < 0
                and _logform(b.integrand) is not None):
            dens.append([b, int(-e)])
        else:
            others.append(f)
    if not dens:
        return sp.Mul(*[_stab_factor(f) for f in factors])
    out = []
    for f in others:
        b, e = f.as_base_exp()
        if isinstance(b, GaussianExpectation) and e.is_Integer and e > 0:
            g, a_n = _split_exp(b.integrand)
            if a_n is not None:
                left = int(e)
                for d in dens:
                    if d[1] > 0 and d[0].variable == b.variable and left > 0:
                        n = min(left, d[1])
                        a_d = _logform(d[0].integrand)
                        out.append(TiltedMean(stabilize(g), a_n, a_d, b.variable) ** n)
                        d[1] -= n
                        left -= n
                if left:
                    out.append(_stab_factor(b ** left))
                continue
        out.append(_stab_factor(f))
    for b, k in dens:
        if k:
            out.append(_stab_factor(b ** (-k)))
    return sp.Mul(*out)


def _stab_factor(f):
    return stabilize(f)


def normalized_tilts(expr):
    r"""Write every :math:`\mathbb E_z[g\,e^{A}]` (innermost expectations) as :math:`D_A\,` ``TiltedMean(g, A, A, z)``
    with :math:`D_A` standing for :math:`\mathbb E_z[e^A]`, and cancel the :math:`D_A`.  Any derivative of
    :math:`\log\mathbb E_z e^A` (a replicon kernel, a thermal moment) is homogeneous of degree 0 in each
    :math:`D_A`, so they cancel and no un-normalised exponential expectation is left to overflow (ReLU's tilt
    :math:`e^{h\sigma}` is unbounded; :func:`stabilize` pairs one numerator with one denominator only, and
    left :math:`(\mathbb E[\sigma^2e^A] - \mathbb E[\sigma e^A]^2/\mathbb E[e^A])^2/\mathbb E[e^A]^2` to overflow).
    Returns ``expr`` unchanged when some :math:`D_A` does not cancel."""
    mapping, placeholders = {}, {}
    for node in sp.preorder_traversal(expr):
        if not isinstance(node, GaussianExpectation) or node.integrand.has(GaussianExpectation):
            continue
        g, a = _split_exp(node.integrand)
        if a is None:
            continue
        D = placeholders.setdefault((a, node.variable), sp.Dummy("D", positive=True))
        mapping[node] = D if g == 1 else D * TiltedMean(g, a, a, node.variable)
    if len(mapping) < 2:
        return expr
    Ds = set(placeholders.values())

    def cancel(e):
        return e.func(sp.cancel(e.integrand), e.variable)
    new = expr.xreplace(mapping)
    new = new.replace(lambda e: isinstance(e, GaussianExpectation) and e.integrand.has(*Ds), cancel)
    new = sp.cancel(new) if new.has(*Ds) else new
    return expr if new.has(*Ds) else new


@functools.lru_cache(maxsize=65536)
def stabilize(expr):
    r"""Rewrite ``expr`` into overflow-free primitives for floating point evaluation.

    * :math:`\log f` with ``f`` exponential-like (``cosh``, ``exp``, powers, products, sums of
      such, ``E_z`` of such) becomes its log-form: ``LogCosh``, ``LogAddExp``, ``LogMeanExp``.
    * :math:`\mathbb E_z f` with ``f`` exponential-like becomes ``exp(LogMeanExp(A, z))``.
    * ``b**e`` with ``b`` exponential-like (``cosh(x)**m``, ``(2 cosh x)**m``, ``E(..)**e``)
      becomes ``exp(e * log-form(b))``.
    * products: :math:`\sinh^a\cosh^b \to \tanh^a\cosh^{a+b}` and
      :math:`\mathbb E[g e^{A_N}]\,/\,\mathbb E[e^{A_D}] \to` ``TiltedMean``.
    """
    if expr.is_Atom:
        return expr
    if isinstance(expr, sp.log):
        a = _logform(expr.args[0])
        return a if a is not None else sp.log(stabilize(expr.args[0]))
    if isinstance(expr, GaussianExpectation):
        a = _logform(expr.integrand)
        if a is not None:
            return sp.exp(LogMeanExp(a, expr.variable))
        return Expectation(stabilize(expr.integrand), expr.variable)
    if expr.is_Pow:
        b, e = expr.args
        if not _is_pos_number(b) and e != 1:
            lb = _logform(b)
            if lb is not None:
                return sp.exp(stabilize(e) * lb)
        return sp.Pow(stabilize(b), stabilize(e))
    if expr.is_Mul:
        return _stab_mul(expr)
    if isinstance(expr, (LogCosh, LogAddExp, LogMeanExp, TiltedMean)):
        return expr
    args = [stabilize(a) for a in expr.args]
    return expr.func(*args)


# --------------------------------------------------------------------------- printers
class _NamesMixin:
    """Prints symbols through a name map (sanitised identifiers)."""

    def __init__(self, names=None, axes=None, settings=None):
        super().__init__(settings or {})
        self._names = dict(names or {})
        self._axes = dict(axes or {})

    def _print_Symbol(self, expr):
        if expr in self._names:
            return self._names[expr]
        return super()._print_Symbol(expr)

    _print_Dummy = _print_Symbol


class NumpyQuadraturePrinter(_NamesMixin, NumPyPrinter):
    """NumPy printer with vectorised trapezoidal quadrature; ``axes`` maps Gaussian variable -> axis.

    Prints only ``numpy.*`` and the generated module's own helpers (no ``math``/``scipy``).
    """

    def _axis(self, z):
        if z not in self._axes:
            raise KeyError(f"Gaussian variable {z} has no quadrature axis")
        return self._axes[z]

    def _print_Expectation(self, expr):
        return "_E(%s, %d)" % (self._print(expr.args[0]), self._axis(expr.args[1]))

    def _print_GaussianExpectation(self, expr):
        return self._print_Expectation(expr)

    def _print_LogMeanExp(self, expr):
        return "_lme(%s, %d)" % (self._print(expr.args[0]), self._axis(expr.args[1]))

    def _print_TiltedMean(self, expr):
        g, an, ad, z = expr.args
        return "_tilt(%s, %s, %s, %d)" % (self._print(g), self._print(an), self._print(ad),
                                          self._axis(z))

    def _print_LogCosh(self, expr):
        return "_logcosh(%s)" % self._print(expr.args[0])

    def _print_LogAddExp(self, expr):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = "numpy.logaddexp(%s, %s)" % (out, a)
        return out

    # special functions: vectorised, numpy + stdlib only
    def _helper(self, name, expr):
        return "%s(%s)" % (name, ", ".join(self._print(a) for a in expr.args))

    def _print_erf(self, expr):
        return self._helper("_erf", expr)

    def _print_erfc(self, expr):
        return self._helper("_erfc", expr)

    def _print_gamma(self, expr):
        return self._helper("_gamma", expr)

    def _print_loggamma(self, expr):
        return self._helper("_lgamma", expr)

    def _print_factorial(self, expr):
        return "_gamma(%s + 1)" % self._print(expr.args[0])

    def _print_beta(self, expr):
        x, y = (self._print(a) for a in expr.args[:2])
        return "(_gamma(%s)*_gamma(%s)/_gamma(%s + %s))" % (x, y, x, y)

    def _print_Heaviside(self, expr):
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return "numpy.heaviside(%s, %s)" % (self._print(expr.args[0]), self._print(sp.Float(h0)))

    def _print_Abs(self, expr):
        return "numpy.abs(%s)" % self._print(expr.args[0])

    def _print_KroneckerDelta(self, expr):
        a, b = (self._print(x) for x in expr.args)
        return "numpy.where(numpy.equal(%s, %s), 1.0, 0.0)" % (a, b)

    def _nest(self, fn, expr):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = "%s(%s, %s)" % (fn, out, a)
        return out

    def _print_Max(self, expr):
        return self._nest("numpy.maximum", expr)

    def _print_Min(self, expr):
        return self._nest("numpy.minimum", expr)


class MpmathQuadraturePrinter(_NamesMixin, MpmathPrinter):
    """mpmath printer; ``E(f, z)`` becomes ``_E(lambda z: f)`` (nested for nested expectations)."""

    def _print_Expectation(self, expr):
        return "_E(lambda %s: %s)" % (self._print(expr.args[1]), self._print(expr.args[0]))

    def _print_GaussianExpectation(self, expr):
        return self._print_Expectation(expr)

    def _print_LogCosh(self, expr):
        return "mpmath.log(mpmath.cosh(%s))" % self._print(expr.args[0])

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return "(mpmath.mpf(0) if %s < 0 else mpmath.mpf(1) if %s > 0 else %s)" % (
            x, x, self._print(sp.Float(h0, 30) if h0.is_finite else h0))
