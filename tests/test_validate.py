"""wgmsim validate: the full chain on the paper's point, a biased run that must be flagged,
an unstable point, and the written report."""

import json

import pytest

from conftest import few_units_ok
from simulator import Params, SDEOptions
from simulator.cli import main
from simulator.config import apply_changes
from simulator.report import summary_lines
from simulator.validate import ValidateOptions, validate


def test_quick_validation_at_immune_point_agrees(tmp_path, capsys, monkeypatch):
    assert main(["validate", "--quick", "--no-master", "--no-attractors", "--out", str(tmp_path),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sde    : agrees" in out
    d = json.loads((tmp_path / "report.json").read_text())
    comp = d["comparisons"][0]
    assert comp["engine"] == "sde" and comp["agrees"] is True
    rows = {r["quantity"]: r for r in comp["rows"]}
    en = rows["E_N[r_m]"]
    assert en["reference"] == pytest.approx(0.1597, abs=1e-4)
    assert abs(en["value"] - en["reference"]) < 5 * en["error"]
    assert d["sde"]["seeds"] and d["params"]["beta"] == pytest.approx(0.3926990817)
    for name in ("report.md", "observables.png", "covariance_scores.png"):
        assert (tmp_path / name).stat().st_size > 0
    # same command again resumes from the checkpoint and gives the same numbers (its figures,
    # drawn above, are left out this time)
    import simulator.plotting
    monkeypatch.setattr(simulator.plotting, "plot_validation", lambda result, directory: [])
    assert main(["validate", "--quick", "--no-master", "--no-attractors", "--out", str(tmp_path),
                 "--quiet"]) == 0
    d2 = json.loads((tmp_path / "report.json").read_text())
    assert d2["comparisons"][0]["rows"] == comp["rows"]


def test_biased_integrator_is_flagged():
    """Euler-Maruyama at dt = 0.05 anti-damps the mechanics: the verdict must say so.

    64 trajectories over t_avg = 750 (8 statistical units, the engine's minimum, status ok)
    give max |z| = 39 against Lyapunov (t_avg 1500: 55; 256 trajectories: 97): the bias is many
    standard errors whatever the ensemble, so the small one is enough; control variates off
    (they do not change the plain covariance compared here), no attractor search (not under
    test)."""
    opts = ValidateOptions(master=False, control_variate=False, attractors=False, sde=SDEOptions(
        method="euler", dt=0.05, n_traj=64, chunk_size=16, t_avg=750.0))
    res = validate(Params.paper(), opts)
    assert res.sde.status == "ok" and res.sde.n_units >= 8
    assert not res.comparisons[0].agrees and res.comparisons[0].max_abs_score > 20
    assert "deviates" in res.verdicts["sde"]


def test_unstable_point_is_reported_not_run(tmp_path, capsys):
    assert main(["validate", "--set", "detuning=-3Gamma", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "UNSTABLE" in out
    d = json.loads((tmp_path / "report.json").read_text())
    assert d["sde"] is None and d["comparisons"] == []


def test_bad_input_exits_2(tmp_path, capsys):
    assert main(["validate", "--set", "power=-1W", "--out", str(tmp_path)]) == 2
    assert "power" in capsys.readouterr().err


@few_units_ok  # the lossy point's 2-unit SDE leg is flagged; only the master leg is scored
def test_master_leg_agrees_and_lossy_is_skipped(tmp_path, paper_validation):
    # the master leg is under test here: a small SDE leg (the quick one is tested above),
    # the session's quick validation at the paper's point (conftest)
    res = paper_validation
    engines = {c.engine: c for c in res.comparisons}
    assert set(engines) == {"sde", "master"}
    me = engines["master"]
    assert me.error_kind == "truncation" and me.agrees
    rows = {r.quantity: r for r in me.rows}
    assert rows["E_N[r_m]"].value == pytest.approx(0.1597, abs=1e-3)
    assert res.master.options.nonlinear is True
    # the paper's point: a stable cycle ~5.5e5 sigma_q away, far outside the Fock space
    assert res.metastable and res.attractors.smallest_cycle.q_max == pytest.approx(5.54e5,
                                                                                   rel=0.01)
    scope = res.master.scope
    assert scope["basin_only"] is True and scope["reaches_cycle"] is False
    assert scope["cycle_quanta"] > 1e10 > scope["fock_quanta"]
    assert res.master.to_dict()["scope"]["basin_only"] is True
    assert any("does not reach the cycle" in line for line in summary_lines(res))
    g = Params.paper().Gamma
    lossy = validate(Params.paper(eta=g - 0.05j * g, beta=0.3),
                     ValidateOptions(quick=True, attractors=False,  # 7 s; not under test here
                                     sde=SDEOptions(n_traj=32, chunk_size=16, t_avg=200.0)))
    assert lossy.master is None and "lossy" in lossy.master_skipped
    assert [c.engine for c in lossy.comparisons] == ["sde"]


def test_master_estimate_error_propagation_can_fail(steady_state):
    """A master result whose covariance is shifted beyond its truncation error must deviate."""
    import dataclasses

    from simulator import MasterOptions
    from simulator.compare import compare
    from simulator.validate import master_estimate, reference_scalars

    res = steady_state(Params.paper(), MasterOptions(nonlinear=True))
    est = master_estimate(res)
    shifted = dataclasses.replace(est, covariance=est.covariance + 10 * res.truncation_error)
    lin = res.lyapunov
    assert compare(lin.covariance, reference_scalars(lin), est).agrees
    assert not compare(lin.covariance, reference_scalars(lin), shifted).agrees


@few_units_ok  # the 2-unit SDE leg is flagged; the master leg's refusal is under test
def test_master_leg_skipped_quickly_when_the_state_is_too_big():
    """Near the stability boundary (28 phonons) the Fock space would be too large: the master
    equation is reported as not compared, instead of running for minutes."""
    import time

    p = Params.paper()
    p = p.replace(detuning=-1.98 * p.Gamma)
    t0 = time.perf_counter()
    res = validate(p, ValidateOptions(quick=True, attractors=False,  # not under test here
                                      sde=SDEOptions(n_traj=32, chunk_size=16, t_avg=200.0,
                                                     t_burn=100.0)))
    assert time.perf_counter() - t0 < 60
    assert res.master is None and "does not fit" in res.master_skipped


@pytest.mark.parametrize("field, value", [("seed", -1), ("n_jobs", 0), ("master_max_dim", 2),
                                          ("quick", "yes"), ("attractors", "yes")])
def test_bad_options_refused_before_work(field, value):
    with pytest.raises(ValueError, match=field):
        ValidateOptions(**{field: value})


def test_clipped_en_in_validation_report_is_flagged_not_zero_pm_zero():
    """Issue 13 point (beta 0.3, 10 mW, Delta -0.77 Gamma, 128 trajectories, seed 1): E_N[l_m]
    is clipped at 0. The report scores it unclipped, shows an upper bound, and the verdict is
    the covariance's (it used to read 'deviates ... by inf sigma' / 'undetermined').
    Eight chunks of 16 (8 statistical units, status ok: the 5-sigma verdicts below are the
    engine's own; four chunks of 32 were flagged few_units)."""
    from simulator.report import _table, report_dict, summary_lines

    p = Params.paper(beta=0.3, power=0.01)
    p = p.replace(detuning=-0.77 * p.Gamma)
    opts = ValidateOptions(master=False, seed=1, sde=SDEOptions(
        n_traj=128, chunk_size=16, t_burn=470.0, t_avg=600.0, batch_time=600.0))
    res = validate(p, opts)
    assert res.sde.status == "ok" and res.sde.n_units >= 8
    comp = res.comparisons[0]
    rows = {r.quantity: r for r in comp.rows}
    assert rows["E_N[l_m]"].below_resolution and rows["E_N[l_m]"].reference > 0.002
    assert all(abs(r.score) < 5 for r in comp.rows), comp.verdict
    assert comp.agrees and comp.verdict.startswith("agrees") and "below resolution" in comp.verdict
    assert comp.covariance_verdict.startswith("agrees: all 21")
    text = "\n".join(summary_lines(res) + _table(res))
    assert "0 ± 0 " not in text and "0 +- 0 " not in text and "inf" not in text
    assert "(below resolution)" in text and "covariance alone agrees" in text
    d = report_dict(res)
    l_m = next(r for r in d["comparisons"][0]["rows"] if r["quantity"] == "E_N[l_m]")
    assert l_m["below_resolution"] is True and l_m["error"] is None
    assert l_m["raw_value"] < 0.002 and l_m["raw_error"] > 0
    plain = d["sde"]["plain"]["observables"]  # scored in the rows; the headline is controlled
    assert plain["log_negativity_below_resolution"]["l_m"] is True
    assert plain["log_negativity_stderr"]["l_m"] is None
    assert not d["sde"]["log_negativity_below_resolution"]["l_m"]  # resolved with the control
    assert 0 < d["sde"]["log_negativity_stderr"]["l_m"] < 1e-3 * l_m["raw_error"]
    json.dumps(d, allow_nan=False)


@pytest.mark.validation
def test_linearisation_study_pools_seeds(tmp_path):
    """The linearisation study runs every SDE point with several root seeds and states its
    conclusions from the pooled numbers (quick variant: two couplings, two seeds)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "validation" / "linearisation_study.py"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--seeds", "3", "4",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "linearisation.json").read_text())
    assert data["seeds"] == [3, 4]
    for row in data["coupling"]:
        seeds = row["seeds"]
        assert [s["seed"] for s in seeds] == [3, 4] and seeds[0]["V_qq"] != seeds[1]["V_qq"]
        v = [s["V_qq"] for s in seeds]
        assert row["V_qq"]["mean"] == pytest.approx(sum(v) / 2)
        assert row["V_qq"]["seed_std"] == pytest.approx(abs(v[0] - v[1]) / 2**0.5)
        assert row["V_qq"]["pooled_stderr"] == pytest.approx(
            (seeds[0]["V_qq_err"] ** 2 + seeds[1]["V_qq_err"] ** 2) ** 0.5 / 2)
    md = (tmp_path / "LINEARISATION.md").read_text()
    assert "Pooled over 2 independent seeds" in md and "scatter/se" in md
    assert (tmp_path / "coupling.png").stat().st_size > 0
    bad = subprocess.run([sys.executable, str(script), "--seeds", "3", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--seeds" in bad.stderr


@few_units_ok  # the 2-unit SDE leg is flagged; the attractor summary is under test
def test_coexisting_cycle_makes_the_summary_say_metastable(tmp_path, capsys):
    """Issue 17's point at G0/Gamma = 0.1: the smallest stable cycle at 66.6 sigma_q, the basin
    edge near 45 sigma; validate says so with both numbers, and --no-attractors skips it.

    The point and the default search are those of ``test_attractors.at_01`` (the engine caches a
    search per scaled flow and options, so the session pays for it once)."""
    p = apply_changes(Params.paper(), {"g0": "0.1Gamma", "G": "0.6096omega_m",
                                       "damping": "rwa"})
    tiny = SDEOptions(n_traj=32, chunk_size=16, t_avg=200.0, initial="lyapunov")
    res = validate(p, ValidateOptions(master=False, sde=tiny))
    assert res.metastable and "attractors" in res.timing
    c, b = res.attractors.smallest_cycle, res.attractors.basin
    assert c.q_max == pytest.approx(66.6, rel=0.02) and 35.0 < b.radius < c.q_max
    text = "\n".join(summary_lines(res))
    assert "METASTABLE" in text and f"{c.q_max:.4g} sigma_q" in text
    assert f"basin edge {b.radius:.3g} sigma" in text
    from simulator.report import report_dict
    d = report_dict(res)
    assert d["metastable"] is True and d["attractors"]["basin"]["radius"] == pytest.approx(
        b.radius)
    # the SDE leg's escape test (issue 17, item 4): rate and lifetime, or their bounds, in words
    assert res.sde.escapes["tested"] and res.sde.escapes["radius"] == pytest.approx(b.radius)
    assert "SDE escapes from the fixed point's basin" in text and "lifetime" in text
    assert d["escapes"]["count"] == res.sde.escapes["count"] and "per 1/omega_m" in \
        d["metastability"]
    off = validate(p, ValidateOptions(master=False, sde=tiny, attractors=False))
    assert off.attractors is None and not off.metastable
    assert "METASTABLE" not in "\n".join(summary_lines(off))
