"""Estimators: batch means and jackknife against direct formulas, z-scores, verdicts."""

from __future__ import annotations

import numpy as np

from simulator.observables import log_negativity
from simulator.sde.estimators import (
    batch_means_stderr,
    jackknife,
    jackknife_observables,
    pooled_covariance,
    verdict,
    z_scores,
)


def _units(rng, n_units=20, per_unit=500, d=6):
    L = rng.normal(size=(d, d)) * 0.3 + np.eye(d)
    s1, s2, c = [], [], []
    for _ in range(n_units):
        x = rng.normal(size=(per_unit, d)) @ L.T
        s1.append(x.sum(0))
        s2.append(x.T @ x)
        c.append(per_unit)
    return np.array(s1), np.array(s2), np.array(c), L @ L.T


def test_pooled_covariance_equals_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3))
    m, V = pooled_covariance(x.sum(0)[None], (x.T @ x)[None], np.array([1000]))
    np.testing.assert_allclose(V, np.cov(x.T, bias=True), rtol=1e-12)
    np.testing.assert_allclose(m, x.mean(0), rtol=1e-12)


def test_batch_means_matches_direct_formula_and_truth():
    rng = np.random.default_rng(1)
    s1, s2, c, _ = _units(rng)
    se_m, se_V = batch_means_stderr(s1, s2, c)
    means = s1 / c[:, None]
    np.testing.assert_allclose(se_m, means.std(axis=0, ddof=1) / np.sqrt(len(c)), rtol=1e-12)
    # for iid Gaussian samples the error of V_00 is about sqrt(2/N) V_00
    N = c.sum()
    _, V = pooled_covariance(s1, s2, c)
    assert 0.6 < se_V[0, 0] / (np.sqrt(2.0 / N) * V[0, 0]) < 1.5


def test_jackknife_of_linear_statistic_equals_batch_means():
    rng = np.random.default_rng(2)
    s1, s2, c, _ = _units(rng)
    val, se = jackknife(s1, s2, c, lambda V: V[..., 0, 1][..., None] + 0.0)
    _, se_V = batch_means_stderr(s1, s2, c)
    # with equal units the jackknife of an (almost) linear statistic reproduces batch means
    np.testing.assert_allclose(se[0], se_V[0, 1], rtol=0.05)


def test_jackknife_observables_cover_truth():
    rng = np.random.default_rng(3)
    s1, s2, c, V_true = _units(rng, n_units=40, per_unit=2000)
    out = jackknife_observables(s1, s2, c)
    en_true = log_negativity(V_true)
    for k, v in out["log_negativity"].items():
        se = out["log_negativity_stderr"][k]
        assert abs(v - float(en_true[k])) <= 5 * se + 1e-12, (k, v, se)
    assert set(out["steering"]) == set(out["steering_stderr"])


def test_single_unit_has_no_error_bar():
    rng = np.random.default_rng(4)
    s1, s2, c, _ = _units(rng, n_units=1)
    se_m, se_V = batch_means_stderr(s1, s2, c)
    assert np.all(np.isnan(se_V)) and np.all(np.isnan(se_m))
    assert np.all(np.isnan(z_scores(1.0, se_V[0, 0], 0.0)))
    assert verdict(float("nan"), 1).startswith("undetermined")


def test_z_scores_and_verdict():
    z = z_scores(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.0, 0.0]), np.array([0.5, 2.0, 1.0]))
    np.testing.assert_allclose(z, [5.0, 0.0, np.inf])
    assert verdict(4.9, 10) == "agree"
    assert verdict(5.1, 10) == "disagree"
    assert "uncertain" in verdict(1.0, 3)
