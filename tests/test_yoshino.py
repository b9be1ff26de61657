"""Yoshino's deep network of perceptrons: the engine's layer functional and the RS layer profile."""
from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

import replicasym as rs
from replicasym.errors import ConvergenceError, ParameterError
from replicasym.solvers import yoshino as ysolve


@pytest.fixture(scope="module")
def perceptron_alpha1():
    return rs.models.perceptron(alpha=1.0).solve()


def test_depth_one_is_gardners_perceptron(perceptron_alpha1):
    # L = 1: one weight layer between clamped inputs and outputs is Gardner's spherical perceptron
    # (Gardner 1988); compare with the project's perceptron solver at alpha = 1 (kappa = 0)
    p = rs.models.yoshino(depth=1, alpha=1.0).solve()
    s = perceptron_alpha1
    assert p.Q[0] == pytest.approx(float(s.order_parameters["q"]), abs=1e-9)
    assert p.free_entropy == pytest.approx(float(s.free_entropy), abs=1e-9)
    assert p.replicon[0] == pytest.approx(float(s.replicon), abs=1e-8)
    # reference/yoshino_bahri.md A.4 (RS, kappa = 0): Q(alpha = 1.9) = 0.9709
    assert rs.models.yoshino(depth=1, alpha=1.9).solve().Q[0] == pytest.approx(0.9709, abs=1e-4)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 5.0])
def test_depth_one_teacher_is_gibbs_learning(alpha):
    # teacher-student at L = 1 is Gibbs learning of a spherical perceptron (Engel & Van den Broeck
    # ch. 2): the perceptron solver's R and free entropy, and the Nishimori line q = R
    s = rs.models.perceptron(alpha=alpha, labels="teacher").solve()
    p = rs.models.yoshino(depth=1, alpha=alpha, scenario="teacher").solve()
    assert p.Q[0] == pytest.approx(float(s.order_parameters["R"]), abs=1e-8)
    assert p.Q[0] == pytest.approx(float(s.order_parameters["q"]), abs=1e-8)
    assert p.free_entropy == pytest.approx(float(s.free_entropy), abs=1e-8)
    # reference/yoshino_bahri.md B.5 [COMPUTED there, independent script]: R(alpha) of Gibbs learning
    ref = {0.5: 0.2803257, 1.0: 0.4862636, 2.0: 0.7282982, 5.0: 0.9320642}[alpha]
    assert p.Q[0] == pytest.approx(ref, abs=1e-6)
    assert p.as_dict()["teacher_overlap"]["R"] == p.Q


def test_teacher_depth_one_has_no_liquid_phase():
    # L = 1: R grows from alpha = 0 (R/sqrt(1-R) ~ 2 alpha/pi, reference B.5): phase reports 0
    r = ysolve.phase(rs.models.yoshino(depth=1, scenario="teacher"), [0.5, 1.0])
    assert r["alpha_transition"] == [0.0] and r["first_boundary"] == "both"
    assert r["transition"] == "crystalline (teacher-student)" and r["scan_stopped"] is None


def test_teacher_onsets_from_landau_analysis():
    # Landau analysis of the teacher's cavity closure (derivations/yoshino.md): to second order in the
    # overlaps it is the random one with every sign flipped (maximum instead of minimum), so the
    # liquid branch loses stability at the same loads: depth 2 at u + u^2 = 1, u = 4 alpha/pi^2, both
    # layers together.  Tolerance 2e-5: the teacher's block derivatives are shifted by
    # TEACHER_FLOOR (1e-11) against a rounding error ~1e-16/sqrt(C), seen by 1e-7 finite differences
    r = ysolve.phase(rs.models.yoshino(depth=2, scenario="teacher"), [1.4, 1.6])
    a = r["alpha_transition"]
    assert a[0] == pytest.approx((math.sqrt(5) - 1) * math.pi**2 / 8, rel=2e-5)
    assert a[1] == pytest.approx(a[0], rel=1e-9) and r["first_boundary"] == "both"


def test_teacher_output_layer_crystallises_alone():
    # depth 3 at alpha = 3, between the output layer's onset pi^2/4 and the next one (derivations/
    # yoshino.md): only the output layer has an overlap with the teacher; the reference's boundary
    # table (A.4) does not apply (teacher signs), so the oracle is structural
    p = rs.models.yoshino(depth=3, alpha=3.0, scenario="teacher").solve()
    assert p.thickness == (0, 1) and p.Q[2] > 0.05 and max(p.Q[:2]) < 1e-9
    assert p.q[2] > 0 and p.q[1] < 1e-9


@pytest.mark.slow
def test_teacher_crystallises_from_the_output_boundary():
    # depth 3: the output layer next to a liquid interior crystallises first, at pi^2/4 (Landau, as
    # the random case); the input layer is coupled only through qhat_1, of second order while layer 2
    # is liquid, so it does not crystallise on its own; R_l is non-decreasing in alpha
    m = rs.models.yoshino(depth=3, scenario="teacher")
    r = ysolve.phase(m, [2.0, 3.0, 4.0])
    assert r["alpha_transition"][:2] == [None, None]
    assert r["alpha_transition"][2] == pytest.approx(math.pi**2 / 4, rel=2e-5)
    assert r["first_boundary"] == "output" and r["scan"]["thickness_output"] == [0, 1, 1]
    Q = np.array(r["scan"]["Q"])
    assert np.all(np.diff(Q, axis=0) >= -1e-12) and Q[-1, 2] > Q[-2, 2] > 0.05
    assert np.max(Q[:, :2]) < 1e-9


def test_liquid_free_entropy_is_annealed():
    # below every transition the design space is the annealed one: each of the M N outputs is right
    # with probability 1/2, Phi = -alpha log 2 per weight (kappa = 0)
    p = rs.models.yoshino(depth=3, alpha=1.0).solve()
    assert max(p.Q) < 1e-10
    assert p.free_entropy == pytest.approx(-math.log(2), abs=1e-12)


def test_output_boundary_layer_table():
    # reference/yoshino_bahri.md A.4 [COMPUTED, independent mpmath script]: boundary subsystem at
    # alpha = 3: Q = 0.0627, q = 0.0372 (4 digits); the rest of a deep net is liquid
    p = rs.models.yoshino(depth=4, alpha=3.0).solve()
    assert p.Q[-1] == pytest.approx(0.0627, abs=1e-4)
    assert p.q[-2] == pytest.approx(0.0372, abs=1e-4)
    assert max(p.Q[:-1]) < 1e-10 and max(p.q[1:-2]) < 1e-10
    assert p.thickness == (0, 1)


def test_onsets_from_landau_analysis():
    # Landau analysis of the cavity closure (reference/yoshino_bahri.md A.4, derived there and
    # re-derived in derivations/yoshino.md): the output layer next to a liquid interior freezes at
    # alpha = pi^2/4; a net with one hidden layer at u + u^2 = 1, u = 4 alpha/pi^2
    r = ysolve.phase(rs.models.yoshino(depth=3), [2.0, 3.0])
    assert r["alpha_transition"][:2] == [None, None]
    assert r["alpha_transition"][2] == pytest.approx(math.pi**2 / 4, rel=2e-6)
    r2 = ysolve.phase(rs.models.yoshino(depth=2), [1.4, 1.6])
    assert r2["alpha_transition"][1] == pytest.approx((math.sqrt(5) - 1) * math.pi**2 / 8, rel=2e-6)


def test_continuation_leaves_an_unstable_liquid_branch():
    # a liquid profile (overlaps exactly 0) is a fixed point at every load; continued past the output
    # layer's onset (pi^2/4) it must not be returned: the solver seeds it and accepts only attractors.
    # Oracle: the boundary table of reference/yoshino_bahri.md A.4, Q(alpha = 3) = 0.0627
    m = rs.models.yoshino(depth=3)
    solved = m.solve(alpha=2.0)
    assert max(solved.Q) < 1e-10
    liquid = dataclasses.replace(solved, Q=[0.0] * 3, q=[1.0, 0.0, 0.0, 1.0], qhat=[0.0, 0.0])
    p = ysolve.profile(m, 3.0, start=liquid)
    assert p.Q[-1] == pytest.approx(0.0627, abs=1e-4)
    assert p.thickness == (0, 1) and p.notes == []


def test_gaussian_gap_closure_is_symmetric():
    # closure V1 treats both boundaries alike (l <-> L + 1 - l): both boundary layers freeze at
    # pi^2/4 (its Landau analysis, reference/yoshino_bahri.md A.4), the centre stays liquid
    m = rs.models.yoshino(depth=4, closure="gaussian-gap")
    r = ysolve.phase(m, [2.0, 3.0])
    a = r["alpha_transition"]
    assert a[0] == pytest.approx(math.pi**2 / 4, rel=2e-6)
    assert a[3] == pytest.approx(math.pi**2 / 4, rel=2e-6)
    assert a[1] is None and a[2] is None
    p = m.solve(alpha=3.0)
    assert p.Q[0] == pytest.approx(p.Q[-1], abs=1e-9)


def test_quadrature_grid_is_converged():
    # the trapezoidal grid (NODES) against one twice as fine at a frozen hidden layer
    num = ysolve._Numerics("cavity", False)
    args = (np.array([0.9, 0.5]), np.array([0.6, 0.3]), np.array([20.0, 2.0]), np.array([0.5, 0.2]),
            np.zeros(2))
    coarse = np.array(num.hid(*args))
    fine = ysolve.Nested.__new__(ysolve.Nested)
    fine.__dict__.update(num.hid.__dict__)
    fine.z, fine.w = ysolve._nodes(2 * ysolve.NODES - 1, ysolve.HALF_WIDTH + 2)
    assert np.max(np.abs(coarse - np.array(fine(*args)))) < 1e-10


def test_engine_derivation_records_the_steps():
    d = rs.derive(rs.models.yoshino(depth=3), "rs")
    rules = d.steps.rules()
    for rule in ("dense limit", "hidden neurons (cavity)", "replica limit", "assembly", "saddle-point equations"):
        assert rule in rules
    assert len(d.order_parameters) == 3 + 2 + 2
    assert "qhat_1" in {str(s) for s in d.free_entropy.free_symbols}


def test_bad_input_and_non_convergence(monkeypatch):
    with pytest.raises(ParameterError):
        rs.models.yoshino(depth=0)
    with pytest.raises(ParameterError):
        rs.models.yoshino(depth=2, closure="nonsense")
    with pytest.raises(ParameterError):
        rs.models.yoshino(depth=2, scenario="teacher", kappa=0.5)
    with pytest.raises(ParameterError):
        rs.models.yoshino(depth=2).solve()            # no load
    monkeypatch.setattr(ysolve, "MAX_SWEEPS", 1)
    monkeypatch.setattr(ysolve, "NEWTON_STEPS", 0)
    with pytest.raises(ConvergenceError) as exc:
        rs.models.yoshino(depth=2, alpha=2.0).solve()
    assert exc.value.residual is not None and exc.value.residual > 0


def test_cli_solve_json(capsys):
    from replicasym.cli import main
    assert main(["solve", "yoshino", "--param", "depth=2", "--alpha", "2", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["model"] == "yoshino" and obj["converged"] is True
    assert len(obj["profile"]["Q"]) == 2 and len(obj["profile"]["q"]) == 3
    assert obj["thickness"] == {"input": 2, "output": 2}


@pytest.mark.slow
def test_frozen_thickness_grows_with_log_alpha():
    """The seed abstract (Yoshino 2020) says the solid region thickens logarithmically with the data,
    i.e. the k-th layer from the boundary freezes at alpha_k growing exponentially in k.  What the RS
    cavity closure gives (derivations/yoshino.md, depth 10): successive onset ratios alpha_k/alpha_{k-1}
    that decrease (8.5, 3.9, 3.2, 2.9, 2.8), so the thickness grows at least as fast as log(alpha)
    over the computed range (about one layer per e-fold of alpha at the largest loads); this test
    checks that claim at depth 8, not an exact log law, which the data cannot separate from a slow
    power law.  Oracles: the front does not depend on the depth while it is far from the input, so
    its first onsets equal the depth-10 ones of the study (computed independently of this grid) and
    alpha_2 = 21.01 of reference/yoshino_bahri.md A.4."""
    m = rs.models.yoshino(depth=8)
    r = ysolve.phase(m, np.geomspace(2.0, 400.0, 12))
    onsets = [a for a in r["alpha_transition"] if a is not None]
    assert len(onsets) == 4 and r["alpha_transition"][:4] == [None] * 4
    front = onsets[::-1]                                   # k = 1 (output layer), 2, ...
    assert front[0] == pytest.approx(math.pi**2 / 4, rel=2e-6)
    assert front[1] == pytest.approx(21.01, abs=0.01)
    assert front[2] == pytest.approx(81.9573, rel=1e-4) and front[3] == pytest.approx(258.361, rel=1e-4)
    ratios = [b / a for a, b in itertools.pairwise(front)]
    assert all(x > 1 for x in ratios) and ratios == sorted(ratios, reverse=True)
    th = r["scan"]["thickness_output"]
    assert th == sorted(th) and th[-1] == 4 and set(r["scan"]["thickness_input"]) == {0}
