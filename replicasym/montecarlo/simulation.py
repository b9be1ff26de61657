r"""Run a simulation of a model at temperature T (or search its ground state) and collect the results.

:func:`simulate` at T > 0: ``samples`` disorder draws, ``replicas`` independent chains per sample
(the overlap :math:`q_{ab}` is measured between them), ``burn_in`` equilibration sweeps (the first
half an annealing ramp :math:`\beta(t)=\beta\,t/t_a` when ``anneal``; proposal widths adapted to a
target acceptance) and ``sweeps`` measurement sweeps.  With ``tempering=K`` (K >= 2) every replica
runs on the ladder :math:`\beta_k=k\beta/(K-1)`, k = 0..K-1, with replica-exchange moves after each
sweep; the ladder starting at :math:`\beta=0` also gives the free entropy and the entropy by
thermodynamic integration, :math:`\Phi(\beta)=\Phi(0)-\int_0^\beta e\,d\beta'`,
:math:`s=\Phi+\beta e` (:math:`\Phi(0)=0` on the sphere, :math:`\log 2` for Ising spins).

:func:`ground_state` (T = 0): projected gradient descent on the sphere from ``replicas`` random
starts per sample where the Hamiltonian has a gradient, else simulated annealing to
:math:`\beta_{max}` followed by a zero-temperature quench; the sample's value is the lowest
energy over its starts (an upper bound of its ground state).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError
from ..progress import progress as progress_bar
from .backend import to_numpy
from .hamiltonians import build_hamiltonian
from .observables import (
    Estimate,
    drift,
    estimate,
    layer_statistics,
    overlap_histogram,
    replica_overlaps,
    thermodynamic_integration,
)
from .samplers import Chains, adapt_steps, descend, metropolis_sweep, quench, refresh, tempering_swap

__all__ = ["MCResult", "ground_state", "simulate"]

_REFRESH_EVERY = 10


@dataclass
class MCResult:
    """The outcome of a simulation.

    ``ladder`` holds one entry per simulated temperature (the last one is the target ``T``) with
    :class:`~.observables.Estimate` values: ``energy`` (per site), ``q``, ``q_abs``, ``q2`` (replica
    overlaps), ``layers`` (MLP: per layer ``pre_norm``, ``post_norm``, ``pre_overlap``,
    ``post_overlap``), ``free_entropy`` and ``entropy`` (thermodynamic integration), ``acceptance``
    and ``drift`` (equilibration check, in standard errors).  ``overlap`` is :math:`P(q)` at T."""

    model: str
    params: dict
    N: int
    T: float
    samples: int
    replicas: int
    sweeps: int
    burn_in: int
    seed: int
    backend: str
    method: str
    spins: str
    symmetric: bool
    hamiltonian: dict
    ladder: list
    overlap: dict | None
    elapsed: float
    notes: list = field(default_factory=list)

    @property
    def target(self) -> dict:
        return self.ladder[-1]

    @property
    def throughput(self) -> float:
        """Disorder samples x sweeps per second."""
        return self.samples * (self.sweeps + self.burn_in) / self.elapsed if self.elapsed > 0 else math.nan

    def summary(self) -> str:
        """A plain-text report of the target temperature's observables."""
        t = self.target
        head = (f"{self.model} {self.params or ''}  N = {self.N}  T = {self.T:g}  ({self.method}; "
                f"{self.samples} samples x {self.replicas} {'starts' if self.T == 0 else 'replicas'}")
        lines = [head + (f", {self.burn_in} + {self.sweeps} sweeps)" if self.sweeps else ")")]
        for key in ("energy", "energy_typical", "free_entropy", "entropy", "q", "q_abs", "q2"):
            if key in t:
                lines.append(f"  {key:<16} {t[key]}")
        for layer in t.get("layers", []):
            vals = "  ".join(f"{k} {v}" for k, v in layer.items() if isinstance(v, Estimate))
            lines.append(f"  layer {layer['layer']} (width {layer['width']}): {vals}")
        if "acceptance" in t:
            lines.append(f"  acceptance       {t['acceptance']:.3f}")
        lines.append(f"  time             {self.elapsed:.2f} s ({self.throughput:.1f} samples x sweeps / s)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        def conv(v):
            if isinstance(v, Estimate):
                return v.as_dict()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {"model": self.model, "params": self.params, "N": self.N, "T": self.T,
                "samples": self.samples, "replicas": self.replicas, "sweeps": self.sweeps,
                "burn_in": self.burn_in, "seed": self.seed, "backend": self.backend, "method": self.method,
                "hamiltonian": self.hamiltonian, "observables": conv(self.target),
                "ladder": conv(self.ladder) if len(self.ladder) > 1 else None,
                "overlap_distribution": self.overlap, "elapsed_s": round(self.elapsed, 3),
                "throughput": {"samples_x_sweeps_per_s": conv(round(self.throughput, 2))},
                "notes": list(self.notes)}


def _check_int(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _temperature(T) -> float:
    try:
        T = float(T)
    except (TypeError, ValueError):
        raise ParameterError(f"T must be a number, got {T!r}") from None
    if not (math.isfinite(T) and T >= 0):
        raise ParameterError(f"T must be a finite number >= 0 (0: ground state), got {T}")
    return T


def simulate(model: str, params: dict | None = None, *, N: int, T: float, samples: int = 10,
             replicas: int = 2, sweeps: int = 500, burn_in: int | None = None, tempering: int = 0,
             anneal: bool = True, seed: int = 0, backend: str = "numpy", dtype: str = "float64",
             progress: bool | None = None, target_acceptance: float = 0.4, bins: int = 50) -> MCResult:
    """Simulate ``model`` (``sk``, ``spherical``, ``mlp``, ``perceptron``; parameters as for
    :func:`~.hamiltonians.build_hamiltonian`) at size ``N`` and temperature ``T`` (``T=0``:
    :func:`ground_state`, with ``replicas`` starts per sample).  ``burn_in`` defaults to
    ``sweeps // 2``; ``backend`` "numpy" or "cupy" (GPU), ``dtype`` "float64" or "float32";
    ``progress``: a progress bar on stderr (None: only in a terminal; :mod:`replicasym.progress`)."""
    T = _temperature(T)
    samples = _check_int("samples", samples, 1)
    replicas = _check_int("replicas", replicas, 1)
    sweeps = _check_int("sweeps", sweeps, 1)
    burn_in = sweeps // 2 if burn_in is None else _check_int("burn_in", burn_in, 0)
    tempering = _check_int("tempering", tempering, 0)
    if T == 0:
        return ground_state(model, params, N=N, samples=samples, starts=replicas, sweeps=sweeps, seed=seed,
                            backend=backend, dtype=dtype, progress=progress)
    t0 = time.perf_counter()
    ham = build_hamiltonian(model, params, N, samples, seed, backend, dtype)
    xp = ham.xp
    beta = 1.0 / T
    K = tempering if tempering >= 2 else 1
    betas = beta * np.arange(K) / (K - 1) if K > 1 else np.array([beta])
    host = np.random.default_rng([seed, 1])
    rng = xp.random.default_rng(seed + 7919)
    ch = Chains.start(ham, K * replicas, host)
    chain_beta = np.repeat(betas, replicas)
    ramp = burn_in // 2 if anneal else 0
    series: dict[str, list] = {"energy": [], "acceptance": []}
    qs, layer_series, swaps = [], [], []
    for t in progress_bar(range(burn_in + sweeps), desc=f"mc {model} N={N} T={T:g}", enabled=progress):
        frac = min(1.0, (t + 1) / ramp) if t < ramp else 1.0
        acc = metropolis_sweep(ham, ch, xp.asarray(chain_beta * frac), rng, host)
        if t < burn_in and ham.spins == "spherical":
            adapt_steps(ch, acc, target_acceptance, xp)
        if K > 1:
            rate, ks = tempering_swap(ham, ch, betas * frac, replicas, rng, t % 2)
            if t >= burn_in:
                swaps.append((ks, to_numpy(rate)))
        if (t + 1) % _REFRESH_EVERY == 0:
            refresh(ham, ch)
        if t >= burn_in:
            _measure(ham, ch, K, replicas, series, qs, layer_series, acc)
    ladder, notes = _summaries(ham, betas, series, qs, layer_series, swaps, K)
    elapsed = time.perf_counter() - t0
    target_q = np.stack(qs)[:, :, K - 1] if qs else None
    return MCResult(model=model, params=dict(params or {}), N=N, T=T, samples=samples, replicas=replicas,
                    sweeps=sweeps, burn_in=burn_in, seed=seed, backend=backend,
                    method="parallel tempering" if K > 1 else "metropolis", spins=ham.spins,
                    symmetric=ham.symmetric, hamiltonian=ham.describe(), ladder=ladder,
                    overlap=overlap_histogram(target_q, bins) if target_q is not None else None,
                    elapsed=elapsed, notes=notes)


def _measure(ham, ch, K, R, series, qs, layer_series, acc) -> None:
    xp = ham.xp
    S = ch.x.shape[0]
    series["energy"].append(to_numpy(xp.mean(ch.E.reshape(S, K, R), axis=-1)) / ham.N)
    series["acceptance"].append(to_numpy(xp.mean(acc.reshape(S, K, R), axis=-1)))
    if R > 1:
        qs.append(to_numpy(replica_overlaps(ch.x, K, R, xp)))
    layers = ham.layers(ch.x, ch.u)
    if layers:
        layer_series.append([{k: to_numpy(v) for k, v in d.items()}
                             for d in layer_statistics(layers, K, R, xp)])


def _summaries(ham, betas, series, qs, layer_series, swaps, K):
    """Per-temperature estimates (time averages per sample, then mean and error over samples)."""
    E = np.stack(series["energy"])          # (T, S, K)
    A = np.stack(series["acceptance"])
    Q = np.stack(qs) if qs else None        # (T, S, K, pairs)
    notes = []
    e_sample = E.mean(axis=0)               # (S, K)
    thermo = None
    if K > 1:
        phi0 = math.log(2.0) if ham.spins == "ising" else 0.0
        thermo = thermodynamic_integration(betas, e_sample, phi0)
    ladder = []
    for k, b in enumerate(betas):
        entry = {"T": (1.0 / b) if b > 0 else math.inf, "beta": float(b),
                 "energy": estimate(e_sample[:, k]), "acceptance": float(A[:, :, k].mean()),
                 "drift": drift(E[:, :, k])}
        if Q is not None:
            q = Q[:, :, k]
            entry["q"] = estimate(q.mean(axis=(0, 2)))
            entry["q_abs"] = estimate(np.abs(q).mean(axis=(0, 2)))
            entry["q2"] = estimate((q**2).mean(axis=(0, 2)))
        if layer_series:
            entry["layers"] = []
            for l in range(len(layer_series[0])):
                width = ham.describe()["widths"][l]
                d = {"layer": l + 1, "width": width}
                for key in layer_series[0][l]:
                    vals = np.stack([m[l][key][:, k] for m in layer_series])  # (T, S)
                    d[key] = estimate(vals.mean(axis=0))
                entry["layers"].append(d)
        if thermo is not None:
            entry["free_entropy"] = estimate(thermo[0][:, k])
            entry["entropy"] = estimate(thermo[1][:, k])
        ladder.append(entry)
    if swaps:
        rates = np.zeros(K - 1)
        counts = np.zeros(K - 1)
        for ks, r in swaps:
            rates[ks] += r
            counts[ks] += 1
        rates = rates / np.maximum(counts, 1)
        for k in range(K - 1):
            ladder[k + 1]["swap_acceptance"] = float(rates[k])
        if rates.min() < 0.05:
            notes.append(f"replica-exchange acceptance as low as {rates.min():.3f}: use more temperatures")
    d = ladder[-1]["drift"]
    if math.isfinite(d) and abs(d) > 3:
        notes.append(f"the energy differs by {d:.1f} standard errors between the two halves of the "
                     "measurement: not equilibrated, increase sweeps")
    return ladder, notes


def ground_state(model: str, params: dict | None = None, *, N: int, samples: int = 10, starts: int = 8,
                 sweeps: int = 1000, seed: int = 0, backend: str = "numpy", dtype: str = "float64",
                 progress: bool | None = None, beta_max: float = 5.0) -> MCResult:
    """Lowest energy found per sample, from ``starts`` starts: gradient descent on the sphere when
    the Hamiltonian has a gradient, else annealing over ``sweeps`` sweeps to ``beta_max`` and a
    zero-temperature quench.  ``energy`` is the mean over samples of the per-sample minimum;
    ``energy_typical`` the mean over all starts (what a single descent reaches)."""
    samples = _check_int("samples", samples, 1)
    starts = _check_int("starts", starts, 1)
    sweeps = _check_int("sweeps", sweeps, 1)
    t0 = time.perf_counter()
    ham = build_hamiltonian(model, params, N, samples, seed, backend, dtype)
    xp = ham.xp
    host = np.random.default_rng([seed, 1])
    rng = xp.random.default_rng(seed + 7919)
    used = 0
    method = "descent" if ham.spins == "spherical" and ham.has_gradient else "annealing"
    if method == "descent":
        x, E = descend(ham, ham.random_configurations(starts, host))
    else:
        ch = Chains.start(ham, starts, host)
        for t in progress_bar(range(sweeps), desc=f"anneal {model} N={N}", enabled=progress):
            b = xp.full(starts, beta_max * (t + 1) / sweeps)
            acc = metropolis_sweep(ham, ch, b, rng, host)
            if ham.spins == "spherical":
                adapt_steps(ch, acc, 0.4, xp)
            if (t + 1) % _REFRESH_EVERY == 0:
                refresh(ham, ch)
        refresh(ham, ch)
        used = quench(ham, ch, rng, host)
        refresh(ham, ch)
        x, E = ch.x, ch.E
    E_host = to_numpy(E) / ham.N                      # (S, starts)
    best = np.argmin(E_host, axis=1)
    entry = {"T": 0.0, "beta": math.inf, "energy": estimate(E_host.min(axis=1)),
             "energy_typical": estimate(E_host.mean(axis=1))}
    x_best = x[xp.arange(samples), xp.asarray(best)][:, None, :]
    layers = ham.layers(x_best)
    if layers:
        entry["layers"] = [{"layer": l + 1, "width": ham.describe()["widths"][l],
                            **{k: estimate(to_numpy(v)[:, 0]) for k, v in d.items()}}
                           for l, d in enumerate(layer_statistics(layers, 1, 1, xp))]
    notes = [] if method == "descent" else [f"quench: {used} zero-temperature sweeps"]
    return MCResult(model=model, params=dict(params or {}), N=N, T=0.0, samples=samples, replicas=starts,
                    sweeps=sweeps if method == "annealing" else 0, burn_in=0, seed=seed, backend=backend,
                    method=method, spins=ham.spins, symmetric=ham.symmetric, hamiltonian=ham.describe(),
                    ladder=[entry], overlap=None, elapsed=time.perf_counter() - t0, notes=notes)
