r"""Entropy at given energy, :math:`s(E)`, by two independent routes.

* **Legendre** (canonical): solve the canonical saddle point at inverse temperature β, find
  :math:`\beta^*(E)` with :math:`e(\beta^*) = E` (bracketed root of the engine's energy), and
  :math:`s(E) = \Phi(\beta^*) + \beta^*E = \inf_\beta[\Phi(\beta) + \beta E]`.
* **Microcanonical** (the :math:`\delta(H - NE)` replica route, :mod:`replicasym.symbolic.ensemble`):
  Newton on the joint system in :math:`(\theta, \hat\beta)` at fixed E, all energies at once.

The two agree where :math:`s` is concave (reference/winer_hanin_mlp.md §2.2); the tests check it.
Normalisation (DESIGN.md): dx is the uniform probability measure on the sphere, so
:math:`s \le 0`, :math:`s(E)\to0` at the typical energy :math:`E = 0` and :math:`s\to-\infty` at
the ground state.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import brentq

from ..errors import ConvergenceError, ParameterError
from ..symbolic.ensemble import microcanonical
from .evaluate import Evaluator
from .newton import newton_batch
from .thermo import derivation_for, evaluator_for, solve_derivation, stationary_points

__all__ = ["entropy_curve"]

_BETA_GRID = np.geomspace(1e-2, 1e3, 26)


def entropy_curve(model, energies: Sequence[float], ansatz: str = "rs") -> dict:
    r""":math:`s(E)` at each energy density in ``energies`` (between the ground state and 0), by the
    Legendre and microcanonical routes, with :math:`\beta^*(E)`, the order parameters and the
    replicon (negative where the ansatz is unstable).  Returns a dict of lists."""
    E = np.asarray(energies, dtype=float).ravel()
    if E.size == 0:
        raise ParameterError("give at least one energy")
    if not np.all(np.isfinite(E)) or np.any(E >= 0):
        raise ParameterError("energies must be finite and < 0 (s(E) = s(-E) by the symmetry H -> -H; "
                             "E = 0 is the typical energy, s = 0)")
    d = derivation_for(model, ansatz)
    gs = solve_derivation(d, np.inf)
    if np.any(E <= gs.energy):
        raise ParameterError(f"energies must lie above the {d.ansatz} ground state E_gs = {float(gs.energy):.10g}")
    # canonical branch on a beta grid, continued from high temperature
    branch, start = [], None
    for b in _BETA_GRID:
        sol = solve_derivation(d, b, start=start)
        start = dict(sol.order_parameters)
        branch.append((b, float(sol.energy), start))
    betas = np.array([b for b, _, _ in branch])
    e_grid = np.array([e for _, e, _ in branch])
    names = tuple(branch[0][2])
    vals_c = {str(s): v for s, v in d.param_values.items()}

    ev_c = evaluator_for(d)

    def energy_at(b, start):
        # continuation only (no multi-start grid): follow the branch from the neighbouring grid point
        row = np.array([[start[n] for n in names]])
        pts, _, _, _ = stationary_points(d, b, start=row, grid=False)
        if len(pts) == 0:
            return float(solve_derivation(d, b, start=start).energy)
        i = int(np.argmin(np.sum((pts - row) ** 2, axis=1)))
        return float(ev_c.scalar("energy", pts[i:i + 1], {**vals_c, "beta": b})[0])

    beta_star, s_leg, theta, rep = [], [], [], []
    for e in E:
        j = int(np.searchsorted(-e_grid, -e))  # e_grid decreases with beta
        if j == 0 or j >= len(betas):
            raise ParameterError(f"E = {e:g} is outside the canonical range [{e_grid[-1]:.6g}, {e_grid[0]:.6g}] "
                                 f"reached for beta in [{betas[0]:g}, {betas[-1]:g}]")
        st = branch[j - 1][2]
        b = brentq(lambda x, st=st, e=e: energy_at(x, st) - e, betas[j - 1], betas[j], xtol=1e-12, rtol=1e-11)  # s is stationary in beta: O(dbeta^2)
        sol = solve_derivation(d, b, start=st)
        beta_star.append(float(b))
        s_leg.append(float(sol.free_entropy + b * e))
        theta.append([float(sol.order_parameters[n]) for n in names])
        rep.append(float(sol.replicon))
    theta = np.array(theta)
    # microcanonical route: Newton on (theta, beta_hat) at fixed E, all energies at once
    md = microcanonical(d)
    ev = Evaluator(md)
    vals = {str(s): v for s, v in md.param_values.items()}
    vals.update({"beta": 1.0, "E": E})
    x0 = np.column_stack([theta, beta_star])
    lo = np.array([0.0] * len(names) + [0.0])
    hi = np.array([1.0] * len(names) + [np.inf])
    x, conv, res = newton_batch(lambda t: ev.residual(t, vals), lambda t: ev.jacobian(t, vals),
                                x0 * (1 + 1e-3), range(x0.shape[1]), lo, hi, tol=1e-11)
    if not np.all(conv):
        raise ConvergenceError("the microcanonical saddle point did not converge at "
                               f"E = {E[~conv].tolist()}", residual=float(np.nanmax(res)))
    s_mc = ev.scalar("free_entropy", x, vals)
    return {"model": model.name, "params": model.public_params(), "ansatz": d.ansatz,
            "E": E.tolist(), "s_legendre": s_leg, "s_microcanonical": s_mc.tolist(),
            "beta": beta_star, "beta_hat": x[:, -1].tolist(),
            "order_parameters": {n: x[:, i].tolist() for i, n in enumerate(names)},
            "replicon": rep, "E_gs": float(gs.energy)}
