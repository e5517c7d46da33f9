"""validation/stability_map.py: its grid points are the ones it names, and its report follows
from the numbers (one small search, the rest synthetic rows)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from simulator import lyapunov

PATH = Path(__file__).resolve().parents[1] / "validation" / "stability_map.py"
spec = importlib.util.spec_from_file_location("stability_map", PATH)
S = importlib.util.module_from_spec(spec)
spec.loader.exec_module(S)


@pytest.mark.parametrize("dt, G", [(0.5, 0.4), (1.25, 0.8)])
def test_grid_point_has_the_detuning_and_coupling_it_names(dt, G):
    p = S.point(dt, G)
    d = lyapunov(p).to_dict()
    assert (p.detuning + p.Delta_J) / p.Gamma == pytest.approx(dt, abs=1e-12)
    assert d["coupling"]["r"] == pytest.approx(G, rel=1e-9)
    assert p.damping == "rwa" and p.G0 / p.Gamma == pytest.approx(0.1)


def _row(dt, G, status="ok", cycle=None, basin=None):
    return {"dt_over_gamma": dt, "coupling": G, "power_W_at_g0_0.1": 1e-10, "status": status,
            "stable_cycles": 0 if cycle is None else 1, "cycle_scaled": cycle,
            "cycle_period": None if cycle is None else 6.29,
            "cycle_sweep_omega_m": None if cycle is None else 0.587 * cycle,
            "basin_scaled": basin, "cpu_s": 1.0}


def test_report_follows_the_rows(tmp_path):
    dts, Gs = [0.3, 0.85], [0.4, 0.6096]
    rows = [_row(0.3, 0.4, "unstable"), _row(0.85, 0.4),
            _row(0.3, 0.6096, cycle=5.0, basin=3.0), _row(0.85, 0.6096, cycle=6.65, basin=4.49)]
    path = tmp_path / "S.md"
    S.write_markdown(rows, dts, Gs, path, wall=10.0)
    text = path.read_text()
    assert "| 0.4 | unstable | - |" in text
    assert "| 0.6096 | 5.00 / 3.00 | 6.65 / 4.49 |" in text
    assert "3 linearly stable, a coexisting stable cycle at 2 of them" in text
    assert "| 0.1 | 66.5 | 44.9 |" in text
