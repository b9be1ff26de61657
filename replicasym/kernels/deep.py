r"""The deep kernel map (NNGP recursion) and the mixed p-spin covariance :math:`\xi(q)` of a network.

With :math:`L` hidden layers, weights of variance :math:`C_W/\text{fan-in}` and biases of variance
:math:`C_b` (reference/winer_hanin_mlp.md §2.1; Neal 1996, Lee et al. 2018):

.. math::
    K^{(1)}(q) = C_b + C_W q,\qquad
    K^{(\ell+1)}(q) = C_b + C_W\, g_\ell\big(K^{(\ell)}(q)\big),\qquad \xi(q) = K^{(L+1)}(q),

where :math:`g_\ell(c) = \mathbb{E}[\sigma(u)\sigma(v)]` with variances :math:`s_\ell = K^{(\ell)}(1)`
and covariance :math:`c`.  The derivatives follow by the chain rule, with Price's theorem
:math:`g^{(j)}_\ell(c)=\mathbb{E}[\sigma^{(j)}(u)\sigma^{(j)}(v)]`:

.. math::
    K' _{\ell+1} = C_W g' K'_\ell,\quad
    K''_{\ell+1} = C_W\big(g'' K'^2_\ell + g' K''_\ell\big),\quad
    K'''_{\ell+1} = C_W\big(g''' K'^3_\ell + 3 g'' K'_\ell K''_\ell + g' K'''_\ell\big).

Each :math:`g_\ell` is the closed form of :mod:`.closed_forms` when there is one.  Otherwise it is
the Hermite series :math:`g_\ell(c)=\sum_k a_k (c/s_\ell)^k`, :math:`a_k=b_k(s_\ell)^2\ge0`, tabulated
once on a uniform grid of :math:`\rho=c/s_\ell\in[-1,1]` together with its derivatives and
evaluated by piecewise cubic Hermite interpolation, so that :math:`\xi,\xi',\xi'',\xi'''` on
:math:`10^6` points cost a few dozen vector operations per layer.

The power series :math:`\xi(q)=\sum_p \xi_p q^p` (Schoenberg: :math:`\xi_p\ge0`) is the truncated
composition of the layers' Hermite series.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import sympy as sp

from ..errors import ParameterError
from .activations import Activation, activation
from .closed_forms import S1, S2, C
from .evaluate import kernel_derivation
from .quadrature import gaussian_expectation, hermite_series

__all__ = ["DeepKernel", "deep_kernel"]

_GRID = 4097      # tabulation points in rho for series layers
_BLOCK = 1 << 16  # q values per vectorized block (cache-sized)
#: the deepest kernel map: every evaluation of xi composes ``depth`` layers (depth 1000 takes ~10 s to
#: build); the depth -> oo limit of shaped activations is ``mlp(..., continuum=True)``
MAX_DEPTH = 1000
#: the largest layer variance K^(l)(1): beyond it xi''' ~ s^-3 and the kernel tables leave double range
MAX_VARIANCE = 1e100
#: the largest share of E[sigma(sqrt(s) z)^2] that may come from 10 < |z| <= 11, the end of the rule's
#: range (then the part beyond |z| = 11 that the rule drops is ~100 times smaller still)
_TAIL = 1e-7


class _SeriesLayer:
    """g(c) and its derivatives from the Hermite series, by cubic Hermite interpolation in rho."""

    def __init__(self, f, s: float, order: int):
        self.s = s
        self.a = hermite_series(f, s) ** 2
        rho = np.linspace(-1.0, 1.0, _GRID)
        k = np.arange(self.a.size)
        fall = np.ones(self.a.size)
        table = []
        for j in range(order + 2):  # d^j g / d rho^j, j = 0..order+1
            table.append(np.polynomial.polynomial.polyval(rho, (self.a * fall)[j:]))
            fall = fall * np.maximum(k - j, 0)
        self.table = np.array(table)
        self.h = 2.0 / (_GRID - 1)

    def __call__(self, c: np.ndarray, order: int) -> list[np.ndarray]:
        t = (np.clip(c / self.s, -1.0, 1.0) + 1.0) / self.h
        i = np.minimum(t.astype(np.intp), _GRID - 2)
        x = t - i
        x2, x3 = x * x, x * x * x
        h00, h10, h01, h11 = 2 * x3 - 3 * x2 + 1, x3 - 2 * x2 + x, 3 * x2 - 2 * x3, x3 - x2
        out = []
        for j in range(order + 1):
            y, dy = self.table[j], self.table[j + 1] * self.h
            val = h00 * y[i] + h10 * dy[i] + h01 * y[i + 1] + h11 * dy[i + 1]
            out.append(val / self.s**j)
        return out


class _ClosedLayer:
    """g(c) and its derivatives from the closed form, at equal variances s."""

    def __init__(self, derivation, s: float, order: int):
        # closed forms evaluated through rho = c/s clipped to [-1, 1] (KernelDerivation.numpy), so
        # that rounding in c ~ s never leaves the domain of arccos/sqrt
        self.f = [derivation.numpy(j) for j in range(order + 1)]
        self.s = s

    def __call__(self, c: np.ndarray, order: int) -> list[np.ndarray]:
        # |c| = s up to rounding is the diagonal: snap it, since arccos/sqrt amplify a 1e-16 error
        # to 1e-8 there
        c = np.where(np.abs(c) > self.s * (1 - 1e-13), np.sign(c) * self.s, c)
        with np.errstate(divide="ignore", invalid="ignore"):  # relu'' = delta: 1/sqrt(s^2 - c^2) at c = s
            return [f(self.s, self.s, c) for f in self.f[: order + 1]]


def _second_moment(f, s: float, name: str) -> float:
    r""":math:`\mathbb{E}[\sigma(\sqrt s z)^2]` by :func:`gaussian_expectation`, refused when more than
    :data:`_TAIL` of it comes from :math:`10 < |z| \le 11` (the integrand has not decayed at the end of the
    rule's range: an activation growing like :math:`e^{x^2/(4s)}` or faster, or :math:`e^{x}` at a large
    variance), where the truncated rule would return a finite, wrong number."""
    with np.errstate(all="ignore"):
        total = float(gaussian_expectation(lambda z: f(z) ** 2, s))
        tail = float(gaussian_expectation(lambda z: np.where(np.abs(z) > 10 * np.sqrt(s), f(z) ** 2, 0.0), s))
    if not (math.isfinite(total) and math.isfinite(tail) and abs(tail) <= _TAIL * abs(total)):
        raise ParameterError(f"the activation {name} grows too fast for a Gaussian input of variance {s:.6g}: "
                             "E[sigma(u)^2] does not converge numerically (lower C_W, C_b or the depth)")
    return total


class DeepKernel:
    r"""The kernel map of an L-hidden-layer network: :math:`\xi(q)=K^{(L+1)}(q)` and derivatives."""

    def __init__(self, act: str | Activation, depth: int, C_W: float = 1.0, C_b: float = 0.0,
                 method: str = "auto"):
        self.activation = activation(act)
        if not (isinstance(depth, (int, np.integer)) and 0 <= depth <= MAX_DEPTH):
            raise ParameterError(f"depth must be an integer between 0 and {MAX_DEPTH}, got {depth!r}")
        for name, v in (("C_W", C_W), ("C_b", C_b)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ParameterError(f"{name} must be a finite number >= 0, got {v!r}")
        if C_W == 0:
            raise ParameterError("C_W must be > 0")
        if method not in ("auto", "hermite"):
            raise ParameterError(f"method must be 'auto' (closed form when available) or 'hermite', got {method!r}")
        self.depth, self.C_W, self.C_b = int(depth), float(C_W), float(C_b)
        self.derivation = kernel_derivation(self.activation)
        self.closed = self.derivation.closed and method == "auto"
        f = self.activation.numpy()
        s = [self.C_b + self.C_W]  # K^(1)(1)
        for _ in range(self.depth):  # K^(l+1)(1) = C_b + C_W E[sigma(sqrt(s_l) z)^2]
            if not (math.isfinite(s[-1]) and 0 < s[-1] <= MAX_VARIANCE):
                break
            s.append(self.C_b + self.C_W * _second_moment(f, s[-1], self.activation.name))
        for layer, v in enumerate(s, 1):
            if not (math.isfinite(v) and 0 < v <= MAX_VARIANCE):
                raise ParameterError(f"the layer variances K(1) must be finite, > 0 and <= {MAX_VARIANCE:g} "
                                     f"(lower C_W, C_b or the depth); layer {layer} has {v:.6g}")
        self.variances = tuple(s)
        self._layers = {}
        self._mp = {}
        #: C_W, C_b as exact rationals, for the kernel map at arbitrary precision (:meth:`_mp_jet`)
        self._exact_variances = tuple(sp.nsimplify(v, rational=True) for v in (self.C_W, self.C_b))

    def _layer(self, l: int, order: int):
        key = (l, order)
        if key not in self._layers:
            s = self.variances[l]
            if self.closed:
                self._layers[key] = _ClosedLayer(self.derivation, s, order)
            else:
                self._layers[key] = _SeriesLayer(self.activation.numpy(), s, order)
        return self._layers[key]

    def __call__(self, q, order: int = 0, strict: bool = True) -> np.ndarray:
        r"""Array ``[xi, xi', ..., xi^(order)]`` at ``q`` (shape ``(order+1,) + q.shape``), order <= 3.

        ``strict=False`` (solvers) gives NaN outside [-1, 1] instead of raising."""
        if order not in (0, 1, 2, 3):
            raise ParameterError(f"order must be 0..3, got {order}")
        q = np.asarray(q, dtype=float)
        outside = np.abs(q) > 1 + 1e-12
        if strict and np.any(outside):
            raise ParameterError("the overlap q must lie in [-1, 1]")
        flat = np.where(outside, np.nan, q).ravel()
        nan = np.isnan(flat)  # propagate NaN (e.g. a diverged Newton step) instead of failing
        if nan.any():
            flat = np.where(nan, 0.0, flat)
        out = np.empty((order + 1, flat.size))
        with np.errstate(invalid="ignore"):  # inf * 0 where a derivative diverges (ReLU at q = 1)
            for b in range(0, flat.size, _BLOCK):
                out[:, b:b + _BLOCK] = self._block(flat[b:b + _BLOCK], order)
        out[:, nan] = np.nan
        return out.reshape((order + 1,) + q.shape)

    def _block(self, q: np.ndarray, order: int) -> list[np.ndarray]:
        one, zero = np.ones_like(q), np.zeros_like(q)
        K = [self.C_b + self.C_W * q, self.C_W * one, zero, zero][: order + 1]
        Cw = self.C_W
        for l in range(self.depth):
            g = self._layer(l, order)(K[0], order)
            new = [self.C_b + Cw * g[0]]
            if order >= 1:
                new.append(Cw * g[1] * K[1])
            if order >= 2:
                new.append(Cw * (g[2] * K[1] ** 2 + g[1] * K[2]))
            if order >= 3:
                new.append(Cw * (g[3] * K[1] ** 3 + 3 * g[2] * K[1] * K[2] + g[1] * K[3]))
            K = new
        return K

    def series(self, degree: int = 30) -> np.ndarray:
        r"""Coefficients :math:`\xi_0..\xi_{degree}` of :math:`\xi(q)=\sum_p\xi_p q^p` (truncated
        composition of the layers' Hermite series)."""
        P = np.zeros(degree + 1)
        P[0], P[1] = self.C_b, self.C_W
        f = self.activation.numpy()
        for l in range(self.depth):
            s = self.variances[l]
            a = hermite_series(f, s) ** 2
            x = P / s
            acc, power = np.zeros(degree + 1), np.zeros(degree + 1)
            power[0] = 1.0
            for ak in a:
                acc += ak * power
                power = np.convolve(power, x)[: degree + 1]
            P = self.C_W * acc
            P[0] += self.C_b
        return P

    def symbolic(self, exact: bool = False) -> sp.Expr | None:
        """xi(q) as a SymPy expression in ``q`` when the activation has a closed-form kernel.

        ``exact=True`` keeps C_W, C_b as rationals and the layer variances K^(l)(1) as closed-form
        expressions (for arbitrary precision); otherwise the variances are double-precision floats."""
        if not self.derivation.closed:
            return None
        q = sp.Symbol("q", real=True)
        cw, cb = ((sp.nsimplify(self.C_W, rational=True), sp.nsimplify(self.C_b, rational=True)) if exact
                  else (self.C_W, self.C_b))
        K = cb + cw * q
        for l in range(self.depth):
            s = K.subs(q, 1) if exact else sp.Float(self.variances[l])
            K = cb + cw * self.derivation.kernel.subs({S1: s, S2: s, C: K})
        return K

    # -- the kernel protocol of replicasym.symbolic.covariance ---------------------------------
    @property
    def key(self) -> str:
        """Identity of this kernel map (activation, its parameters, depth, C_W, C_b, method)."""
        a = self.activation
        return (f"DeepKernel({a.name!r}, {sorted(a.params.items())!r}, {sp.srepr(a.expr)}, "
                f"depth={self.depth}, C_W={self.C_W!r}, C_b={self.C_b!r}, closed={self.closed})")

    #: import lines a generated module needs for :meth:`source`
    imports = ("from replicasym.kernels.activations import activation as _activation",
               "from replicasym.kernels.deep import DeepKernel as _DeepKernel")

    def source(self) -> str:
        """Python source that rebuilds this kernel map in a generated module (literals only)."""
        a = self.activation
        params = "".join(f", {k}={v!r}" for k, v in sorted(a.params.items()))
        return (f"_DeepKernel(_activation({a.name!r}{params}), "
                f"{self.depth!r}, {self.C_W!r}, {self.C_b!r}, {'auto' if self.closed else 'hermite'!r})")

    def mpmath(self, order: int = 0):
        r"""mpmath callable for the ``order``-th derivative of xi (closed-form kernels only, else None).

        It evaluates the kernel map layer by layer at the working precision (:meth:`_mp_jet`), so its
        cost grows linearly with the depth.  The nested closed form :meth:`symbolic` is not used: for
        ReLU its size grows exponentially with the depth (at depth 7, differentiating and lambdifying it
        took minutes)."""
        if not self.closed:
            return None
        return lambda q: self._mp_jet(q, order)[order] * math.factorial(order)

    def _mp_layer(self, j: int):
        r"""The closed form :math:`\partial_c^j g` at equal variances s as an mpmath function of
        (s, :math:`\rho = c/s`), memoised (:math:`\rho` is clipped to [-1, 1] by the caller, as in
        :meth:`~.closed_forms.KernelDerivation.numpy`, so arccos/sqrt stay real on the diagonal)."""
        if j not in self._mp:
            s, rho = sp.Symbol("s", positive=True), sp.Symbol("rho", real=True)
            expr = self.derivation.derivative(j).subs({S1: s, S2: s}).subs(C, rho * s)
            self._mp[j] = sp.lambdify((s, rho), expr, modules="mpmath")
        return self._mp[j]

    def _mp_jet(self, q, order: int) -> list:
        r"""Taylor coefficients :math:`[\xi(q), \xi'(q), \xi''(q)/2!, \dots]` up to ``order``, at the
        working precision.  Layer by layer, the truncated series of :math:`K^{(\ell)}(q + t)` in t is
        composed with the Taylor series of :math:`g_\ell` at :math:`K^{(\ell)}(q)`:
        :math:`K^{(\ell+1)} = C_b + C_W\sum_i g_\ell^{(i)}(K_0)\,\delta^i/i!`, with C_W, C_b exact
        rationals and the variances :math:`s_{\ell+1} = C_b + C_W g_\ell(s_\ell, s_\ell, s_\ell)`.

        Evaluated with 32 guard bits; :math:`\rho = c/s` is clipped to [-1, 1] (rounding on the
        diagonal q = 1, where c = s); outside :math:`|q| \le 1 + 10^{-12}` every entry is NaN, as in
        :meth:`__call__` with ``strict=False``."""
        prec = mpmath.mp.prec
        if not abs(q) <= 1 + 1e-12:
            return [mpmath.nan] * (order + 1)
        cw, cb = self._exact_variances
        with mpmath.workprec(prec + 32):
            cw, cb = mpmath.mpf(cw.p) / cw.q, mpmath.mpf(cb.p) / cb.q
            zero, one = mpmath.mpf(0), mpmath.mpf(1)

            def g(j, s, c):
                return self._mp_layer(j)(s, min(max(c / s, -one), one)) / math.factorial(j)

            jet = ([cb + cw * mpmath.mpf(q), cw] + [zero] * order)[: order + 1]
            s = cb + cw
            for _ in range(self.depth):
                delta = [zero] + jet[1:]
                out = [zero] * (order + 1)
                power = [one] + [zero] * order  # delta**i, truncated after t**order
                for i in range(order + 1):
                    coeff = g(i, s, jet[0])
                    out = [a + coeff * b for a, b in zip(out, power)]
                    power = [mpmath.fsum(power[a] * delta[n - a] for a in range(n + 1)) for n in range(order + 1)]
                jet = [cb + cw * out[0]] + [cw * v for v in out[1:]]
                s = cb + cw * g(0, s, s)
        return [+v for v in jet]


def deep_kernel(act: str | Activation, depth: int, C_W: float = 1.0, C_b: float = 0.0) -> DeepKernel:
    """Shorthand for :class:`DeepKernel`."""
    return DeepKernel(act, depth, C_W, C_b)
