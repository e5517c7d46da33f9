"""validation/stability_map.py: its grid points are the ones it names, and its report follows
from the numbers (one small search, the rest synthetic rows); its escape table and conclusions
follow the escape runs' records (synthetic; one real tiny run is ``slow``)."""

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
            "basin_scaled": basin}


def test_report_follows_the_rows(tmp_path):
    dts, Gs = [0.3, 0.85], [0.4, 0.6096]
    rows = [_row(0.3, 0.4, "unstable"), _row(0.85, 0.4),
            _row(0.3, 0.6096, cycle=5.0, basin=3.0), _row(0.85, 0.6096, cycle=6.65, basin=4.49)]
    path = tmp_path / "S.md"
    S.write_markdown(rows, dts, Gs, path)
    text = path.read_text()
    assert "| 0.4 | unstable | - |" in text
    assert "| 0.6096 | 5.00 / 3.00 | 6.65 / 4.49 |" in text
    assert "3 linearly stable, a coexisting stable cycle at 2 of them" in text
    assert "| 0.1 | 66.5 | 44.9 |" in text
    assert "were not run" in text  # no escape runs given: said so, not silently left out


def _esc(g, initial, rate=None, bound=1e-5, captured=0, n=512):
    measured = rate is not None
    return {"g0_over_gamma": g, "initial": initial, "n_traj": n, "t_avg": 2000.0, "seed": 1,
            "status": "metastable" if measured or captured else "ok", "radius": 8.0,
            "diverged": 7 if measured else 0,
            "count": captured + (3 if measured else 0),
            "captured": {"count": captured, "value": captured / n, "low": 0.0,
                         "high": 0.01 + captured / n, "level": 0.95},
            "fraction": {"value": 0.0, "low": 0.0, "high": 0.01, "level": 0.95},
            "stationary": {"count": 3 if measured else 0, "exposure": 1.0e6},
            "rate": ({"value": rate, "low": rate / 3, "high": rate * 3, "upper_bound": False}
                     if measured else {"value": 0.0, "low": 0.0, "high": bound,
                                       "upper_bound": True}),
            "lifetime_s": {"value": 1 / rate / 1e8 if measured else None,
                           "low": 1 / (rate if measured else bound) / 3e8,
                           "high": 3 / rate / 1e8 if measured else None}}


def test_escape_table_and_conclusions_follow_the_runs(tmp_path):
    rows = [_row(0.85, 0.6096, cycle=6.65, basin=4.49)]
    escapes = [_esc(0.1, "lyapunov", bound=3e-6), _esc(0.1, "thermal", captured=51),
               _esc(0.7, "lyapunov", rate=4.8e-4), _esc(0.7, "thermal", captured=400)]
    path = tmp_path / "S.md"
    S.write_markdown(rows, [0.85], [0.6096], path, escapes)
    text = path.read_text()
    assert "| 0.1 | 44.9 | 8 | 0 / 1e+06 | < 3e-06 |" in text and "| ok (0) |" in text
    assert "| 0.7 | 6.41 | 8 | 3 / 1e+06 | 0.00048 (0.00016..0.0014) |" in text
    assert "51 of 512: 0.100" in text and "400 of 512: 0.781" in text
    assert "nothing escapes at G0/Gamma 0.1:" in text and "upper bound 3e-06" in text
    assert "0.00048 (0.00016..0.0014) per 1/omega_m at G0/Gamma 0.7" in text
    assert "7 at 0.7" in text  # the diverged ones are said, not counted as escapes
    assert "not run" not in text and "paper's point" in text


@pytest.mark.slow
def test_figure_draws_the_escape_panel(tmp_path):
    escapes = [_esc(0.1, "lyapunov", bound=3e-6), _esc(0.1, "thermal", captured=51),
               _esc(0.7, "lyapunov", rate=4.8e-4), _esc(0.7, "thermal", captured=400)]
    S.plot([_row(0.85, 0.6096, cycle=6.65, basin=4.49)], [0.85], [0.6096],
           tmp_path / "f.png", escapes)
    assert (tmp_path / "f.png").stat().st_size > 0


@pytest.mark.slow
def test_one_escape_run_has_the_recorded_structure(monkeypatch):
    monkeypatch.setitem(S.ESCAPE_RUNS, "thermal", (64, 100.0, 3))
    e = S.escape_run(0.3, "thermal")
    assert e["radius"] == pytest.approx(4.49 / 0.3, rel=0.05)
    assert e["captured"]["low"] <= e["captured"]["value"] <= e["captured"]["high"]
    assert e["stationary"]["exposure"] > 0 and isinstance(e["diverged"], int)
    assert e["status"] in ("ok", "metastable", "diverged")
    assert "times" not in e
