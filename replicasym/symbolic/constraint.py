r"""The replicated constraint average: Gaussian pre-activations with Parisi covariance through an
output channel (Gardner's volume; one layer of a deep network of perceptrons).

For n replicas :math:`x_a` and one random pattern :math:`\xi` (i.i.d. standard entries), the
pre-activations :math:`h_a = \xi\cdot x_a/\sqrt N` are jointly Gaussian with covariance
:math:`Q_{ab}` (the overlaps).  A pattern contributes the factor
:math:`e^{G_n} = \mathbb E_h\prod_a w(y, h_a)`, with :math:`w` the per-replica output channel and
:math:`y` the label (Gardner, J. Phys. A 21 (1988) 257; Gardner & Derrida, ibid. 271).  The
engine's central rule (DESIGN.md, hierarchical decoupling) writes, for Q in Parisi form,

.. math::
   h_a = \sum_{i=0}^{k}\sqrt{q_i - q_{i-1}}\,z_i + \sqrt{q_d - q_k}\,\eta_a,

so the replica product factorises over nested blocks:

.. math::
   L_{k+1}(u) = \log\mathbb E_\eta\, w(y, u + \sqrt{q_d-q_k}\,\eta),\qquad
   L_i = \frac{1}{m_i}\log\mathbb E_{z_i} e^{m_i L_{i+1}},\qquad
   G_n = \log\mathbb E_{z_0} e^{n L_1}.

For the hard margin :math:`w = \theta(yh-\kappa)` the innermost expectation is the Gaussian closed
form :math:`\mathbb E_\eta\theta(a+b\eta) = H(-a/|b|)`, giving Gardner's
:math:`L_{k+1} = \log H\big((\kappa-u)/\sqrt{1-q_k}\big)`.  Random labels are :math:`y = 1`
(:math:`y\xi` has the law of :math:`\xi`).

**Teacher.**  A teacher (replica 0, unit norm, overlap R with every student) adds a row to the
covariance: :math:`h_0 = (R/\sqrt{q_0})\,z_0 + \sqrt{1-R^2/q_0}\,\eta_0` shares the outermost field
with the students, the label is drawn from the teacher's channel :math:`P(y\mid h_0)`, and

.. math::
   G_n = \log\mathbb E_{z_0}\sum_y \mathbb E_{\eta_0}\big[P(y\mid h_0)\big]\,e^{n L_1(y)}.

The functions here take any Parisi covariance (a layer of Yoshino's network uses the Hadamard
product :math:`Q\circ q`, see :meth:`~.replica.ParisiMatrix.elementwise`) and any channel.

* :func:`replicated_constraint` -- :math:`G_n` and the levels :math:`L_i`, exact in n.
* :func:`parisi_average` and :func:`susceptibility` -- the replicon susceptibility
  :math:`\gamma = \langle(\partial_u^2 L_{k+1})^2\rangle` with the Parisi weights
  :math:`e^{m_i(L_{i+1}-L_i)}` (de Almeida & Thouless 1978; Gardner & Derrida 1988).
* :func:`gaussian_tail_form` -- the closed forms rewritten in the Gaussian tail
  :math:`H(x) = \tfrac12\mathrm{erfc}(x/\sqrt2)` through :class:`LogH` and the Mills ratio
  :class:`MillsRatio` :math:`M = \varphi/H` (:math:`(\log H)' = -M`, :math:`M' = M(M-x)`), so that
  derivatives stay finite where :math:`H` underflows.
* :func:`capacity_limit` -- the :math:`q_k\to1` limit of the free entropy (Gardner's capacity) by
  the Laplace rule :math:`t\log H(W/\sqrt t)\to -\tfrac12 W^2\theta(W)` as
  :math:`t = 1-q_k\to0`; :func:`capacity_site` the same limit of the single-site function and
  :func:`capacity_susceptibility` the replicon susceptibility there.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from .gaussian import E, GaussianExpectation, closed_form, linearize
from .limit import laplace_log_cosh
from .replica import ParisiMatrix, hierarchical_decoupling
from .saddle import solve_linear
from .trace import Trace

__all__ = ["OutputChannel", "ConstraintAction", "LogH", "MillsRatio", "hard_margin", "sign_teacher",
           "replicated_constraint", "constraint_fields", "gaussian_tail_form", "parisi_average",
           "susceptibility", "laplace_log_H", "capacity_limit", "capacity_site", "capacity_susceptibility",
           "piecewise_heaviside"]


class MillsRatio(sp.Function):
    r"""The inverse Mills ratio :math:`M(x) = \varphi(x)/H(x)`, :math:`M'(x) = M(x)(M(x) - x)`."""

    nargs = 1

    def fdiff(self, argindex=1):
        x = self.args[0]
        return MillsRatio(x) * (MillsRatio(x) - x)

    def _eval_rewrite_as_erfc(self, x, **kwargs):
        return sp.sqrt(2 / sp.pi) * sp.exp(-x**2 / 2) / sp.erfc(x / sp.sqrt(2))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.erfc)._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        arg = printer._print(self.args[0])
        return rf"M\left({arg}\right)" if exp is None else rf"M^{{{exp}}}\left({arg}\right)"


class LogH(sp.Function):
    r""":math:`\log H(x)` with :math:`H(x) = \int_x^\infty Dt = \tfrac12\mathrm{erfc}(x/\sqrt2)`;
    :math:`(\log H)'(x) = -M(x)`."""

    nargs = 1

    def fdiff(self, argindex=1):
        return -MillsRatio(self.args[0])

    def _eval_rewrite_as_erfc(self, x, **kwargs):
        return sp.log(sp.erfc(x / sp.sqrt(2)) / 2)

    def _eval_evalf(self, prec):
        return self.rewrite(sp.erfc)._eval_evalf(prec)

    def _latex(self, printer, exp=None):
        tex = rf"\log H\left({printer._print(self.args[0])}\right)"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"


@dataclass(frozen=True)
class OutputChannel:
    r"""A per-replica weight :math:`w(y, h)` of the label y and the pre-activation h, the labels
    summed over, and a LaTeX description for the derivation trace."""

    weight: Callable[[sp.Expr, sp.Expr], sp.Expr]
    labels: tuple = (1,)
    description: str = ""


def hard_margin(kappa: sp.Expr, labels: tuple = (1,)) -> OutputChannel:
    r"""Gardner's constraint :math:`w = \theta(yh - \kappa)`; random labels are y = 1, a teacher's
    labels y = ±1."""
    return OutputChannel(lambda y, h: sp.Heaviside(y * h - kappa), tuple(labels), r"\theta(y h - \kappa)")


def sign_teacher() -> OutputChannel:
    r"""A noiseless teacher: :math:`P(y\mid h_0) = \theta(y h_0)`, y = ±1."""
    return OutputChannel(lambda y, h: sp.Heaviside(y * h), (-1, 1), r"\theta(y h_0)")


@dataclass
class ConstraintAction:
    """:math:`G_n` exact in n, with what the replicon and the limits need."""

    log_average: sp.Expr
    site_log: Callable          # (u, y) -> L_{k+1}(u; y)
    levels: dict                # y -> [L_1, ..., L_{k+1}]
    label_weights: dict         # y -> E_{eta_0} P(y | h_0) (1 without a teacher)
    cavity_field: sp.Expr       # u = sum_i sqrt(q_i - q_{i-1}) z_i
    fields: tuple               # z_0..z_k


def constraint_fields(k: int) -> tuple:
    """The Gaussian fields of the constraint average: ``t`` (RS) or ``t0..tk``."""
    if k == 0:
        return (sp.Symbol("t", real=True),)
    return tuple(sp.Symbol(f"t{i}", real=True) for i in range(k + 1))


def _log_closed(expr: sp.Expr) -> sp.Expr:
    return sp.expand_log(sp.log(expr), force=True)


def _label_symmetric(channel: OutputChannel, h: sp.Symbol) -> bool:
    """w(-y, -h) = w(y, h) for every label (odd channels, e.g. theta(y h - kappa))."""
    return all(-y in channel.labels and sp.simplify(channel.weight(-y, -h) - channel.weight(y, h)) == 0
               for y in channel.labels)


def replicated_constraint(Q: ParisiMatrix, channel: OutputChannel, fields: Sequence[sp.Symbol],
                          trace: Trace, teacher: tuple | None = None) -> ConstraintAction:
    r""":math:`G_n = \log\mathbb E_h\prod_a w(y,h_a)` for pre-activations with covariance ``Q``.

    ``fields`` are k+1 fresh Gaussian symbols (:func:`constraint_fields`); ``teacher`` is
    ``(R, channel)`` for a teacher replica with overlap R (see the module docstring).

    The fields enter with a minus sign, :math:`h_a = -u + \sqrt{q_d-q_k}\,\eta_a` (the Gaussian
    measure is even), so that the hard-margin closed forms read :math:`H((\kappa+u)/\sqrt{1-q_k})`
    with an argument SymPy keeps as written (``erfc(-x)`` is rewritten ``2 - erfc(x)``, which
    loses every digit in the tail).  With a teacher and odd channels,
    :math:`w(-y,-h) = w(y,h)`, the label sum is twice the y = 1 term (the joint Gaussian law of
    :math:`(h_0, h_a)` is even)."""
    eta = sp.Symbol("eta", real=True)
    u_sym = sp.Symbol("u", real=True)
    h_sym = sp.Symbol("h", real=True)
    width = sp.sqrt(Q.diagonal - Q.levels[-1])
    labels, multiplicity = tuple(channel.labels), sp.S.One
    if teacher is not None:
        R, t_channel = teacher
        if tuple(t_channel.labels) != labels:
            raise ValueError("the teacher and the students must use the same labels")
        if len(labels) > 1 and _label_symmetric(channel, h_sym) and _label_symmetric(t_channel, h_sym):
            labels, multiplicity = (max(labels),), sp.Integer(len(labels))
            trace.record("label symmetry", "w(-y,-h) = w(y,h) for the students and the teacher and the "
                         "law of (h_0, h_a) is even: the label sum is twice the y = 1 term",
                         sp.Eq(sp.Symbol("y"), labels[0]))
    elif len(labels) != 1:
        raise ValueError("labels without a teacher: use one label (random labels are y = 1 by symmetry)")
    site = {}
    for y in labels:
        before = E(channel.weight(y, -u_sym + width * eta), eta)
        after = closed_form(linearize(before))
        if after.has(GaussianExpectation):
            raise ValueError(f"the output channel {channel.description} has no closed-form innermost "
                             "average; only closed-form channels are supported")
        site[y] = _log_closed(after)
        trace.record("output channel", f"one replica in the cavity field u, label y = {y}: "
                     f"w = {channel.description} at h = -u + sqrt(1 - q_k) eta, E_eta in closed form",
                     sp.Eq(sp.Symbol("L_site"), site[y]))
    levels = {}
    log_average = None
    for y in labels:
        log_average, levels[y] = hierarchical_decoupling(Q, lambda u, y=y: site[y].subs(u_sym, u), sp.S.Zero,
                                                         fields)
    u = sp.S.Zero
    for i in range(Q.k + 1):
        prev = Q.levels[i - 1] if i >= 1 else sp.S.Zero
        u = u + sp.sqrt(Q.levels[i] - prev) * fields[i]
    weights = {y: sp.S.One for y in labels}
    if teacher is not None:
        eta0 = sp.Symbol("eta_0", real=True)
        q0 = Q.levels[0]
        h0 = -R / sp.sqrt(q0) * fields[0] + sp.sqrt(1 - R**2 / q0) * eta0
        weights = {y: multiplicity * closed_form(E(t_channel.weight(y, h0), eta0))
                   .subs(sp.sqrt(q0) * sp.sqrt(1 - R**2 / q0), sp.sqrt(q0 - R**2)) for y in labels}
        trace.record("teacher", "the teacher's pre-activation shares the outermost field: h_0 = "
                     "-(R/sqrt(q_0)) z_0 + sqrt(1 - R^2/q_0) eta_0; its label probabilities in closed form",
                     [sp.Eq(sp.Symbol(f"P_{{y={y}}}"), w) for y, w in weights.items()])
        inner = sp.Add(*[weights[y] * sp.exp(Q.n * levels[y][0]) for y in labels])
        log_average = sp.log(E(inner, fields[0]))
    trace.record("hierarchical decoupling", "h_a = -sum_i sqrt(q_i - q_{i-1}) z_i + sqrt(1 - q_k) eta_a; "
                 "the replica product factorises over nested blocks: L_i = (1/m_i) log E exp(m_i L_{i+1})",
                 sp.Eq(sp.Symbol("G_n"), log_average))
    return ConstraintAction(log_average, lambda uu, y: site[y].subs(u_sym, uu), levels, weights, u,
                            tuple(fields))


def parisi_average(g: sp.Expr, levels: Sequence[sp.Expr], Q: ParisiMatrix, fields: Sequence[sp.Symbol],
                   outer_weight: sp.Expr = sp.S.One) -> sp.Expr:
    r""":math:`\langle g\rangle` over the nested fields with the Parisi weights
    :math:`e^{m_i(L_{i+1}-L_i)}` at level i (n -> 0; ``outer_weight`` multiplies the
    outermost measure, e.g. a teacher's label probability)."""
    inner = g
    for i in range(Q.k, 0, -1):
        m = Q.block_size(i)
        inner = E(sp.exp(sp.expand(m * (levels[i] - levels[i - 1]))) * inner, fields[i])
    return E(outer_weight * inner, fields[0])


def susceptibility(site_log: Callable, cavity_field: sp.Expr, levels: dict, weights: dict, Q: ParisiMatrix,
                   fields: Sequence[sp.Symbol]) -> sp.Expr:
    r"""The replicon susceptibility :math:`\gamma = \sum_y\langle(\partial_u^2 L_{k+1})^2\rangle_y`
    of a decoupled single site (``site_log(u, y)``), averaged with the Parisi weights."""
    u = sp.Symbol("u", real=True)
    out = sp.S.Zero
    for y, L in levels.items():
        d2 = sp.diff(site_log(u, y), u, 2).subs(u, cavity_field)
        out += parisi_average(d2**2, L, Q, fields, weights[y])
    return out


def gaussian_tail_form(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite :math:`\log\mathrm{erfc}(X) = \log H(\sqrt2 X) + \log 2`, apply the closed forms
    (a teacher's label law normalises, :math:`\mathbb E_z\mathrm{erfc}(az) = 1`), then write the
    remaining :math:`\mathrm{erfc}(X) = 2e^{\log H(\sqrt2 X)}` (see :class:`LogH`); constants leave
    the expectations and products are distributed over sums."""
    expr = expr.replace(lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.erfc),
                        lambda e: LogH(sp.factor_terms(sp.sqrt(2) * e.args[0].args[0])) + sp.log(2))
    expr = closed_form(linearize(_expand_top(linearize(expr))))
    expr = expr.replace(lambda e: isinstance(e, sp.erfc),
                        lambda e: 2 * sp.exp(LogH(sp.factor_terms(sp.sqrt(2) * e.args[0]))))
    return _expand_top(linearize(expr))


def _expand_top(expr: sp.Expr) -> sp.Expr:
    """Distribute products over sums without entering function arguments."""
    return sp.Add(*[sp.expand(term, deep=False) for term in sp.Add.make_args(sp.expand(expr, deep=False))])


def laplace_log_H(expr: sp.Expr, t: sp.Symbol) -> sp.Expr:
    r"""Replace :math:`\log H(X)` by :math:`-W^2\theta(W)/(2t)` with
    :math:`W = \lim_{t\to0}\sqrt t\,X` (finite, free of t): the Laplace asymptotics
    :math:`\log H(x) = -x^2/2 + O(\log x)` as :math:`x\to+\infty` and :math:`\to 0` as
    :math:`x\to-\infty`, so the error is o(1/t) after a Gaussian average.  Geometrically,
    :math:`-\tfrac12 W^2\theta(W)` is minus half the squared distance from the cavity field to the
    satisfied half-line (Gardner 1988; Franz & Parisi 2016)."""
    def rule(node):
        X = node.args[0]
        W = sp.limit(sp.sqrt(t) * X, t, 0, "+")
        if W.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or W.has(t):
            raise ValueError(f"log H({X}) has no Laplace limit as {t} -> 0")
        return -W**2 * sp.Heaviside(W, 0) / (2 * t)
    return expr.replace(lambda e: isinstance(e, LogH), rule)


def capacity_site(site_log: sp.Expr, u: sp.Symbol, top_level: sp.Symbol) -> sp.Expr:
    r""":math:`\ell(u) = \lim_{t\to0} t\,L_{k+1}(u)` at :math:`q_k = 1 - t`, as a ``Piecewise``
    (so that its u-derivatives are ordinary functions off the kink): for the hard margin
    :math:`\ell = -\tfrac12(\kappa+u)^2\theta(\kappa+u)`."""
    t = sp.Symbol("t_q", positive=True)
    limit = sp.expand(laplace_log_H(site_log.subs(top_level, 1 - t), t) * t)
    limit = sp.limit(limit, t, 0, "+") if limit.has(t) else limit
    return sp.piecewise_fold(limit.rewrite(sp.Piecewise))


def piecewise_heaviside(expr: sp.Expr) -> sp.Expr:
    r"""``Piecewise((a, A <= 0), (b, True))`` -> :math:`a + (b-a)\,\theta(A)` (also ``A < 0``, and
    ``A > 0``/``A >= 0`` with the roles swapped): exact up to the value on :math:`A = 0`, a null set
    for a Gaussian average."""
    def rule(pw):
        if len(pw.args) != 2 or pw.args[1].cond is not sp.true:
            raise ValueError(f"only two-branch Piecewise functions are converted, got {pw}")
        (a, cond), (b, _) = pw.args
        if isinstance(cond, (sp.LessThan, sp.StrictLessThan)) and cond.rhs == 0:
            return a + (b - a) * sp.Heaviside(cond.lhs)
        if isinstance(cond, (sp.GreaterThan, sp.StrictGreaterThan)) and cond.rhs == 0:
            return b + (a - b) * sp.Heaviside(cond.lhs)
        raise ValueError(f"the condition {cond} is not a sign condition")
    return sp.expand(sp.piecewise_fold(expr).replace(lambda e: isinstance(e, sp.Piecewise), rule))


def capacity_susceptibility(site_log: sp.Expr, u: sp.Symbol, cavity_field: sp.Expr, top_level: sp.Symbol,
                            field: sp.Symbol) -> sp.Expr:
    r""":math:`\gamma_c = \lim_{q\to1}(1-q)^2\,\mathbb E[(\partial_u^2 L)^2]
    = \mathbb E[(\partial_u^2\ell)^2]`
    at q = 1 (RS: one field), with :math:`\ell` from :func:`capacity_site`; hard margin:
    :math:`\gamma_c = \mathbb E\,\theta(\kappa + z) = H(-\kappa)`."""
    ell = capacity_site(site_log, u, top_level)
    g = piecewise_heaviside(sp.diff(ell, u, 2) ** 2).subs(u, cavity_field.subs(top_level, 1))
    return sp.expand(closed_form(linearize(E(g, field))))


def capacity_limit(phi: sp.Expr, top_level: sp.Symbol, load: sp.Symbol, trace: Trace,
                   conjugates: dict | None = None) -> tuple[sp.Expr, sp.Expr, dict]:
    r"""The :math:`q_k\to1` limit: return :math:`(F_0, \alpha_c, \text{stationary conjugates})`.

    With :math:`q_k = 1-t`, :math:`\Phi = F_0/t + O(\log t)`, so the stationarity equation
    :math:`\partial_t\Phi = -F_0/t^2 + O(1/t) = 0` has a solution with :math:`t\to0` only where
    the leading coefficient vanishes: :math:`F_0(\alpha_c) = 0` (Gardner, J. Phys. A 21 (1988) 257).
    ``conjugates`` maps a conjugate to ``(rescaled symbol, p)`` for the scaling form
    :math:`\Lambda = \tilde\Lambda/t^p` (Ising weights: p = 2); :math:`F_0` is then made stationary
    in the rescaled variables before solving for the load.  Rules: :func:`laplace_log_H`, and
    :math:`\log\cosh(w/t)\to|w|/t - \log 2` (:func:`~.limit.laplace_log_cosh` with
    :math:`\beta = 1/t`)."""
    t = sp.Symbol("t_q", positive=True)
    conjugates = conjugates or {}
    subs = {top_level: 1 - t, **{c: r / t**p for c, (r, p) in conjugates.items()}}
    expr = sp.expand(phi.subs(subs))
    expr = laplace_log_cosh(laplace_log_H(expr, t), 1 / t)
    expr = sp.expand(linearize(sp.expand(expr * t)))
    F0 = sp.S.Zero
    for term in sp.Add.make_args(expr):
        coeff, rest = term.as_independent(GaussianExpectation, as_Add=False)
        if rest == 1:
            F0 += sp.limit(coeff, t, 0, "+")
        else:
            F0 += sp.limit(coeff, t, 0, "+") * rest.subs(t, 0)
    F0 = sp.expand(closed_form(F0))
    if F0.has(sp.oo, -sp.oo, sp.zoo, sp.nan) or F0.has(t):
        raise ValueError("the free entropy has no 1/(1 - q) leading term with these scalings")
    trace.record("capacity limit", "q -> 1 with t = 1 - q: Phi = F_0/t + O(log t) (Laplace rules "
                 "t log H(W/sqrt(t)) -> -W^2 theta(W)/2, log cosh(w/t) -> |w|/t - log 2)",
                 sp.Eq(sp.Symbol("F_0"), F0))
    stationary = {}
    for r, _ in conjugates.values():
        sol = [v for v in sp.solve(sp.diff(F0, r), r) if v.is_positive is not False]
        if len(sol) != 1:
            raise ValueError(f"the rescaled conjugate {r} has no unique stationary point")
        stationary[r] = sol[0]
    if stationary:
        F0 = sp.expand(sp.simplify(F0.subs(stationary)))
        trace.record("capacity limit: conjugates", "F_0 stationary in the rescaled conjugates",
                     [sp.Eq(k, v) for k, v in stationary.items()] + [sp.Eq(sp.Symbol("F_0"), F0)])
    alpha_c = sp.simplify(solve_linear(F0, load))
    trace.record("capacity", "F_0(alpha_c) = 0: the saddle point reaches q = 1",
                 sp.Eq(sp.Symbol(r"\alpha_c"), alpha_c))
    return F0, alpha_c, stationary
