"""The whitelist expression parser: what it accepts, what it rejects, and that it never crashes."""
import time

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from replicasym.errors import ConvergenceError, ParameterError, ParseError, ReplicasymError
from replicasym.parsing import FUNCTIONS, MAX_LENGTH, parse_expression, parse_value
from replicasym.symbolic.gaussian import GaussianExpectation

x = sp.Symbol("x", real=True)
q = sp.Symbol("q", real=True)
b = sp.Symbol("b", real=True)
z = sp.Symbol("z", real=True)


def P(text, variables=("x",), **kw):
    return parse_expression(text, variables, **kw)


# -- errors module ----------------------------------------------------------------------------
def test_error_hierarchy():
    assert issubclass(ParseError, ReplicasymError) and issubclass(ParseError, ValueError)
    assert issubclass(ParameterError, ReplicasymError) and issubclass(ParameterError, ValueError)
    assert issubclass(ConvergenceError, ReplicasymError)
    e = ConvergenceError("no", residual=1e-3)
    assert e.residual == 1e-3 and str(e) == "no"


# -- accepted ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("x*erf(x)", x * sp.erf(x)),
    ("q**3/2", q**3 / 2),
    ("0.5*q**2 + 0.1*q", q**2 / 2 + q / 10),
    ("tanh(x)", sp.tanh(x)),
    ("sigmoid(x)", 1 / (1 + sp.exp(-x))),
    ("relu(x)", sp.Max(0, x)),
    ("max(x, 0)", sp.Max(0, x)),
    ("Max(0, x)", sp.Max(0, x)),
    ("min(x, 1)", sp.Min(x, 1)),
    ("abs(x) + Abs(x)", 2 * sp.Abs(x)),
    ("sqrt(x)", sp.sqrt(x)),
    ("exp(-x**2/2)", sp.exp(-x**2 / 2)),
    ("log(x, 2)", sp.log(x) / sp.log(2)),
    ("sin(x) + cos(x) + tan(x)", sp.sin(x) + sp.cos(x) + sp.tan(x)),
    ("sinh(x)*cosh(x)", sp.sinh(x) * sp.cosh(x)),
    ("atan(x) + asin(x) + acos(x)", sp.atan(x) + sp.asin(x) + sp.acos(x)),
    ("erfc(x)", sp.erfc(x)),
    ("sign(x)*Heaviside(x)", sp.sign(x) * sp.Heaviside(x)),
    ("pi*x", sp.pi * x),
    ("E**x", sp.exp(x)),
    ("-x", -x),
    ("+x", x),
    ("2**-3", sp.Rational(1, 8)),
    ("x/2/3", x / 6),
    ("x - 1 - 2", x - 3),
    ("1e3*x", 1000 * x),
    ("x**1000", x**1000),
    ("x**-1000", x**-1000),
    ("(((x)))", x),
])
def test_accepts(text, expected):
    got = P(text, ("x", "q"))
    assert sp.simplify(got - expected) == 0


def test_floats_are_exact_decimals():
    assert P("0.1") == sp.Rational(1, 10)
    assert P("x**0.5") == sp.sqrt(x)


def test_symbols_are_real_and_parameters_allowed():
    e = parse_expression("q**3/2 + h*q", variables=["q"], parameters=["h"])
    assert e.free_symbols == {q, sp.Symbol("h", real=True)}
    assert all(s.is_real for s in e.free_symbols)


def test_symbol_objects_are_used_as_given():
    s = sp.Symbol("s", positive=True)
    assert parse_expression("sqrt(s**2)", [s]) == s


def test_variables_shadow_constants():
    E_ = sp.Symbol("E", real=True)
    assert parse_expression("E + 1", ["E"]) == E_ + 1


def test_gaussian_expectation():
    e = parse_expression("E(tanh(b*sqrt(q)*z)**2, z)", ["q"], ["b"])
    assert isinstance(e, GaussianExpectation)
    assert e.variable.name == "z"
    assert e.free_symbols == {q, b}
    # z is bound inside E(...) only
    with pytest.raises(ParseError, match="unknown name 'z'"):
        parse_expression("E(z**2, z) + z", ["q"])
    # nested expectations
    e2 = parse_expression("E(E(log(cosh(u + v)), u), v)", [])
    assert isinstance(e2, GaussianExpectation)
    # a constant integrand collapses
    assert parse_expression("E(q, z)", ["q"]) == q


def test_expectation_can_be_disabled():
    with pytest.raises(ParseError, match="not enabled"):
        P("E(x*z, z)", functions="elementary")
    with pytest.raises(ParseError, match="not enabled"):
        P("sin(x)", functions="none")
    assert P("sin(x)", functions=["sin"]) == sp.sin(x)
    with pytest.raises(ParseError):
        P("cos(x)", functions=["sin"])
    with pytest.raises(ValueError):
        P("x", functions="everything")


def test_long_flat_sums_are_not_deep():
    assert P("+".join(["x"] * 3000)) == 3000 * x
    assert P("*".join(["x"] * 1000)) == x**1000


# -- rejected ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, fragment", [
    ("x.real", "attribute"),
    ("x.__class__", "attribute"),
    ("().__class__.__bases__", "not allowed"),
    ("x[0]", "subscript"),
    ("lambda: 1", "lambda"),
    ("[x for x in y]", "comprehension"),
    ("(x for x in y)", "comprehension"),
    ("f'{x}'", "f-string"),
    ("(y := 1)", ":="),
    ("max(x, key=1)", "keyword"),
    ("'abc'", "string"),
    ("b'abc'", "string"),
    ("foo", "unknown name 'foo'"),
    ("foo(x)", "unknown function 'foo'"),
    ("__import__('os')", "unknown function"),
    ("eval('1')", "unknown function"),
    ("x**10**10", "exponent"),
    ("x**(2*1000.5)", "exponent"),
    ("x**-1001", "exponent"),
    ("(2**1000)**1000", "digits"),
    ("nan", "finite"),
    ("inf", "finite"),
    ("-inf*x", "finite"),
    ("1e400", "finite"),
    ("x^2", "use '\\*\\*'"),
    ("x // 2", "floor division"),
    ("x % 2", "%"),
    ("x < 1", "comparison"),
    ("x and 1", "boolean"),
    ("x if x else 1", "conditional"),
    ("True", "not a number"),
    ("None", "not a number"),
    ("1j", "complex"),
    ("(x, x)", "tuple"),
    ("exp()", "argument"),
    ("sqrt(x, 2)", "argument"),
    ("exp", "without arguments"),
    ("E(x, 1)", "variable name"),
    ("E(x)", "2 arguments"),
    ("sin(x)(x)", "calling an expression"),
    ("x; import os", "syntax"),
    ("import os", "syntax"),
    ("", "empty"),
    ("   ", "empty"),
    ("1/0", "division by zero"),
    ("0**-1", "division by zero"),
    ("*x", "syntax"),
    ("~x", "not allowed"),
    ("sin(*[x])", "starred"),
])
def test_rejects(text, fragment):
    with pytest.raises(ParseError, match=fragment):
        P(text)


def test_rejects_too_long():
    with pytest.raises(ParseError, match="limit is 10000"):
        P("x+" * (MAX_LENGTH // 2) + "x")


def test_rejects_deep_nesting_quickly():
    for text in ["(" * 150 + "x" + ")" * 150,
                 "-" * 5000 + "x",
                 "tanh(" * 101 + "x" + ")" * 101,
                 "x**" * 120 + "x",
                 "(" * 4000 + "x" + ")" * 4000]:
        t = time.perf_counter()
        with pytest.raises(ParseError, match="nest|deep"):
            P(text)
        assert time.perf_counter() - t < 2.0


def test_nesting_100_is_fine():
    assert P("tanh(" * 40 + "x" + ")" * 40).has(x)


def test_non_string_input():
    with pytest.raises(ParseError):
        parse_expression(3, ["x"])
    with pytest.raises(ParseError):
        parse_expression("x", ["not a name"])


def test_message_is_one_line_with_position():
    with pytest.raises(ParseError) as info:
        P("x + foo")
    msg = str(info.value)
    assert "\n" not in msg and "column 5" in msg
    assert info.value.position == 4


def test_whitelist_contents():
    for name in ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "erf", "erfc",
                 "abs", "Abs", "max", "Max", "min", "Min", "sign", "Heaviside", "atan", "asin", "acos",
                 "sigmoid"]:
        assert name in FUNCTIONS


_ALPHABET = st.sampled_from(list("xq0123456789.+-*/()^,eE _") + ["**", "tanh(", "E(", "z", "exp(", "1e999",
                                                                    "nan", "[", "]", "lambda", ":", "'"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_fuzz_only_parse_errors(text):
    try:
        out = parse_expression(text, ["x", "q"])
    except ParseError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(out, sp.Expr)
        assert out.free_symbols <= {x, q}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_arbitrary_text(text):
    try:
        parse_expression(text, ["x"])
    except ParseError:
        pass


# -- parse_value ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("3", 3),
    ("-2", -2),
    ("0.5", 0.5),
    ("1e-3", 1e-3),
    (" 2.0 ", 2.0),
    ("1.0,0.5,2", [1.0, 0.5, 2]),
    ("[1, 2.5]", [1, 2.5]),
    ("tanh", "tanh"),
    ("ising", "ising"),
    ("x*erf(x)", "x*erf(x)"),
    ("q**3/2", "q**3/2"),
    ("1/3", "1/3"),
])
def test_parse_value(text, expected):
    got = parse_value(text)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("text", ["", "  ", "nan", "inf", "-inf", "1,nan", "1,a", "1,,2", "x.y",
                                  "x**10**10", "__import__('os')", "q^2", "1e999"])
def test_parse_value_rejects(text):
    with pytest.raises(ParseError):
        parse_value(text)
