r"""Full replica symmetry breaking: the :math:`k\to\infty` limit of the Parisi ansatz, as SymPy objects.

The Parisi function :math:`x(q)` (an undefined SymPy function) replaces the block sizes: for a
k-RSB matrix it is the step function :math:`x = m_i` on :math:`(q_{i-1}, q_i)` (:math:`x = 0`
below :math:`q_0`, 1 above :math:`q_k = q_M`), so the multiplicity :math:`m_i - m_{i+1}` of level
:math:`q_i` is minus the jump of x there.  Two rules turn the engine's sums over levels into
integrals; both are exact for step functions (the tests check them against
:class:`~.replica.ParisiMatrix` for several k) and define the continuum for any nondecreasing x:

* :func:`level_sum` -- replica sums (:meth:`.ParisiMatrix.sum`), by summation by parts:
  :math:`\lim_{n\to0}\frac1n\sum_{ab}F(Q_{ab}) = F_d - F(q_M) + \int_0^{q_M} x(q)F'(q)\,dq`;
* :func:`spectral_sum` -- sums over the eigenvalues of Q (:meth:`.ParisiMatrix.eigenvalues`:
  :math:`\lambda_j = \lambda(q_{j-1})` with :math:`\lambda(q) = 1 - q_M + \int_q^{q_M}x(p)\,dp`):
  :math:`\lim_{n\to0}\frac1n\sum_j \mathrm{mult}_j\,g(\lambda_j) = g(1-q_M) +
  \int_0^{q_M} g'(\lambda(q))\,dq` (each cell :math:`\int g'(\lambda)dq = (g(\lambda_j) -
  g(\lambda_{j+1}))/m_j`).

Spherical models (:func:`spherical_functional`): the engine's energy term :math:`\frac{\beta^2}{2}
\sum_{ab}\xi(Q_{ab})` and entropic term :math:`G_n = \frac12\log\det Q` become the
Crisanti--Sommers functional (Crisanti & Sommers, Z. Phys. B 87 (1992) 341)

.. math:: \Phi[x] = \frac{\beta^2}{2}\Big[\xi(1) - \xi(q_M) + \int_0^{q_M}x\xi'\,dq\Big]
          + \frac12\log(1-q_M) + \frac12\int_0^{q_M}\frac{dq}{\lambda(q)} .

Ising spins (:func:`ising_functional`): the engine's nested recursion
:math:`L_{i} = \frac1{m_i}\log\mathbb E_z e^{m_iL_{i+1}(y+\sqrt{\Lambda_i-\Lambda_{i-1}}z)}` over
a level of width dq (variance :math:`\beta^2\xi''(q)dq` after the conjugates
:math:`\Lambda(q) = \beta^2\xi'(q)`) expands to the Parisi PDE (Parisi 1980; Duplantier 1981)

.. math:: \partial_q f = -\frac{\beta^2\xi''(q)}{2}\big[\partial_y^2 f + x(q)(\partial_y f)^2\big],
          \qquad f(1, y) = \log 2\cosh y,

and :math:`\Phi = \mathbb E_z f(0, \beta h + \beta\sqrt{\xi'(0)}z) - \frac{\beta^2}{2}\int_0^1
x(q)\,q\,\xi''(q)\,dq` (x = 1 on :math:`(q_M, 1)`).

:func:`continuum_derivation` packages either as a :class:`~replicasym.derivation.Derivation` with
ansatz ``"frsb"``: free entropy, the stationarity conditions in functional form, the energy, the
replicon along q and (spherical) the T = 0 functional of Chen & Sen (CMP 350 (2017) 129).
"""
from __future__ import annotations

import random

import mpmath
import sympy as sp

from ..derivation import Derivation, ZeroTemperature
from .action import beta, disorder_average, n, replicated_action, spherical_entropy
from .covariance import covariance_kernels
from .gaussian import E, closed_form, linearize
from .limit import replica_limit
from .replica import ParisiMatrix, parisi
from .saddle import eliminate_conjugates
from .trace import Trace

__all__ = ["continuum_derivation", "ising_functional", "lam", "level_sum", "on_step_function", "parisi_pde",
           "q_M", "spectral_sum", "spherical_functional", "x"]

#: the Parisi function and its arguments
x = sp.Function("x")
q = sp.Symbol("q", real=True)
p = sp.Symbol("p", real=True)
s = sp.Symbol("s", positive=True)
y = sp.Symbol("y", real=True)
q_M = sp.Symbol("q_M", positive=True)
#: the Parisi PDE solution f(q, y) and the density P(q, y) of the cavity field
f = sp.Function("f")
P = sp.Function("P")


def lam(t: sp.Expr, xf=x, top: sp.Expr = q_M) -> sp.Expr:
    r""":math:`\lambda(t) = 1 - q_M + \int_t^{q_M} x(p)\,dp` (= :math:`\int_t^1 x`, x = 1 above q_M)."""
    return 1 - top + sp.Integral(xf(p), (p, t, top))


def level_sum(F, F_diag: sp.Expr, trace: Trace | None = None) -> sp.Expr:
    r""":math:`\lim_{n\to0}\frac1n\sum_{ab}F(Q_{ab})` for a Parisi Q with diagonal value ``F_diag``:
    :math:`F_d - F(q_M) + \int_0^{q_M}x(q)F'(q)\,dq` (summation by parts of
    :math:`\sum_i(m_i - m_{i+1})F(q_i)`, :math:`m_0 = n \to 0`, :math:`m_{k+1} = 1`)."""
    out = F_diag - F(q_M) + sp.Integral(x(q) * sp.diff(F(q), q), (q, 0, q_M))
    if trace is not None:
        i = sp.Symbol("i", integer=True)
        m, ql, k = sp.IndexedBase("m"), sp.IndexedBase("q"), sp.Symbol("k", integer=True)
        discrete = F_diag + sp.Sum((m[i] - m[i + 1]) * F(ql[i]), (i, 0, k))
        trace.record("levels -> integral", "sum over levels with multiplicities m_i - m_{i+1} (m_0 = n -> 0, "
                     "m_{k+1} = 1) = -sum of the jumps of x(q): summation by parts", sp.Eq(discrete, out))
    return out


def spectral_sum(g, trace: Trace | None = None) -> sp.Expr:
    r""":math:`\lim_{n\to0}\frac1n\sum_j\mathrm{mult}_j\,g(\lambda_j) = g(1-q_M) + \int_0^{q_M}g'(\lambda(q))\,dq`."""
    t = sp.Dummy("t")
    gp = sp.diff(g(t), t)
    out = g(1 - q_M) + sp.Integral(gp.subs(t, lam(q)), (q, 0, q_M))
    if trace is not None:
        j = sp.Symbol("j", integer=True)
        m, L, k = sp.IndexedBase("m"), sp.IndexedBase("lambda"), sp.Symbol("k", integer=True)
        discrete = (sp.IndexedBase("q")[0] * gp.subs(t, L[1])
                    + sp.Sum((g(L[j]) - g(L[j + 1])) / m[j], (j, 1, k)) + g(L[k + 1]))
        trace.record("eigenvalues -> integral", "lambda_j = lambda(q_{j-1}) with lambda(q) = int_q^1 x(p) dp; "
                     "(1/n) sum_j mult_j g(lambda_j) at n -> 0, each cell (g(lambda_j) - g(lambda_{j+1}))/m_j "
                     "= int_cell g'(lambda(q)) dq", sp.Eq(discrete, out))
    return out


# ---------------------------------------------------------------------------------------------
# spherical: Crisanti-Sommers
# ---------------------------------------------------------------------------------------------
def _parisi_matrix(k: int) -> ParisiMatrix:
    return parisi(n, 1, [sp.Symbol(f"q{i}", real=True) for i in range(k + 1)],
                  [sp.Symbol(f"m{i}", positive=True) for i in range(1, k + 1)])


def spherical_functional(model, trace: Trace) -> sp.Expr:
    r"""The Crisanti--Sommers functional from the engine's pieces: the disorder average
    :math:`\frac{\beta^2}{2}V`, :math:`V = \sum_{ab}\xi(Q_{ab})`, and the sphere's entropic term
    :math:`G_n` (checked to be :math:`\frac12\sum_j\mathrm{mult}_j\log\lambda_j`), through
    :func:`level_sum` and :func:`spectral_sum`."""
    energy_density = disorder_average(model, trace)  # beta^2 V / 2
    V = sp.Symbol("V", positive=True)
    Q = _parisi_matrix(2)
    G = spherical_entropy(Q, trace)
    per_mode = sp.Add(*[mult * sp.log(lv) / 2 for lv, mult in Q.eigenvalues()])
    if sp.expand(sp.expand_log(G - per_mode, force=True)) != 0:
        raise RuntimeError("the sphere's entropic term is not (1/2) sum_j mult_j log lambda_j")
    trace.record("spectral form", "the engine's G_n is a sum over the eigenvalues of Q: "
                 "G_n = sum_j mult_j g(lambda_j) with g = (1/2) log", sp.Eq(sp.Function("g")(sp.Symbol("lambda")),
                                                                        sp.log(sp.Symbol("lambda")) / 2))
    V_cont = level_sum(model.xi_of, model.xi_of(1), trace)
    G_cont = spectral_sum(lambda t: sp.log(t) / 2, trace)
    phi = _pull_constants(sp.expand(energy_density.subs(V, V_cont)) + G_cont)
    trace.record("full RSB (k -> oo)", "x(q) any nondecreasing function on [0, q_M], x = 1 above: "
                 "the Crisanti-Sommers functional", sp.Eq(sp.Symbol("Phi"), phi))
    return phi


def on_step_function(phi: sp.Expr, qs, ms, values: dict, digits: int = 30):
    r"""``phi`` (a continuum functional with x, :math:`\lambda` and q_M) evaluated with mpmath at
    ``digits`` digits for the step function x = 0 below q_0, :math:`m_i` on
    :math:`(q_{i-1}, q_i)`, 1 above :math:`q_k = q_M`; ``values`` gives the other symbols (beta).
    Numbers may be SymPy rationals (kept exact up to ``digits``)."""
    with mpmath.workdps(digits + 5):
        def num(v):
            return mpmath.mpf(sp.Float(v, digits + 5))

        qs = [num(v) for v in qs]
        ms = [num(v) for v in ms]
        top = qs[-1]

        def xs(t):
            for i in range(len(qs)):
                if t < qs[i]:
                    return ms[i - 1] if i else mpmath.mpf(0)
            return mpmath.mpf(1)

        def integral_x(a, b):  # int_a^b x exactly
            total = max(mpmath.mpf(0), b - max(a, top))
            for i in range(1, len(qs)):
                total += ms[i - 1] * max(mpmath.mpf(0), min(qs[i], b) - max(qs[i - 1], a))
            return total

        def quad(fun, lims):
            a, b = lims
            return mpmath.quad(fun, [a] + [v for v in qs if a < v < b] + [b])
        int_x = sp.Function("integral_x")
        expr = phi.subs(q_M, sp.Float(top, digits + 5)).replace(
            lambda e: isinstance(e, sp.Integral) and e.function == x(p), lambda e: int_x(*e.limits[0][1:]))
        names = {"x": xs, "integral_x": integral_x, "quad": quad}
        kernels = covariance_kernels([expr])
        if len(kernels) > 1:
            raise ValueError("on_step_function handles at most one opaque covariance function")
        for kernel in kernels:  # double precision: the kernel's own evaluation
            names["_xi"] = lambda j, t, kernel=kernel: mpmath.mpf(float(kernel(float(t), int(j))[int(j)]))
        args = sorted(values, key=str)
        fn = sp.lambdify(args, expr, modules=[names, "mpmath"])
        return fn(*[num(values[a]) for a in args])


def _check_against_engine(model, phi: sp.Expr, trace: Trace, k: int = 2, digits: int = 30) -> None:
    """Record the comparison of ``phi`` on a (k+1)-step x with the engine's k-RSB free entropy at a
    random rational point (q_0 < ... < q_k, m_1 < ... < m_k, beta)."""
    act = replicated_action(model, k)
    phi_k = replica_limit(act.S_n, act.n, Trace())
    rng = random.Random(20240 + k)
    qs = sorted(sp.Rational(rng.randint(1, 97), 100) for _ in range(k + 1))
    ms = sorted(sp.Rational(rng.randint(1, 97), 100) for _ in range(k))
    b = sp.Rational(rng.randint(50, 300), 100)
    point = {act.beta: b, **dict(zip(act.Q.levels, qs)), **dict(zip(act.sizes, ms))}
    opaque = bool(covariance_kernels([phi]))  # xi known in double precision only
    engine = sp.N(phi_k.subs(point), digits)
    cont = on_step_function(phi, qs, ms, {beta: b}, digits)
    with mpmath.workdps(digits):
        diff = abs(mpmath.mpf(sp.Float(engine, digits)) - cont)
        small = diff < (mpmath.mpf(10) ** -10 if opaque else mpmath.mpf(10) ** (8 - digits))
    if not small:
        raise RuntimeError(f"continuum functional differs from the engine's {k}RSB free entropy by {diff}")
    trace.record("check", f"on the {k + 1}-step x(q) of {k}RSB the functional equals the engine's {k}RSB free "
                 f"entropy (random rational point, {'double precision' if opaque else f'{digits} digits'}; "
                 f"difference {mpmath.nstr(diff, 3)})", sp.Eq(sp.Symbol(f"Phi_{k}RSB"), engine))


def _pull_constants(expr: sp.Expr) -> sp.Expr:
    """Move factors free of the integration variable out of every Integral (inner ones first)."""
    def rule(e):
        var = e.limits[0][0]
        integrand = sp.simplify(e.function)
        c, rest = integrand.as_independent(var, as_Add=False)
        return c * sp.Integral(rest, *e.limits) if c != 1 else sp.Integral(integrand, *e.limits)
    return expr.replace(lambda e: isinstance(e, sp.Integral), rule)


def _spherical_zero_temperature(phi: sp.Expr, xi_of, trace: Trace) -> ZeroTemperature:
    r""":math:`x = \alpha/\beta` below :math:`q_M = 1-\chi/\beta` and :math:`E_0 = -\lim\Phi/\beta`,
    term by term (integrands are beta-free after the rescaling, their bounds tend to 1): the
    Chen--Sen functional :math:`E_0 = -\frac12[\xi'(1)\chi + \int_0^1\alpha\xi' + \int_0^1 dq/\Lambda]`,
    :math:`\Lambda(q) = \chi + \int_q^1\alpha`."""
    alpha = sp.Function("alpha")
    chi = sp.Symbol("chi", positive=True)
    top = 1 - chi / beta
    scaled = _pull_constants(phi.replace(x, lambda t: alpha(t) / beta).subs(q_M, top) / beta)
    integrals, rest = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(sp.expand(scaled)):
        if term.has(sp.Integral):
            integrals += term.replace(lambda e: isinstance(e, sp.Integral), lambda e: sp.Integral(
                e.function, *[(v, sp.limit(a, beta, sp.oo), sp.limit(b, beta, sp.oo)) for v, a, b in e.limits]))
        else:
            rest += term
    t = sp.Dummy("t", positive=True)  # 1/beta; xi(1) - xi(1 - chi t) = chi t xi'(1) + O(t^2)
    rest_limit = sp.limit(sp.series(rest.subs(beta, 1 / t), t, 0, 1).removeO(), t, 0, "+")
    if integrals.has(beta) or rest_limit.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        raise ValueError("the T -> 0 limit of the Crisanti-Sommers functional does not exist")
    E0 = sp.expand(-(integrals + rest_limit))
    trace.record("zero temperature", "x = alpha/beta on [0, q_M], q_M = 1 - chi/beta, E_0 = -lim Phi/beta: "
                 "the Chen-Sen functional (Chen & Sen, CMP 350 (2017) 129; Jagannath & Tobasco, "
                 "CMP 352 (2017) 979), minimised by the ground state", sp.Eq(sp.Symbol("E_0"), E0))
    eqs = _stationarity(-E0, alpha, lambda t: chi + sp.Integral(alpha(p), (p, t, 1)), 1, trace, "T = 0")
    eqs += (sp.Eq(sp.diff(E0, chi), 0),)
    replicon = 1 - sp.diff(xi_of(q), q, 2).subs(q, 1) * chi**2
    return ZeroTemperature(order_parameters=(alpha(q), chi), energy=E0, equations=eqs, jacobian=sp.Matrix(),
                           substitutions={x(q): alpha(q) / beta, q_M: top}, replicon=replicon)


def _functional_derivative(phi: sp.Expr, xf, upper) -> sp.Expr:
    r""":math:`\delta\Phi/\delta x(s)` for :math:`0 < s <` ``upper``: a term
    :math:`\int h(q)x(q)dq` gives h(s); a term :math:`\int G(\lambda(q))dq` with
    :math:`\lambda(q) = c + \int_q^{\rm upper} x` gives :math:`\int_0^s \partial_\lambda G\,dq`
    (x(s) raises :math:`\lambda(q)` for q < s only)."""
    L = sp.Dummy("L")
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(phi)):
        if not term.has(xf):
            continue
        c, integral = term.as_independent(sp.Integral, as_Add=False)
        if not isinstance(integral, sp.Integral):
            raise NotImplementedError(f"functional derivative of {term}")
        (var, lo, _), g = integral.limits[0], integral.function
        inner = [e for e in g.atoms(sp.Integral) if e.function.has(xf)]
        if inner:
            (lam_q,) = inner
            out += c * sp.Integral(sp.diff(g.subs(lam_q, L), L).subs(L, lam_q), (var, lo, s))
        else:
            out += c * sp.diff(g, xf(var)).subs(var, s)
    return out


def _stationarity(phi: sp.Expr, xf, lam_of, top, trace: Trace, label: str) -> tuple:
    r"""The stationarity conditions of the (minimised) functional ``phi`` in the Parisi function
    ``xf``: :math:`\delta\Phi/\delta x(s) = 0` on the support of dx; its s-derivative on a
    continuous part, solved for :math:`\lambda(s)` (``lam_of(s)``); :math:`x(s) = -\lambda'(s)`
    in closed form; and :math:`\lambda` at the ``top`` of a continuous part (the marginality of the
    top level)."""
    dphi = _pull_constants(_functional_derivative(phi, xf, top))
    first = sp.Eq(dphi, 0)
    L = sp.Dummy("L", positive=True)
    lam_s = lam_of(s)
    (inner,) = [e for e in lam_s.atoms(sp.Integral) if e.function.has(xf)]
    second = sp.simplify(sp.diff(dphi, s).subs(inner, L - (lam_s - inner)))
    U = sp.Dummy("U", positive=True)  # 1/lambda^2: the condition is linear in it
    roots = [1 / sp.sqrt(u) for u in sp.solve(second.subs(L, 1 / sp.sqrt(U)), U)]
    if len(roots) != 1:
        raise RuntimeError(f"cannot solve the continuous-part condition {second} = 0 for lambda")
    lam_eq = sp.Eq(lam_s, roots[0])
    x_eq = sp.Eq(xf(s), sp.simplify(-sp.diff(roots[0], s)))
    top_eq = sp.Eq(lam_of(top).doit(), roots[0].subs(s, top))
    trace.record(f"stationarity ({label})", "delta Phi/delta x(s) = 0 on the support of dx (x(s) raises "
                 "lambda(q) for q < s); differentiated in s on a continuous part, solved for lambda(s); "
                 "x(s) = -lambda'(s); lambda at the top of a continuous part", [first, lam_eq, x_eq, top_eq])
    return first, lam_eq, x_eq, top_eq


# ---------------------------------------------------------------------------------------------
# Ising: the Parisi PDE
# ---------------------------------------------------------------------------------------------
def parisi_pde(Lam_prime: sp.Expr, trace: Trace) -> sp.Eq:
    r"""One level of the engine's recursion :math:`f(q-dq, y) = \frac1x\log\mathbb E_z
    e^{x f(q, y + \sigma z)}` with :math:`\sigma^2 = \Lambda'(q)\,dq`, expanded to first order in
    dq (Taylor in :math:`\sigma`, Gaussian moments by :func:`~.gaussian.closed_form`):
    :math:`\partial_q f = -\frac{\Lambda'(q)}{2}[\partial_y^2 f + x(q)(\partial_y f)^2]`."""
    sigma, m, z, dq = sp.symbols("sigma m z_q dq", real=True)
    L = sp.Function("L")
    inner = sp.expand(sp.series(sp.exp(m * (L(y + sigma * z) - L(y))), sigma, 0, 3).removeO().doit())
    ratio = sp.expand(closed_form(linearize(E(inner, z))))  # E_z e^{m(L(y + sigma z) - L(y))}
    step = sp.expand(sp.series(sp.log(ratio), sigma, 0, 3).removeO() / m)
    trace.record("one level", "f(q - dq, y) = (1/m) log E_z exp(m f(q, y + sigma z)), sigma^2 = "
                 "Lambda(q) - Lambda(q - dq): Taylor in sigma and Gaussian moments",
                 sp.Eq(f(q - dq, y) - f(q, y), step.replace(L, lambda a: f(q, a)).doit()))
    fq = f(q, y)
    rhs = step.subs(sigma**2, Lam_prime * dq).subs(m, x(q))
    rhs = rhs.replace(L, lambda a: f(q, a)).doit()
    rhs = -sp.expand(rhs / dq)  # (f(q) - f(q - dq))/dq -> df/dq
    pde = sp.Eq(sp.Derivative(fq, q), sp.factor_terms(rhs))
    trace.record("parisi pde", "dq -> 0 with x(q) the block size at level q: the Parisi PDE", pde)
    return pde


def ising_functional(model, trace: Trace):
    r"""(Phi, pde, terminal condition, Lambda) for Ising spins, from the engine's RS/k-RSB pieces: the
    conjugates :math:`\Lambda(q)` (the engine's conjugate elimination), :func:`level_sum` of the
    algebraic part, :func:`parisi_pde` for the nested trace, and the Cole--Hopf extension of the
    terminal condition from :math:`q_M` to 1 (x = 1 there)."""
    act = replicated_action(model, 0)
    qs, lams = list(act.Q.levels), list(act.conjugates)
    phi0 = replica_limit(act.S_n, act.n, Trace())
    _, sol = eliminate_conjugates(phi0, qs, lams, Trace())
    t = sp.Dummy("t")
    Lam = sp.Lambda(t, sol[lams[0]].subs(qs[0], t))
    trace.record("conjugates", "the engine's conjugate elimination dPhi/dq_i = 0, level by level",
                 sp.Eq(sp.Function("Lambda")(q), Lam(q)))
    F = sp.Lambda(t, beta**2 * model.xi_of(t) / 2 - Lam(t) * t / 2)
    algebraic = level_sum(F, beta**2 * model.xi_of(1) / 2, trace)
    top_part = sp.simplify(algebraic - sp.Integral(x(q) * sp.diff(F(q), q), (q, 0, q_M)) - Lam(1) / 2
                           - sp.integrate(sp.diff(F(q), q), (q, q_M, 1)))
    if top_part != 0:
        raise RuntimeError(f"F_d - F(q_M) - Lambda(1)/2 is not int_(q_M)^1 F'(q) dq: {top_part}")
    pde = parisi_pde(sp.diff(Lam(q), q), trace)
    u = sp.Symbol("u", real=True)
    site = act.site_log(u)
    top = sp.expand(site.subs(lams[0], 0).subs(u, y))
    tilde = top + (Lam(1) - Lam(q)) / 2
    check = sp.simplify((sp.diff(tilde, q) - pde.rhs.subs(x(q), 1).subs(f(q, y), tilde).doit()).rewrite(sp.exp))
    if check != 0:
        raise RuntimeError(f"Cole-Hopf extension does not solve the Parisi PDE with x = 1: residual {check}")
    trace.record("terminal condition", "the engine's site function at level k is f(q_M, y) = log 2cosh y - "
                 "Lambda(q_M)/2; with x = 1 on (q_M, 1), f(q, y) = log 2cosh y + (Lambda(1) - Lambda(q))/2 "
                 "solves the PDE (checked), so f(1, y) = log 2cosh y up to the constant -Lambda(1)/2",
                 sp.Eq(f(1, y), top))
    z = sp.Symbol("z", real=True)
    phi = (E(f(0, beta * model.field + sp.sqrt(Lam(0)) * z), z)
           + sp.Integral(x(q) * sp.diff(F(q), q), (q, 0, 1)))
    trace.record("full RSB (k -> oo)", "x(q) nondecreasing on [0, 1] (= 1 above q_M); the lowest level "
                 "keeps the variance Lambda(0) of the field; F_d - F(q_M) - Lambda(1)/2 = int_{q_M}^1 F': "
                 "the Parisi functional", sp.Eq(sp.Symbol("Phi"), phi))
    return phi, pde, sp.Eq(f(1, y), top), Lam


# ---------------------------------------------------------------------------------------------
# the Derivation
# ---------------------------------------------------------------------------------------------
def continuum_derivation(model) -> Derivation:
    """``derive(model, "frsb")``: the full-RSB functional and its stationarity conditions."""
    trace = Trace()
    qq = model.overlap
    xi2 = sp.diff(model.xi, qq, 2)
    if model.spins == "spherical":
        phi = spherical_functional(model, trace)
        _check_against_engine(model, phi, trace)
        equations = _stationarity(phi, x, lam, q_M, trace, "T > 0")
        replicon = 1 - beta**2 * xi2.subs(qq, q) * lam(q) ** 2
        order_parameters = (x(q), q_M)
        bounds = {q_M: (sp.S.Zero, sp.S.One)}
        energy = sp.expand(-sp.diff(phi, beta))
        zt = _spherical_zero_temperature(phi, model.xi_of, trace)
    else:
        phi, pde, terminal, Lam = ising_functional(model, trace)
        dens = P(q, y)
        fy = sp.Derivative(f(q, y), y)
        flow = sp.Eq(sp.Derivative(dens, q), sp.diff(Lam(q), q) / 2 * (
            sp.Derivative(dens, y, 2) - 2 * x(q) * sp.Derivative(dens * fy, y)))
        z = sp.Symbol("z", real=True)
        start = sp.Eq(P(0, y), sp.exp(-(y - beta * model.field) ** 2 / (2 * Lam(0))) / sp.sqrt(2 * sp.pi * Lam(0))
                      if Lam(0) != 0 else sp.DiracDelta(y - beta * model.field))
        stat = sp.Eq(q, sp.Integral(dens * fy**2, (y, -sp.oo, sp.oo)))
        equations = (pde, terminal, flow, start, stat)
        trace.record("stationarity", "delta Phi/delta x(q) = (1/2) Lambda'(q) (<(d_y f)^2>_q - q) = 0 on the "
                     "support, with P(q, y) the law of the cavity field, transported by the adjoint of the "
                     "linearised PDE (Sommers & Dupont, J. Phys. C 17 (1984) 5785)", [flow, start, stat])
        replicon = 1 - sp.diff(Lam(q), q) * sp.Integral(
            dens * sp.Derivative(f(q, y), y, 2) ** 2, (y, -sp.oo, sp.oo))
        order_parameters = (x(q),)
        bounds = {}
        m0 = E(sp.Derivative(f(0, y), y).subs(y, beta * model.field + sp.sqrt(Lam(0)) * z), z)
        energy = -beta * sp.Integral(x(q) * sp.diff(model.xi_of(q), q), (q, 0, 1)) - model.field * m0
        zt = None
    trace.record("energy", "e = -dPhi/dbeta at the optimum x = -beta int_0^1 x xi' dq (- h m): Gaussian "
                 "integration by parts, E<H>/N = -beta (xi(1) - E<xi(R_12)>)", sp.Eq(sp.Symbol("e"), energy))
    trace.record("replicon", "along the support of dx: 1 - beta^2 xi''(q) <(d_y^2 f)^2>_q; for spherical spins "
                 "the single site is Gaussian, 1 - beta^2 xi''(q) lambda(q)^2 (0 on a continuous part)",
                 sp.Eq(sp.Function("lambda_R")(q), replicon))
    return Derivation(model=model, ansatz="frsb", beta=beta, params=tuple(model.params),
                      param_values=dict(model.values), order_parameters=order_parameters, bounds=bounds,
                      free_entropy=phi, equations=tuple(equations), residuals=(), jacobian=sp.Matrix(),
                      energy=energy, replicon=replicon, zero_temperature=zt, steps=trace)
