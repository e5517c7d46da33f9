"""validate with control variates: the measured nonlinear shift next to the Lyapunov comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params
from simulator.cli import main
from simulator.config import apply_changes
from simulator.report import report_dict, shift_rows, summary_lines, write_report
from simulator.sde import SDEOptions
from simulator.validate import ValidateOptions, validate

SMALL = SDEOptions(n_traj=32, chunk_size=8, t_burn=60.0, t_avg=200.0)


def test_control_variate_option_defaults_on_and_governs_the_sde_leg():
    assert ValidateOptions().control_variate is True
    assert ValidateOptions().sde_options().control_variate is True
    assert ValidateOptions(quick=True).sde_options().control_variate is True
    off = ValidateOptions(control_variate=False, sde=SMALL.replace(control_variate=True))
    assert off.sde_options().control_variate is False
    assert off.sde_options().n_traj == 32
    with pytest.raises(ValueError, match="control_variate = 'yes'"):
        ValidateOptions(control_variate="yes")


def test_validate_reports_the_measured_shift(tmp_path, no_report_figures):
    """At G0/Gamma = 0.03 (|G_r| = 0.61 omega_m) the shift of E_N(r_m) is measured with an
    error far below the plain estimator's (measured -4.44e-4 +- 3.1e-5 against 1.6e-2), agrees
    within 5 of its own sigma with the exact O(G0^2) truncated-Wigner shift (-4.4e-4,
    :func:`simulator.second_order.second_order`; measured z = 0.0, and -3.0 to 0.0 over seeds
    5-9: the O(dt) term is about one sigma), and is shown next to the Lyapunov comparison in
    the summary and the report. 8 units, the engine's minimum: no statistics flag. 2 chunks of
    16 with four 150 / omega_m batches (10 correlation times): the error bars of 8 chunks of 8
    in one 200 / omega_m batch each (mean 2.6e-5 over six seeds either way) at 63 % of the
    steps (the burn-in is paid per chunk)."""
    from simulator.errors import MIN_UNITS
    from simulator.second_order import second_order
    from simulator.statistics import Z_AGREE

    p = apply_changes(Params.paper(), {"g0": "0.03Gamma", "G": "0.61omega_m"})
    res = validate(p, ValidateOptions(master=False, seed=2, attractors=False,
                                      sde=SMALL.replace(n_traj=32, chunk_size=16, t_avg=600.0,
                                                        batch_time=150.0, initial="lyapunov",
                                                        escape_radius="off")))
    assert res.sde.status == "ok" and res.sde.n_units >= MIN_UNITS
    sh = res.shift
    assert sh is not None and sh["order"] == 2
    rows = {r["pair"]: r for r in shift_rows(res)}
    assert set(rows) == {"r_m"}  # only the pair the Lyapunov solution entangles
    r = rows["r_m"]
    assert 0 < r["stderr"] < 0.1 * res.sde.plain["observables"]["log_negativity_stderr"]["r_m"], r
    exact = float(second_order(p).twa.log_negativity_shift["r_m"])
    assert abs(r["shift"] - exact) < Z_AGREE * r["stderr"], (r["shift"], exact)
    text = "\n".join(summary_lines(res))
    assert "shift  : dE_N(r_m) = " in text and "+-" in text
    assert text.index("sde    : E_N(r_m)") < text.index("shift  : dE_N(r_m)")
    md = write_report(res, tmp_path).read_text()
    assert "| r_m | " in md and "dE_N / E_N" in md
    d = json.loads((tmp_path / "report.json").read_text())
    assert d["options"]["control_variate"] is True
    assert d["sde"]["shift"]["log_negativity"]["r_m"] == pytest.approx(r["shift"])
    assert "nonlinear shift dE_N[r_m]" in (tmp_path / "report.html").read_text()


@few_units_ok  # the absence of a shift, not statistics
def test_validate_without_control_variates_has_no_shift():
    res = validate(Params.paper(), ValidateOptions(master=False, sde=SMALL.replace(n_traj=16),
                                                   attractors=False, control_variate=False))
    assert res.shift is None and shift_rows(res) == []
    assert not any(line.startswith("  shift") for line in summary_lines(res))
    # the exact prediction is still shown, with no measured shift scored against it
    assert res.shift_checks == [] and "SDE (truncated Wigner) measured" not in res.shift_verdict
    assert report_dict(res)["options"]["control_variate"] is False


def test_cli_control_variate_flag_and_run_file(tmp_path, capsys, no_report_figures):
    """``[validate] control_variate = false`` in a run file turns it off, ``--control-variate``
    overrides the file, and the written run file records the choice."""
    cfg = tmp_path / "in.toml"
    # two chunks of 8 (2 units, flagged as 4 were): the option's wiring, not statistics
    cfg.write_text("[validate]\ncontrol_variate = false\nquick = true\n\n[sde]\nn_traj = 16\n"
                   "chunk_size = 8\nt_burn = 60.0\nt_avg = 200.0\n")
    out = tmp_path / "r"
    args = ["validate", "--no-master", "--no-attractors", "--quiet", "--json", "--config",
            str(cfg)]
    assert main(args + ["--out", str(out)]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["options"]["control_variate"] is False and rec["sde"]["shift"] is None
    assert "control_variate = false" in (out / "run.toml").read_text()
    assert main(args + ["--out", str(tmp_path / "r2"), "--control-variate"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["options"]["control_variate"] is True
    assert np.isfinite(rec["sde"]["shift"]["log_negativity"]["r_m"])
