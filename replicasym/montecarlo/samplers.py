r"""Markov-chain moves and descents, batched over disorder samples and chains.

* :func:`metropolis_sweep` -- one sweep of Metropolis moves for every chain at once.  Spherical
  spins: rotations in the coordinate planes (i, j) of a random perfect matching of the sites,
  :math:`(x_i,x_j)\to(x_i\cos\theta-x_j\sin\theta,\;x_i\sin\theta+x_j\cos\theta)`,
  :math:`\theta\sim U(-\delta,\delta)` with a per-chain adaptive :math:`\delta`: the proposal is
  symmetric and keeps :math:`|x|^2=N`, so it satisfies detailed balance for the uniform measure on
  the sphere, and coordinate-plane rotations generate :math:`SO(N)`.  (A rotation keeps
  :math:`x_i^2+x_j^2`: with a fixed pairing, e.g. neighbouring sites, the norm could only diffuse
  along the chain of sites and equilibration would be slow; a fresh random matching every sweep
  moves it between any two sites.)  Ising spins: single spin
  flips in a random order.  A move costs :math:`O(M)` through the linear part ``u = A x`` of the
  Hamiltonian (:mod:`.hamiltonians`), not a full evaluation of :math:`H`.
* :func:`adapt_steps` -- during equilibration, steer every chain's acceptance to a target.
* :func:`tempering_swap` -- replica-exchange moves between neighbouring temperatures of a ladder,
  accepted with :math:`\min(1, e^{(\beta_k-\beta_{k+1})(E_k-E_{k+1})})` (Hukushima & Nemoto 1996).
* :func:`quench` -- zero-temperature sweeps (only downhill moves) until nothing changes.
* :func:`descend` -- projected gradient descent on the sphere with a per-chain adaptive step,
  :math:`x\to\sqrt N\,(x-\eta P_x\nabla H)/|x-\eta P_x\nabla H|`.

Chains are laid out as ``C = K * R`` (temperature slot k, replica r: chain ``k * R + r``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError

__all__ = ["Chains", "adapt_steps", "descend", "metropolis_sweep", "quench", "refresh", "tempering_swap"]

_MIN_STEP = 1e-4


@dataclass
class Chains:
    """The state of all chains: configurations ``x`` (S, C, N), the linear part ``u`` (S, C, M),
    energies ``E`` (S, C), proposal widths ``step`` (S, C) (rotation angle; unused for Ising)."""

    x: object
    u: object
    E: object
    step: object

    @classmethod
    def start(cls, ham, chains: int, rng: np.random.Generator, step: float = 0.5) -> Chains:
        x = ham.random_configurations(chains, rng)
        u = ham.linear(x)
        return cls(x, u, ham.energy_from_linear(x, u), ham.xp.full(x.shape[:2], float(step)))


def refresh(ham, ch: Chains) -> None:
    """Recompute ``u`` and ``E`` from ``x`` (and put spherical ``x`` back on the sphere), removing
    the rounding drift of the incremental updates."""
    xp = ham.xp
    if ham.spins == "spherical":
        ch.x *= math.sqrt(ham.N) / xp.linalg.norm(ch.x, axis=-1, keepdims=True)
    ch.u = ham.linear(ch.x)
    ch.E = ham.energy_from_linear(ch.x, ch.u)


def _accept(dE, beta, logu):
    """Metropolis acceptance; ``beta`` (C,) broadcast over samples; ``None``: downhill moves only."""
    if beta is None:
        return dE < 0
    return logu < -beta * dE


def metropolis_sweep(ham, ch: Chains, beta, rng, host_rng: np.random.Generator):
    """One Metropolis sweep of every chain at inverse temperatures ``beta`` (array (C,), on the
    backend; ``None`` for zero temperature); returns the fraction of accepted moves per chain,
    (S, C)."""
    xp = ham.xp
    S, C, N = ch.x.shape
    x = ch.x
    order = host_rng.permutation(N)
    if ham.spins == "ising":
        moves = N
    else:  # a random perfect matching: the pairs (order[2m], order[2m+1])
        moves = N // 2
    logu = xp.log(rng.random((moves, S, C)))
    accepted = xp.zeros((S, C))
    if ham.spins == "spherical":
        theta = (2.0 * rng.random((moves, S, C)) - 1.0) * ch.step
        cos, sin = xp.cos(theta).astype(x.dtype) - 1.0, xp.sin(theta).astype(x.dtype)
    for m in range(moves):
        if ham.spins == "ising":
            i = int(order[m])
            idx = slice(i, i + 1)
            dx = -2.0 * x[:, :, idx]
        else:
            i, j = int(order[2 * m]), int(order[2 * m + 1])
            idx = [i, j]
            xi, xj = x[:, :, i], x[:, :, j]
            c1, s = cos[m], sin[m]  # cos(theta) - 1, sin(theta)
            dx = xp.stack((c1 * xi - s * xj, s * xi + c1 * xj), axis=-1)
        E_new, u_new = ham.propose(x, ch.u, ch.E, idx, dx)
        acc = _accept(E_new - ch.E, beta, logu[m])
        x[:, :, idx] += dx * acc[..., None]
        xp.copyto(ch.u, u_new, where=acc[..., None])
        xp.copyto(ch.E, E_new, where=acc)
        accepted += acc
    return accepted / moves


def adapt_steps(ch: Chains, acceptance, target: float, xp) -> None:
    """Multiply each chain's rotation range by :math:`e^{\\,a-a^*}` (a the sweep's acceptance),
    within :math:`[10^{-4}, \\pi]`."""
    ch.step = xp.clip(ch.step * xp.exp(acceptance - target), _MIN_STEP, math.pi)


def tempering_swap(ham, ch: Chains, betas, replicas: int, rng, parity: int):
    """Replica exchange between temperature slots (k, k+1), k = parity, parity + 2, ...; returns
    the acceptance of each attempted pair, (len(ks),), averaged over samples and replicas
    (``betas``: the K slot temperatures, host array)."""
    xp = ham.xp
    S, C, _ = ch.x.shape
    K = C // replicas
    ks = np.arange(parity, K - 1, 2)
    if len(ks) == 0:
        return np.zeros(0), ks
    E = ch.E.reshape(S, K, replicas)
    db = xp.asarray(betas[ks] - betas[ks + 1])[None, :, None]
    with np.errstate(invalid="ignore"):
        acc = xp.log(rng.random((S, len(ks), replicas))) < db * (E[:, ks] - E[:, ks + 1])
    perm = xp.broadcast_to(xp.arange(K)[None, :, None], (S, K, replicas)).copy()
    lo, hi = perm[:, ks], perm[:, ks + 1]
    perm[:, ks] = xp.where(acc, hi, lo)
    perm[:, ks + 1] = xp.where(acc, lo, hi)

    def gather(a):
        shaped = a.reshape((S, K, replicas) + a.shape[2:])
        index = perm.reshape(perm.shape + (1,) * (a.ndim - 2))
        return xp.take_along_axis(shaped, index, axis=1).reshape(a.shape)

    ch.x, ch.u, ch.E = gather(ch.x), gather(ch.u), gather(ch.E)
    return acc.mean(axis=(0, 2)), ks


def quench(ham, ch: Chains, rng, host_rng: np.random.Generator, max_sweeps: int = 1000) -> int:
    """Zero-temperature sweeps (downhill moves only) until a sweep changes no energy; returns the
    number of sweeps.  For spherical spins the rotation range shrinks as acceptance drops."""
    xp = ham.xp
    for n in range(1, max_sweeps + 1):
        E0 = ch.E.copy()
        acc = metropolis_sweep(ham, ch, None, rng, host_rng)
        if ham.spins == "spherical":
            adapt_steps(ch, acc, 0.3, xp)
        if ham.spins == "ising" and not bool(xp.any(ch.E < E0)):
            return n
        if ham.spins == "spherical" and float(xp.max(E0 - ch.E)) < 1e-10 * ham.N:
            return n
    return max_sweeps


def descend(ham, x, tol: float = 1e-6, max_iter: int = 20000, step: float = 0.1):
    r"""Projected gradient descent on :math:`S^{N-1}(\sqrt N)` from the configurations ``x``
    (S, C, N) until the tangent gradient per site :math:`|P_x\nabla H|/\sqrt N` of every chain is
    below ``tol``; returns ``(x, E)``.  A step is taken only when it lowers the energy (then
    :math:`\eta\to1.2\eta`), else :math:`\eta\to\eta/2`.  Raises
    :class:`~replicasym.errors.ConvergenceError` with the largest gradient when ``max_iter`` is
    reached."""
    xp = ham.xp
    N = ham.N
    x = x * (math.sqrt(N) / xp.linalg.norm(x, axis=-1, keepdims=True))
    E = ham.energy(x)
    eta = xp.full(E.shape, float(step))
    for _ in range(max_iter):
        g = ham.gradient(x)
        g = g - (xp.sum(g * x, axis=-1, keepdims=True) / N) * x
        gnorm = xp.linalg.norm(g, axis=-1) / math.sqrt(N)
        if float(xp.max(gnorm)) < tol:
            return x, E
        y = x - eta[..., None] * g
        y *= math.sqrt(N) / xp.linalg.norm(y, axis=-1, keepdims=True)
        E_new = ham.energy(y)
        better = E_new < E
        x = xp.where(better[..., None], y, x)
        E = xp.where(better, E_new, E)
        eta = xp.where(better, eta * 1.2, eta * 0.5)
        stuck = eta < 1e-14  # no descent even for tiny steps: at a minimum up to rounding
        if bool(xp.all(stuck | (gnorm < tol))):
            return x, E
    raise ConvergenceError(f"gradient descent did not converge in {max_iter} iterations "
                           f"(largest tangent gradient per site {float(xp.max(gnorm)):.3g})",
                           residual=float(xp.max(gnorm)))
