r"""Gaussian quadrature of expressions that contain a Moreau envelope's maximiser.

The zero-temperature layer block (:func:`replicasym.symbolic.layered.zero_temperature_block`) contains

.. math::
   \mathbb E_{\xi,u}\, g\big(\xi, u, \delta^*(\xi, u)\big),\qquad
   \delta^* = \operatorname{arg\,max}_\delta\Big[G(y+\delta, u) - \frac{\delta^2}{2s}\Big],\quad y = a\,\xi,

(:class:`~replicasym.symbolic.envelope.Argmax`, produced by
:func:`~replicasym.symbolic.envelope.laplace_limit`).  In :math:`z = y + \delta` the inner problem is
:math:`\max_z \Phi(z) = G(z) - (z-y)^2/2s`, whose maximiser :math:`z^*(y)` is non-decreasing in y (Φ is
supermodular in (z, y)).  Where :math:`sG''(z) > 1` somewhere, Φ has two local maxima for a window of y
and :math:`z^*` **jumps** at the Maxwell point where they tie.  The integrand is smooth between jumps,
so a fixed rule converges only like the node spacing; this module puts the jumps on panel ends:

* **the inner maximum**: the local maxima of Φ are the upward crossings of :math:`Y(z) = z - sG'(z)` through
  y (:math:`\Phi' = (y - Y)/s`), read off one z-grid per u; the two highest are polished by safeguarded
  Newton and compared by their exact values;
* **u**: Gauss--Legendre panels (8 nodes) on :math:`|u| \le 9` with the Gaussian weight, split where the
  number of non-concave windows of Φ changes (a fold is born, dies or merges: the u-integrand is singular
  there) and bisected adaptively until a panel's integral of proxy quantities (the envelope, δ*², ξδ*,
  G(z*)) agrees with that of its halves within :data:`PANEL_TOLERANCE`;
* **ξ**, per u node: a grid of :data:`XI_CELLS` cells with the global maximiser at its points.  A cell
  contains a jump iff :math:`sG'' > 1` somewhere between its two maximisers (a local minimum of Φ separates
  the branches); the jump is located by bisection on which branch is higher (branches followed by local
  Newton).  Jump cells, and steep cells (:math:`sG''` above :data:`STEEP`: a branch close to a fold), are
  split at the jump (at the steepest point) and get Gauss--Legendre panels graded geometrically toward the
  split; the other cells get :data:`XI_CELL_NODES` Gauss--Legendre nodes, at which the maximiser is followed
  from the cell's ends (checked to stay between them, else the global search decides).

The rule is computed once per parameter set (cached) and is shared by every expectation that contains the
same maximiser.  Failures are loud: a maximiser at the edge of the search window (an unbounded inner problem,
e.g. :math:`\mu s > 1` with a linear tail), an inner maximisation that does not converge, or a u-integral not
resolved after :data:`U_LEVELS` bisections raises :class:`~replicasym.errors.ConvergenceError`.  Accuracy:
per-u ξ-integrals agree with an adaptive quadrature over a brute-force maximiser to 2e-9
(tests/test_envelope.py); the whole integral reaches 1e-13 where a jump-blind tensor grid of the same cost
reaches 3e-5 (benchmarks/bench_envelope.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.special import roots_legendre

from ..errors import ConvergenceError
from ..symbolic.envelope import Argmax, Maximum, maximisers
from ..symbolic.gaussian import GaussianExpectation

__all__ = ["EnvelopeRule", "compile_envelope"]

#: the half-width of the u and xi ranges (standard Gaussian weight below 1e-17 beyond)
RANGE = 9.0
U_PANEL_NODES = 8
U_PANELS = 12
U_LEVELS = 14
PANEL_TOLERANCE = 1e-10
XI_CELLS = 45
XI_CELL_NODES = 16
STEEP = 0.5
GRADED_LEVELS = 14
GRADED_RATIO = 0.4
GRADED_NODES = 8
NEWTON_STEPS = 60
BISECTIONS = 48
_Z = sp.Symbol("z", real=True)


def _graded(levels: int = GRADED_LEVELS, ratio: float = GRADED_RATIO, nodes: int = GRADED_NODES):
    """Fractions f in (0, 1) and weights (sum 1) of Gauss--Legendre panels graded geometrically toward f = 1,
    for an integrand with a near-singular end there (a maximiser branch close to its fold)."""
    edges = np.concatenate([[0.0], 1 - ratio ** np.arange(1, levels), [1.0]])
    x, w = roots_legendre(nodes)
    lo, hi = edges[:-1, None], edges[1:, None]
    return ((hi - lo) / 2 * x + (hi + lo) / 2).ravel(), ((hi - lo) / 2 * w).ravel()


@dataclass(frozen=True)
class _Problem:
    """The inner problem of one Argmax as numpy functions of (z, u, *params) and (xi, *params):
    G, G', G'', y and s."""

    G: object
    dG: object
    d2G: object
    y: object
    s: object


@functools.lru_cache(maxsize=64)
def _problem(a: Argmax, xi: sp.Symbol, u: sp.Symbol, params: tuple) -> _Problem:
    """Split F = G(y + delta, u) - delta^2/(2 s) (the form :func:`laplace_limit` produces).

    y is the common shift of the arguments of F's functions (linear in xi); since d/d(delta) G(y + delta) =
    d/dy G(y + delta), the penalty width follows from F_delta - F_xi/y'(xi) = -delta/s, whatever polynomial
    part the activation has."""
    F, d = a.function, a.variable
    shifts = {
        sp.expand(f.args[0] - d)
        for f in sp.preorder_traversal(F)
        if isinstance(f, sp.Function) and len(f.args) == 1 and f.args[0].has(d)
    }
    if len(shifts) != 1:
        raise ValueError(
            f"envelope quadrature: delta must enter through one argument y + delta (got {shifts})"
        )
    y = shifts.pop()
    if sp.diff(y, xi, 2) != 0 or y.has(u) or not y.has(xi):
        raise ValueError(f"envelope quadrature: the shift y = {y} must be linear in {xi}")
    s = sp.simplify(-d / (sp.diff(F, d) - sp.diff(F, xi) / sp.diff(y, xi)))
    if s.has(d, xi, u):
        raise ValueError(f"envelope quadrature: {F} is not G(y + delta) - delta^2/(2 s)")
    G = sp.expand(sp.expand(F + d**2 / (2 * s)).xreplace({d: _Z - y}))
    G = G.replace(
        lambda e: isinstance(e, sp.Function) and len(e.args) == 1 and sp.expand(e.args[0] - _Z) == 0,
        lambda e: e.func(_Z),
    )
    if G.has(xi):
        raise ValueError(f"envelope quadrature: G depends on {xi} other than through y")

    def f(expr, *v):
        g = sp.lambdify(v, expr, modules=["scipy", "numpy"])
        return lambda *a: np.asarray(g(*a), dtype=float)

    return _Problem(
        f(G, _Z, u, *params),
        f(sp.diff(G, _Z), _Z, u, *params),
        f(sp.diff(G, _Z, 2), _Z, u, *params),
        f(y, xi, *params),
        f(s, *params),
    )


class EnvelopeRule:
    r"""Nodes ``xi`` (Nu, Nx), ``u`` (Nu, 1), weights ``w`` (Nu, Nx) and maximisers ``z`` (Nu, Nx) (module
    docstring) of one inner problem at one parameter set; :math:`\sum w = 1` up to the truncation."""

    def __init__(self, prob: _Problem, params: tuple, tol: float = PANEL_TOLERANCE):
        self.p, self.params = prob, params
        self.s = float(prob.s(*params))
        y0, y1 = (float(prob.y(v, *params)) for v in (0.0, 1.0))
        self.slope, self.offset = y1 - y0, y0  # y = slope * xi + offset
        if not (np.isfinite(self.s) and self.s > 0 and np.isfinite(self.slope)):
            raise ConvergenceError(
                f"envelope quadrature: the penalty width s = {self.s} is not positive", residual=np.inf
            )
        self.u, self.xi, self.w, self.z = self._adaptive_u(tol)

    # --- the inner problem -------------------------------------------------------------------
    def _phi(self, z, y, u):
        return self.p.G(z, u, *self.params) - (z - y) ** 2 / (2 * self.s)

    def _local(self, z, y, u):
        """Safeguarded Newton ascent to the local maximum of Phi near z (vectorised; only the points not yet
        converged are iterated); also says where it converged to a non-degenerate maximum."""
        z, y, u = (np.array(a, dtype=float) for a in np.broadcast_arrays(z, y, u))
        shape = z.shape
        z, y, u = z.ravel(), y.ravel(), u.ravel()
        active = np.arange(z.size)
        for _ in range(NEWTON_STEPS):
            za, ya, ua = z[active], y[active], u[active]
            g1 = self.p.dG(za, ua, *self.params) - (za - ya) / self.s
            g2 = self.p.d2G(za, ua, *self.params) - 1 / self.s
            step = np.clip(np.where(g2 < 0, -g1 / np.where(g2 < 0, g2, -1.0), np.sign(g1) * 0.1), -0.5, 0.5)
            z[active] = za + step
            active = active[np.abs(step) > 1e-14 * (1 + np.abs(za))]
            if active.size == 0:
                break
        g1 = self.p.dG(z, u, *self.params) - (z - y) / self.s
        g2 = self.p.d2G(z, u, *self.params) - 1 / self.s
        ok = (np.abs(g1) <= 1e-9 * (1 + np.abs(z) / self.s)) & (g2 < 0)
        return z.reshape(shape), ok.reshape(shape)

    def _global(self, y, u):
        r"""The global maximiser at every (u, y) (y: (Nu, m), u: (Nu, 1)).  The local maxima of Phi are the
        upward crossings of :math:`Y(z) = z - sG'(z)` through y (:math:`\Phi' = (y - Y)/s`): they are read
        off one z-grid per u, the two highest are polished by Newton and compared."""
        wide = np.linspace(-40.0, 40.0, 4001)
        osc = np.ptp(self.p.G(wide, u, *self.params) * np.ones_like(wide), axis=-1)
        R = float(np.max(np.sqrt(2 * self.s * osc) + 4 * np.sqrt(self.s)))  # (z* - y)^2 <= 2 s osc G
        lo, hi = float(np.min(y)) - R, float(np.max(y)) + R
        zs = np.linspace(lo, hi, int(min(20001, max(2001, np.ceil((hi - lo) / 0.02)))))
        Gz = self.p.G(zs, u, *self.params) * np.ones_like(zs)
        Y = zs - self.s * self.p.dG(zs, u, *self.params) * np.ones_like(zs)
        out = self._global_rows(y, u, zs, Gz, Y)
        if np.any(np.abs(out - y) > 0.98 * R):
            raise ConvergenceError(
                "envelope quadrature: the maximiser sits at the edge of its search window (the "
                "inner problem is unbounded or badly scaled for these parameters)",
                residual=float(np.max(np.abs(out - y)) / R),
            )
        return out

    def _global_rows(self, y, u, zs, Gz, Y):
        best = np.full(y.shape, -np.inf)
        cand = np.zeros(y.shape + (2,))
        vals = np.full(y.shape + (2,), -np.inf)
        h = zs[1] - zs[0]
        for i in range(y.shape[0]):
            # maximal runs where Y increases: one upward crossing per y in (Y[a], Y[b]] each
            inc = np.diff(Y[i]) > 0
            edges = np.flatnonzero(np.diff(np.concatenate([[0], inc.astype(np.int8), [0]])))
            for a, b in zip(edges[::2], edges[1::2]):  # Y increasing on indices a..b
                yi = y[i]
                m = (yi > Y[i, a]) & (yi <= Y[i, b])
                if not np.any(m):
                    continue
                k = a - 1 + np.searchsorted(Y[i, a : b + 1], yi[m])
                frac = (yi[m] - Y[i, k]) / (Y[i, k + 1] - Y[i, k])
                zc = zs[k] + frac * h
                v = Gz[i, k] + frac * (Gz[i, k + 1] - Gz[i, k]) - (zc - yi[m]) ** 2 / (2 * self.s)
                # keep the two highest candidates per y
                idx = np.flatnonzero(m)
                c0, c1, v0, v1 = cand[i, idx, 0], cand[i, idx, 1], vals[i, idx, 0], vals[i, idx, 1]
                top = v > v0
                cand[i, idx, 1] = np.where(top, c0, np.where(v > v1, zc, c1))
                vals[i, idx, 1] = np.where(top, v0, np.maximum(v, v1))
                cand[i, idx, 0] = np.where(top, zc, c0)
                vals[i, idx, 0] = np.where(top, v, v0)
        if not np.all(np.isfinite(vals[..., 0])):
            raise ConvergenceError(
                "envelope quadrature: no local maximum of the inner problem in its window", residual=np.inf
            )
        z1, ok1 = self._local(cand[..., 0], y, u)
        z2, ok2 = self._local(np.where(np.isfinite(vals[..., 1]), cand[..., 1], cand[..., 0]), y, u)
        v1 = np.where(ok1, self._phi(z1, y, u), -np.inf)
        v2 = np.where(ok2, self._phi(z2, y, u), -np.inf)
        best = np.maximum(v1, v2)
        if not np.all(np.isfinite(best)):
            raise ConvergenceError(
                "envelope quadrature: the inner maximisation did not converge", residual=np.inf
            )
        return np.where(v2 > v1, z2, z1)

    # --- u: adaptive Gauss-Legendre panels, split where the fold structure changes --------------
    def _fold_count(self, u):
        """The number of intervals of z where s G''(z; u) > 1 (non-concave windows of Phi) at each u."""
        zs = np.linspace(-30.0, 30.0, 6001)
        above = (
            self.s * self.p.d2G(zs, np.asarray(u, dtype=float)[:, None], *self.params) * np.ones_like(zs) > 1
        )
        return np.sum(above[:, 1:] & ~above[:, :-1], axis=-1) + above[:, 0]

    def _folds(self):
        """The u where the fold structure of z*(y) changes (a non-concave window of Phi is born, dies or
        merges: a local maximum or minimum of s G''(.; u) crosses 1); the u-integrand is singular there."""
        us = np.linspace(-RANGE, RANGE, 721)
        count = self._fold_count(us)
        roots = []
        for i in np.nonzero(count[:-1] != count[1:])[0]:
            a, b, ca = us[i], us[i + 1], count[i]
            for _ in range(40):
                c = (a + b) / 2
                a, b = (c, b) if self._fold_count([c])[0] == ca else (a, c)
            roots.append((a + b) / 2)
        return roots

    def _proxies(self, u, xi, w, z):
        """Per u node, the xi-integrals that decide the u-refinement: the envelope, delta*^2, xi delta*,
        G(z*)."""
        delta = z - (self.slope * xi + self.offset)
        G = self.p.G(z, u, *self.params) * np.ones_like(z)
        return np.stack(
            [np.sum(w * f, axis=-1) for f in (G - delta**2 / (2 * self.s), delta**2, xi * delta, G)], axis=-1
        )

    def _adaptive_u(self, tol):
        """Gauss--Legendre (8 nodes) panels on |u| <= RANGE, bisected until a panel's integral of the proxies
        agrees with that of its two halves within ``tol``; the accepted halves make the rule."""
        x, wl = roots_legendre(U_PANEL_NODES)
        edges = np.union1d(np.linspace(-RANGE, RANGE, U_PANELS + 1), self._folds())
        pending = [(lo, hi, None) for lo, hi in zip(edges[:-1], edges[1:])]
        kept = []
        for _ in range(U_LEVELS):
            if not pending:
                break
            # the whole panels without a value yet, and every panel's two halves, in one batch
            todo = [(lo, hi) for lo, hi, v in pending if v is None]
            todo += [h for lo, hi, _ in pending for h in ((lo, (lo + hi) / 2), ((lo + hi) / 2, hi))]
            lo = np.array([t[0] for t in todo])[:, None]
            hi = np.array([t[1] for t in todo])[:, None]
            u = (hi - lo) / 2 * x + (hi + lo) / 2
            wu = (hi - lo) / 2 * wl * np.exp(-(u**2) / 2) / np.sqrt(2 * np.pi)
            xi, w, z = self._xi_rule(u.reshape(-1, 1))
            prox = self._proxies(u.reshape(-1, 1), xi, w, z).reshape(len(todo), U_PANEL_NODES, -1)
            integral = np.sum(wu[..., None] * prox, axis=1)
            panel = {
                t: (
                    integral[i],
                    (
                        u[i],
                        wu[i],
                        xi.reshape(len(todo), U_PANEL_NODES, -1)[i],
                        w.reshape(len(todo), U_PANEL_NODES, -1)[i],
                        z.reshape(len(todo), U_PANEL_NODES, -1)[i],
                    ),
                )
                for i, t in enumerate(todo)
            }
            nxt = []
            for lo_, hi_, v in pending:
                whole = v if v is not None else panel[(lo_, hi_)][0]
                halves = [((lo_, (lo_ + hi_) / 2)), (((lo_ + hi_) / 2, hi_))]
                parts = [panel[h] for h in halves]
                if np.max(np.abs(whole - parts[0][0] - parts[1][0])) <= tol:
                    kept += [p[1] for p in parts]
                else:
                    nxt += [(h[0], h[1], p[0]) for h, p in zip(halves, parts)]
            pending = nxt
        if pending:
            raise ConvergenceError(
                f"envelope quadrature: the u-integral is not resolved after {U_LEVELS} panel "
                f"bisections ({len(pending)} panels left)",
                residual=np.inf,
            )
        width = max(k[2].shape[-1] for k in kept)

        def pad(a, fill):
            return np.concatenate([a, np.broadcast_to(fill, (a.shape[0], width - a.shape[-1]))], axis=-1)

        us = np.concatenate([k[0] for k in kept])[:, None]
        xi = np.concatenate([pad(k[2], k[2][:, :1]) for k in kept])
        z = np.concatenate([pad(k[4], k[4][:, :1]) for k in kept])
        w = np.concatenate([pad(k[3], 0.0) * k[1][:, None] for k in kept])
        return us, xi, w, z

    # --- xi: coarse grid, jumps and steep points on panel ends -------------------------------
    def _xi_rule(self, u):
        """Per u node (u: (Nu, 1)): xi nodes, xi weights (the Gaussian density included) and maximisers."""
        xg = np.linspace(-RANGE, RANGE, XI_CELLS + 1)
        y = (self.slope * xg + self.offset) * np.ones((u.shape[0], 1))
        zg = self._global(y, u)
        # z*(y) is non-decreasing; it jumps across a cell iff Phi'' = G'' - 1/s > 0 somewhere between the
        # two grid maximisers (a local minimum of Phi separates the branches); it is steep where s G'' -> 1
        t = np.linspace(0.0, 1.0, 65)
        between = zg[:, :-1, None] + (zg[:, 1:] - zg[:, :-1])[..., None] * t
        curv = self.s * self.p.d2G(between, u[..., None], *self.params) * np.ones_like(between)
        jump = np.any(curv > 1, axis=-1)
        steep = ~jump & (np.max(curv, axis=-1) > STEEP)
        x, w = roots_legendre(XI_CELL_NODES)
        f = (x + 1) / 2
        xi = xg[:-1, None] + (xg[1] - xg[0]) * f
        yy = (self.slope * xi + self.offset) * np.ones((u.shape[0], 1, 1))
        z, good = self._local(zg[:, :-1, None] + (zg[:, 1:] - zg[:, :-1])[..., None] * f, yy, u[..., None])
        tol = 1e-9 * (1 + np.abs(z))
        on_branch = (z >= np.minimum(zg[:, :-1], zg[:, 1:])[..., None] - tol) & (
            z <= np.maximum(zg[:, :-1], zg[:, 1:])[..., None] + tol
        )
        good = (good & on_branch) | (jump | steep)[..., None]  # jump and steep cells are redone below
        if not np.all(good):  # off the branch: the global search decides
            uu = np.broadcast_to(u[..., None], z.shape)
            yb = np.broadcast_to(yy, z.shape)
            z[~good] = self._global(yb[~good][:, None], uu[~good][:, None])[:, 0]
        wx = np.broadcast_to(
            (xg[1] - xg[0]) * w / 2 * np.exp(-(xi**2) / 2) / np.sqrt(2 * np.pi), z.shape
        ).copy()
        xi = np.broadcast_to(xi, z.shape)
        special = jump | steep
        wx[special] = 0.0
        out = [(xi.reshape(u.shape[0], -1), wx.reshape(u.shape[0], -1), z.reshape(u.shape[0], -1))]
        if np.any(special):
            out.append(self._special_cells(jump, steep, xg, zg, between, curv, u))
        return tuple(np.concatenate([o[k] for o in out], axis=1) for k in range(3))

    def _special_cells(self, jump, steep, xg, zg, between, curv, u):
        """Jump cells (split at the Maxwell point) and steep cells (split where s G'' peaks), each half
        graded toward the split; rows with fewer such cells are padded with zero-weight copies."""
        iu, ic = np.nonzero(jump | steep)
        split = np.empty(iu.size)
        z_left, z_right = np.empty(iu.size), np.empty(iu.size)
        j = jump[iu, ic]
        if np.any(j):
            split[j], z_left[j], z_right[j] = self._maxwell(
                xg[ic[j]], xg[ic[j] + 1], zg[iu[j], ic[j]], zg[iu[j], ic[j] + 1], u[iu[j], 0]
            )
        if np.any(~j):  # on the branch, z* = z_peak at xi = (Y(z_peak) - offset)/slope
            k = ~j
            zp = between[iu[k], ic[k], np.argmax(curv[iu[k], ic[k]], axis=-1)]
            Yp = zp - self.s * self.p.dG(zp, u[iu[k], 0], *self.params)
            width = xg[1] - xg[0]
            split[k] = np.clip(
                (Yp - self.offset) / self.slope, xg[ic[k]] + 1e-3 * width, xg[ic[k] + 1] - 1e-3 * width
            )
            yk = self.slope * split[k] + self.offset
            z_left[k], _ = self._local(zp, yk, u[iu[k], 0])
            z_right[k] = z_left[k]
        rank = np.arange(iu.size) - np.searchsorted(iu, iu)
        f, fw = _graded()
        X = np.zeros((u.shape[0], int(rank.max()) + 1, 2 * f.size))
        Z, W = np.zeros_like(X), np.zeros_like(X)
        for half, (far, z_far, z_near) in enumerate(
            ((xg[ic], zg[iu, ic], z_left), (xg[ic + 1], zg[iu, ic + 1], z_right))
        ):
            xi = far[:, None] + (split - far)[:, None] * f  # graded toward the split (f -> 1)
            yy = self.slope * xi + self.offset
            uu = np.broadcast_to(u[iu], xi.shape)
            z, good = self._local(z_far[:, None] + (z_near - z_far)[:, None] * f, yy, uu)
            tol = 1e-9 * (1 + np.abs(z))
            good &= (z >= np.minimum(z_far, z_near)[:, None] - tol) & (
                z <= np.maximum(z_far, z_near)[:, None] + tol
            )
            if not np.all(good):
                z[~good] = self._global(yy[~good][:, None], uu[~good][:, None])[:, 0]
            sl = slice(half * f.size, (half + 1) * f.size)
            X[iu, rank, sl], Z[iu, rank, sl] = xi, z
            W[iu, rank, sl] = np.abs(split - far)[:, None] * fw * np.exp(-(xi**2) / 2) / np.sqrt(2 * np.pi)
        pad = W.sum(axis=-1) == 0
        X[pad], Z[pad] = xg[0], zg[np.nonzero(pad)[0], 0][:, None]
        return X.reshape(u.shape[0], -1), W.reshape(u.shape[0], -1), Z.reshape(u.shape[0], -1)

    def _maxwell(self, a, b, za, zb, u):
        """Bisection for the xi where the left branch (through za at a) and the right one (zb at b) tie;
        returns (xi, left branch z, right branch z) there."""
        a, b, za, zb = (np.array(v, dtype=float) for v in (a, b, za, zb))
        for _ in range(BISECTIONS):
            m = (a + b) / 2
            ym = self.slope * m + self.offset
            zl, _ = self._local(za, ym, u)
            zr, _ = self._local(zb, ym, u)
            vl, vr = self._phi(zl, ym, u), self._phi(zr, ym, u)
            same = np.abs(zl - zr) <= 1e-9 * (1 + np.abs(zl))
            left = np.where(same, np.abs(zl - za) < np.abs(zl - zb), vl > vr)
            a, za = np.where(left, m, a), np.where(left, zl, za)
            b, zb = np.where(left, b, m), np.where(left, zb, zr)
        return (a + b) / 2, za, zb


def _outer_expectations(expr: sp.Expr, xi, u) -> list:
    """The E_xi E_u nodes of ``expr`` (their integrand free of other expectations)."""
    out = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, GaussianExpectation) and node.variable == xi:
            inner = node.integrand
            if not (
                isinstance(inner, GaussianExpectation)
                and inner.variable == u
                and not inner.integrand.has(GaussianExpectation)
            ):
                raise ValueError(
                    f"envelope quadrature: expected E_xi E_u of an expectation-free integrand, got {node}"
                )
            out.append(node)
    return out


@functools.lru_cache(maxsize=256)
def _rule(prob: _Problem, params: tuple) -> EnvelopeRule:
    return EnvelopeRule(prob, params)


def compile_envelope(expr: sp.Expr, args: tuple, xi: sp.Symbol, u: sp.Symbol):
    """A numpy function of ``args`` (arrays of one shape, one entry per layer) evaluating ``expr``, whose
    Gaussian expectations E_xi E_u contain one maximiser each (module docstring)."""
    nodes = _outer_expectations(expr, xi, u)
    placeholders = sp.symbols(f"_e0:{len(nodes)}", real=True)
    outer = sp.lambdify(
        (*args, *placeholders), expr.xreplace(dict(zip(nodes, placeholders))), modules=["scipy", "numpy"]
    )
    D = sp.Symbol("_delta_star", real=True)
    parts = []
    for node in nodes:
        g = node.integrand.integrand
        found = maximisers(g)
        if len(found) != 1:
            raise ValueError(
                f"envelope quadrature: one maximiser per expectation is supported, got {len(found)}"
            )
        a = found[0]
        g = g.replace(
            lambda e: isinstance(e, Maximum) and Argmax(*e.args) == a,
            lambda e: e.function.xreplace({e.variable: D}),
        )
        g = g.xreplace({a: D})
        used = tuple(s for s in args if s in a.free_symbols)
        prob = _problem(a, xi, u, used)
        idx = [args.index(s) for s in used]
        gf = sp.lambdify((xi, u, D, *args), g, modules=["scipy", "numpy"])
        parts.append((prob, idx, gf))

    def call(*v):
        shape = np.broadcast(*v).shape
        v = [np.broadcast_to(np.asarray(a, dtype=float), shape) for a in v]
        vals = []
        for prob, idx, gf in parts:
            out = np.empty(shape)
            for i in np.ndindex(shape):
                params = tuple(float(v[j][i]) for j in idx)
                r = _rule(prob, params)
                delta = r.z - prob.y(r.xi, *params)
                with np.errstate(all="ignore"):
                    out[i] = np.sum(r.w * gf(r.xi, r.u, delta, *(a[i] for a in v)))
            vals.append(out)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(outer(*v, *vals), dtype=float), shape)

    return call
