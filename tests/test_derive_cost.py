"""The derivation-cost fixes keep the mathematics: k-RSB residuals divided group by group equal the
canonical quotient, and the layer-by-layer mpmath kernel map equals the nested closed form.
(Timings: benchmarks/README.md, "Derivation cost".)"""
from __future__ import annotations

import random
import time

import mpmath
import pytest
import sympy as sp

import replicasym as rs
from replicasym.kernels.deep import DeepKernel
from replicasym.symbolic.saddle import _divide_multiplicity, gaussian_simplify


def test_grouped_division_equals_the_cancelled_quotient():
    """Spherical 3-spin krsb:2: dPhi/dq_i / (m_i - m_{i+1}) by groups == cancel(g / d) at random points."""
    d = rs.derive(rs.models.spherical(p=3), "krsb:2")
    phi = d.free_entropy
    rng = random.Random(1)
    levels = [v for v in d.order_parameters if str(v).startswith("q")]
    sizes = [v for v in d.order_parameters if str(v).startswith("m")]
    for i, q in enumerate(levels):
        mult = sizes[i] - (sizes[i + 1] if i + 1 < len(sizes) else 1)
        g = gaussian_simplify(sp.diff(phi, q))
        flat = _divide_multiplicity(g, mult, canonical=False)
        assert sp.Add.make_args(flat) and not flat.has(sp.zoo)
        ref = sp.cancel(g / mult)
        for _ in range(5):
            pt = {s: sp.Rational(rng.randint(1, 97), 100) for s in ref.free_symbols | flat.free_symbols}
            assert abs(sp.N(flat.subs(pt) - ref.subs(pt), 40)) < 1e-35
        # the residual the derivation carries is this quotient
        assert sp.simplify(d.residuals[d.order_parameters.index(q)] - ref) == 0


@pytest.mark.parametrize("act, depth, cw, cb", [("relu", 3, 2.0, 0.0), ("relu", 2, 1.7, 0.3), ("erf", 2, 1.5, 0.1),
                                                ("sin", 3, 1.1, 0.1)])
def test_layerwise_mpmath_kernel_equals_nested_closed_form(act, depth, cw, cb):
    k = DeepKernel(act, depth, cw, cb)
    q = sp.Symbol("q", real=True)
    closed = k.symbolic(exact=True)
    with mpmath.workdps(40):
        for x in ("-0.8", "0", "0.3", "0.95"):
            for j in range(4):
                ref = sp.lambdify(q, sp.diff(closed, q, j), "mpmath")(mpmath.mpf(x))
                ref = ref.real if isinstance(ref, mpmath.mpc) else ref  # rounding at arccos(1): ~1e-21 j
                assert abs(k.mpmath(j)(mpmath.mpf(x)) - ref) < mpmath.mpf(10) ** -30 * (1 + abs(ref))


def test_deep_relu_mpmath_kernel_is_linear_in_depth():
    """Depth 30 ReLU: xi', xi'' at 30 digits in well under a second each (the nested closed form took
    minutes from depth 7), and ReLU's xi'(1) is finite (it equals the double-precision value)."""
    k = DeepKernel("relu", 30, 2.0, 0.0)
    t = time.perf_counter()
    with mpmath.workdps(30):
        vals = [k.mpmath(j)(mpmath.mpf("0.3")) for j in range(3)]
        slope_at_1 = k.mpmath(1)(mpmath.mpf(1))
    assert time.perf_counter() - t < 20
    ref = k(0.3, 2)
    for j in range(3):
        assert abs(float(vals[j]) - ref[j]) < 1e-9 * (1 + abs(ref[j]))
    assert abs(float(slope_at_1) - k(1.0, 1)[1]) < 1e-9 * k(1.0, 1)[1]
    assert k.mpmath(0)(mpmath.mpf("1.5")) != k.mpmath(0)(mpmath.mpf("1.5"))  # NaN outside [-1, 1]
