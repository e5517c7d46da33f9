"""The measured work estimate of an SDE run (simulator/sde/workrate.py)."""

from __future__ import annotations

import warnings

from simulator import Params
from simulator.sde import SDEOptions, build_system, simulate_sde
from simulator.sde.workrate import format_seconds, measure_rate, work_estimate


def test_pilot_rate_predicts_the_run():
    """The pilot's rate against the rate of the run itself (same machine, same load): measured
    1.2-1.3x (the pilot leaves out sampling and reduction) under load average 7, 1.13x with
    t_avg = 100 (half the run: 0.8 s of CPU in all) at load 2; run / pilot 0.85-0.93 with two
    chunks, 0.89-0.91 with four (three runs each, load 1). A band of 4x either way catches a
    pilot dominated by set-up (it was 9-1100x off when it timed 64 steps)."""
    p = Params.paper()
    # 2 x 2200 steps of 128: the pilot times chunks of the run's chunk size, so the rate per
    # trajectory-step does not depend on how many chunks the run has (four: 0.09 s more)
    opts = SDEOptions(n_traj=256, chunk_size=128, t_avg=100.0)
    rate = measure_rate(build_system(p, opts), opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = simulate_sde(p, opts, seed=1)
    actual = res.timing["trajectory_steps_per_second"]
    assert actual / 4 < rate < 4 * actual, (rate, actual)


def test_work_estimate_counts_trajectory_steps_and_workers(monkeypatch):
    # the counting, not the rate: the pilot stops at 0.02 s (still lengthened 4x at a time)
    # instead of PILOT_SECONDS = 0.2 s (0.3-1 s in all); the rate is the test above's
    import simulator.sde.workrate as workrate

    monkeypatch.setattr(workrate, "PILOT_SECONDS", 0.02)
    p = Params.paper()
    opts = SDEOptions(n_traj=100, chunk_size=50, dt=1e-9)
    est = work_estimate(build_system(p, opts), opts, 1e11, workers=2)
    assert est["trajectory_steps"] == 1e13
    assert est["seconds"] == est["trajectory_steps"] / (2 * est["rate"])


def test_format_seconds():
    assert format_seconds(12.0) == "12 s"
    assert format_seconds(600.0) == "10 min"
    assert format_seconds(1.2e7) == "139 days"
