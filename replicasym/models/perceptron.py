r"""The perceptron: Gardner's volume of weights that satisfy :math:`P = \alpha N` random constraints.

Conventions (DESIGN.md): weights x on :math:`S^{N-1}(\sqrt N)` with the uniform probability measure
(``weights="spherical"``) or :math:`x\in\{\pm1\}^N` with the counting measure (``"ising"``); patterns
:math:`\xi_\mu` with i.i.d. standard Gaussian entries; constraints
:math:`y_\mu\,\xi_\mu\cdot x/\sqrt N \ge \kappa`.  Labels are random (``labels="random"``) or given by
a teacher :math:`T` uniform on the sphere, :math:`y_\mu = \mathrm{sign}(\xi_\mu\cdot T/\sqrt N)`
(``labels="teacher"``).  The free entropy is
:math:`\Phi = \lim\frac1N\mathbb E\log\mathrm{Vol}\{x: \text{all constraints}\}` (so
:math:`\Phi(\alpha=0) = 0` on the sphere, :math:`\log 2` for Ising weights).

The engine derives it (:meth:`PerceptronModel.derive`): the replicated volume is
:math:`e^{N S_n}` with :math:`S_n = G_n^{\rm weights}(Q) + \alpha\,G_n^{\rm constraint}(Q)`, where
:math:`G_n^{\rm weights}` is :math:`\tfrac12\log\det Q` (spherical;
:func:`~replicasym.symbolic.action.spherical_entropy`; with a teacher, of the Schur complement
:math:`Q - R^2 J`) or the Ising trace with conjugates
(:func:`~replicasym.symbolic.action.ising_entropy`), and :math:`G_n^{\rm constraint}` is the
hierarchical decoupling of :func:`~replicasym.symbolic.constraint.replicated_constraint`; then
n -> 0, stationarity, the replicon :math:`\lambda_R = 1 - \alpha\,\gamma_{\rm w}\gamma_{\rm c}`
(the two single-site susceptibilities; spherical :math:`\gamma_{\rm w} = (1-q_k)^2`), and the
:math:`q\to1` limit (capacity).  References: E. Gardner, J. Phys. A 21 (1988) 257; E. Gardner &
B. Derrida, J. Phys. A 21 (1988) 271 and 22 (1989) 1983; W. Krauth & M. Mézard, J. Phys. France
50 (1989) 3057; A. Engel & C. Van den Broeck, *Statistical Mechanics of Learning* (CUP 2001),
ch. 2, 3, 6; S. Franz & G. Parisi, J. Phys. A 49 (2016) 145001.

Numbers (:mod:`replicasym.solvers.gardner`): the capacity :math:`\alpha_c(\kappa)` is the engine's
closed form evaluated with mpmath; RS saddle points by bracketing and Brent (double) or
``mpmath.findroot`` (``precision``); Ising weights: the capacity is where the RS entropy vanishes
(Krauth & Mézard's frozen 1RSB solution, whose free entropy is :math:`\Phi_{\rm RS}(q_0)/m`),
and the RS :math:`q\to1` value (Gardner & Derrida's :math:`4/\pi` at :math:`\kappa=0`) is reported
as ``alpha_c_rs``; teacher--student: :math:`\varepsilon_g = \arccos(R)/\pi`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp
from scipy.optimize import brentq, root

from ..derive import parse_ansatz
from ..errors import ConvergenceError, ParameterError
from ..markdown import latex_block, results_markdown
from ..parsing import parse_expression
from ..solution import check_precision, number
from ..solvers.gardner import Compiled, roots_1d
from ..symbolic.action import ansatz_symbols, ising_entropy, spherical_entropy
from ..symbolic.constraint import (
    capacity_limit,
    capacity_susceptibility,
    constraint_fields,
    gaussian_tail_form,
    hard_margin,
    parisi_average,
    replicated_constraint,
    sign_teacher,
    susceptibility,
)
from ..symbolic.gaussian import GaussianExpectation, closed_form, linearize
from ..symbolic.limit import replica_limit
from ..symbolic.replica import parisi
from ..symbolic.saddle import (
    fixed_point_equations,
    gaussian_simplify,
    jacobian,
    solve_linear,
    stationarity_residuals,
)
from ..symbolic.trace import Trace

__all__ = ["GardnerDerivation", "PerceptronModel", "PerceptronSolution", "perceptron", "ALPHA", "KAPPA",
           "TEACHER_OVERLAP"]

#: the load alpha = P/N, the margin kappa and the teacher-student overlap R
ALPHA = sp.Symbol("alpha", positive=True)
KAPPA = sp.Symbol("kappa", real=True)
TEACHER_OVERLAP = sp.Symbol("R", real=True)
_N = sp.Symbol("n", real=True)
_U = sp.Symbol("u", real=True)

_WEIGHTS = ("spherical", "ising")
_LABELS = ("random", "teacher")


@dataclass
class GardnerDerivation:
    """The engine's derivation of a perceptron volume under one ansatz (see the module docstring).

    ``params`` are the symbols the expressions depend on besides the order parameters: the load
    :data:`ALPHA` and the margin :data:`KAPPA`.  ``capacity`` (random labels, RS) holds the leading
    coefficient ``F0`` of :math:`\\Phi` as
    :math:`q\\to1`, the capacity ``alpha_c`` (closed form in kappa) and, for spherical weights, the
    replicon at capacity ``replicon_c``."""

    model: PerceptronModel
    ansatz: str
    params: tuple
    order_parameters: tuple
    free_entropy: sp.Expr
    equations: tuple
    residuals: tuple
    jacobian: sp.Matrix
    replicon: sp.Expr
    fixed_point: tuple = ()
    capacity: dict | None = None
    steps: Trace = field(default_factory=Trace)

    @property
    def k(self) -> int:
        return parse_ansatz(self.ansatz)

    @property
    def zero_temperature(self):
        """Code generation reads this first; the perceptron's numerics are
        :mod:`~replicasym.solvers.gardner` (the codegen printers do not know
        :class:`~replicasym.symbolic.constraint.LogH` and the Mills ratio)."""
        raise ParameterError("code generation is not available for the perceptron (its log H / Mills-ratio "
                             "expressions are evaluated by replicasym.solvers.gardner); use solve, phase, "
                             "scan")

    def latex(self) -> str:
        lines = [r"\Phi = " + sp.latex(self.free_entropy), ""]
        lines += [sp.latex(eq) for eq in self.equations]
        lines += ["", r"\lambda_{\mathrm{R}} = " + sp.latex(self.replicon)]
        if self.capacity:
            lines += ["", r"\alpha_c = " + sp.latex(self.capacity["alpha_c"])]
        return "\n".join(lines)

    def solve(self, T=None, beta=None, ansatz=None, precision=None):
        """``replicasym.solve(derivation)``: solve the model this derivation belongs to."""
        return self.model.solve(T=T, beta=beta, ansatz=ansatz or self.ansatz, precision=precision)


@dataclass
class PerceptronSolution:
    """One RS saddle point of the Gardner volume at load ``alpha``."""

    params: dict
    ansatz: str
    alpha: object
    free_entropy: object
    order_parameters: dict
    replicon: object
    residual: object
    alpha_c: object = None
    epsilon_g: object = None
    converged: bool = True
    digits: int | None = None
    notes: list = field(default_factory=list)

    @property
    def entropy(self):
        """The Gardner volume's entropy per weight (the free entropy: there is no energy)."""
        return self.free_entropy

    def as_dict(self) -> dict:
        d = self.digits
        return {"model": "perceptron", "params": self.params, "ansatz": self.ansatz, "T": None,
                "alpha": number(self.alpha, d), "free_entropy": number(self.free_entropy, d), "energy": None,
                "entropy": number(self.free_entropy, d),
                "order_parameters": {k: number(v, d) for k, v in self.order_parameters.items()},
                "replicon": number(self.replicon, d), "converged": bool(self.converged),
                "residual": number(self.residual, None), "alpha_c": number(self.alpha_c, d),
                "epsilon_g": number(self.epsilon_g, d), "notes": list(self.notes)}


_DERIVATIONS: dict = {}


#: the largest margin |kappa|: alpha_c ~ 1/kappa^2 (kappa -> +oo) and ~ e^(kappa^2/2) (kappa -> -oo) are far
#: outside any meaningful load beyond it, and mpmath's erfc overflows near |kappa| ~ 1e150
KAPPA_MAX = 1e6


class PerceptronModel:
    """The perceptron's Gardner volume (see the module docstring); ``alpha`` is needed to solve."""

    name = "perceptron"
    #: no temperature: the volume is the zero-temperature entropy of the hard constraints
    has_temperature = False

    def __init__(self, kappa=0.0, weights: str = "spherical", labels: str = "random", alpha=None):
        self.weights = _choice("weights", weights, _WEIGHTS)
        self.labels = _choice("labels", labels, _LABELS)
        self.kappa = _exact("kappa", kappa)
        if not abs(self.kappa) <= KAPPA_MAX:
            raise ParameterError(f"perceptron: kappa must satisfy |kappa| <= {KAPPA_MAX:g}, got {kappa!r}")
        self.alpha = None if alpha is None else _exact("alpha", alpha)
        if self.alpha is not None and not self.alpha > 0:
            raise ParameterError(f"perceptron: alpha must be > 0, got {alpha!r}")
        if self.labels == "teacher" and self.weights == "ising":
            raise ParameterError("perceptron: teacher-student is implemented for spherical weights only")
        self._params = {"kappa": kappa, "weights": self.weights, "labels": self.labels}
        if alpha is not None:
            self._params["alpha"] = alpha

    def public_params(self) -> dict:
        return dict(self._params)

    @property
    def description(self) -> str:
        lab = "teacher-student" if self.labels == "teacher" else "random labels"
        return f"perceptron, {self.weights} weights, {lab}, margin kappa"

    # -- derive ------------------------------------------------------------------------------
    def derive(self, ansatz: str | None = "rs") -> GardnerDerivation:
        """The engine's derivation (memoised per weights, labels and ansatz; kappa stays symbolic)."""
        k = parse_ansatz(ansatz or "rs")
        if k > 1:
            raise ParameterError(f"perceptron: the engine derives rs and 1rsb for the perceptron, not {ansatz} "
                                 "(the k-RSB constraint average grows too fast with k)")
        key = (self.weights, self.labels, k)
        if key not in _DERIVATIONS:
            _DERIVATIONS[key] = _derive(self, k)
        return dataclasses.replace(_DERIVATIONS[key], model=self)

    # -- solve -------------------------------------------------------------------------------
    def solve(self, T=None, beta=None, ansatz: str | None = None, precision=None, alpha=None
              ) -> PerceptronSolution:
        """The RS saddle point at ``alpha`` (the model's, or the argument)."""
        if T is not None or beta is not None:
            raise ParameterError("the perceptron volume has no temperature: drop --T/--beta and give "
                                 "--param alpha=...")
        if ansatz not in (None, "auto", "rs") and parse_ansatz(ansatz) >= 1:
            raise ParameterError(f"perceptron: solving {ansatz} is not available (derive works); "
                                     "use rs (the replicon says where RS fails)")
        a = self.alpha if alpha is None else _exact("alpha", alpha)
        if a is None:
            raise ParameterError("perceptron: give the load, --param alpha=...")
        return _Numerics(self, check_precision(precision)).solve(a)

    def scan(self, alphas, precision=None) -> list[PerceptronSolution]:
        """RS solutions along ``alphas``; points beyond the capacity carry a note and no numbers."""
        num = _Numerics(self, check_precision(precision))
        out = []
        for a in alphas:
            try:
                out.append(num.solve(_exact("alpha", a)))
            except _BeyondCapacity as exc:
                out.append(PerceptronSolution(self.public_params(), "rs", a, None, {}, None, None,
                                              converged=False, notes=[str(exc)]))
        return out

    # -- phase -------------------------------------------------------------------------------
    def phase(self, precision=None) -> dict:
        """``phase --json``: ``alpha_c`` (RS q -> 1 point; Ising weights: zero RS entropy), ``alpha_c_rs``,
        ``replicon_at_capacity``, ``alpha_AT`` (where the RS replicon vanishes, kappa < 0),
        ``capacity_phase`` (rs | 1rsb | frsb), ``notes``; with a teacher, R and epsilon_g at ``alpha``."""
        return _Numerics(self, check_precision(precision)).phase()


class _BeyondCapacity(ParameterError):
    """alpha at or beyond the RS capacity: the volume is empty."""


def _choice(name, value, options):
    v = str(value).strip().lower()
    if v not in options:
        raise ParameterError(f"perceptron: {name} must be one of {', '.join(options)}, got {value!r}")
    return v


def _exact(name, value) -> sp.Expr:
    """A finite real number as an exact SymPy number (floats by their decimal spelling)."""
    if isinstance(value, bool):
        raise ParameterError(f"perceptron: {name} must be a number, got {value!r}")
    try:
        if isinstance(value, str):
            v = parse_expression(value)
        elif isinstance(value, (int, float)):
            v = sp.Rational(repr(value)) if isinstance(value, float) else sp.Integer(value)
        else:
            v = sp.sympify(value, strict=True)
    except (TypeError, ValueError, sp.SympifyError):
        raise ParameterError(f"perceptron: {name} must be a number, got {value!r}") from None
    if not (v.is_number and v.is_real and v.is_finite):
        raise ParameterError(f"perceptron: {name} must be a finite real number, got {value!r}")
    return v


# -- derivation ------------------------------------------------------------------------------
def _tidy(expr: sp.Expr) -> sp.Expr:
    """Constants out of the expectations, the expectation-free part simplified."""
    expr = sp.expand(linearize(expr), deep=False)
    rest, terms = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(expr):
        if term.has(GaussianExpectation):
            terms += term
        else:
            rest += term
    return sp.factor(sp.together(rest)) + terms


def _derive(model: PerceptronModel, k: int) -> GardnerDerivation:
    trace = Trace()
    qs, ms, lams, zs = ansatz_symbols(k)
    Q = parisi(_N, 1, qs, ms)
    trace.record("ansatz", f"{'RS' if k == 0 else f'{k}RSB'} Parisi form of the weight overlaps Q_ab "
                 "(Q_aa = 1)", sp.Eq(sp.Symbol("Q_ab"), sp.Tuple(*qs)))
    teacher = model.labels == "teacher"
    R = TEACHER_OVERLAP
    if model.weights == "spherical":
        gram = parisi(_N, 1 - R**2, [qi - R**2 for qi in qs], ms) if teacher else Q
        if teacher:
            trace.record("teacher row", "students conditioned on the teacher (overlap R): the Schur "
                         "complement Q - R^2 J is again a Parisi matrix",
                         sp.Eq(sp.Symbol("Q'"), gram.diagonal))
        weights_term = spherical_entropy(gram, trace)
        w_gamma = gram.eigenvalues()[-1][0] ** 2
    else:
        lam = parisi(_N, 0, lams, ms)
        weights_term, w_site, w_levels = ising_entropy(Q, lam, sp.S.Zero, zs, trace)
        w_field = sp.S.Zero
        for i in range(k + 1):
            w_field += sp.sqrt(lams[i] - (lams[i - 1] if i else 0)) * zs[i]
        w_gamma = gaussian_simplify(parisi_average(sp.diff(w_site(_U), _U, 2).subs(_U, w_field) ** 2,
                                                   w_levels, Q, zs))
    labels = (-1, 1) if teacher else (1,)
    con = replicated_constraint(Q, hard_margin(KAPPA, labels), constraint_fields(k), trace,
                                teacher=(R, sign_teacher()) if teacher else None)
    S_n = weights_term + ALPHA * con.log_average
    trace.record("replicated volume", "E Vol^n ~ exp(N S_n): weights' entropy + alpha x constraint average",
                 sp.Eq(sp.Symbol("S_n"), S_n))
    phi = replica_limit(S_n, _N, trace)
    phi = gaussian_tail_form(sp.expand(closed_form(linearize(phi))))
    trace.record("gaussian tail", "H(x) = erfc(x/sqrt 2)/2 written as log H and the Mills ratio "
                 "M = phi/H ((log H)' = -M, M' = M(M - x)); normalisations in closed form",
                 sp.Eq(sp.Symbol("Phi"), phi))
    levels = list(qs) + ([R] if teacher else [])
    variables = tuple(levels) + (tuple(lams) if model.weights == "ising" else ()) + tuple(ms)
    multiplicities = {lv: Q.multiplicity(i).subs(_N, 0) for i, lv in enumerate(qs)}
    fixed_point = []
    if model.weights == "ising":
        fixed_point = fixed_point_equations(phi, qs, lams, {}, trace)
        for qi, li in zip(qs, lams):
            fixed_point.append(sp.Eq(li, solve_linear(sp.diff(phi, qi), li)))
        trace.record("conjugate fixed points", "dPhi/dq_i = 0 solved for Lambda_i", fixed_point[len(qs):])
    if fixed_point:
        residuals = stationarity_residuals(phi, variables, multiplicities, fixed_point)
    else:
        # plain derivatives: Stein's lemma would split them into expectations that cancel to ~1e-9
        # relative near q -> 1, which is the numerical noise floor of the root search
        residuals = tuple(_tidy(sp.diff(phi, v) / multiplicities.get(v, 1)) for v in variables)
    fp = {eq.lhs: eq for eq in fixed_point}
    equations = tuple(fp.get(v, sp.Eq(g, 0)) for v, g in zip(variables, residuals))
    trace.record("saddle-point equations", "stationarity of Phi in every order parameter (a level q_i "
                 "divided by its multiplicity; Ising conjugates in fixed-point form)", list(equations))
    tail = {y: [gaussian_tail_form(L) for L in Ls] for y, Ls in con.levels.items()}
    c_gamma = susceptibility(lambda u, y: gaussian_tail_form(con.site_log(u, y)), con.cavity_field, tail,
                             {y: gaussian_tail_form(w) for y, w in con.label_weights.items()}, Q, con.fields)
    lam_R = linearize(1 - ALPHA * sp.factor(w_gamma) * c_gamma)
    trace.record("replicon", "replicon eigenvalue of the last level: 1 - alpha gamma_weights "
                 "gamma_constraint, the product of the two single-site susceptibilities "
                 "<(d^2 L/du^2)^2> (spherical weights: gamma = (1 - q_k)^2)",
                 sp.Eq(sp.Symbol("lambda_R"), lam_R))
    capacity = None
    if k == 0 and not teacher:
        conj = {lams[0]: (sp.Symbol("lambda_c", positive=True), 2)} if model.weights == "ising" else None
        F0, alpha_c, _ = capacity_limit(phi, qs[0], ALPHA, trace, conj)
        capacity = {"F0": F0, "alpha_c": alpha_c}
        if model.weights == "spherical":
            gamma_c = capacity_susceptibility(gaussian_tail_form(con.site_log(_U, 1)), _U, con.cavity_field,
                                              qs[0], con.fields[0])
            capacity["replicon_c"] = sp.simplify(1 - alpha_c * gamma_c)
            trace.record("replicon at capacity", "q -> 1: (1 - q)^2 (d^2 L/du^2)^2 -> (d^2 ell/du^2)^2 with "
                         "ell = lim (1 - q) L", sp.Eq(sp.Symbol("lambda_R^c"), capacity["replicon_c"]))
    jac = jacobian(residuals, variables)
    ans = "rs" if k == 0 else "1rsb" if k == 1 else f"krsb:{k}"
    return GardnerDerivation(model=model, ansatz=ans, params=(ALPHA, KAPPA), order_parameters=variables,
                             free_entropy=phi, equations=equations, residuals=residuals, jacobian=jac,
                             replicon=lam_R, fixed_point=tuple(fixed_point), capacity=capacity, steps=trace)


# -- numerics --------------------------------------------------------------------------------
_COMPILED: dict = {}
#: the overlap grid that brackets saddle points: q in [1e-4, 1 - 1e-4], dense towards 1 (the
#: quadrature of solvers.gardner is accurate to ~1e-12 up to 1 - q ~ 1e-4)
#: the bracketing grid of the RS overlap: linear in the bulk, geometric towards q -> 0 (alpha -> 0, down
#: to 1e-12) and q -> 1 (alpha -> alpha_c, up to 1 - 1e-9: closer to 1 the residual is rounding noise)
_Q_GRID = np.unique(np.concatenate([np.logspace(-12, -4, 33), np.linspace(1e-4, 0.9, 91),
                                    1 - np.logspace(-1, -9, 97)]))


def _compiled(d: GardnerDerivation, name: str, expr, digits):
    """Compiled expressions, memoised like the derivations (kappa and alpha are arguments)."""
    key = (d.model.weights, d.model.labels, d.ansatz, name, digits)
    if key not in _COMPILED:
        _COMPILED[key] = Compiled(expr, (*d.order_parameters, ALPHA, KAPPA), digits)
    return _COMPILED[key]


def _window(hint: float) -> np.ndarray:
    """A local bracketing grid around a previous solution (continuation)."""
    w = 0.02 * min(hint, 1 - hint) + 1e-6
    return np.clip(hint + w * np.linspace(-1, 1, 9), _Q_GRID[0], _Q_GRID[-1])


class _Numerics:
    """RS numbers of one model at double precision or at ``digits`` (mpmath)."""

    def __init__(self, model: PerceptronModel, digits: int | None):
        self.m, self.digits = model, digits
        d = self.d = model.derive("rs")
        self.names = [str(v) for v in d.order_parameters]
        self.kappa = float(model.kappa)
        self.exprs = {"phi": d.free_entropy, "replicon": d.replicon,
                      **{f"r{i}": r for i, r in enumerate(d.residuals)},
                      **{f"fp_{eq.lhs}": eq.rhs for eq in d.fixed_point},
                      **{f"j{i}{j}": d.jacobian[i, j] for i in range(d.jacobian.rows)
                         for j in range(d.jacobian.cols)}}

    def f(self, name: str, mp: bool = False) -> Compiled:
        return _compiled(self.d, name, self.exprs[name], self.digits if mp else None)

    def mp(self, value):
        """An exact parameter (or a double) as an mpf at ``digits`` + 10."""
        with mpmath.workdps(self.digits + 10):
            return mpmath.mpf(str(sp.N(value, self.digits + 10)))

    def alpha_c(self):
        """The RS q -> 1 capacity from the engine's closed form (None with a teacher)."""
        cap = self.d.capacity
        if cap is None:
            return None
        value = cap["alpha_c"].subs(KAPPA, self.m.kappa)
        return self.mp(value) if self.digits else float(sp.N(value, 25))

    # -- RS saddle points ------------------------------------------------------------------
    def _point(self, alpha, hint: float | None = None) -> list:
        """The RS order parameters at ``alpha`` (largest root; ``hint``: a nearby solution's q)."""
        a = float(alpha)
        if self.m.labels == "teacher":
            theta = self._teacher(a)
        elif self.m.weights == "ising":
            fl, fq = self.f("fp_lam"), self.f("fp_q")
            theta = self._largest_root(lambda q: q - fq(q, fl(q, 0.0, a, self.kappa), a, self.kappa), hint, a)
            theta.append(float(fl(theta[0], 0.0, a, self.kappa)))
        else:
            r = self.f("r0")
            theta = self._largest_root(lambda q: r(q, a, self.kappa), hint, a)
        if self.digits is not None:
            theta = self._polish(theta, alpha)
        return theta

    def _largest_root(self, g, hint, a: float) -> list:
        roots = roots_1d(g, _window(hint)) if hint is not None else []
        roots = roots or roots_1d(g, _Q_GRID)
        if not roots and self.m.weights == "spherical":  # alpha < alpha_c was checked: a solver failure
            raise ConvergenceError(f"no RS saddle point found at alpha = {a:g} < alpha_c (no sign change of "
                                   f"the RS equation for {_Q_GRID[0]:g} <= q <= 1 - {1 - _Q_GRID[-1]:.0e})")
        if not roots:
            raise _BeyondCapacity(f"no RS saddle point at alpha = {a:g} (beyond the RS q -> 1 point)")
        return [float(roots[-1])]

    def _teacher(self, a: float) -> list:
        """Newton in (q, R) from the root on the line q = R (where the teacher is statistically one
        more student: Nishimori)."""
        r0, r1 = self.f("r0"), self.f("r1")
        diag = roots_1d(lambda x: r1(x, x, a, self.kappa), _Q_GRID)
        if not diag:
            raise ConvergenceError(f"no start on the line q = R at alpha = {a:g}")

        def F(th):
            return [float(r0(th[0], th[1], a, self.kappa)), float(r1(th[0], th[1], a, self.kappa))]

        def J(th):
            return [[float(self.f(f"j{i}{j}")(th[0], th[1], a, self.kappa)) for j in range(2)]
                    for i in range(2)]
        sol = root(F, [diag[-1], diag[-1]], jac=J, method="hybr", options={"xtol": 1e-14})
        q, R = (float(v) for v in sol.x)
        if not (sol.success and 0 < q < 1 and R * R < q):
            raise ConvergenceError(f"teacher-student saddle point did not converge at alpha = {a:g}",
                                   residual=float(np.max(np.abs(F(sol.x)))))
        return [q, R]

    def _residual(self, theta, alpha) -> float:
        n = len(self.d.residuals)
        if self.digits is None:
            return max(abs(float(self.f(f"r{i}")(*theta, float(alpha), self.kappa))) for i in range(n))
        with mpmath.workdps(self.digits + 10):
            return float(max(abs(self.f(f"r{i}", True)(*theta, self.mp(alpha), self.mp(self.m.kappa)))
                             for i in range(n)))

    def _polish(self, theta, alpha) -> list:
        """``mpmath.findroot`` on the residuals at ``digits``."""
        fs = [self.f(f"r{i}", True) for i in range(len(self.d.residuals))]
        with mpmath.workdps(self.digits + 10):
            a, k = self.mp(alpha), self.mp(self.m.kappa)

            def F(*th):
                return [f(*th, a, k) for f in fs] if len(fs) > 1 else fs[0](*th, a, k)
            tol = mpmath.mpf(10) ** (-2 * self.digits)
            try:
                if len(fs) > 1:
                    th = list(mpmath.findroot(F, theta, tol=tol))
                else:  # bracketed (Anderson-Bjorck) so that q stays inside (0, 1)
                    d = 1e-9 * min(theta[0], 1 - theta[0])
                    th = [mpmath.findroot(F, (theta[0] - d, theta[0] + d), solver="anderson", tol=tol)]
                res = max(abs(f(*th, a, k)) for f in fs)
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                raise ConvergenceError(f"mpmath polishing of the RS saddle point failed: {exc}") from None
            if res > mpmath.mpf(10) ** (5 - self.digits):
                raise ConvergenceError("mpmath polishing of the RS saddle point did not converge",
                                       residual=float(res))
        return th

    def _scalar(self, name, theta, alpha):
        if self.digits is None:
            return float(self.f(name)(*theta, float(alpha), self.kappa))
        with mpmath.workdps(self.digits + 10):
            return self.f(name, True)(*theta, self.mp(alpha), self.mp(self.m.kappa))

    def solve(self, alpha) -> PerceptronSolution:
        ac = self.alpha_c()
        if ac is not None and self.m.weights == "spherical" and float(alpha) >= float(ac):
            raise _BeyondCapacity(f"alpha = {float(alpha):g} >= alpha_c = {float(ac):.10g}: the RS Gardner "
                                  "volume is empty (q -> 1 at alpha_c)")
        theta = self._point(alpha)
        res = self._residual(theta, alpha)
        phi = self._scalar("phi", theta, alpha)
        rep = self._scalar("replicon", theta, alpha)
        notes = []
        eg = None
        ops = dict(zip(self.names, theta))
        if self.m.labels == "teacher":
            R = ops["R"]
            eg = (mpmath.acos(R) / mpmath.pi) if self.digits else math.acos(R) / math.pi
        if rep < 0:
            notes.append("replicon < 0: the RS saddle point is unstable (replica symmetry breaking; "
                         "for kappa < 0 the true volume needs full RSB)")
        if self.m.weights == "ising" and phi < 0:
            notes.append("the RS entropy is negative: alpha is beyond the Krauth-Mezard capacity, "
                         "where RS is wrong (frozen 1RSB)")
        return PerceptronSolution(self.m.public_params(), "rs", alpha, phi, ops, rep, res, alpha_c=ac,
                                  epsilon_g=eg, digits=self.digits, notes=notes)

    # -- phase -----------------------------------------------------------------------------
    def phase(self) -> dict:
        p = self.digits
        out: dict = {"model": "perceptron", "params": self.m.public_params()}
        if self.m.labels == "teacher":
            out.update(alpha_c=None, notes=[("teacher-student: the student can always learn the teacher's "
                                             "labels (no capacity); spherical Gibbs learning has no phase "
                                             "transition, R grows continuously")])
            if self.m.alpha is not None:
                s = self.solve(self.m.alpha)
                out.update(alpha=number(self.m.alpha, p), R=number(s.order_parameters["R"], p),
                           q=number(s.order_parameters["q"], p), epsilon_g=number(s.epsilon_g, p))
            return out
        if self.m.weights == "ising":
            return self._phase_ising(out)
        ac = self.alpha_c()
        rep_c = float(self.d.capacity["replicon_c"].subs(KAPPA, self.m.kappa))
        notes = []
        a_at = None
        if rep_c < -1e-12:
            a_at = self._instability(float(ac))
            notes.append("kappa < 0: RS is unstable before its q -> 1 point; alpha_c here is the RS value, "
                         "an upper bound on the SAT/UNSAT (jamming) line, which needs full RSB "
                         "(Franz, Parisi, Sevelev, Urbani & Zamponi, SciPost Phys. 2 (2017) 019)")
        elif abs(rep_c) <= 1e-12:
            notes.append("the replicon vanishes at capacity (marginal, kappa = 0): RS is exact up to alpha_c "
                         "(Gardner & Derrida 1988)")
        out.update(alpha_c=number(ac, p), alpha_c_rs=number(ac, p), replicon_at_capacity=rep_c,
                   alpha_AT=a_at, capacity_phase="rs" if rep_c >= -1e-12 else "frsb",
                   alpha_c_formula=str(self.d.capacity["alpha_c"]), notes=notes)
        return out

    def _on_branch(self, name: str, ac: float, fractions) -> tuple:
        """``name`` (replicon or phi) along the RS branch at alpha = fractions x ac, in double precision
        and with continuation; returns (function of alpha, alphas, values)."""
        last = {"q": None}

        def value(a):
            digits, self.digits = self.digits, None
            try:
                theta = self._point(a, hint=last["q"])
            finally:
                self.digits = digits
            last["q"] = theta[0]
            return float(self.f(name)(*theta, a, self.kappa))
        alphas = ac * np.asarray(fractions)
        return value, alphas, [value(a) for a in alphas]

    def _first_sign_change(self, name: str, ac: float, what: str) -> float:
        value, alphas, vals = self._on_branch(name, ac, [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.95,
                                                          0.99, 0.999])
        for i in range(len(alphas) - 1):
            if vals[i] > 0 >= vals[i + 1]:
                return brentq(value, alphas[i], alphas[i + 1], xtol=1e-13, rtol=1e-15)
        raise ConvergenceError(f"the RS {what} does not change sign below the RS q -> 1 point",
                               residual=float(vals[-1]))

    def _instability(self, ac: float) -> float:
        """The load where the RS replicon changes sign on the RS branch (kappa < 0)."""
        return self._first_sign_change("replicon", ac, "replicon")

    def _phase_ising(self, out: dict) -> dict:
        ac_rs = self.alpha_c()
        ac = self._first_sign_change("phi", float(ac_rs), "entropy")
        if self.digits is not None:
            ac = self._polish_zero_entropy(ac)
        theta = self._point(ac)
        rep = self._scalar("replicon", theta, ac)
        p = self.digits
        out.update(alpha_c=number(ac, p), alpha_c_rs=number(ac_rs, p), replicon_at_capacity=float(rep),
                   alpha_AT=None, capacity_phase="1rsb", q_at_capacity=number(theta[0], p),
                   notes=[("Ising weights: alpha_c is where the RS entropy vanishes (Krauth & Mezard "
                           "1989: the frozen 1RSB solution, q_1 = 1, has free entropy Phi_RS(q_0)/m); "
                           "alpha_c_rs is the RS q -> 1 point (4/pi at kappa = 0, Gardner & Derrida 1988), "
                           "where the RS entropy is already negative")])
        return out

    def _polish_zero_entropy(self, a0: float):
        """Solve {fixed points, Phi = 0} in (q, Lambda, alpha) with mpmath at ``digits``."""
        digits, self.digits = self.digits, None
        try:
            theta = self._point(a0)
        finally:
            self.digits = digits
        fs = [self.f(f"r{i}", True) for i in range(len(self.d.residuals))] + [self.f("phi", True)]
        with mpmath.workdps(self.digits + 10):
            k = self.mp(self.m.kappa)

            def F(q, lam, a):
                return [f(q, lam, a, k) for f in fs]
            try:
                q, lam, a = mpmath.findroot(F, (*theta, mpmath.mpf(a0)),
                                            tol=mpmath.mpf(10) ** (-2 * self.digits))
                res = max(abs(v) for v in F(q, lam, a))
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                raise ConvergenceError(f"the zero-entropy capacity did not converge: {exc}") from None
            if res > mpmath.mpf(10) ** (5 - self.digits):
                raise ConvergenceError("the zero-entropy capacity did not converge", residual=float(res))
        return a


def perceptron(kappa=0.0, weights: str = "spherical", labels: str = "random", alpha=None) -> PerceptronModel:
    """Build the perceptron (``replicasym.models.build("perceptron", ...)``): margin ``kappa``,
    ``weights`` spherical | ising, ``labels`` random | teacher, optional load ``alpha`` (to solve)."""
    return PerceptronModel(kappa, weights, labels, alpha)


# -- the derivation document (derivations/perceptron.md) -------------------------------------
_SEED_COMPARISON = r"""## Comparison with the claims of the seed abstracts

The seed abstracts (`seeds/001_*`: Yoshino, SciPost Phys. Core 2, 005 (2020); `seeds/002_*`: Bahri
et al., Annu. Rev. Condens. Matter Phys. 11 (2020) 501) make no quantitative claim about the single
perceptron; what they say, and what the engine's numbers above say about it:

* **Bahri et al.: an analogy between the hinge-loss error landscape and *jamming*; over-parameterised
  (low density) and under-parameterised (high density) phases.**  Here the SAT side is the non-empty
  Gardner volume, $\alpha<\alpha_c(\kappa)$.  At capacity the fraction of constraints at the margin
  ("contacts") per weight is $\alpha_c H(-\kappa)$, and the engine's replicon there is exactly
  $\lambda_R^c = 1-\alpha_c H(-\kappa)$: for $\kappa>0$ (convex) $\lambda_R^c>0$, fewer contacts than
  weights (hypostatic), RS exact; at $\kappa=0$ the jamming point is isostatic and marginal,
  $\lambda_R^c=0$ (the review's "flat directions"); for $\kappa<0$ (non-convex) RS breaks down before
  its own $q\to1$ point, $\alpha_{AT}<\alpha_c^{RS}$.  *Verdict:* consistent with the jamming picture of
  Franz & Parisi (J. Phys. A 49 (2016) 145001) that the review cites; the critical (full-RSB) jamming
  line for $\kappa<0$ and the UNSAT side (minimal hinge loss) are **not** computed here: the engine
  reports the RS value and flags it.
* **Bahri et al.: "Why can they generalize?"**  Gibbs learning of a spherical teacher: the engine's
  two-parameter RS saddle point lands on the Nishimori line $q=R$ by itself and gives the
  $\varepsilon_g(\alpha)$ of the table, with $\alpha\varepsilon_g\to 0.62$ (the known $0.625/\alpha$
  law).  *Verdict:* agrees with the textbook results the review draws on (Engel & Van den Broeck
  ch. 2); the abstract says nothing more specific.
* **Yoshino: successive 2nd-order glass transitions layer by layer (random data), crystalline
  transitions (teacher–student).**  A single layer (L = 1, where the reconstructed deep model reduces
  to Gardner's) has **no** transition: $q$ grows continuously from 0 and RS stays stable up to
  $\alpha_c=2$ ($\kappa=0$); with a teacher, $R>0$ for every $\alpha>0$, no threshold.  *Verdict:*
  consistent with reference/yoshino_bahri.md A.4 ("L = 1: no transition"); the layer-by-layer
  transitions need the deep model (the Yoshino part of issue 9, not done here).
* **Yoshino: the capacity grows exponentially with depth.**  Not testable with one layer; the
  single-layer capacity is $\alpha_c(\kappa)$ above.  *Verdict:* open.

A claim seen on the web, "$\alpha_c = 1/(\kappa^2+1)$" (flagged as wrong in reference/yoshino_bahri.md
B.4), is indeed wrong: it gives 0.5 at $\kappa=1$, where the engine's closed form gives the value in
the table.

What the engine does **not** do here: solve the 1RSB/full-RSB perceptron (the 1RSB functional is
derived symbolically, `replicasym derive perceptron --ansatz 1rsb`, but not solved); derive Krauth and
Mézard's frozen 1RSB reduction $\Phi_{1RSB}(q_0, q_1=1, m)=\Phi_{RS}(q_0)/m$ symbolically (it is used,
with its reference, to read the Ising capacity off the RS entropy); the Ising teacher–student problem.
The Monte Carlo checks live in `tests/test_perceptron.py` (maximal-margin perceptrons at N = 200,
exact enumeration of Ising weights at N ≤ 20, hit-and-run Gibbs sampling of the version space).
"""


def _sig(x, digits: int = 10) -> str:
    return "—" if x is None else mpmath.nstr(mpmath.mpf(x), digits)


def markdown() -> str:
    """The derivation document ``derivations/perceptron.md``: the engine's traces for spherical and
    Ising weights and the teacher, the numbers, and the comparison with the seed abstracts."""
    out = ["# Perceptron: Gardner's volume (capacity, RS instability, Ising weights, teacher–student)", "",
           ("Generated by `replicasym.models.perceptron.write_markdown`; do not edit by hand.  "
            "Conventions: DESIGN.md (weights on $S^{N-1}(\\sqrt N)$ or $\\{\\pm1\\}^N$, $P=\\alpha N$ "
            "patterns, constraints $y_\\mu\\xi_\\mu\\cdot x/\\sqrt N\\ge\\kappa$; "
            "$\\Phi=\\lim\\frac1N\\mathbb E\\log\\mathrm{Vol}$; $H(x)=\\int_x^\\infty Dt$, $M=\\varphi/H$; "
            "$\\mathbb E_t$ is the average over a standard Gaussian $t$)."),
           ""]
    cases = (("Spherical weights, random labels", perceptron()),
             ("Ising weights, random labels", perceptron(weights="ising")),
             ("Spherical teacher and student", perceptron(labels="teacher")))
    for title, model in cases:
        d = model.derive("rs")
        out += [f"## {title}: RS", "", "### Derivation", "", d.steps.markdown(), "### Results", ""]
        out += results_markdown(d)
        if d.capacity:
            out += ["Capacity ($q\\to1$):", ""]
            out += latex_block(r"\alpha_c^{RS}(\kappa) = " + sp.latex(d.capacity["alpha_c"]))
            if "replicon_c" in d.capacity:
                out += latex_block(r"\lambda_R^c = " + sp.latex(sp.simplify(d.capacity["replicon_c"])))
    d1 = perceptron().derive("1rsb")
    out += ["## Spherical weights, 1RSB (derived, not solved)", "", "Free entropy:", ""]
    out += latex_block(r"\Phi = " + sp.latex(d1.free_entropy))
    out += _numbers_section()
    out += [_SEED_COMPARISON]
    return "\n".join(out).rstrip() + "\n"


def _numbers_section() -> list:
    lines = ["## Numbers", "", ("Spherical weights, random labels (the capacity is the engine's closed form "
                                "evaluated with mpmath at 30 digits; $\\alpha_{AT}$ is where the RS replicon "
                                "vanishes on the RS branch):"), "",
             "| κ | α_c (RS, q → 1) | replicon at capacity | α_AT | phase at capacity |",
             "|---|---|---|---|---|"]
    for kappa in ("-1", "-0.5", "0", "0.5", "1", "2"):
        ph = perceptron(kappa=kappa).phase(precision=30)
        lines.append(f"| {kappa} | {_sig(ph['alpha_c'], 15)} | {_sig(ph['replicon_at_capacity'])} | "
                     f"{_sig(ph['alpha_AT'])} | {ph['capacity_phase']} |")
    lines += ["", "RS overlap at κ = 0: " + ", ".join(
        f"q(α = {a}) = {_sig(perceptron(alpha=a).solve().order_parameters['q'])}" for a in ("1", "1.9")), ""]
    ising = perceptron(weights="ising").phase()
    lines += [("Ising weights, κ = 0 (double precision; `--precision DIGITS` solves with mpmath): the RS "
              f"entropy vanishes at α_c = {_sig(ising['alpha_c'], 12)} (Krauth & Mézard 1989: α_c ≈ 0.83; "
              "the constant α* ≈ 0.833 of the conditional proofs by Ding & Sun, arXiv:1809.07742, and Huang, "
              f"arXiv:2404.18902), with q = {_sig(ising['q_at_capacity'])} and RS replicon "
              f"{_sig(ising['replicon_at_capacity'])} > 0 there (RS is locally stable: its failure is the "
              f"negative entropy, not an AT instability); the RS q → 1 point is α_c^RS = 4/π = "
              f"{_sig(ising['alpha_c_rs'], 15)} (Gardner & Derrida 1988)."), ""]
    lines += [("Spherical teacher–student (Gibbs learning), $\\varepsilon_g=\\arccos(R)/\\pi$; the engine's "
               "two-parameter saddle point has q = R (Nishimori) to the printed digits:"), "",
              "| α | R | q | ε_g | α ε_g |", "|---|---|---|---|---|"]
    for a in ("0.5", "1", "2", "5", "10", "20", "50", "100"):
        s = perceptron(labels="teacher", alpha=a).solve()
        R, q = s.order_parameters["R"], s.order_parameters["q"]
        lines.append(f"| {a} | {_sig(R)} | {_sig(q)} | {_sig(s.epsilon_g)} | "
                     f"{_sig(float(a) * s.epsilon_g, 6)} |")
    return lines + [""]


def write_markdown(directory: str = "derivations") -> str:
    """Write ``perceptron.md`` into ``directory`` (atomically); returns the path."""
    import os

    from ..fileio import atomic_write

    path = os.path.join(directory, "perceptron.md")
    atomic_write(path, markdown())
    return path
