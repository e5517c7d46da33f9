"""Model: mean field, drift matrix (vs numerical Jacobian), diffusion, transmission."""

import math

import numpy as np
import pytest

from simulator import (
    Params,
    Rates,
    diffusion_matrix,
    drift_matrix,
    lyapunov,
    mean_field,
    nonlinear_drift,
    solve_lyapunov,
    transmission,
)
from simulator.observables import log_negativity

G = Params.paper().Gamma
POINTS = {
    "immune": {},
    "defect": {"beta": 0.3},
    "ideal": {"defects": (), "eta": 0.0, "detuning": 0.85 * G},
    "lossy": {"defects": ((G - 0.1j * G, 0.0),), "eta": 0.8 * G - 0.05j * G, "beta": 0.5},
    "three_defects": {"defects": ((0.5 * G, 0.1), (0.7 * G, 1.3), (0.8 * G, 2.0)), "beta": 0.9},
    "rwa_defect": {"beta": 0.3, "damping": "rwa"},
}


def numerical_jacobian(f, x, h):
    cols = []
    for k in range(len(x)):
        dx = np.zeros_like(x)
        dx[k] = h[k]
        cols.append((f(x + dx) - f(x - dx)) / (2 * h[k]))
    return np.array(cols).T


@pytest.mark.parametrize("name", sorted(POINTS))
def test_mean_field_is_fixed_point_of_nonlinear_drift(name):
    r = Rates.from_params(Params.paper(**POINTS[name]))
    mf = mean_field(r)
    u = mf.vector()
    f = nonlinear_drift(r, u, mf.bare_detuning, wigner_correction=False)
    # relative to the size of individual terms (|Gamma X| ~ 1e4)
    assert np.max(np.abs(f)) < 1e-9 * np.max(np.abs(u))


@pytest.mark.parametrize("name", sorted(POINTS))
def test_drift_matrix_is_jacobian_of_nonlinear_drift(name):
    """A must be the Jacobian of Eq. 3 at the fixed point (fixes the sign of J+ in Eq. 9)."""
    r = Rates.from_params(Params.paper(**POINTS[name]))
    mf = mean_field(r)
    u0 = mf.vector()
    J = numerical_jacobian(
        lambda u: nonlinear_drift(r, u, mf.bare_detuning, wigner_correction=False),
        u0, h=1e-3 * np.ones(6),
    )
    A = drift_matrix(r, mf)
    assert np.allclose(J, A, atol=1e-6), np.abs(J - A).max()


def printed_eq9(r):
    """Eq. 9 exactly as printed, with J+ = eta sin(2 m beta), J- = eps + eta cos(2 m beta)."""
    mf = mean_field(r)
    gr, gl = math.sqrt(2) * r.g0 * mf.alpha_r, math.sqrt(2) * r.g0 * mf.alpha_l
    jp, jm = (1j * (r.j1 - r.j2) / 2).real, ((r.j1 + r.j2) / 2).real
    dt, gam = r.delta + r.delta_J, r.Gamma
    return np.array([
        [-gam, dt, jp, jm, -gr.imag, 0],
        [-dt, -gam, -jm, jp, gr.real, 0],
        [-jp, jm, -gam, dt, -gl.imag, 0],
        [-jm, -jp, -dt, -gam, gl.real, 0],
        [0, 0, 0, 0, 0, 1],
        [gr.real, gr.imag, gl.real, gl.imag, -1, -r.gamma_m],
    ], dtype=float)


def test_printed_eq9_has_reversed_J_plus(defect, ideal):
    r = Rates.from_params(defect)
    A, P = drift_matrix(r), printed_eq9(r)
    diff = A - P
    # only the four J+ entries differ, each by -2 J+ (sign flipped)
    jp = float((1j * (r.j1 - r.j2) / 2).real)
    assert abs(jp) > 0.1
    mask = np.zeros((6, 6), bool)
    mask[[0, 1, 2, 3], [2, 3, 0, 1]] = True
    assert np.allclose(diff[~mask], 0.0)
    assert np.allclose(diff[mask], [-2 * jp, -2 * jp, 2 * jp, 2 * jp])
    # Mixing the printed A with the printed alpha_l is unphysical: E_N(CW-mech) at beta = 0.3
    # with backscattering would exceed the defect-free ideal at the same Dt.
    V_printed = solve_lyapunov(P, diffusion_matrix(r))
    ideal_en = lyapunov(ideal.replace(detuning=float(r.delta + r.delta_J) * ideal.omega_m)
                        ).log_negativity["r_m"]
    assert log_negativity(V_printed)["r_m"] > ideal_en
    assert lyapunov(defect).log_negativity["r_m"] < ideal_en


def test_model_symmetric_under_beta_reflection(defect):
    a = lyapunov(defect)
    b = lyapunov(defect.replace(beta=-defect.beta))
    for k in ("r_m", "l_m", "r_l"):
        assert a.log_negativity[k] == pytest.approx(b.log_negativity[k], abs=1e-12)


@pytest.mark.parametrize("damping", ["brownian", "rwa"])
def test_uncoupled_mechanics_thermalises_to_n_plus_half(damping):
    p = Params.paper(power=0.0, damping=damping)
    res = lyapunov(p)
    V = res.covariance
    assert V[4, 4] == pytest.approx(p.n_m + 0.5, rel=1e-9)
    assert V[5, 5] == pytest.approx(p.n_m + 0.5, rel=1e-9)
    assert np.allclose(V[:4, :4], 0.5 * np.eye(4), atol=1e-12)  # optical vacuum
    # the printed (n_m + 1/2) gamma_m would give half of that, below vacuum at n_m = 0
    cold = lyapunov(Params.paper(power=0.0, temperature=0.0, damping=damping)).covariance
    assert cold[4, 4] == pytest.approx(0.5) and cold[5, 5] == pytest.approx(0.5)


def test_diffusion_matrices():
    r = Rates.from_params(Params.paper())
    D = diffusion_matrix(r)
    assert np.allclose(np.diag(D)[:4], r.Gamma) and D[4, 4] == 0
    assert D[5, 5] == pytest.approx(r.gamma_m * (2 * r.n_m + 1))
    Dr = diffusion_matrix(Rates.from_params(Params.paper(damping="rwa")))
    assert Dr[4, 4] == Dr[5, 5] == pytest.approx(r.gamma_m * (r.n_m + 0.5))
    assert np.count_nonzero(D - np.diag(np.diag(D))) == 0


def test_transmission_critical_coupling_and_far_detuned(ideal):
    on = Rates.from_params(ideal.replace(detuning=0.0))
    assert transmission(on) == pytest.approx(0.0, abs=1e-15)  # kappa_0 = kappa_ex
    far = Rates.from_params(ideal.replace(detuning=1e3 * ideal.Gamma))
    assert transmission(far) == pytest.approx(1.0, abs=1e-5)
    # Lorentzian dip: T = (Dt^2 + (k0 - kex)^2) / (Dt^2 + Gamma^2) with no scatterers
    r = Rates.from_params(ideal)
    dt = r.delta
    assert transmission(r) == pytest.approx(dt**2 / (dt**2 + r.Gamma**2))


def test_photon_number_and_coupling_at_paper_point(ideal):
    mf = mean_field(Rates.from_params(ideal))
    assert mf.photon_number["r"] == pytest.approx(3.58e9, rel=0.01)
    r = Rates.from_params(ideal)
    assert math.sqrt(2) * r.g0 * abs(mf.alpha_r) == pytest.approx(0.61, abs=0.005)


def test_rates_broadcast_matches_pointwise(paper):
    betas = np.linspace(0, 1, 4)
    dets = np.linspace(-2, 1, 3)[:, None] * paper.Gamma
    r = Rates.from_params(paper, beta=betas, detuning=dets)
    assert r.shape == (3, 4)
    A = drift_matrix(r)
    for i in range(3):
        for j in range(4):
            rp = Rates.from_params(paper.replace(beta=betas[j], detuning=float(dets[i, 0])))
            assert np.allclose(A[i, j], drift_matrix(rp), rtol=1e-13, atol=1e-13)


def test_sweep_grid_validation(paper):
    from simulator import ParameterError

    with pytest.raises(ParameterError, match="power"):
        Rates.from_params(paper, power=np.array([0.01, -1.0]))
    with pytest.raises(ParameterError, match="cannot sweep"):
        Rates.from_params(paper, colour=np.ones(2))
    with pytest.raises(ParameterError, match="exactly one defect"):
        Rates.from_params(paper.replace(defects=()), eps=np.ones(2))


@pytest.mark.parametrize("seed", range(3))
def test_rates_are_params_derived_quantities_over_omega_m(seed):
    """Each derived quantity is written once (simulator.params): Rates.from_params equals the
    Params property divided by omega_m exactly (on main n_m differed by an ulp at some points:
    math.expm1 there, np.expm1 here)."""
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(40):
        p = Params.paper(
            temperature=float(10 ** rng.uniform(-4, 1)), omega_m=float(10 ** rng.uniform(6, 8)),
            power=float(10 ** rng.uniform(-5, -1)), kappa_ex=float(10 ** rng.uniform(6, 7.5)),
            eta=complex(rng.normal() * 1e6, -abs(rng.normal()) * 1e5),
            defects=((complex(rng.normal() * 1e6, -1e4), float(rng.uniform(0, 3))),))
        r, om = Rates.from_params(p), p.omega_m
        assert float(r.n_m) == p.n_m
        assert float(r.g0) == p.G0 / om
        assert float(r.drive) == p.drive_amplitude / om
        assert float(r.Gamma) == p.Gamma / om
        # same formula; numpy's 0-d-array and scalar complex products may round differently
        np.testing.assert_allclose([r.j1, r.j2], np.array([p.J1, p.J2]) / om, rtol=1e-15)
        assert float(r.delta_J) == p.Delta_J / om
        checked += 1
    assert checked == 40


def test_params_n_m_is_the_engines_n_m():
    """At this point math.expm1 (Params.n_m on main) and np.expm1 (Rates.n_m) differ by an ulp;
    with one formula the two agree exactly (Params.n_m moved by that ulp)."""
    p = Params.paper(temperature=0.0007038487463432079, omega_m=47890282.31802419)
    assert float(Rates.from_params(p).n_m) == p.n_m


def test_folded_helpers(paper):
    """The helpers that replaced repeated formulas (issue 9) state the conventions."""
    from simulator.conventions import amplitude, quadratures
    from simulator.model import coupling, drift_matrix_about, initial_covariance

    a = np.array([0.3 - 1.2j, 2.0 + 0.5j])
    X, Y = quadratures(a)
    np.testing.assert_allclose(amplitude(X, Y), a, rtol=1e-15)
    np.testing.assert_allclose(X**2 + Y**2, 2.0 * np.abs(a) ** 2, rtol=1e-15)
    assert np.array_equal(initial_covariance(0.0), 0.5 * np.eye(6))
    assert np.array_equal(np.diag(initial_covariance(2.5)), [0.5] * 4 + [3.0, 3.0])
    r = Rates.from_params(paper)
    mf = mean_field(r)
    assert coupling(r, abs(mf.alpha_r)) == pytest.approx(0.61, abs=0.005)  # paper's G/omega_m
    # about the fixed point at its bare detuning: the steady-state drift matrix
    np.testing.assert_allclose(drift_matrix_about(r, mf.vector(), mf.bare_detuning),
                               drift_matrix(r, mf), rtol=0, atol=1e-12)
