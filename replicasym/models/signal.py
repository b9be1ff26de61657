r"""Signal propagation in deep random networks (mean-field theory of the forward pass).

Conventions (DESIGN.md; Poole et al. 2016, *Exponential expressivity in deep neural networks
through transient chaos*; Schoenholz et al. 2017, *Deep information propagation*), with
:math:`z\sim N(0,1)` and :math:`(u_1,u_2)` centred Gaussian of variance :math:`q^*` and covariance
:math:`c\,q^*`:

.. math::
    q^{\ell+1} = \sigma_w^2\,\mathbb{E}\big[\phi(\sqrt{q^\ell}z)^2\big] + \sigma_b^2
    \quad(\text{length map, fixed point } q^*),\qquad
    c^{\ell+1} = \frac{\sigma_w^2\,\mathbb{E}[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q^*}
    \quad(\text{correlation map, fixed point } c^*),

.. math::
    \chi_1 = \sigma_w^2\,\mathbb{E}\big[\phi'(\sqrt{q^*}z)^2\big],\quad
    \xi_q^{-1} = -\ln\Big(\chi_1 + \sigma_w^2\,\mathbb{E}\big[\phi''\phi\big]\Big),\quad
    \xi_c^{-1} = -\ln\Big(\sigma_w^2\,\mathbb{E}[\phi'(u_1)\phi'(u_2)]\big|_{c^*}\Big).

The slope of the length map is computed without :math:`\phi''` (a distribution for ReLU) by
:math:`\partial_q\mathbb{E}[\phi(\sqrt q z)^2] = \mathbb{E}[(z^2-1)\phi(\sqrt q z)^2]/(2q)`, equal to
:math:`\mathbb{E}[\phi'^2+\phi\phi'']` by Stein's lemma.  The order--chaos boundary is
:math:`\chi_1 = 1`, parametrised by :math:`q^*` (reference/yoshino_bahri.md):
:math:`\sigma_w^2 = 1/\mathbb{E}[\phi'(\sqrt{q^*}z)^2]`,
:math:`\sigma_b^2 = q^* - \sigma_w^2\,\mathbb{E}[\phi(\sqrt{q^*}z)^2]`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp
from scipy.optimize import brentq

from ..errors import ConvergenceError, ParameterError
from ..solution import check_precision
from ..kernels.activations import Activation, X, activation
from ..kernels.closed_forms import S1, S2, C, KernelDerivation
from ..kernels.evaluate import kernel, kernel_derivation
from ..kernels.quadrature import gaussian_expectation
from ..symbolic.gaussian import GaussianExpectation
from ..symbolic.trace import Trace

__all__ = ["SignalDerivation", "SignalModel", "SignalSolution", "signal"]

_Q_MAX = 1e8


class _Expectations:
    r"""One-dimensional :math:`\mathbb{E}[g(\sqrt q z)]` in double precision (split Gauss--Legendre)
    or with mpmath at ``digits``."""

    def __init__(self, act: Activation, digits: int | None):
        self.act, self.digits = act, digits
        if not act.is_evaluable(1):
            raise ParameterError(f"activation {act.name!r}: its derivative {act.derivative(1)} is a "
                                 "distribution, so chi1 = sigma_w2 E[phi'^2] is infinite")
        backend = act.numpy if digits is None else act.mpmath
        self.phi, self.dphi = backend(0), backend(1)

    def double(self) -> _Expectations:
        """The same expectations in double precision (for bracketing roots)."""
        return self if self.digits is None else _Expectations(self.act, None)

    def mean(self, g: Callable, q):
        if self.digits is None:
            return float(gaussian_expectation(g, max(float(q), 0.0)))
        with mpmath.workdps(self.digits + 10):
            r = mpmath.sqrt(q)
            return mpmath.quad(lambda z: g(r * z, z) * mpmath.exp(-z * z / 2), [-mpmath.inf, 0, mpmath.inf]
                               ) / mpmath.sqrt(2 * mpmath.pi)

    def phi2(self, q):
        return self.mean(self._wrap(lambda x: self.phi(x) ** 2), q)

    def dphi2(self, q):
        r""":math:`\mathbb{E}[\phi'(\sqrt q z)^2]`; at q = 0 its limit q -> 0+ (for a kink at 0, as ReLU's,
        :math:`\phi'(0)^2` would be the convention H(0)^2 = 1/4 instead of the limit 1/2)."""
        if q == 0:
            q = 1e-30 if self.digits is None else mpmath.mpf(10) ** (-2 * self.digits)
        return self.mean(self._wrap(lambda x: self.dphi(x) ** 2), q)

    def slope(self, q):
        r""":math:`\partial_q\mathbb{E}[\phi(\sqrt q z)^2] = \mathbb{E}[(z^2-1)\phi(\sqrt q z)^2]/(2q)`."""
        if self.digits is None:
            z2 = lambda x: x * x / q
            return self.mean(lambda x: (z2(x) - 1) * self.phi(x) ** 2, q) / (2 * q)
        return self.mean(lambda x, z: (z * z - 1) * self.phi(x) ** 2, q) / (2 * q)

    def _wrap(self, g):
        return g if self.digits is None else (lambda x, z: g(x))


@dataclass
class SignalSolution:
    """Fixed points, slopes and depth scales of signal propagation at one (sigma_w2, sigma_b2)."""

    params: dict
    q_star: object
    chi1: object
    chi_q: object
    c_star: object
    chi_c: object
    xi_q: object
    xi_c: object
    phase: str
    digits: int | None = None
    notes: list = field(default_factory=list)
    #: |sigma_w2 E[phi(sqrt(q*) z)^2] + sigma_b2 - q*|, the length map's fixed-point residual
    residual: object = 0.0

    def as_dict(self) -> dict:
        from ..solution import number

        d = self.digits
        ops = {k: number(getattr(self, k), d if k in ("q_star", "chi1", "chi_q") else None)
               for k in ("q_star", "c_star", "chi1", "chi_q", "chi_c", "xi_q", "xi_c")}
        return {"model": "signal", "params": self.params, "ansatz": None, "T": None, "free_entropy": None,
                "energy": None, "entropy": None, "order_parameters": ops, "replicon": None,
                "converged": True, "residual": number(self.residual, None if d is None else 6), **ops,
                "phase": self.phase, "notes": list(self.notes)}


@dataclass(frozen=True)
class SignalDerivation:
    """The signal-propagation equations of one activation, with the kernel derivation trace."""

    model: SignalModel
    kernel: KernelDerivation
    equations: tuple
    steps: Trace
    ansatz: str = "none"
    free_entropy: None = None
    replicon: None = None
    order_parameters: tuple = (sp.Symbol("q^*"), sp.Symbol("c^*"))

    def latex(self) -> str:
        return self.steps.markdown()


class SignalModel:
    """Signal propagation through a deep random network with activation ``phi`` (see module doc)."""

    name = "signal"

    def __init__(self, activation_spec: str | Activation = "tanh", sigma_w2: float | None = None,
                 sigma_b2: float | None = None, **activation_params):
        self.activation = activation(activation_spec, **activation_params)
        self.sigma_w2 = _nonneg("sigma_w2", sigma_w2)
        self.sigma_b2 = _nonneg("sigma_b2", sigma_b2)
        self._params = {"activation": str(activation_spec), **activation_params}
        for k, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
            if v is not None:
                self._params[k] = v

    def public_params(self) -> dict:
        return dict(self._params)

    def _weights(self) -> tuple[float, float]:
        w2 = 1.0 if self.sigma_w2 is None else self.sigma_w2
        b2 = 0.0 if self.sigma_b2 is None else self.sigma_b2
        return w2, b2

    # -- derive ------------------------------------------------------------------------------
    def derive(self, ansatz: str | None = None) -> SignalDerivation:
        """The length and correlation maps, chi1, depth scales and critical line, symbolically; the
        kernel E[phi(u1) phi(u2)] in closed form when one is found, else as the Gaussian integral.
        ``ansatz``: none applies (``rs``, the default of :func:`replicasym.derive`, is accepted)."""
        if ansatz not in (None, "none", "auto", "rs"):
            raise ParameterError(f"signal propagation has no replica ansatz: drop --ansatz {ansatz}")
        kd = kernel_derivation(self.activation)
        tr = Trace()
        tr.steps.extend(kd.trace.steps)
        q, c, w2, b2, qs = sp.symbols("q c sigma_w^2 sigma_b^2 q^*", positive=True)
        z = sp.Symbol("z", real=True)
        phi, dphi = self.activation.expr, self.activation.derivative(1)
        Eq2 = GaussianExpectation(phi.subs(X, sp.sqrt(q) * z) ** 2, z)
        length = sp.Eq(sp.Symbol("q^{l+1}"), w2 * Eq2 + b2)
        tr.record("length map", "q^(l+1) = sigma_w^2 E[phi(sqrt(q^l) z)^2] + sigma_b^2 (Poole et al. 2016)",
                  length)
        Kq = kd.kernel if kd.closed else kd.integral
        Kc = Kq.subs({S1: qs, S2: qs, C: c * qs})
        corr = sp.Eq(sp.Symbol("c^{l+1}"), (w2 * Kc + b2) / qs)
        tr.record("correlation map", "c^(l+1) = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2)/q^*, "
                  "Var u_i = q^*, Cov = c q^*", corr)
        chi1 = sp.Eq(sp.Symbol("chi_1"), w2 * GaussianExpectation(dphi.subs(X, sp.sqrt(qs) * z) ** 2, z))
        tr.record("chi_1", "slope of the correlation map at c = 1 (Price): chi_1 = sigma_w^2 E[phi'^2]", chi1)
        chic = sp.Eq(sp.Symbol("chi_c"), w2 * qs * sp.diff(Kc, c) / qs)
        tr.record("chi_c", "slope of the correlation map at c^* (Price's theorem: d/dc E[phi phi] = "
                  "E[phi' phi'] q^*); xi_c = -1/log chi_c", sp.Eq(chic.lhs, sp.simplify(chic.rhs)))
        chiq = sp.Eq(sp.Symbol("chi_q"), w2 * GaussianExpectation(
            (z**2 - 1) * phi.subs(X, sp.sqrt(qs) * z) ** 2, z) / (2 * qs))
        tr.record("chi_q", "slope of the length map at q^* (Stein: = chi_1 + sigma_w^2 E[phi'' phi]); "
                  "xi_q = -1/log chi_q", chiq)
        crit = sp.Tuple(sp.Eq(w2, 1 / GaussianExpectation(dphi.subs(X, sp.sqrt(qs) * z) ** 2, z)),
                        sp.Eq(b2, qs - w2 * Eq2.subs(q, qs)))
        tr.record("critical line", "chi_1 = 1 at the fixed point q^*, parametrised by q^*", crit)
        return SignalDerivation(self, kd, (length, corr, chi1, chic, chiq, *crit), tr)

    # -- solve -------------------------------------------------------------------------------
    def solve(self, T=None, beta=None, ansatz: str | None = None, precision: int | None = None
              ) -> SignalSolution:
        """q*, chi1, c*, chi_c and the depth scales at (sigma_w2, sigma_b2) (defaults 1 and 0).
        ``T``/``beta``/``ansatz`` do not apply and must be left unset."""
        if T is not None or beta is not None:
            raise ParameterError("signal propagation has no temperature: drop --T/--beta")
        if ansatz not in (None, "auto", "none"):
            raise ParameterError("signal propagation has no replica ansatz: drop --ansatz")
        digits = check_precision(precision)
        ex = _Expectations(self.activation, digits)
        w2, b2 = self._weights()
        q = _length_fixed_point(ex, w2, b2)
        with mpmath.workdps((digits or 15) + 10):
            residual = abs(w2 * ex.phi2(q) + b2 - q)
            tol = 1e-10 * (1 + abs(q)) if digits is None else mpmath.mpf(10) ** (5 - digits) * (1 + abs(q))
        if not residual <= tol:
            raise ConvergenceError(f"the length map's fixed point q* = {float(q):.10g} has residual "
                                   f"{float(residual):.3g} > {float(tol):.3g}", residual=residual)
        chi1 = w2 * ex.dphi2(q)
        if q > 0:
            chi_q = w2 * ex.slope(q)
        else:  # q* = 0: chi_q = sigma_w^2 (phi'(0)^2 + phi(0) phi''(0))
            at0 = self.activation.derivative(1) ** 2 + self.activation.expr * self.activation.derivative(2)
            if at0.has(sp.DiracDelta):  # a kink at 0 (relu): the slope's limit q -> 0+ (relu: 1/2)
                chi_q = w2 * ex.slope(1e-6 if digits is None else mpmath.mpf(10) ** -digits)
            else:
                chi_q = w2 * float(sp.lambdify(X, at0)(0))
        c_star, chi_c = _correlation_fixed_point(self.activation, float(q), w2, b2, float(chi1))
        notes = [] if digits is None else ["c_star, chi_c, xi_c in double precision"]
        phase = _phase(chi1)
        if phase == "critical":
            notes.append("chi1 = 1: the depth scales diverge (reported as null)")
        return SignalSolution(self.public_params(), q, chi1, chi_q, c_star, chi_c, _depth(chi_q),
                              _depth(chi_c), phase, digits, notes, residual)

    # -- phase -------------------------------------------------------------------------------
    def phase(self, precision: int | None = None) -> dict:
        """q_star and chi1 at the given point, and the critical sigma_w2 given sigma_b2 (or the critical
        sigma_b2 given sigma_w2 alone)."""
        from ..solution import number

        digits = check_precision(precision)
        ex = _Expectations(self.activation, digits)
        out: dict = {"model": "signal", "params": self.public_params()}
        if self.sigma_w2 is None:
            b2 = self.sigma_b2 or 0.0
            w2c, qc = critical_sigma_w2(ex, b2)
            out.update(q_star=number(qc, digits), chi1=None if w2c is None else 1.0,
                       sigma_w2_critical=number(w2c, digits))
            out["notes"] = ["q_star and chi1 on the critical line at the given sigma_b2"]
            return out
        w2, b2 = self._weights()
        q = _length_fixed_point(ex, w2, b2)
        chi1 = w2 * ex.dphi2(q)
        out.update(q_star=number(q, digits), chi1=number(chi1, digits),
                   phase=_phase(chi1))
        if self.sigma_b2 is not None:
            out["sigma_w2_critical"] = number(critical_sigma_w2(ex, b2)[0], digits)
        else:
            out["sigma_b2_critical"] = number(critical_sigma_b2(ex, w2), digits)
        return out

    def critical_line(self, sigma_b2) -> np.ndarray:
        """Critical sigma_w2 for each sigma_b2 in an array (nan where there is none)."""
        ex = _Expectations(self.activation, None)
        vals = [critical_sigma_w2(ex, float(b))[0] for b in np.ravel(sigma_b2)]
        return np.array([np.nan if v is None else v for v in vals]).reshape(np.shape(sigma_b2))


# -- numerics ---------------------------------------------------------------------------------
def _nonneg(name: str, v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{name} must be a number, got {v!r}") from None
    if not (math.isfinite(f) and f >= 0):
        raise ParameterError(f"{name} must be a finite number >= 0, got {v!r}")
    return f


#: |chi - 1| below this is criticality: the depth scale diverges (reported as None)
_CRITICAL_TOL = 1e-9


def _depth(chi) -> float | None:
    """xi = -1/log(chi); None where it does not exist (chi <= 0) or diverges (chi = 1)."""
    chi = float(chi)
    if not math.isfinite(chi) or chi <= 0 or abs(chi - 1) < _CRITICAL_TOL:
        return None
    return -1.0 / math.log(chi)


def _phase(chi1) -> str:
    chi1 = float(chi1)
    return "critical" if abs(chi1 - 1) < _CRITICAL_TOL else "ordered" if chi1 < 1 else "chaotic"


def _root(f: Callable, lo: float, hi: float, ex: _Expectations, f_mp: Callable | None = None):
    """brentq in double precision, polished with mpmath at ex.digits."""
    x = brentq(f, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=200)
    if ex.digits is None:
        return x
    with mpmath.workdps(ex.digits + 10):
        return mpmath.findroot(f_mp or f, mpmath.mpf(x), tol=mpmath.mpf(10) ** (-ex.digits - 3))


def _upper_bracket(f: Callable) -> float | None:
    """The first q = 2^k (k >= -10) with f(q) of the sign opposite to f(0+), or None."""
    q, sgn = 2.0**-10, math.copysign(1, f(0.0)) if f(0.0) != 0 else math.copysign(1, f(1e-12))
    while q <= _Q_MAX:
        if math.copysign(1, f(q)) != sgn:
            return q
        q *= 2
    return None


def _length_fixed_point(ex: _Expectations, w2: float, b2: float):
    """Stable fixed point of q -> sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2 (q = 1, the normalised input
    length, where the map is the identity, as for ReLU at (2, 0))."""
    dbl = ex.double()
    h = lambda q: w2 * dbl.phi2(q) + b2 - q
    h_mp = lambda q: w2 * ex.phi2(q) + b2 - q
    if abs(h(1.0)) < 1e-13 and abs(h(2.0)) < 1e-13:  # every q is fixed (ReLU at (2, 0)): keep q = 1
        return 1.0 if ex.digits is None else mpmath.mpf(1)
    if h(0.0) <= 0 and h(1e-9) <= 0:
        return 0.0 if ex.digits is None else mpmath.mpf(0)
    hi = _upper_bracket(h)
    if hi is None:
        raise ParameterError(f"the length map has no finite fixed point at sigma_w2 = {w2}, sigma_b2 = {b2} "
                             "(q diverges with depth)")
    lo = hi / 2 if hi > 2.0**-10 else 1e-12
    return _root(h, lo if h(lo) > 0 else 1e-12, hi, ex, h_mp)


def _correlation_fixed_point(act: Activation, q: float, w2: float, b2: float, chi1: float):
    """(c*, chi_c): the stable fixed point of the correlation map and its slope there."""
    if q <= 0 or chi1 <= 1:
        return 1.0, chi1
    K = lambda c, j=0: float(kernel(act, q, q, c * q, derivative=j, method=_method(act, j)))
    f = lambda c: (w2 * K(c) + b2) / q - c
    top = 1 - 1e-6
    if f(top) >= 0:
        return 1.0, chi1
    c_star = brentq(f, -1.0 if f(-1.0) > 0 else 0.0, top, xtol=1e-14)
    return c_star, w2 * K(c_star, 1) * q / q


def _method(act: Activation, j: int) -> str:
    kd = kernel_derivation(act)
    return "closed" if kd.closed else "quadrature" if act.is_evaluable(j) else "hermite"


def critical_sigma_w2(ex: _Expectations, b2: float):
    """(sigma_w2, q*) on the critical line chi1 = 1 at bias variance ``b2`` ((None, None) if none)."""
    d = ex.double()
    F = lambda q: q - d.phi2(q) / d.dphi2(q) - b2
    F_mp = lambda q: q - ex.phi2(q) / ex.dphi2(q) - b2
    if abs(F(0.0)) < 1e-300 and b2 == 0:
        q = 0.0 if ex.digits is None else mpmath.mpf(0)
        return 1 / ex.dphi2(1e-30 if ex.digits is None else mpmath.mpf(10) ** (-2 * ex.digits)), q
    hi = _upper_bracket(F)
    if hi is None:
        return None, None
    q = _root(F, hi / 2 if hi > 2.0**-10 else 0.0, hi, ex, F_mp)
    return 1 / ex.dphi2(q), q


def critical_sigma_b2(ex: _Expectations, w2: float):
    """The critical sigma_b2 at weight variance ``w2`` (None if the line does not reach it)."""
    d = ex.double()
    G = lambda q: w2 * d.dphi2(q) - 1
    G_mp = lambda q: w2 * ex.dphi2(q) - 1
    if abs(G(1e-12)) < 1e-13 and abs(G(1.0)) < 1e-13:  # chi1 independent of q (ReLU at sigma_w2 = 2)
        return 0.0
    hi = _upper_bracket(G)
    if hi is None:
        return None
    q = _root(G, hi / 2 if hi > 2.0**-10 else 0.0, hi, ex, G_mp)
    b2 = q - w2 * ex.phi2(q)
    return b2 if b2 >= 0 else None


def signal(activation: str | Activation = "tanh", sigma_w2: float | None = None,
           sigma_b2: float | None = None, **activation_params) -> SignalModel:
    """Build the signal-propagation model (``replicasym.models.build("signal", ...)``)."""
    return SignalModel(activation, sigma_w2, sigma_b2, **activation_params)
