r"""Deciding whether two expressions of an engine derivation's symbols are the same function.

The machinery behind :mod:`replicasym.check`, usable on its own:

* :func:`symbolically_zero` -- does an expression vanish identically?  Cheap canonical rewrites
  under a time budget (SIGALRM): bound Gaussian variables renamed by nesting depth
  (:func:`rename_gaussians`), Stein's lemma :math:`\mathbb E[z f(z)] = \mathbb E[f'(z)]`
  (:func:`replicasym.symbolic.gaussian.stein`), logarithms expanded, expectations linearised and
  merged into one (:func:`fold_expectations`), integrands rewritten with exponentials and
  cancelled.  ``True`` is a proof; ``False`` means "not shown".
* :class:`Evaluator` -- mpmath values at any precision; :math:`\mathbb E_z[f]` is tanh-sinh
  quadrature of :math:`f(z)\varphi(z)` on :math:`(-\infty, 0] \cup [0, \infty)`
  (``mpmath.quad``), nested for nested expectations, with the largest relative error estimate
  kept in ``Evaluator.error``.
* :func:`sample_points` -- random admissible points of a derivation (exact rationals);
  :func:`fit` -- exact least squares over sample points (:func:`mpmath.qr_solve`); :func:`nice` --
  short exact forms of numbers (2, 1/2, -1, log 2); :func:`find_zeros` -- zeros along one variable.
"""
from __future__ import annotations

import contextlib
import random
import signal
import threading

import mpmath
import sympy as sp

from .codegen.printers import MpmathQuadraturePrinter
from .errors import ParameterError, ReplicasymError
from .symbolic.gaussian import GaussianExpectation, linearize, stein

__all__ = [
    "BETA_RANGE",
    "SYMBOLIC_BUDGET",
    "Evaluator",
    "exponential_form",
    "find_zeros",
    "fit",
    "fold_expectations",
    "inner_range",
    "nice",
    "nice_to",
    "numeric_budget",
    "order_kind",
    "point_dict",
    "relative_spread",
    "rename_gaussians",
    "sample_points",
    "symbolically_zero",
    "time_limit",
]

#: seconds allowed to each symbolic simplification attempt
SYMBOLIC_BUDGET = 3.0
#: range of the inverse temperature at the sample points
BETA_RANGE = (0.5, 2.5)


class _OutOfTime(BaseException):
    """Raised by the alarm inside a time-bounded symbolic step (a BaseException, so that no
    ``except Exception`` inside SymPy swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` with :class:`_OutOfTime` (SIGALRM; main thread only).

    Elsewhere the block runs unbounded; the symbolic steps are then limited to cheap rewrites."""
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None))
    if not usable:
        yield
        return

    def _alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def numeric_budget(seconds: float, what: str):
    """Run a numeric stage under a wall-clock budget (:func:`time_limit`); past it, raise one clear
    :class:`~replicasym.errors.ReplicasymError` instead of running on (nested Gaussian expectations
    at 30 digits can take minutes per sample point)."""
    try:
        with time_limit(seconds):
            yield
    except _OutOfTime:
        raise ReplicasymError(
            f"{what} did not finish within {seconds:g} s (nested Gaussian expectations at high precision "
            "are slow); try --samples 3, or compare the equations of a simpler ansatz") from None


def _gaussian(depth: int) -> sp.Symbol:
    return sp.Symbol(f"zeta_{depth}", real=True)


def rename_gaussians(expr: sp.Basic, depth: int = 0) -> sp.Basic:
    """Bound Gaussian variables renamed by nesting depth, so that two spellings share them."""
    if isinstance(expr, GaussianExpectation):
        g = _gaussian(depth)
        body = rename_gaussians(expr.integrand.xreplace({expr.variable: g}), depth + 1)
        return GaussianExpectation(body, g)
    if not expr.args or not expr.has(GaussianExpectation):
        return expr
    return expr.func(*[rename_gaussians(a, depth) for a in expr.args])


def exponential_form(expr: sp.Basic) -> sp.Basic:
    """Hyperbolic functions and powers with symbolic exponents as exponentials, logs expanded."""
    expr = expr.rewrite(sp.exp)
    expr = expr.replace(lambda x: x.is_Pow and not x.exp.is_number,
                        lambda x: sp.exp(x.exp * sp.log(x.base)))
    return sp.expand_log(expr, force=True)


def _cancels(expr: sp.Basic) -> bool:
    return sp.cancel(sp.together(sp.expand(exponential_form(expr)))) == 0


def fold_expectations(expr: sp.Expr):
    """``c_0 + sum_i c_i E(f_i, g)`` (the c_i free of expectations, one common variable) as the
    single integrand ``c_0 + sum_i c_i f_i``; None when ``expr`` is not of that form."""
    integrand = sp.S.Zero
    variable = None
    for term in sp.Add.make_args(sp.expand(expr)):
        factors = sp.Mul.make_args(term)
        es = [f for f in factors if isinstance(f, GaussianExpectation)]
        rest = sp.Mul(*[f for f in factors if not isinstance(f, GaussianExpectation)])
        if rest.has(GaussianExpectation) or len(es) > 1:
            return None
        if es:
            if variable is not None and es[0].variable != variable:
                return None
            variable = es[0].variable
            integrand += rest * es[0].integrand
        else:
            integrand += rest
    return integrand


def symbolically_zero(expr: sp.Expr, budget: float = SYMBOLIC_BUDGET) -> bool:
    """True when ``expr`` provably vanishes after the canonical rewrites (module docstring);
    False when the rewrites do not get there within ``budget`` seconds (undecided, not 'nonzero')."""
    try:
        with time_limit(budget):
            e = rename_gaussians(sp.sympify(expr))
            e = linearize(sp.expand_log(stein(e), force=True))
            if e == 0:
                return True
            folded = fold_expectations(e)
            return _cancels(folded if folded is not None else e)
    except _OutOfTime:
        return False
    except (TypeError, ValueError, NotImplementedError, ZeroDivisionError, RecursionError,
            sp.PolynomialError, AttributeError):
        return False


# ------------------------------------------------------------------------------- numeric stage
class Evaluator:
    r"""mpmath values of expressions in the engine's symbols.

    :math:`\mathbb E_z[f]` is ``mpmath.quad(f(z) phi(z), [-inf, 0, inf])`` (tanh-sinh, adaptive) for
    single expectations; with ``nested=True`` every level is the trapezoidal rule with step 1/8 on
    :math:`|z| \le L`, :math:`\varphi(L) < 10^{-(\mathrm{dps}+2)}` (about 160 nodes per level at 20
    digits; geometric convergence for analytic integrands, error ~exp(-pi^2/(8 a)) for
    tanh(a z), i.e. ~1e-14 at a = 2.4; Trefethen & Weideman, SIAM Rev. 56 (2014) 385), with the
    error estimated from the rules with steps 1/4 and 1/2 on the same nodes.  ``error`` keeps the
    largest relative error estimate met.  A numerically known covariance function
    :math:`\xi^{(j)}(q)` (``kernel``, :mod:`replicasym.symbolic.covariance`) is evaluated by the
    kernel, at the working precision where it has a closed form, else in double precision.
    """

    def __init__(self, symbols, nested: bool = False, kernel=None):
        self.symbols = tuple(symbols)
        self.nested = nested
        self.kernel = kernel
        self.error = mpmath.mpf(0)
        self._printer = MpmathQuadraturePrinter({}, {}, {"fully_qualified_modules": False, "inline": True,
                                                         "allow_unknown_functions": False})
        self._cache: dict = {}
        self._rules: dict = {}

    def _expectation(self, f):
        if self.nested:
            value, err = self._trapezoid(f)
        else:
            value, err = mpmath.quad(lambda z: f(z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf], error=True)
        self.error = max(self.error, err / max(abs(value), 1))
        return value

    def _trapezoid(self, f):
        rule = self._rules.get(mpmath.mp.prec)
        if rule is None:
            half = int(mpmath.ceil(8 * mpmath.sqrt(2 * (mpmath.mp.dps + 2) * mpmath.ln(10))))
            nodes = [mpmath.mpf(k) / 8 for k in range(-half, half + 1)]
            rule = self._rules[mpmath.mp.prec] = (half, nodes, [mpmath.npdf(z) for z in nodes])
        half, nodes, density = rule
        terms = [w * f(z) for z, w in zip(nodes, density)]
        sums = []
        for step in (1, 2, 4):  # the rules with h = 1/8, 1/4, 1/2 on the same nodes
            picked = range(half % step, len(nodes), step)
            sums.append(mpmath.fsum(terms[k] for k in picked) / mpmath.fsum(density[k] for k in picked))
        d1, d0 = abs(sums[0] - sums[1]), abs(sums[1] - sums[2])
        return sums[0], (d1 * d1 / d0 if d0 > d1 else d1)

    def _xi(self, order, q):
        exact = self.kernel.mpmath(int(order))
        if exact is not None:
            return exact(q)
        return mpmath.mpf(float(self.kernel(float(q), int(order))[int(order)]))

    def compile(self, expr: sp.Expr):
        expr = sp.sympify(expr)
        if expr not in self._cache:
            extra = expr.free_symbols - set(self.symbols)
            if extra:
                raise ParameterError(f"the expression uses {', '.join(sorted(map(str, extra)))}, which are "
                                     "not the engine's symbols")
            helpers = {"_E": self._expectation, "_xi": self._xi}
            self._cache[expr] = sp.lambdify(self.symbols, expr, modules=[helpers, "mpmath"], printer=self._printer)
        return self._cache[expr]

    def value(self, expr: sp.Expr, point: dict):
        """The value at ``point`` (symbol -> Rational) at the current precision; None when it is not
        a finite real number there."""
        args = [mpmath.mpf(point[s].p) / point[s].q if isinstance(point[s], sp.Rational) else mpmath.mpf(point[s])
                for s in self.symbols]
        try:
            v = self.compile(expr)(*args)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None
        if isinstance(v, (int, float)):
            v = mpmath.mpf(v)
        if not isinstance(v, mpmath.mpf) or not mpmath.isfinite(v):
            return None
        return v


def order_kind(s: sp.Symbol) -> str:
    return "m" if s.name.startswith("m") else "q" if s.name.startswith("q") else "other"


def inner_range(d, s: sp.Symbol) -> tuple[float, float]:
    lo, hi = (d.bounds or {}).get(s, (sp.S.NegativeInfinity, sp.oo))
    lo = float(lo) if sp.sympify(lo).is_finite else None
    hi = float(hi) if sp.sympify(hi).is_finite else None
    if lo is None and hi is None:
        return -2.0, 2.0
    if lo is None:
        return hi - 3.0, hi - 0.1
    if hi is None:
        return lo + 0.1, lo + 3.0
    w = hi - lo
    return lo + 0.1 * w, hi - 0.1 * w


def sample_points(d, n: int, seed: int) -> list[dict]:
    """``n`` random admissible points (exact rationals): order parameters inside the middle 80 % of
    their bounds (overlap levels increasing, breakpoints increasing), beta in BETA_RANGE, model
    parameters at their values."""
    rng = random.Random(seed)

    def draw(lo, hi):
        return sp.Rational(rng.randint(round(lo * 10**6), round(hi * 10**6)), 10**6)

    params = {s: sp.Rational(str(d.param_values[s])) if s in d.param_values else draw(-1.0, 1.0)
              for s in d.params}
    points = []
    for _ in range(n):
        point = {d.beta: draw(*BETA_RANGE), **params}
        for kind in ("q", "m", "other"):
            group = [s for s in d.order_parameters if order_kind(s) == kind]
            values = [draw(*inner_range(d, s)) for s in group]
            if kind != "other":
                values.sort()
            point.update(zip(group, values))
        points.append(point)
    return points


def point_dict(point: dict) -> dict:
    return {str(s): float(v) for s, v in point.items()}


def fit(target: list, columns: list) -> tuple[list, mpmath.mpf]:
    """Least squares ``target ~ sum_j x_j columns[j]`` over the sample points: (x, relative residual),
    at the precision of the values."""
    a = mpmath.matrix([[c[k] for c in columns] for k in range(len(target))])
    b = mpmath.matrix(target)
    x, res = mpmath.qr_solve(a, b)
    norm = mpmath.norm(b)
    return [x[i] for i in range(len(columns))], (res / norm if norm else res)


def nice(x) -> sp.Expr:
    """A short exact form of the number ``x`` (2, 1/2, -1, log(2), ...) when there is one."""
    return nice_to(x, 1e-12)


def nice_to(x, tol: float) -> sp.Expr:
    """A short exact form of ``x`` (2, 1/2, -1, log(2), ...) within relative ``tol``, else a Float."""
    if abs(x) <= tol:
        return sp.S.Zero
    value = sp.Float(mpmath.nstr(x, 25), 25)
    scale = max(1.0, abs(float(x)))
    guess = sp.nsimplify(value, [sp.log(2), sp.pi], tolerance=tol * scale)
    if sp.count_ops(guess) <= 6 and abs(float(guess) - float(x)) <= tol * scale:
        return guess
    return sp.Float(float(x), 10)


def relative_spread(values: list) -> mpmath.mpf:
    ref = values[0]
    return max(abs(v - ref) for v in values) / max(abs(ref), mpmath.mpf(10) ** -30)


def find_zeros(fn, slice_point: dict, var: sp.Symbol, lo: float, hi: float, grid_size: int = 13) -> list:
    """Zeros of ``fn(point)`` in ``var`` on (lo, hi): sign changes on a grid of ``grid_size``
    points, each refined by the bracketing Anderson-Bjorck method (``mpmath.findroot``); poles
    (sign changes where |fn| does not become small) are dropped."""
    width = hi - lo
    grid = [mpmath.mpf(lo + width * (0.001 + 0.998 * k / (grid_size - 1))) for k in range(grid_size)]

    def f(x):
        p = dict(slice_point)
        p[var] = x
        return fn(p)

    vals = [f(x) for x in grid]
    roots = []
    for a, b, fa, fb in zip(grid, grid[1:], vals, vals[1:]):
        if fa is None or fb is None or fa == 0 or (fa > 0) == (fb > 0):
            continue
        scale = max(abs(fa), abs(fb))
        try:
            x = mpmath.findroot(f, (a, b), solver="anderson", verify=False)
        except (ValueError, ZeroDivisionError, TypeError):
            continue
        fx = f(x) if a <= x <= b else None
        if fx is not None and abs(fx) <= 1e-6 * scale:
            roots.append(x)
    return roots
