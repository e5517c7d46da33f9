"""The stationarity test of a stationary SDE run (simulator/sde/stationarity.py): a burn-in too
short for the initial state to relax is flagged ``not_stationary``, never reported ``ok``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator import Params
from simulator.cli import main
from simulator.errors import StabilityWarning
from simulator.sde import SDEOptions, simulate_sde
from simulator.sde.stationarity import FALSE_ALARM, relaxation_bias, window_drift
from simulator.sde.system import LangevinSystem

P = Params.paper()
# 8 chunks x 1 batch of 150 (10 correlation times): status ok with the default burn-in
OK = SDEOptions(n_traj=64, chunk_size=8, t_avg=150.0)


def test_relaxation_bias_of_an_ou_process_is_exact():
    # dx = -g x dt + dW, <dW^2> = D dt: V(t) - V_inf = (V0 - V_inf) exp(-2 g t); with a mean m0
    # the second moment relaxes as (V0 + m0^2 - V_inf) exp(-2 g t), the mean as m0 exp(-g t)
    g, D, V0, m0, t1, T = 0.5, 2.0, 5.0, 0.7, 1.5, 4.0
    system = LangevinSystem(A=[[-g]], D=[[D]])
    opts = SDEOptions(initial="gaussian", initial_covariance=((V0,),), initial_mean=(m0,))
    X = V0 + m0**2 - D / (2 * g)
    second = X * (np.exp(-2 * g * t1) - np.exp(-2 * g * (t1 + T))) / (2 * g * T)
    mbar = m0 * (np.exp(-g * t1) - np.exp(-g * (t1 + T))) / (g * T)
    bias = relaxation_bias(system, opts, t1, T)
    assert bias.shape == (1, 1)
    assert bias[0, 0] == pytest.approx(second - mbar**2, rel=1e-10)
    assert relaxation_bias(system, SDEOptions(initial="lyapunov"), t1, T)[0, 0] == \
        pytest.approx(0.0, abs=1e-14)


def test_unstable_system_has_no_relaxation_bias():
    system = LangevinSystem(A=[[0.3]], D=[[1.0]])
    opts = SDEOptions(initial="gaussian", initial_covariance=((1.0,),))
    assert relaxation_bias(system, opts, 0.0, 1.0) is None


def _units(rng, n_chunks, n_batches, shift=0.0, n=400):
    """Per-unit sums of n N(0, 1) samples, the first batch of each chunk with variance
    1 + shift."""
    s1 = np.zeros((n_chunks * n_batches, 1))
    s2 = np.zeros((n_chunks * n_batches, 1, 1))
    for u in range(n_chunks * n_batches):
        x = rng.standard_normal(n) * np.sqrt(1.0 + (shift if u % n_batches == 0 else 0.0))
        s1[u, 0], s2[u, 0, 0] = x.sum(), (x * x).sum()
    return s1, s2, np.full(n_chunks * n_batches, n)


def test_window_drift_flags_a_shifted_start_only():
    rng = np.random.default_rng(12)
    flat = window_drift(*_units(rng, 16, 5), 16, 5)
    assert flat["max_abs_z"] < flat["threshold"]
    # the variance of a batch of 400 N(0, 1) samples scatters by sqrt(2/400) = 0.07 per unit,
    # 0.018 over 16 units: a shift of 0.3 is 10 standard errors of the difference
    drift = window_drift(*_units(rng, 16, 5, shift=0.3), 16, 5)
    assert drift["max_abs_z"] > drift["threshold"] and drift["difference"] > 0
    assert drift["batches"] == (1, 2) and drift["units"] == (16, 32)


def test_window_drift_false_alarms_are_rare():
    # 200 stationary runs: with a family-wise false-alarm probability of 1e-3 none should be
    # flagged (P(any) = 0.18; with the seed fixed the outcome is fixed)
    rng = np.random.default_rng(5)
    tests = [window_drift(*_units(rng, 8, 4, n=50), 8, 4) for _ in range(200)]
    assert FALSE_ALARM == 1e-3 and sum(t["max_abs_z"] > t["threshold"] for t in tests) == 0


def test_window_drift_needs_two_batches_and_enough_units():
    rng = np.random.default_rng(0)
    assert window_drift(*_units(rng, 16, 1), 16, 1) is None
    assert window_drift(*_units(rng, 2, 5), 2, 5) is None  # 2 units in the first part


@pytest.mark.parametrize("t_burn", [0.0, 5.0])
def test_short_burn_in_is_not_stationary(t_burn):
    with pytest.warns(StabilityWarning, match="has not relaxed by t_burn") as rec:
        res = simulate_sde(P, OK.replace(t_burn=t_burn), seed=1)
    assert res.status == "not_stationary" and "not_stationary" in res.flags
    assert "raise t_burn to at least 118" in res.message
    assert sum(issubclass(w.category, StabilityWarning) for w in rec) == 1


def test_default_burn_in_is_stationary():
    res = simulate_sde(P, OK, seed=1)
    assert res.status == "ok", res.message


def test_cli_reports_not_stationary(capsys):
    rc = main(["sde", "--n-traj", "64", "--chunk-size", "8", "--t-avg", "150", "--t-burn", "0",
               "--seed", "1", "--json", "--quiet"])
    out = capsys.readouterr()
    assert rc == 0
    data = json.loads(out.out)
    assert data["status"] == "not_stationary" and "t_burn" in data["message"]
    assert "has not relaxed" in out.err and "Traceback" not in out.err
