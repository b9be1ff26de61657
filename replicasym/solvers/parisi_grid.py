r"""The Parisi recursion evaluated level by level on a uniform grid of the cavity field.

One RSB level with breakpoint (tilt) :math:`\mu>0` and field-variance increment :math:`v\ge0` maps
a function :math:`\Psi` of the cavity field y to

.. math::  \Psi'(y) = \frac1\mu\log\mathbb E_z\, e^{\mu\Psi(y+\sqrt v\,z)}
           \;=\;\frac1\mu\log\sum_l w_l(v)\,e^{\mu\Psi(y-l\,\delta y)},

the Cole--Hopf solution of the Parisi PDE
:math:`\partial_q\Psi = -\tfrac{\xi''}{2}(\partial_y^2\Psi+\mu(\partial_y\Psi)^2)` over one interval
where the Parisi function is constant (Parisi 1980; Duplantier 1981).  A level with
:math:`\mu = 0` is the plain Gaussian average (the heat equation).  This is the engine's
hierarchical decoupling :math:`L_i = \frac1{m_i}\log\mathbb E_{z_i}e^{m_iL_{i+1}}`
(:func:`replicasym.symbolic.replica.hierarchical_decoupling`) with one convolution per level, so
the cost grows linearly in the number of levels (DESIGN.md), never as a tensor product of
quadrature axes.

Numerics (each point matters for accuracy or stability):

* **Kernel.** :math:`w_l\propto e^{-(l\delta y)^2/2v'}` sampled on the grid (the trapezoid rule,
  exponentially accurate, error :math:`\sim e^{-2\pi^2 v/\delta y^2}`, once the kernel is resolved),
  with :math:`v'` chosen so that the discrete variance is exactly ``v``
  (:func:`kernel_parameter`): for :math:`v\ll\delta y^2` the kernel becomes the three-point
  heat kernel, so the map is smooth in v down to v = 0 (a collapsed level) and the optimiser sees
  no kink.
* **Dynamic range.** :math:`e^{\mu\Psi}` grows like :math:`e^{\mu|y|}` and spans far more than
  the double-precision range at T = 0.  The convolution is split at the valley of :math:`\Psi`
  into a right and a left part, each multiplied by the exponential tilt
  :math:`e^{-\mu s y}` (s = the asymptotic slope of that side), which a Gaussian kernel absorbs
  exactly: :math:`w_l e^{-\mu s l\delta y}` is a shifted Gaussian.  Both parts are then O(1)
  functions and the two results are combined with log-sum-exp.
* **Boundary.** Beyond the grid, :math:`\Psi` is continued linearly with its end slopes (it is
  asymptotically linear, :math:`\Psi\sim|y|` for Ising spins) over the reach of the kernel.
* **Gradient.** :meth:`Cascade.backward` is the exact adjoint of the discrete forward map (the
  backward recursion of the tilted measures): the adjoint variables are the probability
  distributions :math:`\rho_i` of the cavity field at each level, and
  :math:`\partial F/\partial\mu_i = \frac1{\mu_i}(\langle\Psi_i\rangle_{\rho_i}-\langle\Psi_{i-1}\rangle_{\rho_{i-1}})`,
  :math:`\partial F/\partial v_i` from the derivative of the kernel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

__all__ = ["Cascade", "FieldGrid", "kernel_parameter"]

#: kernels are cut where the Gaussian factor is below e^{-TAIL**2/2}
TAIL = 10.0


@dataclass(frozen=True)
class FieldGrid:
    """Uniform grid ``y = center + dy * (-n .. n)``; the root of the recursion sits at index ``n``."""

    center: float
    half_width: float
    dy: float

    @property
    def n_half(self) -> int:
        return math.ceil(self.half_width / self.dy)

    @property
    def y(self) -> np.ndarray:
        n = self.n_half
        return self.center + self.dy * np.arange(-n, n + 1)


def _moments(vp: float, dy: float):
    """Discrete variance m2 of the sampled Gaussian kernel of parameter vp, and dm2/dvp."""
    L = math.ceil(TAIL * math.sqrt(vp) / dy) + 2
    x2 = (np.arange(-L, L + 1) * dy) ** 2
    e = np.exp(-x2 / (2 * vp))
    e /= e.sum()
    m2 = float(e @ x2)
    m4 = float(e @ (x2 * x2))
    return m2, (m4 - m2 * m2) / (2 * vp * vp)


def kernel_parameter(v: float, dy: float) -> tuple[float, float]:
    r"""The parameter v' of the sampled kernel :math:`w_l\propto e^{-(l\delta y)^2/2v'}` whose
    discrete variance is exactly ``v``, and :math:`dv'/dv`.  For :math:`v\gtrsim 2\delta y^2`,
    v' = v to double precision; as v -> 0, v' -> 0 and the kernel tends to
    :math:`\delta_{l0}+\frac{v}{2\delta y^2}(\delta_{l,1}+\delta_{l,-1}-2\delta_{l0})`."""
    if v <= 0.0:
        return 0.0, 0.0
    d2 = dy * dy
    if v >= 4 * d2:
        return v, 1.0
    # Newton on log m2(v') = log v in the variable log v'
    lv = math.log(v) if v > 0.5 * d2 else math.log(d2 / (2 * math.log(2 * d2 / v)))
    for _ in range(60):
        vp = math.exp(lv)
        m2, dm2 = _moments(vp, dy)
        step = (math.log(m2) - math.log(v)) / (vp * dm2 / m2)
        lv -= step
        if abs(step) < 1e-14:
            break
    vp = math.exp(lv)
    m2, dm2 = _moments(vp, dy)
    return vp, 1.0 / dm2


def _log_kernel(l: np.ndarray, dy: float, vp: float, tilt: float) -> np.ndarray:
    r""":math:`\log(w_l e^{-t\,l\,\delta y})` with :math:`w` the normalised sampled Gaussian."""
    L = math.ceil(TAIL * math.sqrt(vp) / dy) + 2
    lz = np.arange(-L, L + 1) * dy
    logZ = np.log(np.exp(-lz * lz / (2 * vp)).sum())
    x = l * dy
    return -x * x / (2 * vp) - tilt * x - logZ


def _offsets(dy: float, vp: float, shift: float) -> np.ndarray:
    """Kernel offsets l covering the (shifted) Gaussian to TAIL standard deviations, and -1..1."""
    half = TAIL * math.sqrt(vp)
    lo = min(-1, math.floor((-shift - half) / dy))
    hi = max(1, math.ceil((-shift + half) / dy))
    return np.arange(lo, hi + 1)


#: kernels longer than this are applied by FFT, shorter ones directly
_FFT_MIN = 48


def _conv_rows(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Row-wise full linear convolution of non-negative sequences, a (r, n) with k (r, m): direct
    for short kernels (exact in relative terms), else one batched FFT (accurate relative to the
    largest term of each row)."""
    n = a.shape[1] + k.shape[1] - 1
    if k.shape[1] <= _FFT_MIN:
        return np.stack([np.convolve(ai, ki) for ai, ki in zip(a, k)])
    nf = sfft.next_fast_len(n, real=True)
    return sfft.irfft(sfft.rfft(a, nf, axis=1) * sfft.rfft(k, nf, axis=1), nf, axis=1)[:, :n]


#: below this tilt a level uses the expansion Psi' = <Psi> + (mu/2) Var(Psi) (error O(mu^2)); above
#: it the tilted formula, whose cancellation error is ~1e-16/mu
MU_SMALL = 1e-6


def _expm1_over(mu: float, d: np.ndarray) -> np.ndarray:
    """(e^{mu d} - 1)/mu, continuous at mu = 0."""
    if mu > 1e-8:
        return np.expm1(mu * d) / mu
    return d + mu * d * d / 2


class _Level:
    """One tilted-convolution level: forward value and cache for the adjoint.

    The extended grid (P points of linear continuation on each side) is split at the valley of
    Psi into sides; side s carries the tilt ``slope[s]``, the shift ``A[s]`` and
    ``g[s] = exp(mu (E - slope y) - A)`` (0 off the side).  All sides share the kernel offsets
    ``l`` (log-kernels normalised by their maxima ``kmax[s]``).  For mu < MU_SMALL the level is
    the second-order expansion in mu (plain Gaussian averages)."""

    def __init__(self, psi: np.ndarray, y: np.ndarray, dy: float, v: float, mu: float):
        self.v, self.mu, self.dy = v, mu, dy
        self.vp, self.dvp = kernel_parameter(v, dy)
        n = psi.size
        self.n = n
        if self.vp == 0.0:
            self.out = psi.copy()
            return
        self.small = mu < MU_SMALL
        slopes = np.array([(psi[-1] - psi[-2]) / dy, (psi[1] - psi[0]) / dy])
        tilt = 0.0 if self.small else mu
        ranges = [_offsets(dy, self.vp, tilt * sl * self.vp) for sl in slopes]
        lo = int(min(r[0] for r in ranges))
        hi = int(max(r[-1] for r in ranges))
        P = max(hi, -lo)
        self.P, self.l = P, np.arange(lo, hi + 1)
        p = np.arange(1, P + 1)
        E = np.concatenate([psi[0] - (psi[1] - psi[0]) * p[::-1], psi, psi[-1] + (psi[-1] - psi[-2]) * p])
        ye = y[0] + dy * np.arange(-P, n + P)
        self.E, self.ye = E, ye
        sl = slice(P - lo, P - lo + n)    # output j (base) = sum_l k_l g[P + j - l] -> full[P + j - lo]
        if self.small:
            self.w = np.exp(_log_kernel(self.l, dy, self.vp, 0.0))
            M = _conv_rows(np.stack([E, E * E]), np.stack([self.w, self.w]))[:, sl]
            self.M1, self.M2 = M
            self.out = self.M1 + mu / 2 * (self.M2 - self.M1 ** 2)
            return
        c = P + int(np.argmin(psi))
        idx = np.arange(E.size)
        masks = np.array([idx >= c, idx < c])
        keep = masks.any(axis=1)
        masks, slopes = masks[keep], slopes[keep]
        a = mu * (E[None, :] - slopes[:, None] * ye[None, :])
        A = np.array([row[m].max() for row, m in zip(a, masks)])
        self.g = np.where(masks, np.exp(np.minimum(a - A[:, None], 0.0)), 0.0)
        logk = _log_kernel(self.l[None, :], dy, self.vp, mu * slopes[:, None])
        self.kmax = logk.max(axis=1)
        self.k = np.exp(logk - self.kmax[:, None])
        conv = _conv_rows(self.g, self.k)[:, sl]
        with np.errstate(divide="ignore"):
            lc = np.log(np.maximum(conv, 0.0))
        self.slopes, self.A = slopes, A
        self.logC = np.logaddexp.reduce(A[:, None] + mu * slopes[:, None] * y[None, :] + self.kmax[:, None] + lc,
                                        axis=0)
        self.out = self.logC / mu

    def _correlate(self, u: np.ndarray, kernels: np.ndarray) -> np.ndarray:
        """corr_i = sum_l k_l u[i + l] over the extended grid, for each row of ``kernels``
        (u is (rows, extended) or broadcast)."""
        hi = int(self.l[-1])
        u = np.broadcast_to(u, (kernels.shape[0], self.E.size))
        return _conv_rows(u, kernels[:, ::-1])[:, hi:hi + self.E.size]

    def backward(self, lam_out: np.ndarray):
        """Adjoint: (dF/dpsi, dF/dmu, dF/dv) from dF/dout."""
        n, mu = self.n, self.mu
        if self.vp == 0.0:
            return lam_out.copy(), 0.0, self._dv_collapsed(lam_out)
        P, dy = self.P, self.dy
        x2 = (self.l * dy) ** 2
        m2, _ = _moments(self.vp, dy)
        u = np.zeros((1, self.E.size))
        if self.small:
            E, M1, M2 = self.E, self.M1, self.M2
            u1, u2 = u.copy(), u.copy()
            u1[0, P:P + n] = lam_out * (1 - mu * M1)
            u2[0, P:P + n] = lam_out
            c = self._correlate(np.concatenate([u1, u2, u1, u2]),
                                np.stack([self.w, self.w, self.w * x2, self.w * x2]))
            lamE = c[0] + mu * E * c[1]
            # sum_j lam_j sum_l w_l x2_l f_{j-l}, f = E + (mu/2) E^2 - mu M1_j E
            m2_term = float(c[2] @ E + mu / 2 * (c[3] @ (E * E)))
            wf = M1 + mu / 2 * M2 - mu * M1 * M1
            dmu = float(lam_out @ (M2 - M1 ** 2)) / 2
            dvp = (m2_term - m2 * float(lam_out @ wf)) / (2 * self.vp ** 2)
        else:
            y = self.ye[P:P + n]
            S = self.slopes.size
            # r_j = exp(A + mu s y_j + kmax - logC_j): each side's share per unit of g * kernel
            r = np.exp(np.minimum(self.A[:, None] + mu * self.slopes[:, None] * y[None, :]
                                  + self.kmax[:, None] - self.logC[None, :], 700.0))
            u = np.zeros((S, self.E.size))
            u[:, P:P + n] = lam_out[None, :] * r
            full = self._correlate(np.concatenate([u, u]), np.concatenate([self.k, self.k * x2[None, :]]))
            lamE = np.sum(self.g * full[:S], axis=0)
            m2_tilted = float(np.sum(self.g * full[S:]))
            dmu = (float(lamE @ self.E) - float(lam_out @ self.out)) / mu
            dvp = (m2_tilted - m2 * float(lam_out.sum())) / (2 * mu * self.vp ** 2)
        # adjoint of the linear continuation beyond the grid
        lam = lamE[P:P + n].copy()
        p = np.arange(1, P + 1)
        right, left = lamE[P + n:], lamE[:P][::-1]
        lam[-1] += ((1 + p) * right).sum()
        lam[-2] -= (p * right).sum()
        lam[0] += ((1 + p) * left).sum()
        lam[1] -= (p * left).sum()
        return lam, dmu, dvp * self.dvp

    def _dv_collapsed(self, lam_out):
        r"""dF/dv at v = 0 from the three-point limit of the kernel:
        :math:`(e^{\mu\Delta_+}+e^{\mu\Delta_-}-2)/(2\mu\,\delta y^2)`, the discrete
        :math:`\frac12(\Psi''+\mu\Psi'^2)`."""
        psi, dy, mu = self.out, self.dy, self.mu
        up = np.append(psi[1:] - psi[:-1], psi[-1] - psi[-2])
        down = np.insert(psi[:-1] - psi[1:], 0, psi[0] - psi[1])
        return float(lam_out @ ((_expm1_over(mu, up) + _expm1_over(mu, down)) / (2 * dy * dy)))


class Cascade:
    r"""Forward and adjoint of :math:`F = \mathbb E_z\Psi_0(y_0+\sqrt{v_0}z)`, with
    :math:`\Psi_{i-1} = \frac1{\mu_i}\log\mathbb E e^{\mu_i\Psi_i(\cdot+\sqrt{v_i}z)}` for the
    levels given from the top (i = K) down (i = 1) and :math:`\Psi_K` = ``top`` on the grid.

    ``levels`` is a sequence of (v_i, mu_i) from the top level down; ``v0`` the variance of the
    last, untilted (x = 0) level, averaged at the grid centre y_0.
    """

    def __init__(self, grid: FieldGrid, top: np.ndarray, levels, v0: float):
        self.grid = grid
        y, dy = grid.y, grid.dy
        self.levels = []
        psi = np.asarray(top, dtype=float)
        for v, mu in levels:
            lev = _Level(psi, y, dy, float(v), float(mu))
            self.levels.append(lev)
            psi = lev.out
        self.psi0 = psi
        self.v0 = float(v0)
        vp, self.dvp0 = kernel_parameter(self.v0, dy)
        c = grid.n_half
        if vp == 0.0:
            self.w0 = np.zeros_like(psi)
            self.w0[c] = 1.0
            self.value = float(psi[c])
            self.dw0 = np.zeros_like(psi)
            self.dw0[c - 1:c + 2] = [0.5 / dy**2, -1.0 / dy**2, 0.5 / dy**2]
        else:
            # the grid spans at least 8 standard deviations of the whole field (the weight beyond
            # is < 1e-15), so the root average is cut at the grid's edge when it is narrower
            L = min(math.ceil(TAIL * math.sqrt(vp) / dy) + 2, c)
            l = np.arange(-L, L + 1)
            w = np.exp(_log_kernel(l, dy, vp, 0.0))
            x2 = (l * dy) ** 2
            m2, _ = _moments(vp, dy)
            self.w0 = np.zeros_like(psi)
            self.w0[c - L:c + L + 1] = w
            self.dw0 = np.zeros_like(psi)
            self.dw0[c - L:c + L + 1] = w * (x2 - m2) / (2 * vp * vp) * self.dvp0
            self.value = float(self.w0 @ psi)

    def backward(self):
        """Return (rho_top, dF/dmu per level, dF/dv per level, dF/dv0, rhos).

        ``rho_top`` = dF/dtop is the distribution of the cavity field at the top level (it sums
        to 1); ``rhos[i]`` the distribution entering level i (from the bottom)."""
        lam = self.w0.copy()
        dv0 = float(self.dw0 @ self.psi0)
        dmu, dv, rhos = [], [], [lam]
        for lev in reversed(self.levels):
            lam, a, b = lev.backward(lam)
            dmu.append(a)
            dv.append(b)
            rhos.append(lam)
        return lam, dmu[::-1], dv[::-1], dv0, rhos
