r"""Transition temperatures and the zero-temperature phase.

* :math:`T_c` -- continuous instability of the paramagnet: the RS replicon at q = 0 vanishes,
  :math:`1-\beta^2\xi''(0)=0` (SK: T_c = 1).
* :math:`T_{AT}` -- de Almeida--Thouless: the highest T at which the RS solution's replicon
  changes sign (equals T_c without a field).
* :math:`T_d` -- dynamical (1RSB, m = 1): the highest T at which the m = 1 equation for q_1 has
  a solution q_1 > 0; there the solution is marginal (replicon = 0) -- solved as the system
  :math:`\{\partial_{q_1}\Phi = 0,\ \lambda_R = 0\}` in (q_1, beta) at m = 1.
* :math:`T_s` -- static (1RSB): the stable m = 1 solution also satisfies
  :math:`\partial_m\Phi = 0` -- the system :math:`\{\partial_{q_1}\Phi=0, \partial_m\Phi=0\}` at m = 1.
  T_d and T_s are reported for discontinuous transitions only (q_1 at T_d bounded away from 0).
* :math:`T_{1RSB}` -- the highest T at which 1RSB is chosen over RS (equals T_s when q_0 = 0; for
  spherical models with a field or :math:`\xi'(0) > 0` found by a scan,
  :func:`first_order_1rsb_temperature`; Ising models in a field: the transition is continuous, at T_AT).
* :math:`E_{th}` -- the threshold energy of the marginal states (models with T_d).
* The T = 0 phase: "rs" when RS is chosen by the Parisi prescription and its replicon is >= 0,
  "1rsb" when 1RSB is chosen and stable, "frsb" when the chosen solution has a negative replicon
  (``solve(..., ansatz="auto")`` then solves full RSB, whose ground-state energy is E_gs).

Brackets come from vectorised scans of the generated numpy module; the roots are polished with
``mpmath.findroot`` on the generated mpmath module (at ``precision`` digits, default 20).
"""
from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp

from ..errors import ConvergenceError
from ..models.spec import ModelSpec
from ..solution import check_precision, number
from .diagnostics import covariance_diagnostics
from .thermo import _kind, _select, derivation_for, evaluator_for, solve, solve_auto, stationary_points

__all__ = ["phase"]

_T_MAX = 20.0


def _rs_replicon_at_zero(d, T):
    ev = evaluator_for(d)
    beta = 1.0 / np.asarray(T, dtype=float)
    vals = {str(s): v for s, v in d.param_values.items()}
    vals["beta"] = beta
    zero = np.zeros((beta.size, len(ev.names)))
    return ev.scalar("replicon", zero, vals), np.max(np.abs(ev.residual(zero, vals)), axis=1)


def critical_temperature(model, digits):
    """T_c from the paramagnet's replicon (None when q = 0 is not a solution or never unstable)."""
    d = derivation_for(model, "rs")
    T = np.geomspace(1e-3, _T_MAX, 400)
    rep, res = _rs_replicon_at_zero(d, T)
    if np.max(res) > 1e-12:
        return None
    sign = np.sign(rep)
    idx = np.flatnonzero(sign[:-1] != sign[1:])
    if len(idx) == 0:
        return None
    i = idx[-1]
    ev = evaluator_for(d, digits)
    vals = {str(s): v for s, v in d.param_values.items()}

    def f(T):
        vals["beta"] = 1 / T
        return ev.mp_call("replicon", [0] * len(ev.names), vals)
    with mpmath.workdps(digits + 5):
        return mpmath.findroot(f, (mpmath.mpf(T[i]), mpmath.mpf(T[i + 1])), solver="anderson")


def at_temperature(model, digits):
    """Highest T where the RS solution's replicon changes sign, scanning down from T_MAX."""
    d = derivation_for(model, "rs")
    T = np.geomspace(_T_MAX, 0.05, 120)
    prev = None
    for Ti in T:
        s = solve(d, T=float(Ti))
        if prev is not None and np.sign(s.replicon) != np.sign(prev[1]) and s.replicon < 0:
            lo, hi = float(Ti), prev[0]
            for _ in range(50):
                mid = 0.5 * (lo + hi)
                if solve(d, T=mid).replicon < 0:
                    lo = mid
                else:
                    hi = mid
            return 0.5 * (lo + hi)
        prev = (float(Ti), s.replicon)
    return None


def _one_step_system(d, digits, which):
    """Residual of the m = 1 system in (q_1, beta): which = "replicon" (T_d) or "m" (T_s)."""
    ev = evaluator_for(d, digits)
    names = list(ev.names)
    iq, im = names.index(next(n for n in names if _kind(n) == "q" and n != "q0")), names.index("m")
    vals = {str(s): v for s, v in d.param_values.items()}

    def theta(q1):
        th = [0] * len(names)
        th[iq], th[im] = q1, 1
        return th

    def F(q1, beta):
        vals["beta"] = beta
        g = ev.mp_call("residuals", theta(q1), vals)
        second = ev.mp_call("replicon", theta(q1), vals) if which == "replicon" else g[im]
        return [g[iq], second]
    return F, iq, im


def discontinuous_transitions(model, digits):
    """(T_d, T_s) of a 1RSB model whose level q_0 is fixed at 0, or (None, None)."""
    d = derivation_for(model, "1rsb")
    ev = evaluator_for(d)
    names = list(ev.names)
    if "m" not in names or any(n == "q0" for n in names):
        return None, None
    iq, im = [i for i, n in enumerate(names) if _kind(n) == "q"][-1], names.index("m")
    vals = {str(s): v for s, v in d.param_values.items()}
    T = np.geomspace(_T_MAX, 0.02, 300)
    qgrid = np.linspace(1e-4, 1 - 1e-6, 800)
    # the largest root in q_1 of dPhi/dq_1 at m = 1, per temperature
    roots = np.full(T.size, np.nan)
    for j, Tj in enumerate(T):
        th = np.zeros((qgrid.size, len(names)))
        th[:, iq], th[:, im] = qgrid, 1.0
        vals["beta"] = 1 / Tj
        g = ev.residual(th, vals)[:, iq]
        ch = np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))
        if len(ch):
            roots[j] = qgrid[ch[-1]]
            if j and np.isnan(roots[j - 1]):
                break
    found = np.flatnonzero(np.isfinite(roots))
    if len(found) == 0:
        return None, None
    jd = found[0]
    if roots[jd] < 0.05:  # continuous: the q_1 branch grows from zero
        return None, None
    F, _, _ = _one_step_system(d, digits, "replicon")
    with mpmath.workdps(digits + 5):
        _, beta = mpmath.findroot(F, (mpmath.mpf(roots[jd]), 1 / mpmath.mpf(T[jd])))
        T_d = 1 / beta
    # static: dPhi/dm at m = 1 on the largest-q_1 branch changes sign below T_d
    Ts = np.linspace(float(T_d) * (1 - 1e-6), 0.02, 300)
    prev = None
    for Tj in Ts:
        th = np.zeros((qgrid.size, len(names)))
        th[:, iq], th[:, im] = qgrid, 1.0
        vals["beta"] = 1 / Tj
        g = ev.residual(th, vals)
        ch = np.flatnonzero(np.sign(g[:-1, iq]) != np.sign(g[1:, iq]))
        if not len(ch):
            continue
        q1j = qgrid[ch[-1]]
        gm = ev.residual(np.array([[*(q1j if k == iq else 1.0 if k == im else 0.0
                                          for k in range(len(names)))]]), vals)[0, im]
        if prev is not None and np.sign(gm) != np.sign(prev[2]):
            F, _, _ = _one_step_system(d, digits, "m")
            with mpmath.workdps(digits + 5):
                _, beta = mpmath.findroot(F, (mpmath.mpf(q1j), 1 / mpmath.mpf(Tj)))
                return T_d, 1 / beta
        prev = (Tj, q1j, gm)
    return T_d, None


def first_order_1rsb_temperature(model, T_max: float | None = None, points: int = 16, steps: int = 12):
    r"""Highest T at which the Parisi prescription over RS and 1RSB chooses 1RSB (a 1RSB solution
    with split levels and :math:`\Phi_{1RSB} < \Phi_{RS}`), for models whose 1RSB level q_0 is free
    (a field or :math:`\xi'(0) > 0`, where the m = 1 construction of T_s does not apply): a scan
    down in T, then bisection in log T.  None when 1RSB is never chosen above T = 0.02."""
    if T_max is None:
        xi1 = float(model.xi_numpy(1)(np.array(1.0)))
        T_max = 2.0 * np.sqrt(max(xi1, 1e-12))

    def one(T):  # RS against 1RSB only: the full-RSB step of auto is not needed here
        return solve_auto(model, T=float(T), full_rsb=False).ansatz == "1rsb"

    prev = None
    for T in np.geomspace(T_max, 0.02, points):
        if one(T):
            if prev is None:
                return None  # 1RSB already at T_max: no transition in range
            lo, hi = float(T), prev
            for _ in range(steps):
                mid = float(np.sqrt(lo * hi))
                lo, hi = (mid, hi) if one(mid) else (lo, mid)
            return float(np.sqrt(lo * hi))
        prev = float(T)
    return None


def threshold_energy(model, digits):
    r"""Energy of the marginal states at T = 0 (1RSB with the marginality condition instead of
    :math:`\partial_y E_0 = 0`): solve :math:`\{\partial_\chi E_0 = 0,\ \lambda_R = 0\}` in
    :math:`(\chi, y)`; the states' energy is :math:`\partial_y(yE_0) = E_0 + y\,\partial_yE_0`
    (Monasson, PRL 75 (1995) 2847: :math:`E_0(y)` is the Legendre transform of the complexity).
    None when the model has no closed-form T = 0 replicon (Ising)."""
    d = derivation_for(model, "1rsb")
    zt = d.zero_temperature
    if zt is None or zt.replicon is None or len(zt.order_parameters) != 2:
        return None
    ev = evaluator_for(d, digits)
    vals = {str(s): v for s, v in d.param_values.items()}
    replicon = sp.lambdify(zt.order_parameters, zt.replicon, "mpmath")
    names = list(ev.gs_names)
    ic, iy = names.index("chi"), names.index("y")

    def F(chi, y):
        th = [0, 0]
        th[ic], th[iy] = chi, y
        return [ev.mp_call("ground_state_gradient", th, vals, True)[ic], replicon(*th)]
    gs = solve(model, T=0, ansatz="1rsb")
    start = gs.order_parameters
    with mpmath.workdps(digits + 5):
        try:
            chi, y = mpmath.findroot(F, (mpmath.mpf(start["chi"]), mpmath.mpf(start["y"])))
        except (ValueError, ZeroDivisionError, KeyError, TypeError):  # TypeError: the iterate left the reals
            return None
        th = [0, 0]
        th[ic], th[iy] = chi, y
        E0 = ev.mp_call("ground_state_energy", th, vals, True)
        dEdy = ev.mp_call("ground_state_gradient", th, vals, True)[iy]
        return E0 + y * dEdy


def phase(model, precision=None) -> dict:
    """Transition temperatures and the T = 0 phase of ``model`` (``phase --json`` keys).

    A model with its own notion of phase (signal propagation) is dispatched to ``model.phase``."""
    if not isinstance(model, ModelSpec):
        return model.phase(precision=precision)
    digits = check_precision(precision) or 20
    T_c = critical_temperature(model, digits)
    T_AT = T_c if (T_c is not None and model.field == 0) else at_temperature(model, digits)
    T_d, T_s = discontinuous_transitions(model, digits)
    T_1rsb = T_s
    if model.spins == "spherical" and "q0" in evaluator_for(derivation_for(model, "1rsb")).names:
        T_1rsb = first_order_1rsb_temperature(model)  # closed-form 1RSB: a scan is cheap
    gs = solve(model, T=0, ansatz="auto", precision=precision)
    if gs.ansatz == "frsb":  # the Parisi prescription went beyond 1RSB (solve_auto)
        zero_phase = "frsb"
    elif gs.replicon is None:
        zero_phase = _low_temperature_phase(model, gs)
    elif gs.replicon < -1e-9:
        zero_phase = "frsb"
    else:
        zero_phase = gs.ansatz
    p = None if precision is None else digits
    return {"model": model.name, "params": model.public_params(), "T_c": number(T_c, p),
            "T_d": number(T_d, p), "T_s": number(T_s, p), "T_AT": number(T_AT, p),
            "T_1RSB": number(T_1rsb, p),
            "zero_temperature_phase": zero_phase, "E_gs": number(gs.energy, p), "E_gs_ansatz": gs.ansatz,
            "E_th": number(threshold_energy(model, digits) if T_d is not None else None, p),
            "notes": gs.notes,
            **({"diagnostics": covariance_diagnostics(model)} if model.spins == "spherical" else {})}


def _low_temperature_phase(model, gs, T: float = 0.05):
    """When the T = 0 replicon has no closed limit (Ising), judge stability at T = 0.05 on the
    solution continued from the ground state (lower levels as at T = 0, q_k near 1, m = yT)."""
    d = derivation_for(model, gs.ansatz)
    names = evaluator_for(d).names
    ops = gs.order_parameters
    top = [n for n in names if _kind(n) == "q"][-1]
    rows = []
    for qk in (0.9, 0.95, 0.98):
        rows.append([qk if n == top else float(ops["y"]) * T if n == "m" else float(ops.get(n, 0.5))
                     for n in names])
    pts, phi, rep, _ = stationary_points(d, 1 / T, start=np.array(rows), grid=False)
    i = _select(names, pts, phi, rep, d.k)
    if i is None:
        raise ConvergenceError(f"could not continue the {gs.ansatz} ground state to T = {T} to test "
                               "its stability")
    return "frsb" if rep[i] < -1e-9 else gs.ansatz
