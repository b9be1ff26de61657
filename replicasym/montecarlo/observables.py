r"""Observables of a simulation and their statistics over disorder samples.

Error bars are standard errors over the ``S`` independent disorder samples: each sample contributes
one number (its time and replica average), so the thermal noise and the autocorrelation within a
sample are part of the sample-to-sample scatter and need no separate estimate.

* :func:`estimate` -- mean and standard error of per-sample values;
* :func:`replica_overlaps` -- :math:`q_{ab}=x^a\cdot x^b/N` of the replica pairs at each temperature;
* :func:`layer_statistics` -- per hidden layer :math:`|z^\ell|^2/N_\ell` (pre-activations),
  :math:`|\sigma(z^\ell)|^2/N_\ell` (post-activations, the :math:`Q^{(\ell)}_d` of the replica
  theory) and the same products between replicas;
* :func:`overlap_histogram` -- the overlap distribution :math:`P(q)` pooled over samples;
* :func:`thermodynamic_integration` -- :math:`\Phi(\beta)=\Phi(0)-\int_0^\beta e\,d\beta'`,
  :math:`s=\Phi+\beta e`, per sample;
* :func:`extrapolate` -- weighted least squares :math:`O(N)=O_\infty+a N^{-\omega}`;
* :func:`drift` -- first half against second half of the measurements, a test of equilibration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["Estimate", "drift", "estimate", "extrapolate", "layer_statistics", "overlap_histogram",
           "replica_overlaps", "thermodynamic_integration"]


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` disorder samples and its standard error (``nan`` when n < 2)."""

    mean: float
    err: float
    n: int

    def as_dict(self) -> dict:
        f = (lambda v: v if math.isfinite(v) else None)
        return {"mean": f(self.mean), "err": f(self.err), "n": self.n}

    def __str__(self) -> str:
        if not math.isfinite(self.err):
            return f"{self.mean:.6g}"
        digits = max(1, 1 - math.floor(math.log10(self.err))) if self.err > 0 else 6
        return f"{self.mean:.{digits}f} ± {self.err:.{digits}f}"


def estimate(values) -> Estimate:
    """Mean and standard error of the per-sample values (a 1-d array over samples)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ParameterError("no samples to average")
    err = float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return Estimate(float(np.mean(v)), err, int(v.size))


def _pairs(replicas: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.triu_indices(replicas, k=1)
    return a, b


def replica_overlaps(x, K: int, R: int, xp):
    """:math:`q_{ab}=x^a\\cdot x^b/N` for the pairs a < b of the R replicas in each of the K
    temperature slots: shape (S, K, R(R-1)/2)."""
    S, _, N = x.shape
    x4 = x.reshape(S, K, R, N)
    a, b = _pairs(R)
    return xp.sum(x4[:, :, a] * x4[:, :, b], axis=-1) / N


def layer_statistics(layers, K: int, R: int, xp) -> list[dict]:
    """Per hidden layer: ``pre_norm`` :math:`|z|^2/N_\\ell`, ``post_norm`` :math:`|\\sigma(z)|^2/N_\\ell`
    (averaged over replicas, (S, K)) and ``pre_overlap``, ``post_overlap`` (the same products between
    replica pairs, averaged over pairs, (S, K); absent with one replica)."""
    out = []
    a, b = _pairs(R)
    for z, s in layers:
        S, _, W = z.shape
        stats = {}
        for key, arr in (("pre", z), ("post", s)):
            arr4 = arr.reshape(S, K, R, W)
            stats[f"{key}_norm"] = xp.mean(xp.sum(arr4 * arr4, axis=-1), axis=-1) / W
            if R > 1:
                stats[f"{key}_overlap"] = xp.mean(xp.sum(arr4[:, :, a] * arr4[:, :, b], axis=-1), axis=-1) / W
        out.append(stats)
    return out


def overlap_histogram(q: np.ndarray, bins: int = 50) -> dict:
    """The overlap distribution from the measured overlaps ``q`` (shape (T, S, pairs) for one
    temperature): a density on ``bins`` equal bins of [-1, 1], each sample weighted equally."""
    q = np.asarray(q, dtype=float)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    per_sample = [np.histogram(q[:, s].ravel(), bins=edges, density=True)[0] for s in range(q.shape[1])]
    return {"edges": np.round(edges, 12).tolist(), "density": np.round(np.mean(per_sample, axis=0), 12).tolist()}


def thermodynamic_integration(betas: np.ndarray, e: np.ndarray, phi0: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-sample free entropy and entropy along a ladder from :math:`\beta_0=0`:
    :math:`\Phi(\beta_k)=\Phi(0)-\int_0^{\beta_k}e\,d\beta` (cubic spline of :math:`e(\beta)`
    integrated exactly; trapezoid for fewer than 4 points) and :math:`s=\Phi+\beta e`.

    ``betas`` (K,) increasing from 0, ``e`` (S, K) energies per site; returns (Phi, s), each (S, K).
    """
    from scipy.interpolate import CubicSpline

    betas = np.asarray(betas, dtype=float)
    if betas[0] != 0 or np.any(np.diff(betas) <= 0):
        raise ParameterError("thermodynamic integration needs a ladder of increasing beta starting at 0")
    e = np.asarray(e, dtype=float)
    if len(betas) >= 4:
        spline = CubicSpline(betas, e, axis=1)
        integral = np.stack([spline.integrate(0.0, b) for b in betas], axis=1)
    else:
        steps = 0.5 * (e[:, 1:] + e[:, :-1]) * np.diff(betas)
        integral = np.concatenate([np.zeros((e.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
    phi = phi0 - integral
    return phi, phi + betas * e


def extrapolate(sizes, estimates, exponent: float = 1.0) -> dict:
    r"""Fit :math:`O(N)=O_\infty+a\,N^{-\omega}` (``exponent`` :math:`\omega`) to estimates at
    several sizes by weighted least squares (weights :math:`1/\mathrm{err}^2`).

    Returns ``{"value": Estimate(O_inf), "slope": a, "chi2": chi^2, "dof": ...}``; the error of
    :math:`O_\infty` is the least-squares one, inflated by :math:`\sqrt{\chi^2/\mathrm{dof}}` when the
    fit is worse than the error bars allow."""
    N = np.asarray(sizes, dtype=float)
    if len(N) < 2 or len(set(N.tolist())) < 2:
        raise ParameterError("finite-size extrapolation needs at least two different sizes")
    y = np.array([e.mean for e in estimates])
    err = np.array([e.err for e in estimates])
    if not np.all(np.isfinite(err) & (err > 0)):
        raise ParameterError("finite-size extrapolation needs error bars (at least 2 samples per size)")
    X = np.stack([np.ones_like(N), N ** (-exponent)], axis=1)
    w = 1.0 / err**2
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    coef = cov @ (X.T @ (w * y))
    chi2 = float(np.sum(w * (y - X @ coef) ** 2))
    dof = len(N) - 2
    scale = math.sqrt(chi2 / dof) if dof > 0 and chi2 > dof else 1.0
    return {"value": Estimate(float(coef[0]), float(math.sqrt(cov[0, 0]) * scale),
                              int(sum(e.n for e in estimates))),
            "slope": float(coef[1]), "exponent": exponent, "chi2": chi2, "dof": dof}


def drift(series: np.ndarray) -> float:
    """Equilibration check: the difference between the second and the first half of the
    measurements of an observable (``series`` of shape (T, S)), in units of its standard error over
    samples (``nan`` with fewer than 2 samples or 4 measurements)."""
    series = np.asarray(series, dtype=float)
    T = series.shape[0]
    if T < 4 or series.shape[1] < 2:
        return math.nan
    d = estimate(series[T // 2:].mean(axis=0) - series[: T // 2].mean(axis=0))
    return d.mean / d.err if d.err > 0 else 0.0
