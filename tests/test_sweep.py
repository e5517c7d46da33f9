"""Vectorised sweeps equal the per-point engine (and SciPy's solver) to 1e-10."""

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

from simulator import Rates, diffusion_matrix, drift_matrix, lyapunov, sweep


def test_sweep_matches_pointwise_lyapunov_and_scipy(paper, rng):
    g = paper.Gamma
    det = np.linspace(-3.5, 1.0, 12)[:, None] * g
    beta = np.linspace(0.0, np.pi / 2, 9)[None, :]
    res = sweep(paper, detuning=det, beta=beta, eigenvalues=True)
    assert res.stable.shape == (12, 9)
    assert 0 < res.stable.mean() < 1
    assert np.array_equal(res.stable, res.max_real_eigenvalue < 0)
    for i, j in [(i, j) for i in range(12) for j in range(9)][::5]:
        p = paper.replace(detuning=float(det[i, 0]), beta=float(beta[0, j]))
        one = lyapunov(p)
        assert one.stable == res.stable[i, j]
        assert res.transmission[i, j] == pytest.approx(one.to_dict()["transmission"], rel=1e-12)
        assert res.coupling_r[i, j] == pytest.approx(one.to_dict()["coupling"]["r"], rel=1e-12)
        if one.stable:
            V = res.covariance[i, j]
            ref = solve_continuous_lyapunov(one.A, -one.D)
            assert np.max(np.abs(V - ref)) < 1e-10 * max(1.0, np.max(np.abs(ref)))
            for k in ("r_m", "l_m", "r_l"):
                assert res.log_negativity[k][i, j] == pytest.approx(one.log_negativity[k], abs=1e-10)
        else:
            assert np.isnan(res.log_negativity["r_m"][i, j])
            assert np.all(np.isnan(res.covariance[i, j]))


def test_sweep_eps_eta_together_and_power(paper):
    e = np.linspace(0.2, 3.0, 5)[:, None] * paper.Gamma
    res = sweep(paper, eps=e, eta=e, beta=np.array([np.pi / 8, 0.3]),
                detuning=0.85 * paper.Gamma - 2 * e)
    # at the immune angle eta = eps cancels backscattering whatever eps: E_N is the ideal one
    assert np.allclose(res.log_negativity["r_m"][:, 0], 0.15970, atol=1e-4)
    off = res.log_negativity["r_m"][:, 1]
    assert np.all(res.stable[:, 0])
    assert np.all(off[res.stable[:, 1]] < 0.1597) and res.stable[:, 1].sum() >= 2
    res = sweep(paper, power=np.geomspace(1e-4, 0.03, 6))
    assert np.all(np.diff(res.photon_number_r) > 0)


def test_sweep_residuals_small(paper):
    res = sweep(paper, detuning=np.linspace(-2, 0, 50) * paper.Gamma, beta=0.3)
    assert np.nanmax(res.residual) < 1e-9


def test_solver_alone_matches_scipy_on_grid(paper):
    r = Rates.from_params(paper, detuning=np.linspace(-1.5, 0.5, 40) * paper.Gamma, beta=0.35)
    A, D = drift_matrix(r), diffusion_matrix(r)
    from simulator import solve_lyapunov

    V = solve_lyapunov(A, D)
    for k in range(0, 40, 7):
        ref = solve_continuous_lyapunov(A[k], -D[k])
        assert np.max(np.abs(V[k] - ref)) < 1e-10 * max(1.0, np.abs(ref).max())
