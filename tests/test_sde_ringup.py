"""Ring-up transients: SDE ensemble from an empty cavity against the linearised covariance."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params, lyapunov
from simulator.statistics import Z_AGREE
from simulator.cli import main
from simulator.sde.ringup import RingupOptions, simulate_ringup

OPTS = RingupOptions(n_traj=256, chunk_size=16, dt=0.05, t_final=150.0, output_every=5.0,
                     ramp_time=20.0)


@pytest.fixture(scope="module")
def ringup():
    return simulate_ringup(Params.paper(), OPTS, seed=1)


def test_ringup_reaches_the_fixed_point(ringup):
    res = ringup
    assert res.diverged == 0 and res.status == "ok"
    assert res.t[0] == 0.0 and res.t[-1] == 150.0
    n_ss = 0.5 * (res.mean_field[-1, 0] ** 2 + res.mean_field[-1, 1] ** 2)
    from simulator import lyapunov

    ref = lyapunov(Params.paper())
    assert n_ss == pytest.approx(float(ref.mean_field.photon_number["r"]), rel=1e-3)
    assert res.mean_field[-1, 4] == pytest.approx(float(ref.mean_field.q), rel=1e-3)
    # empty cavity at t = 0, cooled mechanics at the end
    m, V, sm, sV = res.mean[0], res.covariance[0], res.mean_stderr[0], res.covariance_stderr[0]
    n0_err = 0.5 * np.sqrt(sV[0, 0] ** 2 + sV[1, 1] ** 2 + (2 * m[0] * sm[0]) ** 2
                           + (2 * m[1] * sm[1]) ** 2)  # from the reported errors
    assert abs(res.photon_number["r"][0]) < Z_AGREE * n0_err  # measured -0.6 sigma
    assert res.phonon_number[0] > 300 and res.phonon_number[-1] < 1.0


def test_ringup_covariance_follows_linearised_equation(ringup):
    """All 21 elements at all 31 times within 6 sigma (651 comparisons; 16 chunks give the
    error bars), and the late-time covariance within 5 sigma of the stationary Lyapunov one."""
    res = ringup
    assert res.max_abs_z < 6.0
    np.testing.assert_allclose(res.linear_covariance[0],
                               np.diag([0.5] * 4 + [float(res.params.n_m) + 0.5] * 2))
    from simulator import lyapunov

    VL = lyapunov(Params.paper()).covariance
    z = (res.covariance[-1] - VL) / res.covariance_stderr[-1]
    assert np.abs(z).max() < 5


def test_ringup_options_name_the_field():
    with pytest.raises(ValueError, match="output_every"):
        RingupOptions(dt=0.05, output_every=0.07)
    with pytest.raises(ValueError, match="method"):
        RingupOptions(method="rk4")
    with pytest.raises(ValueError, match="ramp_time"):
        RingupOptions(ramp_time=-1.0)


def test_ringup_cli_json_and_plot(capsys, tmp_path):
    fig = tmp_path / "ringup.png"
    rc = main(["ringup", "--n-traj", "32", "--chunk-size", "8", "--t-final", "20",
               "--output-every", "5", "--quiet", "--json", "--plot", str(fig)])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["t"]) == 5 and np.shape(data["covariance"]) == (5, 6, 6)
    assert fig.exists() and fig.stat().st_size > 1000


def test_ringup_save_load_roundtrip(tmp_path, capsys):
    from simulator.sde.ringup import RingupResult

    assert main(["ringup", "--n-traj", "32", "--chunk-size", "16", "--t-final", "10",
                 "--output-every", "5", "--quiet", "--json", "--out", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    res = RingupResult.load(tmp_path)
    assert np.array_equal(res.covariance, np.array(printed["covariance"]))
    assert res.params == Params.paper() and res.options.n_traj == 32 and res.seed == 0
    assert res.max_abs_z == pytest.approx(printed["max_abs_z"])
    # two chunks are too few for error bars: said in the status, kept through save/load
    assert res.status == "few_units" and "only 2 chunks" in res.message
    assert res.versions["numpy"] == np.__version__ and res.timestamp


# ---- ring-up on the shared engine -----------------------------------------------------------------
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from simulator.sde import SDEOptions, fluctuation_system, simulate_sde  # noqa: E402
from simulator.statistics import z_scores  # noqa: E402
from simulator.sde.ringup import RingupResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@few_units_ok  # 5 / omega_m batches are flagged (under 10 correlation times); the comparison is exact
def test_ringup_from_the_steady_state_ends_as_a_stationary_run():
    """A stationary system started in its steady state: the ring-up's statistics at t_final are
    the stationary engine's (burn-in t_final - output_every, one sample) bit for bit -- same
    seeds, same noise, same integrator, same chunk loop."""
    system = fluctuation_system(Params.paper())
    ring = simulate_ringup(system, RingupOptions(n_traj=64, chunk_size=8, dt=0.1, t_final=20.0,
                                                 output_every=5.0), seed=3)
    stat = simulate_sde(system, SDEOptions(n_traj=64, chunk_size=8, dt=0.1, t_burn=15.0,
                                           t_avg=5.0, batch_time=5.0, sample_every=50,
                                           initial="lyapunov", bound=1e6), seed=3)
    assert ring.t[-1] == 20.0 and stat.n_units == 8 == ring.n_units
    np.testing.assert_array_equal(ring.unit_s2[:, -1], stat.unit_s2)
    np.testing.assert_array_equal(ring.unit_s1[:, -1], stat.unit_s1)
    np.testing.assert_array_equal(ring.covariance[-1], stat.covariance)
    np.testing.assert_array_equal(ring.covariance_stderr[-1], stat.covariance_stderr)
    np.testing.assert_array_equal(ring.mean[-1], ring.mean_field[-1] + stat.mean)
    for k, v in stat.log_negativity.items():
        assert ring.log_negativity[k][-1] == v
        assert ring.log_negativity_stderr[k][-1] == stat.log_negativity_stderr[k]
    # the linear reference of an explicit stable system started stationary stays stationary
    VL = lyapunov(Params.paper()).covariance
    np.testing.assert_allclose(ring.linear_covariance, np.broadcast_to(VL, (5, 6, 6)),
                               rtol=1e-8, atol=1e-8 * np.abs(VL).max())
    assert ring.seeds == stat.seeds and ring.status == "ok"


def test_ringup_energy_of_entanglement_has_jackknife_error_bars(ringup):
    """E_N(t) of every pair carries a jackknife error over chunks; the ensemble agrees with the
    linearised E_N(t) within 5 sigma at every time (z from statistics.z_scores)."""
    lin = log_negativity_of(ringup.linear_covariance)
    late = ringup.t >= 75  # entanglement builds up from t ~ 65 (linearised)
    for pair, en in ringup.log_negativity.items():
        se = ringup.log_negativity_stderr[pair]
        assert se.shape == ringup.t.shape
        if pair == "r_m":  # entangled at late times (the other pairs: E_N clipped at 0)
            assert np.all(se[late] > 0) and np.all(en[late] > 0)
        z = z_scores(en, se, lin[pair])
        # an E_N clipped at 0 by every jackknife replica has no error bar (z = 0 or inf there;
        # clipped E_N are issue 13's): compare where the error bar exists
        assert np.all(np.abs(z[se > 0]) < 5), (pair, z)
    assert (ringup.log_negativity_stderr["r_m"] > 0).sum() >= 17
    # (E_N(r_m) at t_final is 0.16 +- 0.07 here: not resolved from zero at 5 sigma, so no claim
    # about its size is made; the jackknife's coverage is tested in test_sde_estimators.py)
    assert ringup.stderr_t_factor > 1 and len(ringup.seeds) == OPTS.n_chunks
    assert ringup.versions["numpy"] == np.__version__ and ringup.timestamp


def log_negativity_of(V):
    from simulator.observables import log_negativity

    return log_negativity(V)


def test_ringup_z_is_zero_or_inf_where_the_error_is_zero(ringup):
    """z where the error bar vanishes follows statistics.z_scores (0 if equal, never NaN)."""
    assert not np.isnan(ringup.z).any()
    np.testing.assert_array_equal(
        ringup.z, z_scores(ringup.covariance, ringup.covariance_stderr, ringup.linear_covariance))


@few_units_ok  # bits, not statistics
def test_ringup_is_bit_identical_across_n_jobs():
    opts = RingupOptions(n_traj=32, chunk_size=8, dt=0.05, t_final=20.0, output_every=5.0,
                         ramp_time=5.0)
    one = simulate_ringup(Params.paper(), opts, seed=4, n_jobs=1)
    two = simulate_ringup(Params.paper(), opts, seed=4, n_jobs=2)
    for k in RingupResult._ARRAYS[:-1]:
        np.testing.assert_array_equal(getattr(one, k), getattr(two, k), err_msg=k)
    assert two.timing["n_jobs"] == min(2, os.cpu_count() or 1)


@pytest.mark.parametrize("kw,match", [({"seed": -1}, "seed"), ({"seed": True}, "seed"),
                                      ({"seed": 1.5}, "seed"), ({"n_jobs": 0}, "n_jobs"),
                                      ({"n_jobs": "2"}, "n_jobs")])
def test_ringup_validates_seed_and_n_jobs(kw, match):
    with pytest.raises(ValueError, match=match):
        simulate_ringup(Params.paper(), OPTS, **kw)


@few_units_ok  # bits, not statistics
def test_ringup_resumes_from_its_checkpoints_bit_identical(tmp_path):
    """out=DIR: chunks saved with the run id; a rerun after losing some recomputes only those and
    gives the same bits; another run's folder is refused."""
    from simulator.errors import CheckpointError

    opts = RingupOptions(n_traj=32, chunk_size=8, dt=0.05, t_final=20.0, output_every=5.0)
    first = simulate_ringup(Params.paper(), opts, seed=5, out=tmp_path)
    files = sorted((tmp_path / "chunks").glob("chunk_*.npz"))
    assert len(files) == 4 and (tmp_path / "manifest.json").exists()
    files[1].unlink()
    files[3].unlink()
    again = simulate_ringup(Params.paper(), opts, seed=5, out=tmp_path)
    for k in RingupResult._ARRAYS[:-1]:
        np.testing.assert_array_equal(getattr(again, k), getattr(first, k), err_msg=k)
    with pytest.raises(CheckpointError, match="different run"):
        simulate_ringup(Params.paper(), opts, seed=6, out=tmp_path)


@pytest.mark.slow  # ~5-10 s: two interpreter starts; the in-process resume above is the fast check
@few_units_ok  # bits, not statistics
def test_killed_ringup_cli_run_resumes_bit_identical(tmp_path):
    """Kill a real `wgmsim ringup --out` process after its first checkpoints, rerun, compare."""
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "simulator", "ringup", "--n-traj", "24", "--chunk-size", "1",
            "--dt", "0.05", "--t-final", "150", "--output-every", "10", "--ramp-time", "20",
            "--seed", "9", "--quiet", "--json", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    chunks = out / "chunks"
    while time.monotonic() < deadline and proc.poll() is None:
        if chunks.exists() and len(list(chunks.glob("chunk_*.npz"))) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list(chunks.glob("chunk_*.npz")))
    if n_done >= 24:
        pytest.skip("the run finished before it could be killed")
    assert n_done >= 1 and not (out / "ringup.json").exists()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = json.loads(done.stdout)
    opts = RingupOptions(n_traj=24, chunk_size=1, dt=0.05, t_final=150.0, output_every=10.0,
                         ramp_time=20.0)
    ref = simulate_ringup(Params.paper(), opts, seed=9)
    assert resumed["covariance"] == ref.covariance.tolist()
    loaded = RingupResult.load(out)
    for k in RingupResult._ARRAYS[:-1]:
        np.testing.assert_array_equal(getattr(loaded, k), getattr(ref, k), err_msg=k)


# ---- result protocol -----------------------------------------------------------------------------
def test_ringup_result_protocol(ringup, tmp_path):
    import qutip

    from simulator.conventions import covariance_xxpp

    res = ringup
    res.save(tmp_path)
    back = RingupResult.load(tmp_path)
    a, b = res._arrays(), back._arrays()
    assert set(a) == set(b) and "observables.log_negativity_stderr.r_m" in a
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert json.dumps(back._meta()) == json.dumps(res._meta())
    assert back.provenance == res.provenance and back.params == res.params
    data = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    prov = data["provenance"]
    assert prov["versions"]["qutip"] == qutip.__version__ and prov["timestamp"]
    assert prov["seeds"] == res.seeds and prov["options"]["n_traj"] == 256
    assert prov["params"] == Params.paper().to_dict()
    assert len(data["log_negativity_stderr"]["r_m"]) == len(res.t)
    r = repr(res)
    assert "\n" not in r and len(r) < 400 and "array" not in r and r.startswith("RingupResult(")
    assert "<table>" in res._repr_html_()
    np.testing.assert_array_equal(res.covariance_xxpp(), covariance_xxpp(res.covariance))
    xr = pytest.importorskip("xarray")
    ds = res.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds.attrs["wgmsim_type"] == "RingupResult"
    assert ds["covariance"].dims == ("time", "mode_i", "mode_j")
    np.testing.assert_array_equal(ds["time"].values, res.t)
    np.testing.assert_array_equal(ds["covariance"].sel(mode_i="q", mode_j="q").values,
                                  res.covariance[:, 4, 4])
    assert ds["unit_s2"].dims == ("chunk", "time", "mode_i", "mode_j")
    np.testing.assert_array_equal(ds["log_negativity"].sel(pair="r_m").values,
                                  res.log_negativity["r_m"])
    np.testing.assert_array_equal(ds["log_negativity_stderr"].sel(pair="l_m").values,
                                  res.log_negativity_stderr["l_m"])


def test_ringup_reads_format_2_folders(ringup, tmp_path):
    """Folders written by the ring-up before the result protocol still load (no chunk sums)."""
    from simulator.resultio import write_result

    res = ringup
    meta = {"format": 2, "params": res.params.to_dict(), "options": res.options.to_dict(),
            "seed": res.seed, "diverged": res.diverged, "timing": res.timing,
            "max_abs_z": res.max_abs_z, "status": res.status, "message": res.message,
            "versions": {"numpy": "1.0"}, "timestamp": "2026-01-01T00:00:00+00:00"}
    write_result(tmp_path, "ringup", meta, {k: getattr(res, k) for k in RingupResult._ARRAYS[:8]})
    back = RingupResult.load(tmp_path)
    np.testing.assert_array_equal(back.covariance, res.covariance)
    assert back.seeds == res.seeds and back.versions == {"numpy": "1.0"}
    assert back.timestamp == "2026-01-01T00:00:00+00:00" and back.unit_s1.shape[0] == 0
    assert back.log_negativity_stderr is None and back.max_abs_z == res.max_abs_z


@few_units_ok  # 2 chunks: only the bits are compared
def test_mean_field_path_and_reference_computed_once_per_point(monkeypatch):
    """A point, span and ramp met again (a command estimates its run first, a sweep repeats
    points) reuses its mean-field path and linearised covariance: the same numbers as computed
    afresh; another ramp is another path."""
    import simulator.sde.ringup as ringup_module
    from simulator.sde.ringup import ringup_system

    monkeypatch.setattr(ringup_module, "_COMPUTED", {})
    opts = RingupOptions(n_traj=8, chunk_size=4, dt=0.05, t_final=10.0, output_every=5.0,
                         ramp_time=2.0)
    p = Params.paper()
    first = simulate_ringup(p, opts, seed=2)
    assert len(ringup_module._COMPUTED) == 2  # the path and the reference
    again = simulate_ringup(p, opts, seed=2)
    assert ringup_system(p, opts)[1] is ringup_system(p, opts)[1]
    assert len(ringup_module._COMPUTED) == 2
    monkeypatch.setattr(ringup_module, "_COMPUTED", {})
    fresh = simulate_ringup(p, opts, seed=2)
    for res in (again, fresh):
        np.testing.assert_array_equal(res.linear_covariance, first.linear_covariance)
        np.testing.assert_array_equal(res.covariance, first.covariance)
        np.testing.assert_array_equal(res.mean_field, first.mean_field)
    res.linear_covariance[...] = 0.0  # a caller's edit stays in its result
    assert simulate_ringup(p, opts, seed=2).linear_covariance[0, 0, 0] == 0.5
    other = ringup_system(p, dataclasses.replace(opts, ramp_time=3.0))[1]
    assert other is not ringup_system(p, opts)[1]
