r"""Activation functions: the built-ins and any user expression in ``x``.

Every activation, built-in or typed by the user, is a SymPy expression :math:`\sigma(x)` obtained
from :func:`replicasym.parsing.parse_expression` (the project's whitelist parser; user text is never
evaluated).  Built-ins are themselves written as expressions, so that the kernel derivation
(:mod:`.closed_forms`) sees the same object whether the user types ``relu`` or ``max(x,0)``.

Built-ins (parameters in brackets, defaults after ``=``):

=================  ===============================================================================
``linear``         :math:`x`
``relu``           :math:`\max(x,0)`
``leaky_relu``     :math:`\max(x, a x)`  [``slope`` a = 0.01]
``shaped_relu``    :math:`s_+\max(x,0)+s_-\min(x,0)`, :math:`s_\pm = 1\pm c/\sqrt{L}`
                   [``shape`` c = 1, ``depth`` L = 1] (Li, Nica & Roy 2022, the shaped ReLU)
``tanh``           :math:`\tanh x`
``shaped_tanh``    :math:`(\sqrt{L}/c)\tanh(c x/\sqrt{L})` [``shape`` c = 1, ``depth`` L = 1]; odd
                   shaping: :math:`\sigma(x) = x - c^2x^3/(3L) + O(L^{-2})`
``erf``            :math:`\operatorname{erf} x`
``sin``, ``cos``   :math:`\sin x`, :math:`\cos x`
``sigmoid``        :math:`1/(1+e^{-x})`
``softplus``       :math:`\log(1+e^{x})`
``gelu``           :math:`x\,(1+\operatorname{erf}(x/\sqrt2))/2`
``swish``/``silu`` :math:`x/(1+e^{-x})`
``sign``           :math:`\operatorname{sign} x`
=================  ===============================================================================
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..errors import ParameterError, ParseError
from ..parsing import parse_expression

__all__ = ["BUILTINS", "MAX_POWER", "Activation", "X", "activation", "check_activation"]

X = sp.Symbol("x", real=True)

# name -> (expression template, {parameter: default})
BUILTINS: dict[str, tuple[str, dict[str, float]]] = {
    "linear": ("x", {}),
    "relu": ("max(x, 0)", {}),
    "leaky_relu": ("max(x, slope*x)", {"slope": 0.01}),
    "shaped_relu": ("(1 + shape/sqrt(depth))*max(x, 0) + (1 - shape/sqrt(depth))*min(x, 0)",
                    {"shape": 1.0, "depth": 1}),
    "tanh": ("tanh(x)", {}),
    "shaped_tanh": ("sqrt(depth)/shape*tanh(shape*x/sqrt(depth))", {"shape": 1.0, "depth": 1}),
    "erf": ("erf(x)", {}),
    "sin": ("sin(x)", {}),
    "cos": ("cos(x)", {}),
    "sigmoid": ("sigmoid(x)", {}),
    "softplus": ("softplus(x)", {}),
    "gelu": ("gelu(x)", {}),
    "swish": ("swish(x)", {}),
    "silu": ("silu(x)", {}),
    "sign": ("sign(x)", {}),
}

_NUMPY_MODULES = ["scipy", "numpy"]


@dataclass(frozen=True)
class Activation:
    r"""An activation :math:`\sigma(x)` as a SymPy expression in :data:`X`, with its derivatives
    (distributional where needed: ``relu'' = DiracDelta``) and vectorized numeric versions."""

    name: str
    expr: sp.Expr
    params: dict = field(default_factory=dict, compare=False)

    def derivative(self, k: int = 1) -> sp.Expr:
        r""":math:`\sigma^{(k)}(x)` (SymPy; ``Heaviside``/``DiracDelta`` for piecewise functions)."""
        return sp.diff(self.expr, X, k) if k else self.expr

    def is_evaluable(self, k: int = 0) -> bool:
        """Whether :math:`\\sigma^{(k)}` is an ordinary function (no Dirac delta)."""
        return not self.derivative(k).has(sp.DiracDelta)

    def numpy(self, k: int = 0) -> Callable:
        """Vectorized numpy/scipy function of :math:`\\sigma^{(k)}`."""
        return _lambdify(self.derivative(k), "numpy")

    def mpmath(self, k: int = 0) -> Callable:
        """mpmath function of :math:`\\sigma^{(k)}` (for arbitrary precision)."""
        return _lambdify(self.derivative(k), "mpmath")

    def __str__(self) -> str:
        return self.name


def _lambdify(expr: sp.Expr, backend: str) -> Callable:
    if expr.has(sp.DiracDelta):
        raise ParameterError(f"{expr} is a distribution (Dirac delta), not a function: it has no pointwise "
                             "values; use a closed form or the Hermite series")
    modules = _NUMPY_MODULES if backend == "numpy" else "mpmath"
    f = sp.lambdify(X, expr, modules=modules)
    if backend == "numpy" and not expr.has(X):
        import numpy as np

        const = float(expr)
        return lambda x: np.full(np.shape(x), const)
    return f


def _number(key: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"activation parameter {key} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ParameterError(f"activation parameter {key} must be finite, got {value!r}")
    return v


def activation(spec: str | Activation, **params) -> Activation:
    """The activation named ``spec`` (a built-in) or given by the expression ``spec`` in ``x``.

    ``params`` are the built-in's parameters (``slope``, ``shape``, ``depth``); unknown ones are an
    error.  Raises :class:`~replicasym.errors.ParseError` for an expression the whitelist rejects or
    one in a variable other than ``x``, :class:`~replicasym.errors.ParameterError` for bad
    parameters."""
    if isinstance(spec, Activation):
        if params:
            raise ParameterError(f"parameters {sorted(params)} given with an Activation object")
        return spec
    if isinstance(spec, sp.Basic):
        return _from_sympy(spec, params)
    if not isinstance(spec, str):
        raise ParameterError(f"activation must be a name or an expression in x, got {type(spec).__name__}")
    name = spec.strip()
    if name in BUILTINS:
        template, defaults = BUILTINS[name]
        unknown = set(params) - set(defaults)
        if unknown:
            raise ParameterError(f"activation {name!r} takes no parameter(s) {sorted(unknown)}"
                                 + (f"; it takes {sorted(defaults)}" if defaults else ""))
        values = {k: _number(k, params.get(k, d)) for k, d in defaults.items()}
        if "depth" in values and not (values["depth"] >= 1 and float(values["depth"]).is_integer()):
            raise ParameterError(f"depth must be a positive integer, got {values['depth']}")
        if "shape" in values and name == "shaped_tanh" and values["shape"] == 0:
            raise ParameterError("shaped_tanh needs shape != 0 (shape -> 0 is the linear activation)")
        expr = parse_expression(template, variables=(X,), parameters=tuple(values))
        expr = expr.subs({sp.Symbol(k, real=True): sp.nsimplify(v, rational=True) for k, v in values.items()})
        return Activation(name, expr, values)
    if params:
        raise ParameterError(f"parameters {sorted(params)} are only for built-in activations, not for "
                             f"the expression {name!r}")
    try:
        expr = parse_expression(name, variables=(X,), functions="elementary")
    except ParseError as exc:
        raise ParseError(f"activation: {exc}; built-in activations: {', '.join(sorted(BUILTINS))}",
                         text=exc.text, position=exc.position) from None
    if not expr.has(X):
        raise ParseError(f"activation {name!r} does not depend on x; write an expression in x such as "
                         "'x*erf(x)' or a built-in name", text=name)
    check_activation(expr, name)
    return Activation(name, expr)


#: the largest power of an expression in x in a user activation (the closed-form kernel of x**m
#: has O(m^3) terms: x**32 takes ~4 s, and the Gaussian moments of x**m grow like (2m)!!)
MAX_POWER = 32
#: the grid on which a user activation must be real and finite (and its denominators keep one sign)
_PROBE = np.linspace(-12.0, 12.0, 24001)


def check_activation(expr: sp.Expr, name: str) -> None:
    """Raise :class:`~replicasym.errors.ParameterError` unless the user activation ``expr`` is a
    real, finite function on the real line of moderate degree: powers of expressions in x up to
    :data:`MAX_POWER`; finite real values on a grid of [-12, 12] that contains 0 (``1/x``, ``log(x)``,
    ``sqrt(x)`` fail); no denominator that changes sign between grid points (``1/(x - 0.3)``).
    Without this the Gaussian quadrature of a singular activation returns a finite, wrong kernel."""
    for pw in expr.atoms(sp.Pow):
        if pw.base.has(X) and pw.exp.is_Number and abs(pw.exp) > MAX_POWER:
            raise ParameterError(f"activation {name}: the power {pw.exp} exceeds the limit {MAX_POWER}")
    with np.errstate(all="ignore"):
        values = np.asarray(_lambdify(expr, "numpy")(_PROBE), dtype=complex) * np.ones_like(_PROBE)
        bad = ~np.isfinite(values) | (np.abs(values.imag) > 0)
        if bad.any():
            x = _PROBE[np.flatnonzero(bad)[np.argmin(np.abs(_PROBE[bad]))]]
            raise ParameterError(f"activation {name} is not a real, finite number at x = {x:.6g}; an "
                                 "activation must be defined on the whole real line")
        for pw in expr.atoms(sp.Pow):
            if pw.base.has(X) and pw.exp.is_negative:
                base = np.real(np.asarray(_lambdify(pw.base, "numpy")(_PROBE), dtype=complex)) * np.ones_like(_PROBE)
                flips = np.flatnonzero(np.sign(base[:-1]) * np.sign(base[1:]) <= 0)
                if len(flips):
                    x = _PROBE[flips[np.argmin(np.abs(_PROBE[flips]))]]
                    raise ParameterError(f"activation {name} is singular near x = {x:.6g} (the "
                                         f"denominator {pw.base} vanishes); an activation must be finite on "
                                         "the whole real line")


def _from_sympy(expr: sp.Basic, params: dict) -> Activation:
    """An activation given as a SymPy expression in a symbol named ``x`` (from Python code).

    Its printed form must read back through the whitelist parser to the same expression, so that a
    generated module can rebuild it from a string literal."""
    if params:
        raise ParameterError(f"parameters {sorted(params)} are only for built-in activations")
    if not isinstance(expr, sp.Expr):
        raise ParameterError(f"activation must be a SymPy expression in x, got {type(expr).__name__}")
    names = {s.name for s in expr.free_symbols}
    if names != {"x"}:
        raise ParameterError(f"activation {expr} must be an expression in the single symbol x, "
                             f"found {sorted(names) or 'no symbol'}")
    expr = expr.xreplace({s: X for s in expr.free_symbols})
    text = sp.sstr(expr)
    try:
        back = parse_expression(text, variables=(X,), functions="elementary")
    except ParseError as exc:
        raise ParameterError(f"activation {text}: outside the supported functions ({exc})") from None
    if sp.simplify(back - expr) != 0:
        raise ParameterError(f"activation {text}: its printed form does not read back to the same expression")
    check_activation(back, text)
    return Activation(text, back)
