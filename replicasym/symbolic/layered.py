r"""Layered replica actions: one generic layer block, derived once, summed over the layers.

A random MLP at finite width (Winer & Hanin 2025; reference/winer_hanin_mlp.md §3) has the
replicated action, with :math:`N_\ell = \alpha_\ell N` and :math:`Q^{(0)} = q`,

.. math::
   S_n = \tfrac12\log\det q + \sum_{\ell=1}^{L}\alpha_\ell\Big[-\tfrac12\mathrm{Tr}\,\Lambda^{(\ell)}Q^{(\ell)}
   + \log\mathbb E_{z\sim N(0,\,C_b 11^T + C_W Q^{(\ell-1)})} e^{\frac12\sigma(z)^T\Lambda^{(\ell)}\sigma(z)}\Big]
   + \frac{\beta^2}{2}\sum_{ab}\big(C_b + C_W Q^{(L)}_{ab}\big).

Every layer has the same functional form, so the engine derives **one** block
:math:`\phi(P, Q, \Lambda;\alpha)` with generic symbols (:math:`P = Q^{(\ell-1)}`, :math:`Q = Q^{(\ell)}`,
:math:`\Lambda = \Lambda^{(\ell)}`) and the action is the sum of its copies with layer-indexed
symbols: the symbolic cost does not depend on the depth.  The block is built from the engine's
rules (:func:`layer_block`):

* the pre-activations :math:`z_a` are Gaussian with the Parisi covariance
  :math:`\Sigma = C_b 11^T + C_W P` (:meth:`~.replica.ParisiMatrix.elementwise`), written with the
  nested fields of DESIGN.md, :math:`z_a = \sqrt{\Sigma_0}\,\xi + \sqrt{\Sigma_d-\Sigma_0}\,\eta_a` (RS);
* the tilt :math:`\tfrac12\sum_{ab}\Lambda_{ab}\sigma_a\sigma_b` is decoupled by
  :func:`~.replica.hierarchical_decoupling` (a Hubbard--Stratonovich field u; the diagonal
  :math:`\tfrac12(\Lambda_d-\Lambda_0)\sigma^2` stays in the single replica);
* :math:`\mathrm{Tr}\,\Lambda Q` is a Parisi sum; :math:`n\to0` by :func:`~.limit.replica_limit`:

.. math::
   \phi = \alpha\Big[-\tfrac12(\Lambda_dQ_d - \Lambda_0Q_0)
   + \mathbb E_{\xi,u}\log\mathbb E_\eta\, e^{\sqrt{\Lambda_0}\,u\,\sigma(z) + \frac12(\Lambda_d-\Lambda_0)\sigma(z)^2}\Big].

The input term is :func:`~.action.spherical_entropy` (:math:`\tfrac12[\log(1-q)+q/(1-q)]`) and the
output layer's Gaussian average gives :math:`\tfrac{\beta^2C_W}{2}(Q^{(L)}_d - Q^{(L)}_0)`.

:func:`layer_equations` differentiates the pieces (SymPy) and solves the linear stationarity
conditions:

* **forward** :math:`\partial\phi/\partial\Lambda = 0` solved for Q: :math:`Q_d = \mathbb E\langle\sigma^2\rangle`,
  :math:`Q_0 = \mathbb E\langle\sigma\rangle^2` (Stein's lemma in u);
* **backward** :math:`\partial\phi_\ell/\partial Q + \partial\phi_{\ell+1}/\partial P = 0` solved for
  :math:`\Lambda^{(\ell)}` given :math:`(Q^{(\ell)}, \Lambda^{(\ell+1)})`;
* **top** :math:`\partial\phi_L/\partial Q + \partial(\text{output})/\partial Q = 0`:
  :math:`\Lambda^{(L)}_d = \Lambda^{(L)}_0 = \beta^2C_W/\alpha_L`;
* **input** :math:`\partial(\text{entropy})/\partial q + \partial\phi_1/\partial P_0 = 0`, i.e.
  :math:`q/(1-q)^2 = -2\,\partial\phi_1/\partial P_0`, solved for q;
* energy :math:`e = -\partial\Phi/\partial\beta = -\beta C_W(Q^{(L)}_d - Q^{(L)}_0)` and entropy
  :math:`s = \Phi + \beta e`.

These reproduce reference/winer_hanin_mlp.md §3.3 (checked in tests/test_finite_width.py).

**k-RSB** (``layer_block(act, trace, k)``).  The replica structure is the inputs', so the same Parisi hierarchy
(block sizes :math:`m_1..m_k`) is imposed on q, on every :math:`Q^{(\ell)}` and on every :math:`\Lambda^{(\ell)}`
(reference/winer_hanin_mlp.md §3.6).  The pre-activations become
:math:`z_a = \sum_i\sqrt{\Sigma_i-\Sigma_{i-1}}\,\xi_i + \sqrt{\Sigma_d-\Sigma_k}\,\eta_a`, with :math:`\xi_i` common to
the replicas of one level-i block; :func:`~.replica.hierarchical_decoupling` therefore averages :math:`\xi_i`
together with the Hubbard--Stratonovich field :math:`u_i` (its ``shared`` fields):
:math:`Z_{i-1} = (\mathbb E_{\xi_i,u_i}Z_i^{m_i})^{1/m_i}`, :math:`G = \mathbb E_{\xi_0,u_0}\log Z_0`.  The same
:func:`layer_equations` give the forward, backward and top equations (k + 2 each), one input condition per level
of q (``input_residuals``) and the block-size derivatives (``breakpoints``) whose sum over the network is
:math:`\partial\Phi/\partial m_i = 0`.  For one hidden layer :mod:`~.one_hidden_layer` reduces the action to
:math:`\Phi(q, m)`.  The RSB block keeps its nested averages (no closed form is attempted, even for the linear
network, whose RS solution is stable at every T).

**Zero temperature** (:func:`zero_temperature_block`).  The engine takes :math:`\beta\to\infty` with
:math:`Q_0 = Q_d - \chi/\beta`, :math:`\Lambda_0 = \beta^2\lambda`, :math:`\Lambda_d = \beta^2\lambda + \beta\mu`
(:math:`P_0` likewise with :math:`\chi_P`, :math:`q = 1 - \chi_0/\beta`) and :math:`E_0 = -\lim\Phi/\beta`.
When the block has a closed form (the linear network) this is :func:`sympy.limit`.  For a nonlinear
activation the single-replica average :math:`\frac1\beta\log\mathbb E_\eta e^{\beta[\sqrt\lambda u\sigma(z)
+ \frac12\mu\sigma(z)^2]}`, :math:`z = y + \sqrt{C_W\chi_P/\beta}\,\eta`, concentrates (Laplace,
:func:`~.envelope.laplace_limit`) on a **Moreau envelope**:

.. math::
   \phi_0 = \alpha\Big[-\tfrac12(\mu Q_d + \lambda\chi) + \mathbb E_{\xi,u}\max_z\Big(\sqrt\lambda\,u\,
   \sigma(z) + \tfrac12\mu\,\sigma(z)^2 - \frac{(z-y)^2}{2C_W\chi_P}\Big)\Big],
   \qquad y = \sqrt{C_b + C_WP_d}\;\xi,

with the ends :math:`1/2\chi_0` (input) and :math:`C_W\chi^{(L)}/2` (output).  The same
:func:`layer_equations` differentiate it: the :class:`~.envelope.Maximum` by the envelope theorem, so
:math:`Q_d = \mathbb E\,\sigma(z^*)^2`, :math:`\chi = \mathbb E[u\,\sigma(z^*)]/\sqrt\lambda`, backward
:math:`\lambda = \frac{\alpha'}{\alpha}\mathbb E\,\delta'^{*2}/(C_W\chi^2)` (:math:`\delta^* = z^* - y`),
top :math:`\mu_L = 0`, :math:`\lambda_L = C_W/\alpha_L`, input :math:`\alpha_1\mathbb E\,\delta^{*2} = C_W` (in
the form :math:`\chi_0 = 1/\sqrt{-2R}`).  The maximisation is over the activation's argument z, so the
parameters of y and s enter only the penalty and no derivative of σ appears: a kinked activation (ReLU)
is exact, its maximiser sitting on the kink for a window of y (:mod:`.envelope`).  Stein's lemma is **not** applied here: where the envelope is not concave
(:math:`C_W\chi_P\,\partial_z^2[\dots] > 1`, e.g. tanh at C_W = 4) the maximiser jumps, and the u-form keeps
the jump terms that an integration by parts would drop.  The expectations are evaluated by
:mod:`replicasym.solvers.envelope_quadrature`, which locates the jumps.

**Replicon** (:func:`replicon_kernels`; derived here, not in the reference).  Perturb the RS saddle in
the replicon sector, :math:`\delta q_{ab}, \delta Q^{(\ell)}_{ab}, \delta\Lambda^{(\ell)}_{ab}`
(:math:`a\ne b`, :math:`\sum_b\delta_{ab}=0`).  Per replica pair the action's second variation is
:math:`\tfrac12 v^TMv`, :math:`v=(\delta q, \delta Q^{(1)}, \delta\Lambda^{(1)}, \dots)`.  In a layer,
an off-diagonal :math:`\delta\Sigma_{ab}` acts on the Gaussian average as :math:`\partial_a\partial_b`
(heat equation) and :math:`\delta\Lambda_{ab}` as :math:`\sigma_a\sigma_b`; given the RS fields
(:math:`\xi`, u) the replicas are independent, so in the replicon combination
:math:`M_{ab,ab}-2M_{ab,ac}+M_{ab,cd}` the disconnected parts cancel and each replica of the pair
carries one derivative of its single-site function
:math:`\log Z_1(y,h) = \log\mathbb E_\eta e^{h\sigma(y+c\eta)+\frac12(\Lambda_d-\Lambda_0)\sigma^2}`
(:math:`c^2=\Sigma_d-\Sigma_0`, at :math:`y=\sqrt{\Sigma_0}\xi`, :math:`h=\sqrt{\Lambda_0}u`):

.. math::
   A_{ij} = \mathbb E_{\xi,u}\big[(\partial_i\partial_j\log Z_1)^2\big],\quad i,j\in\{y,h\},\qquad
   \tfrac12 v^TMv \ni \alpha_\ell\Big[-\delta\Lambda\,\delta Q + \tfrac12\big(C_W^2A_{yy}\delta P^2
   + 2C_WA_{yh}\delta P\,\delta\Lambda + A_{hh}\delta\Lambda^2\big)\Big]

(the AT averages :math:`\langle(\partial^2\log Z_1)^2\rangle`), plus :math:`-\delta q^2/2(1-q)^2` from
:math:`\frac12\log\det q`; the output term is linear in :math:`Q^{(L)}`.  Extremising layer by layer
from the top (a Schur complement; the zipper of the fluctuations) gives the curvature seen by
:math:`Q^{(\ell-1)}`:

.. math::
   K_L = 0,\qquad K_{\ell-1} = \alpha_\ell C_W^2\Big[A^{(\ell)}_{yy}
   + \frac{(A^{(\ell)}_{yh})^2K_\ell}{\alpha_\ell - A^{(\ell)}_{hh}K_\ell}\Big],\qquad
   \lambda_R = 1 - (1-q)^2K_0 .

As :math:`\alpha\to\infty` (:math:`\Lambda = O(1/\alpha)`) this is the spherical-model replicon
:math:`1-\beta^2\xi''(q)(1-q)^2` with :math:`\xi = K^{(L+1)}`; for the linear network
:math:`\Lambda_d=\Lambda_0` gives :math:`A_{yy}=0`, hence :math:`\lambda_R = 1` at every T and width.
The y-derivatives are taken after the Cameron--Martin shift
:math:`\mathbb E_\eta F(y+c\eta) = \mathbb E_\eta F(c\eta)e^{\eta y/c-y^2/2c^2}` (Hermite weights; no
derivative of the activation, so ReLU needs no delta function).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import sympy as sp

from ..kernels.activations import Activation, X
from .action import spherical_entropy
from .envelope import has_maximiser, laplace_limit
from .gaussian import E, GaussianExpectation, closed_form, linearize, stein
from .limit import replica_limit
from .replica import hierarchical_decoupling, parisi
from .saddle import solve_linear
from .trace import Trace

__all__ = [
    "ALPHA",
    "ALPHA_NEXT",
    "BETA",
    "CHI_IN",
    "C_B",
    "C_W",
    "N_REPLICAS",
    "Q_IN",
    "LayerBlock",
    "LayerEquations",
    "LayerObservables",
    "LayeredDerivation",
    "RepliconKernels",
    "generic_equations",
    "generic_replicon",
    "layer_block",
    "layer_equations",
    "layer_observables",
    "layer_symbols",
    "layered_derivation",
    "replicon_kernels",
    "zero_temperature_block",
]

N_REPLICAS = sp.Symbol("n", real=True)
BETA = sp.Symbol("beta", positive=True)
C_W = sp.Symbol("C_W", positive=True)
C_B = sp.Symbol("C_b", nonnegative=True)
ALPHA = sp.Symbol("alpha", positive=True)
ALPHA_NEXT = sp.Symbol("alpha'", positive=True)
Q_IN = sp.Symbol("q", positive=True)
CHI_IN = sp.Symbol("chi_0", positive=True)
XI, U, ETA = sp.symbols("xi u eta", real=True)
#: the maximisation variable of the zero-temperature (Moreau-envelope) block: the activation's argument z
Z_STAR = sp.Symbol("z", real=True)
#: the activation, opaque while the block is derived (Stein's lemma then acts on the HS field u only)
SIGMA = sp.Function("sigma", real=True)


def _pair(name: str, a: str, b: str, **assumptions) -> tuple:
    return sp.Symbol(f"{name}_{a}", **assumptions), sp.Symbol(f"{name}_{b}", **assumptions)


@dataclass(frozen=True)
class LayerBlock:
    r"""The generic layer block :math:`\phi(P, Q, \Lambda; \alpha)` and the terms that close the chain.

    ``prev``, ``own``, ``conj``: the symbols of :math:`Q^{(\ell-1)}`, :math:`Q^{(\ell)}`,
    :math:`\Lambda^{(\ell)}` (diagonal first, then the levels 0..k); ``input_vars``/``input_term``: the
    input overlaps and their entropy; ``sizes``: the Parisi block sizes (empty for RS); ``top_term``: the output layer's contribution (a function of ``own``);
    ``prev_input``: the values of ``prev`` for the first layer; ``temperature``: ``"finite"`` or
    ``"zero"`` (then ``phi`` is :math:`\lim\phi/\beta`)."""

    activation: Activation
    phi: sp.Expr
    prev: tuple
    own: tuple
    conj: tuple
    input_vars: tuple
    input_term: sp.Expr
    top_term: sp.Expr
    prev_input: tuple
    temperature: str = "finite"
    trace: Trace = field(default_factory=Trace, compare=False)
    sizes: tuple = ()

    @property
    def k(self) -> int:
        """The number of RSB steps (0: RS)."""
        return len(self.sizes)

    @property
    def input_var(self) -> sp.Symbol:
        """The input overlap q (RS) or susceptibility chi_0 (T = 0)."""
        if len(self.input_vars) != 1:
            raise ValueError("a replica-symmetry-broken block has one input overlap per level: use input_vars")
        return self.input_vars[0]

    @property
    def closed(self) -> bool:
        """True when no Gaussian expectation is left (closed-form block)."""
        return not self.phi.has(GaussianExpectation)

    @property
    def envelope(self) -> bool:
        """True for a zero-temperature block with a Moreau envelope (a nonlinear activation at T = 0)."""
        return has_maximiser(self.phi)


@dataclass(frozen=True)
class LayerEquations:
    r"""The stationarity conditions of the layered action, generic in the layer.

    ``forward``: own = F(prev, conj); ``backward``: conj = B(own, next_conj, alpha, alpha');
    ``top``: conj of the last layer = T(own, alpha); ``input``: the input variable as a function
    of ``input_rhs`` (a symbol ``R``), with ``input_rhs_expr`` = R(prev = prev_input, conj, alpha);
    ``residual_input``: the input stationarity condition (zero at the saddle);
    ``energy_top``: :math:`-\partial(\text{top term})/\partial\beta` (finite T) or the top term's
    share of :math:`E_0` (T = 0); ``input_residuals``: the input conditions, one per level of q (RSB:
    ``input_rhs_expr``/``input_solution`` are None, the conditions are solved with the rest);
    ``breakpoints``: per block size m_i, the derivatives of (input term, block, output term) by m_i,
    whose sum over the network is the condition dPhi/dm_i = 0."""

    block: LayerBlock
    next_conj: tuple
    forward: tuple
    backward: tuple
    top: tuple
    input_rhs: sp.Symbol
    input_rhs_expr: sp.Expr
    input_solution: sp.Expr
    residual_input: sp.Expr
    energy_top: sp.Expr
    input_residuals: tuple = ()
    breakpoints: tuple = ()


def layer_symbols(layer: int, block: LayerBlock) -> dict:
    """Generic own/conjugate symbols -> the symbols of hidden layer ``layer`` (1-based), e.g.
    ``Q_d`` -> ``Q^{(2)}_d``; ``prev`` -> layer - 1 (the input for layer 1)."""
    def indexed(s, ell):
        base, _, sub = s.name.partition("_")
        return sp.Symbol(f"{base}^{{({ell})}}" + (f"_{sub}" if sub else ""), **s.assumptions0)
    out = {s: indexed(s, layer) for s in (*block.own, *block.conj)}
    if layer == 1:
        out.update(dict(zip(block.prev, block.prev_input)))
    else:
        out.update({p: indexed(o, layer - 1) for p, o in zip(block.prev, block.own)})
    out[ALPHA] = sp.Symbol(f"alpha_{layer}", positive=True)
    return out


def _levels(name: str, k: int, **assumptions) -> tuple:
    """The symbols of one Parisi-structured matrix: (diagonal, level 0, ..., level k); RS keeps the
    names X_d, X_0."""
    return tuple(sp.Symbol(f"{name}_{s}", **assumptions) for s in ("d", *range(k + 1)))


def _sizes(k: int) -> tuple:
    """The Parisi block sizes m_1..m_k shared by q, every Q^(l) and every Lambda^(l) (``m`` for 1RSB)."""
    return (sp.Symbol("m", positive=True),) if k == 1 else tuple(sp.Symbol(f"m_{i}", positive=True)
                                                                 for i in range(1, k + 1))


def _fields(k: int) -> tuple:
    """The level fields (xi_i of the pre-activations, u_i of the Hubbard-Stratonovich decoupling)."""
    if k == 0:
        return (XI,), (U,)
    return (tuple(sp.Symbol(f"xi_{i}", real=True) for i in range(k + 1)),
            tuple(sp.Symbol(f"u_{i}", real=True) for i in range(k + 1)))


def layer_block(act: Activation, trace: Trace, k: int = 0) -> LayerBlock:
    r"""Derive the generic layer block at finite temperature with k steps of RSB (``k = 0``: RS; see the
    module docstring).  The same Parisi hierarchy (block sizes :math:`m_1..m_k`) is imposed on q, on every
    :math:`Q^{(\ell)}` and on every :math:`\Lambda^{(\ell)}`: the replica structure is the inputs', and
    every layer inherits it (reference/winer_hanin_mlp.md §3.6)."""
    if k < 0:
        raise ValueError(f"k-RSB needs k >= 0 (got {k})")
    n = N_REPLICAS
    m = _sizes(k)
    Pd, *Pl = P_ = _levels("P", k, real=True)
    Q_ = _levels("Q", k, real=True)
    L_ = _levels("Lambda", k, real=True)
    Sd, *Sl = _levels("Sigma", k, positive=True)
    xis, us = _fields(k)
    h = sp.Symbol("h", real=True)
    P = parisi(n, Pd, Pl, m)
    Sigma = P.elementwise(P, lambda a, _: C_B + C_W * a)
    trace.record("hidden layer", "given layer l-1, the pre-activations z_a of one neuron of layer l are "
                 "Gaussian with covariance Sigma = C_b 11^T + C_W Q^(l-1) (Parisi form, "
                 + ("RS)" if k == 0 else f"{k}RSB: the block sizes m are those of the inputs' overlaps)"),
                 [sp.Eq(Sd, Sigma.diagonal), *[sp.Eq(a, b) for a, b in zip(Sl, Sigma.levels)]])
    Q = parisi(n, Q_[0], Q_[1:], m)
    Lam = parisi(n, L_[0], L_[1:], m)
    steps = [sp.sqrt(s - (Sl[i - 1] if i else 0)) for i, s in enumerate(Sl)]
    z = sp.Add(*[c * x for c, x in zip(steps, xis)]) + sp.sqrt(Sd - Sl[-1]) * ETA
    site_avg = _site_average(act, lambda s: sp.exp(h * s + (L_[0] - L_[-1]) / 2 * s**2), z)
    site = sp.expand_log(sp.log(site_avg), force=True)
    trace.record("single replica", "z_a = sum_i sqrt(Sigma_i - Sigma_(i-1)) xi_i + sqrt(Sigma_d - Sigma_k) eta_a "
                 "(xi_i shared by the replicas of one level-i block); one replica in the Hubbard-Stratonovich field "
                 "h with the diagonal tilt (Lambda_d - Lambda_k) sigma^2/2 "
                 + ("(closed form)" if not site.has(GaussianExpectation) else "(no closed form: kept as E_eta)"),
                 sp.Eq(sp.Symbol("L_site"), site))
    Gn, _ = hierarchical_decoupling(Lam, lambda hh: site.subs(h, hh), sp.S.Zero, us, [(x,) for x in xis])
    trace.record("hubbard-stratonovich", "decouple sum_ab Lambda_ab sigma_a sigma_b level by level with u_i; the "
                 "covariance field xi_i of level i is averaged with u_i"
                 + (": G_n = log E_xi E_u exp(n L_site)" if k == 0 else
                    ": Z_(i-1) = (E_(xi_i, u_i) Z_i^(m_i))^(1/m_i), G_n = log E_(xi_0, u_0) Z_0^n"),
                 sp.Eq(sp.Symbol("G_n"), Gn))
    coupling = -sp.Rational(1, 2) * Lam.elementwise(Q, lambda a, b: a * b).sum(lambda v: v)
    S_layer = ALPHA * (coupling + Gn)
    trace.record("layer action", "delta-function for Q^(l) with conjugate Lambda^(l); N_l = alpha_l N neurons",
                 sp.Eq(sp.Symbol("S_n^{(l)}"), S_layer))
    phi = replica_limit(S_layer, n, trace)
    if k == 0 and not site.has(GaussianExpectation):  # RSB: the nested level averages stay (quadrature)
        phi = sp.expand(closed_form(linearize(sp.expand(sp.expand_log(phi, force=True)))))
    phi = phi.subs({Sd: Sigma.diagonal, **dict(zip(Sl, Sigma.levels))})
    trace.record("layer block", "phi(P, Q, Lambda; alpha) with Sigma = C_b + C_W P substituted; "
                 "the same block for every layer", sp.Eq(sp.Symbol("phi"), phi))
    # input: the uniform measure on the sphere; output: the last layer's Gaussian average
    q_levels = (Q_IN,) if k == 0 else tuple(sp.Symbol(f"q_{i}", positive=True) for i in range(k + 1))
    q_mat = parisi(n, 1, q_levels, m)
    input_term = replica_limit(spherical_entropy(q_mat, trace), n, trace)
    N, V, zJ = sp.Symbol("N", positive=True), sp.Symbol("V", positive=True), sp.Symbol("z_J", real=True)
    out_avg = closed_form(E(sp.exp(-BETA * sp.sqrt(N * V) * zJ), zJ))
    trace.record("output layer", "sum_a H(x_a) = sqrt(N) sum_a z^(L+1)(x_a) is Gaussian given layer L with "
                 "variance N V, V = sum_ab (C_b + C_W Q^(L)_ab)", sp.Eq(E(sp.exp(-BETA * sp.sqrt(N * V) * zJ), zJ),
                                                                      out_avg))
    top_n = sp.expand(sp.log(out_avg) / N).subs(V, Q.sum(lambda v: C_B + C_W * v))
    top_term = replica_limit(top_n, n, trace)
    return LayerBlock(act, phi, P_, Q_, L_, q_levels, input_term, top_term, (sp.S.One, *q_levels), "finite",
                      trace, m)


def _site_average(act: Activation, weight, z: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E_\eta[w(\sigma(z))]`: the engine's closed form when it has one, else kept as an
    expectation of the opaque sigma (the activation is substituted by :func:`_with_activation`)."""
    avg = closed_form(linearize(E(weight(act.expr.subs(X, z)), ETA)))
    return avg if not avg.has(GaussianExpectation) else E(weight(SIGMA(z)), ETA)


def zero_temperature_block(block: LayerBlock, trace: Trace) -> LayerBlock:
    r""":math:`\beta\to\infty` of the block in the rescaled variables (module docstring): :func:`sympy.limit`
    for a closed-form block, the Laplace rule (a Moreau envelope) for a block with an eta average left.
    RS only (the zero-temperature scaling of an RSB block, m = y/beta, is not derived)."""
    if block.k:
        raise ValueError("zero temperature: only the RS layer block has its beta -> oo limit derived")
    Pd, P0 = block.prev
    Qd, Q0 = block.own
    Ld, L0 = block.conj
    chiP, chiQ = sp.Symbol("chi_P", positive=True), sp.Symbol("chi", positive=True)
    mu, lam = sp.Symbol("mu", real=True), sp.Symbol("lambda", positive=True)
    subs = {P0: Pd - chiP / BETA, Q0: Qd - chiQ / BETA, L0: BETA**2 * lam, Ld: BETA**2 * lam + BETA * mu}
    t = sp.Symbol("t", positive=True)

    def lim(expr):
        scaled = sp.expand(sp.expand(expr.subs(subs) / BETA).subs(BETA, 1 / t))
        return sp.simplify(sp.limit(scaled, t, 0, "+"))
    if block.closed:
        phi0 = lim(block.phi)
    else:  # the eta average concentrates: a Moreau envelope (Laplace's method), then the rest term by term
        scaled = sp.expand(linearize(sp.expand(laplace_limit(block.phi.subs(subs), ETA, BETA, Z_STAR) / BETA)))
        phi0 = sp.Add(*[_leading(term, lim) for term in sp.Add.make_args(scaled)])
    trace.record("zero temperature: layer", "P_0 = P_d - chi_P/beta, Q_0 = Q_d - chi/beta, Lambda_0 = beta^2 lambda, "
                 "Lambda_d = beta^2 lambda + beta mu; phi_0 = lim phi/beta"
                 + ("" if block.closed else "; (1/beta) log E_eta exp(beta G(y + sqrt(s/beta) eta)) -> "
                    "max_z [G(z) - (z - y)^2/2s] (Laplace; a Moreau envelope)"),
                 sp.Eq(sp.Symbol("phi_0"), phi0))
    input0 = sp.limit(sp.expand(block.input_term.subs(Q_IN, 1 - CHI_IN / BETA) / BETA).subs(BETA, 1 / t), t, 0, "+")
    top0 = lim(block.top_term)
    trace.record("zero temperature: ends", "q = 1 - chi_0/beta; input and output terms divided by beta",
                 [sp.Eq(sp.Symbol("s_0"), input0), sp.Eq(sp.Symbol("t_0"), top0)])
    return LayerBlock(block.activation, phi0, (Pd, chiP), (Qd, chiQ), (mu, lam), (CHI_IN,), input0, top0,
                      (sp.S.One, CHI_IN), "zero", trace)


def _leading(term: sp.Expr, lim) -> sp.Expr:
    """The beta -> oo limit of one term of phi/beta after the Laplace rule: a beta-dependent coefficient
    (limit by ``lim``, applied to the term times beta) times a beta-free expectation."""
    coeff, rest = term.as_independent(GaussianExpectation, as_Add=False)
    if rest.has(BETA):
        raise ValueError(f"zero temperature: the expectation {rest} still depends on beta after the Laplace rule")
    return lim(coeff * BETA) * rest


def _rename(block: LayerBlock, next_conj: tuple) -> dict:
    """The next layer's block in terms of this layer: prev -> own, own -> the next layer's overlaps,
    conj -> next_conj, alpha -> alpha' (one simultaneous substitution)."""
    next_own = tuple(sp.Symbol(f"{q.name}'", **q.assumptions0) for q in block.own)
    return {**dict(zip(block.own, next_own)), **dict(zip(block.prev, block.own)),
            **dict(zip(block.conj, next_conj)), ALPHA: ALPHA_NEXT}


def layer_equations(block: LayerBlock, trace: Trace) -> LayerEquations:
    """Forward, backward, top and input equations of the layered action built from ``block``."""
    phi = block.phi
    next_conj = tuple(sp.Symbol(f"{c.name}'", **c.assumptions0) for c in block.conj)
    # Stein's lemma in u turns E[u <sigma>]/sqrt(Lambda_0) into E[<sigma^2> - <sigma>^2] (regular at Lambda_0 = 0)
    forward = tuple(_stein(_solve(sp.diff(phi, lam), q)) for lam, q in zip(block.conj, block.own))
    trace.record("forward", "dphi/dLambda = 0 solved for Q^(l) (given Q^(l-1) and Lambda^(l)); Stein's lemma in u"
                 + (" is not applied: the envelope's maximiser jumps" if has_maximiser(phi) else ""),
                 [sp.Eq(q, f) for q, f in zip(block.own, forward)])
    nxt = phi.xreplace(_rename(block, next_conj))
    backward = tuple(_solve(sp.diff(phi, q) + sp.diff(nxt, q), lam) for q, lam in zip(block.own, block.conj))
    trace.record("backward", "dphi_l/dQ^(l) + dphi_(l+1)/dQ^(l) = 0 solved for Lambda^(l) (given Q^(l) and "
                 "Lambda^(l+1))", [sp.Eq(lam, b) for lam, b in zip(block.conj, backward)])
    top = tuple(_solve(sp.diff(phi + block.top_term, q), lam) for q, lam in zip(block.own, block.conj))
    trace.record("top", "dphi_L/dQ^(L) + d(output)/dQ^(L) = 0", [sp.Eq(lam, v) for lam, v in zip(block.conj, top)])
    first = dict(zip(block.prev, block.prev_input))

    def at_input(e):
        return e.subs(first) if not e.has(GaussianExpectation) else e.xreplace(first)
    # one input condition per level of q: d(entropy)/dq_i + dphi_1/dP_i = 0
    residuals = tuple(sp.diff(block.input_term, x) + at_input(sp.diff(phi, p))
                      for x, p in zip(block.input_vars, block.prev[1:]))
    # the block sizes: dPhi/dm_i = d(entropy)/dm_i + sum_l dphi_l/dm_i + d(output)/dm_i = 0 (a sum over layers)
    breakpoints = tuple((sp.diff(block.input_term, m), sp.diff(phi, m), sp.diff(block.top_term, m))
                        for m in block.sizes)
    R = sp.Symbol("R", real=True)
    if block.k:
        rhs_expr = sol = None
        trace.record("input", "d(entropy)/dq_i + dphi_1/dP_i = 0 at P = (1, q_0, ..., q_k), one per level",
                     [sp.Eq(r, 0) for r in residuals])
        for m, (d_in, d_phi, d_top) in zip(block.sizes, breakpoints):
            trace.record("block size", f"dPhi/d{m} = d(entropy)/d{m} + sum_l dphi_l/d{m} + d(output)/d{m} = 0 "
                         "(the three derivatives; the block's is summed over the layers)",
                         [sp.Eq(sp.Derivative(sp.Symbol("s"), m), d_in), sp.Eq(sp.Derivative(sp.Symbol("phi"), m), d_phi),
                          sp.Eq(sp.Derivative(sp.Symbol("t"), m), d_top)])
    else:
        x = block.input_var
        rhs_expr = -at_input(sp.diff(phi, block.prev[1]))
        roots = [r for r in sp.solve(sp.Eq(sp.diff(block.input_term, x), R), x)]
        sol = _admissible_root(roots, R, block.temperature)
        trace.record("input", "d(entropy)/dq + dphi_1/dP_0 = 0, with R = -dphi_1/dP_0 at P = (1, q)",
                     [sp.Eq(sp.diff(block.input_term, x), R), sp.Eq(x, sol), sp.Eq(R, rhs_expr)])
    residual = residuals[0]
    energy_top = (-sp.diff(block.top_term, BETA) if block.temperature == "finite" else -block.top_term)
    if phi.has(SIGMA):
        act = block.activation
        trace.record("activation", "the block was derived for an opaque sigma; substitute the activation and its "
                     "derivatives", sp.Eq(SIGMA(X), act.expr))
        sub = functools.partial(_with_activation, act=act)
        block = dataclasses.replace(block, phi=sub(phi))
        forward, backward, top, residuals = (tuple(map(sub, v)) for v in (forward, backward, top, residuals))
        breakpoints = tuple(tuple(map(sub, b)) for b in breakpoints)
        rhs_expr, residual = (sub(rhs_expr) if rhs_expr is not None else None), residuals[0]
    return LayerEquations(block, next_conj, forward, backward, top, R, rhs_expr, sol, residual, energy_top,
                          residuals, breakpoints)


def _with_activation(expr: sp.Expr, act: Activation) -> sp.Expr:
    """Replace the opaque sigma(.) and its derivatives sigma^(k)(.) by the activation's expressions."""
    def derivative(e):
        k = e.expr.derivative_count
        return act.derivative(k).subs(X, e.point[0])
    expr = expr.replace(lambda e: isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative)
                        and e.expr.expr.func == SIGMA, derivative)
    if expr.has(sp.Derivative):
        raise ValueError("an unexpected derivative of sigma is left in the layer equations")
    return expr.replace(lambda e: getattr(e, "func", None) == SIGMA, lambda e: act.expr.subs(X, e.args[0]))


def _stein(expr: sp.Expr) -> sp.Expr:
    """Gaussian integration by parts, then constants out of the expectations (so that factors such
    as sqrt(Lambda_0) cancel); closed forms are returned as they are."""
    if not expr.has(GaussianExpectation):
        return expr
    if has_maximiser(expr):  # the maximiser jumps where the envelope is not concave: no integration by parts
        return expr
    out = linearize(stein(expr))
    return sp.Add(*[sp.expand(t, deep=False) for t in sp.Add.make_args(sp.expand(out, deep=False))])


def _solve(eq: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """The root of an equation linear in ``x`` (Gaussian expectations free of x are constants)."""
    if not eq.has(GaussianExpectation):  # rational: clear the (cancelled) denominators first
        num = sp.Poly(sp.numer(sp.cancel(sp.together(eq))), x)
        if num.degree() != 1:
            raise ValueError(f"the stationarity condition is not linear in {x} (degree {num.degree()})")
        a, b = num.all_coeffs()
        return sp.factor(-b / a)
    return solve_linear(eq, x)


def _admissible_root(roots: list, R: sp.Symbol, temperature: str) -> sp.Expr:
    """The root in (0, 1) (finite T: q) or > 0 (T = 0: chi_0), checked at R = ±1/2, ±2 (R has the
    sign of the input entropy's slope: positive at finite T, negative at T = 0)."""
    for sign in (1, -1):
        for r in roots:
            vals = [complex(r.subs(R, sign * v)) for v in (sp.Rational(1, 2), 2)]
            if all(abs(v.imag) < 1e-12 and v.real > 0 and (temperature == "zero" or v.real < 1) for v in vals):
                return sp.simplify(r)
    raise ValueError(f"no admissible root of the input equation among {roots}")


@dataclass(frozen=True)
class RepliconKernels:
    r"""The replicon sector of the layered RS action (module docstring, "Replicon").

    ``yy``, ``yh``, ``hh``: the per-layer kernels :math:`A_{yy}, A_{yh}, A_{hh}` as expressions in
    the generic block's ``prev`` (:math:`P_d, P_0`), ``conj`` (:math:`\Lambda_d, \Lambda_0`), C_W and
    C_b (Gaussian expectations over xi, u, eta left for the quadrature); ``recursion``: the curvature
    handed to the layer below, :math:`K_{\ell-1}` as a function of ``curvature`` (:math:`K_\ell`),
    ``alpha`` and the kernel symbols ``kernel_symbols``; ``replicon``: :math:`\lambda_R` as a function
    of :math:`K_0` (``curvature``) and the input overlap."""

    yy: sp.Expr
    yh: sp.Expr
    hh: sp.Expr
    kernel_symbols: tuple
    curvature: sp.Symbol
    recursion: sp.Expr
    replicon: sp.Expr
    top_curvature: sp.Expr


def replicon_kernels(block: LayerBlock, trace: Trace) -> RepliconKernels:
    r"""Derive the replicon of the layered RS action (module docstring, "Replicon").

    The single replica of the block in a shifted field, :math:`\log Z_1(y, h)` with
    :math:`Z_1 = \mathbb E_\eta\, e^{h\sigma(y + c\eta) + \frac12(\Lambda_d-\Lambda_0)\sigma^2}`,
    :math:`c = \sqrt{\Sigma_d-\Sigma_0}`, is differentiated by SymPy after the Cameron--Martin shift
    :math:`\mathbb E_\eta F(y + c\eta) = \mathbb E_\eta F(c\eta)\,e^{\eta y/c - y^2/2c^2}` (so that y
    only enters a smooth factor: no derivative of the activation is needed, ReLU included), and
    the shift is undone under each expectation.  The kernels are
    :math:`A_{ij} = \mathbb E_{\xi,u}[(\partial_i\partial_j\log Z_1)^2]` at :math:`y=\sqrt{\Sigma_0}\xi`,
    :math:`h = \sqrt{\Lambda_0}u`; the Schur complement of one layer's quadratic form gives the recursion."""
    if block.temperature != "finite":
        raise ValueError("the replicon kernels are derived for the finite-temperature block")
    act = block.activation
    (Pd, P0), (Ld, L0) = block.prev, block.conj
    Sd, S0 = _pair("Sigma", "d", "0", positive=True)
    y, h = sp.Symbol("y", real=True), sp.Symbol("h", real=True)
    c = sp.sqrt(Sd - S0)
    phi_shift = sp.Function("phi_y")(ETA, y)  # eta y/c - y^2/2c^2, opaque while differentiating
    d1, d2 = sp.symbols("d_1 d_2", real=True)  # d phi/dy and d^2 phi/dy^2 after the shift back: eta/c, -1/c^2
    shift_rules = {sp.Derivative(phi_shift, y): d1, sp.Derivative(phi_shift, (y, 2)): d2}
    Z = _site_average(act, lambda s: sp.exp(h * s + (Ld - L0) / 2 * s**2), c * ETA)
    closed = not Z.has(GaussianExpectation)
    if closed:  # the closed form is a function of c only: the shift is done by the engine's own rule
        Z = closed_form(linearize(E(sp.exp(h * act.expr.subs(X, y + c * ETA)
                                           + (Ld - L0) / 2 * act.expr.subs(X, y + c * ETA) ** 2), ETA)))
    else:
        Z = E(Z.integrand * sp.exp(phi_shift), ETA)
    logZ = sp.log(Z)

    def unshift(expr):
        if closed:
            return expr

        def one(e):
            f = e.integrand.xreplace(shift_rules).xreplace({sp.exp(phi_shift): sp.S.One})
            if f.has(phi_shift):
                raise ValueError("replicon kernels: the Cameron-Martin shift was not undone")
            f = f.xreplace({ETA: ETA + y / c}).xreplace({d1: ETA / c, d2: -1 / c**2})
            return E(f.replace(lambda a: a.has(ETA) and sp.expand(a - c * ETA - y) == 0, lambda a: y + c * ETA), ETA)
        return expr.replace(lambda e: isinstance(e, GaussianExpectation) and e.variable == ETA, one)
    second = {k: unshift(sp.diff(logZ, *v)) for k, v in (("yy", (y, 2)), ("yh", (y, h)), ("hh", (h, 2)))}
    if closed:
        second = {k: sp.factor(sp.cancel(v)) for k, v in second.items()}
    trace.record("replicon: single replica", "log Z_1(y, h) = log E_eta exp(h sigma(y + c eta) + (Lambda_d - "
                 "Lambda_0) sigma^2/2), c = sqrt(Sigma_d - Sigma_0); y-derivatives after the shift "
                 "E_eta F(y + c eta) = E_eta F(c eta) exp(eta y/c - y^2/2c^2)",
                 [sp.Eq(sp.Symbol(f"L_{{{k}}}"), v) for k, v in second.items()])
    at = {y: sp.sqrt(S0) * XI, h: sp.sqrt(L0) * U}
    sigma_sub = {Sd: C_B + C_W * Pd, S0: C_B + C_W * P0}

    def kernel(v):
        out = E(E(v.subs(at) ** 2, U), XI)
        if closed:
            out = closed_form(linearize(out))
        return out.subs(sigma_sub)
    A = {k: kernel(v) for k, v in second.items()}
    syms = tuple(sp.Symbol(f"A_{{{k}}}", real=True) for k in A)
    trace.record("replicon: kernels", "the replicon eigenvalue P - 2Q + R of d^2 G/dX_ab dY_cd (X, Y = Sigma, "
                 "Lambda off-diagonal; Sigma_ab acts as d_a d_b, Lambda_ab as sigma_a sigma_b): the "
                 "disconnected parts cancel, A_ij = E_(xi,u)[(d_i d_j log Z_1)^2]",
                 [sp.Eq(s_, v) for s_, v in zip(syms, A.values())])
    # one layer's quadratic form per replica pair (dP = dQ^(l-1), dQ = dQ^(l), dL = dLambda^(l)):
    # K dQ^2/2 - alpha dL dQ + alpha (C_W^2 A_yy dP^2 + 2 C_W A_yh dP dL + A_hh dL^2)/2
    K, dP, dQ, dL = sp.Symbol("K", real=True), *sp.symbols("dP dQ dL", real=True)
    Ayy, Ayh, Ahh = syms
    form = (K * dQ**2 / 2 - ALPHA * dL * dQ
            + ALPHA * (C_W**2 * Ayy * dP**2 + 2 * C_W * Ayh * dP * dL + Ahh * dL**2) / 2)
    crit = sp.solve([sp.diff(form, dQ), sp.diff(form, dL)], [dQ, dL], dict=True)[0]
    recursion = sp.factor(sp.diff(form.subs(crit), dP, 2))
    trace.record("replicon: layer recursion", "per replica pair, one layer's quadratic form in the replicon "
                 "sector, K dQ^2/2 - alpha dLambda dQ + alpha(C_W^2 A_yy dP^2 + 2 C_W A_yh dP dLambda + A_hh "
                 "dLambda^2)/2, extremised in dQ^(l), dLambda^(l): the curvature K_(l-1) seen by Q^(l-1); the "
                 "output term is linear in Q^(L), so K_L = 0",
                 sp.Eq(sp.Symbol("K_{l-1}"), recursion))
    q = block.input_var
    k_in = sp.diff(sp.log(1 - q), q)  # the replicon of (1/2) log det q per pair: -(q^-1 diagonal gap)^2
    lam = sp.factor(-(1 - q) ** 2 * (-k_in**2 + K))
    trace.record("replicon", "(1/2) log det q contributes -1/(1 - q)^2 per pair; lambda_R = -(1 - q)^2 x (the "
                 "curvature in dq) (alpha -> oo: 1 - beta^2 xi''(q)(1 - q)^2); RS stable where lambda_R > 0",
                 sp.Eq(sp.Symbol("lambda_R"), lam))
    return RepliconKernels(A["yy"], A["yh"], A["hh"], syms, K, recursion, lam, sp.S.Zero)


@functools.lru_cache(maxsize=16)
def generic_replicon(act: Activation) -> tuple:
    """(finite-temperature generic equations, their :class:`RepliconKernels` with the activation
    substituted), derived once and cached; the replicon steps are in ``kernels_trace``."""
    eqs = generic_equations(act, "finite")
    trace = Trace()
    rk = replicon_kernels(eqs.block, trace)
    if any(v.has(SIGMA) for v in (rk.yy, rk.yh, rk.hh)):
        sub = functools.partial(_with_activation, act=act)
        rk = dataclasses.replace(rk, yy=sub(rk.yy), yh=sub(rk.yh), hh=sub(rk.hh))
    return eqs, rk, trace


@functools.lru_cache(maxsize=16)
def generic_equations(act: Activation, temperature: str = "finite", k: int = 0) -> LayerEquations:
    """The generic layer equations of an activation (``"finite"`` or ``"zero"`` temperature; ``k`` steps
    of RSB), derived once and cached; the trace is ``equations.block.trace``."""
    trace = Trace()
    block = layer_block(act, trace, k)
    if temperature == "zero":
        block = zero_temperature_block(block, trace)
    return layer_equations(block, trace)


@dataclass(frozen=True)
class LayerObservables:
    r"""Thermal moments of one neuron of a hidden layer in the RS measure of the layered action
    (:func:`layer_observables`), as functions of (P, Lambda) of that layer: the pre-activation norm
    :math:`\mathbb E\langle z^2\rangle` and overlap :math:`\mathbb E\langle z\rangle^2`, and the same for
    :math:`\sigma(z)` (equal to the forward equations' :math:`Q_d, Q_0`)."""

    pre_norm: sp.Expr
    pre_overlap: sp.Expr
    post_norm: sp.Expr
    post_overlap: sp.Expr


@functools.lru_cache(maxsize=16)
def layer_observables(act: Activation) -> LayerObservables:
    r"""The hidden-layer observables measured by Monte Carlo (``|z^{(l)}|^2/N_l``, ``z_a\cdot z_b/N_l`` and
    the same for :math:`\sigma(z)`), in the RS measure of one neuron at finite width.

    Add the source :math:`\varepsilon\sum_a f(z_a) + \tfrac{\epsilon}{2}\sum_{a\ne b}f(z_a)f(z_b)` to the
    neuron's replicated weight :math:`\exp[\tfrac12\sum_{ab}\Lambda_{ab}\sigma_a\sigma_b]` of the block
    (:func:`layer_block`).  After the same Hubbard--Stratonovich decoupling of :math:`\Lambda_0` (field u)
    and the same Gaussian pre-activations :math:`z_a=\sqrt{\Sigma_0}\,\xi+\sqrt{\Sigma_d-\Sigma_0}\,\eta_a`,
    :math:`\Sigma = C_b + C_WP`, the replicas are independent given :math:`(\xi, u)` with the tilted
    single-replica measure :math:`\langle g\rangle = \mathbb E_\eta[g\,w]/\mathbb E_\eta[w]`,
    :math:`w = e^{\sqrt{\Lambda_0}u\sigma(z) + \frac12(\Lambda_d-\Lambda_0)\sigma(z)^2}`, so at n -> 0

    .. math::
       \partial_\varepsilon\,\cdot = \mathbb E_{\xi,u}\langle f(z)\rangle,\qquad
       \partial_\epsilon\,\cdot = \mathbb E_{\xi,u}\langle f(z)\rangle^2 .

    With :math:`f = z^2` resp. :math:`f = z` this gives the pre-activation norm and overlap, with
    :math:`f=\sigma^2`, :math:`\sigma` the post-activation ones, which are the forward equations
    (:func:`layer_equations`) before Stein's lemma (a check).  In the GP limit (:math:`\Lambda\to0`)
    they reduce to :math:`\Sigma_d`, :math:`\Sigma_0` and the kernel map.

    This function writes the result of that differentiation directly: the tilted single-replica mean of
    f in the block's fields.  The source is not added to :func:`layer_block` and differentiated by the
    pipeline, because the off-diagonal pre-activation source would need a second Hubbard--Stratonovich
    field coupled to u.  tests/test_finite_width.py checks the expressions against an independent
    quadrature, against the forward equations (post-activation), against the GP limit and against Monte
    Carlo."""
    Pd, P0 = _pair("P", "d", "0", real=True)
    Ld, L0 = _pair("Lambda", "d", "0", real=True)
    Sd, S0 = C_B + C_W * Pd, C_B + C_W * P0
    z = sp.sqrt(S0) * XI + sp.sqrt(Sd - S0) * ETA
    s = SIGMA(z)
    w = sp.exp(sp.sqrt(L0) * U * s + (Ld - L0) / 2 * s**2)
    norm = E(w, ETA)

    def mean(f):
        return E(f * w, ETA) / norm

    def average(g):
        return _with_activation(E(E(g, U), XI), act)
    return LayerObservables(average(mean(z**2)), average(mean(z)**2), average(mean(s**2)), average(mean(s)**2))


@dataclass
class LayeredDerivation:
    r"""What :func:`replicasym.derive` returns for a finite-width MLP: the free entropy of the whole
    network (layer-indexed copies of the generic block), the generic equations and the trace."""

    model: object
    generic: LayerEquations
    free_entropy: sp.Expr
    equations: tuple
    steps: Trace
    order_parameters: tuple
    ansatz: str = "rs"
    replicon: None = None

    def latex(self) -> str:
        return self.steps.markdown()

    @property
    def zero_temperature(self):
        """Code generation reads this first; a layered derivation has no generated module (its numerics
        are the zipper's compiled generic block), so say so in one line."""
        from ..errors import ParameterError
        raise ParameterError("codegen: the finite-width mlp (alpha) has no generated module yet; it is solved "
                             "by the zipper (replicasym.solvers.zipper) from the compiled generic layer block")


def layered_derivation(model, steps=(), k: int = 0) -> LayeredDerivation:
    """The RS (``k = 0``) or k-RSB derivation of a layered model (``model.activation``, ``model.alphas``):
    the generic block's trace, then the network's free entropy as the sum of the layer-indexed blocks."""
    eqs = generic_equations(model.activation, "finite", k)
    b = eqs.block
    trace = Trace(list(steps) + list(b.trace.steps))
    L = len(model.alphas)
    maps = [layer_symbols(ell, b) for ell in range(1, L + 1)]
    phi = b.input_term + sp.Add(*[b.phi.xreplace(m) for m in maps]) + b.top_term.xreplace(maps[-1])
    trace.record("network", f"the action of the depth-{L} network: input entropy + one block per layer "
                 "(layer-indexed symbols) + output term", sp.Eq(sp.Symbol("Phi"), phi))
    if k:
        dPhi = [sp.Eq(sp.Derivative(sp.Symbol("Phi"), m), d_in + sp.Add(*[d.xreplace(mp) for mp in maps])
                      + d_top.xreplace(maps[-1])) for m, (d_in, d, d_top) in zip(b.sizes, eqs.breakpoints)]
        inputs = [*[sp.Eq(r, 0) for r in eqs.input_residuals], *dPhi]
    else:
        inputs = [sp.Eq(b.input_var, eqs.input_solution), sp.Eq(eqs.input_rhs, eqs.input_rhs_expr)]
    equations = (*[sp.Eq(q, f) for q, f in zip(b.own, eqs.forward)],
                 *[sp.Eq(lam, v) for lam, v in zip(b.conj, eqs.backward)],
                 *[sp.Eq(sp.Symbol(f"{lam.name}^{{(L)}}"), v) for lam, v in zip(b.conj, eqs.top)], *inputs)
    ops = (*b.input_vars, *b.sizes, *[m[s] for m in maps for s in (*b.own, *b.conj)])
    return LayeredDerivation(model, eqs, phi, equations, trace, ops, "rs" if k == 0 else f"{k}rsb")
