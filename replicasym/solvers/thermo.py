r"""Thermodynamics at one temperature: solve a derivation's saddle point, or the ground state.

* Finite T: multi-start batched Newton (:func:`~.newton.newton_batch`) on
  :math:`\partial\Phi/\partial\theta=0` inside the admissible box, plus the boundary point
  q = 0 when it is stationary (the paramagnet).  Among the stationary points the Parisi
  prescription for n -> 0 picks the one with replicon >= 0 where there is one, and then the
  smallest :math:`\Phi` (the free energy is maximised over the order parameters when n < 1).
  A 1RSB calculation whose only stationary points have m >= 1 reduces to RS (m = 1, q_1 = q_0).
* T = 0: the same on the ground-state functional :math:`E_0(\chi, y, \dots)` of the rescaled
  variables; among stationary points the largest E_0 is the Parisi choice.
* ``precision``: the double-precision solution is polished with mpmath Newton at that many
  digits (residual below 10^-(digits-5), else :class:`~replicasym.errors.ConvergenceError`).
* k-RSB with k >= 2 and full RSB (``frsb``) go to the numerical Parisi solvers,
  :mod:`.parisi_spherical` or :mod:`.parisi_ising` by the model's spins (:func:`solve_parisi`).
"""
from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import sympy as sp

from ..derive import derive, parse_ansatz
from ..errors import ConvergenceError, ParameterError, ReplicasymError
from ..models.spec import ModelSpec
from ..symbolic.covariance import numeric_covariances, require_precision
from ..solution import Solution, check_precision
from .evaluate import Evaluator
from .newton import damped_fixed_point, newton_batch, newton_mp

__all__ = ["solve", "solve_derivation", "solve_parisi", "derivation_for", "evaluator_for"]

_DERIVATIONS: dict = {}
_EVALUATORS: dict = {}
_GRID = {"q": (0.05, 0.3, 0.6, 0.85, 0.97, 0.995), "m": (0.15, 0.4, 0.7, 0.9),
         "chi": (0.05, 0.3, 1.0, 3.0), "y": (0.3, 1.0, 3.0, 10.0)}


def _model_key(model) -> tuple:
    return (model.name, model.spins, sp.srepr(model.xi), sp.srepr(model.field),
            tuple(sorted((k, repr(v)) for k, v in model.options.items())))


def derivation_for(model, ansatz: str):
    """``derive(model, ansatz)``, memoised per model and ansatz within the process."""
    key = (_model_key(model), parse_ansatz(ansatz))
    if key not in _DERIVATIONS:
        _DERIVATIONS[key] = derive(model, ansatz)
    return _DERIVATIONS[key]


def evaluator_for(d, digits: int | None = None) -> Evaluator:
    key = (id(d), digits)
    if key not in _EVALUATORS:
        _EVALUATORS[key] = Evaluator(d, digits)
    return _EVALUATORS[key]


def _kind(name: str) -> str:
    return "m" if name.startswith("m") else "y" if name.startswith("y") else "chi" if name == "chi" else "q"


def _starts(names) -> np.ndarray:
    rows = []
    for combo in itertools.product(*[_GRID[_kind(n)] for n in names]):
        qs = [v for n, v in zip(names, combo) if _kind(n) == "q"]
        ms = [v for n, v in zip(names, combo) if _kind(n) == "m"]
        if qs == sorted(qs) and ms == sorted(ms):  # q_0 <= ... <= q_k and m_1 <= ... <= m_k
            rows.append(combo)
    return np.array(rows, dtype=float).reshape(len(rows), len(names))


def _bounds(names):
    lo = np.array([0.0] * len(names))
    hi = np.array([np.inf if _kind(n) in ("chi", "y") else 1.0 for n in names])
    return lo, hi


def _values(d, beta) -> dict:
    vals = {str(s): v for s, v in d.param_values.items()}
    vals["beta"] = beta
    return vals


def _unique(rows: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    out = []
    for r in rows:
        if not any(np.max(np.abs(r - o)) < tol for o in out):
            out.append(r)
    return np.array(out).reshape(len(out), rows.shape[1])


def stationary_points(d, beta: float, fixed: dict | None = None, start=None, grid: bool = True):
    """All stationary points found from the start grid at inverse temperature ``beta``.

    ``fixed`` maps order-parameter names to values held fixed (e.g. {"m": 1.0}); ``start`` is an
    extra starting point (e.g. the previous point of a continuation), a dict used when it names
    every order parameter, or an array of rows; ``grid=False`` uses ``start`` alone.  Returns
    (theta (K, V), Phi (K,), replicon (K,), residual (K,))."""
    ev = evaluator_for(d)
    names = ev.names
    fixed = fixed or {}
    free = [i for i, n in enumerate(names) if n not in fixed]
    theta0 = _starts(names) if grid else np.zeros((0, len(names)))
    if isinstance(start, dict) and all(n in start for n in names):
        start = np.array([[float(start[n]) for n in names]])
    if isinstance(start, np.ndarray):
        theta0 = np.vstack([start, theta0])
    for n, v in fixed.items():
        theta0[:, names.index(n)] = v
    theta0 = _unique(theta0)
    lo, hi = _bounds(names)
    vals = _values(d, beta)
    if not fixed and all(eq.lhs == v for eq, v in zip(d.equations, d.order_parameters)):
        # every equation has the fixed-point form theta = F(theta) (residual theta - F): a damped
        # iteration from the top of the box finds the largest solution; Newton polishes it
        fp, _, _ = damped_fixed_point(lambda th: th - ev.residual(th, vals),
                                      np.full((1, len(names)), 0.99), damping=0.5, tol=1e-10, maxiter=400)
        if np.all(np.isfinite(fp)) and np.all((fp > lo) & (fp < hi)):
            theta0 = np.vstack([fp, theta0])
    theta, conv, _ = newton_batch(lambda th: ev.residual(th, vals), lambda th: ev.jacobian(th, vals),
                                  theta0, free, lo, hi, tol=1e-11 * (1 + beta**2))
    cands = [theta[conv]]
    # the boundary point q = 0 (all overlaps zero) when it is stationary: the paramagnet
    zero = np.zeros((1, len(names)))
    for n, v in fixed.items():
        zero[0, names.index(n)] = v
    if d.k == 0:
        r0 = ev.residual(zero, vals)[:, free]
        if np.all(np.abs(r0) < 1e-12 * (1 + beta**2)):
            # first, so that deduplication keeps the exact paramagnet over a Newton iterate that
            # stopped within tolerance of it (near T_c the residual is ~(1 - beta^2) q)
            cands.insert(0, zero)
    pts = _unique(np.concatenate(cands, axis=0))
    if len(pts) == 0:
        return pts, np.zeros(0), np.zeros(0), np.zeros(0)
    phi = ev.scalar("free_entropy", pts, vals)
    rep = ev.scalar("replicon", pts, vals)
    r = np.max(np.abs(ev.residual(pts, vals)[:, free]), axis=1)
    return pts, phi, rep, r


def _select(names, pts, phi, rep, k):
    """Parisi prescription among stationary points (see module docstring)."""
    ok = np.isfinite(phi) & np.isfinite(rep)
    if k >= 1:  # a genuine RSB point: levels ordered and strictly split, 0 < m < 1
        qi = [i for i, n in enumerate(names) if _kind(n) == "q"]
        split = np.ones(len(pts), bool) if len(qi) < 2 else pts[:, qi[-1]] - pts[:, qi[0]] > 1e-6
        split &= pts[:, qi[-1]] > 1e-6
        ok &= split
    if not ok.any():
        return None
    stable = ok & (rep >= -1e-9)
    pool = np.flatnonzero(stable if stable.any() else ok)
    return pool[np.argmin(phi[pool])]


def solve_derivation(d, beta, precision=None, start: dict | None = None) -> Solution:
    """Solve derivation ``d`` at inverse temperature ``beta`` (beta = inf: ground state);
    ``start`` (order-parameter name -> value) is added to the starting points."""
    digits = check_precision(precision)
    if d.k >= 2:
        return solve_parisi(d.model, d.k, beta, precision, start)
    if beta == np.inf:
        return _ground_state(d, digits)
    ev = evaluator_for(d, digits)
    names = ev.names
    pts, phi, rep, res = stationary_points(d, float(beta), start=start)
    notes = []
    i = _select(names, pts, phi, rep, d.k)
    if i is None:
        if d.k == 0:
            raise ConvergenceError(f"no RS stationary point found at T = {1 / float(beta):.6g} "
                                   "(tried a grid of starts; residuals did not reach 1e-11)",
                                   residual=float(np.min(res)) if len(res) else None)
        rs_sol = solve_derivation(derivation_for(d.model, "rs"), beta, precision)
        rs_sol.notes.append(f"{d.ansatz}: no stationary point with 0 < m < 1 and split levels; "
                            "the ansatz reduces to RS (m = 1)")
        rs_sol.ansatz = d.ansatz
        q = rs_sol.order_parameters.get("q", 0.0)
        rs_sol.order_parameters = {n: (1.0 if _kind(n) == "m" else q) for n in names}
        return rs_sol
    theta = pts[i]
    vals = _values(d, float(beta))
    if digits is None:
        theta, (fe, en, rp, r) = _verified_quadrature(d, ev, theta, vals, float(beta))
        out = dict(zip(names, theta))
        b = float(beta)
        T, s = 1 / b, fe + b * en
    else:
        b = _mp_beta(beta, digits)
        vals = _values(d, b)
        with mpmath.workdps(digits + 5):
            th, r = newton_mp(lambda t: ev.mp_call("residuals", t, vals),
                              lambda t: ev.mp_call("jacobian", t, vals), list(theta),
                              range(len(names)), digits)
            fe = ev.mp_call("free_entropy", th, vals)
            en = ev.mp_call("energy", th, vals)
            rp = ev.mp_call("replicon", th, vals)
            T, s = 1 / b, fe + b * en
        out = dict(zip(names, th))
    if rp < 0:
        notes.append("replicon < 0: this saddle point is unstable (replica symmetry breaking "
                     "beyond this ansatz)")
    return Solution(model=d.model.name, params=d.model.public_params(), ansatz=d.ansatz,
                    T=T, free_entropy=fe, energy=en, entropy=s, order_parameters=out,
                    replicon=rp, converged=True, residual=r, digits=digits, notes=notes)


#: the most array elements per point (nodes per Gaussian axis ** nesting depth) that the
#: verification of the quadrature may use
VERIFY_MAX_ELEMENTS = 2e7


def _verified_quadrature(d, ev, theta, vals, beta: float):
    r"""Check a double-precision saddle point against a finer quadrature and return it with
    (free entropy, energy, replicon, residual).

    The numpy module's trapezoidal rule (step h) is exact to ~exp(-pi^2/(a h)) for
    :math:`\tanh(a z)`, :math:`a = \beta\sqrt q`: at low temperature it is not, and Newton then
    converges to the wrong point with a tiny residual (SK RS at T = 0.01 gave s = -1.07 instead of
    -0.154).  So the point must also solve the equations with h halved, with free entropy and energy
    unchanged to 1e-9; else it is re-solved on the finer rule and checked again, up to
    :data:`VERIFY_MAX_ELEMENTS` per point, beyond which :class:`ConvergenceError` says to use
    ``precision`` (adaptive mpmath quadrature) or T = 0.  The module's rule is restored after."""
    from ..codegen.render import nesting_depth

    mod = ev.np
    depth = max([nesting_depth(e) for e in (d.free_entropy, d.energy, *d.residuals)] or [0])
    tol = 1e-11 * (1 + beta**2)
    free = list(range(len(theta)))
    lo, hi = _bounds(ev.names)

    def numbers(th):
        return (ev.scalar("free_entropy", th[None], vals)[0], ev.scalar("energy", th[None], vals)[0],
                ev.scalar("replicon", th[None], vals)[0], float(np.max(np.abs(ev.residual(th[None], vals)))))

    ref = numbers(theta)
    if depth == 0:
        return theta, ref
    n0 = mod.QUADRATURE_NODES
    n = n0
    try:
        while True:
            n = 2 * n - 1
            if n**depth > VERIFY_MAX_ELEMENTS:
                raise ConvergenceError(
                    f"the Gaussian quadrature is not accurate at T = {1 / beta:.6g} (the saddle point moves "
                    f"when the nodes are doubled, up to {(n + 1) // 2} per axis)",
                    residual=ref[3], hint="solve with precision=DIGITS (adaptive mpmath quadrature), at a "
                                          "higher temperature, or at T = 0 (the ground-state functional)")
            mod.set_quadrature(n)
            fine = numbers(theta)
            if fine[3] <= tol and all(abs(a - b) <= 1e-9 * (1 + abs(b)) for a, b in zip(ref[:2], fine[:2])):
                return theta, fine
            th, conv, _ = newton_batch(lambda t: ev.residual(t, vals), lambda t: ev.jacobian(t, vals),
                                       theta[None], free, lo, hi, tol=tol)
            if not conv[0]:
                raise ConvergenceError(f"the saddle point at T = {1 / beta:.6g} is lost when the quadrature is "
                                       f"refined to {n} nodes per axis", residual=fine[3],
                                       hint="solve with precision=DIGITS (adaptive mpmath quadrature)")
            theta, ref = th[0], numbers(th[0])
    finally:
        mod.set_quadrature(n0)


def _mp_beta(beta, digits):
    with mpmath.workdps(digits + 10):
        return mpmath.mpf(beta)


def _ground_state(d, digits) -> Solution:
    zt = d.zero_temperature
    if zt is None:
        raise ParameterError(f"the engine could not take T -> 0 for {d.model.name} {d.ansatz}; "
                             "solve at a small positive T instead")
    ev = evaluator_for(d, digits)
    names = ev.gs_names
    vals = _values(d, np.inf)
    notes = []
    if not names:
        E0 = ev.gs_energy(np.zeros((1, 0)), vals)[0]
        theta, r = np.zeros(0), 0.0
        if digits is not None:
            with mpmath.workdps(digits + 5):
                E0 = ev.mp_call("ground_state_energy", [], vals, ground_state=True)
    else:
        lo, hi = _bounds(names)
        theta0 = _starts(names)
        th, conv, res = newton_batch(lambda t: ev.gs_residual(t, vals), lambda t: ev.gs_jacobian(t, vals),
                                     theta0, range(len(names)), lo, hi, tol=1e-12)
        pts = _unique(th[conv])
        # a level q_i -> 1 merges with the top level: the RSB ansatz degenerates to a lower one
        merged = [j for j, n in enumerate(names) if _kind(n) == "q"]
        if merged and len(pts):
            pts = pts[np.all(pts[:, merged] < 1 - 1e-6, axis=1)]
        if len(pts) == 0:
            if d.k >= 1:
                rs_sol = _ground_state(derivation_for(d.model, "rs"), digits)
                rs_sol.notes.append(f"{d.ansatz}: no stationary point of the T = 0 functional with "
                                    "finite chi, y > 0; the ansatz reduces to RS")
                rs_sol.ansatz = d.ansatz
                return rs_sol
            raise ConvergenceError("no stationary point of the ground-state functional found",
                                   residual=float(np.nanmin(res)) if np.isfinite(res).any() else None)
        energies = ev.gs_energy(pts, vals)
        i = int(np.nanargmax(energies))
        theta, E0 = pts[i], energies[i]
        r = float(np.max(np.abs(ev.gs_residual(pts[i:i + 1], vals))))
        if digits is not None:
            with mpmath.workdps(digits + 5):
                theta, r = newton_mp(lambda t: ev.mp_call("ground_state_gradient", t, vals, True),
                                     lambda t: ev.mp_call("ground_state_jacobian", t, vals, True),
                                     list(theta), range(len(names)), digits)
                E0 = ev.mp_call("ground_state_energy", theta, vals, ground_state=True)
    rep = None
    if zt.replicon is not None:
        with mpmath.workdps((digits or 15) + 5):
            rep = sp.N(numeric_covariances(zt.replicon.subs(dict(zip(zt.order_parameters, theta)))),
                       (digits or 15) + 5)
            rep = mpmath.mpf(str(rep)) if digits else float(rep)
        if rep < 0:
            notes.append("replicon < 0 at T = 0: this ground state is unstable beyond the ansatz")
    return Solution(model=d.model.name, params=d.model.public_params(), ansatz=d.ansatz,
                    T=0.0, free_entropy=None, energy=E0, entropy=None,
                    order_parameters=dict(zip(names, theta)), replicon=rep, converged=True, residual=r,
                    digits=digits, notes=notes)


#: the largest finite inverse temperature: beyond it the residual tolerance 1e-11 (1 + beta^2) and the
#: quadrature of tanh(beta sqrt(q) z) lose their meaning (beta^2 overflows at 1e154); T = 0 is the
#: ground-state functional
MAX_BETA = 1e8


def _temperature(T, beta):
    if (T is None) == (beta is None):
        raise ParameterError("give exactly one of T=... or beta=...")
    try:
        T, beta = (None if T is None else float(T)), (None if beta is None else float(beta))
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"temperature must be a number, got {T if T is not None else beta!r}") from None
    if T is not None:
        if not np.isfinite(T) or T < 0:
            raise ParameterError(f"T must be >= 0 (T = 0 is the ground state), got {T}")
        if 0 < T < 1 / MAX_BETA:
            raise ParameterError(f"T = {T:g} is below 1/{MAX_BETA:g}: solve the ground state with T = 0")
        return np.inf if T == 0 else 1.0 / T, T
    if not beta > 0:
        raise ParameterError(f"beta must be > 0, got {beta}")
    if MAX_BETA < beta < np.inf:
        raise ParameterError(f"beta = {beta:g} exceeds {MAX_BETA:g}: solve the ground state with T = 0")
    return beta, (0.0 if beta == np.inf else 1.0 / beta)


def _require_finite(sol: Solution) -> None:
    r"""A solution with a NaN, or an infinite number other than the replicon or the entropy, is not
    returned (numerical honesty): raise :class:`ConvergenceError` with the solution attached.  A
    signed infinite replicon (ReLU's :math:`\xi''(1) = \infty` at T = 0) or entropy (a continuous
    model's :math:`s \to -\infty` as T -> 0) is a limit, not a failure."""
    values = {"free_entropy": sol.free_entropy, "energy": sol.energy, "entropy": sol.entropy,
              "replicon": sol.replicon, "residual": sol.residual, **sol.order_parameters}
    bad = []
    for k, v in values.items():
        try:
            if v is not None and not mpmath.isfinite(v) and (
                    mpmath.isnan(v) or k not in ("replicon", "entropy")):
                bad.append(k)
        except (TypeError, ValueError):  # not a number (e.g. a list-valued profile entry)
            continue
    if bad:
        raise ConvergenceError(f"{sol.model} {sol.ansatz} at T = {sol.T}: non-finite {', '.join(bad)}",
                               residual=sol.residual, solution=sol)


def solve(target, T=None, beta=None, ansatz: str = "auto", precision=None, start: dict | None = None
          ) -> Solution:
    """Solve a model (or a :class:`~replicasym.derivation.Derivation`) at temperature T or beta.

    ``T=0`` gives the ground state.  ``ansatz="auto"`` follows the Parisi prescription over RS and
    1RSB (see :func:`solve_auto`); ``precision`` in digits switches to mpmath; ``start`` is an
    extra starting point (order-parameter name -> value), e.g. from a neighbouring temperature.
    """
    from ..derivation import Derivation
    if not isinstance(target, (Derivation, ModelSpec)):  # a model with its own solver (signal)
        return target.solve(T=T, beta=beta, ansatz=ansatz, precision=precision)
    b, _ = _temperature(T, beta)
    if isinstance(target, Derivation):
        d = target
    elif str(ansatz).lower() == "auto":
        return solve_auto(target, T, beta, precision, start)
    elif parse_ansatz(ansatz) >= 2 or str(ansatz).strip().lower() == "krsb:1":
        # numerical Parisi solvers: no symbolic k-RSB derivation needed (krsb:1: q0 free)
        d = None
    else:
        d = derivation_for(target, ansatz)
    if d is None:
        sol = solve_parisi(target, parse_ansatz(ansatz), b, precision, start)
    else:
        require_precision([d.free_entropy], check_precision(precision))
        if precision is not None and b != np.inf:
            with mpmath.workdps(check_precision(precision) + 10):
                b = 1 / mpmath.mpf(str(T)) if T is not None else mpmath.mpf(str(beta))
        sol = solve_derivation(d, b, precision, start=start)
        if d.k == 1 and d.model.spins == "ising" and "q0" not in [str(v) for v in d.order_parameters]:
            _one_step_check(d.model, b, sol)
    if T is not None and b != np.inf:  # report the temperature exactly as given
        with mpmath.workdps((check_precision(precision) or 15) + 10):
            sol.T = float(T) if precision is None else mpmath.mpf(str(T))
    _require_finite(sol)
    return sol


def _one_step_check(model, beta, sol: Solution) -> None:
    r"""The engine's Ising 1RSB fixes q_0 = 0 (stationary by the spin-flip symmetry without a field),
    but the Parisi minimum over one-step x(q) can have q_0 > 0 (SK at T = 0: -0.765259 with
    q_0 = 0.477, Parisi 1979's -0.7652, against -0.768828 at q_0 = 0).  Compare with the grid
    solver's one-step optimum (q_0 free) and say so in the notes when it is better."""
    from .parisi_ising import solve_krsb
    try:
        best = solve_krsb(model, float(beta), 1)
    except ReplicasymError:
        return
    if beta == np.inf:
        better = best.energy > float(sol.energy) + 1e-7
        what = f"E = {float(best.energy):.10g}"
    else:
        better = best.free_entropy < float(sol.free_entropy) - 1e-9
        what = f"Phi = {float(best.free_entropy):.10g}"
    if better:
        q0 = best.order_parameters.get("q0")
        sol.notes.append(f"1rsb here fixes q0 = 0 (a stationary point by symmetry); the one-step Parisi "
                         f"optimum has q0 = {float(q0):.6g} and {what} (solve --ansatz krsb:1 uses the grid "
                         "solver with q0 free)")


def solve_parisi(model, k, beta, precision=None, start: dict | None = None) -> Solution:
    """k-RSB (k >= 2) or full RSB (k = ``math.inf``) by the numerical Parisi solver of the model's
    spins: :mod:`.parisi_spherical` (Crisanti--Sommers) or :mod:`.parisi_ising` (Parisi PDE),
    imported when first needed.  ``start``: order parameters of a previous k'-RSB solution."""
    if precision is not None:
        raise ParameterError("k-RSB with k >= 2 and full RSB are solved in double precision; drop --precision")
    if model.spins == "spherical":
        from . import parisi_spherical as parisi
    else:
        from . import parisi_ising as parisi
    b = np.inf if beta == np.inf else float(beta)
    if k == math.inf:
        return parisi.solve_frsb(model, b)
    hint = None
    if start:
        hint = Solution(model=model.name, params=model.public_params(), ansatz=f"krsb:{k}", T=None,
                        free_entropy=None, energy=None, entropy=None,
                        order_parameters={n: float(v) for n, v in start.items()}, replicon=None,
                        converged=True, residual=None)
    return parisi.solve_krsb(model, b, int(k), start=hint)


def solve_auto(model, T=None, beta=None, precision=None, start: dict | None = None,
               full_rsb: bool = True) -> Solution:
    r"""Parisi prescription over the ansätze the engine solves: RS, 1RSB, then full RSB.

    1RSB is chosen when it has a genuine solution (split levels, 0 < m < 1 at T > 0; finite
    chi, y at T = 0) and it is at least as good as RS: smaller Phi at T > 0, larger E_0 at T = 0
    (the free energy is maximised over replica order parameters as n -> 0).  When the chosen
    solution has a negative replicon, full RSB (:func:`solve_parisi`, which contains every k-RSB)
    is solved (unless ``full_rsb=False``) and chosen by the same rule; the ansatz is named in the
    notes.
    """
    rs = solve(model, T=T, beta=beta, ansatz="rs", precision=precision, start=start)
    one = solve(model, T=T, beta=beta, ansatz="1rsb", precision=precision, start=start)
    reduced = any("reduces to RS" in n for n in one.notes)
    chosen = rs
    if not reduced:
        if rs.T == 0:
            better = one.energy >= rs.energy - 1e-9
        else:
            better = one.free_entropy <= rs.free_entropy + 1e-12
        if better:
            chosen = one
    summary = (f"RS replicon {_fmt(rs.replicon)}; 1RSB "
               f"{'reduces to RS' if reduced else 'replicon ' + _fmt(one.replicon)}")
    if chosen.replicon is not None and chosen.replicon < -1e-9 and full_rsb:
        full = None
        if precision is not None:
            chosen.notes.append("the chosen solution has a negative replicon: full RSB is needed, which is "
                                "solved in double precision only (drop precision); the value is a bound")
        else:
            try:
                full = solve(model, T=T, beta=beta, ansatz="frsb", start=start)
            except ConvergenceError as exc:
                chosen.notes.append(f"the chosen solution has a negative replicon and full RSB did not "
                                    f"converge ({exc}); the value is a bound")
        if full is not None:
            if rs.T == 0:
                better = full.energy >= chosen.energy - 1e-9
            else:
                better = full.free_entropy <= chosen.free_entropy + 1e-12
            summary += f"; {chosen.ansatz} unstable, full RSB {'chosen' if better else 'not better'}"
            if better:
                chosen = full
    chosen.notes.append(f"auto: chose {chosen.ansatz} ({summary})")
    return chosen


def _fmt(x):
    return "n/a" if x is None else f"{float(x):.6g}"
