r"""The zipper solver for layered replica actions (finite-width random MLP, RS).

The stationarity conditions of :mod:`replicasym.symbolic.layered` couple the layers only to their
neighbours: the overlaps :math:`Q^{(\ell)}` are propagated **forward** from the input
(:math:`Q^{(\ell)} = F(Q^{(\ell-1)}, \Lambda^{(\ell)})`) and the conjugates **backward** from the output
(:math:`\Lambda^{(L)}` from the top condition, :math:`\Lambda^{(\ell)} = B(Q^{(\ell)}, \Lambda^{(\ell+1)})`),
closed by the input equation for q.  One zipper sweep (Winer & Hanin 2025, "zipper method";
reference/winer_hanin_mlp.md §3.2) is: forward with Λ fixed, backward with Q fixed, update q, damp.
The sweeps stop when the full residual is small, then Newton on the full system (Jacobian by finite
differences, coloured by layer index mod 3 since a residual touches only layers l-1, l, l+1)
polishes to :data:`TOLERANCE`.  No convergence -> :class:`~replicasym.errors.ConvergenceError` with
the residual.

Numerics: every equation is the engine's generic-layer expression, compiled **once** per activation
(:func:`compile_equations`) and evaluated for all layers with layer-indexed numbers.  Closed forms
(the linear network) are plain numpy; Gaussian expectations go through the project's quadrature
printer on one broadcast axis per field (:mod:`~replicasym.solvers.layer_quadrature`: trapezoidal rules for
:math:`\xi` and the Hubbard--Stratonovich field u, Gauss--Hermite for :math:`\eta`).  At T = 0 with
a nonlinear activation the expectations contain the Moreau envelope's maximiser and are evaluated by
:mod:`~replicasym.solvers.envelope_quadrature` (adaptive in u, jumps located in xi); the sweep then solves
the input equation for :math:`\chi_0` by a secant step (the damped update converges slowly there) and hands
over to Newton at a sweep residual of :data:`SWEEP_TOLERANCE_ENVELOPE`.

The rule is chosen by refinement (:func:`~replicasym.solvers.layer_quadrature.resolved`).  Since
:math:`\Lambda_0 \approx \beta^2C_W/\alpha` grows at low temperature and small width, the integrands develop steep
steps in u and :math:`\xi`, and a fixed rule silently loses accuracy (tanh, C_W = 4, alpha = 0.5: the energy at
T = 0.31 was 0.065 too high with 40 Gauss--Hermite nodes in u, and e(T) turned non-monotonic; sin, C_W = 2,
alpha = 4, T = 0.4: 40 Gauss--Hermite nodes in :math:`\xi` left the energy 3.5e-4 off).  :func:`zipper`
therefore evaluates the residual of each solution on the finer rules and re-solves on whichever failed until
that residual is below :data:`QUADRATURE_TOLERANCE`.  The replicon and the layer moments use the rule of the
profile they are given.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
import sympy as sp

from ..errors import ConvergenceError, ParameterError
from ..solution import Solution
from ..symbolic.envelope import has_maximiser, maximisers
from ..symbolic.gaussian import GaussianExpectation
from ..symbolic.layered import (
    ALPHA,
    ALPHA_NEXT,
    BETA,
    C_B,
    C_W,
    ETA,
    XI,
    LayerEquations,
    U,
    generic_equations,
    generic_replicon,
    layer_observables,
)
from .envelope_quadrature import compile_envelope, rule_at
from .layer_quadrature import FIRST_RULE, Quadrature, Rule, compile_expression, resolved

__all__ = ["QUADRATURE_TOLERANCE", "TOLERANCE", "CompiledEquations",
           "Profile", "compile_equations", "layer_moments", "replicon", "replicon_line", "solve_layered", "zipper"]

#: the largest relative residual max |theta - F(theta)|/(1 + |theta|) of an accepted solution
TOLERANCE = 1e-9
#: the largest residual of a solution evaluated on a finer quadrature rule (the quadrature check,
#: :func:`~replicasym.solvers.layer_quadrature.resolved`)
QUADRATURE_TOLERANCE = 1e-7
MAX_SWEEPS = 3000
MAX_SWEEPS_ENVELOPE = 200
#: the sweep residual below which Newton takes over for the zero-temperature envelope equations
SWEEP_TOLERANCE_ENVELOPE = 1e-3
#: the largest chi_0 = lim beta(1 - q) the T = 0 solver accepts (beyond it the input equation has no root)
CHI_MAX = 1e3
_FIELDS = (XI, U, ETA)


def _compile(expr: sp.Expr, args: tuple, quad: Quadrature):
    """A numpy function of ``args``: the envelope rule at T = 0 (nonlinear), else the field quadrature."""
    if has_maximiser(expr):  # T = 0, nonlinear: the Moreau envelope's maximiser jumps; its own rule
        return compile_envelope(expr, args, XI, U)
    return compile_expression(expr, args, quad)


@dataclass
class CompiledEquations:
    """numpy versions of one :class:`~replicasym.symbolic.layered.LayerEquations`: every function takes
    the arrays (P_d, P_0, Q_d, Q_0, Lambda_d, Lambda_0, Lambda'_d, Lambda'_0, alpha, alpha', x, R, beta,
    C_W, C_b) of one shape (unused ones ignored)."""

    equations: LayerEquations
    forward: tuple
    backward: tuple
    top: tuple
    input_rhs: object
    input_solution: object
    phi: object
    input_term: object
    top_term: object
    energy_top: object


def _arguments(eqs: LayerEquations) -> tuple:
    """The argument symbols of every compiled layer function, in the order :meth:`_System.call` passes
    them (see :class:`CompiledEquations`)."""
    b = eqs.block
    return (*b.prev, *b.own, *b.conj, *eqs.next_conj, ALPHA, ALPHA_NEXT, b.input_var, eqs.input_rhs,
            BETA, C_W, C_B)


@functools.lru_cache(maxsize=32)
def _compiled(eqs: LayerEquations, rule: Rule) -> CompiledEquations:
    b = eqs.block
    args = _arguments(eqs)
    quad = Quadrature(rule, _FIELDS)
    c = functools.partial(_compile, args=args, quad=quad)
    return CompiledEquations(eqs, tuple(map(c, eqs.forward)), tuple(map(c, eqs.backward)), tuple(map(c, eqs.top)),
                             c(eqs.input_rhs_expr), c(eqs.input_solution), c(b.phi), c(b.input_term),
                             c(b.top_term), c(eqs.energy_top))


def compile_equations(eqs: LayerEquations, rule: Rule = FIRST_RULE) -> CompiledEquations:
    """Compile (once per rule, cached) the generic layer equations to numpy."""
    return _compiled(eqs, Rule(*rule))


@functools.lru_cache(maxsize=16)
def _compiled_replicon(act, rule: Rule) -> tuple:
    eqs, rk, _ = generic_replicon(act)
    b = eqs.block
    args = _arguments(eqs)
    kernels = tuple(_compile(k, args, Quadrature(rule, _FIELDS)) for k in (rk.yy, rk.yh, rk.hh))
    recursion = sp.lambdify((rk.curvature, ALPHA, C_W, *rk.kernel_symbols), rk.recursion, modules="numpy")
    lam = sp.lambdify((rk.curvature, b.input_var), rk.replicon, modules="numpy")
    return kernels, recursion, lam, float(rk.top_curvature)


def replicon(act, profile: Profile, alphas, C_W: float = 1.0, C_b: float = 0.0) -> float:
    r"""The finite-alpha replicon :math:`\lambda_R = 1 - (1-q)^2K_0` of a finite-temperature profile
    (:func:`replicasym.symbolic.layered.replicon_kernels`): the per-layer kernels
    :math:`A_{yy}, A_{yh}, A_{hh}` at the solution, then the curvature recursion from
    :math:`K_L = 0` down to the input.

    The kernels (squares of second derivatives) need finer rules than the solution: starting from the
    profile's rule (or the first rule), each field is refined until :math:`\lambda_R` changes by at most
    :data:`QUADRATURE_TOLERANCE` on every finer rule (:func:`~.layer_quadrature.resolved`; sin, C_W = 2,
    depth 2, alpha = 0.5, T = 0.6: 5.5e-4 on the solution's rule).  Kernels that overflow (low T) or a rule
    that cannot be refined far enough raise :class:`~replicasym.errors.ConvergenceError`."""
    def value(rule, _start=None):
        kernels, recursion, lam, K = _compiled_replicon(act, rule)
        sys_ = _System(compile_equations(generic_equations(act, "finite"), rule), alphas, 1.0, C_W, C_b)
        P = sys_.prev(profile.x, profile.Q)
        A = [sys_.call(f, P=P, Lam=profile.Lam) for f in kernels]
        if not all(np.all(np.isfinite(a)) for a in A):
            # the Cameron-Martin weights exp(eta y/c) of the kernels overflow when c = sqrt(Sigma_d - Sigma_0) is
            # small, or the tilt exp(h sigma) of an unbounded activation does
            raise ConvergenceError(f"replicon: the kernels A_yy, A_yh, A_hh are not finite at this temperature "
                                   f"(Lambda_0 = {float(np.max(profile.Lam[:, 1])):.4g}, 1 - q = {1 - profile.x:.3g}): "
                                   "too cold for their quadrature", residual=np.inf)
        for ell in range(sys_.L - 1, -1, -1):
            K = float(recursion(K, sys_.alphas[ell], sys_.cw, A[0][ell], A[1][ell], A[2][ell]))
        return float(lam(K, profile.x))

    lam_R, _ = resolved(value, lambda v, rule: abs(value(rule) - v), profile.rule or FIRST_RULE,
                        QUADRATURE_TOLERANCE, "replicon")
    return lam_R


def zero_temperature_replicon(eqs: LayerEquations, profile: Profile, alpha: float, cw: float,
                              cb: float) -> tuple[float, float]:
    r"""The finite-alpha replicon as T -> 0 for one hidden layer with a Moreau-envelope block:
    :math:`\lambda_R(T) = -c_J/T + \lambda_0 + \lambda_J + O(T)`; returns :math:`(\lambda_0, c_J)`.

    With :math:`1 - q = \chi_0 T` and :math:`\log Z_1 = \beta M(y) + O(\log\beta)`, :math:`M` the neuron's
    envelope, the depth-1 replicon :math:`1 - (1-q)^2\alpha C_W^2\,\mathbb E[(\partial_y^2\log Z_1)^2]` has two
    parts.  Where :math:`z^*` is smooth, :math:`\partial_y^2\log Z_1 \to \beta M''`, which gives
    :math:`\lambda_0 = 1 - \alpha C_W^2\chi_0^2\,\mathbb E[M''^2]`.  Across a jump of the maximiser the two
    branches mix thermally, :math:`\log Z_1 \approx \log(e^{\beta M_1} + e^{\beta M_2})`, so
    :math:`\partial_y^2\log Z_1 \ni \beta^2p(1-p)\Delta^2` over a width :math:`1/\beta|\Delta|`,
    :math:`\Delta = M_1' - M_2' = [z^*]/s`, and :math:`\int dy\,(\beta^2p(1-p)\Delta^2)^2 = \beta^3|\Delta|^3/6`:
    :math:`c_J = \alpha C_W^2\chi_0^2\,\mathbb E_u\sum_J p_y(y_J)|\Delta_J|^3/6`.  The next order of the jump
    regions adds a constant :math:`\lambda_J` that is not computed here (ReLU, C_W = 2, alpha = 1: the finite-T
    replicon at T = 0.32 ... 0.127 fits :math:`A - C/T + BT` with C = 0.0964 against c_J = 0.0953, and
    A = 0.934 against lambda_0 = 0.847).  A jumping maximiser (every nonlinear activation at large |u|; ReLU's
    convex kink for u > 0) thus makes RS unstable at low enough T at every finite width (derived here; not in
    the reference)."""
    a = maximisers(eqs.forward[0])[0]
    args = _arguments(eqs)
    # layer 1: P = (1, chi_0) (the input's P_d and chi_P), its conjugates (mu, lambda) from the profile
    values = dict(zip((*eqs.block.prev, *eqs.block.conj), (1.0, float(profile.x), *map(float, profile.Lam[0]))))
    values.update({C_W: cw, C_B: cb})
    rule = rule_at(a, args, tuple(values.get(s, 0.0) for s in args), XI, U)
    smooth, jumps = rule.replicon_moments()
    scale = alpha * cw**2 * float(profile.x) ** 2
    return 1 - scale * smooth, scale * jumps


@functools.lru_cache(maxsize=16)
def _compiled_observables(act, rule: Rule) -> dict:
    args = _arguments(generic_equations(act, "finite"))
    obs = layer_observables(act)
    return {k: _compile(getattr(obs, k), args, Quadrature(rule, _FIELDS))
            for k in ("pre_norm", "pre_overlap", "post_norm", "post_overlap")}


def layer_moments(act, profile: Profile, alphas, C_W: float = 1.0, C_b: float = 0.0) -> list[dict]:
    r"""Per hidden layer, the thermal moments a Monte Carlo run measures (pre-/post-activation norm and
    overlap, :func:`replicasym.symbolic.layered.layer_observables`) at a finite-temperature profile.

    The rule is the profile's; a profile with ``rule=None`` (rebuilt from a
    :class:`~replicasym.solution.Solution`) gets the first rule on which the moments change by less than
    :data:`QUADRATURE_TOLERANCE` (relative) on every finer rule (:func:`~.layer_quadrature.resolved`)."""
    L = len(alphas)

    def moments(rule, _start=None):
        funcs = _compiled_observables(act, rule)
        sys_ = _System(compile_equations(generic_equations(act, "finite"), rule), alphas, 1.0, C_W, C_b)
        P = sys_.prev(profile.x, profile.Q)
        return {k: sys_.call(f, P=P, Lam=profile.Lam) for k, f in funcs.items()}

    def change(vals, rule):
        fine = moments(rule)
        return max(float(np.max(np.abs(fine[k] - vals[k]) / (1 + np.abs(fine[k])))) for k in vals)

    if profile.rule is not None:
        vals = moments(profile.rule)
    else:
        vals, _ = resolved(moments, change, FIRST_RULE, QUADRATURE_TOLERANCE, "layer_moments")
    return [{k: float(v[ell]) for k, v in vals.items()} for ell in range(L)]


@dataclass
class Profile:
    """A solved layer profile: the input variable ``x`` (q, or chi_0 at T = 0), per-layer overlaps
    ``Q`` (L, 2) and conjugates ``Lam`` (L, 2), the free entropy (T > 0: Phi; T = 0: -E_0), the
    energy, the final residual, the number of sweeps / Newton steps and the quadrature ``rule`` it was solved
    with (:class:`~replicasym.solvers.layer_quadrature.Rule`)."""

    x: float
    Q: np.ndarray
    Lam: np.ndarray
    free_entropy: float
    energy: float
    residual: float
    sweeps: int
    newton: int
    rule: Rule | None = FIRST_RULE


class _System:
    """The residual of the whole chain, vectorised over the layers."""

    def __init__(self, ce: CompiledEquations, alphas, beta, cw, cb):
        self.ce = ce
        self.alphas = np.asarray(alphas, dtype=float)
        self.L = self.alphas.size
        self.beta, self.cw, self.cb = float(beta), float(cw), float(cb)
        self.first = [float(v) for v in ce.equations.block.prev_input[:1]]  # P_d of layer 1 (= 1)

    def call(self, f, P=None, Q=None, Lam=None, Lnext=None, alpha=None, alpha_next=None, x=None, R=None):
        n = 1
        for a in (P, Q, Lam, Lnext, alpha, alpha_next, x, R):
            if a is not None and np.ndim(a) and np.shape(a)[0] > n:
                n = np.shape(a)[0]
        z = np.zeros(n)

        def col(a, j):
            return z if a is None else np.broadcast_to(np.asarray(a, dtype=float)[..., j] if np.ndim(a) == 2
                                                         else np.asarray(a, dtype=float), (n,))
        v = [col(P, 0), col(P, 1), col(Q, 0), col(Q, 1), col(Lam, 0), col(Lam, 1), col(Lnext, 0), col(Lnext, 1),
             col(alpha, 0), col(alpha_next, 0), col(x, 0), col(R, 0), z + self.beta, z + self.cw, z + self.cb]
        return f(*v)

    def prev(self, x, Q):
        first = np.array([[self.first[0], x]])
        return np.concatenate([first, Q[:-1]], axis=0)

    def forward(self, P, Lam, alpha):
        return np.stack([self.call(f, P=P, Lam=Lam, alpha=alpha) for f in self.ce.forward], axis=-1)

    def backward(self, Q, Lnext, alpha, alpha_next):
        return np.stack([self.call(f, Q=Q, Lnext=Lnext, alpha=alpha, alpha_next=alpha_next)
                         for f in self.ce.backward], axis=-1)

    def top(self, Q, alpha):
        return np.stack([self.call(f, Q=Q, alpha=alpha) for f in self.ce.top], axis=-1)

    def input(self, x, Lam1):
        R = self.call(self.ce.input_rhs, P=np.array([[self.first[0], x]]), Lam=Lam1[None, :],
                      alpha=self.alphas[:1], x=np.array([x]))
        return float(self.call(self.ce.input_solution, R=R)[0])

    def residual(self, x, Q, Lam) -> np.ndarray:
        a = self.alphas
        rQ = Q - self.forward(self.prev(x, Q), Lam, a)
        rL = np.empty_like(Lam)
        if self.L > 1:
            rL[:-1] = Lam[:-1] - self.backward(Q[:-1], Lam[1:], a[:-1], a[1:])
        rL[-1] = Lam[-1] - self.top(Q[-1:], a[-1:])[0]
        rx = x - self.input(x, Lam[0])
        return np.concatenate([[rx], np.concatenate([rQ, rL], axis=1).ravel()])

    def pack(self, x, Q, Lam):
        return np.concatenate([[x], np.concatenate([Q, Lam], axis=1).ravel()])

    def unpack(self, th):
        m = th[1:].reshape(self.L, 4)
        return th[0], m[:, :2].copy(), m[:, 2:].copy()

    def jacobian(self, th, r0, h=1e-7) -> sps.csr_matrix:
        rows, cols, vals = [], [], []
        groups = [[0]] + [[1 + 4 * ell + j for ell in range(c, self.L, 3)] for c in range(3) for j in range(4)]
        for g in groups:
            if not g:
                continue
            t = th.copy()
            steps = h * np.maximum(1.0, np.abs(th[g]))
            t[g] += steps
            dr = (self.residual(*self.unpack(t)) - r0)
            for col, step in zip(g, steps):
                ell = (col - 1) // 4 if col else 0
                lo, hi = (0, 5) if col == 0 else (max(0, 1 + 4 * (ell - 1)), min(th.size, 1 + 4 * (ell + 2)))
                touched = list(range(lo, hi)) + ([0] if col and ell == 0 else [])
                for row in sorted(set(touched)):
                    if dr[row] != 0.0:
                        rows.append(row)
                        cols.append(col)
                        vals.append(dr[row] / step)
        return sps.csr_matrix((vals, (rows, cols)), shape=(th.size, th.size))

    def scalars(self, x, Q, Lam):
        a = self.alphas
        P = self.prev(x, Q)
        phi = float(np.sum(self.call(self.ce.phi, P=P, Q=Q, Lam=Lam, alpha=a)))
        phi += float(self.call(self.ce.input_term, x=np.array([x]))[0])
        phi += float(self.call(self.ce.top_term, Q=Q[-1:])[0])
        energy = float(self.call(self.ce.energy_top, Q=Q[-1:])[0])
        return phi, energy


def _input_root(sys_: _System, x: float, Lam1: np.ndarray, damping: float) -> float:
    """The input variable solving its own equation x = input(x) at fixed Lambda^(1) (secant in log x).
    At T = 0 with a nonlinear layer the damped update converges slowly (chi_0 enters the envelope's penalty:
    E delta*^2 grows like chi_0, not chi_0^2), so the sweep solves it instead; on failure, the damped step."""
    def runaway(why, residual):
        return ConvergenceError(f"zipper (T = 0): the input susceptibility chi_0 = lim beta(1 - q) runs away ({why}): "
                                "the input equation has no finite root, i.e. the replicas do not collapse as "
                                "1 - q = O(T) (a degenerate ground state, q < 1 at T = 0); the T = 0 scaling of the "
                                "RS ansatz does not hold here: solve at small T > 0 instead", residual=residual)

    def f(lx):
        return float(np.log(sys_.input(float(np.exp(lx)), Lam1))) - lx
    a, fa = np.log(x), f(np.log(x))
    b = a + 0.1
    fb = f(b)
    for _ in range(30):
        if not (np.isfinite(fa) and np.isfinite(fb)) or fb == fa:
            break
        a, b, fa = b, float(np.clip(b - fb * (b - a) / (fb - fa), b - 3.0, b + 3.0)), fb
        if b > np.log(CHI_MAX):
            raise runaway(f"> {CHI_MAX:g}", abs(fb))
        try:
            fb = f(b)
        except ConvergenceError as err:
            if b > a and fa > 0:  # pushed to ever larger chi_0 until the quadrature gave up
                raise runaway(f"chi_0 > {np.exp(a):.3g}, where {err}", abs(fa)) from err
            raise
        if abs(fb) < 1e-12:
            return float(np.exp(b))
    return (1 - damping) * x + damping * sys_.input(x, Lam1)


def _size(r: np.ndarray, th: np.ndarray) -> float:
    """The residual's size, relative to the variables': max |theta - F(theta)| / (1 + |theta|)
    (the conjugates grow like beta^2 at low temperature)."""
    return float(np.max(np.abs(r) / (1 + np.abs(th))))


def zipper(eqs: LayerEquations, alphas, beta: float = 1.0, C_W: float = 1.0, C_b: float = 0.0,
           damping: float = 0.5, tol: float = TOLERANCE, start: Profile | None = None,
           rule: Rule | None = None) -> Profile:
    """Solve the layered RS equations by zipper sweeps, then Newton (see the module docstring).

    ``alphas``: the width ratios alpha_1..alpha_L; ``beta`` is unused by the T = 0 equations.
    ``rule``: a fixed quadrature rule; None (default) refines it until the quadrature check passes."""
    if rule is not None or eqs.block.closed or eqs.block.envelope:  # the envelope rule adapts itself
        return _zipper(eqs, alphas, beta, C_W, C_b, damping, Rule(*(rule or FIRST_RULE)), tol, start)
    first = FIRST_RULE if start is None or start.rule is None else Rule(*map(max, FIRST_RULE, start.rule))

    def solve(r, s):
        return _zipper(eqs, alphas, beta, C_W, C_b, damping, r, tol, s)

    def error(prof, r):
        check = _System(compile_equations(eqs, r), alphas, beta, C_W, C_b)
        return _size(check.residual(prof.x, prof.Q, prof.Lam), check.pack(prof.x, prof.Q, prof.Lam))
    prof, _ = resolved(solve, error, first, QUADRATURE_TOLERANCE, "zipper", start)
    return prof


def _zipper(eqs, alphas, beta, C_W, C_b, damping, rule, tol, start) -> Profile:
    """:func:`zipper` with a fixed quadrature rule."""
    sys_ = _System(compile_equations(eqs, rule), alphas, beta, C_W, C_b)
    L, a = sys_.L, sys_.alphas
    # the envelope rule (T = 0, nonlinear) is costly per parameter set: hand over to Newton earlier
    envelope = eqs.block.envelope
    sweep_tol = SWEEP_TOLERANCE_ENVELOPE if envelope else 1e-6
    if start is not None:
        x, Q, Lam = start.x, start.Q.copy(), start.Lam.copy()
    else:
        x, Lam = (0.5 if eqs.block.temperature == "finite" else 1.0), np.zeros((L, 2))
        if envelope:  # lambda > 0 (chi = E[u sigma]/sqrt(lambda))
            Lam[:] = sys_.top(np.zeros((L, 2)), a)
        Q = np.zeros((L, 2))
        for ell in range(L):  # Lambda = 0: the kernel map
            Q[ell] = sys_.forward(sys_.prev(x, Q)[ell:ell + 1], Lam[ell:ell + 1], a[ell:ell + 1])[0]
    res = np.inf
    sweeps = 0
    for sweeps in range(1, (MAX_SWEEPS_ENVELOPE if envelope else MAX_SWEEPS) + 1):
        newLam = Lam.copy()
        newLam[-1] = sys_.top(Q[-1:], a[-1:])[0]
        for ell in range(L - 2, -1, -1):
            newLam[ell] = sys_.backward(Q[ell:ell + 1], newLam[ell + 1:ell + 2], a[ell:ell + 1], a[ell + 1:ell + 2])[0]
        Lam = (1 - damping) * Lam + damping * newLam
        x = (_input_root(sys_, x, Lam[0], damping) if envelope
             else (1 - damping) * x + damping * sys_.input(x, Lam[0]))
        for ell in range(L):
            Q[ell] = sys_.forward(sys_.prev(x, Q)[ell:ell + 1], Lam[ell:ell + 1], a[ell:ell + 1])[0]
        res = _size(sys_.residual(x, Q, Lam), sys_.pack(x, Q, Lam))
        if not np.isfinite(res):
            break
        if res < sweep_tol:
            break
    th = sys_.pack(x, Q, Lam)
    newton = 0
    if np.isfinite(res):
        r = sys_.residual(*sys_.unpack(th))
        for newton in range(1, 31):
            res = _size(r, th)
            if res < tol:
                break
            try:
                step = spla.spsolve(sys_.jacobian(th, r).tocsc(), -r)
            except (RuntimeError, ValueError):
                break
            if not np.all(np.isfinite(step)):
                break
            t = 1.0
            while t > 1e-4:
                trial = th + t * step
                try:
                    rt = sys_.residual(*sys_.unpack(trial))
                except ConvergenceError:  # a trial outside the domain (e.g. chi < 0 at T = 0): shorter step
                    rt = np.full_like(r, np.nan)
                if np.all(np.isfinite(rt)) and _size(rt, trial) < res:
                    th, r = trial, rt
                    break
                t /= 2
            else:
                break
        res = _size(r, th)
    x, Q, Lam = sys_.unpack(th)
    if not (np.isfinite(res) and res < tol):
        raise ConvergenceError(f"zipper: the layered saddle point did not converge (L = {L}, {sweeps} sweeps, "
                               f"{newton} Newton steps)", residual=res)
    phi, energy = sys_.scalars(x, Q, Lam)
    return Profile(float(x), Q, Lam, phi, energy, res, sweeps, newton, rule)


def replicon_line(model, T_max: float = 2.0, T_min: float = 0.05, points: int = 24, xtol: float = 1e-7) -> dict:
    r"""The RS replicon of a finite-width MLP along a geometric temperature grid from ``T_max`` down to
    ``T_min`` (each temperature's zipper starts from the previous solution) and the de Almeida--Thouless
    temperature :math:`T_{AT}`, the highest T where :math:`\lambda_R` changes sign from + to -
    (Brent's method on the bracketing grid cell, warm-started).

    Returns ``{"T_AT": float | None, "T": [...], "replicon": [...], "T_reached": lowest T solved}``;
    ``T_AT`` is None when the replicon stays positive down to ``T_reached``."""
    from scipy.optimize import brentq
    if not (0 < T_min < T_max) or int(points) < 2:
        raise ParameterError(f"replicon_line needs 0 < T_min < T_max and points >= 2 (got {T_min}, {T_max}, {points})")
    eqs = generic_equations(model.activation, "finite")
    act, alphas, cw, cb = model.activation, model.alphas, model.C_W, model.C_b
    Ts, lams, profs = [], [], []
    prof = None
    for T in np.geomspace(T_max, T_min, int(points)):
        try:  # the scan ends where the zipper or the replicon's quadrature fails (T_reached says where)
            prof = zipper(eqs, alphas, 1 / T, cw, cb, start=prof)
            lam_T = replicon(act, prof, alphas, cw, cb)
        except ConvergenceError:
            if not Ts:
                raise
            break
        Ts.append(float(T))
        lams.append(lam_T)
        profs.append(prof)
        if len(Ts) > 1 and lams[-2] > 0 >= lams[-1]:
            hot = profs[-2]

            def lam_at(t, hot=hot):
                return replicon(act, zipper(eqs, alphas, 1 / t, cw, cb, start=hot), alphas, cw, cb)
            T_AT = float(brentq(lam_at, Ts[-1], Ts[-2], xtol=xtol))
            return {"T_AT": T_AT, "T": Ts, "replicon": lams, "T_reached": Ts[-1]}
    return {"T_AT": None, "T": Ts, "replicon": lams, "T_reached": Ts[-1]}


def solve_layered(model, T=None, beta=None, ansatz: str | None = "rs", precision=None, start=None) -> Solution:
    r"""RS solution of a finite-width MLP (``model.activation``, ``model.alphas``, ``model.C_W``,
    ``model.C_b``) at temperature T (``T = 0``: the ground state; a nonlinear activation must be continuous
    there, kinks allowed, see :mod:`replicasym.solvers.envelope_quadrature`).

    ``order_parameters``: q (T = 0: chi_0 = lim beta(1 - q)) and per layer Q{l}_d, Q{l}_0, Lambda{l}_d,
    Lambda{l}_0 (T = 0: Q{l}_d, chi{l}, mu{l}, lambda{l}); ``profile`` the same per layer, with
    ``Q_d`` = |sigma(z^(l))|^2/N_l (the hidden norm for the linear network)."""
    if precision is not None:
        raise ParameterError("the finite-width MLP is solved in double precision; drop --precision")
    name = "rs" if ansatz is None else str(ansatz).strip().lower()
    if name not in ("rs", "auto"):
        raise ParameterError(f"finite-width mlp: the zipper solves the RS ansatz (got {ansatz!r}); 1RSB is solved for one "
                             "hidden layer with --ansatz 1rsb")
    if (T is None) == (beta is None):
        raise ParameterError("give exactly one of T and beta")
    if T is not None and not (np.isfinite(float(T)) and float(T) >= 0):
        raise ParameterError(f"T must be a finite number >= 0, got {T!r}")
    if beta is not None and not (float(beta) > 0):
        raise ParameterError(f"beta must be a number > 0 (beta = oo is T = 0), got {beta!r}")
    b = np.inf if (T is not None and float(T) == 0) or (beta is not None and np.isinf(float(beta))) else (
        1 / float(T) if T is not None else float(beta))
    zero = b == np.inf
    if zero:
        eqs = generic_equations(model.activation, "zero")
        if eqs.block.envelope and not model.activation.is_evaluable(1):
            raise ParameterError(f"finite-width mlp at T = 0: {model.activation} jumps (its derivative has a Dirac "
                                 "delta), so the Moreau envelope's maximiser is not defined at the jump; kinks "
                                 "(ReLU, |x|) are fine; solve at small T > 0 instead")
    else:
        eqs = generic_equations(model.activation, "finite")
    prof = zipper(eqs, model.alphas, 1.0 if zero else b, model.C_W, model.C_b, start=start)
    names = ("Q{}_d", "chi{}", "mu{}", "lambda{}") if zero else ("Q{}_d", "Q{}_0", "Lambda{}_d", "Lambda{}_0")
    ops = {("chi_0" if zero else "q"): prof.x}
    for ell in range(len(model.alphas)):
        vals = (*prof.Q[ell], *prof.Lam[ell])
        ops.update({n.format(ell + 1): float(v) for n, v in zip(names, vals)})
    keys = [n.format("") for n in names]
    profile = {"layer": list(range(1, len(model.alphas) + 1)), "alpha": [float(a) for a in model.alphas],
               **{k: [float(v) for v in col] for k, col in zip(keys, (*prof.Q.T, *prof.Lam.T))}}
    notes = ["finite width: RS, solved by the zipper (forward Q, backward Lambda) and Newton"]
    if zero:
        if eqs.block.envelope:
            notes.append("T = 0: each neuron's thermal average is a Moreau envelope max_z[G(z) - (z - y)^2/2s]; its "
                         "global maximiser, its jumps and its kinks are located numerically "
                         "(replicasym.solvers.envelope_quadrature)")
        lam_0 = None
        if eqs.block.envelope and len(model.alphas) == 1:
            lam_0, c_J = zero_temperature_replicon(eqs, prof, model.alphas[0], model.C_W, model.C_b)
            note = (f"T -> 0 replicon (one hidden layer): lambda_R(T) = -c_J/T + lambda_0 + lambda_J + O(T) with "
                    f"c_J = {c_J:.6g} (jumps of the maximiser) and lambda_0 = {lam_0:.6g} (its smooth part; the jump "
                    "regions' constant lambda_J is not computed); ")
            if c_J > 0:
                note += ("the maximiser jumps, so lambda_R -> -oo and RS is unstable at T = 0; c_J/lambda_0 = "
                         f"{c_J / lam_0:.3g} is a rough scale for T_AT" if lam_0 > 0 else
                         "the maximiser jumps and lambda_0 <= 0: RS is unstable at low T")
            else:
                note += "no jumps: the replicon at T = 0 is lambda_0"
            notes.append(note)
            lam_0 = lam_0 if c_J == 0 else None
        else:
            notes.append("T = 0: the replicon is derived for one hidden layer with a nonlinear activation only")
        energy = -prof.free_entropy
        return Solution(model="mlp", params=model.public_params(), ansatz="rs", T=0.0, free_entropy=None,
                        energy=energy, entropy=None, order_parameters=ops, replicon=lam_0, converged=True,
                        residual=prof.residual, notes=notes, profile=profile)
    phi, e = prof.free_entropy, prof.energy
    try:
        lam_R = replicon(model.activation, prof, model.alphas, model.C_W, model.C_b)
    except ConvergenceError as exc:  # the solution stands; its stability is not known
        lam_R = None
        notes.append(f"replicon not evaluated: {exc}")
    return Solution(model="mlp", params=model.public_params(), ansatz="rs", T=float(T) if T is not None else 1 / b,
                    free_entropy=phi, energy=e, entropy=phi + b * e, order_parameters=ops, replicon=lam_R,
                    converged=True, residual=prof.residual, notes=notes, profile=profile)
