r"""The replica prediction beside the simulation, with the deviation in error-bar units.

:func:`predict` asks the engine (``replicasym.models.build`` + ``replicasym.solve``) for the
model the simulation ran; :func:`compare` lines the numbers up with an
:class:`~.simulation.MCResult`.

* energy, free entropy, entropy: the solution's values (the entropy and free entropy of a
  simulation come from thermodynamic integration, so they need ``tempering >= 2``);
* overlaps: the replica overlap distribution of the solution,
  :math:`P(q)=\sum_i (m_{i+1}-m_i)\,\delta(q-q_i)` (RS: :math:`\delta(q-q_0)`; full RSB: the profile
  :math:`x(q)`), symmetrised when the Hamiltonian is even (:math:`H(-x)=H(x)`, e.g. SK without a
  field), gives :math:`\langle q\rangle` and :math:`\langle q^2\rangle`;
* MLP hidden layers in the GP limit (the engine's ``mlp`` model): a Gibbs input has the typical
  layer statistics of the kernel map (reference/winer_hanin_mlp.md §2.1, §3.4: the layer tilts
  :math:`\Lambda^{(\ell)}\propto1/\alpha_\ell` vanish),
  :math:`|z^\ell|^2/N_\ell=K^{(\ell)}(1)`, :math:`|\sigma(z^\ell)|^2/N_\ell=(K^{(\ell+1)}(1)-C_b)/C_W`,
  and between replicas :math:`\mathbb E_{P(q)}K^{(\ell)}(q)`, :math:`\mathbb E_{P(q)}(K^{(\ell+1)}(q)-C_b)/C_W`;
* linear MLP at finite width (:math:`C_b=0`): the exact :func:`linear_layer_norms`.

A deviation is :math:`(O_{\rm MC}-O_{\rm replica})/\mathrm{err}`; ``agree`` is
:math:`|\text{deviation}|\le3`.  Finite-N simulations carry finite-size biases (e.g.
:math:`\langle q^2\rangle=O(1/N)` in a paramagnet): :mod:`.validation` extrapolates in N where it
matters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from .observables import Estimate
from .simulation import MCResult

__all__ = ["Comparison", "Row", "compare", "linear_layer_norms", "overlap_moments", "predict",
           "replica_model"]

#: agreement threshold in standard errors
THRESHOLD = 3.0


@dataclass
class Row:
    """One observable: replica value, simulation estimate, deviation in error bars."""

    observable: str
    replica: float | None
    mc: Estimate
    source: str = "engine"
    note: str = ""

    @property
    def deviation(self) -> float | None:
        if self.replica is None or not (math.isfinite(self.mc.err) and self.mc.err > 0):
            return None
        return (self.mc.mean - self.replica) / self.mc.err

    @property
    def agree(self) -> bool | None:
        d = self.deviation
        return None if d is None else abs(d) <= THRESHOLD

    def as_dict(self) -> dict:
        return {"observable": self.observable, "replica": self.replica, "mc": self.mc.mean,
                "err": self.mc.err if math.isfinite(self.mc.err) else None,
                "deviation_sigma": self.deviation, "agree": self.agree, "source": self.source,
                "note": self.note}


@dataclass
class Comparison:
    """Rows of replica value against simulation for one simulated point."""

    model: str
    params: dict
    N: int
    T: float
    ansatz: str
    rows: list
    solution: dict | None = None
    notes: list = field(default_factory=list)

    @property
    def agree(self) -> bool:
        """All comparable rows within the threshold."""
        return all(r.agree is not False for r in self.rows)

    def as_dict(self) -> dict:
        return {"ansatz": self.ansatz, "threshold_sigma": THRESHOLD, "agree": self.agree,
                "rows": [r.as_dict() for r in self.rows], "replica_solution": self.solution,
                "notes": list(self.notes)}

    def table(self) -> str:
        """A plain-text table."""
        lines = [f"{'observable':<24} {'replica':>12} {'simulation':>22} {'dev/err':>8}  agree"]
        for r in self.rows:
            rep = "-" if r.replica is None else f"{r.replica:.6g}"
            dev = "-" if r.deviation is None else f"{r.deviation:+.2f}"
            ok = "-" if r.agree is None else ("yes" if r.agree else "NO")
            lines.append(f"{r.observable:<24} {rep:>12} {r.mc!s:>22} {dev:>8}  {ok}"
                         + (f"  ({r.note})" if r.note else ""))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the engine's side
# ---------------------------------------------------------------------------------------------
def replica_model(model: str, params: dict):
    """The engine's model for a simulation's ``model``/``params`` and a list of notes.

    The MLP's width ratios ``alpha`` are passed to the engine, which answers the GP limit when it
    has no finite-width theory (then the prediction is the GP limit and a note says so)."""
    from .. import models

    params = dict(params or {})
    notes = []
    if model in ("sk", "spherical"):
        return models.build(model, **params), notes
    if model == "mlp":
        gp = {k: v for k, v in params.items() if k != "alpha"}
        if "alpha" in params:
            try:
                return models.build("mlp", **params), notes
            except ParameterError:
                notes.append(f"the engine has no finite-width prediction: the GP limit (alpha -> oo) is shown "
                             f"for the simulated widths alpha = {params['alpha']}")
        return models.build("mlp", **gp), notes
    if model == "perceptron":
        if "perceptron" not in models.MODELS:
            raise ParameterError("no replica prediction for the perceptron in this version")
        return models.build("perceptron", **params), notes
    raise ParameterError(f"no replica prediction for model {model!r}")


def overlap_moments(solution: dict, symmetric: bool) -> dict:
    r""":math:`\langle q\rangle`, :math:`\langle q^2\rangle` of the replica overlap distribution of a
    solution (``Solution.as_dict()``): levels ``q``/``q0..qk`` with breakpoints ``m1..mk`` (a
    missing q0 is 0), or the full-RSB profile ``{"q": [...], "x": [...]}``.  ``symmetric``: the
    distribution is symmetrised (:math:`\langle q\rangle = 0`)."""
    prof = solution.get("profile") or {}
    if "q" in prof and "x" in prof:
        q = np.asarray(prof["q"], dtype=float)
        x = np.asarray(prof["x"], dtype=float)
        w = np.diff(np.concatenate([[0.0], x, [1.0]]))  # dx(q): mass at each grid point and q_max
        levels = np.concatenate([q, [q[-1]]])
    else:
        ops = solution.get("order_parameters") or {}
        if "q" in ops:
            levels, w = np.array([float(ops["q"])]), np.array([1.0])
        else:
            qs = sorted((k for k in ops if k[0] == "q" and k[1:].isdigit()), key=lambda k: int(k[1:]))
            ms = sorted((k for k in ops if k[0] == "m" and k[1:].isdigit() or k == "m"),
                        key=lambda k: int(k[1:] or 1))
            if not qs:
                raise ParameterError(f"the solution has no overlap order parameter: {sorted(ops)}")
            k = len(ms)
            levels = [float(ops[n]) for n in qs]
            if len(levels) == k:  # q0 = 0 omitted (no field)
                levels = [0.0] + levels
            m = [0.0] + [float(ops[n]) for n in ms] + [1.0]
            levels, w = np.array(levels), np.diff(m)
    mean = 0.0 if symmetric else float(np.sum(w * levels))
    return {"q": mean, "q2": float(np.sum(w * levels**2)), "weights": w, "levels": levels}


def _layer_predictions(model_params: dict, moments: dict) -> list[dict]:
    """GP-limit layer statistics (see the module docstring), per hidden layer."""
    from ..kernels.deep import DeepKernel

    act = model_params.get("activation", "tanh")
    depth = int(model_params.get("depth", 1))
    cw, cb = float(model_params.get("C_W", 1.0)), float(model_params.get("C_b", 0.0))
    levels, w = moments["levels"], moments["weights"]
    out = []
    for l in range(1, depth + 1):
        pre = DeepKernel(act, l - 1, cw, cb)     # K^(l)
        post = DeepKernel(act, l, cw, cb)        # K^(l+1)
        K_l = pre(np.concatenate([[1.0], levels]))[0]
        K_next = post(np.concatenate([[1.0], levels]))[0]
        out.append({"pre_norm": float(K_l[0]), "post_norm": float((K_next[0] - cb) / cw),
                    "pre_overlap": float(np.sum(w * K_l[1:])),
                    "post_overlap": float(np.sum(w * (K_next[1:] - cb) / cw))})
    return out


def linear_layer_norms(C_W: float, alpha: list[float], q: float) -> list[float]:
    r"""Exact per-neuron hidden norms :math:`|z^\ell|^2/N_\ell` of a Gibbs input of the **linear**
    MLP at finite width, :math:`C_b=0`:

    .. math:: |z^\ell|^2/N_\ell = C_W^\ell\Big(1 + q\sum_{k\le\ell}\frac1{\alpha_k}\Big),

    with :math:`q` the replica overlap (RS, :math:`q\to1` at T = 0).  Derivation: :math:`H=g\cdot x`
    with :math:`g=\sqrt N A_L^\top v`; a Gibbs input is :math:`x=\sqrt N(c\,\hat g+\sqrt{1-c^2}\,u)`,
    :math:`u` uniform on the sphere orthogonal to :math:`\hat g`, :math:`c^2=q`; with
    :math:`A_\ell=W^{(\ell)}\cdots W^{(1)}`, :math:`\mathrm{Tr}A_\ell^\top A_\ell/N_\ell\to C_W^\ell` and
    :math:`(N/N_\ell)\,\hat g^\top A_\ell^\top A_\ell\hat g\to C_W^\ell(1+\sum_{k\le\ell}1/\alpha_k)`
    (second moment of a product of Wishart matrices; reference/winer_hanin_mlp.md §5.2, whose
    T = 0 statement is the case q = 1)."""
    out, acc = [], 0.0
    for l, a in enumerate(alpha, start=1):
        acc += 1.0 / a
        out.append(C_W**l * (1.0 + q * acc))
    return out


def finite_width_layers(spec, solution) -> list[dict]:
    r"""Per hidden layer of a finite-width MLP, the replica prediction of the simulated norms and overlaps
    (pre- and post-activation) from the RS profile of ``solution``
    (:func:`replicasym.solvers.zipper.layer_moments`)."""
    from ..solvers.zipper import Profile, layer_moments

    prof = solution.profile
    Q = np.column_stack([prof["Q_d"], prof["Q_0"]])
    Lam = np.column_stack([prof["Lambda_d"], prof["Lambda_0"]])
    p = Profile(solution.order_parameters["q"], Q, Lam, solution.free_entropy, solution.energy,
                solution.residual, 0, 0, rule=None)  # the quadrature rule is chosen again by refinement
    return layer_moments(spec.activation, p, spec.alphas, spec.C_W, spec.C_b)


def predict(model: str, params: dict, T: float, ansatz: str = "auto", symmetric: bool = False,
            alpha: list[float] | None = None) -> dict:
    """The engine's numbers for a simulated point: ``solution`` (as a dict), ``energy``,
    ``free_entropy``, ``entropy``, overlap moments ``q``/``q2``, ``layers`` (MLP), ``notes``.

    ``alpha``: the MLP's simulated width ratios (for the exact finite-width linear network)."""
    import replicasym as rs

    spec, notes = replica_model(model, params)
    if model == "mlp" and alpha and "alpha" not in (params or {}):
        notes.append(f"the simulation approximates the GP limit with widths alpha = {alpha[0]:g} N "
                     "(finite-width corrections are O(1/alpha))")
    if model == "perceptron":
        sol = rs.solve(spec).as_dict()
        return {"solution": sol, "free_entropy": sol.get("free_entropy"),
                "q": (sol.get("order_parameters") or {}).get("q"), "notes": notes}
    solution = rs.solve(spec, T=T, ansatz=ansatz)
    sol = solution.as_dict()
    notes += list(sol.get("notes") or [])
    out = {"solution": sol, "energy": sol.get("energy"), "free_entropy": sol.get("free_entropy"),
           "entropy": sol.get("entropy"), "notes": notes}
    if T == 0:  # every replica in the ground state (RS q -> 1; at T = 0 the 1RSB weight m -> 0)
        moments = {"q": 0.0 if symmetric else 1.0, "q2": 1.0, "levels": np.ones(1), "weights": np.ones(1)}
    else:
        moments = overlap_moments(sol, symmetric)
    out["q"], out["q2"] = moments["q"], moments["q2"]
    if model == "mlp":
        p = dict(params)
        if p.get("activation", "tanh") == "linear" and float(p.get("C_b", 0.0)) == 0 and alpha:
            norms = linear_layer_norms(float(p.get("C_W", 1.0)), [float(a) for a in alpha], moments["q"])
            out["layers"] = [{"pre_norm": n, "post_norm": n} for n in norms]
            out["layer_source"] = "exact (linear, finite width)"
        elif getattr(spec, "alphas", None) is not None and T > 0:
            out["layers"] = finite_width_layers(spec, solution)
            out["layer_source"] = "finite width (RS, zipper)"
        else:
            out["layers"] = _layer_predictions(p, moments)
            out["layer_source"] = "GP limit (kernel map)"
    return out


def compare(result, ansatz: str = "auto") -> Comparison:
    """Replica prediction beside the simulation ``result`` (an :class:`~.simulation.MCResult`)."""
    pred = predict(result.model, result.params, result.T, ansatz, result.symmetric,
                   result.hamiltonian.get("alpha"))
    obs = result.target
    rows = []
    notes = list(pred["notes"])
    if isinstance(result, MCResult):
        notes.append(f"one size N = {result.N}: finite-size biases (O(1/N) in a replica-symmetric phase) are "
                     "part of the deviation; scan_sizes extrapolates them away")
    if result.model == "perceptron":
        if "free_entropy" in obs:
            rows.append(Row("free_entropy (volume)", pred["free_entropy"], obs["free_entropy"],
                            note=f"Phi(beta = {1 / result.T:g}) of the error-counting energy; the volume "
                                 "is its beta -> oo limit"))
        if "q" in obs and pred.get("q") is not None:
            rows.append(Row("q", pred["q"], obs["q"]))
        return Comparison(result.model, result.params, result.N, result.T, "rs", rows, pred["solution"], notes)
    rows.append(Row("energy", pred["energy"], obs["energy"]))
    for key in ("free_entropy", "entropy"):
        if key in obs and pred.get(key) is not None:
            rows.append(Row(key, pred[key], obs[key], note="thermodynamic integration"))
    if "q2" in obs:
        if not result.symmetric:
            rows.append(Row("q", pred["q"], obs["q"]))
        rows.append(Row("q2", pred["q2"], obs["q2"]))
        if abs(pred["q2"]) < 1e-12:
            notes.append("the replica overlap is 0: at finite N <q^2> = O(1/N)")
    for l, (p, m) in enumerate(zip(pred.get("layers") or [], obs.get("layers") or []), start=1):
        for key, value in p.items():
            if key in m:
                rows.append(Row(f"layer {l} {key}", value, m[key], source=pred["layer_source"]))
    if result.model == "mlp" and pred.get("layer_source", "").startswith("GP") and obs.get("layers"):
        notes.append("hidden-layer values are GP-limit (alpha -> oo) values; finite widths shift them by "
                     "O(1/alpha)")
    return Comparison(result.model, result.params, result.N, result.T,
                      str(pred["solution"].get("ansatz")), rows, pred["solution"], notes)
