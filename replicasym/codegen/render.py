"""Render a :class:`~replicasym.derivation.Derivation` into module source with the jinja2 templates."""
from __future__ import annotations

import importlib.resources
import importlib.util
import math
import numbers
import re
import textwrap
from dataclasses import dataclass

import jinja2
import sympy as sp

from ..errors import ParameterError
from ..symbolic.covariance import covariance_kernels
from ..symbolic.gaussian import GaussianExpectation, gaussian_variables
from .names import assign_names, docstring_text, one_line
from .printers import MpmathQuadraturePrinter, NumpyQuadraturePrinter, inert, stabilize

__all__ = ["ARRAY_BACKENDS", "BACKENDS", "render_source", "require_backend", "template_source"]

#: backend name -> template file
BACKENDS = {"numpy": "numpy_module.py.j2", "mpmath": "mpmath_module.py.j2",
            "jax": "array_module.py.j2", "cupy": "array_module.py.j2"}

#: array-API backends (the numpy template family printed against the namespace ``xp``): the module
#: they import and the pip extra that installs it
ARRAY_BACKENDS = {"jax": ("jax", "jax"), "cupy": ("cupy", "gpu-cupy")}

#: what the printed numpy code calls as ``numpy.<name>``, re-targeted to ``xp.<name>`` (the printed
#: code has no string literals and user symbols are sanitised identifiers that never end in "numpy")
_NUMPY_PREFIX = re.compile(r"(?<![\w.])numpy\.")

#: default trapezoidal nodes on [-10, 10] per Gaussian axis, by nesting depth of the expectations.
#: The error is ~exp(-pi^2 / (a h)) for tanh(a z), log cosh(a z), h = 20 / (n - 1):
#: depth 1: 1601 nodes (h = 0.0125), ~1e-12 up to a = beta sqrt(q) ~ 30;
#: depth 2: 401 per axis (h = 0.05), ~1e-12 up to a ~ 7, ~3e-9 at a = 10 (1601**2 costs ~25x more:
#: 0.5 s + 1.9 s per grid point for SK 1RSB residuals + Jacobian on one core, vs 0.02 s + 0.07 s);
#: depth >= 3: 161 per axis (h = 0.125), ~1e-12 up to a ~ 2.8.  set_quadrature() overrides.
DEFAULT_QUADRATURE_NODES = {1: 1601, 2: 401, 3: 161}
#: most array elements (grid points x nodes**depth) a generated function evaluates at once, by backend.
#: numpy: 2**15 doubles (256 KiB temporaries stay in cache and below glibc's mmap threshold, so no page
#: faults per temporary): SK RS Newton on 10^4 points x 1601 nodes takes about half the CPU time it
#: takes with 2**22 (benchmarks/README.md); jax (fused by jit) and cupy (a GPU wants large batches): 2**22.
DEFAULT_CHUNK_ELEMENTS = {"numpy": 1 << 15, "jax": 1 << 22, "cupy": 1 << 22}


def nesting_depth(expr) -> int:
    """Largest number of nested Gaussian expectations in ``expr`` (0 without any)."""
    if isinstance(expr, GaussianExpectation):
        return 1 + nesting_depth(expr.args[0])
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return 0
    return max([nesting_depth(a) for a in expr.args] or [0])


def _plain_factor(e) -> bool:
    """A number, a symbol or a numeric power of a symbol (beta, 1/2, sqrt(q), 1/q**2)."""
    return bool(e.is_Number or e.is_Symbol or (e.is_Pow and e.base.is_Symbol and e.exp.is_Number))


def pull_constants(expr):
    r"""Linearity of the Gaussian average, :math:`\mathbb E_z[c\,f(z)] = c\,\mathbb E_z[f(z)]`, for the
    factors ``c`` of an integrand that are free of ``z`` and plain (:func:`_plain_factor`): they are
    then applied once per grid point instead of once per quadrature node.  Exponential-like factors
    stay inside, where the log-sum-exp stabilisation (printers.stabilize) needs them."""
    def pull(e):
        f, z = e.args
        outside = [a for a in sp.Mul.make_args(f) if z not in a.free_symbols and _plain_factor(a)]
        if not outside:
            return e
        inside = [a for a in sp.Mul.make_args(f) if a not in outside]
        return sp.Mul(*outside) * GaussianExpectation(sp.Mul(*inside), z)

    return expr.replace(lambda e: isinstance(e, GaussianExpectation), pull)


def default_quadrature_nodes(depth: int) -> int:
    """Default trapezoidal node count per Gaussian axis for expectations nested ``depth`` deep."""
    return DEFAULT_QUADRATURE_NODES[min(max(depth, 1), 3)]


def template_root():
    """The directory (a :class:`importlib.resources.abc.Traversable`) of the ``replicasym.templates``
    package data."""
    try:
        return importlib.resources.files("replicasym.templates")
    except ModuleNotFoundError:  # source checkout that was not installed: see _source_templates
        return _source_templates()


def template_source(name: str) -> str:
    """The text of a template shipped as package data of ``replicasym.templates``."""
    return template_root().joinpath(name).read_text(encoding="utf-8")


def _source_templates():
    # Only for an uninstalled source tree (PYTHONPATH=repo): pyproject maps the top-level
    # ``templates`` directory to ``replicasym.templates``; emulate that mapping.
    import importlib.util
    import sys
    from pathlib import Path

    import replicasym

    for base in getattr(replicasym, "__path__", []):
        cand = Path(base).resolve().parent / "templates" / "__init__.py"
        if cand.is_file():
            spec = importlib.util.spec_from_file_location(
                "replicasym.templates", cand, submodule_search_locations=[str(cand.parent)])
            mod = importlib.util.module_from_spec(spec)
            sys.modules["replicasym.templates"] = mod
            spec.loader.exec_module(mod)
            return importlib.resources.files("replicasym.templates")
    raise ModuleNotFoundError("replicasym.templates (package data) not found; install replicasym")


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: template_source(name)),
        autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _as_expr(eq) -> sp.Expr:
    if isinstance(eq, sp.Equality):
        return eq.lhs - eq.rhs
    return sp.sympify(eq)


def require_backend(backend: str) -> None:
    """Raise :class:`ParameterError` (one line, how to install) when ``backend``'s library is missing."""
    if backend not in BACKENDS:
        raise ParameterError(f"unknown backend {backend!r}; expected one of {', '.join(sorted(BACKENDS))}")
    if backend in ARRAY_BACKENDS:
        module, extra = ARRAY_BACKENDS[backend]
        if importlib.util.find_spec(module) is None:
            raise ParameterError(f"backend {backend!r} needs {module}, which is not installed; install it "
                                 f"with: pip install 'replicasym[{extra}]' (or use backend 'numpy')")


def _bound_literal(value, backend: str):
    """A literal for a numeric bound, ``None`` for a symbolic one (then unconstrained)."""
    v = sp.sympify(value)
    inf = {"numpy": "numpy.inf", "mpmath": "mpmath.inf"}.get(backend, "math.inf")
    if v is sp.oo:
        return inf
    if v is sp.S.NegativeInfinity:
        return "-" + inf
    if not (v.is_number and v.is_real):
        return None
    if backend != "mpmath":
        return repr(float(v))
    if v.is_Integer:
        return f"mpmath.mpf({int(v)})"
    if v.is_Rational:
        return f"mpmath.mpf({int(v.p)}) / {int(v.q)}"
    return f"mpmath.mpf({str(sp.Float(v, 30))!r})"


#: generated code lines longer than this are broken inside parentheses (between tokens)
MAX_LINE = 100


def _wrapped(code: str, indent: int, parens: bool = True) -> str:
    """The printed expression ``code`` (no string literals: every space lies between two tokens),
    when it does not fit on a line indented by ``indent``, broken at spaces into lines of at most
    MAX_LINE characters where the tokens allow, in parentheses (``parens=False``: the template
    supplies them; inside brackets a newline between tokens is legal Python)."""
    if indent + len(code) <= MAX_LINE:
        return code
    pad = " " * (indent + 4)
    body = textwrap.wrap(code, width=MAX_LINE - len(pad), break_long_words=False, break_on_hyphens=False)
    text = "\n" + "\n".join(pad + line for line in body) + "\n" + " " * indent
    return "(" + text + ")" if parens else text


def _py_literal(value) -> str:
    """A Python literal for a JSON-like value (numbers, strings, lists, dicts); anything else, and
    non-finite numbers, as its string."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py_literal(str(k))}: {_py_literal(v)}" for k, v in value.items()) + "}"
    return repr(str(value))


def _rows(flat: list, matrix) -> list:
    """The row-major flat list of ``matrix``'s entries as a list of its rows."""
    return [flat[i * matrix.cols:(i + 1) * matrix.cols] for i in range(matrix.rows)]


@dataclass
class _Function:
    name: str
    doc: str
    inputs: list          # local names, theta first then params
    n_theta: int
    n_params: int
    gaussians: list       # [(name, axis)] (vectorised backends only)
    unpack: list          # the inputs, unused ones prefixed with "_" (mpmath unpacking)
    lines: list           # "x0 = ..." assignment lines
    kind: str             # "scalar" | "vector" | "matrix" | "system" (a vector and its Jacobian)
    result: object        # printed expression(s)


class _Renderer:
    def __init__(self, d, backend: str):
        if backend not in BACKENDS:
            raise ParameterError(f"unknown backend {backend!r}; expected one of {', '.join(sorted(BACKENDS))}")
        self.d = d
        self.backend = backend
        zt = d.zero_temperature
        self.theta = tuple(d.order_parameters)
        self.params = (d.beta, *tuple(d.params))
        self.exprs = {
            "free_entropy": sp.sympify(d.free_entropy),
            "residuals": [sp.sympify(g) for g in d.residuals],
            "jacobian": sp.Matrix(d.jacobian),
            "energy": sp.sympify(d.energy),
            "replicon": sp.sympify(d.replicon),
        }
        if zt is not None:
            self.gs_theta = tuple(zt.order_parameters)
            gs_exprs = [sp.sympify(zt.energy), *[_as_expr(e) for e in zt.equations],
                        *sp.Matrix(zt.jacobian), *([sp.sympify(zt.replicon)] if zt.replicon is not None else [])]
            free = set().union(*[e.free_symbols for e in gs_exprs])
            self.gs_params = tuple(s for s in self.params if s in free or s in d.params)
            self.exprs.update({
                "ground_state_energy": sp.sympify(zt.energy),
                "ground_state_gradient": [_as_expr(e) for e in zt.equations],
                "ground_state_jacobian": sp.Matrix(zt.jacobian),
            })
            if zt.replicon is not None:
                self.exprs["ground_state_replicon"] = sp.sympify(zt.replicon)
        else:
            self.gs_theta = ()
            self.gs_params = ()
        # Gaussian variables: first appearance, outermost first, over all expressions
        zs: list = []
        for e in self._all_exprs():
            for z in gaussian_variables(e):
                if z not in zs:
                    zs.append(z)
        self.gaussians = zs
        self.depth = max([nesting_depth(e) for e in self._all_exprs()] or [0])
        self.axes = {z: -(len(zs) - k) for k, z in enumerate(zs)}
        known = set(self.theta) | set(self.params) | set(self.gs_theta) | set(zs)
        extra = set()
        for e in self._all_exprs():
            extra |= e.free_symbols - known
        if extra:
            raise ValueError("expressions contain symbols that are neither order parameters nor "
                             f"parameters: {sorted(map(str, extra))}")
        self.names = assign_names([*self.theta, *self.params, *self.gs_theta, *zs])
        self.vectorised = backend != "mpmath"  # numpy and the array-API backends
        printer_cls = NumpyQuadraturePrinter if self.vectorised else MpmathQuadraturePrinter
        self.printer = printer_cls(self.names, self.axes,
                                   {"fully_qualified_modules": True, "inline": True,
                                    "allow_unknown_functions": False})

    def _all_exprs(self):
        for v in self.exprs.values():
            if isinstance(v, (sp.MatrixBase, list)):
                yield from v
            else:
                yield v

    # ------------------------------------------------------------------ code
    def _print(self, e) -> str:
        code = self.printer.doprint(e)
        if self.backend in ARRAY_BACKENDS:
            code = _NUMPY_PREFIX.sub("xp.", code)
        return code

    def function(self, name, doc, theta, params, kind, parts=None) -> _Function:
        """One generated function; ``kind="system"`` evaluates the vector ``parts[0]`` and the matrix
        ``parts[1]`` together (one common-subexpression pass: a Newton step computes both)."""
        if kind == "system":
            vector, matrix = (self.exprs[p] for p in parts)
            flat = [*vector, *matrix]  # matrix row-major
            indents = [12] * len(vector) + [16] * len(matrix)
        else:
            value = self.exprs[name]
            flat = [value] if kind == "scalar" else list(value)  # matrices row-major
            indents = [{"scalar": 4, "vector": 8}.get(kind, 12)] * len(flat)
        if self.vectorised:
            flat = [stabilize(pull_constants(e)) for e in flat]
            ignore = ()
        else:
            flat = [inert(e) for e in flat]
            ignore = tuple(self.gaussians)
        taken = set().union(*[e.atoms(sp.Symbol) for e in flat]) if flat else set()
        temps = sp.numbered_symbols("x", cls=sp.Symbol, exclude=taken)
        reps, reduced = sp.cse(flat, symbols=temps, ignore=ignore, order="canonical")
        lines = [f"{self._print(s)} = {_wrapped(self._print(v), 4)}" for s, v in reps]
        printed = [_wrapped(self._print(e), indent, parens=self.vectorised)
                   for e, indent in zip(reduced, indents)]
        if kind == "scalar":
            result = printed[0]
        elif kind == "vector":
            result = printed
        elif kind == "matrix":
            result = _rows(printed, value)
        else:
            result = [printed[:len(vector)], _rows(printed[len(vector):], matrix)]
        used = set().union(*[e.atoms(sp.Symbol) for e in flat]) if flat else set()
        gauss = [(self.names[z], self.axes[z]) for z in self.gaussians if z in used]
        unpack = [self.names[s] if s in used else "_" + self.names[s] for s in (*theta, *params)]
        return _Function(name=name, doc=doc, inputs=[self.names[s] for s in (*theta, *params)],
                         n_theta=len(theta), n_params=len(params), gaussians=gauss, unpack=unpack,
                         lines=lines, kind=kind, result=result)

    def covariance_kernel(self):
        """The numerically known covariance function xi of the model (None when xi is explicit)."""
        kernels = covariance_kernels(self._all_exprs())
        if len(kernels) > 1:
            raise ValueError("a derivation may use one numerically known covariance function, found "
                             f"{len(kernels)}")
        return kernels[0] if kernels else None

    def context(self) -> dict:
        d = self.d
        kernel = self.covariance_kernel()
        if kernel is not None and self.backend in ARRAY_BACKENDS:
            raise ParameterError(f"backend {self.backend!r}: this model's covariance xi is a network kernel "
                                 "evaluated by replicasym.kernels on the host (numpy); generate it with "
                                 "backend 'numpy'")
        model_name = getattr(d.model, "name", None) or type(d.model).__name__
        order = ", ".join(map(str, self.theta))
        fns = [
            self.function("free_entropy", "Free entropy Phi(theta; beta, params) per spin.",
                          self.theta, self.params, "scalar"),
            self.function("residuals", "[r_i] -- the saddle-point residuals (zero at the saddle).",
                          self.theta, self.params, "vector"),
            self.function("jacobian", "[[d r_i/dtheta_j]] of the residuals (row-major lists).",
                          self.theta, self.params, "matrix"),
            self.function("energy", "Energy per spin e = -dPhi/dbeta at fixed theta.",
                          self.theta, self.params, "scalar"),
            self.function("replicon", "Replicon eigenvalue (positive where RS/RSB is stable).",
                          self.theta, self.params, "scalar"),
        ]
        if self.vectorised:
            fns.append(self.function("residuals_and_jacobian", "[residuals, jacobian] evaluated together "
                                     "(shared subexpressions; one Newton step).", self.theta, self.params,
                                     "system", ("residuals", "jacobian")))
        if d.zero_temperature is not None:
            fns += [
                self.function("ground_state_energy", "Ground-state energy functional E0(theta0; params).",
                              self.gs_theta, self.gs_params, "scalar"),
                self.function("ground_state_gradient", "[dE0/dtheta0_i] -- zero-temperature equations.",
                              self.gs_theta, self.gs_params, "vector"),
                self.function("ground_state_jacobian", "[[d^2 E0/dtheta0_i dtheta0_j]].",
                              self.gs_theta, self.gs_params, "matrix"),
            ]
            if self.vectorised:
                fns.append(self.function("ground_state_gradient_and_jacobian", "[ground_state_gradient, "
                                         "ground_state_jacobian] evaluated together.", self.gs_theta,
                                         self.gs_params, "system",
                                         ("ground_state_gradient", "ground_state_jacobian")))
            if "ground_state_replicon" in self.exprs:
                fns.append(self.function("ground_state_replicon", "Replicon at T = 0 (positive where the "
                                         "ground state is stable).", self.gs_theta, self.gs_params, "scalar"))

        def latex(e):
            return docstring_text(sp.latex(e))

        def bounds(syms):
            out = []
            for s in syms:
                lo, hi = (d.bounds or {}).get(s, (sp.S.NegativeInfinity, sp.oo))
                lo_s = _bound_literal(lo, self.backend) or _bound_literal(sp.S.NegativeInfinity, self.backend)
                hi_s = _bound_literal(hi, self.backend) or _bound_literal(sp.oo, self.backend)
                out.append((lo_s, hi_s))
            return out

        ctx = {
            "backend": self.backend,
            "xp": "xp" if self.backend in ARRAY_BACKENDS else "numpy",  # the printed array namespace
            "covariance_kernel": kernel.source() if kernel else None,
            "covariance_imports": kernel.imports if kernel else (),
            "model_name": one_line(model_name),
            "model_repr": repr(one_line(model_name)),
            "ansatz": one_line(d.ansatz),
            "ansatz_repr": repr(one_line(d.ansatz)),
            "order_text": one_line(order),
            "params_text": one_line(", ".join(map(str, self.params))),
            "latex_free_entropy": latex(d.free_entropy),
            "latex_equations": [latex(eq) for eq in d.equations],
            "latex_replicon": latex(d.replicon),
            "latex_ground_state": latex(d.zero_temperature.energy) if d.zero_temperature else None,
            "gs_order_text": one_line(", ".join(map(str, self.gs_theta))),
            "order_names": [self.names[s] for s in self.theta],
            "param_names": [self.names[s] for s in self.params],
            "gs_order_names": [self.names[s] for s in self.gs_theta],
            "gs_param_names": [self.names[s] for s in self.gs_params],
            "bounds": bounds(self.theta),
            "gs_bounds": bounds(self.gs_theta),
            "n_gauss": len(self.gaussians),
            "gauss_names": [self.names[z] for z in self.gaussians],
            "functions": fns,
            "zero_temperature": d.zero_temperature is not None,
            "quadrature_nodes": default_quadrature_nodes(self.depth),
            "nesting_depth": self.depth,
            "chunk_elements": DEFAULT_CHUNK_ELEMENTS.get(self.backend),
            "model_params": _py_literal(d.model.public_params() if hasattr(d.model, "public_params") else {}),
            "param_values": [(self.names[s], _py_literal(float(d.param_values[s])))
                             for s in d.params if s in (d.param_values or {})],
        }
        return ctx


def render_source(derivation, backend: str) -> str:
    """Module source for ``derivation`` and ``backend``: ``"numpy"``, ``"mpmath"``, or an array-API backend
    ``"jax"`` / ``"cupy"`` (the numpy template family printed against ``xp`` = ``jax.numpy`` / ``cupy``;
    rendering needs neither library, importing the module does)."""
    if getattr(derivation, "ansatz", None) == "frsb":
        raise ParameterError("codegen: full RSB has a functional order parameter x(q) and is solved by the "
                             "Parisi solvers (replicasym.solvers.parisi_*), not by generated saddle-point "
                             "code; generate krsb:K instead")
    r = _Renderer(derivation, backend)
    src = _env().get_template(BACKENDS[backend]).render(**r.context())
    compile(src, f"<replicasym generated {backend} module>", "exec")  # syntax check
    return src
