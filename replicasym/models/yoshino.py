r"""Yoshino's deep network of perceptrons: the design space of weights *and* hidden neurons.

**The system** (Yoshino, SciPost Phys. Core 2, 005 (2020), arXiv:1910.09918; the dense limit of
Yoshino, arXiv:2302.07419).  Layers :math:`\ell = 0,\dots,L` of N Ising neurons
:math:`S_i^\mu(\ell)=\pm1` for each of the :math:`M=\alpha c` data :math:`\mu`; perceptron
:math:`(i,\ell)`, :math:`\ell = 1..L`, has c inputs from layer :math:`\ell-1` and spherical weights
:math:`J_i(\ell)\in S^{c-1}(\sqrt c)` (uniform probability measure).  Every datum must be
reproduced with margin :math:`\kappa`:

.. math::  S_i^\mu(\ell)\, h_i^\mu(\ell)\ \ge\ \kappa,\qquad
           h_i^\mu(\ell) = \frac{1}{\sqrt c}\sum_k J_i^k(\ell)\,S_k^\mu(\ell-1),

with the input layer :math:`S(0)` and the output layer :math:`S(L)` clamped to the data (random
:math:`\pm1`, ``scenario="random"``, or the outputs of a teacher network of the same architecture with
uniform spherical weights, ``scenario="teacher"``).  The free entropy per weight is
:math:`\Phi = \lim\frac{1}{Nc}\mathbb E\log\sum_{S\,\rm hidden}\int dJ\,\prod\theta(Sh-\kappa)`.
At :math:`\kappa = 0` the hidden neurons are fixed by the weights, :math:`S = \mathrm{sign}(h)`,
so :math:`e^{Nc\Phi}` is the fraction of weights of a deep sign network that fits all the data.

**What the engine derives** (:meth:`YoshinoModel.derive`, RS).  Replicas of the whole machine;
overlaps :math:`Q_\ell` of the weights (:math:`\ell = 1..L`) and :math:`q_\ell` of the neurons
(:math:`q_0 = q_L = 1`: the clamped layers are common to all replicas), with conjugates
:math:`\hat q_\ell`.  In the dense limit the pre-activation of perceptron :math:`(i,\ell)` is a sum of
c weakly correlated terms, Gaussian over replicas with the Hadamard-product covariance
:math:`C_\ell = Q_\ell\circ q_{\ell-1}` (:meth:`~replicasym.symbolic.replica.ParisiMatrix.elementwise`).
Per layer the engine builds (reusing the perceptron's pieces)

* the weights' entropy :math:`\tfrac12\log\det Q_\ell` (:func:`~replicasym.symbolic.action.spherical_entropy`);
* **closure ``"cavity"`` (default, V2 of reference/yoshino_bahri.md):** the output neuron of each
  hidden perceptron is traced exactly together with its own constraint, and feels the downstream
  layer only through its conjugate :math:`\hat q_\ell` (the c weak downstream couplings of the
  tree-like dense limit):
  :math:`-\tfrac12\sum_{a\neq b}\hat q^{ab}_\ell q^{ab}_\ell + \log\sum_{\{S^a\}} e^{\frac12\sum_{a\ne b}
  \hat q_\ell^{ab}S^aS^b}\,\mathbb E_{h\sim C_\ell}\prod_a\theta(S^a h^a-\kappa)` -- the channel
  :math:`w(h) = \sum_S e^{vS}\theta(Sh-\kappa)` goes through
  :func:`~replicasym.symbolic.constraint.replicated_constraint` and the spin field v is decoupled by
  Hubbard--Stratonovich; the output layer is Gardner's term with covariance :math:`Q_L\circ q_{L-1}`;
* **closure ``"gaussian-gap"`` (V1, kept as an option):** the gaps :math:`r = S h` are taken Gaussian
  with covariance :math:`q_{\ell-1}\circ Q_\ell\circ q_\ell` and the neurons carry their own Ising
  entropy (:func:`~replicasym.symbolic.action.ising_entropy`).  This is *not* what the model gives:
  at :math:`\kappa=0` it lets layer 1 freeze although its constraints are always satisfiable by
  choosing :math:`S(1)=\mathrm{sign}\,h(1)`; see derivations/yoshino.md.

Then n -> 0 (random data) or, for the teacher, the Nishimori route: the teacher's label law is the
student's volume, :math:`P_T(\text{outputs}\mid\text{inputs}) = Z` at :math:`\kappa=0`, so
:math:`\mathbb E_T Z^n = 2^{NM}\,\mathbb E_{\rm rand}Z^{n+1}` and
:math:`\Phi_T = \partial_n S_{n+1}|_{n=0}` with the RS ansatz on the n+1 replicas (teacher included;
RS is exact on the Nishimori line).  Stationarity, fixed-point forms and the layer's weight replicon
:math:`\lambda_\ell = 1-\alpha(1-Q_\ell)^2 q_{\ell-1}^2\langle(\partial_u^2L)^2\rangle` (the
perceptron's, with the neurons held fixed) come from the engine as for the perceptron.

Numbers: :mod:`replicasym.solvers.yoshino` (the layer profile, transitions per layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy as sp

from ..derive import parse_ansatz
from ..errors import ParameterError
from ..parsing import parse_expression
from ..symbolic.action import ising_entropy, spherical_entropy
from ..symbolic.constraint import (
    OutputChannel,
    constraint_fields,
    gaussian_tail_form,
    hard_margin,
    replicated_constraint,
)
from ..symbolic.gaussian import E, closed_form, linearize
from ..symbolic.limit import replica_limit
from ..symbolic.replica import parisi
from ..symbolic.saddle import solve_linear
from ..symbolic.trace import Trace

__all__ = [
    "ALPHA",
    "CLOSURES",
    "KAPPA",
    "MAX_DEPTH",
    "SCENARIOS",
    "LayerBlocks",
    "YoshinoDerivation",
    "YoshinoModel",
    "yoshino",
]

ALPHA = sp.Symbol("alpha", positive=True)
KAPPA = sp.Symbol("kappa", real=True)
#: block arguments: weight overlap Q of the layer, neuron overlap p of the layer below, conjugate qh
#: and overlap q of the layer's own (hidden) neurons
Q_W, P_IN, Q_HAT, Q_OUT = sp.symbols("Q p qhat q", real=True)
_N = sp.Symbol("n", real=True)
_V = sp.Symbol("v", real=True)       # the spin cavity field inside the hidden channel
_Y = sp.Symbol("y", real=True)       # its Hubbard-Stratonovich field

CLOSURES = ("cavity", "gaussian-gap")
SCENARIOS = ("random", "teacher")
#: the deepest network solved (the profile solver's cost grows linearly with the depth)
MAX_DEPTH = 200


@dataclass
class LayerBlocks:
    r"""The engine's per-layer RS functionals, in the block arguments :data:`Q_W`, :data:`P_IN`,
    :data:`Q_HAT`, :data:`Q_OUT`:
    :math:`\Phi = \sum_{\ell=1}^L w(Q_\ell) + \alpha\sum_{\ell=1}^{L-1} h(Q_\ell, q_{\ell-1}, \hat q_\ell, q_\ell)
    + \alpha\, o(Q_L, q_{L-1})`, :math:`q_0 = 1`.  ``replicon_*`` are the susceptibilities
    :math:`q_{\ell-1}^2\langle(\partial_u^2L)^2\rangle` of the layer's constraint (random data)."""

    weights: sp.Expr
    hidden: sp.Expr
    output: sp.Expr
    replicon_hidden: sp.Expr | None
    replicon_output: sp.Expr | None


@dataclass
class YoshinoDerivation:
    """The engine's derivation: per-layer blocks and the assembled functional of one depth."""

    model: YoshinoModel
    ansatz: str
    blocks: LayerBlocks
    free_entropy: sp.Expr
    order_parameters: tuple
    equations: tuple
    fixed_point: dict
    replicon: tuple
    steps: Trace = field(default_factory=Trace)

    @property
    def zero_temperature(self):
        raise ParameterError("code generation is not available for yoshino (its nested log H expectations "
                             "are evaluated by replicasym.solvers.yoshino); use solve, phase, scan")

    def latex(self) -> str:
        b = self.blocks
        lines = [r"w(Q) = " + sp.latex(b.weights), r"h(Q,p,\hat q,q) = " + sp.latex(b.hidden),
                 r"o(Q,p) = " + sp.latex(b.output), "", r"\Phi = " + sp.latex(self.free_entropy), ""]
        lines += [sp.latex(eq) for eq in self.equations]
        return "\n".join(lines)

    def solve(self, T=None, beta=None, ansatz=None, precision=None):
        return self.model.solve(T=T, beta=beta, ansatz=ansatz or self.ansatz, precision=precision)


def layer_symbols(depth: int) -> tuple:
    """Per-layer order parameters: Q_1..Q_L, q_1..q_{L-1}, qhat_1..qhat_{L-1}."""
    Qs = tuple(sp.Symbol(f"Q_{i}", real=True) for i in range(1, depth + 1))
    qs = tuple(sp.Symbol(f"q_{i}", real=True) for i in range(1, depth))
    qhs = tuple(sp.Symbol(f"qhat_{i}", real=True) for i in range(1, depth))
    return Qs, qs, qhs


# -- derivation of the blocks ------------------------------------------------------------------
def _spin_channel(kappa: sp.Expr) -> OutputChannel:
    r"""The hidden perceptron's own output neuron traced with its constraint:
    :math:`w(h) = \sum_{S=\pm1} e^{vS}\theta(Sh-\kappa)`, v the neuron's cavity field."""
    return OutputChannel(lambda y, h: sp.Add(*[sp.exp(_V * s) * sp.Heaviside(s * h - kappa) for s in (-1, 1)]),
                         (1,), r"\sum_{S=\pm1} e^{vS}\theta(S h - \kappa)")


def _limit(S_n: sp.Expr, teacher: bool, trace: Trace, what: str) -> sp.Expr:
    """n -> 0 (random data) or the Nishimori route d/dn S_{n+1} at n = 0 (teacher), in the tail form."""
    if teacher:
        S1 = S_n.subs(_N, 1)
        const = sp.simplify(closed_form(linearize(sp.expand(S1))))
        trace.record(f"{what}: one replica", "the teacher is one more replica (Nishimori): S_{n+1}, "
                     "minus its n = 0 value S_1 (the normalisation of the teacher's label law)",
                     sp.Eq(sp.Symbol("S_1"), const))
        S_n = S_n.subs(_N, _N + 1) - S1
    phi = replica_limit(S_n, _N, trace)
    return gaussian_tail_form(sp.expand(closed_form(linearize(phi))))


def _derive_blocks(closure: str, teacher: bool, trace: Trace) -> LayerBlocks:
    Qm = parisi(_N, 1, [Q_W])
    Pm = parisi(_N, 1, [P_IN])
    qm = parisi(_N, 1, [Q_OUT])
    qhm = parisi(_N, 0, [Q_HAT])
    trace.record("ansatz", "RS Parisi forms of the weight overlaps Q, the input-neuron overlaps p = q_{l-1} "
                 "and the layer's own neuron overlaps q (diagonals 1) with conjugate qhat"
                 + (" on the n+1 replicas of teacher and students" if teacher else ""),
                 sp.Tuple(Qm.levels[0], Pm.levels[0], qm.levels[0], qhm.levels[0]))
    w = _limit(spherical_entropy(Qm, trace), teacher, trace, "weights")
    C_out = Qm.elementwise(Pm, lambda a, b: a * b)
    trace.record("dense limit", "the pre-activation h = J.S/sqrt(c) of a perceptron is a sum of c weakly "
                 "correlated terms: Gaussian over replicas with covariance C = Q o p (Hadamard product)",
                 sp.Eq(sp.Symbol("C"), C_out.levels[0]))
    out_con = replicated_constraint(C_out, hard_margin(KAPPA), constraint_fields(0), trace)
    o = _limit(out_con.log_average, teacher, trace, "output layer")
    if closure == "cavity":
        con = replicated_constraint(C_out, _spin_channel(KAPPA), constraint_fields(0), trace)
        spin_field = sp.sqrt(qhm.levels[0]) * _Y
        coupling = -sp.Rational(1, 2) * qm.elementwise(qhm, lambda a, b: a * b).offdiagonal_sum(lambda v: v)
        S_h = coupling - _N * Q_HAT / 2 + sp.log(E(sp.exp(con.log_average).subs(_V, spin_field), _Y))
        trace.record("hidden neurons (cavity)", "decouple (1/2) sum_{a!=b} qhat S^a S^b with the field "
                     "v = sqrt(qhat) y (the downstream layer's pull on the neuron); the neuron is summed inside "
                     "its own perceptron's channel", sp.Eq(sp.Symbol("S_n^{hidden}"), S_h))
        site = gaussian_tail_form(con.site_log(sp.Symbol("u", real=True), 1))
    else:
        C = Pm.elementwise(Qm, lambda a, b: a * b).elementwise(qm, lambda a, b: a * b)
        trace.record("gaussian gap", "closure V1: the gaps r = S h Gaussian with covariance "
                     "p o Q o q", sp.Eq(sp.Symbol("C"), C.levels[0]))
        con = replicated_constraint(C, hard_margin(KAPPA), constraint_fields(0), trace)
        ising, _, _ = ising_entropy(qm, qhm, sp.S.Zero, (_Y,), trace)
        S_h = ising + con.log_average
        site = gaussian_tail_form(con.site_log(sp.Symbol("u", real=True), 1))
    h = _limit(S_h, teacher, trace, "hidden layer")
    trace.record("layer blocks", "per layer: weights w(Q), hidden layer h(Q, p, qhat, q), output o(Q, p)",
                 [sp.Eq(sp.Symbol("w"), w), sp.Eq(sp.Symbol("h"), h), sp.Eq(sp.Symbol("o"), o)])
    rep_h = rep_o = None
    if not teacher:
        u = sp.Symbol("u", real=True)
        t = out_con.fields[0]
        rep_o = _susceptibility(gaussian_tail_form(out_con.site_log(u, 1)), u, out_con.cavity_field, t, None)
        scale = P_IN**2 * (Q_OUT**2 if closure == "gaussian-gap" else 1)
        rep_o = P_IN**2 * rep_o
        inner = site.subs(_V, sp.sqrt(Q_HAT) * _Y) if closure == "cavity" else site
        rep_h = scale * _susceptibility(inner, u, con.cavity_field, t, _Y if closure == "cavity" else None)
        trace.record("replicon per layer", "the layer's weight replicon with its neurons held fixed: "
                     "lambda_l = 1 - alpha (1 - Q_l)^2 gamma_l, gamma = (dC/dQ)^2 <(d^2 L/du^2)^2> "
                     "(the perceptron's single-site susceptibility)",
                     [sp.Eq(sp.Symbol("gamma_h"), rep_h), sp.Eq(sp.Symbol("gamma_o"), rep_o)])
    return LayerBlocks(w, h, o, rep_h, rep_o)


def _susceptibility(site: sp.Expr, u: sp.Symbol, cavity: sp.Expr, t: sp.Symbol, y: sp.Symbol | None) -> sp.Expr:
    """<(d^2 L/du^2)^2> over the RS fields (t for the constraint, y for the neuron's field)."""
    g = sp.diff(site, u, 2).subs(u, cavity) ** 2
    g = E(g, t)
    return E(g, y) if y is not None else g


_BLOCKS: dict = {}


def blocks(closure: str, teacher: bool) -> tuple[LayerBlocks, Trace]:
    """The engine's layer blocks (memoised per closure and scenario; kappa and alpha symbolic)."""
    key = (closure, teacher)
    if key not in _BLOCKS:
        trace = Trace()
        _BLOCKS[key] = (_derive_blocks(closure, teacher, trace), trace)
    return _BLOCKS[key]


def assemble(b: LayerBlocks, depth: int, trace: Trace | None = None) -> tuple[sp.Expr, tuple]:
    r""":math:`\Phi_L` in the per-layer symbols, and the order parameters (Q..., q..., qhat...)."""
    Qs, qs, qhs = layer_symbols(depth)
    prev = (sp.S.One, *qs)
    phi = sp.Add(*[b.weights.subs(Q_W, Q) for Q in Qs])
    for i in range(depth - 1):
        phi += ALPHA * b.hidden.subs({Q_W: Qs[i], P_IN: prev[i], Q_HAT: qhs[i], Q_OUT: qs[i]}, simultaneous=True)
    phi += ALPHA * b.output.subs({Q_W: Qs[-1], P_IN: prev[-1]}, simultaneous=True)
    if trace is not None:
        trace.record("assembly", f"depth L = {depth}: sum of the layer blocks with q_0 = 1 (clamped inputs) and "
                     "the clamped outputs in the output block", sp.Eq(sp.Symbol("Phi"), phi))
    return phi, (*Qs, *qs, *qhs)


def block_fixed_points(b: LayerBlocks, trace: Trace | None = None) -> dict:
    r"""Stationarity in fixed-point form, from the blocks: ``q`` from :math:`\partial_{\hat q}h = 0`
    (linear in q), ``qhat`` from :math:`\partial_q h + X = 0` with X the next layer's
    :math:`\partial_p` (linear in qhat), and ``W1`` the weights' force :math:`w'(Q)`."""
    X = sp.Symbol("X", real=True)
    out = {"q": solve_linear(sp.diff(b.hidden, Q_HAT), Q_OUT),
           "qhat": solve_linear(sp.diff(b.hidden, Q_OUT) + X, Q_HAT),
           "W1": sp.simplify(sp.diff(b.weights, Q_W))}
    if trace is not None:
        trace.record("saddle-point equations", "dPhi/dqhat_l = 0 solved for q_l; dPhi/dq_l = 0 solved for "
                     "qhat_l with X = d/dp of the next layer's block; dPhi/dQ_l = w'(Q_l) + alpha d/dQ(block) = 0",
                     [sp.Eq(Q_OUT, out["q"]), sp.Eq(Q_HAT, out["qhat"]), sp.Eq(sp.Symbol("w'(Q)"), out["W1"])])
    return out


# -- the model ---------------------------------------------------------------------------------
class YoshinoModel:
    """Yoshino's deep network of perceptrons (see the module docstring); ``alpha`` is needed to solve."""

    name = "yoshino"
    has_temperature = False

    def __init__(self, depth=4, alpha=None, scenario: str = "random", closure: str = "cavity", kappa=0.0):
        self.depth = _integer("depth", depth)
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ParameterError(f"yoshino: depth must be an integer in 1..{MAX_DEPTH}, got {depth!r}")
        self.scenario = _choice("scenario", scenario, SCENARIOS)
        self.closure = _choice("closure", closure, CLOSURES)
        self.kappa = _number("kappa", kappa)
        if not abs(self.kappa) <= 10:
            raise ParameterError(f"yoshino: kappa must satisfy |kappa| <= 10, got {kappa!r}")
        if self.scenario == "teacher" and self.kappa != 0:
            raise ParameterError("yoshino: the teacher scenario needs kappa = 0 (the teacher's labels are "
                                 "sign(h): only then is the student's volume the teacher's label law)")
        self.alpha = None if alpha is None else _number("alpha", alpha)
        if self.alpha is not None and not self.alpha > 0:
            raise ParameterError(f"yoshino: alpha must be > 0, got {alpha!r}")
        self._params = {"depth": self.depth, "scenario": self.scenario, "closure": self.closure,
                        "kappa": float(self.kappa)}
        if self.alpha is not None:
            self._params["alpha"] = float(self.alpha)

    def public_params(self) -> dict:
        return dict(self._params)

    @property
    def description(self) -> str:
        return (f"Yoshino's deep network of perceptrons, depth {self.depth}, {self.scenario} data, "
                f"{self.closure} closure, margin kappa")

    def derive(self, ansatz: str | None = "rs") -> YoshinoDerivation:
        if parse_ansatz(ansatz or "rs") != 0:
            raise ParameterError(f"yoshino: the engine derives the RS layer functional only, not {ansatz} "
                                 "(the per-layer replicon says where RS fails)")
        b, block_trace = blocks(self.closure, self.scenario == "teacher")
        trace = block_trace.copy()
        phi, variables = assemble(b, self.depth, trace)
        fp = block_fixed_points(b, trace)
        equations = tuple(sp.Eq(sp.diff(phi, v), 0) for v in variables)
        rep = ()
        if b.replicon_output is not None:
            Qs, qs, _ = layer_symbols(self.depth)
            prev = (sp.S.One, *qs)
            rep = tuple(1 - ALPHA * (1 - Qs[i]) ** 2 * (
                b.replicon_hidden.subs({Q_W: Qs[i], P_IN: prev[i], Q_HAT: sp.Symbol(f"qhat_{i + 1}", real=True),
                                        Q_OUT: qs[i]}, simultaneous=True) if i < self.depth - 1
                else b.replicon_output.subs({Q_W: Qs[i], P_IN: prev[i]}, simultaneous=True))
                for i in range(self.depth))
        return YoshinoDerivation(self, "rs", b, phi, variables, equations, fp, rep, trace)

    def solve(self, T=None, beta=None, ansatz: str | None = None, precision=None, alpha=None):
        """The RS layer profile at ``alpha`` (see :func:`replicasym.solvers.yoshino.profile`)."""
        from ..solvers.yoshino import profile
        if T is not None or beta is not None:
            raise ParameterError("yoshino: the design-space volume has no temperature: drop --T/--beta and "
                                 "give --alpha or --param alpha=...")
        if ansatz not in (None, "auto", "rs"):
            raise ParameterError(f"yoshino: only the rs ansatz is solved, not {ansatz}")
        if precision is not None:
            raise ParameterError("yoshino: arbitrary precision is not available (double-precision quadrature)")
        a = self.alpha if alpha is None else _number("alpha", alpha)
        if a is None:
            raise ParameterError("yoshino: give the load, --alpha A or --param alpha=A")
        if not a > 0:
            raise ParameterError(f"yoshino: alpha must be > 0, got {alpha!r}")
        return profile(self, float(a))

    def scan(self, alphas) -> list:
        from ..solvers.yoshino import scan
        return scan(self, [float(_number("alpha", a)) for a in alphas])

    def phase(self, precision=None) -> dict:
        from ..solvers.yoshino import phase
        if precision is not None:
            raise ParameterError("yoshino: arbitrary precision is not available")
        return phase(self)


def _choice(name, value, options):
    v = str(value).strip().lower()
    if v not in options:
        raise ParameterError(f"yoshino: {name} must be one of {', '.join(options)}, got {value!r}")
    return v


def _number(name, value) -> float:
    if isinstance(value, bool):
        raise ParameterError(f"yoshino: {name} must be a number, got {value!r}")
    try:
        v = parse_expression(value) if isinstance(value, str) else sp.sympify(value, strict=True)
        v = float(v)
    except (TypeError, ValueError, sp.SympifyError):
        raise ParameterError(f"yoshino: {name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ParameterError(f"yoshino: {name} must be finite, got {value!r}")
    return v


def _integer(name, value) -> int:
    v = _number(name, value)
    if v != int(v):
        raise ParameterError(f"yoshino: {name} must be an integer, got {value!r}")
    return int(v)


def yoshino(depth=4, alpha=None, scenario: str = "random", closure: str = "cavity", kappa=0.0) -> YoshinoModel:
    """Build Yoshino's deep network (``replicasym.models.build("yoshino", ...)``): ``depth`` L (weight
    layers), optional load ``alpha`` = M/c, ``scenario`` random | teacher, ``closure`` cavity |
    gaussian-gap, margin ``kappa``."""
    return YoshinoModel(depth, alpha, scenario, closure, kappa)
