r"""The Crisanti--Sommers functional of spherical models on step functions, with analytic gradients.

A Parisi function :math:`x(q)` that is constant, :math:`x = v_j`, on the cells
:math:`(b_{j-1}, b_j)` (:math:`b_{-1} = 0`, :math:`j = 0..K`) and equal to 1 above :math:`b_K`
gives (DESIGN.md conventions, :math:`\Phi(0) = 0`; Crisanti & Sommers, Z. Phys. B 87 (1992) 341)

.. math::
   \Phi[x] = \frac{\beta^2}{2}\int_0^1 x(q)\,\xi'(q)\,dq
           + \frac12\Big[\int_0^{b_K}\frac{dq}{\lambda(q)} + \log(1-b_K)\Big],\qquad
   \lambda(q) = \int_q^1 x(p)\,dp .

With :math:`v_0 = 0, v_j = m_j` this is exactly the engine's k-RSB free entropy
(``derive(model, "krsb:K")``: levels :math:`q_j = b_j`, multiplicities :math:`m_j - m_{j+1}`,
:math:`\tfrac12\log\det Q` from the eigenvalues :math:`\lambda(q_{j-1})`), which the tests check
at random points.  Each cell contributes in closed form
:math:`\int_{\rm cell} dq/\lambda = \log(1 + v_j\Delta_j/\lambda(b_j))/v_j` (``log1p`` with its
series at small argument, so :math:`v_j \to 0` is regular), and the gradients are accumulated
backwards in O(K) (:func:`cell_integral`).

The zero-temperature limit :math:`x = \alpha/\beta` below the top level,
:math:`\chi = \beta(1 - q_K)`, gives the Chen--Sen functional (Chen & Sen, Commun. Math. Phys. 350
(2017) 129; Jagannath & Tobasco, Commun. Math. Phys. 352 (2017) 979)

.. math::
   E_{\rm gs} = -\min_{\chi,\alpha}\ \frac12\Big[\xi'(1)\chi + \int_0^1\alpha(q)\xi'(q)\,dq
                + \int_0^1\frac{dq}{\chi + \int_q^1\alpha}\Big]

(:func:`ground_functional`), the same cell sum with :math:`b_K = 1` and top value :math:`\chi`.
Both functionals are convex in x (resp. :math:`(\chi, \alpha)`) and the Parisi formula is their
minimum (Talagrand, PTRF 134 (2006) 339; Chen 2013).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..models.spec import ModelSpec

__all__ = [
    "Covariance",
    "ParisiFunction",
    "Segment",
    "cell_integral",
    "free_entropy",
    "ground_functional",
    "replicon",
]


@dataclass(frozen=True)
class Covariance:
    r""":math:`\xi` and its derivatives as vectorised numpy functions (``d[r]`` is :math:`\xi^{(r)}`)."""

    d: tuple

    @classmethod
    def of(cls, model: ModelSpec, orders: int = 4) -> Covariance:
        if model.spins != "spherical":
            raise ParameterError(f"the Crisanti-Sommers functional is for spherical models, not {model.spins}")
        return cls(tuple(model.xi_numpy(r) for r in range(orders)))

    def __call__(self, r: int, q) -> np.ndarray:
        f: Callable = self.d[r]
        return np.asarray(f(np.asarray(q, dtype=float)), dtype=float)


def _log1p_over(a: np.ndarray) -> np.ndarray:
    """log(1 + a)/a, regular at a = 0."""
    small = np.abs(a) < 1e-4
    safe = np.where(small, 1.0, a)
    return np.where(small, 1 - a / 2 + a * a / 3 - a**3 / 4, np.log1p(safe) / safe)


def _log1p_over_prime(a: np.ndarray) -> np.ndarray:
    """d/da [log(1 + a)/a], regular at a = 0."""
    small = np.abs(a) < 1e-3
    safe = np.where(small, 1.0, a)
    return np.where(small, -0.5 + 2 * a / 3 - 3 * a * a / 4 + 4 * a**3 / 5,
                    (safe / (1 + safe) - np.log1p(safe)) / safe**2)


def _tops(b: np.ndarray, v: np.ndarray, top):
    """Cell widths, lambda at the top of each cell (lambda(b_K) = top,
    lambda(b_{j-1}) = lambda(b_j) + v_j Delta_j) and the increments v_j Delta_j; last axis = cells."""
    delta = np.diff(b, prepend=0.0, axis=-1)
    inc = v * delta
    upper = np.flip(np.cumsum(np.flip(inc, -1), axis=-1), -1)
    return delta, np.asarray(top)[..., None] + upper - inc, inc


def cell_integral(b: np.ndarray, v: np.ndarray, top):
    r""":math:`\int_0^{b_K} dq/\lambda(q)` for the step function ``v`` on the cells ending at ``b``,
    with :math:`\lambda(b_K) =` ``top``; returns (value, d/db, d/dv, d/dtop).  Leading axes batch."""
    delta, A, inc = _tops(b, v, top)
    r = delta / A
    a = v * r
    value = np.sum(r * _log1p_over(a), axis=-1)
    bottom = A + inc
    dA = -delta / (A * bottom)
    dD = 1.0 / bottom
    dv = r * r * _log1p_over_prime(a)
    # lambda at the top of cell j feeds every cell below it: accumulate the adjoints upwards
    Abar = np.cumsum(dA, axis=-1)
    below = np.concatenate([np.zeros_like(Abar[..., :1]), Abar[..., :-1]], axis=-1)
    gv = dv + below * delta
    gD = dD + below * v
    gb = gD - np.concatenate([gD[..., 1:], np.zeros_like(gD[..., :1])], axis=-1)
    return value, gb, gv, Abar[..., -1]


def _energy_sum(xi: Covariance, b: np.ndarray, v: np.ndarray):
    r""":math:`\sum_j v_j(\xi(b_j) - \xi(b_{j-1}))` and its gradient in v."""
    xb = xi(0, b)
    prev = np.concatenate([np.full_like(xb[..., :1], float(xi(0, 0.0))), xb[..., :-1]], axis=-1)
    return np.sum(v * (xb - prev), axis=-1), xb - prev


def _next(v: np.ndarray, fill: float) -> np.ndarray:
    """v shifted by one cell, ``fill`` above the last."""
    return np.concatenate([v[..., 1:], np.full_like(v[..., :1], fill)], axis=-1)


def free_entropy(xi: Covariance, beta: float, b: np.ndarray, v: np.ndarray, gap=None):
    r""":math:`\Phi[x]` for x = ``v`` on the cells ending at ``b`` (x = 1 above :math:`b_K < 1`);
    ``gap`` is :math:`1 - b_K` when known more accurately than by subtraction.  Returns
    (Phi, dPhi/db, dPhi/dv); leading axes batch."""
    b = np.asarray(b, dtype=float)
    v = np.asarray(v, dtype=float)
    g = 1.0 - b[..., -1] if gap is None else np.asarray(gap, dtype=float)
    S, dSv = _energy_sum(xi, b, v)
    P, Pb, Pv, Ptop = cell_integral(b, v, g)
    phi = 0.5 * beta**2 * (S + float(xi(0, 1.0)) - xi(0, b[..., -1])) + 0.5 * (P + np.log(g))
    db = 0.5 * beta**2 * xi(1, b) * (v - _next(v, 1.0)) + 0.5 * Pb
    db[..., -1] -= 0.5 * (Ptop + 1.0 / g)
    dv = 0.5 * beta**2 * dSv + 0.5 * Pv
    return phi, db, dv


def ground_functional(xi: Covariance, chi, b: np.ndarray, alpha: np.ndarray):
    r"""The Chen--Sen functional :math:`\mathcal Q(\chi, \alpha)` (:math:`E_{\rm gs} = -\min\mathcal Q`)
    for :math:`\alpha` = ``alpha`` on the cells ending at ``b`` (:math:`b_K = 1`); returns
    (Q, dQ/dchi, dQ/db, dQ/dalpha) (the entry for the fixed :math:`b_K = 1` is not meaningful);
    leading axes batch."""
    b = np.asarray(b, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    S, dSa = _energy_sum(xi, b, alpha)
    P, Pb, Pa, Ptop = cell_integral(b, alpha, chi)
    xi1 = float(xi(1, 1.0))
    value = 0.5 * (xi1 * np.asarray(chi) + S + P)
    db = 0.5 * xi(1, b) * (alpha - _next(alpha, 0.0)) + 0.5 * Pb
    return value, 0.5 * (xi1 + Ptop), db, 0.5 * (dSa + Pa)


def replicon(xi: Covariance, scale: float, q, lam) -> np.ndarray:
    r"""The replicon along the solution, :math:`1 - \beta^2\xi''(q)\lambda(q)^2` (``scale`` =
    :math:`\beta`; at T = 0 ``scale`` = 1 and :math:`\lambda = \chi + \int_q^1\alpha`): at the top
    level of k-RSB it is the engine's :math:`1 - \beta^2\xi''(q_k)(1 - q_k)^2`; it vanishes on the
    continuous part of the Parisi measure (marginal stability, Crisanti & Sommers 1992)."""
    return 1.0 - scale**2 * xi(2, q) * np.asarray(lam, dtype=float) ** 2


# ---------------------------------------------------------------------------------------------
# Parisi functions with continuous parts
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A piece of x(q) on [a, b]: ``"flat"`` (x = ``value``) or ``"cont"`` (the closed form
    :math:`x = \\xi'''/(2\\beta\\xi''^{3/2})`, :math:`\\lambda = 1/(\\beta\\sqrt{\\xi''})`)."""

    kind: str
    a: float
    b: float
    value: float = float("nan")


@dataclass
class ParisiFunction:
    r"""x(q) (T > 0; x = 1 above the last segment, :math:`\lambda(q_M) = 1 - q_M`) or
    :math:`\alpha(q)` (T = 0; segments up to 1, :math:`\Lambda(1) = \chi`) as a list of segments
    from q = 0 up.  ``scale`` is :math:`\beta` (T > 0) or 1 (T = 0); ``gap`` is
    :math:`\lambda` at the top of the last segment."""

    xi: Covariance
    scale: float
    segments: list
    gap: float
    ground: bool

    @classmethod
    def steps(cls, xi: Covariance, scale: float, b, v, gap: float, ground: bool) -> ParisiFunction:
        """The step function x = v_j on (b_{j-1}, b_j) (zero-width cells dropped)."""
        edges = np.concatenate([[0.0], np.asarray(b, float)])
        segs = [Segment("flat", float(edges[j]), float(edges[j + 1]), float(v[j]))
                for j in range(len(v)) if edges[j + 1] > edges[j]]
        if not ground and not segs:  # the paramagnet: x = 1 above q_M = b_K
            return cls(xi, scale, [Segment("flat", 0.0, float(edges[-1]), 0.0)], float(gap), ground)
        return cls(xi, scale, segs, float(gap), ground)

    @property
    def top(self) -> float:
        """q_M (T > 0), 1 (T = 0)."""
        return self.segments[-1].b

    def _lam_cont(self, q):
        return 1.0 / (self.scale * np.sqrt(self.xi(2, q)))

    def edge_lambdas(self) -> list:
        """(lambda(a), lambda(b)) per segment, integrating x down from the top; on a continuous
        segment lambda is the closed form (its mismatch at b is :meth:`continuity_defect`)."""
        out = []
        lam = self.gap
        for s in reversed(self.segments):
            if s.kind == "flat":
                lo = lam + s.value * (s.b - s.a)
                out.append((lo, lam))
            else:
                lo = float(self._lam_cont(s.a))
                out.append((lo, float(self._lam_cont(s.b))))
            lam = out[-1][0]
        return out[::-1]

    def continuity_defect(self) -> float:
        """max |lambda(b^-) - lambda(b^+)| over the continuous segments (0 for a consistent x)."""
        lam = self.edge_lambdas()
        above = [la for la, _ in lam[1:]] + [self.gap]
        return max((abs(lb - up) for s, (_, lb), up in zip(self.segments, lam, above) if s.kind == "cont"),
                   default=0.0)

    def functional(self) -> tuple[float, float]:
        r"""(value, :math:`J_1 = \int_0^1 x\xi'`): :math:`\Phi = \frac{\beta^2}{2}J_1 + \frac12(J_2 +
        \log(1-q_M))` at T > 0; the Chen--Sen :math:`\mathcal Q = \frac12(\xi'(1)\chi + J_1 + J_2)`
        at T = 0, with :math:`J_2 = \int_0^{q_M} dq/\lambda`; continuous segments integrate by parts
        into :math:`I = \int\sqrt{\xi''}`."""
        from scipy.integrate import quad
        J1 = J2 = 0.0
        for s, (la, lb) in zip(self.segments, self.edge_lambdas()):
            if s.kind == "flat":
                d = s.b - s.a
                J1 += s.value * float(self.xi(0, s.b) - self.xi(0, s.a))
                J2 += float(d / lb * _log1p_over(np.asarray(s.value * d / lb)))
            else:
                I = quad(lambda q: float(np.sqrt(self.xi(2, q))), s.a, s.b, epsabs=1e-14, epsrel=1e-13,
                         limit=200)[0]
                J1 += la * float(self.xi(1, s.a)) - lb * float(self.xi(1, s.b)) + I / self.scale
                J2 += self.scale * I
        if self.ground:
            return 0.5 * (float(self.xi(1, 1.0)) * self.gap + J1 + J2), J1
        J1 += float(self.xi(0, 1.0) - self.xi(0, self.top))
        return 0.5 * self.scale**2 * J1 + 0.5 * (J2 + np.log(self.gap)), J1

    def _pieces(self):
        """Segments with their lambdas, the x = 1 segment above q_M included at T > 0."""
        pieces = list(zip(self.segments, self.edge_lambdas()))
        if not self.ground:
            pieces.append((Segment("flat", self.top, 1.0, 1.0), (self.gap, 0.0)))
        return pieces

    def _G_on(self, s: Segment, la: float, lb: float, F_a: float, C_a: float, G_a: float, t):
        r""":math:`\tilde G(t) = -\int_0^t F` on one segment, analytically; ``C_a`` =
        :math:`\int_0^a\lambda^{-2}`, ``F_a`` = F(a).  Returns (G(t), F(t), C(t))."""
        k2 = self.scale**2
        if s.kind == "cont":  # F is constant there: F' = scale^2 xi'' - lambda^-2 = 0
            C = C_a + k2 * (self.xi(1, t) - self.xi(1, s.a))
            return G_a - F_a * (t - s.a), np.full_like(t, F_a), C
        lam = la - s.value * (t - s.a)
        if s.value > 0:
            C = C_a + (1.0 / lam - 1.0 / la) / s.value
            intC = C_a * (t - s.a) + (np.log(la / lam) / s.value - (t - s.a) / la) / s.value
        else:
            C = C_a + (t - s.a) / la**2
            intC = C_a * (t - s.a) + 0.5 * (t - s.a) ** 2 / la**2
        F = k2 * self.xi(1, t) - C
        G = G_a - (k2 * (self.xi(0, t) - self.xi(0, s.a)) - intC)
        return G, F, C

    def optimality_gap(self, points: int = 400) -> float:
        r"""How far x is from the minimiser of the convex functional: with
        :math:`F(q) = \beta^2\xi'(q) - \int_0^q\lambda^{-2}` (:math:`\beta \to 1`, :math:`\lambda \to
        \Lambda` at T = 0; :math:`\tfrac12 F = \delta\Phi/\delta x(q)`) and
        :math:`\tilde G(s) = -\int_0^s F`, x is optimal iff :math:`\tilde G` attains its minimum over
        [0, 1) on the support of the Parisi measure dx (T = 0: on supp dα and at q = 1, with
        F(1) = 0) (Talagrand, PTRF 134 (2006) 339, Prop. 2.1; Chen & Sen 2017).  Returns
        max(G* - min G, spread of G over the support, |F(1)| at T = 0), evaluated in closed form on
        ``points`` points per segment."""
        G_a, C_a = 0.0, 0.0
        F_a = self.scale**2 * float(self.xi(1, 0.0))
        support, values = [], []
        pieces = self._pieces()
        prev_value = 0.0
        for i, (s, (la, lb)) in enumerate(pieces):
            last = i == len(pieces) - 1 and not self.ground
            hi = s.a + (s.b - s.a) * (1 - 1e-6) if last else s.b
            t = np.linspace(s.a, hi, points)
            G, F, C = self._G_on(s, la, lb, F_a, C_a, G_a, t)
            values.append(G)
            x_start = s.value if s.kind == "flat" else float(self.x(np.array([s.a]))[0])
            if x_start > prev_value + 1e-12:  # an atom of dx at s.a
                support.append(G[0])
            if s.kind == "cont":
                support.extend(G.tolist())
            prev_value = s.value if s.kind == "flat" else float(self.x(np.array([s.b]))[0])
            G_a, F_a, C_a = float(G[-1]), float(F[-1]), float(C[-1])
            if last:
                break
        allG = np.concatenate(values)
        if self.ground:
            support.append(G_a)
            ref = G_a
            extra = abs(F_a)
        else:
            ref = support[-1] if support else 0.0
            extra = 0.0
        spread = max((abs(g - ref) for g in support), default=0.0)
        return float(max(ref - np.min(allG), spread, extra))

    def _x_cont(self, q):
        with np.errstate(all="ignore"):
            return self.xi(3, q) / (2 * self.scale * self.xi(2, q) ** 1.5)

    def x(self, q) -> np.ndarray:
        """x(q) (alpha(q) at T = 0) at the points q, right-continuous at atoms (x = 1 above q_M)."""
        q = np.asarray(q, dtype=float)
        last = self.segments[-1]
        above = 1.0 if not self.ground else last.value if last.kind == "flat" else float(self._x_cont(last.b))
        out = np.full_like(q, above)
        for s in self.segments:
            inside = (q >= s.a) & (q < s.b)
            out = np.where(inside, s.value if s.kind == "flat" else self._x_cont(q), out)
        return out

    def polyline(self, per_segment: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q, x, lambda) along x(q) drawn as a polyline from q = 0 to 1: flat pieces as two points,
        continuous pieces sampled, jumps (atoms of dx) as repeated q."""
        qs, xs, ls = [], [], []
        for s, (la, lb) in self._pieces():
            if s.kind == "flat":
                t = np.array([s.a, s.b])
                x = np.full(2, s.value)
                lam = np.array([la, lb])
            else:
                t = np.linspace(s.a, s.b, per_segment)
                x = self._x_cont(t)
                lam = self._lam_cont(t)
            qs.append(t)
            xs.append(x)
            ls.append(lam)
        return np.concatenate(qs), np.concatenate(xs), np.concatenate(ls)
