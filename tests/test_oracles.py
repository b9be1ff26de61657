"""Numbers against the literature and against independent mpmath computations (each cited)."""
import mpmath
import pytest

import replicasym as rs


def _normal_quad(f):
    return mpmath.quad(lambda t: f(t) * mpmath.exp(-t**2 / 2) / mpmath.sqrt(2 * mpmath.pi),
                       [-mpmath.inf, 0, mpmath.inf])


def test_sk_critical_temperature():
    """SK: T_c = 1 (Sherrington & Kirkpatrick 1975), where the paramagnet's replicon vanishes."""
    ph = rs.phase(rs.models.sk())
    assert abs(ph["T_c"] - 1) < 1e-12
    assert abs(ph["T_AT"] - 1) < 1e-12
    assert ph["T_d"] is None and ph["T_s"] is None


def test_sk_rs_overlap_at_half_temperature_40_digits():
    """SK RS q at T = 0.5 from the engine's mpmath solver vs an independent hand-written mpmath
    solution of q = E tanh^2(beta sqrt(q) z) (same equation, no engine code) to 40 digits."""
    s = rs.solve(rs.models.sk(), T=0.5, ansatz="rs", precision=50)
    with mpmath.workdps(50):
        q_ref = mpmath.findroot(
            lambda x: x - _normal_quad(lambda t: mpmath.tanh(2 * mpmath.sqrt(x) * t)**2), mpmath.mpf("0.53"))
        assert abs(s.order_parameters["q"] - q_ref) < mpmath.mpf(10)**-40
        # e = -beta/2 (1 - q^2) at the RS saddle (MPV eq. II.43)
        assert abs(s.energy + (1 - q_ref**2)) < mpmath.mpf(10)**-40
    assert s.converged and s.replicon < 0  # below T_c, RS is AT-unstable


def test_sk_rs_ground_state():
    """SK RS ground-state energy -sqrt(2/pi) (Sherrington & Kirkpatrick 1975)."""
    s = rs.solve(rs.models.sk(), T=0, ansatz="rs")
    assert abs(s.energy + (2 / mpmath.pi) ** 0.5) < 1e-12


@pytest.mark.parametrize("h", [0.3, 0.6])
def test_sk_at_line_in_a_field(h):
    """de Almeida-Thouless line: beta^2 E sech^4(beta(sqrt(q) z + h)) = 1 with the RS q, solved
    independently here with mpmath in (q, beta)."""
    ph = rs.phase(rs.models.sk(h=h))
    with mpmath.workdps(20):
        def F(q, b):
            u = lambda t: b * (mpmath.sqrt(q) * t + h)  # noqa: E731
            return [q - _normal_quad(lambda t: mpmath.tanh(u(t))**2),
                    b**2 * _normal_quad(lambda t: mpmath.sech(u(t))**4) - 1]
        q, b = mpmath.findroot(F, (mpmath.mpf("0.5"), 1 / mpmath.mpf(ph["T_AT"])))
    assert abs(ph["T_AT"] - 1 / b) < 1e-6


def test_spherical_p2_rs_ground_state():
    """Spherical p = 2 (spherical SK): RS is exact, E_gs = -sqrt(xi'(1)) = -1 (Kosterlitz,
    Thouless & Jones, PRL 36 (1976) 1217); RS replicon >= 0."""
    s = rs.solve(rs.models.spherical(p=2), T=0, ansatz="rs")
    assert abs(s.energy + 1) < 1e-12
    ph = rs.phase(rs.models.spherical(p=2))
    assert ph["zero_temperature_phase"] == "rs" and abs(ph["E_gs"] + 1) < 1e-12
    assert abs(ph["T_c"] - 1) < 1e-12


def test_spherical_p3_dynamical_and_threshold():
    """p = 3: T_d = sqrt(3/8), E_th = -2/sqrt(3) (Crisanti & Sommers 1992; Cugliandolo & Kurchan
    1993; reference/yoshino_bahri.md B.3)."""
    ph = rs.phase(rs.models.spherical(p=3), precision=25)
    with mpmath.workdps(30):
        assert abs(mpmath.mpf(ph["T_d"]) - mpmath.sqrt(mpmath.mpf(3) / 8)) < mpmath.mpf(10)**-20
        assert abs(mpmath.mpf(ph["E_th"]) + 2 / mpmath.sqrt(3)) < mpmath.mpf(10)**-20
    assert ph["zero_temperature_phase"] == "1rsb"
    assert mpmath.mpf(ph["T_s"]) < mpmath.mpf(ph["T_d"])


def test_spherical_p4_table():
    """p = 4: T_d, T_s, E_gs from reference/yoshino_bahri.md B.3 (computed there with mpmath;
    E_gs cross-checked by the zero of the ABC complexity)."""
    ph = rs.phase(rs.models.spherical(p=4))
    assert abs(ph["T_d"] - 0.5443310540) < 1e-9
    assert abs(ph["T_s"] - 0.5030393516) < 1e-9
    assert abs(ph["E_gs"] + 1.268609689) < 1e-9
    assert abs(ph["E_th"] + 1.224744871) < 1e-9
    assert ph["E_gs_ansatz"] == "1rsb"


def test_spherical_1rsb_ground_state_matches_reference_extremum():
    """T = 0 1RSB: E_gs = -extr_{chi,y}[(p chi + y)/4 + ln(1 + y/chi)/(2y)] (reference B.3),
    solved here independently with mpmath.findroot at p = 4: (chi, y) = (0.31263, 1.28669)."""
    s = rs.solve(rs.models.spherical(p=4), T=0, ansatz="1rsb", precision=30)
    with mpmath.workdps(30):
        g = lambda c, y: (4 * c + y) / 4 + mpmath.log(1 + y / c) / (2 * y)  # noqa: E731
        c, y = mpmath.findroot(lambda c, y: [mpmath.diff(lambda a: g(a, y), c),
                                             mpmath.diff(lambda b: g(c, b), y)], (0.31, 1.29))
        assert abs(s.energy + g(c, y)) < mpmath.mpf(10)**-25
        assert abs(s.order_parameters["chi"] - c) < 1e-20 and abs(s.order_parameters["y"] - y) < 1e-20
