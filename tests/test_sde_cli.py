"""`wgmsim sde` command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params, lyapunov
from simulator.cli import main
from simulator.sde import SDEOptions, SDEResult, simulate_sde

ARGS = ["sde", "--n-traj", "32", "--chunk-size", "8", "--dt", "0.1", "--t-burn", "30",
        "--t-avg", "60", "--batch-time", "15", "--seed", "4", "--quiet"]


@few_units_ok  # keys, shapes and bits, not statistics
def test_sde_json_output(capsys):
    assert main(ARGS + ["--json", "--set", "beta=0.3"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("covariance", "covariance_stderr", "log_negativity", "log_negativity_stderr",
                "lyapunov", "diverged", "seeds", "timing", "steering", "params", "options"):
        assert key in data, key
    assert np.shape(data["covariance"]) == (6, 6) and np.shape(data["covariance_stderr"]) == (6, 6)
    assert set(data["log_negativity"]) == {"r_m", "l_m", "r_l"}
    assert data["lyapunov"]["covariance"] == lyapunov(Params.paper(beta=0.3)).covariance.tolist()
    assert data["diverged"] == 0 and len(data["seeds"]) == 4
    # the same numbers as the Python API
    opts = SDEOptions(n_traj=32, chunk_size=8, dt=0.1, t_burn=30.0, t_avg=60.0, batch_time=15.0)
    res = simulate_sde(Params.paper(beta=0.3), opts, seed=4)
    assert data["covariance"] == res.covariance.tolist()


def test_sde_text_output_and_out_dir(capsys, tmp_path):
    assert main(ARGS + ["--out", str(tmp_path), "--error-check"]) == 0
    text = capsys.readouterr().out
    assert "E_N: r_m" in text and "vs Lyapunov" in text and "step-size check" in text
    res = SDEResult.load(tmp_path)
    assert res.options.n_traj == 32 and res.error_check is not None


def test_sde_refuses_unstable_point(capsys):
    rc = main(ARGS + ["--set", "detuning=-3Gamma"])
    err = capsys.readouterr().err
    assert rc == 2 and "unstable" in err and "eigenvalue" in err


@pytest.mark.parametrize("extra,word", [(["--dt", "-1"], "dt"), (["--n-traj", "0"], "--n-traj"),
                                        (["--set", "bogus=1"], "bogus")])
def test_sde_bad_input_names_the_field(capsys, extra, word):
    assert main(ARGS + extra) == 2
    assert word in capsys.readouterr().err


def test_sde_help_lists_methods(capsys):
    with pytest.raises(SystemExit):
        main(["sde", "--help"])
    out = capsys.readouterr().out
    assert "exponential" in out and "--n-jobs" in out and "--out" in out


@few_units_ok  # sizes, not statistics
def test_the_plan_is_the_engines_own():
    """``estimate_run`` (what ``wgmsim sde`` checks before a run) is the estimate the engine makes
    when it runs: same memory and time figures, the control-variate system's with control
    variates; ``estimate_ringup`` likewise sizes the augmented ring-up."""
    from simulator import RingupOptions, SDEOptions, simulate_sde
    from simulator.sde import estimate_ringup, estimate_run

    for cv in (False, True):
        opts = SDEOptions(n_traj=8, chunk_size=4, dt=0.1, t_burn=5.0, t_avg=20.0,
                          batch_time=10.0, control_variate=cv)
        plan = estimate_run(Params.paper(), opts)
        res = simulate_sde(Params.paper(), opts, seed=0)
        assert plan["memory_bytes"] == res.timing["estimated_memory_bytes"]
        assert plan["seconds"] == res.timing["estimated_seconds"]
        assert plan["trajectory_steps"] == res.timing["trajectory_steps"]
        assert plan["schedule"].to_dict() == {k: v for k, v in res.schedule.items()
                                              if k != "auto_dt"}
    auto = estimate_run(Params.paper(), SDEOptions(dt="auto"))  # sized at the cap, no pilot
    assert auto["schedule"].dt > 0
    ring = RingupOptions(n_traj=8, chunk_size=4, t_final=10.0, output_every=5.0)
    small, big = (estimate_ringup(Params.paper(), ring.__class__(**{**ring.to_dict(),
                                                                   "control_variate": cv}))
                  for cv in (False, True))
    assert big["memory_bytes"] > small["memory_bytes"] and small["n_chunks"] == 2
