r"""Shaped finite-width MLP at fixed depth-to-width ratio: the continuum zipper (a two-point BVP).

Setting (issue 7, item 6; reference/winer_hanin_mlp.md §6, last item, "[NOT FOUND]" in the paper;
derived here).  A shaped activation :math:`\sigma_L(x) = x + \varepsilon^{1/2}\psi(x) + \varepsilon\varphi(x)
+ O(\varepsilon^{3/2})`, :math:`\varepsilon = 1/L` (Li, Nica & Roy 2022), widths :math:`\alpha_\ell = L/\tau`
(depth-to-width ratio :math:`\tau = L/\alpha` fixed), :math:`C_W = 1 + \omega\varepsilon`, :math:`C_b = 0`.

**The expanded layer block.**  The engine's block is :math:`\phi = \alpha[-\tfrac12(\Lambda_dQ_d - \Lambda_0Q_0)
+ G(P, \Lambda)]`.  The top condition :math:`\Lambda^{(L)} = \beta^2C_W/\alpha_L` makes
:math:`\Lambda = O(\varepsilon)`, so only two sectors of G survive at :math:`O(\varepsilon^2)`: the
:math:`O(\Lambda)` sector, which is the kernel map :math:`\tfrac12(\Lambda_dK_d - \Lambda_0K_0)` of
:math:`\sigma_L`, and the :math:`O(\Lambda^2)` sector at :math:`\sigma_L = \mathrm{id}`, the linear
network.  Hence (:func:`expanded_block`)

.. math::
   \phi_L = \phi_{\rm lin}(P,Q,\Lambda;\alpha,C_W) + \frac{\alpha\varepsilon}{2}\big[\Lambda_d\,\delta K(P_d,P_d)
   - \Lambda_0\,\delta K(P_d,P_0)\big] + O(\alpha\varepsilon^{3}),\qquad
   \delta K(s,c) = \mathbb E[\psi(u)\psi(v)] + 2c\,\mathbb E_{s}[\varphi'],

with :math:`\phi_{\rm lin}` the engine's closed-form linear block, :math:`\mathbb E[\psi\psi]` the
engine's kernel of :math:`\psi` (variance s, covariance c) and the :math:`\varphi` cross terms by
Stein's lemma.  The :math:`O(\varepsilon^{1/2})` sector is :math:`\sqrt\varepsilon\,\Lambda\cdot 2c\,
\mathbb E_s[\psi']`: it would give a drift :math:`\propto\sqrt L` and **no continuum limit**, so
:math:`\mathbb E[\psi'] = 0` (e.g. ψ even) is required and checked (:math:`\mathbb E_s[z\psi(z)] = 0`
by quadrature); for even ψ, :math:`\sigma_L(x;-\sqrt\varepsilon) = -\sigma_L(-x;\sqrt\varepsilon)` and G is
even in σ, so G has integer powers of ε only (:class:`~replicasym.errors.ParameterError`
otherwise).  The engine's :func:`~replicasym.symbolic.layered.layer_equations` then give the forward,
backward, top and input equations of :math:`\phi_L`.

**Continuum limit** (:func:`continuum_equations`, SymPy series in ε).  With :math:`t = \ell/L`,
:math:`Q^{(\ell)} = Q(t)`, :math:`\Lambda^{(\ell)} = \varepsilon\tau\lambda(t)` (so :math:`\lambda = \alpha\Lambda`),

.. math::
   \dot Q = \lim_{\varepsilon\to0}\frac{F(Q,\varepsilon\tau\lambda) - Q}{\varepsilon},\qquad
   \dot\lambda = -\lim_{\varepsilon\to0}\frac{B(Q,\varepsilon\tau\lambda)/(\varepsilon\tau) - \lambda}{\varepsilon},

with the boundary conditions :math:`Q(0) = (1, q)`, :math:`\lambda(1) = \lim T/(\varepsilon\tau)
= (\beta^2, \beta^2)` and the input equation :math:`q/(1-q)^2 = \lim R` (R of the engine's input
equation).  This is a two-point boundary-value problem (forward ODE for Q, backward for λ, one free
parameter q) solved by :func:`scipy.integrate.solve_bvp` (:func:`solve_shaped_bvp`).  The depth-to-width
ratio τ enters only through the :math:`O(\Lambda^2)` (finite-width) sector; :math:`\tau\to0` is the
GP limit :math:`\dot Q = \nu`-flow of :mod:`replicasym.kernels.shaped`.  Energy
:math:`e = -\beta(Q_d(1) - Q_0(1))`.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.integrate import solve_bvp

from ..errors import ConvergenceError, ParameterError
from ..kernels.activations import Activation, X, activation
from ..kernels.closed_forms import S1, S2, C
from ..kernels.evaluate import kernel_derivation
from ..kernels.quadrature import gauss_hermite
from ..kernels.shaped import shaped_expansion
from ..symbolic.gaussian import E, GaussianExpectation, closed_form, linearize
from ..symbolic.layered import ALPHA, ALPHA_NEXT, BETA, C_B, C_W, ETA, generic_equations, layer_equations
from ..symbolic.trace import Trace

__all__ = ["EPS", "OMEGA", "TAU", "BVPSolution", "ContinuumEquations", "continuum_equations", "discrete_profile",
           "expanded_block", "shaped_expansion", "solve_shaped_bvp"]

EPS = sp.Symbol("epsilon", positive=True)
TAU = sp.Symbol("tau", positive=True)
OMEGA = sp.Symbol("omega", real=True)


def _gauss(f: sp.Expr, s: sp.Symbol) -> sp.Expr:
    r""":math:`\mathbb E[f(z)]`, z ~ N(0, s): the engine's closed form (raises if there is none)."""
    out = closed_form(linearize(E(f.subs(X, sp.sqrt(s) * ETA), ETA)))
    if out.has(GaussianExpectation):
        raise ParameterError(f"no closed-form Gaussian average of {f}")
    return sp.simplify(out)


def _delta_kernel(psi: sp.Expr, phi: sp.Expr) -> sp.Expr:
    r""":math:`\delta K(s, c)` (module docstring) in the symbols (S1 = s, C = c) of the kernel engine."""
    s = S1
    out = 2 * C * _gauss(sp.diff(phi, X), s) if phi != 0 else sp.S.Zero
    if psi != 0:
        # the O(eps^1/2) sector: 2 c E_s[psi'] = 2 (c/s) E_s[z psi(z)] must vanish (else the drift ~ sqrt(L))
        z, w = gauss_hermite(60)
        f = sp.lambdify(X, psi, modules="numpy")
        for var in (0.5, 1.0, 2.0):
            if abs(float(np.sum(w * z * f(np.sqrt(var) * z)))) > 1e-10:
                raise ParameterError("E[psi'] != 0: the O(L^-1/2) term of the layer map does not cancel, the "
                                     "per-layer drift is O(L^-1/2) and there is no continuum limit at t = l/L")
        kd = kernel_derivation(Activation("psi", psi))
        if not kd.closed:
            raise ParameterError("the shaping psi has no closed-form kernel; the continuum BVP needs one")
        out += kd.kernel.subs(S2, S1)
    return out


def expanded_block(name: str, shape: float, trace: Trace):
    r"""The engine's linear block plus the shaped :math:`O(\Lambda)` sector (module docstring)."""
    psi, phi = shaped_expansion(name, shape)
    lin = generic_equations(activation("linear"), "finite").block
    (Pd, P0), (Ld, L0) = lin.prev, lin.conj
    dK = _delta_kernel(psi, phi)
    Kd = sp.simplify(dK.subs(C, S1).subs(S1, Pd))
    K0 = dK.subs(S1, Pd).subs(C, P0)
    trace.record("shaped activation", "sigma_L = x + eps^(1/2) psi + eps phi, eps = 1/L (series of the activation)",
                 [sp.Eq(sp.Symbol("psi"), psi), sp.Eq(sp.Symbol("varphi"), phi)])
    extra = ALPHA * EPS / 2 * (Ld * Kd - L0 * K0)
    trace.record("expanded block", "phi_L = phi_lin + alpha eps (Lambda_d dK(P_d,P_d) - Lambda_0 dK(P_d,P_0))/2, "
                 "dK = E[psi psi] + 2c E[phi']", sp.Eq(sp.Symbol("phi_L") - sp.Symbol("phi_lin"), extra))
    return dataclasses.replace(lin, phi=lin.phi + extra, trace=trace), (Kd, K0)


@dataclass(frozen=True)
class ContinuumEquations:
    r"""The continuum zipper: ``dQ`` (:math:`\dot Q_d, \dot Q_0`) and ``dlam`` (:math:`\dot\lambda_d,
    \dot\lambda_0`) as expressions in ``Q``, ``lam``, τ, ω; ``top`` = λ(1); ``input`` = q as a
    function of λ(0); ``trace``: the derivation steps."""

    name: str
    shape: float
    Q: tuple
    lam: tuple
    q: sp.Symbol
    dQ: tuple
    dlam: tuple
    top: tuple
    input: sp.Expr
    omega_preserving: sp.Expr
    trace: Trace

    @functools.cached_property
    def numpy(self):
        args = (*self.Q, *self.lam, self.q, TAU, OMEGA, BETA)
        return tuple(sp.lambdify(args, e, modules=["scipy", "numpy"]) for e in (*self.dQ, *self.dlam,
                                                                               *self.top, self.input))


@functools.lru_cache(maxsize=8)
def continuum_equations(name: str, shape: float = 1.0) -> ContinuumEquations:
    """Derive the continuum zipper of a shaped activation (module docstring): expanded block, the
    engine's layer equations, then series in eps = 1/L."""
    trace = Trace()
    block, (Kd, _) = expanded_block(name, float(shape), trace)
    eqs = layer_equations(block, trace)
    (Pd, P0), own, (Ld, L0) = block.prev, block.own, block.conj
    lam = tuple(sp.Symbol(f"lambda_{s}", real=True) for s in ("d", "0"))
    scale = {C_W: 1 + OMEGA * EPS, C_B: 0, ALPHA: 1 / (EPS * TAU), ALPHA_NEXT: 1 / (EPS * TAU)}

    def taylor(expr, order):
        """The eps^order Taylor coefficient at eps = 0 (derivatives: the expressions are smooth in eps)."""
        return sp.diff(expr, EPS, order).subs(EPS, 0) / sp.factorial(order)
    at_P = {Pd: own[0], P0: own[1], Ld: EPS * TAU * lam[0], L0: EPS * TAU * lam[1]}
    fwd = [f.xreplace(at_P).subs(scale) for f in eqs.forward]
    if any(sp.simplify(taylor(f, 0) - q) != 0 for f, q in zip(fwd, own)):
        raise ValueError("continuum: the forward map is not the identity at eps = 0")
    dQ = tuple(taylor(f, 1) for f in fwd)
    trace.record("continuum: forward", "Q^(l) = Q(t), Lambda^(l) = eps tau lambda(t): dQ/dt = lim (F - Q)/eps",
                 [sp.Eq(sp.Derivative(sp.Function(q.name)(sp.Symbol("t")), sp.Symbol("t")), d)
                  for q, d in zip(own, dQ)])
    nxt = dict(zip(eqs.next_conj, (EPS * TAU * lam[0], EPS * TAU * lam[1])))
    bwd = [b.xreplace(nxt).subs(scale) / TAU for b in eqs.backward]  # = eps * (lambda + eps * (-dlambda/dt))
    if any(taylor(b, 0) != 0 or sp.simplify(taylor(b, 1) - l_) != 0 for b, l_ in zip(bwd, lam)):
        raise ValueError("continuum: the backward map is not the identity at eps = 0")
    dlam = tuple(-taylor(b, 2) for b in bwd)
    trace.record("continuum: backward", "dlambda/dt = -lim (B/(eps tau) - lambda)/eps",
                 [sp.Eq(sp.Derivative(sp.Function(l_.name)(sp.Symbol("t")), sp.Symbol("t")), d)
                  for l_, d in zip(lam, dlam)])
    top = tuple(sp.simplify(taylor(v.subs(scale), 1) / TAU) for v in eqs.top)
    q = block.input_var
    rhs = sp.simplify(sp.limit(sp.cancel(eqs.input_rhs_expr.xreplace({Ld: EPS * TAU * lam[0], L0: EPS * TAU * lam[1]})
                                         .subs(scale)), EPS, 0))
    trace.record("continuum: boundary conditions", "Q(0) = (1, q); lambda(1) = lim Lambda^(L)/(eps tau); input "
                 "q = S(R) with R = lim of the engine's input right-hand side",
                 [sp.Eq(sp.Symbol("lambda(1)"), sp.Matrix(top).T), sp.Eq(sp.Symbol("R"), rhs),
                  sp.Eq(q, eqs.input_solution.subs(eqs.input_rhs, rhs))])
    omega = sp.simplify(-Kd.subs(Pd, 1))
    return ContinuumEquations(name, float(shape), own, lam, q, dQ, dlam, top, eqs.input_solution.subs(eqs.input_rhs, rhs),
                              omega, trace)


@dataclass
class BVPSolution:
    """The continuum profile: q, the grid t, Q(t) (2, n), lambda(t) (2, n), the energy and the
    solve_bvp residual; ``sol`` is the dense interpolant of (Q_d, Q_0, lambda_d, lambda_0)."""

    q: float
    t: np.ndarray
    Q: np.ndarray
    lam: np.ndarray
    energy: float
    residual: float
    sol: object


def _check(tau, beta):
    for n, v in (("tau", tau), ("beta", beta)):
        if not (np.isfinite(v) and v > 0):
            raise ParameterError(f"{n} must be a finite number > 0, got {v!r}")


def solve_shaped_bvp(name: str, shape: float = 1.0, tau: float = 1.0, beta: float = 1.0, omega: float | None = None,
                     tol: float = 1e-8, nodes: int = 41) -> BVPSolution:
    r"""Solve the continuum zipper BVP (module docstring) with :func:`scipy.integrate.solve_bvp`.

    ``omega``: :math:`\lim L(C_W - 1)`; default the diagonal-preserving value
    :math:`-\delta K(1,1)` (the GP-limit :math:`Q_d(t) = 1`)."""
    tau, beta = float(tau), float(beta)
    _check(tau, beta)
    ce = continuum_equations(name, float(shape))
    w = float(ce.omega_preserving) if omega is None else float(omega)
    fQd, fQ0, fld, fl0, td, t0, fq = ce.numpy

    def rhs(_t, y, p):
        a = (*y, p[0] + 0 * y[0], tau, w, beta)
        return np.vstack([np.broadcast_to(f(*a), y[0].shape) for f in (fQd, fQ0, fld, fl0)])

    def bc(ya, yb, p):
        q = p[0]
        return np.array([ya[0] - 1.0, ya[1] - q, yb[2] - td(*yb, q, tau, w, beta),
                         yb[3] - t0(*yb, q, tau, w, beta), q - fq(*ya, q, tau, w, beta)])

    t = np.linspace(0.0, 1.0, nodes)
    q0 = 0.5
    y0 = np.vstack([np.ones_like(t), q0 + 0 * t, beta**2 + 0 * t, beta**2 + 0 * t])
    with np.errstate(all="ignore"):
        sol = solve_bvp(rhs, bc, t, y0, p=[q0], tol=tol, max_nodes=20000)
    res = float(np.max(sol.rms_residuals)) if sol.rms_residuals.size else np.inf
    if not sol.success or not (0 < sol.p[0] < 1):
        raise ConvergenceError(f"shaped BVP ({name}, tau = {tau}, beta = {beta}): {sol.message}", residual=res)
    Q, lam = sol.y[:2], sol.y[2:]
    return BVPSolution(float(sol.p[0]), sol.x, Q, lam, float(-beta * (Q[0, -1] - Q[1, -1])), res, sol.sol)


def discrete_profile(name: str, depth: int, shape: float = 1.0, tau: float = 1.0, beta: float = 1.0,
                     omega: float | None = None):
    r"""The discrete zipper (:func:`replicasym.solvers.zipper.zipper`) at depth L, widths
    :math:`\alpha = L/\tau`, :math:`C_W = 1 + \omega/L` (default ω as in :func:`solve_shaped_bvp`):
    the :class:`~replicasym.solvers.zipper.Profile` whose :math:`\alpha\Lambda^{(\ell)}` compares to
    :math:`\lambda(\ell/L)`."""
    from .zipper import zipper
    depth = int(depth)
    if depth < 1:
        raise ParameterError(f"depth must be >= 1, got {depth}")
    _check(float(tau), float(beta))
    w = float(continuum_equations(name, float(shape)).omega_preserving) if omega is None else float(omega)
    eqs = generic_equations(activation(name, shape=shape, depth=depth), "finite")
    return zipper(eqs, [depth / float(tau)] * depth, float(beta), 1.0 + w / depth, 0.0)
