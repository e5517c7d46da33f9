"""Comparison rows and verdicts: statistical and truncation-error scoring."""

import numpy as np
import pytest

from simulator.compare import Z_AGREE, Estimate, compare


def make(V, err, kind="stderr", scalars=None, errs=None):
    return Estimate("x", V, err, scalars or {}, errs or {}, kind)


def test_agreement_and_deviation_are_scored():
    ref = np.eye(6) / 2
    V = ref.copy()
    V[0, 0] += 0.01
    comp = compare(ref, {"E_N[r_m]": 0.1}, make(V, np.full((6, 6), 0.005), scalars={"E_N[r_m]": 0.13},
                                                  errs={"E_N[r_m]": 0.01}))
    rows = {r.quantity: r for r in comp.rows}
    assert len(comp.rows) == 22
    assert rows["V[X_r,X_r]"].score == pytest.approx(2.0) and rows["V[X_r,X_r]"].agrees
    assert rows["E_N[r_m]"].score == pytest.approx(3.0)
    assert comp.agrees and "agrees" in comp.verdict
    V[1, 2] = V[2, 1] = 0.5  # 100 sigma off
    comp = compare(ref, {}, make(V, np.full((6, 6), 0.005)))
    assert not comp.agrees
    assert "V[Y_r,X_l]" in comp.verdict and "100.0 sigma" in comp.verdict
    assert comp.max_abs_score == pytest.approx(100.0)
    assert Z_AGREE == 5.0


def test_zero_error_exact_agreement_and_mismatch():
    ref = np.zeros((6, 6))
    comp = compare(ref, {}, make(ref, np.zeros((6, 6))))
    assert comp.agrees
    V = ref.copy()
    V[5, 5] = 1e-3
    comp = compare(ref, {}, make(V, np.zeros((6, 6))))
    assert not comp.agrees and np.isinf(comp.max_abs_score)


def test_truncation_scoring():
    ref = np.eye(6) / 2
    V = ref + 1e-4
    comp = compare(ref, {}, make(V, np.full((6, 6), 2e-4), kind="truncation"))
    assert comp.agrees and "truncation" in comp.rows[0].verdict
    comp = compare(ref, {}, make(V, np.full((6, 6), 1e-5), kind="truncation"))
    assert not comp.agrees and "differs by" in comp.rows[0].verdict


def test_zero_error_with_rounding_level_difference_agrees():
    """An E_N clipped to 0 (zero error) against a reference of 2e-16 is agreement, not inf."""
    from simulator.sde.estimators import z_scores

    assert z_scores(0.0, 0.0, 2.2e-16) == 0.0
    assert np.isinf(z_scores(0.0, 0.0, 1e-6))
    ref = np.eye(6) / 2
    comp = compare(ref, {"E_N[l_m]": 2.2e-16},
                   make(ref, np.full((6, 6), 1e-3), scalars={"E_N[l_m]": 0.0}, errs={"E_N[l_m]": 0.0}))
    assert comp.agrees
