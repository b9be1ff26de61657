r"""The project's single whitelist parser for user-typed mathematics.

Every string a user can hand to replicasym (an activation ``"x*erf(x)"``, a covariance function
``"q**3/2"``, a hand-derived equation, a ``--param`` value) goes through :func:`parse_expression`.
It parses with Python's :mod:`ast` and walks the tree itself; it never calls ``eval``, ``exec`` or
``sympy.sympify`` on user text (:func:`parse_equation` splits ``"lhs = rhs"`` at its single ``=``
and parses both sides with it).  Only these constructs are accepted:

* finite ``int`` / ``float`` literals (floats become exact rationals of their decimal spelling, so
  ``0.1`` is ``1/10`` and high-precision solves are not polluted by binary rounding);
* names listed in ``variables`` or ``parameters`` and the constants ``pi`` and ``E`` (Euler's
  number; a variable or parameter of the same name shadows the constant);
* unary ``+ -`` and binary ``+ - * / **`` (``^`` is rejected with a hint to use ``**``);
* calls, with positional arguments only, to the whitelisted functions of :data:`FUNCTIONS`;
* ``E(expr, z)``: the Gaussian expectation of ``expr`` over a standard normal ``z``
  (:class:`replicasym.symbolic.gaussian.GaussianExpectation`); ``z`` is any fresh identifier and
  is bound inside ``expr`` only.

Everything else is rejected with :class:`replicasym.errors.ParseError`: attribute access,
subscripts, lambdas, comprehensions, strings and f-strings, ``:=``, keyword arguments, comparisons,
unknown names or functions, ``nan``/``inf``, inputs longer than :data:`MAX_LENGTH` characters,
nesting deeper than :data:`MAX_DEPTH`, exponents whose numeric magnitude exceeds
:data:`MAX_EXPONENT` (``x**10**10``) and constant powers with more than :data:`MAX_DIGITS` digits.

Symbols are created as ``sympy.Symbol(name, real=True)`` (the project's convention, see
``replicasym.models.spec``); pass ``sympy.Symbol`` objects in ``variables`` / ``parameters`` to
use your own symbols instead.
"""
from __future__ import annotations

import ast
import keyword
import math
import re
import sys
from collections.abc import Iterable, Sequence

import sympy as sp

from .errors import ParseError

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "parse_equation",
    "parse_expression",
    "parse_value",
]

MAX_LENGTH = 10_000
MAX_DEPTH = 100
MAX_EXPONENT = 1000
MAX_DIGITS = 10_000

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _sigmoid(x):
    return 1 / (1 + sp.exp(-x))


def _log(x, base=None):
    return sp.log(x) if base is None else sp.log(x, base)


def _max(*a):
    return sp.Max(*a)


def _min(*a):
    return sp.Min(*a)


# name -> (sympy builder, minimum number of arguments, maximum number (None: unbounded))
FUNCTIONS: dict[str, tuple] = {
    "exp": (sp.exp, 1, 1),
    "log": (_log, 1, 2),
    "ln": (sp.log, 1, 1),
    "sqrt": (sp.sqrt, 1, 1),
    "sin": (sp.sin, 1, 1),
    "cos": (sp.cos, 1, 1),
    "tan": (sp.tan, 1, 1),
    "asin": (sp.asin, 1, 1),
    "acos": (sp.acos, 1, 1),
    "atan": (sp.atan, 1, 1),
    "arcsin": (sp.asin, 1, 1),
    "arccos": (sp.acos, 1, 1),
    "arctan": (sp.atan, 1, 1),
    "sinh": (sp.sinh, 1, 1),
    "cosh": (sp.cosh, 1, 1),
    "tanh": (sp.tanh, 1, 1),
    "asinh": (sp.asinh, 1, 1),
    "acosh": (sp.acosh, 1, 1),
    "atanh": (sp.atanh, 1, 1),
    "sech": (sp.sech, 1, 1),
    "erf": (sp.erf, 1, 1),
    "erfc": (sp.erfc, 1, 1),
    "abs": (sp.Abs, 1, 1),
    "Abs": (sp.Abs, 1, 1),
    "sign": (sp.sign, 1, 1),
    "Heaviside": (sp.Heaviside, 1, 1),
    "heaviside": (sp.Heaviside, 1, 1),
    "max": (_max, 1, None),
    "Max": (_max, 1, None),
    "min": (_min, 1, None),
    "Min": (_min, 1, None),
    "sigmoid": (_sigmoid, 1, 1),
    "relu": (lambda x: sp.Max(0, x), 1, 1),
    "softplus": (lambda x: sp.log(1 + sp.exp(x)), 1, 1),
    "swish": (lambda x: x * _sigmoid(x), 1, 1),
    "silu": (lambda x: x * _sigmoid(x), 1, 1),
    "gelu": (lambda x: x * (1 + sp.erf(x / sp.sqrt(2))) / 2, 1, 1),
}

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_FUNCTION_SETS = {
    "default": frozenset(FUNCTIONS) | {"E"},
    "elementary": frozenset(FUNCTIONS),
    "none": frozenset(),
}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REJECTED_BINOPS = {
    ast.BitXor: "'^' is not a power here; use '**' (e.g. x**2)",
    ast.FloorDiv: "floor division '//' is not allowed; use '/'",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed",
    ast.BitAnd: "'&' is not allowed",
    ast.BitOr: "'|' is not allowed",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
}
_NODE_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.NamedExpr: "assignment expressions ':='",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions",
    ast.Tuple: "tuples",
    ast.List: "lists",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.Starred: "starred arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


def _fail(msg: str, text: str, node: ast.AST | None = None) -> ParseError:
    pos = getattr(node, "col_offset", None) if node is not None else None
    where = f" at column {pos + 1}" if pos is not None else ""
    shown = text if len(text) <= 80 else text[:77] + "..."
    return ParseError(f"cannot parse {shown!r}{where}: {msg}", text=text[:200], position=pos)


def _symbol_table(names: Iterable, kind: str, text: str) -> dict[str, sp.Symbol]:
    if isinstance(names, (str, sp.Basic)):
        names = [names]
    table: dict[str, sp.Symbol] = {}
    for n in names:
        if isinstance(n, sp.Symbol):
            table[n.name] = n
            continue
        if not isinstance(n, str) or not _IDENT.match(n) or keyword.iskeyword(n):
            raise ParseError(f"invalid {kind} name {n!r}: must be a Python identifier", text=text[:200])
        table[n] = sp.Symbol(n, real=True)
    return table


def _allowed_functions(functions) -> frozenset:
    if isinstance(functions, str):
        try:
            return _FUNCTION_SETS[functions]
        except KeyError:
            raise ValueError(f"functions must be one of {sorted(_FUNCTION_SETS)} or a collection of "
                             f"function names, got {functions!r}") from None
    allowed = frozenset(functions)
    unknown = allowed - set(FUNCTIONS) - {"E"}
    if unknown:
        raise ValueError(f"unknown function names {sorted(unknown)}; known: {sorted(FUNCTIONS)} and E")
    return allowed


def _number_value(expr: sp.Expr):
    """``expr`` as an mpmath-free magnitude estimate: the absolute value as a Python float, or None
    when ``expr`` is not an explicit number."""
    if not expr.is_Number:
        return None
    try:
        return abs(float(expr))
    except (OverflowError, TypeError, ValueError):
        return math.inf


def _digits_estimate(expr: sp.Expr) -> float:
    """log10 |expr| for an explicit number (big rationals included), 0 for zero."""
    if expr.is_zero:
        return 0.0
    if expr.is_Integer:
        return len(str(abs(int(expr))))
    if expr.is_Rational:
        return max(len(str(abs(int(expr.p)))), len(str(int(expr.q))))
    try:
        return abs(math.log10(abs(float(expr))))
    except (OverflowError, ValueError, TypeError):
        return math.inf


class _Converter:
    def __init__(self, text: str, names: dict[str, sp.Expr], functions: frozenset):
        self.text = text
        self.names = names
        self.functions = functions

    # -- entry ---------------------------------------------------------------------------------
    def convert(self, node: ast.AST, depth: int, bound: dict[str, sp.Symbol]) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise _fail(f"expression nested deeper than {MAX_DEPTH} levels", self.text, node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node, bound)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.convert(node.operand, depth + 1, bound)
            if isinstance(node.op, ast.UAdd):
                return self.convert(node.operand, depth + 1, bound)
            raise _fail(f"unary operator {type(node.op).__name__} is not allowed", self.text, node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth, bound)
        if isinstance(node, ast.Call):
            return self.call(node, depth, bound)
        what = _NODE_NAMES.get(type(node), type(node).__name__)
        raise _fail(f"{what} not allowed", self.text, node)

    # -- leaves --------------------------------------------------------------------------------
    def constant(self, node: ast.Constant) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            raise _fail(f"the constant {v!r} is not a number", self.text, node)
        if isinstance(v, (str, bytes)):
            raise _fail("strings are not allowed", self.text, node)
        if isinstance(v, complex):
            raise _fail("complex literals are not allowed", self.text, node)
        if isinstance(v, int):
            return sp.Integer(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                raise _fail("number literal is not finite", self.text, node)
            return sp.Rational(repr(v))
        raise _fail(f"literal {v!r} not allowed", self.text, node)

    def name(self, node: ast.Name, bound: dict[str, sp.Symbol]) -> sp.Expr:
        n = node.id
        if n.startswith("__"):
            raise _fail(f"the name {n!r} is not allowed (names starting with '__' are reserved)", self.text, node)
        if n in bound:
            return bound[n]
        if n in self.names:
            return self.names[n]
        if n in CONSTANTS:
            return CONSTANTS[n]
        if n.lower() in ("nan", "inf", "infinity", "oo", "zoo"):
            raise _fail(f"{n!r} is not allowed: only finite numbers", self.text, node)
        if n in FUNCTIONS:
            raise _fail(f"function {n!r} used without arguments; write {n}(x)", self.text, node)
        known = sorted(set(self.names) | set(bound))
        hint = f"; known names: {', '.join(known)}" if known else "; this expression takes no variables"
        raise _fail(f"unknown name {n!r}{hint} (constants: pi, E)", self.text, node)

    # -- operators -----------------------------------------------------------------------------
    def _chain(self, node: ast.BinOp, ops: tuple) -> list[tuple[type, ast.AST]]:
        """Unroll a left-leaning chain a op b op c ... of the operators ``ops`` (iteratively, so
        long sums do not count as deep nesting)."""
        items = []
        cur: ast.AST = node
        while isinstance(cur, ast.BinOp) and isinstance(cur.op, ops):
            items.append((type(cur.op), cur.right))
            cur = cur.left
        items.append((None, cur))
        items.reverse()
        return items

    def binop(self, node: ast.BinOp, depth: int, bound) -> sp.Expr:
        op = type(node.op)
        if op in _REJECTED_BINOPS:
            raise _fail(_REJECTED_BINOPS[op], self.text, node)
        if op in (ast.Add, ast.Sub):
            terms = []
            for o, sub in self._chain(node, (ast.Add, ast.Sub)):
                t = self.convert(sub, depth + 1, bound)
                terms.append(-t if o is ast.Sub else t)
            return sp.Add(*terms)
        if op in (ast.Mult, ast.Div):
            num, den = [], []
            for o, sub in self._chain(node, (ast.Mult, ast.Div)):
                f = self.convert(sub, depth + 1, bound)
                (den if o is ast.Div else num).append(f)
            for d in den:
                if d.is_zero:
                    raise _fail("division by zero", self.text, node)
            return sp.Mul(*num) / sp.Mul(*den) if den else sp.Mul(*num)
        if op is ast.Pow:
            base = self.convert(node.left, depth + 1, bound)
            expo = self.convert(node.right, depth + 1, bound)
            return self.power(base, expo, node)
        raise _fail(f"operator {op.__name__} is not allowed", self.text, node)

    def power(self, base: sp.Expr, expo: sp.Expr, node: ast.AST) -> sp.Expr:
        mag = _number_value(expo)
        if mag is not None and mag > MAX_EXPONENT:
            raise _fail(f"exponent {self._short(expo)} exceeds the limit |exponent| <= {MAX_EXPONENT}",
                        self.text, node)
        if base.is_zero and expo.is_Number and expo.is_negative:
            raise _fail("division by zero (0 to a negative power)", self.text, node)
        if base.is_Number and mag is not None and _digits_estimate(base) * mag > MAX_DIGITS:
            raise _fail(f"constant power has more than {MAX_DIGITS} digits", self.text, node)
        return sp.Pow(base, expo)

    @staticmethod
    def _short(x: sp.Expr) -> str:
        s = str(x)
        return s if len(s) <= 30 else s[:12] + "..." + s[-6:]

    # -- calls ---------------------------------------------------------------------------------
    def call(self, node: ast.Call, depth: int, bound) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            what = "attribute access" if isinstance(node.func, ast.Attribute) else "calling an expression"
            raise _fail(f"{what} not allowed; only calls to whitelisted functions", self.text, node)
        fname = node.func.id
        if node.keywords:
            raise _fail(f"keyword arguments are not allowed (in {fname}(...))", self.text, node)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise _fail("starred arguments are not allowed", self.text, a)
        if fname == "E" and "E" in self.functions and "E" not in self.names:
            return self.expectation(node, depth, bound)
        if fname not in FUNCTIONS or fname not in self.functions:
            if fname in FUNCTIONS or fname == "E":
                raise _fail(f"function {fname!r} is not enabled here", self.text, node)
            raise _fail(f"unknown function {fname!r}; allowed: "
                        f"{', '.join(sorted(f for f in self.functions))}", self.text, node)
        builder, lo, hi = FUNCTIONS[fname]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = str(lo) if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
            raise _fail(f"{fname}() takes {want} argument(s), got {n}", self.text, node)
        args = [self.convert(a, depth + 1, bound) for a in node.args]
        try:
            return builder(*args)
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise _fail(f"{fname}(): {exc}", self.text, node) from None

    def expectation(self, node: ast.Call, depth: int, bound) -> sp.Expr:
        from .symbolic.gaussian import GaussianExpectation

        if len(node.args) != 2:
            raise _fail(f"E(expr, z) takes 2 arguments (an expression and a Gaussian variable name), "
                        f"got {len(node.args)}", self.text, node)
        var = node.args[1]
        if not isinstance(var, ast.Name):
            raise _fail("the second argument of E(expr, z) must be a variable name", self.text, var)
        z = var.id
        if z in FUNCTIONS or z in CONSTANTS or z in ("E",) or z.startswith("__"):
            raise _fail(f"{z!r} cannot be a Gaussian variable name", self.text, var)
        zsym = self.names.get(z)
        if not isinstance(zsym, sp.Symbol):
            zsym = sp.Symbol(z, real=True)
        inner = dict(bound)
        inner[z] = zsym
        body = self.convert(node.args[0], depth + 1, inner)
        return GaussianExpectation(body, zsym)


def _max_depth(tree: ast.AST) -> int:
    """Nesting depth of the syntax tree, computed iteratively (chains of + - and * / count once)."""
    best = 0
    stack = [(tree, 0)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if best > MAX_DEPTH + 5:
            return best
        for child in ast.iter_child_nodes(node):
            same_chain = (isinstance(node, ast.BinOp) and isinstance(child, ast.BinOp)
                          and child is node.left
                          and (isinstance(node.op, (ast.Add, ast.Sub))
                               and isinstance(child.op, (ast.Add, ast.Sub))
                               or isinstance(node.op, (ast.Mult, ast.Div))
                               and isinstance(child.op, (ast.Mult, ast.Div))))
            if isinstance(child, (ast.expr_context, ast.operator, ast.unaryop)):
                continue
            stack.append((child, d if same_chain else d + 1))
    return best


def _require_ascii(stripped: str, text: str) -> None:
    """Reject non-ASCII characters: Python folds look-alike identifiers to ASCII (NFKC: a fullwidth
    q, U+FF51, reads as ``q``), so they would be accepted as something the user did not see; other
    letters (Greek beta, a Cyrillic a, U+0430) would be unknown names anyway."""
    for i, ch in enumerate(stripped):
        if not ch.isascii():
            shown = stripped if len(stripped) <= 80 else stripped[:77] + "..."
            raise ParseError(f"cannot parse {shown!r} at column {i + 1}: non-ASCII character {ch!r} "
                             f"(U+{ord(ch):04X}); write names and operators in ASCII "
                             "(e.g. beta)", text=text[:200], position=i)


def _parse_tree(text: str) -> ast.expr:
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
                         text=text[:200])
    if "\x00" in text:
        raise ParseError("expression contains a NUL character", text=text[:200])
    stripped = text.strip()
    if not stripped:
        raise ParseError("empty expression", text=text)
    _require_ascii(stripped, text)
    for ch, what in (("#", "comments ('#')"), ("\\", "backslashes")):
        if ch in stripped:
            i = stripped.index(ch)
            raise ParseError(f"cannot parse {stripped[:80]!r} at column {i + 1}: {what} are not allowed",
                             text=text[:200], position=i)
    level = worst = 0
    for ch in stripped:
        if ch in "([{":
            level += 1
            worst = max(worst, level)
        elif ch in ")]}":
            level -= 1
    if worst > MAX_DEPTH:
        raise ParseError(f"cannot parse {stripped[:80]!r}: brackets nested deeper than {MAX_DEPTH} levels",
                         text=text[:200])
    # Long flat sums/products ("x+x+...+x") are legitimately deep syntax trees; CPython 3.11 checks
    # the Python recursion limit while building them, so lift it for the duration of the parse.
    # The parser's own limits (too many nested parentheses, MemoryError) still bound real nesting.
    old_limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(old_limit, 4 * MAX_LENGTH))
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        msg = exc.msg or "invalid syntax"
        raise ParseError(f"cannot parse {stripped[:80]!r}{col}: {msg}", text=text[:200],
                         position=(exc.offset - 1) if exc.offset else None) from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ParseError(f"cannot parse expression: {type(exc).__name__} "
                         f"(nested deeper than {MAX_DEPTH} levels?)", text=text[:200]) from None
    finally:
        sys.setrecursionlimit(old_limit)
    body = tree.body
    try:
        depth = _max_depth(body)
    except RecursionError:  # pragma: no cover - iterative, kept as a guard
        depth = MAX_DEPTH + 1
    if depth > MAX_DEPTH:
        raise ParseError(f"cannot parse {stripped[:80]!r}: expression nested deeper than {MAX_DEPTH} "
                         f"levels", text=text[:200])
    return body


def parse_expression(text: str, variables: Sequence[str] = (), parameters: Sequence[str] = (),
                     functions="default") -> sp.Expr:
    """Parse ``text`` into a SymPy expression, accepting only a whitelist of syntax.

    Parameters
    ----------
    text : the expression, e.g. ``"x*erf(x)"``, ``"q**3/2 + h*q"``, ``"E(tanh(b*sqrt(q)*z)**2, z)"``.
    variables, parameters : the names the expression may use (strings, or ``sympy.Symbol`` objects
        used as given).  The distinction is documentary: both become symbols; string names become
        ``Symbol(name, real=True)``.
    functions : ``"default"`` (all of :data:`FUNCTIONS` and ``E(expr, z)``), ``"elementary"``
        (no Gaussian expectation), ``"none"`` (no calls), or a collection of function names.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    replicasym.errors.ParseError
        (a ``ValueError``) with a one-line message saying what was rejected and where.
    """
    allowed = _allowed_functions(functions)
    if not isinstance(text, str):
        raise ParseError(f"expected an expression string, got {type(text).__name__}")
    names: dict[str, sp.Expr] = {}
    names.update(_symbol_table(parameters, "parameter", text))
    for k, v in _symbol_table(variables, "variable", text).items():
        names[k] = v
    body = _parse_tree(text)
    conv = _Converter(text.strip(), names, allowed)
    try:
        out = conv.convert(body, 0, {})
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", text=text[:200]) from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}", text.strip()) from None
    if not isinstance(out, sp.Expr):
        raise _fail("not a scalar expression", text.strip())
    if out.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise _fail("the expression evaluates to nan or infinity", text.strip())
    return out


#: a single '=' that is not part of '==', '<=', '>=' or '!='
_EQUALS = re.compile(r"(?<![=<>!])=(?!=)")


def parse_equation(text: str, variables: Sequence[str] = (), parameters: Sequence[str] = (),
                   functions="default") -> sp.Equality:
    """Parse ``"lhs = rhs"`` into an unevaluated ``sympy.Eq``; both sides go through
    :func:`parse_expression` with the same names.  Text without ``=`` is the equation
    ``expr = 0``.  More than one ``=``, or ``==``, is a :class:`~replicasym.errors.ParseError`.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected an equation string, got {type(text).__name__}")
    if "==" in text:
        raise ParseError(f"cannot parse {text.strip()[:80]!r}: write an equation with a single '=', "
                         "not '=='", text=text[:200])
    parts = _EQUALS.split(text)
    if len(parts) > 2:
        raise ParseError(f"cannot parse {text.strip()[:80]!r}: an equation has exactly one '='",
                         text=text[:200])
    sides = [parse_expression(p, variables, parameters, functions) for p in parts]
    rhs = sides[1] if len(sides) == 2 else sp.S.Zero
    return sp.Eq(sides[0], rhs, evaluate=False)


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT = re.compile(r"^[+-]?\d+$")


def _number(tok: str, whole: str):
    tok = tok.strip()
    if not _NUMBER.match(tok):
        return None
    if _INT.match(tok):
        if len(tok) > 4300:
            raise ParseError(f"number too long in {whole[:80]!r}", text=whole[:200])
        return int(tok)
    v = float(tok)
    if not math.isfinite(v):
        raise ParseError(f"value {tok!r} is not a finite number", text=whole[:200])
    return v


def _top_level_split(body: str) -> list[str] | None:
    """``body`` split at the commas outside any brackets (``"1,2"``, not ``"max(q, 0)"``), or None
    when there is no such comma."""
    parts, level, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "([{":
            level += 1
        elif ch in ")]}":
            level -= 1
        elif ch == "," and level == 0:
            parts.append(body[start:i])
            start = i + 1
    if not parts:
        return None
    parts.append(body[start:])
    return parts


def parse_value(text: str):
    """Interpret the VALUE of a command-line ``--param KEY=VALUE``.

    * ``"3"`` -> ``3`` (int), ``"0.5"`` / ``"1e-3"`` -> float;
    * ``"1.0,0.5,2"`` or ``"[1.0, 0.5, 2]"`` -> a list of numbers;
    * a plain identifier (``"tanh"``, ``"ising"``, ``"true"``) -> the string itself;
    * anything else (``"x*erf(x)"``, ``"q**3/2"``, ``"1/3"``) -> the stripped text, to be parsed by
      the model with :func:`parse_expression` and the model's own variable names.  It is checked
      here only for basic well-formedness (length, syntax, no nan/inf, nothing but the whitelist's
      syntax), so that bad input fails before any computation.

    Raises :class:`~replicasym.errors.ParseError` for empty values, nan/inf, malformed lists.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected a string value, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"value is {len(text)} characters long; the limit is {MAX_LENGTH}", text=text[:200])
    s = text.strip()
    if not s:
        raise ParseError("empty value")
    if s.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise ParseError(f"value {s!r} is not a finite number", text=s)
    num = _number(s, s)
    if num is not None:
        return num
    if _IDENT.match(s):
        return s
    bracketed = (s.startswith("[") and s.endswith("]")) or (s.startswith("(") and s.endswith(")"))
    body = s[1:-1] if bracketed else s
    parts = _top_level_split(body)  # "1,2" and "[1, 2]" are lists; "max(q, 0)" is an expression
    if parts is not None:
        values = []
        for p in parts:
            if p.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
                raise ParseError(f"list {s!r} contains a non-finite value {p.strip()!r}", text=s)
            v = _number(p, s)
            if v is None:
                raise ParseError(f"list {s!r}: {p.strip()!r} is not a number "
                                 "(lists may only hold numbers)", text=s)
            values.append(v)
        return values
    # An expression: validate the syntax with the whitelist (any names allowed here; the model
    # checks them against its own variables), but hand back the text.
    tree = _parse_tree(s)
    names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
                   - set(FUNCTIONS) - set(CONSTANTS))
    bad = [n for n in names if n.lower() in ("nan", "inf", "infinity", "oo", "zoo")]
    if bad:
        raise ParseError(f"value {s!r} uses {bad[0]!r}: only finite numbers are allowed", text=s)
    parse_expression(s, variables=names)
    return s
