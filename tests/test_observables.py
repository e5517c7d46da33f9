"""Observables on states with known answers, and their invariances."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.observables import (
    log_negativity,
    log_negativity_block,
    occupation,
    purity,
    steering,
    steering_block,
    summary,
    symplectic_eigenvalues,
    uncertainty_violation,
)

Z = np.diag([1.0, -1.0])


def tmsv(r):
    """Two-mode squeezed vacuum, vacuum-1/2 convention."""
    c, s = np.cosh(2 * r), np.sinh(2 * r)
    return 0.5 * np.block([[c * np.eye(2), s * Z], [s * Z, c * np.eye(2)]])


def local_symplectic(rng):
    """Random single-mode symplectic (det = 1): rotation . squeeze . rotation."""
    def rot(t):
        return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    s = np.exp(rng.uniform(-1, 1))
    return rot(rng.uniform(0, 6.3)) @ np.diag([s, 1 / s]) @ rot(rng.uniform(0, 6.3))


@pytest.mark.parametrize("r", [0.05, 0.3, 1.0])
def test_two_mode_squeezed_vacuum(r):
    W = tmsv(r)
    assert log_negativity_block(W) == pytest.approx(2 * r, rel=1e-10)
    g_ab, g_ba = steering_block(W)
    assert g_ab == pytest.approx(np.log(np.cosh(2 * r)), rel=1e-10)
    assert g_ba == pytest.approx(g_ab)
    assert purity(W) == pytest.approx(1.0)
    assert symplectic_eigenvalues(W) == pytest.approx([0.5, 0.5])


def test_lossy_arm_gives_one_way_steering():
    W = tmsv(0.6)
    tau = 0.3  # B through a beam splitter of transmissivity 0.3 with vacuum
    L = np.diag([1, 1, np.sqrt(tau), np.sqrt(tau)])
    W = L @ W @ L + np.diag([0, 0, 0.5 * (1 - tau), 0.5 * (1 - tau)])
    g_ab, g_ba = steering_block(W)
    assert g_ab > 0.05 and g_ba == 0.0  # A steers B, the lossy B cannot steer A
    assert log_negativity_block(W) > 0


def test_thermal_product_state():
    n = np.array([0.0, 2.0, 7.5])
    V = np.diag(np.repeat(n + 0.5, 2))
    # the vacuum pair is a degenerate point of nu_-: rounding of 1e-16 appears as ~1e-8
    assert all(v == pytest.approx(0.0, abs=1e-7) for v in log_negativity(V).values())
    assert all(v == pytest.approx(0.0, abs=1e-7) for v in steering(V).values())
    assert purity(V) == pytest.approx(np.prod(1 / (2 * n + 1)))
    occ = occupation(V)
    assert [occ[k] for k in ("r", "l", "m")] == pytest.approx(n)
    assert uncertainty_violation(V) == pytest.approx(0.0, abs=1e-12)  # vacuum saturates


def test_unphysical_matrix_detected():
    assert uncertainty_violation(0.3 * np.eye(6)) < 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.5), st.floats(0.0, 3.0))
def test_invariant_under_local_symplectic_maps(seed, r, n_noise):
    rng = np.random.default_rng(seed)
    W = tmsv(r) + 0.5 * n_noise * np.eye(4)  # add thermal noise
    S = np.zeros((4, 4))
    S[:2, :2], S[2:, 2:] = local_symplectic(rng), local_symplectic(rng)
    W2 = S @ W @ S.T
    # abs 1e-7: at r = 0 the two symplectic eigenvalues coincide and rounding enters as sqrt(eps)
    assert log_negativity_block(W2) == pytest.approx(log_negativity_block(W), abs=1e-7)
    for a, b in zip(steering_block(W2), steering_block(W)):
        assert a == pytest.approx(b, abs=1e-7)
    assert log_negativity_block(W) >= 0


def test_pair_extraction_order():
    """E_N of the (r, m) pair must use modes r and m, not r and l."""
    V = np.eye(6) / 2
    W = tmsv(0.4)
    idx = [0, 1, 4, 5]
    V[np.ix_(idx, idx)] = W
    en = log_negativity(V)
    assert en["r_m"] == pytest.approx(0.8)
    assert en["r_l"] == pytest.approx(0, abs=1e-7) and en["l_m"] == pytest.approx(0, abs=1e-7)
    s = summary(V)
    assert s["steering"]["r->m"] > 0.2 and s["steering"]["r->l"] == pytest.approx(0, abs=1e-7)
    with pytest.raises(ValueError, match="6, 6"):
        summary(np.eye(4))
