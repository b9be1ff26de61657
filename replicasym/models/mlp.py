r"""A randomly initialised MLP seen as a Hamiltonian over its inputs (Winer & Hanin 2025), GP limit.

The system (DESIGN.md; reference/winer_hanin_mlp.md §2.1): inputs :math:`x\in S^{N-1}(\sqrt N)`,
:math:`L` hidden layers of width :math:`N_\ell=\alpha_\ell N`, weights
:math:`W^{(\ell)}_{ij}\sim N(0, C_W/\text{fan-in})` in every layer including the scalar output,
biases :math:`N(0, C_b)`, and :math:`H(x;\theta)=\sqrt N\, z^{(L+1)}(x;\theta)`.

When all widths go to infinity first (:math:`\alpha_\ell\to\infty`), :math:`H` is a centred Gaussian
field with :math:`\mathbb E[H(x)H(y)] = N\,\xi(x\cdot y/N)`, :math:`\xi = K^{(L+1)}` the NNGP kernel
map (Neal 1996; Lee et al. 2018):

.. math::  K^{(1)}(q) = C_b + C_W q,\qquad K^{(\ell+1)}(q) = C_b + C_W\,\mathbb E[\sigma(u)\sigma(v)],

so the model *is* a spherical mixed p-spin model with covariance :math:`\xi`.  This module only
describes that system: the activation, depth and variances go to the kernel map
(:mod:`replicasym.kernels.deep`), and :math:`\xi` enters the engine as a covariance function known
numerically (:mod:`replicasym.symbolic.covariance`); the disorder average, Parisi ansatz,
:math:`n\to0`, saddle-point equations, replicon and :math:`T\to0` functional are the engine's.

Shaped activations (``shaped_relu``, ``shaped_tanh``) are scaled with the network depth
(:math:`s_\pm = 1\pm c/\sqrt L`, Li, Nica & Roy 2022): their ``depth`` parameter defaults to the
network's.  Finite width (``alpha``: one ratio :math:`N_\ell/N` for every hidden layer or one per
layer) returns a :class:`FiniteWidthMLP`, solved through the layered action of
:mod:`replicasym.symbolic.layered` (one generic layer block) and the zipper solver.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..errors import ParameterError
from ..kernels.activations import BUILTINS, X
from ..kernels.activations import activation as make_activation
from ..kernels.closed_forms import C
from ..kernels.deep import MAX_DEPTH, DeepKernel
from ..kernels.shaped import ShapedKernel
from ..symbolic.covariance import covariance_function
from ..symbolic.trace import Trace
from .spec import OVERLAP, ModelSpec

__all__ = ["FiniteWidthMLP", "mlp"]


def _positive_int(name: str, value) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"mlp: {name} must be an integer between 1 and {MAX_DEPTH}, got {value!r}") from None
    if isinstance(value, bool) or not (math.isfinite(v) and v.is_integer() and 1 <= v <= MAX_DEPTH):
        raise ParameterError(f"mlp: {name} must be an integer between 1 and {MAX_DEPTH}, got {value!r}")
    return int(v)


def _variance(name: str, value, positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"mlp: {name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ParameterError(f"mlp: {name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return v


def mlp(activation: str | sp.Expr = "tanh", depth: int = 1, C_W: float = 1.0, C_b: float = 0.0, alpha=None,
        shape: float | None = None, slope: float | None = None, continuum: bool = False) -> ModelSpec:
    r"""The random-MLP Hamiltonian in the infinite-width (GP) limit: a spherical model with
    :math:`\xi = K^{(L+1)}`.

    ``activation``: a built-in name (``tanh``, ``relu``, ``sin``, ``erf``, ``linear``,
    ``shaped_relu``, ``shaped_tanh``, ...) or any expression in ``x`` (``"x*erf(x)"``), parsed by the
    whitelist parser; ``depth`` = L hidden layers; ``C_W``, ``C_b`` weight and bias variances;
    ``shape``/``slope``: parameters of shaped / leaky activations.  ``continuum=True`` (shaped
    activations only) is the depth -> oo limit: xi(q) = rho(1; q) from the correlation ODE of
    :mod:`replicasym.kernels.shaped`, normalised to xi(1) = 1 (depth, C_W, C_b not used)."""
    finite = alpha is not None and not (isinstance(alpha, (int, float)) and math.isinf(alpha))
    flag = str(continuum).strip().lower()
    if flag not in ("1", "true", "yes", "0", "false", "no"):
        raise ParameterError(f"mlp: continuum must be true or false, got {continuum!r}")
    if flag in ("1", "true", "yes"):
        if finite:
            raise ParameterError("mlp: continuum=true is the GP limit of a shaped network; drop alpha")
        return _continuum(str(activation).strip(), 1.0 if shape is None else shape)
    L = _positive_int("depth", depth)
    cw, cb = _variance("C_W", C_W, True), _variance("C_b", C_b, False)
    params = {}
    if shape is not None:
        params["shape"] = shape
    if slope is not None:
        params["slope"] = slope
    name = activation.strip() if isinstance(activation, str) else activation  # or a SymPy expression
    if isinstance(name, str) and name in BUILTINS and "depth" in BUILTINS[name][1]:
        params["depth"] = L  # shaped activations scale with the network depth
    act = make_activation(name, **params)
    if finite:
        return FiniteWidthMLP(act, _widths(alpha, L), cw, cb, {k: v for k, v in params.items() if k != "depth"})
    kernel = DeepKernel(act, L, cw, cb)
    xi = covariance_function(kernel)(OVERLAP)
    values = kernel(np.array([0.0, 1.0]), 1)
    if not (np.all(np.isfinite(values)) and values[0, 1] > 0 and values[1, 1] > 0):
        raise ParameterError(f"mlp: the kernel map gives xi(1) = {values[0, 1]:.6g}, xi'(1) = {values[1, 1]:.6g}; "
                             "a Hamiltonian needs both finite and > 0")
    options = {"activation": act.name, "depth": L, "C_W": cw, "C_b": cb}
    options.update({k: v for k, v in params.items() if k != "depth"})
    return ModelSpec(name="mlp", spins="spherical", xi=xi, options=options, steps=_kernel_steps(kernel, xi),
                     description=f"random MLP Hamiltonian (GP limit): activation {act.name}, depth {L}, "
                                 f"C_W = {cw:g}, C_b = {cb:g}; xi = K^(L+1), the NNGP kernel")


#: the largest finite width ratio (beyond it the GP limit, alpha omitted, is the model)
MAX_ALPHA = 1e12


def _widths(alpha, depth: int) -> tuple:
    """alpha_1..alpha_L from one number (every hidden layer) or one per layer."""
    values = list(alpha) if isinstance(alpha, (list, tuple)) else [alpha] * depth
    if len(values) != depth:
        raise ParameterError(f"mlp: alpha needs one value or one per hidden layer (depth = {depth}), "
                             f"got {len(values)}")
    out = []
    for v in values:
        try:
            a = float(v)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"mlp: alpha must be numbers, got {v!r}") from None
        if isinstance(v, bool) or not (math.isfinite(a) and 0 < a <= MAX_ALPHA):
            raise ParameterError(f"mlp: every alpha must be a finite number in (0, {MAX_ALPHA:g}], got {v!r}")
        out.append(a)
    return tuple(out)


class FiniteWidthMLP:
    r"""The random MLP at finite width, :math:`N_\ell = \alpha_\ell N` (reference/winer_hanin_mlp.md
    §3): the network only (activation, widths, variances).  The layered replica action, its
    saddle-point equations and trace are :mod:`replicasym.symbolic.layered`; the numbers come from the
    zipper solver :mod:`replicasym.solvers.zipper`."""

    name = "mlp"
    has_temperature = True
    spins = "spherical"

    def __init__(self, act, alphas: tuple, C_W: float, C_b: float, extra: dict):
        self.activation, self.alphas, self.C_W, self.C_b = act, alphas, C_W, C_b
        self._params = {"activation": act.name, "depth": len(alphas), "C_W": C_W, "C_b": C_b,
                        "alpha": list(alphas), **extra}
        tr = Trace()
        tr.record("network", "H(x) = sqrt(N) z^(L+1)(x), W ~ N(0, C_W/fan-in), b ~ N(0, C_b), hidden widths "
                  f"N_l = alpha_l N with alpha = {list(alphas)}, C_W = {C_W:g}, C_b = {C_b:g}, "
                  f"sigma(x) = {act.expr}", sp.Eq(sp.Function("sigma")(X), act.expr))
        self.steps = tuple(tr.steps)

    def public_params(self) -> dict:
        return dict(self._params)

    def derive(self, ansatz: str = "rs"):
        """The layered action with RS (``"rs"``/``"auto"``) or 1RSB (``"1rsb"``) for any depth."""
        from ..symbolic.layered import layered_derivation
        name = str(ansatz).strip().lower()
        if name not in ("rs", "auto", "1rsb"):
            raise ParameterError(f"finite-width mlp: the RS and 1RSB ansätze are derived (got {ansatz!r})")
        return layered_derivation(self, self.steps, 1 if name == "1rsb" else 0)

    def solve(self, T=None, beta=None, ansatz: str | None = "rs", precision=None):
        """RS: the zipper (any depth, T >= 0); 1RSB: one hidden layer at T > 0
        (:func:`replicasym.solvers.one_hidden_layer.solve_finite_width_rsb`)."""
        if ansatz is not None and str(ansatz).strip().lower() == "1rsb":
            from ..solvers.one_hidden_layer import solve_finite_width_rsb
            return solve_finite_width_rsb(self, T=T, beta=beta, precision=precision)
        from ..solvers.zipper import solve_layered
        return solve_layered(self, T=T, beta=beta, ansatz=ansatz, precision=precision)

    def phase(self, precision=None, T_max: float = 2.0, T_min: float = 0.05) -> dict:
        """Linear network: H(x) = g.x exactly (a p = 1 spherical model), replica symmetric at every T;
        E_gs and the ground-state hidden norms from the T = 0 zipper.  Nonlinear network: T_AT from the
        finite-alpha replicon (:func:`replicasym.solvers.zipper.replicon_line`, RS solutions from T_max
        down to T_min); the RS E_gs is ``solve(T=0)``, 1RSB below T_AT ``solve(T, ansatz="1rsb")`` (depth 1)."""
        if self.activation.expr == X:
            gs = self.solve(T=0, precision=precision)
            return {"model": "mlp", "params": self.public_params(), "T_c": None, "T_d": None, "T_s": None,
                    "T_AT": None, "T_1RSB": None, "zero_temperature_phase": "rs", "E_gs": gs.energy,
                    "E_gs_ansatz": "rs", "hidden_norms": gs.profile["Q_d"],
                    "notes": ["linear network: H(x) = g.x exactly, replica symmetric at every T"]}
        if precision is not None:
            raise ParameterError("the finite-width MLP is solved in double precision; drop --precision")
        from ..solvers.zipper import replicon_line
        line = replicon_line(self, T_max=T_max, T_min=T_min)
        T_AT = line["T_AT"]
        note = (f"finite-alpha replicon: RS unstable below T_AT = {T_AT:.6g}" if T_AT is not None else
                f"finite-alpha replicon > 0 from T = {T_max:g} down to T = {line['T_reached']:.4g} (RS stable there)")
        return {"model": "mlp", "params": self.public_params(), "T_c": None, "T_d": None, "T_s": None,
                "T_AT": T_AT, "T_1RSB": None, "zero_temperature_phase": None,
                "E_gs": None, "E_gs_ansatz": None, "replicon_line": {"T": line["T"], "replicon": line["replicon"]},
                "notes": [note, ("finite width: the RS ground state is solve(T=0) (Moreau envelope), 1RSB below T_AT is "
                                 "solve(T, ansatz='1rsb') for one hidden layer; the T = 0 phase is not decided here")]}


def _kernel_steps(kernel: DeepKernel, xi: sp.Expr) -> tuple:
    """The construction of xi as trace steps: the network, the kernel map, the activation's kernel."""
    q, l = OVERLAP, sp.Symbol("ell", integer=True)
    K = sp.Function("K")
    g = sp.Function("g")
    cw, cb = sp.nsimplify(kernel.C_W), sp.nsimplify(kernel.C_b)
    tr = Trace()
    tr.record("network", "H(x) = sqrt(N) z^(L+1)(x), W ~ N(0, C_W/fan-in), b ~ N(0, C_b), "
              f"L = {kernel.depth}, C_W = {kernel.C_W:g}, C_b = {kernel.C_b:g}, sigma(x) = {kernel.activation.expr}",
              sp.Eq(sp.Function("sigma")(X), kernel.activation.expr))
    tr.record("kernel map", "infinite width: K^(1)(q) = C_b + C_W q, K^(l+1) = C_b + C_W g(K^(l)), "
              "g(c) = E[sigma(u) sigma(v)], Var u = Var v = K^(l)(1), Cov(u, v) = c",
              sp.Tuple(sp.Eq(K(1, q), cb + cw * q), sp.Eq(K(l + 1, q), cb + cw * g(K(l, q)))))
    kd = kernel.derivation
    if kd.closed:
        tr.steps.extend(kd.trace.steps)
    else:
        tr.record("kernel (no closed form)", "g(c) = sum_k c_k^2/k! (c/s)^k from the Hermite coefficients "
                  "c_k = E[sigma(sqrt(s) z) He_k(z)] (Schoenberg: a power series with non-negative coefficients)",
                  sp.Eq(g(C), kd.integral))
    tr.record("GP limit", "E[H(x)H(y)] = N xi(x.y/N): a spherical mixed p-spin model with xi = K^(L+1); "
              f"xi(1) = {kernel(1.0, 0)[0]:.10g}, xi'(0) = {kernel(0.0, 1)[1]:.10g}, "
              f"xi'(1) = {kernel(1.0, 1)[1]:.10g}", sp.Eq(xi, K(kernel.depth + 1, q)))
    return tuple(tr.steps)


def _continuum(name: str, shape) -> ModelSpec:
    try:
        c = float(shape)
    except (TypeError, ValueError):
        raise ParameterError(f"mlp: shape must be a number, got {shape!r}") from None
    if not math.isfinite(c):
        raise ParameterError(f"mlp: shape must be finite, got {shape!r}")
    kernel = ShapedKernel(name, c)
    xi = covariance_function(kernel)(OVERLAP)
    return ModelSpec(name="mlp", spins="spherical", xi=xi,
                     options={"activation": name, "shape": c, "continuum": True},
                     description=f"random MLP Hamiltonian, depth continuum of the shaped activation {name} "
                                 f"(shape {c:g}); xi(q) = rho(1; q), xi(1) = 1")
