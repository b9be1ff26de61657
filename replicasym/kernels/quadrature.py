r"""Numerical Gaussian kernels, for activations without a closed form.

Three routes to :math:`K(s_1,s_2,c)=\mathbb{E}[f(u)f(v)]`, :math:`(u,v)` centred Gaussian with
variances :math:`s_1, s_2` and covariance :math:`c`, with :math:`u=\sqrt{s_1}z_1`,
:math:`v=(c/\sqrt{s_1})z_1+\sqrt{s_2-c^2/s_1}\,z_2`:

* :func:`gauss_hermite_kernel` -- tensor Gauss--Hermite(e) quadrature over :math:`(z_1,z_2)`,
  numpy, vectorized over arrays of :math:`(s_1,s_2,c)` (exponentially accurate for smooth ``f``);
* :func:`mpmath_kernel` -- nested :func:`mpmath.quad` at a requested number of digits, split at 0
  so that kinks of piecewise activations sit on interval ends;
* :func:`hermite_kernel` -- the Hermite (Mehler) series
  :math:`K=\sum_k b_k(s_1)b_k(s_2)\rho^k`, :math:`\rho=c/\sqrt{s_1s_2}`,
  :math:`b_k(s)=\mathbb{E}[f(\sqrt s z)\,\mathrm{He}_k(z)]/\sqrt{k!}`, whose c-derivatives
  :math:`\partial_c^jK=\sum_k b_kb_k\,\tfrac{k!}{(k-j)!}\rho^{k-j}/(s_1s_2)^{j/2}` are Price's
  :math:`\mathbb{E}[f^{(j)}(u)f^{(j)}(v)]` even when :math:`f^{(j)}` is a distribution.
  All coefficients are non-negative when :math:`s_1=s_2` (Schoenberg).

Reference: O'Donnell, *Analysis of Boolean functions* ch. 11 (Hermite/Mehler expansion);
reference/winer_hanin_mlp.md §2.1 ("Hermite form").
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import mpmath
import numpy as np
from scipy.special import roots_legendre

from ..errors import ParameterError

__all__ = [
    "gauss_hermite",
    "gauss_hermite_kernel",
    "gaussian_expectation",
    "hermite_coefficients",
    "hermite_kernel",
    "hermite_series",
    "mpmath_kernel",
    "split_legendre",
]

_CHUNK = 1 << 22  # quadrature points per vectorized block


@functools.lru_cache(maxsize=32)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and weights of :math:`\mathbb{E}_z g(z)\approx\sum_i w_i g(z_i)`, :math:`z\sim N(0,1)`
    (numpy's ``hermegauss`` is accurate up to about 300 nodes)."""
    if not 2 <= n <= 300:
        raise ParameterError(f"number of Gauss-Hermite nodes must be in [2, 300], got {n}")
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / np.sqrt(2 * np.pi)


@functools.lru_cache(maxsize=32)
def split_legendre(n: int, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Gauss--Legendre nodes on :math:`[-Z,0]\cup[0,Z]` (``n`` per half) and plain weights: exact
    at a kink at 0 (ReLU, abs, sign) and exponentially accurate for functions analytic off the real
    axis, where Gauss--Hermite converges only like :math:`e^{-c\sqrt n}` (tanh's poles)."""
    x, w = roots_legendre(n)  # O(n^2) (numpy's leggauss is O(n^3))
    z = np.concatenate([(x - 1) * half_width / 2, (x + 1) * half_width / 2])
    return z, np.concatenate([w, w]) * half_width / 2


def gaussian_expectation(f: Callable, s, n: int = 200) -> np.ndarray:
    r""":math:`\mathbb{E}[f(\sqrt{s}\,z)]` (split Gauss--Legendre on :math:`|z|\le 11`), vectorized
    over ``s``."""
    z, w = split_legendre(n, 11.0)
    w = w * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    s = np.asarray(s, dtype=float)
    return f(np.sqrt(s)[..., None] * z) @ w


def _pair_arrays(s1, s2, c):
    s1, s2, c = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (s1, s2, c)))
    if np.any(s1 <= 0) or np.any(s2 <= 0):
        raise ParameterError("kernel variances s1, s2 must be > 0")
    if np.any(c * c > s1 * s2 * (1 + 1e-12)):
        raise ParameterError("covariance must satisfy c^2 <= s1*s2")
    return s1, s2, c


def gauss_hermite_kernel(f: Callable, s1, s2, c, n: int = 96, g: Callable | None = None,
                         rule: str = "legendre") -> np.ndarray:
    r""":math:`\mathbb{E}[f(u)g(v)]` (``g`` defaults to ``f``) by a tensor product rule over
    :math:`(z_1,z_2)`, vectorized over the broadcast of ``s1, s2, c``: ``rule="hermite"`` is the
    ``n``-point Gauss--Hermite rule; ``rule="legendre"`` (default) the Gaussian-weighted split
    Gauss--Legendre rule with ``n`` nodes per half line on :math:`|z|\le 9`, which is exact at
    ReLU-type kinks of :math:`f(u)` and converges much faster for tanh-like activations."""
    g = f if g is None else g
    s1, s2, c = _pair_arrays(s1, s2, c)
    shape = s1.shape
    s1, s2, c = s1.ravel(), s2.ravel(), c.ravel()
    if rule == "hermite":
        z, w = gauss_hermite(n)
    elif rule == "legendre":
        z, w = split_legendre(n, 9.0)
        w = w * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    else:
        raise ParameterError(f"unknown quadrature rule {rule!r}; use 'hermite' or 'legendre'")
    out = np.empty(s1.size)
    step = max(1, _CHUNK // (z.size * z.size))
    for i in range(0, s1.size, step):
        a, b, cc = s1[i:i + step, None], s2[i:i + step, None], c[i:i + step, None]
        fu = f(np.sqrt(a) * z)                                        # (m, n): f(u) at z1 nodes
        slope, resid = cc / np.sqrt(a), np.sqrt(np.maximum(b - cc * cc / a, 0.0))
        gv = g((slope * z)[:, :, None] + (resid * z)[:, None, :])      # (m, n1, n2)
        out[i:i + step] = np.einsum("mi,i,mij,j->m", fu, w, gv, w)
    return out.reshape(shape)


def mpmath_kernel(f: Callable, s1, s2, c, digits: int = 30, g: Callable | None = None) -> mpmath.mpf:
    r""":math:`\mathbb{E}[f(u)g(v)]` by nested :func:`mpmath.quad` at ``digits`` significant digits
    (``f``, ``g`` mpmath functions, e.g. ``Activation.mpmath()``)."""
    g = f if g is None else g
    with mpmath.workdps(digits + 10):
        s1, s2, c = (mpmath.mpf(str(v)) if not isinstance(v, mpmath.mpf) else v for v in (s1, s2, c))
        if c * c > s1 * s2:
            raise ParameterError("covariance must satisfy c^2 <= s1*s2")
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        r1, resid = mpmath.sqrt(s1), mpmath.sqrt(max(s2 - c * c / s1, mpmath.mpf(0)))
        slope = c / r1
        pts = [-mpmath.inf, 0, mpmath.inf]

        def inner(z1):
            if resid == 0:
                return g(slope * z1)
            kink = -slope * z1 / resid  # where v = 0
            return mpmath.quad(lambda z2: norm * mpmath.exp(-z2 * z2 / 2) * g(slope * z1 + resid * z2),
                               sorted({-mpmath.inf, kink, mpmath.inf}))

        val = mpmath.quad(lambda z1: norm * mpmath.exp(-z1 * z1 / 2) * f(r1 * z1) * inner(z1), pts)
    return +val


def hermite_coefficients(f: Callable, s, terms: int = 160, nodes: int = 600) -> np.ndarray:
    r""":math:`b_k(s)=\mathbb{E}[f(\sqrt s z)\mathrm{He}_k(z)]/\sqrt{k!}`, k = 0..terms-1, for each ``s``
    (shape ``s.shape + (terms,)``).  Computed with the bounded Hermite functions
    :math:`\psi_k=h_k\sqrt{\varphi}`, :math:`\psi_{k+1}=(z\psi_k-\sqrt{k}\,\psi_{k-1})/\sqrt{k+1}`,
    and split Gauss--Legendre quadrature (``nodes`` per half line)."""
    z, w = split_legendre(nodes, 2 * np.sqrt(terms) + 12)
    root_phi = np.exp(-z * z / 4) / (2 * np.pi) ** 0.25
    s = np.asarray(s, dtype=float)
    fz = f(np.sqrt(s)[..., None] * z) * (w * root_phi)           # (..., 2*nodes)
    h = np.empty((terms, z.size))
    h[0] = root_phi
    if terms > 1:
        h[1] = z * root_phi
    for k in range(1, terms - 1):
        h[k + 1] = (z * h[k] - np.sqrt(k) * h[k - 1]) / np.sqrt(k + 1)
    return fz @ h.T


def hermite_series(f: Callable, s: float, tol: float = 1e-14, max_terms: int = 1024) -> np.ndarray:
    r"""Adaptive :func:`hermite_coefficients`: the number of terms doubles (from 128) until the tail
    :math:`\sum_{k>3N/4} k^3 b_k^2` of the last quarter is below ``tol`` times :math:`\sum_k b_k^2`
    (so that up to three c-derivatives converge), or ``max_terms`` is reached (non-smooth or
    saturating activations at large variance converge only algebraically)."""
    terms = 128
    while True:
        b = hermite_coefficients(f, s, terms, 3 * terms + 200)
        a = b * b
        k = np.arange(terms)
        if np.sum((a * k**3)[3 * terms // 4:]) <= tol * max(np.sum(a), 1e-300) or terms >= max_terms:
            return b
        terms *= 2


def hermite_kernel(f: Callable, s1, s2, c, derivative: int = 0) -> np.ndarray:
    r""":math:`\partial_c^j\,\mathbb{E}[f(u)f(v)]` from the Hermite series (scalar ``s1``, ``s2``;
    ``c`` any array)."""
    s1, s2 = float(s1), float(s2)
    _pair_arrays(s1, s2, c)
    b1, b2 = hermite_series(f, s1), hermite_series(f, s2)
    terms = min(b1.size, b2.size)
    a = b1[:terms] * b2[:terms]
    k = np.arange(terms)
    fall = np.ones(terms)
    for i in range(derivative):
        fall = fall * np.maximum(k - i, 0)
    coef = (a * fall)[derivative:]
    rho = np.asarray(c, dtype=float) / np.sqrt(s1 * s2)
    return np.polynomial.polynomial.polyval(rho, coef) / (s1 * s2) ** (derivative / 2)
