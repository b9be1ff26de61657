r"""Symbolic derivation of the one-layer kernel :math:`K(s_1,s_2,c)=\mathbb{E}[\sigma(u)\sigma(v)]`.

:math:`(u,v)` is a centred Gaussian pair with :math:`\mathbb{E}u^2=s_1`, :math:`\mathbb{E}v^2=s_2`,
:math:`\mathbb{E}uv=c`.  The derivation writes :math:`\sigma` as a linear combination of *atoms*
and sums the pair kernels, each from a known Gaussian identity:

* **exponential-polynomials** :math:`x^m e^{\lambda x}` (polynomials, ``sin``/``cos``/``sinh``/
  ``cosh``/``exp`` rewritten with complex exponentials): the Gaussian moment generating function
  and Wick's theorem,
  :math:`\mathbb{E}[u^m e^{\lambda u} v^n e^{\mu v}] = \partial_\lambda^m\partial_\mu^n
  \exp\big(\tfrac12(\lambda^2 s_1 + 2\lambda\mu c + \mu^2 s_2)\big)`; e.g.
  :math:`\mathbb{E}[\sin u\sin v]=e^{-(s_1+s_2)/2}\sinh c`;
* **ramps** :math:`\max(\pm x,0)` (ReLU, leaky/shaped ReLU, ``abs``, ``min``, any homogeneous
  piecewise-linear function): the arc-cosine kernel (Cho & Saul 2009),
  :math:`\mathbb{E}[\mathrm{relu}(u)\mathrm{relu}(v)] = \frac{\sqrt{s_1s_2}}{2\pi}\big(\sqrt{1-\rho^2}
  +(\pi-\arccos\rho)\rho\big)`, :math:`\rho=c/\sqrt{s_1s_2}`;
* **steps** :math:`H(\pm x)` (``sign``, ``heaviside``): Sheppard's formula
  :math:`\mathbb{E}[H(u)H(v)]=\frac14+\frac{\arcsin\rho}{2\pi}`;
* **erf** :math:`\operatorname{erf}(a x)`: the arcsine kernel (Williams 1997),
  :math:`\mathbb{E}[\operatorname{erf}(au)\operatorname{erf}(bv)]=\frac{2}{\pi}\arcsin
  \frac{2abc}{\sqrt{(1+2a^2s_1)(1+2b^2s_2)}}`;
* cross terms of an affine :math:`\alpha+\beta x` with any atom :math:`g`, by Gaussian regression
  :math:`\mathbb{E}[u\,g(v)] = (c/s_2)\,\mathbb{E}[v\,g(v)]`.

The c-derivatives follow from Price's theorem,
:math:`\partial_c^k K = \mathbb{E}[\sigma^{(k)}(u)\sigma^{(k)}(v)]`, by differentiating the closed
form; distributional derivatives come out right (ReLU'' = δ gives
:math:`\mathbb{E}[\delta(u)\delta(v)] = 1/(2\pi\sqrt{s_1s_2-c^2})`, the bivariate density at 0).
Anything else (``tanh``, ``x*erf(x)``, ``sigmoid``) has no closed form here: the derivation records
the double Gaussian integral that the quadrature of :mod:`.quadrature` evaluates.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from ..symbolic.gaussian import GaussianExpectation
from ..symbolic.trace import Trace
from .activations import Activation, X

__all__ = ["S1", "S2", "C", "KernelDerivation", "derive_kernel"]

S1, S2 = sp.symbols("s_1 s_2", positive=True)
C = sp.Symbol("c", real=True)
_Z1, _Z2 = sp.symbols("z_1 z_2", real=True)
_RAMP = sp.Function("ramp")   # ramp(x) = max(x, 0), an atom of the decomposition
_STEP = sp.Function("step")   # step(x) = H(x)


class _NoClosedForm(Exception):
    """The activation is outside the families with a closed-form kernel."""


@dataclass(frozen=True)
class KernelDerivation:
    r"""The kernel of one activation: closed form (or None) and the recorded derivation.

    ``kernel`` is :math:`K(s_1,s_2,c)` in the symbols :data:`S1`, :data:`S2`, :data:`C`;
    ``integral`` is the double Gaussian integral it equals (always available)."""

    activation: Activation
    kernel: sp.Expr | None
    integral: sp.Expr
    trace: Trace

    @property
    def closed(self) -> bool:
        return self.kernel is not None

    def derivative(self, k: int) -> sp.Expr | None:
        r""":math:`\partial_c^k K = \mathbb{E}[\sigma^{(k)}(u)\sigma^{(k)}(v)]` (Price), or None."""
        return None if self.kernel is None else _tidy(sp.diff(self.kernel, C, k))

    def numpy(self, k: int = 0) -> Callable | None:
        """Vectorized numpy function ``(s1, s2, c) -> d^k K/dc^k`` of the closed form, or None."""
        expr = self.derivative(k)
        return None if expr is None else _numpy_kernel(sp.srepr(expr))

    def latex(self) -> str:
        return self.trace.markdown()


@functools.lru_cache(maxsize=256)
def _numpy_kernel(srepr: str) -> Callable:
    import numpy as np

    expr = sp.sympify(srepr)  # our own srepr, not user text
    # in terms of rho = c/sqrt(s1 s2), clipped to [-1, 1]: sqrt(1 - rho^2) stays real at rho = 1
    rho = sp.Symbol("rho", real=True)
    f = sp.lambdify((S1, S2, rho), expr.subs(C, rho * sp.sqrt(S1) * sp.sqrt(S2)), modules=["scipy", "numpy"])

    def kernel(s1, s2, c):
        s1, s2, c = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (s1, s2, c)))
        r = np.clip(c / np.sqrt(s1 * s2), -1.0, 1.0)
        return np.broadcast_to(f(s1, s2, r), r.shape) + 0.0

    return kernel


def gaussian_pair_integral(f: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb{E}_{z_1}\mathbb{E}_{z_2}[f(u)f(v)]` with :math:`u=\sqrt{s_1}z_1`,
    :math:`v=(c/\sqrt{s_1})z_1+\sqrt{s_2-c^2/s_1}\,z_2` (unevaluated)."""
    u = sp.sqrt(S1) * _Z1
    v = C / sp.sqrt(S1) * _Z1 + sp.sqrt(S2 - C**2 / S1) * _Z2
    return GaussianExpectation(GaussianExpectation(f.subs(X, u) * f.subs(X, v), _Z2), _Z1)


def derive_kernel(act: Activation, derivatives: int = 2) -> KernelDerivation:
    """Derive the kernel of ``act`` and its first ``derivatives`` c-derivatives, recording a Trace."""
    tr = Trace()
    K = sp.Function("K")(S1, S2, C)
    tr.record("activation", f"sigma(x) = {act.expr}", sp.Eq(sp.Function("sigma")(X), act.expr))
    integral = gaussian_pair_integral(act.expr)
    tr.record("kernel as a Gaussian integral", "u = sqrt(s_1) z_1, v = (c/sqrt(s_1)) z_1 + "
              "sqrt(s_2 - c^2/s_1) z_2 with z_1, z_2 independent standard normals", sp.Eq(K, integral))
    try:
        atoms = _decompose(act.expr)
    except _NoClosedForm as exc:
        tr.record("no closed form", f"{exc}; the kernel is evaluated by quadrature "
                  "(Gauss-Hermite, mpmath, or the Hermite series)", sp.Eq(K, integral))
        for k in range(1, derivatives + 1):
            dk = sp.Derivative(K, C, k)
            fk = act.derivative(k)
            tr.record(f"Price's theorem (order {k})", "d^k K/dc^k = E[sigma^(k)(u) sigma^(k)(v)]",
                      sp.Eq(dk, gaussian_pair_integral(fk)))
        return KernelDerivation(act, None, integral, tr)
    tr.record("decomposition into atoms", "sigma = sum of exponential-polynomials x^m e^(lambda x), ramps "
              "max(+-x,0), steps H(+-x) and erf(a x)", sp.Eq(sp.Function("sigma")(X), _show(atoms)))
    kernel = sp.S.Zero
    for (fa, ca), (fb, cb) in ((p, q) for p in atoms.items() for q in atoms.items()):
        kernel += _pair(fa, ca, fb, cb, tr)
    kernel = _tidy(kernel)
    tr.record("closed form", "sum of the pair kernels", sp.Eq(K, kernel))
    for k in range(1, derivatives + 1):
        dk = _tidy(sp.diff(kernel, C, k))
        tr.record(f"Price's theorem (order {k})", "d^k K/dc^k = E[sigma^(k)(u) sigma^(k)(v)]"
                  + (" (distributional derivatives: relu'' = delta)" if act.expr.has(sp.Max, sp.Min, sp.Abs)
                     else ""), sp.Eq(sp.Derivative(K, C, k), dk))
    return KernelDerivation(act, kernel, integral, tr)


def _tidy(expr: sp.Expr) -> sp.Expr:
    expr = sp.expand(expr)
    if expr.has(sp.I):
        expr = sp.expand_complex(expr)
    return sp.simplify(expr)


# -- decomposition into atoms -----------------------------------------------------------------
def _homogeneous_slope(arg: sp.Expr) -> sp.Expr:
    """k when ``arg == k*x`` with k free of x, else raise."""
    k = sp.simplify(arg / X)
    if k.has(X) or k.is_zero or not k.is_real:
        raise _NoClosedForm(f"{arg} is not proportional to x")
    return k


def _max(*args):
    if len(args) != 2:
        raise _NoClosedForm("max/min of more than two terms")
    a, b = args
    return b + _RAMP(sp.expand(a - b))


def _normalise(expr: sp.Expr) -> sp.Expr:
    """Rewrite piecewise-linear and trigonometric pieces into atoms, then expand."""
    expr = expr.replace(sp.sign, lambda a: 2 * _STEP(a) - 1)
    expr = expr.replace(sp.Heaviside, lambda a, *h: _STEP(a))
    expr = expr.replace(sp.Abs, lambda a: _RAMP(a) + _RAMP(-a))
    expr = expr.replace(sp.Min, lambda *a: -_max(*[-t for t in a]))
    expr = expr.replace(sp.Max, _max)
    expr = expr.rewrite(sp.exp)  # sin, cos, sinh, cosh -> exponentials (tanh becomes a ratio: no closed form)
    return sp.expand(expr)


def _decompose(expr: sp.Expr) -> dict:
    """sigma as {atom: coefficient}; atoms ('ep', None) (exponential-polynomial part, coefficient is
    the expression), ('ramp', +-1), ('step', +-1), ('erf', a > 0)."""
    atoms: dict = defaultdict(lambda: sp.S.Zero)
    for term in sp.Add.make_args(_normalise(expr)):
        coef, rest = term.as_independent(X, as_Add=False)
        if rest.func in (_RAMP, _STEP):
            k = _homogeneous_slope(rest.args[0])
            sgn = 1 if k.is_positive else -1 if k.is_negative else None
            if sgn is None:
                raise _NoClosedForm(f"the sign of {k} is unknown")
            atoms[(rest.func.__name__, sgn)] += coef * (abs(k) if rest.func is _RAMP else 1)
        elif rest.func is sp.erf:
            a = _homogeneous_slope(rest.args[0])
            atoms[("erf", abs(a))] += coef * sp.sign(a)
        else:
            _exp_poly_terms(rest)  # raises when rest is not x^m e^(lambda x)
            atoms[("ep", None)] += term
    return {k: v for k, v in atoms.items() if v != 0}


def _exp_poly_terms(expr: sp.Expr) -> list[tuple[sp.Expr, int, sp.Expr]]:
    """``expr`` (expanded) as [(coefficient, m, lambda)] with expr = sum coef x^m e^(lambda x)."""
    out = []
    for term in sp.Add.make_args(sp.expand(expr)):
        coef, m, lam = sp.S.One, 0, sp.S.Zero
        for f in sp.Mul.make_args(term):
            if not f.has(X):
                coef *= f
            elif f == X:
                m += 1
            elif f.is_Pow and f.base == X and f.exp.is_Integer and f.exp > 0:
                m += int(f.exp)
            elif isinstance(f, sp.exp) or (f.is_Pow and f.base == sp.E):
                arg = f.exp if f.is_Pow else f.args[0]
                d = sp.diff(arg, X)
                if d.has(X):
                    raise _NoClosedForm(f"exp({arg}) is not exp(linear in x)")
                lam += d
                coef *= sp.exp(sp.expand(arg - d * X))
            else:
                raise _NoClosedForm(f"no closed-form Gaussian kernel for {f}")
        out.append((coef, m, lam))
    return out


def _show(atoms: dict) -> sp.Expr:
    named = {"ramp": lambda s: sp.Max(s * X, 0), "step": lambda s: sp.Heaviside(s * X),
             "erf": lambda a: sp.erf(a * X)}
    return sp.Add(*[c if f == "ep" else c * named[f](p) for (f, p), c in atoms.items()])


# -- pair kernels E[f(u) g(v)] ------------------------------------------------------------------
def _centred_moment(i: int, j: int) -> sp.Expr:
    r""":math:`\mathbb{E}[U^iV^j]` of the centred pair (Isserlis/Wick: k pairs across, the rest within):
    :math:`\sum_k\binom ik\binom jk k!\,c^k(i-k-1)!!\,s_1^{(i-k)/2}(j-k-1)!!\,s_2^{(j-k)/2}`,
    i - k and j - k even."""
    total = sp.S.Zero
    for k in range(min(i, j) + 1):
        if (i - k) % 2 or (j - k) % 2:
            continue
        total += (sp.binomial(i, k) * sp.binomial(j, k) * sp.factorial(k) * C**k
                  * sp.factorial2(i - k - 1) * S1 ** ((i - k) // 2)
                  * sp.factorial2(j - k - 1) * S2 ** ((j - k) // 2))
    return total


def _mgf_moment(m: int, n: int, lam: sp.Expr, mu: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb{E}[u^me^{\lambda u}v^ne^{\mu v}]=\partial_\lambda^m\partial_\mu^n e^{Q}`,
    :math:`Q=(\lambda^2s_1+2\lambda\mu c+\mu^2s_2)/2`, at the given :math:`\lambda, \mu`: the tilt
    :math:`e^{\lambda u+\mu v}` shifts the pair's means to :math:`a=\lambda s_1+\mu c`,
    :math:`b=\lambda c+\mu s_2` (completing the square), so the moment is
    :math:`e^{Q}\sum_{i,j}\binom mi\binom nj a^{m-i}b^{n-j}\,\mathbb{E}[U^iV^j]` -- polynomial in m, n
    where differentiating the exponential is exponential (23 s at m = n = 16)."""
    if (m - n) % 2 and lam == 0 and mu == 0:
        return sp.S.Zero
    a, b = lam * S1 + mu * C, lam * C + mu * S2
    total = sp.S.Zero
    for i in range(m + 1):
        for j in range(n + 1):
            if (i + j) % 2 == 0:
                total += sp.binomial(m, i) * sp.binomial(n, j) * a ** (m - i) * b ** (n - j) * _centred_moment(i, j)
    return sp.exp((lam**2 * S1 + 2 * lam * mu * C + mu**2 * S2) / 2) * total


def _ep_ep(f: sp.Expr, g: sp.Expr) -> sp.Expr:
    total = sp.S.Zero
    for cf, m, lam in _exp_poly_terms(f):
        for cg, n, mu in _exp_poly_terms(g):
            total += cf * cg * _mgf_moment(m, n, lam, mu)
    return total


def _moments(family: str, p, s) -> tuple[sp.Expr, sp.Expr]:
    """(E[g(v)], E[v g(v)]) for v ~ N(0, s) and the atom g."""
    if family == "ramp":
        return sp.sqrt(s / (2 * sp.pi)), p * s / 2
    if family == "step":
        return sp.Rational(1, 2), p * sp.sqrt(s / (2 * sp.pi))
    return sp.S.Zero, s * 2 * p / sp.sqrt(sp.pi * (1 + 2 * p**2 * s))  # erf(p v): Stein's lemma


def _same_family(family: str, p, q) -> sp.Expr:
    rho = C / sp.sqrt(S1 * S2)
    if family == "ramp":
        r = p * q * rho
        return sp.sqrt(S1 * S2) / (2 * sp.pi) * (sp.sqrt(1 - r**2) + (sp.pi - sp.acos(r)) * r)
    if family == "step":
        return sp.Rational(1, 4) + sp.asin(p * q * rho) / (2 * sp.pi)
    return 2 / sp.pi * sp.asin(2 * p * q * C / sp.sqrt((1 + 2 * p**2 * S1) * (1 + 2 * q**2 * S2)))


_RULE = {"ramp": "arc-cosine kernel (Cho & Saul 2009)", "step": "Sheppard's arcsine formula",
         "erf": "arcsine kernel (Williams 1997)"}


def _affine(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    terms = _exp_poly_terms(expr)
    if any(lam != 0 or m > 1 for _, m, lam in terms):
        raise _NoClosedForm(f"no closed-form cross kernel between {expr} and a non-polynomial atom")
    return (sp.Add(*[c for c, m, _ in terms if m == 0]), sp.Add(*[c for c, m, _ in terms if m == 1]))


def _pair(fa, ca, fb, cb, tr: Trace) -> sp.Expr:
    (a, p), (b, q) = fa, fb
    if a == "ep" and b == "ep":
        out = _ep_ep(ca, cb)
        tr.record("Wick / moment generating function", "E[u^m e^(lambda u) v^n e^(mu v)] = "
                  "d^m/dlambda^m d^n/dmu^n exp((lambda^2 s_1 + 2 lambda mu c + mu^2 s_2)/2)", _tidy(out))
        return out
    if a == "ep" or b == "ep":
        ep, (fam, par), coef, swap = (ca, fb, cb, False) if a == "ep" else (cb, fa, ca, True)
        alpha, beta = _affine(ep)
        s_g = S1 if swap else S2  # the variance of the atom's argument
        m0, m1 = _moments(fam, par, s_g)
        out = coef * (alpha * m0 + beta * C / s_g * m1)
        tr.record("Gaussian regression", "E[(alpha + beta u) g(v)] = alpha E[g(v)] + beta (c/s) E[v g(v)]",
                  out)
        return out
    if a != b:
        raise _NoClosedForm(f"no closed-form cross kernel between the {a} and {b} atoms")
    out = ca * cb * _same_family(a, p, q)
    tr.record(_RULE[a], f"E[{a}(u) {a}(v)] in closed form", out)
    return out
