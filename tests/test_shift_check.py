"""Tests of simulator/shift_check.py and of the second-order leg of validate: measured shifts
scored against the exact prediction of the physics each engine integrates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator import Params, SDEOptions
from simulator.config import apply_changes
from simulator.report import write_report
from simulator.second_order import second_order
from simulator.shift_check import SDE_STEP_BIAS, check_shifts, shift_verdict
from simulator.validate import ValidateOptions, ValidationResult, validate

STRONG = apply_changes(Params.paper(), {"g0": "0.3Gamma", "G": "0.6096omega_m"})


@pytest.fixture(scope="module")
def so():
    return second_order(STRONG)


def sde_shift(value: float, err: float) -> dict:
    return {"log_negativity": {"r_m": value, "l_m": 0.0, "r_l": 0.0},
            "log_negativity_stderr": {"r_m": err, "l_m": np.nan, "r_l": np.nan},
            "log_negativity_below_resolution": {"r_m": False, "l_m": True, "r_l": True}}


def test_sde_is_scored_against_truncated_wigner_with_its_step_bias(so):
    twa = float(so.twa.log_negativity_shift["r_m"])
    quantum = float(so.quantum.log_negativity_shift["r_m"])
    (c,) = check_shifts(so, sde_shift=sde_shift(twa * 1.05, 1e-4), sde_dt=0.05)
    assert (c.engine, c.prediction, c.pair) == ("sde", "twa", "r_m")
    assert c.allowance == pytest.approx(SDE_STEP_BIAS * 0.05 * abs(twa))
    assert c.z == pytest.approx(0.05 * twa / np.hypot(1e-4, c.allowance))
    assert c.agrees and c.other == quantum
    # an SDE that measured the quantum shift would be flagged
    (bad,) = check_shifts(so, sde_shift=sde_shift(quantum, 1e-4), sde_dt=0.05)
    assert not bad.agrees
    text = shift_verdict(so, [bad])
    assert "DISAGREES with truncated Wigner's shift" in text
    assert "overstates the nonlinear shift 2.13x" in text


def test_master_is_scored_against_the_quantum_shift(so):
    quantum = float(so.quantum.log_negativity_shift["r_m"])
    twa = float(so.twa.log_negativity_shift["r_m"])
    (good,) = check_shifts(so, master_shift={"r_m": (quantum, 1e-4)})
    assert good.prediction == "quantum" and good.agrees
    assert good.allowance == pytest.approx(2 * 0.3**2 * abs(quantum))
    text = shift_verdict(so, [good])
    assert "agrees with the quantum shift" in text and "resolves the difference" in text
    (bad,) = check_shifts(so, master_shift={"r_m": (twa, 1e-4)})
    assert not bad.agrees
    (blind,) = check_shifts(so, master_shift={"r_m": (0.0, 1.0)})
    assert "does not resolve the shift" in shift_verdict(so, [blind])


def test_unentangled_pairs_and_clipped_sde_values_are_not_scored(so):
    shift = sde_shift(0.0, 1e-4)
    shift["log_negativity_below_resolution"]["r_m"] = True
    assert check_shifts(so, sde_shift=shift, sde_dt=0.1) == []
    assert "not entangled" in shift_verdict(so, [], pair="l_m")


def test_validate_carries_the_second_order_leg(tmp_path, no_report_figures):
    """G0/Gamma = 0.3: both engines resolve their shift; each agrees with its own physics."""
    # 2 chunks of 8, four batches each (8 statistical units; a batch of 150 is 10 / slowest
    # rate): the trajectory time of 4 chunks of 8 in two batches each, and their error bars
    # (SDE z -2.7 against -2.8 here, shift errors 2.2e-3 to 4.1e-3 against 2.6e-3 to 4.6e-3 at
    # seeds 0-3), at 86 % of the steps (the burn-in is paid per chunk)
    res = validate(STRONG, ValidateOptions(attractors=False, sde=SDEOptions(
        n_traj=16, chunk_size=8, t_avg=600.0, batch_time=150.0, dt=0.05, initial="lyapunov",
        control_variate=True, escape_radius="off")))
    assert res.sde.status == "ok" and res.sde.n_units == 8
    checks = {c.engine: c for c in res.shift_checks}
    assert checks["sde"].prediction == "twa" and checks["sde"].agrees
    assert checks["master"].prediction == "quantum" and checks["master"].agrees
    write_report(res, tmp_path)
    d = json.loads((tmp_path / "report.json").read_text())
    assert d["second_order"]["log_negativity_shift"]["r_m"] == pytest.approx(
        float(res.second_order.quantum.log_negativity_shift["r_m"]))
    assert {c["engine"] for c in d["second_order_checks"]} == {"sde", "master"}
    assert "overstates the nonlinear shift" in d["second_order_verdict"]
    assert "Exact second-order shift" in (tmp_path / "report.md").read_text()
    assert "Exact second-order shift" in (tmp_path / "report.html").read_text()
    back = ValidationResult.load(res.save(tmp_path / "saved"))
    np.testing.assert_array_equal(back.second_order.twa.covariance_shift,
                                  res.second_order.twa.covariance_shift)
    assert back.shift_verdict == res.shift_verdict
