r"""Check a hand calculation against the engine (``replicasym check``).

A user types the saddle-point equation or the free entropy they derived by hand, in the syntax of
the whitelist parser :func:`replicasym.parsing.parse_expression` (a Gaussian average is
``E(expr, z)`` with ``z`` a standard normal variable), or in LaTeX with ``syntax="latex"`` (the
optional extra ``replicasym[latex]``; :func:`latex_to_text`).  Its names are the engine's
(``q``, ``q1``, ``m``, ``beta``, ``h``, ...); ``T`` is read as :math:`1/\beta`; a lone ``q`` is the
single overlap level of an ansatz whose other levels are fixed (1RSB with :math:`q_0 = 0`);
``mapping`` maps any other name to an expression in the engine's names (``{"x": "m"}``).

Equivalence is decided in two stages.

1. **Symbolic**, time-bounded (:data:`SYMBOLIC_BUDGET` seconds): bound Gaussian variables renamed
   by nesting depth, Stein's lemma :math:`\mathbb E[z f(z)] = \mathbb E[f'(z)]`, logarithms
   expanded, expectations linearised and merged into one, integrands rewritten with exponentials
   and cancelled.  A difference that becomes 0 proves the equivalence.
2. **Numeric**: both sides at :data:`SAMPLES` random admissible points (order parameters inside
   the open middle 80 % of their bounds, levels ordered, :math:`\beta` in :data:`BETA_RANGE`, the
   model's parameters at their values), in mpmath at :data:`DIGITS` digits, each expectation by
   tanh-sinh quadrature against the normal density (``mpmath.quad`` on
   :math:`(-\infty, 0] \cup [0, \infty)`); nested expectations at :data:`NESTED_DIGITS` digits
   by the trapezoidal rule on every level (:class:`replicasym.equivalence.Evaluator`).  Relative
   tolerance :data:`TOLERANCE`, or 1000 times the largest relative error estimate of the
   quadratures when that is larger (integrands with kinks); the tolerance used is reported.
   The machinery of both stages is :mod:`replicasym.equivalence`.

An equation ``lhs = rhs`` is equivalent to the engine's equation for the same order parameter
(the one alone on a side, else the one whose residual it matches) when ``lhs - rhs`` vanishes
exactly where the engine's residual does: when the two residuals are proportional (constant
ratio: ``q = E tanh^2`` and ``2 q = 2 E tanh^2``), or else when their zeros in that order
parameter coincide inside its admissible interval, on slices of the other variables at
:data:`ROOT_BETAS` (a factor such as ``q`` or ``1/(1 - q)`` that does not vanish inside the
interval is allowed).  A free entropy must equal the engine's; an additive constant is a
difference (reported as a constant offset, e.g. ``log(2)``).

When they differ the result says where: the values at a sample point; a constant ratio of the
right-hand sides or free entropies (2, 1/2: a factor 2; -1: a sign); a constant offset; which
additive term must be multiplied by which factor to make them agree (exact least-squares fits
over the sample points, :func:`mpmath.qr_solve`), with the corrected expression; the zeros of
both residuals on a slice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import mpmath
import sympy as sp

from .codegen.render import nesting_depth
from .derivation import Derivation
from .equivalence import (
    BETA_RANGE,
    SYMBOLIC_BUDGET,
    Evaluator,
    find_zeros,
    fit,
    inner_range,
    nice,
    nice_to,
    numeric_budget,
    point_dict,
    relative_spread,
    sample_points,
    symbolically_zero,
)
from .errors import ParameterError, ParseError
from .parsing import parse_equation, parse_expression
from .symbolic.covariance import covariance_kernels
from .symbolic.gaussian import linearize

__all__ = [
    "BETA_RANGE",
    "DIGITS",
    "NESTED_DIGITS",
    "ROOT_BETAS",
    "SAMPLES",
    "SYMBOLIC_BUDGET",
    "TOLERANCE",
    "CheckResult",
    "check",
    "check_equation",
    "check_free_entropy",
    "latex_to_text",
    "parse_user_input",
]

#: relative tolerance of the numeric comparisons
TOLERANCE = 1e-10
#: working precision (digits) for expressions with at most one level of Gaussian expectations
DIGITS = 30
#: working precision for nested expectations (each level is a full quadrature)
NESTED_DIGITS = 20
#: number of random admissible points
SAMPLES = 8
#: wall-clock seconds allowed to the numeric stage of one check
NUMERIC_BUDGET = 60.0
#: inverse temperatures of the slices on which the zeros of two residuals are compared
ROOT_BETAS = (1.5, 2.5, 3.5)
#: grid points (and working digits) of the zero scan along one order parameter
ROOT_GRID = 13
ROOT_DIGITS = 15
#: relative tolerance of the fits made at zeros (located at ROOT_DIGITS digits)
ZERO_FIT_TOLERANCE = 1e-8
#: at most this many additive terms per side are localised one by one
MAX_TERMS = 12

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FREE_ENTROPY_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")


# ----------------------------------------------------------------------------------- the result
@dataclass
class CheckResult:
    r"""The verdict of a check.

    ``kind`` is ``"equation"`` or ``"free_entropy"``; ``user`` and ``engine`` are the two SymPy
    objects compared (``Eq`` for equations), ``variable`` the order parameter of the equation;
    ``method`` says what decided (``"symbolic"``, ``"numeric"``: proportional residuals or equal
    values at every sample point, ``"zeros"``: same zeros on every slice).  ``factor`` is the
    constant ratio user/engine of two proportional residuals.  ``samples`` holds, per sample
    point, the point and both values (``quantity`` says which: residual lhs - rhs, right-hand
    side, free entropy), their difference and ratio.  ``diagnosis`` lists where they differ,
    ``suggestion`` is a corrected version of the user's input when one term or factor explains
    the whole difference.
    """

    kind: str
    equivalent: bool
    method: str
    user: sp.Basic
    engine: sp.Basic
    variable: sp.Symbol | None = None
    factor: sp.Expr | None = None
    quantity: str = ""
    max_difference: float | None = None
    tolerance: float = TOLERANCE
    digits: int = DIGITS
    samples: list = field(default_factory=list)
    diagnosis: list = field(default_factory=list)
    suggestion: sp.Basic | None = None
    notes: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready form (the keys of ``replicasym check --json`` besides model, params, ansatz)."""
        return {
            "kind": self.kind,
            "equivalent": bool(self.equivalent),
            "method": self.method,
            "variable": None if self.variable is None else str(self.variable),
            "user": _text(self.user),
            "engine": _text(self.engine),
            "factor": None if self.factor is None else str(self.factor),
            "quantity": self.quantity,
            "max_difference": self.max_difference,
            "tolerance": self.tolerance,
            "digits": self.digits,
            "samples": self.samples,
            "diagnosis": list(self.diagnosis),
            "suggestion": None if self.suggestion is None else _text(self.suggestion),
            "notes": list(self.notes),
        }

    def report(self) -> str:
        """The human-readable verdict (what ``replicasym check`` prints)."""
        what = "free entropy" if self.kind == "free_entropy" else (
            f"equation for {self.variable}" if self.variable is not None else "equation")
        lines = [f"your {what}:", f"  yours : {_text(self.user)}", f"  engine: {_text(self.engine)}"]
        how = {"symbolic": "symbolic: the difference simplifies to 0",
               "numeric": f"numeric: {len(self.samples)} random admissible points at {self.digits} digits, "
                          f"relative tolerance {self.tolerance:.0e}",
               "zeros": "numeric: the residuals vanish at the same points on every slice"}[self.method]
        verdict = "EQUIVALENT" if self.equivalent else "NOT EQUIVALENT"
        lines.append(f"result: {verdict} ({how})")
        if self.equivalent and self.factor is not None and self.factor != 1:
            lines.append(f"  your residual is {self.factor} times the engine's")
        if self.samples:
            s = self.samples[0]
            point = ", ".join(f"{k} = {_short(v)}" for k, v in s["point"].items())
            ratio = "" if s.get("ratio") is None else f", ratio {_short(s['ratio'])}"
            lines.append(f"  at {point}: {self.quantity}: yours {_short(s['user'])}, engine "
                         f"{_short(s['engine'])}, difference {_short(s['difference'])}{ratio}")
        lines += [f"  - {d}" for d in self.diagnosis]
        if self.suggestion is not None:
            lines.append(f"  suggested correction: {_text(self.suggestion)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = report

    def _repr_latex_(self) -> str:
        verdict = r"\text{equivalent}" if self.equivalent else r"\text{not equivalent}"
        return (r"$$\begin{aligned}&\text{yours:}&& " + sp.latex(self.user) + r"\\"
                r"&\text{engine:}&& " + sp.latex(self.engine) + r"\\&&&" + verdict
                + r"\end{aligned}$$")


def _text(obj) -> str:
    if isinstance(obj, sp.Equality):
        return f"{sp.sstr(obj.lhs)} = {sp.sstr(obj.rhs)}"
    return sp.sstr(obj)


def _short(x) -> str:
    return "-" if x is None else f"{x:.10g}"


# ------------------------------------------------------------------------------------ parsing
def _namespace(d: Derivation, mapping) -> tuple[dict, dict, dict]:
    """The names a user may write: the engine's symbols, ``T`` (= 1/beta), the lone-``q`` alias and
    the user's ``mapping``.  Returns (name -> Symbol, Symbol -> engine expression, Symbol -> note)."""
    engine = {s.name: s for s in (*d.order_parameters, d.beta, *d.params)}
    names = dict(engine)
    subs: dict = {}
    notes: dict = {}
    temperature = sp.Symbol("T", positive=True)
    if "T" not in names:
        names["T"] = temperature
        subs[temperature] = 1 / d.beta
    levels = [s for s in d.order_parameters if re.fullmatch(r"q\d+", s.name)]
    if "q" not in names and len(levels) == 1:
        alias = sp.Symbol("q", real=True)
        names["q"] = alias
        subs[alias] = levels[0]
        notes[alias] = f"q is read as the engine's {levels[0]} (use --map q=... to change this)"
    for key, value in (mapping or {}).items():
        if not isinstance(key, str) or not _IDENT.match(key):
            raise ParameterError(f"--map: {key!r} is not a valid name")
        if isinstance(value, sp.Basic):
            expr = sp.sympify(value)
        else:
            expr = parse_expression(str(value), variables=[*engine.values(), temperature],
                                    functions="elementary")
        expr = expr.xreplace({temperature: 1 / d.beta})
        sym = sp.Symbol(key, real=True)
        names[key] = sym
        subs = {k: v for k, v in subs.items() if k.name != key}
        notes = {k: v for k, v in notes.items() if k.name != key}
        subs[sym] = expr
        notes[sym] = f"{key} is read as {sp.sstr(expr)}"
    return names, subs, notes


def latex_to_text(text: str) -> str:
    r"""LaTeX -> the whitelist syntax, via ``sympy.parsing.latex.parse_latex`` (ANTLR backend; the
    optional extra ``replicasym[latex]``).

    ``\mathbb{E}_{z}\left[ f \right]`` (or ``\mathbb{E}_z[f]``) is first rewritten as the function
    ``E(f, z)``; subscripted names lose their braces and underscores (``q_{1}`` -> ``q1``).  The
    result is printed back as text, so that it is read by the whitelist parser like typed input.
    """
    if "\\operatorname" in text:
        raise ParseError("SymPy's LaTeX parser does not read \\operatorname{...}; write sech^2 x as "
                         "\\frac{1}{\\cosh^2 x}, or use the plain syntax (sech(x))", text=text[:200])
    try:
        from sympy.parsing.latex import LaTeXParsingError, parse_latex
        parse_latex("x")
    except ImportError as exc:
        raise ParameterError("LaTeX input needs the optional extra: pip install 'replicasym[latex]' "
                             f"(antlr4-python3-runtime 4.11; {exc})") from None
    source = _latex_expectations(text)
    try:
        parsed = parse_latex(source)
    except LaTeXParsingError as exc:
        raise ParseError(f"cannot parse the LaTeX {text.strip()[:80]!r}: {' '.join(str(exc).split())[:160]}",
                         text=text[:200]) from None
    sides = [parsed.lhs, parsed.rhs] if isinstance(parsed, sp.Equality) else [parsed]
    out = []
    for side in sides:
        renames = {}
        for s in side.atoms(sp.Symbol):
            name = re.sub(r"[\\{}_\s]", "", s.name)
            if not _IDENT.match(name):
                raise ParseError(f"LaTeX symbol {s.name!r} is not a plain name", text=text[:200])
            renames[s] = sp.Symbol(name)
        out.append(sp.sstr(side.xreplace(renames)))
    return " = ".join(out)


_LATEX_E = re.compile(r"\\mathbb\s*\{\s*E\s*\}\s*_\s*(\{\s*\\?[A-Za-z][A-Za-z0-9]*\s*\}|\\?[A-Za-z])\s*")


def _latex_expectations(text: str) -> str:
    r"""``\mathbb{E}_{z}\left[f\right]`` -> ``E\left(f, z\right)`` (nested ones too)."""
    m = _LATEX_E.search(text)
    if m is None:
        return text
    var = m.group(1).strip("{} ").lstrip("\\")
    rest = text[m.end():]
    opener = re.match(r"\\left\s*\[|\[", rest)
    if opener is None:
        raise ParseError("\\mathbb{E}_z must be followed by [ ... ] or \\left[ ... \\right]", text=text[:200])
    depth, i = 1, opener.end()
    while i < len(rest):
        if rest[i] == "[":
            depth += 1
        elif rest[i] == "]":
            depth -= 1
            if depth == 0:
                break
        i += 1
    else:
        raise ParseError("unbalanced [ ] after \\mathbb{E}", text=text[:200])
    inner = rest[opener.end():i]
    inner = re.sub(r"\\right\s*$", "", inner)
    replaced = f"E\\left({_latex_expectations(inner)}, {var}\\right)"
    return text[:m.start()] + replaced + _latex_expectations(rest[i + 1:])


def parse_user_input(d: Derivation, text: str, kind: str = "equation", mapping=None,
                     syntax: str = "sympy") -> tuple[sp.Basic, list[str]]:
    """Parse the user's equation (``kind="equation"``: an unevaluated ``Eq``) or free entropy
    (``kind="free_entropy"``: an expression, optionally written ``Phi = ...``) into the engine's
    symbols.  Returns the parsed object and notes on the names that were translated."""
    original = text
    if syntax == "latex":
        text = latex_to_text(text)
    elif syntax != "sympy":
        raise ParameterError(f"unknown input syntax {syntax!r}; use 'sympy' or 'latex'")
    names, subs, alias_notes = _namespace(d, mapping)
    variables = list(names.values())
    try:
        if kind == "equation":
            raw = parse_equation(text, variables)
            sides = (raw.lhs, raw.rhs)
        elif kind == "free_entropy":
            m = _FREE_ENTROPY_NAME.match(text)
            if m is not None and m.group(1) not in names:
                text = text[m.end():]
            sides = (parse_expression(text, variables),)
        else:
            raise ParameterError(f"unknown kind {kind!r}")
    except ParseError as exc:
        if syntax == "latex":
            exc = ParseError(f"the LaTeX {original.strip()[:60]!r} reads as {text[:80]!r}: {exc}", text=exc.text)
        if "unknown name" in str(exc):
            raise ParseError(f"{exc}; map your own names to the engine's with --map NAME=EXPR "
                             f"(engine names: {', '.join(sorted(names))}); a Gaussian variable must be "
                             "bound by E(expr, z)", text=exc.text,
                             position=exc.position) from None
        raise
    used = set().union(*[s.free_symbols for s in sides])
    notes = [n for s, n in alias_notes.items() if s in used]
    mapped = [s.xreplace(subs) for s in sides]
    out = sp.Eq(mapped[0], mapped[1], evaluate=False) if kind == "equation" else mapped[0]
    return out, notes


def _describe_factor(mu: sp.Expr) -> str:
    if mu == -1:
        return "has the wrong sign"
    if mu == 0:
        return "should not be there"
    if mu.is_Rational and mu.q == 1:
        return f"is missing a factor {mu}"
    if mu.is_Rational and mu.p == 1:
        return f"has an extra factor {mu.q}"
    if mu.is_Rational and mu.p == -1:
        return f"has the wrong sign and an extra factor {mu.q}"
    return f"should be multiplied by {mu}"


@dataclass
class _Side:
    """The additive terms of one side of the user's input or of the engine's, with their values."""
    terms: list
    values: list  # per term, the list of values at the sample points


class _Comparison:
    """Evaluates the user's and the engine's expressions at the sample points."""

    def __init__(self, d: Derivation, exprs, samples: int, seed: int):
        self.d = d
        self.symbols = (*d.order_parameters, d.beta, *d.params)
        exprs = [sp.sympify(e) for e in exprs]
        depth = max(nesting_depth(e) for e in exprs)
        kernels = covariance_kernels(exprs)
        if len(kernels) > 1:
            raise ParameterError("the expressions use more than one numerically known covariance function")
        self.digits = DIGITS if depth <= 1 else NESTED_DIGITS
        self.ev = Evaluator(self.symbols, nested=depth > 1, kernel=kernels[0] if kernels else None)
        self.all_points = sample_points(d, samples, 0x5eed + seed)
        self.points = self.all_points
        self.skipped = 0

    @property
    def tolerance(self) -> float:
        return max(TOLERANCE, 1000 * float(self.ev.error))

    def values(self, expr) -> list:
        return [self.ev.value(expr, p) for p in self.points]

    def sides(self, exprs) -> list[_Side]:
        """Per expression, its terms (expectations linearised) and their values; points where a
        value is not a finite real are dropped from all of them (and from later evaluations)."""
        out = []
        for expr in exprs:
            terms = list(sp.Add.make_args(linearize(sp.sympify(expr))))
            if len(terms) > MAX_TERMS:
                terms = [sp.sympify(expr)]
            out.append(_Side(terms, [self.values(t) for t in terms]))
        bad = {k for side in out for vals in side.values for k, v in enumerate(vals) if v is None}
        if bad:
            self.skipped += len(bad)
            self.points = [p for k, p in enumerate(self.points) if k not in bad]
            for side in out:
                side.values = [[v for k, v in enumerate(vals) if k not in bad] for vals in side.values]
            if len(self.points) < 3:
                raise ParameterError("the expressions are not finite real numbers at the admissible sample "
                                     "points (check the order parameters' ranges and --map)")
        return out


def _sums(side: _Side) -> list:
    """The side's value (the sum of its terms) at each sample point."""
    return [mpmath.fsum(vals[k] for vals in side.values) for k in range(len(side.values[0]))]


def _single_term_fixes(target: list, base: list, user_terms: list, engine_terms: list, tol: float,
                       scaled: bool) -> list[tuple]:
    """Single-term explanations of the discrepancy.

    ``scaled=False``: ``target`` is user - engine and a fix is one user term t with
    target = nu t (t must be multiplied by 1 - nu), one engine term e with target = nu e (yours
    has e with factor 1 + nu), or a constant.  ``scaled=True``: ``target`` is the user's residual
    and ``base`` the engine's, equal up to a factor c: target = c base + nu t, = c base + w e,
    = c base + kappa.  Returns tuples (what, term, multiplier or constant)."""
    n = len(target)
    fixes = []
    one = [mpmath.mpf(1)] * n

    def exact(cols):
        x, res = fit(target, cols)
        return x if res <= tol else None

    def proportional_to_base(col):
        return scaled and fit(col, [base])[1] <= tol

    for term, vals in user_terms:
        if proportional_to_base(vals) or all(v == 0 for v in vals):
            continue
        x = exact([base, vals] if scaled else [vals])
        if x is not None and abs(x[-1]) > tol:
            fixes.append(("user", term, nice(1 - x[-1])))
    for term, vals in engine_terms:
        if proportional_to_base(vals) or all(v == 0 for v in vals):
            continue
        x = exact([base, vals] if scaled else [vals])
        if scaled and x is not None and x[0] == 0:  # yours is a multiple of this one term: no factor fix
            continue
        if x is not None and abs(x[-1]) > tol:
            mu = 1 + (x[1] / x[0] if scaled else x[0])
            fixes.append(("engine", term, nice(mu)))
    if not proportional_to_base(one):
        x = exact([base, one] if scaled else [one])
        if x is not None and abs(x[-1]) > tol:
            fixes.append(("constant", None, nice(x[-1])))
    return fixes


def _fix_text(fix, sign_word: str) -> str:
    what, term, mu = fix
    if what == "user":
        return f"your term {sp.sstr(term)} {_describe_factor(mu)}"
    if what == "engine":
        if mu == 0:
            return f"the engine's term {sp.sstr(term)} is missing from yours"
        return f"the engine's term {sp.sstr(term)} appears in yours with the factor {mu}"
    return f"{sign_word} differ by the constant {mu}"


def _replace_term(expr: sp.Expr, term: sp.Expr, mu: sp.Expr) -> sp.Expr:
    terms = list(sp.Add.make_args(linearize(expr)))
    return sp.Add(*[mu * t if t == term else t for t in terms])


# ----------------------------------------------------------------------------------- equations
def _residual(eq: sp.Equality) -> sp.Expr:
    return eq.lhs - eq.rhs


def _zeros_text(who: str, zeros: list, var) -> str:
    if not zeros:
        return f"{who} has no zero"
    return f"{who} vanishes at {var} = {', '.join(f'{float(z):.8g}' for z in zeros)}"


def _slices(cmp: _Comparison, var: sp.Symbol, count: int = len(ROOT_BETAS)):
    """The open interval of ``var`` and ``count`` slices (the other variables at the sample points'
    values, beta cycling through ROOT_BETAS) on which zeros are located."""
    lo, hi = inner_range(cmp.d, var)
    lo, hi = (lo - (hi - lo) / 8, hi + (hi - lo) / 8)  # back to the full open interval
    bases = []
    for k in range(count):
        base = dict(cmp.all_points[k % len(cmp.all_points)])
        base[cmp.d.beta] = sp.Rational(str(ROOT_BETAS[k % len(ROOT_BETAS)]))
        bases.append(base)
    return lo, hi, bases


def _compare_zeros(cmp: _Comparison, u: sp.Expr, r: sp.Expr, var: sp.Symbol):
    """Zeros of u and r in ``var`` on the slices: (all slices agree and some slice has zeros, text
    for the first slice that disagrees)."""
    lo, hi, bases = _slices(cmp, var)
    found = False
    with mpmath.workdps(ROOT_DIGITS):
        for base in bases:
            zu = find_zeros(lambda p: cmp.ev.value(u, p), base, var, lo, hi, ROOT_GRID)
            zr = find_zeros(lambda p: cmp.ev.value(r, p), base, var, lo, hi, ROOT_GRID)
            same = len(zu) == len(zr) and all(abs(a - b) < 1e-8 for a, b in zip(zu, zr))
            if not same:
                where = ", ".join(f"{s} = {float(v):.6g}" for s, v in base.items() if s != var)
                yours, engine = _zeros_text("your equation", zu, var), _zeros_text("the engine's", zr, var)
                return False, f"at {where}, for {var} in ({lo:g}, {hi:g}): {yours}, {engine}"
            found = found or bool(zr)
    return found, None


def _zero_fixes(cmp: _Comparison, c: _Candidate, user_terms: list, u: sp.Expr) -> list[tuple]:
    """Single-term fixes found at the engine's zeros x_k (r(x_k) = 0): the corrected residual
    u + (mu - 1) t must vanish there, so mu = 1 - u(x_k)/t(x_k) must be the same at every zero (to
    ZERO_FIT_TOLERANCE: the zeros are located at ROOT_DIGITS digits); likewise a constant offset
    u(x_k).  Needs two zeros or more (up to three are used, from the first slices that have them)."""
    lo, hi, bases = _slices(cmp, c.variable, len(ROOT_BETAS) * len(cmp.all_points))
    with mpmath.workdps(ROOT_DIGITS):
        zeros: list = []
        for base in bases:
            found = find_zeros(lambda p: cmp.ev.value(_residual(c.eq), p), base, c.variable, lo, hi, ROOT_GRID)
            zeros += [{**base, c.variable: x} for x in found]
            if len(zeros) >= 3:
                break
        if len(zeros) < 2:
            return []
        uvals = [cmp.ev.value(u, p) for p in zeros]
        if any(v is None for v in uvals):
            return []
        fixes = []
        for term, sign in user_terms:
            tvals = [cmp.ev.value(term[1], p) for p in zeros]
            if any(v is None or v == 0 for v in tvals):
                continue
            mus = [1 - uv / (sign * tv) for uv, tv in zip(uvals, tvals)]
            if relative_spread(mus) <= ZERO_FIT_TOLERANCE and abs(mus[0] - 1) > ZERO_FIT_TOLERANCE:
                fixes.append(("user", term, nice_to(mus[0], ZERO_FIT_TOLERANCE)))
        if relative_spread(uvals) <= ZERO_FIT_TOLERANCE and abs(uvals[0]) > ZERO_FIT_TOLERANCE:
            fixes.append(("constant", None, nice_to(uvals[0], ZERO_FIT_TOLERANCE)))
    return fixes


def check_equation(d: Derivation, text: str, mapping=None, syntax: str = "sympy", samples: int = SAMPLES,
                   seed: int = 0) -> CheckResult:
    """Is the user's equation ``text`` (``"lhs = rhs"``) equivalent to one of ``d.equations``?"""
    eq, notes = parse_user_input(d, text, "equation", mapping, syntax)
    ops = tuple(d.order_parameters)
    lhs, rhs = eq.lhs, eq.rhs
    if rhs in ops and lhs not in ops:
        lhs, rhs = rhs, lhs
        eq = sp.Eq(lhs, rhs, evaluate=False)
    var = lhs if lhs in ops else None
    u = lhs - rhs
    indices = [ops.index(var)] if var is not None else list(range(len(ops)))
    engine_eqs = [d.equations[i] for i in indices]

    # 1. symbolic
    for i, e in zip(indices, engine_eqs):
        fixed_point = var is not None and e.lhs == var
        if symbolically_zero(rhs - e.rhs if fixed_point else u - _residual(e)):
            return CheckResult(kind="equation", equivalent=True, method="symbolic", user=eq, engine=e,
                               variable=ops[i], factor=sp.S.One, quantity="residual lhs - rhs", notes=notes)

    # 2. numeric
    with numeric_budget(NUMERIC_BUDGET, "the numeric comparison"):
        cmp = _Comparison(d, [u, *[_residual(e) for e in engine_eqs]], samples, seed)
        with mpmath.workdps(cmp.digits):
            return _numeric_equation(cmp, eq, var, indices, engine_eqs, notes)


@dataclass
class _Candidate:
    """One engine equation the user's may correspond to, with its sides' values."""
    variable: sp.Symbol
    eq: sp.Equality
    lhs: _Side
    rhs: _Side
    rvals: list
    fixed_point: bool  # both are fixed-point forms "variable = ..."


def _numeric_equation(cmp: _Comparison, eq: sp.Equality, var, indices: list, engine_eqs: list,
                      notes: list) -> CheckResult:
    ops = tuple(cmp.d.order_parameters)
    u = eq.lhs - eq.rhs
    user_lhs, user_rhs, *flat = cmp.sides([eq.lhs, eq.rhs, *[s for e in engine_eqs for s in (e.lhs, e.rhs)]])
    uvals = [a - b for a, b in zip(_sums(user_lhs), _sums(user_rhs))]
    cands = [_Candidate(ops[i], e, el, er, [a - b for a, b in zip(_sums(el), _sums(er))],
                        var is not None and e.lhs == var)
             for i, e, el, er in zip(indices, engine_eqs, flat[::2], flat[1::2])]
    cands.sort(key=lambda c: fit(uvals, [c.rvals])[1])
    tol = cmp.tolerance
    if cmp.skipped:
        notes = [*notes, f"{cmp.skipped} sample value(s) were not finite reals and were dropped"]

    def result(c: _Candidate, equivalent: bool = False, method: str = "numeric", **kw) -> CheckResult:
        out = CheckResult(kind="equation", equivalent=equivalent, method=method, user=eq, engine=c.eq,
                          variable=c.variable, quantity="residual lhs - rhs", tolerance=tol, digits=cmp.digits,
                          notes=list(notes), **kw)
        pairs = zip(uvals, c.rvals)
        if c.fixed_point:
            out.quantity = f"right-hand side of {c.variable} = ..."
            pairs = zip(_sums(user_rhs), _sums(c.rhs))
        out.samples = [{"point": point_dict(p), "user": float(a), "engine": float(b), "difference": float(a - b),
                        "ratio": float(a / b) if b != 0 else None} for p, (a, b) in zip(cmp.points, pairs)]
        scale = max(max(abs(v) for v in c.rvals), mpmath.mpf(10) ** -30)
        out.max_difference = float(max(abs(a - b) for a, b in zip(uvals, c.rvals)) / scale)
        return out

    # proportional residuals
    for c in cands:
        if all(r != 0 for r in c.rvals):
            ratios = [a / b for a, b in zip(uvals, c.rvals)]
            if abs(ratios[0]) > tol and relative_spread(ratios) <= tol:
                return result(c, equivalent=True, factor=nice(ratios[0]))
    # right-hand sides in a constant ratio != 1: a different equation; else compare the zeros
    rhs_ratio = {id(c): _constant_ratio(_sums(user_rhs), _sums(c.rhs), tol) if c.fixed_point else None
                 for c in cands}
    zeros_text = {}
    for c in cands:
        if rhs_ratio[id(c)] is not None:
            continue
        same, why = _compare_zeros(cmp, u, _residual(c.eq), c.variable)
        if same:
            ratios = [a / b for a, b in zip(uvals, c.rvals) if b != 0]
            out = result(c, equivalent=True, method="zeros")
            out.notes.append(f"your residual is the engine's times a factor that does not vanish inside the "
                             f"admissible interval (ratio between {float(min(ratios)):.6g} and "
                             f"{float(max(ratios)):.6g} at the sample points)")
            return out
        zeros_text[id(c)] = why
    # not equivalent: explain with the candidate that one factor or term explains, else the closest
    analyses = [(c, _explain(cmp, c, eq, uvals, user_lhs, user_rhs, rhs_ratio[id(c)], tol)) for c in cands]
    c, (diagnosis, suggestion) = next(((c, a) for c, a in analyses if a[1] is not None), analyses[0])
    out = result(c, suggestion=suggestion)
    out.diagnosis = [*([zeros_text[id(c)]] if zeros_text.get(id(c)) else []), *diagnosis]
    return out


def _constant_ratio(a: list, b: list, tol: float):
    """The constant a/b over the sample points (a short exact form), or None."""
    if any(v == 0 for v in b):
        return None
    ratios = [x / y for x, y in zip(a, b)]
    return nice(ratios[0]) if relative_spread(ratios) <= tol else None


def _explain(cmp: _Comparison, c: _Candidate, eq: sp.Equality, uvals: list, user_lhs: _Side, user_rhs: _Side,
             rhs_ratio, tol: float) -> tuple[list, sp.Equality | None]:
    """Diagnosis lines and a corrected equation (None when nothing simple explains the difference)."""
    if rhs_ratio is not None:
        line = (f"your right-hand side is {rhs_ratio} times the engine's at every sample point: it "
                f"{_describe_factor(1 / rhs_ratio)}")
        return [line], sp.Eq(eq.lhs, eq.rhs / rhs_ratio, evaluate=False)
    if c.fixed_point:
        diff = [f - g for f, g in zip(_sums(user_rhs), _sums(c.rhs))]
        user_terms = [(("rhs", t), v) for t, v in zip(user_rhs.terms, user_rhs.values)]
        fixes = _single_term_fixes(diff, None, user_terms, list(zip(c.rhs.terms, c.rhs.values)), tol,
                                   scaled=False)
        sign_word = "the right-hand sides"
    else:
        user_terms = [(("lhs", t), v) for t, v in zip(user_lhs.terms, user_lhs.values)] + \
                     [(("rhs", t), [-x for x in v]) for t, v in zip(user_rhs.terms, user_rhs.values)]
        engine_terms = [(t, v) for t, v in zip(c.lhs.terms, c.lhs.values)] + \
                       [(t, [-x for x in v]) for t, v in zip(c.rhs.terms, c.rhs.values)]
        fixes = _single_term_fixes(uvals, c.rvals, user_terms, engine_terms, tol, scaled=True)
        sign_word = "your residual and (a multiple of) the engine's"
        if not fixes:
            signed = [(term, 1) for term, _ in user_terms[:len(user_lhs.terms)]] + \
                     [(term, -1) for term, _ in user_terms[len(user_lhs.terms):]]
            fixes = _zero_fixes(cmp, c, signed, eq.lhs - eq.rhs)
            sign_word = "your residual at the engine's zeros and zero"
    if not fixes:
        return ["no single term or constant factor explains the difference"], None
    lines = [_fix_text((what, term[1] if what == "user" else term, mu), sign_word) for what, term, mu in fixes]
    suggestion = None
    user_fixes = [f for f in fixes if f[0] == "user"]
    if user_fixes:
        _, (side, term), mu = user_fixes[0]
        suggestion = sp.Eq(_replace_term(eq.lhs, term, mu) if side == "lhs" else eq.lhs,
                           _replace_term(eq.rhs, term, mu) if side == "rhs" else eq.rhs, evaluate=False)
    return lines, suggestion


# ------------------------------------------------------------------------------- free entropies
def check_free_entropy(d: Derivation, text: str, mapping=None, syntax: str = "sympy",
                       samples: int = SAMPLES, seed: int = 0) -> CheckResult:
    """Is the user's free entropy ``text`` equal to ``d.free_entropy`` (DESIGN.md conventions)?"""
    phi_u, notes = parse_user_input(d, text, "free_entropy", mapping, syntax)
    phi_e = d.free_entropy
    if symbolically_zero(phi_u - phi_e):
        return CheckResult(kind="free_entropy", equivalent=True, method="symbolic", user=phi_u, engine=phi_e,
                           factor=sp.S.One, quantity="free entropy", notes=notes)
    with numeric_budget(NUMERIC_BUDGET, "the numeric comparison"):
        cmp = _Comparison(d, [phi_u, phi_e], samples, seed)
        with mpmath.workdps(cmp.digits):
            return _numeric_free_entropy(cmp, phi_u, phi_e, notes)


def _numeric_free_entropy(cmp: _Comparison, phi_u: sp.Expr, phi_e: sp.Expr, notes: list) -> CheckResult:
    d = cmp.d
    su, se = cmp.sides([phi_u, phi_e])
    uvals, evals = _sums(su), _sums(se)
    tol = cmp.tolerance
    diffs = [a - b for a, b in zip(uvals, evals)]
    rel = max(abs(x) / max(abs(b), 1) for x, b in zip(diffs, evals))
    result = CheckResult(kind="free_entropy", equivalent=bool(rel <= tol), method="numeric", user=phi_u,
                         engine=phi_e, quantity="free entropy", max_difference=float(rel), tolerance=tol,
                         digits=cmp.digits, notes=notes)
    result.samples = [{"point": point_dict(p), "user": float(a), "engine": float(b), "difference": float(a - b),
                       "ratio": float(a / b) if b != 0 else None}
                      for p, a, b in zip(cmp.points, uvals, evals)]
    if cmp.skipped:
        result.notes.append(f"{cmp.skipped} sample value(s) were not finite reals and were dropped")
    if result.equivalent:
        return result
    diagnosis = []
    betas = [mpmath.mpf(p[d.beta].p) / p[d.beta].q for p in cmp.points]
    c, res = fit(uvals, [evals])
    if res <= tol:
        c = nice(c[0])
        diagnosis.append(f"your free entropy is {c} times the engine's")
        result.suggestion = phi_u / c
    a, res = fit(uvals, [[v / b for v, b in zip(evals, betas)]])
    if res <= tol and nice(a[0]) == -1:
        diagnosis.append("yours is the free energy f = -Phi/beta; the engine's is the free entropy "
                         "Phi = lim (1/N) E log Z (DESIGN.md)")
        result.suggestion = -d.beta * phi_u
    fixes = _single_term_fixes(diffs, None, list(zip(su.terms, su.values)), list(zip(se.terms, se.values)),
                               tol, scaled=False)
    diagnosis += [_fix_text(f, "the free entropies") for f in fixes]
    user_fixes = [f for f in fixes if f[0] == "user"]
    if result.suggestion is None and user_fixes:
        _, term, mu = user_fixes[0]
        result.suggestion = _replace_term(phi_u, term, mu)
    elif result.suggestion is None:
        offsets = [f for f in fixes if f[0] == "constant"]
        if offsets:
            result.suggestion = phi_u - offsets[0][2]
    if not diagnosis:
        diagnosis.append("no single term, constant factor or constant offset explains the difference")
    result.diagnosis = diagnosis
    return result


# ----------------------------------------------------------------------------------- front door
def check(target, equation: str | None = None, free_entropy: str | None = None, *, ansatz: str = "rs",
          mapping: dict | None = None, syntax: str = "sympy", samples: int = SAMPLES, seed: int = 0
          ) -> CheckResult:
    """Check a hand-derived ``equation`` or ``free_entropy`` (exactly one) against the engine.

    ``target`` is a :class:`~replicasym.derivation.Derivation` or a model (derived under
    ``ansatz``).  See the module docstring for the names, the method and the result.

    >>> import replicasym as rs
    >>> from replicasym.check import check
    >>> check(rs.models.sk(), "q = 1 - E(1/cosh(beta*sqrt(q)*z)**2, z)").equivalent
    True
    """
    if (equation is None) == (free_entropy is None):
        raise ParameterError("give exactly one of equation=... or free_entropy=...")
    if isinstance(target, Derivation):
        d = target
    else:
        from .derive import derive
        from .models.spec import ModelSpec
        from .solvers.thermo import derivation_for

        d = derivation_for(target, ansatz) if isinstance(target, ModelSpec) else derive(target, ansatz)
    if not isinstance(d, Derivation):
        raise ParameterError(f"check needs a replica derivation (free entropy and saddle-point equations); "
                             f"{getattr(target, 'name', target)!r} has none")
    if not isinstance(samples, int) or not 3 <= samples <= 200:
        raise ParameterError(f"samples must be an integer between 3 and 200, got {samples!r}")
    if equation is not None:
        return check_equation(d, equation, mapping, syntax, samples, seed)
    return check_free_entropy(d, free_entropy, mapping, syntax, samples, seed)
