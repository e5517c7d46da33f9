"""Control variates for the ring-up: V_nl(t) = V_lin(t) + <x x^T - y y^T>(t)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params
from simulator.errors import MIN_UNITS
from simulator.cli import main
from simulator.config import apply_changes
from simulator.sde import LangevinSystem
from simulator.sde.control import BlockDrift, control_system
from simulator.sde.ringup import RingupOptions, RingupResult, ringup_system, simulate_ringup

CV = RingupOptions(n_traj=64, chunk_size=4, dt=0.1, t_final=100.0, output_every=10.0,
                   control_variate=True, escape_radius="off")  # escapes: test_sde_escapes


@pytest.fixture(scope="module")
def moderate():
    """G0/Gamma = 0.02 at |G_r| = 0.61 omega_m, thermal mechanics (n_m ~ 415)."""
    p = apply_changes(Params.paper(), {"g0": "0.02Gamma", "G": "0.61omega_m"})
    return simulate_ringup(p, CV, seed=4)


def test_control_system_of_a_time_dependent_drift_is_block_diagonal():
    system, _ = ringup_system(Params.paper(), CV)
    aug = control_system(system, order=2)
    assert isinstance(aug.drift_at, BlockDrift) and aug.dim == 18
    t = np.array([0.0, 3.0, 50.0])
    A, B = system.drift_matrices(t), aug.drift_matrices(t)
    for j in range(3):
        np.testing.assert_array_equal(B[:, 6 * j:6 * j + 6, 6 * j:6 * j + 6], A)
    B[:, :6, :6] = B[:, 6:12, 6:12] = B[:, 12:, 12:] = 0
    assert not B.any()
    assert not np.allclose(A[0], A[2])  # the drift does change along the path


@few_units_ok  # exact zeros, not statistics
def test_linear_time_dependent_system_gives_exactly_zero_shift():
    """Without a nonlinearity w = x - y never moves off 0: the shift is 0 bit for bit."""
    system, _ = ringup_system(Params.paper(), CV)
    lin = LangevinSystem(A=system.A, D=system.D, drift_at=system.drift_at)
    opts = RingupOptions(n_traj=16, chunk_size=4, dt=0.1, t_final=20.0, output_every=5.0,
                         control_variate=True)
    res = simulate_ringup(lin, opts, seed=2)
    assert res.shift["order"] == 1
    assert res.shift["covariance"].shape == (5, 6, 6)
    assert not res.shift["covariance"].any() and not res.shift["covariance_stderr"].any()
    assert "log_negativity" not in res.shift  # no rates: no E_N
    plain = simulate_ringup(lin, opts.__class__(**{**opts.to_dict(), "control_variate": False}),
                            seed=2)
    assert plain.shift is None


def test_controlled_covariance_agrees_with_plain_ringup(moderate):
    """The controlled V_nl(t) against the plain ensemble covariance, within the plain one's
    error bars (16 chunks: batch-means errors, Student-t widened), with a far smaller error.
    Statistical: runs at 16 units, above the engine's minimum, unflagged."""
    res = moderate
    assert res.status == "ok" and res.n_units >= MIN_UNITS
    assert res.shift["order"] == 2 and res.diverged == 0
    Vc = res.linear_covariance + res.shift["covariance"]
    assert np.array_equal(res.covariance, Vc)  # the controlled estimate is the headline
    assert np.array_equal(res.covariance_stderr, res.shift["covariance_stderr"])
    plain_V, plain_se = res.plain["covariance"], res.plain["covariance_stderr"]
    z = (Vc - plain_V)[1:] / plain_se[1:]
    iu = np.triu_indices(6)
    z = z[:, iu[0], iu[1]]
    assert np.abs(z).max() < 4.5 and np.mean(np.abs(z) > 3) < 0.05, np.abs(z).max()
    assert np.mean(np.abs(z) > 2) > 0.005  # the plain errors are not vastly too wide
    ratio = plain_se[1:] / res.shift["covariance_stderr"][1:]
    assert np.median(ratio[:, iu[0], iu[1]]) > 10  # measured 38
    # at t = 0 both paths are the same sample: the shift and its error vanish exactly
    assert not res.shift["covariance"][0].any() and not res.shift["covariance_stderr"][0].any()
    d_en = res.shift["log_negativity"]["r_m"]
    se = res.shift["log_negativity_stderr"]["r_m"]
    below = res.shift["log_negativity_below_resolution"]["r_m"]
    # while the cavity fills E_N is clipped at zero: no error bar there (NaN), finite elsewhere
    assert d_en.shape == res.t.shape and np.isfinite(se[~below]).all() and (~below[-3:]).all()
    assert np.isnan(se[1:][below[1:]]).all()


def test_shift_round_trips_save_load_and_json(moderate, tmp_path):
    res = moderate
    res.save(tmp_path)
    back = RingupResult.load(tmp_path)
    assert back.shift["order"] == res.shift["order"]
    for k in ("covariance", "covariance_stderr"):
        np.testing.assert_array_equal(back.shift[k], res.shift[k])
    for k in ("log_negativity", "log_negativity_stderr"):
        assert set(back.shift[k]) == set(res.shift[k]) == {"r_m", "l_m", "r_l"}
        for pair in res.shift[k]:
            np.testing.assert_array_equal(back.shift[k][pair], res.shift[k][pair])
    assert set(back.observables) == set(res.observables)  # shift arrays stay out of them
    for k in ("mean", "mean_stderr", "covariance", "covariance_stderr"):
        np.testing.assert_array_equal(back.plain[k], res.plain[k])
    for pair, v in res.plain["observables"]["log_negativity"].items():
        np.testing.assert_array_equal(back.plain["observables"]["log_negativity"][pair], v)
    data = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    sh = data["shift"]
    assert set(sh) >= {"covariance", "covariance_stderr", "log_negativity",
                       "log_negativity_stderr"}
    assert np.shape(sh["covariance"]) == (len(res.t), 6, 6)


def test_ringup_cli_control_variate(capsys):
    args = ["ringup", "--n-traj", "16", "--chunk-size", "4", "--t-final", "10",
            "--output-every", "5", "--quiet", "--control-variate"]
    assert main(args + ["--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["options"]["control_variate"] is True and np.shape(rec["shift"]["covariance"]) == (3, 6, 6)
    assert main(args) == 0
    assert "nonlinear shift dE_N(r_m)" in capsys.readouterr().out
    assert main(args[:-1] + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shift"] is None


def test_ringup_options_control_variate_is_a_bool():
    with pytest.raises(ValueError, match="control_variate = 1"):
        RingupOptions(control_variate=1)
