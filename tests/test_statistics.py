"""Scoring (simulator.statistics): z-scores, the verdict and its one threshold, clipped-value text,
pooling of independent runs."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.compare import Z_AGREE as COMPARE_Z
from simulator.sde.engine import PHYSICALITY_SIGMAS
from simulator.statistics import (
    Z_AGREE,
    agrees,
    format_clipped,
    format_log_negativity,
    pool_seeds,
    verdict,
    z_scores,
)


def test_one_threshold_for_every_verdict():
    assert Z_AGREE == 5.0 and COMPARE_Z is Z_AGREE and PHYSICALITY_SIGMAS is Z_AGREE
    assert agrees(4.99) and not agrees(5.0) and not agrees(float("nan"))


def test_z_scores_and_verdict():
    z = z_scores(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.0, 0.0]), np.array([0.5, 2.0, 1.0]))
    np.testing.assert_allclose(z, [5.0, 0.0, np.inf])
    assert verdict(4.9, 10) == "agree"
    assert verdict(5.1, 10) == "disagree"
    assert "uncertain" in verdict(1.0, 3)


def test_format_clipped_never_shows_zero_plus_minus_zero():
    assert format_clipped(0.1555, 0.0005) == "0.1555 +- 0.0005"
    assert format_clipped(0.1597, 1.3e-11) == "0.1597 +- 1.3e-11"  # a controlled estimate's
    assert format_clipped(0.0, float("nan"), 0.001, 0.001, True) == "< 0.003 (below resolution)"
    text = format_clipped(0.0, 0.0, -0.02, 0.004, True)
    assert text.startswith("0 (below resolution; unclipped -0.02 +- 0.004")
    obs = {"log_negativity": {"r_m": 0.1, "l_m": 0.0}, "log_negativity_stderr": {"r_m": 0.01,
                                                                                  "l_m": 0.0}}
    assert format_log_negativity(obs) == ("r_m 0.1000 +- 0.0100, "
                                          "l_m 0.0000 (below resolution, no error bar)")


def test_pool_seeds_formulas_and_honest_scatter():
    v = np.array([1.0, 2.0, 4.0])
    se = np.array([0.5, 1.0, 2.0])
    out = pool_seeds(v, se)
    assert out["mean"] == pytest.approx(7 / 3)
    assert out["seed_std"] == pytest.approx(np.std(v, ddof=1))
    assert out["pooled_stderr"] == pytest.approx(np.sqrt(5.25) / 3)
    assert out["scatter_stderr"] == pytest.approx(np.std(v, ddof=1) / np.sqrt(3))
    assert out["scatter_ratio"] == pytest.approx(np.std(v, ddof=1) / np.sqrt(5.25 / 3))
    # honest errors: scatter / stderr ~ 1 within 5 / sqrt(2 (n - 1)); understated: ~ 2
    rng = np.random.default_rng(11)
    n = 400
    honest = pool_seeds(rng.normal(0.0, 1.0, size=(n, 3)), np.ones((n, 3)))
    assert np.all(np.abs(honest["scatter_ratio"] - 1) < 5 / np.sqrt(2 * (n - 1)))
    low = pool_seeds(rng.normal(0.0, 1.0, size=n), np.full(n, 0.5))
    assert abs(low["scatter_ratio"] - 2) < 10 / np.sqrt(2 * (n - 1))
    with pytest.raises(ValueError, match="n_seeds = 1"):
        pool_seeds([1.0], [0.1])
    with pytest.raises(ValueError, match="shape"):
        pool_seeds([1.0, 2.0], [0.1])
