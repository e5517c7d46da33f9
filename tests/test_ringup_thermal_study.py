"""validation/ringup_thermal.py: its conclusions follow from the numbers (no simulation here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
PATH = Path(__file__).resolve().parents[1] / "validation" / "ringup_thermal.py"
spec = importlib.util.spec_from_file_location("ringup_thermal", PATH)
R = importlib.util.module_from_spec(spec)
spec.loader.exec_module(R)


def row(g0, ramp, settled, n=256, clipped=False):
    return {"G0/Gamma": g0, "ramp": ramp, "n_traj": n, "settled": settled,
            "escaped": n - settled, "diverged": 0, "fraction_settled": settled / n,
            "fraction_settled_half_dt": settled / n, "max_excursion_sigmas": 4.5,
            "median_max_excursion_sigmas": 2.4, "E_N_clipped": clipped,
            "E_N_steady_controlled": 0.0 if clipped else 0.1598,
            "E_N_steady_controlled_stderr": 1e-4, "E_N_steady_plain": 0.16,
            "E_N_steady_plain_stderr": 0.1, "dE_N_final": -1e-4, "dE_N_final_stderr": 3e-5,
            "t_settle_E_N_controlled": float("nan") if clipped else 80.0 + ramp,
            "t_settle_E_N_linear": 80.0 + ramp, "controlled_resolves_tolerance": not clipped,
            "escaped_amplitude_sigmas": 40.0, "stable_fixed_points": 1}


def test_stationary_time():
    t = np.arange(6.0)
    assert R.stationary_time(t, [5, 3, 1, 0.1, 0.0, 0.05], 0.0, 0.2) == 3.0
    assert np.isnan(R.stationary_time(t, [0, 0, 0, 0, 0, 1], 0.0, 0.2))
    assert R.stationary_time(t, [np.nan, 0, 0, 0, 0, 0], 0.0, 0.2) == 1.0  # NaN is not settled


def test_conclusions_nothing_escapes():
    rows = [row(g, r, 256) for g in R.G0S for r in R.RAMPS]
    ctrl = [{"G0/Gamma": g, "fraction_settled": 1.0, "n_traj": 256, "diverged": 0}
            for g in R.G0S]
    text = "\n".join(R.conclusions(rows, ctrl))
    assert text.startswith("- Nothing escapes") and "4.5 linearised" in text
    assert "| 0.01 | 0 | 256/256 (100 %; dt/2: 100 %)" in "\n".join(R.table(rows))


def test_conclusions_ramp_and_steady_state_verdicts():
    rows = [row(g, r, 256) for g in R.G0S[:2] for r in R.RAMPS]
    rows += [row(0.1, 0.0, 200, clipped=True), row(0.1, 100.0, 230, clipped=True),
             row(0.1, 300.0, 250, clipped=True)]
    ctrl = [{"G0/Gamma": g, "fraction_settled": 1.0, "n_traj": 256, "diverged": 0}
            for g in R.G0S]
    text = "\n".join(R.conclusions(rows, ctrl))
    assert "a slower ramp rescues escapes" in text
    assert "the escapes come from the thermal start" in text
    assert "E_N of the whole ensemble is 0 (clipped)" in text
    assert "stay 40 sigma_q" in text and "do not land on another fixed point" in text
    rows[-1] = row(0.1, 300.0, 200, clipped=True)
    ctrl[-1]["fraction_settled"] = 200 / 256
    text = "\n".join(R.conclusions(rows, ctrl))
    assert "the ramp makes no significant difference" in text
    assert "as frequent from the steady state" in text
