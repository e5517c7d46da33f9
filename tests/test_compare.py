"""Comparison rows and verdicts: statistical and truncation-error scoring."""

import numpy as np
import pytest

from simulator.compare import Z_AGREE, Estimate, compare


def make(V, err, kind="stderr", scalars=None, errs=None):
    return Estimate("x", V, err, scalars or {}, errs or {}, kind)


def test_agreement_and_deviation_are_scored():
    ref = np.eye(6) / 2
    V = ref.copy()
    V[0, 0] += 0.01
    comp = compare(ref, {"E_N[r_m]": 0.1}, make(V, np.full((6, 6), 0.005), scalars={"E_N[r_m]": 0.13},
                                                  errs={"E_N[r_m]": 0.01}))
    rows = {r.quantity: r for r in comp.rows}
    assert len(comp.rows) == 22
    assert rows["V[X_r,X_r]"].score == pytest.approx(2.0) and rows["V[X_r,X_r]"].agrees
    assert rows["E_N[r_m]"].score == pytest.approx(3.0)
    assert comp.agrees and "agrees" in comp.verdict
    V[1, 2] = V[2, 1] = 0.5  # 100 sigma off
    comp = compare(ref, {}, make(V, np.full((6, 6), 0.005)))
    assert not comp.agrees
    assert "V[Y_r,X_l]" in comp.verdict and "100.0 sigma" in comp.verdict
    assert comp.max_abs_score == pytest.approx(100.0)
    assert Z_AGREE == 5.0


def test_zero_error_exact_agreement_and_mismatch():
    ref = np.zeros((6, 6))
    comp = compare(ref, {}, make(ref, np.zeros((6, 6))))
    assert comp.agrees
    V = ref.copy()
    V[5, 5] = 1e-3
    comp = compare(ref, {}, make(V, np.zeros((6, 6))))
    assert not comp.agrees and np.isinf(comp.max_abs_score)


def test_truncation_scoring():
    ref = np.eye(6) / 2
    V = ref + 1e-4
    comp = compare(ref, {}, make(V, np.full((6, 6), 2e-4), kind="truncation"))
    assert comp.agrees and "truncation" in comp.rows[0].verdict
    comp = compare(ref, {}, make(V, np.full((6, 6), 1e-5), kind="truncation"))
    assert not comp.agrees and "differs by" in comp.rows[0].verdict


def test_zero_error_with_rounding_level_difference_agrees():
    """An E_N clipped to 0 (zero error) against a reference of 2e-16 is agreement, not inf."""
    from simulator.statistics import z_scores

    assert z_scores(0.0, 0.0, 2.2e-16) == 0.0
    assert np.isinf(z_scores(0.0, 0.0, 1e-6))
    ref = np.eye(6) / 2
    comp = compare(ref, {"E_N[l_m]": 2.2e-16},
                   make(ref, np.full((6, 6), 1e-3), scalars={"E_N[l_m]": 0.0}, errs={"E_N[l_m]": 0.0}))
    assert comp.agrees


def _issue_reference():
    from simulator import Params, lyapunov
    from simulator.validate import reference_scalars

    p = Params.paper(beta=0.3, power=0.01)
    lin = lyapunov(p.replace(detuning=-0.77 * p.Gamma))
    return lin.covariance, reference_scalars(lin)


def test_clipped_en_scored_unclipped_and_covariance_verdict_stands():
    """Issue 13: a covariance at max |z| 1.45 with E_N[l_m] clipped to "0 +- 0" against the
    Lyapunov 0.0022 must read "agrees", with l_m shown as an upper bound."""
    from simulator.compare import raw_reference_scalars

    VL, refs = _issue_reference()
    err = np.full((6, 6), 0.01)
    V = VL.copy()
    V[4, 5] = V[5, 4] = VL[4, 5] + 1.45 * 0.01
    raw_ref = raw_reference_scalars(VL)
    scalars = {"E_N[r_m]": refs["E_N[r_m]"], "E_N[l_m]": 0.0}
    errs = {"E_N[r_m]": 0.002, "E_N[l_m]": 0.0}
    raw = {"E_N[r_m]": refs["E_N[r_m]"], "E_N[l_m]": -0.001}
    raw_err = {"E_N[r_m]": 0.002, "E_N[l_m]": 0.002}
    # without the unclipped value the old scoring gives z = inf on l_m: "deviates"
    old = compare(VL, refs, make(V, err, scalars=scalars, errs=errs))
    assert not old.agrees and np.isinf(old.max_abs_score)
    est = Estimate("sde", V, err, scalars, errs, "stderr", {}, raw, raw_err, ("E_N[l_m]",))
    comp = compare(VL, refs, est)
    rows = {r.quantity: r for r in comp.rows}
    row = rows["E_N[l_m]"]
    assert row.below_resolution and np.isnan(row.error)
    assert row.score == pytest.approx((-0.001 - raw_ref["E_N[l_m]"]) / 0.002)
    assert row.agrees and row.verdict.startswith("below resolution")
    assert row.value_text() == "< 0.003 (below resolution)"
    assert comp.agrees and comp.verdict.startswith("agrees") and "E_N[l_m]" in comp.verdict
    assert comp.max_abs_score == pytest.approx(1.6, abs=0.2)
    assert comp.covariance_verdict.startswith("agrees: all 21") and "1.45" in comp.covariance_verdict
    d = comp.to_dict()
    assert d["covariance_verdict"] == comp.covariance_verdict
    l_m = next(r for r in d["rows"] if r["quantity"] == "E_N[l_m]")
    assert l_m["below_resolution"] and l_m["raw_value"] == -0.001
    # an unclipped value far below the reference deviates: the clip does not blind the test
    raw["E_N[l_m]"] = -0.02
    bad = compare(VL, refs, Estimate("sde", V, err, scalars, errs, "stderr", {}, raw, raw_err,
                                     ("E_N[l_m]",)))
    assert not bad.agrees and bad.covariance_verdict.startswith("agrees")
    # a clipped value without its unclipped form (older result file) is not scored at all
    legacy = compare(VL, refs, Estimate("sde", V, err, scalars, errs, "stderr",
                                        below_resolution=("E_N[l_m]",)))
    assert legacy.agrees and np.isnan({r.quantity: r for r in legacy.rows}["E_N[l_m]"].score)
