"""The paper-figure script: its numerical checks hold, can fail, and the full script runs.

The fast tests compute every figure's data on coarse grids (``figure_data.FAST``) and assert the
paper's key claims through the script's own check functions; the ``validation`` test runs the
whole script into a temporary folder.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import Params, sweep

VALIDATION = Path(__file__).resolve().parents[1] / "validation"
sys.path.insert(0, str(VALIDATION))

import figure_data as fd  # noqa: E402


@pytest.fixture(scope="module")
def data() -> dict[str, fd.FigureData]:
    return fd.all_figures(res=fd.FAST)


@pytest.fixture(scope="module")
def checks(data) -> dict[str, list[fd.Check]]:
    return fd.all_checks(data)


def _find(checks: list[fd.Check], text: str) -> fd.Check:
    found = [c for c in checks if text in c.statement]
    assert len(found) >= 1, f"no check containing {text!r}"
    return found[0]


@pytest.mark.parametrize("fig", ["fig1", "fig2", "fig3", "fig4", "fig5"])
def test_every_check_passes(checks, fig):
    failed = [str(c) for c in checks[fig] if not c.passed]
    assert not failed, "\n".join(failed)


def test_key_numbers(data, checks):
    c2 = checks["fig2"]
    # ideal and immune optimum: Dt = 0.85 Gamma, E_N = 0.1597 (PHYSICS.md)
    assert abs(_find(c2, "ideal: optimal Delta").value - 0.85) < 0.01
    assert abs(_find(c2, "ideal: max E_N,r").value - 0.1597) < 1e-4
    assert abs(_find(c2, "immune: max E_N,r").value - 0.1597) < 1e-4
    assert abs(_find(c2, "immune (beta = pi/8): optimal Dt").value - 0.85) < 0.01
    # Fig. 2(b): the lower end of the oscillation lies below the defect-only value
    a = data["fig2"].arrays
    assert np.nanmin(a["EN_r_max_beta"]) < float(a["EN_r_max_defect"]) - 0.02
    # Fig. 4: revival along beta_Im ends at eta = 2 eps
    assert abs(_find(checks["fig4"], "end of the revival region").value - 2.0) < 0.02
    # Fig. 5: the nanoparticle cancels J1 and restores the ideal maximum
    for n in (2, 3):
        assert data["fig5"].info[f"N{n}"]["J1_immune"] < 1e-12
        assert abs(_find(checks["fig5"], f"N = {n}: max E_N,r with").value - 0.1597) < 1e-4


def test_immunity_pointwise():
    failed = [str(c) for c in fd.exact_immunity_checks() if not c.passed]
    assert not failed, "\n".join(failed)


def test_checks_can_fail(data):
    # 1. a perturbed immune curve no longer matches the ideal one
    d = data["fig2"]
    arrays = dict(d.arrays, EN_r_immune_shifted=d.arrays["EN_r_immune_shifted"] + 1e-4)
    bad = fd.checks_fig2(dataclasses.replace(d, arrays=arrays))
    assert not _find(bad, "immune E_N,r at Delta = Dt - Delta_J").passed
    # 2. a nanoparticle of the wrong size (eta != eps) is not immune at beta = pi/8
    p = Params.paper()
    wrong = fd.exact_immunity_checks(p.replace(eta=0.5 * p.Gamma))
    assert not any(c.passed for c in wrong[:3])
    # 3. Fig. 5 with the nanoparticle at beta' (the pi/8 offset left out) fails its checks
    d5 = data["fig5"]
    n2 = dict(d5.info["N2"])
    G = p.Gamma
    q = p.replace(defects=tuple((e * G, b) for e, b in n2["defects"]), eta=n2["eta"] * G,
                  beta=n2["beta"] - math.pi / 8)
    x = d5.arrays["delta"]
    r = sweep(q, detuning=x * G)
    rs = sweep(q, detuning=x * G - q.Delta_J)
    arrays = dict(d5.arrays, EN_r_immune_N2=r.log_negativity["r_m"], T_immune_N2=r.transmission,
                  EN_r_immune_N2_shifted=rs.log_negativity["r_m"],
                  T_immune_N2_shifted=rs.transmission)
    n2["J1_immune"] = abs(q.J1) / G
    bad5 = fd.checks_fig5(dataclasses.replace(d5, arrays=arrays, info=dict(d5.info, N2=n2)))
    for text in ("N = 2: |J1| with the nanoparticle", "N = 2: max E_N,r with",
                 "N = 2: E_N,r with nanoparticle at", "N = 2: min T with"):
        assert not _find(bad5, text).passed, text
    # 4. the comparison kinds
    assert not fd.Check("x", "s", 1.0, 0.0, 0.5).passed
    assert not fd.Check("x", "s", 1.0, 1.0, 0.0, kind="lt").passed
    assert not fd.Check("x", "s", math.nan, 0.0, 1.0).passed


def test_fig5_seed_reproducible(data):
    # the module's Fig. 5 (computed for the checks) against a second, independent computation
    a = data["fig5"].info
    b = fd.fig5(res=fd.FAST).info
    assert a["N2"]["defects"] == b["N2"]["defects"] and a["N3"]["defects"] == b["N3"]["defects"]
    assert abs(sum(e for e, _ in a["N3"]["defects"]) - 2.0) < 1e-12


@pytest.mark.validation
def test_full_script_writes_figures(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(VALIDATION / "paper_figures.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for n in range(1, 6):
        png = tmp_path / f"fig{n}.png"
        assert png.exists() and png.stat().st_size > 10_000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "FIGURES.md").read_text()
    assert "**FAIL**" not in report and str(fd.FIG5_SEED) in report
