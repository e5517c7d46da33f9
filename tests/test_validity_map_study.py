"""validation/validity_map.py: the exact map, and conclusions that follow from the numbers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
PATH = Path(__file__).resolve().parents[1] / "validation" / "validity_map.py"
spec = importlib.util.spec_from_file_location("validity_map", PATH)
M = importlib.util.module_from_spec(spec)
spec.loader.exec_module(M)


def test_coefficient_map_exact_values_and_g0_independence():
    cm = M.coefficient_map([0.01, 0.1, 0.3], [0.3, 0.85, 1.7])
    assert cm["quantum"].shape == (3, 3) and np.all(cm["stable"])
    np.testing.assert_allclose(cm["quantum"][1], [-0.660, -0.2314, -0.0038], atol=6e-4)
    np.testing.assert_allclose(cm["twa"][1], [-0.8275, -0.4931, -0.2954], atol=6e-4)
    np.testing.assert_allclose(cm["quantum"], cm["quantum"][:1].repeat(3, 0), rtol=1e-8)
    np.testing.assert_allclose(cm["g0_over_gamma"][:, 0], [0.01, 0.1, 0.3], rtol=1e-12)
    # fixed power: the same point at 0.85, a different |G_r| elsewhere
    cp = M.coefficient_map([0.1], [0.5, 0.85], "power")
    assert cp["quantum"][0, 1] == pytest.approx(cm["quantum"][1, 1], rel=1e-9)
    assert cp["quantum"][0, 0] != pytest.approx(-0.431, abs=1e-2)


def coef(d, en, cq, ct, stable=True):
    return {"dt_over_gamma": d, "stable": stable, "coupling_r": 0.61, "E_N_lyapunov": en,
            "c_quantum": cq, "c_twa": ct, "ratio": ct / cq if cq else float("nan"),
            "g0_1pc_quantum": float(M.validity_limit(en, cq, 0.01)),
            "g0_10pc_quantum": float(M.validity_limit(en, cq, 0.1)),
            "g0_1pc_twa": float(M.validity_limit(en, ct, 0.01)),
            "g0_10pc_twa": float(M.validity_limit(en, ct, 0.1))}


def sde(g, d, cq, ct, measured, err):
    g2 = g * g
    return {"g0_over_gamma": g, "dt_over_gamma": d, "E_N_lyapunov": 0.16, "c_quantum": cq,
            "c_twa": ct, "dE_N_dt0.1": 1.05 * measured * g2, "dE_N_dt0.1_err": err * g2,
            "dE_N_dt0.05": 1.025 * measured * g2, "dE_N_dt0.05_err": err * g2 / 2,
            "dE_N_sde": measured * g2, "dE_N_sde_err": err * g2, "diverged": 0}


def me(g, d, cq, ct, c4, err=1e-7):
    return {"g0_over_gamma": g, "dt_over_gamma": d, "E_N_lyapunov": 0.16, "c_quantum": cq,
            "c_twa": ct, "dE_N_master": cq * g**2 + c4 * g**4, "master_error": err}


def test_conclusions_follow_the_numbers(tmp_path):
    coefs = [coef(0.3, 0.04, -0.66, -0.83), coef(0.85, 0.16, -0.2314, -0.4931),
             coef(2.5, 0.12, 0.0425, -0.394), coef(0.05, 0.0, 0.0, 0.0)]
    sdes = [sde(0.1, 0.85, -0.2314, -0.4931, -0.4984, 0.011),
            sde(0.1, 0.3, -0.66, -0.83, -0.82, 0.03)]
    mes = [me(0.1, 0.85, -0.2314, -0.4931, -0.28), me(0.2, 0.85, -0.2314, -0.4931, -0.28),
           me(0.1, 1.2, -0.093, -0.346, -0.18, err=1e-4), me(0.2, 1.2, -0.093, -0.346, -0.18)]
    text = "\n".join(M.conclusions(coefs, sdes, mes))
    assert "TWA/quantum = 1.26 at Dt/Gamma = 0.3 up to 2.13 at 0.85" in text
    assert "At Dt/Gamma = 2.5 the two differ in sign" in text
    assert "do not agree at small detuning either: TWA/quantum = 1.26 at Dt/Gamma = 0.3" in text
    assert "agrees with the TWA coefficient at the 2 leading-order points (G0/Gamma = 0.1; |z| <= 0.5)" in text
    assert "2 of its 2 points are beyond 3 sigma from the quantum" in text
    assert "it grows 16.0x at Dt/Gamma = 0.85 when G0/Gamma doubles from 0.1" in text
    assert "at Dt/Gamma = 1.2 a remainder is within 3x" in text
    assert "right to 1 % up to G0/Gamma ~ 0.083 and to 10 % up to ~ 0.26" in text
    # an SDE far from TWA is reported as such
    bad = [sde(0.1, 0.85, -0.2314, -0.4931, -0.40, 0.011)]
    assert "does not agree everywhere with the TWA" in "\n".join(M.conclusions(coefs, bad, []))
    M.write_markdown(coefs, sdes, mes, tmp_path / "V.md", "# head", ["- x"], "v.png")
    md = (tmp_path / "V.md").read_text()
    assert "| 0.85 | 0.610 | 0.1600 | -0.2314 | -0.4931 | 2.13 |" in md
    assert "**-0.4984 ± 0.0110**" in md and "| 16.0 |" in md


@pytest.mark.slow
def test_quick_run_writes_outputs_without_timings(tmp_path):
    M.main(["--quick", "--out", str(tmp_path), "--jobs", "1"])
    md = (tmp_path / "VALIDITY.md").read_text()
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert len(rows["sde"]) == 2 and len(rows["master"]) == 2
    assert " s)" not in md and "seconds" not in json.dumps(rows)
    assert (tmp_path / "validity.png").stat().st_size > 10_000
    M.main(["--rewrite", "--out", str(tmp_path)])
    assert (tmp_path / "VALIDITY.md").read_text() == md
