"""SDE ensembles: exact variances, agreement with Lyapunov, reproducibility, resume, faults."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params, lyapunov
from simulator.cli import main
from simulator.errors import CheckpointError, StatisticsWarning
from simulator.jsonio import to_jsonable
from simulator.sde import (
    LangevinSystem,
    SDEOptions,
    SDEResult,
    UnstableSystemError,
    fluctuation_system,
    run_chunks,
    simulate_sde,
)

ROOT = Path(__file__).resolve().parents[1]

# A short run at the paper's point: 256 trajectories, 600 / omega_m of averaging, ~0.3 s. Four
# chunks of two 300 / omega_m batches (over 10 correlation times at every point here): 8
# statistical units, the engine's minimum, at half the Python overhead of eight chunks. The
# exponential integrator's step error at dt = 0.2 is ~5e-8 of the second moments here (the
# dt vs dt/2 check), far below the ~1% error bars: half the steps of dt = 0.1, same statistics.
QUICK = SDEOptions(n_traj=256, chunk_size=64, dt=0.2, t_avg=600.0, batch_time=300.0)


@functools.lru_cache(maxsize=4)
def quick_run(params: Params) -> SDEResult:
    """``simulate_sde(params, QUICK, seed=1)``, run once per point for this module."""
    return simulate_sde(params, QUICK, seed=1)


def assert_within(estimate, stderr, exact, n_sigma=5.0):
    estimate, stderr = np.asarray(estimate), np.asarray(stderr)
    assert np.all(stderr > 0)
    z = (estimate - exact) / stderr
    assert np.all(np.abs(z) < n_sigma), z


# ---- exactly solvable systems -----------------------------------------------------------------
@pytest.mark.parametrize("method,dt", [("exponential", 0.2), ("sra1", 0.05), ("euler", 0.02)])
def test_ornstein_uhlenbeck_stationary_variance(method, dt):
    """dx = -gamma x dt + sigma dW: variance sigma^2 / (2 gamma); for Euler-Maruyama the exact
    variance of the discrete scheme, sigma^2 / (gamma (2 - gamma dt))."""
    gamma, sigma2 = 1.0, 0.8
    system = LangevinSystem(A=[[-gamma]], D=[[sigma2]])
    # 2 chunks of 200 with ten 20-unit batches (20 correlation times): 20 units, the trajectory
    # time of 4 chunks of 100 at half the steps (one variable: a step costs about the same for
    # 100 or 200 trajectories)
    opts = SDEOptions(method=method, dt=dt, n_traj=400, chunk_size=200, t_burn=10.0,
                      t_avg=200.0, batch_time=20.0, initial="gaussian",
                      initial_covariance=((0.0,),))
    res = simulate_sde(system, opts, seed=11)
    exact = sigma2 / (2 * gamma) if method != "euler" else sigma2 / (gamma * (2 - gamma * dt))
    assert_within(res.covariance[0, 0], res.covariance_stderr[0, 0], exact)
    assert_within(res.mean[0], res.mean_stderr[0], 0.0)
    # the error bar is small enough for the test to mean something
    assert res.covariance_stderr[0, 0] < 0.01 * exact


@pytest.mark.parametrize("method", ["exponential", "sra1"])
def test_thermal_oscillator_thermalises(method):
    """Brownian oscillator dq = p, dp = -q - gamma p + noise gamma (2 n + 1): V = (n + 1/2) I."""
    gamma, n_th = 0.2, 2.0
    system = LangevinSystem(A=[[0.0, 1.0], [-1.0, -gamma]], D=[[0.0, 0.0], [0.0, gamma * (2 * n_th + 1)]])
    opts = SDEOptions(method=method, dt=0.1, n_traj=256, chunk_size=128, t_avg=600.0,
                      initial="gaussian", initial_covariance=((0.0, 0.0), (0.0, 0.0)))
    res = simulate_sde(system, opts, seed=5)
    assert_within(res.covariance, res.covariance_stderr, (n_th + 0.5) * np.eye(2))
    assert res.lyapunov["verdict"].startswith("agree")


# ---- the paper's points -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [Params.paper(), Params.paper(beta=0.3), Params.paper(beta=0.3, damping="rwa")],
    ids=["immune", "defect", "defect-rwa"],
)
def test_paper_point_matches_lyapunov_quick(params):
    res = quick_run(params)
    ref = lyapunov(params)
    assert res.status == "ok" and res.diverged == 0
    np.testing.assert_array_equal(res.lyapunov["covariance"], ref.covariance)
    assert res.lyapunov["max_abs_z"] < 5
    en, se = res.log_negativity["r_m"], res.log_negativity_stderr["r_m"]
    assert 0 < se < 0.01
    assert abs(en - ref.log_negativity["r_m"]) < 5 * se
    assert res.lyapunov["verdict"] == "agree"


@pytest.mark.slow
@pytest.mark.parametrize("beta", [np.pi / 8, 0.3], ids=["immune", "defect"])
def test_paper_point_matches_lyapunov_full(beta):
    params = Params.paper(beta=beta)
    opts = SDEOptions(n_traj=2048, chunk_size=256, dt=0.1, t_avg=3000.0)
    res = simulate_sde(params, opts, seed=2, n_jobs=2)
    ref = lyapunov(params)
    assert res.lyapunov["max_abs_z"] < 5
    en, se = res.log_negativity["r_m"], res.log_negativity_stderr["r_m"]
    assert se < 0.0015
    assert abs(en - ref.log_negativity["r_m"]) < 5 * se
    assert np.abs(res.covariance_stderr).max() < 0.01 * np.abs(ref.covariance).max()


def test_euler_bias_is_visible_at_paper_point():
    """The estimator is sharp enough to see Euler-Maruyama's anti-damping bias at dt = 0.05.

    A quarter of QUICK's trajectories (64, as two chunks of 32 with four 150 / omega_m batches,
    just over 10 correlation times: 8 statistical units, status ok) already puts it at
    max |z| = 25 (22-31 over seeds 1-5; four chunks of 16 with two 300 / omega_m batches:
    27-43), far beyond the 5-sigma band."""
    opts = QUICK.replace(method="euler", dt=0.05, n_traj=64, chunk_size=32, batch_time=150.0)
    res = simulate_sde(Params.paper(), opts, seed=1)
    assert res.status == "ok"
    assert res.lyapunov["max_abs_z"] > 5


# ---- reproducibility --------------------------------------------------------------------------
# Batches of 10 / omega_m are far shorter than the correlation time at the paper's point: these
# runs check bits, not error bars, and carry status "few_units" (see test_small_is_few_units).
SMALL = SDEOptions(n_traj=48, chunk_size=8, dt=0.1, t_burn=20.0, t_avg=40.0, batch_time=10.0)


def test_small_is_few_units():
    with pytest.warns(StatisticsWarning, match="correlation times"):
        res = simulate_sde(Params.paper(), SMALL.replace(n_traj=16, initial="lyapunov"), seed=0)
    assert res.status == "few_units" and res.flags == ("few_units",)
    assert "batch_time 10 is 0.676 correlation times" in res.message


def _same(a: SDEResult, b: SDEResult) -> None:
    for name in ("unit_s1", "unit_s2", "unit_counts", "covariance", "covariance_stderr", "mean"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    # NaN (the error of a value below resolution) compares unequal to itself: compare as JSON
    assert to_jsonable(a.observables) == to_jsonable(b.observables)
    assert a.seeds == b.seeds


@few_units_ok  # bits, not statistics
def test_results_independent_of_n_jobs():
    p = Params.paper(beta=0.3)
    r1 = simulate_sde(p, SMALL, seed=7, n_jobs=1)
    r2 = simulate_sde(p, SMALL, seed=7, n_jobs=2)
    r4 = simulate_sde(p, SMALL, seed=7, n_jobs=4)
    _same(r1, r2)
    _same(r1, r4)
    r_other = simulate_sde(p, SMALL, seed=8)
    assert not np.array_equal(r1.covariance, r_other.covariance)


@few_units_ok  # bits, not statistics
def test_resume_after_interruption_is_bit_identical(tmp_path):
    p = Params.paper()
    full = simulate_sde(p, SMALL, seed=3)
    out = tmp_path / "run"
    # an "interrupted" run that finished chunks 0, 2 and 5 only
    from simulator.sde.engine import _identity

    run_chunks(fluctuation_system(p), SMALL, 3, chunk_ids=[0, 2, 5], out=out,
               identity=_identity(p, SMALL, 3))
    files = sorted(f.name for f in (out / "chunks").iterdir())
    assert files == ["chunk_00000.npz", "chunk_00002.npz", "chunk_00005.npz"]
    stamps = {f: os.stat(out / "chunks" / f).st_mtime_ns for f in files}
    seen = []
    resumed = simulate_sde(p, SMALL, seed=3, out=out, progress=lambda d, t: seen.append((d, t)))
    _same(full, resumed)
    assert seen[0] == (3, 6) and seen[-1] == (6, 6)  # three chunks loaded, three computed
    assert {f: os.stat(out / "chunks" / f).st_mtime_ns for f in files} == stamps
    # a different run refuses the directory
    with pytest.raises(CheckpointError, match="different run"):
        simulate_sde(p, SMALL, seed=4, out=out)


@few_units_ok  # bits, not statistics
def test_resume_keeps_the_step_size_check(tmp_path, monkeypatch):
    """The step-size check's chunk is checkpointed beside the run's (``out/step_size_check``):
    a rerun integrates nothing and gives the same check, bit for bit, as a run without ``out``."""
    import simulator.sde.parallel as parallel

    p, opts = Params.paper(), SMALL.replace(error_check=True)
    first = simulate_sde(p, opts, seed=3, out=tmp_path / "run")
    assert (tmp_path / "run" / "step_size_check" / "manifest.json").exists()
    computed = []
    monkeypatch.setattr(parallel, "_run_and_save",
                        lambda *a, **k: computed.append(a) or pytest.fail("a chunk was run"))
    again = simulate_sde(p, opts, seed=3, out=tmp_path / "run")
    assert computed == [] and again.error_check == first.error_check
    monkeypatch.undo()
    assert simulate_sde(p, opts, seed=3).error_check == first.error_check


@few_units_ok  # bits, not statistics
def test_killed_cli_run_resumes_bit_identical(tmp_path, capsys):
    """Kill a real `wgmsim sde --out` process after its first checkpoint, rerun, compare."""
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "simulator", "sde", "--n-traj", "24", "--chunk-size", "1",
            "--dt", "0.1", "--t-burn", "50", "--t-avg", "150", "--batch-time", "50",
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
    assert n_done >= 1
    assert not (out / "result.json").exists()
    # the killed process left its lock file behind; the kernel released the lock itself
    assert (out / ".lock.info").read_text().startswith(f"pid {proc.pid} on ")
    # the resume runs in-process (the killed process is the real one under test here)
    assert main(args[3:]) == 0
    resumed = json.loads(capsys.readouterr().out)
    opts = SDEOptions(n_traj=24, chunk_size=1, dt=0.1, t_burn=50.0, t_avg=150.0, batch_time=50.0)
    ref = simulate_sde(Params.paper(), opts, seed=9)
    assert resumed["covariance"] == ref.covariance.tolist()
    assert resumed["log_negativity"] == ref.log_negativity
    loaded = SDEResult.load(out)
    _same(loaded, ref)


# ---- results ---------------------------------------------------------------------------------
@few_units_ok  # a round trip, not statistics
def test_result_save_load_roundtrip(tmp_path):
    opts = SMALL.replace(keep_trajectories=3, keep_every=5, error_check=True)
    res = simulate_sde(Params.paper(beta=0.3), opts, seed=1)
    res.save(tmp_path)
    back = SDEResult.load(tmp_path)
    _same(res, back)
    assert back.params == res.params and back.options == res.options
    np.testing.assert_array_equal(back.trajectories, res.trajectories)
    assert res.trajectories.shape == (1 + 600 // 5, 3, 6)
    np.testing.assert_array_equal(back.lyapunov["z"], res.lyapunov["z"])
    assert back.error_check == res.error_check
    assert set(res.versions) >= {"numpy", "scipy", "joblib", "python", "wgmsim"}
    assert res.timing["trajectory_steps"] == 48 * 600


@few_units_ok  # dt vs dt/2 on one noise path, no error bar
def test_step_size_error_check_small_for_exponential():
    res = simulate_sde(Params.paper(), SMALL.replace(error_check=True), seed=1)
    e = res.error_check
    assert e["n_traj"] == 48
    assert e["second_moment_relative_difference"] < 1e-4
    res_em = simulate_sde(Params.paper(), SMALL.replace(error_check=True, method="euler"), seed=1)
    assert res_em.error_check["second_moment_relative_difference"] > 1e-3


@few_units_ok  # output, not statistics
def test_engine_prints_nothing(capsys):
    simulate_sde(Params.paper(), SMALL.replace(n_traj=8), seed=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ---- faults and bad input ---------------------------------------------------------------------
def test_unstable_parameters_refused_before_work(tmp_path):
    p = Params.paper(detuning=-3.0 * Params.paper().Gamma)
    lam = lyapunov(p).eigenvalues[0]
    with pytest.raises(UnstableSystemError, match="eigenvalue") as info:
        simulate_sde(p, SMALL, out=tmp_path / "never")
    assert f"{lam.real:+.6e}" in str(info.value)
    assert not (tmp_path / "never").exists()


@pytest.mark.filterwarnings("ignore::simulator.errors.StabilityWarning")
def test_diverging_trajectories_counted_and_left_out():
    # dx = (-x + x^2) dt + noise: escapes over the barrier at x = 1 blow up in finite time
    system = LangevinSystem(A=[[-1.0]], D=[[0.3]], nonlinearity=lambda x: x * x)
    opts = SDEOptions(n_traj=64, chunk_size=16, dt=0.01, t_burn=0.0, t_avg=40.0, batch_time=10.0,
                      initial="gaussian", initial_covariance=((0.1,),))
    res = simulate_sde(system, opts, seed=2)
    assert 0 < res.diverged < 64
    assert res.status == "diverged" and "diverged" in res.message
    assert np.all(np.isfinite(res.covariance))
    # the linear unstable system is refused, and when allowed every trajectory diverges
    grow = LangevinSystem(A=[[0.3]], D=[[1.0]])
    gopts = SDEOptions(n_traj=8, chunk_size=4, dt=0.1, t_burn=0.0, t_avg=100.0,
                       initial="gaussian", initial_covariance=((1.0,),))
    with pytest.raises(UnstableSystemError, match=r"\+3\.0+e-01"):
        simulate_sde(grow, gopts)
    # when allowed, every trajectory passes 1000 initial standard deviations within the first
    # block: no statistics, an error rather than a result
    with pytest.raises(FloatingPointError, match="8 of 8 trajectories diverged"):
        simulate_sde(grow, gopts.replace(allow_unstable=True))


@pytest.mark.parametrize(
    "change,field",
    [
        ({"dt": -0.1}, "dt"),
        ({"n_traj": 0}, "n_traj"),
        ({"method": "rk4"}, "method"),
        ({"t_avg": float("nan")}, "t_avg"),
        ({"chunk_size": 2.5}, "chunk_size"),
        ({"initial": "vacuum"}, "initial"),
        ({"initial_covariance": ((1.0,),)}, "initial_covariance"),
        ({"error_check": 1}, "error_check"),
    ],
)
def test_bad_options_name_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        SDEOptions(**change)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="seed"):
        simulate_sde(Params.paper(), SMALL, seed=-1)
    with pytest.raises(ValueError, match="n_jobs"):
        simulate_sde(Params.paper(), SMALL, n_jobs=0)
    with pytest.raises(TypeError, match="options"):
        simulate_sde(Params.paper(), {"dt": 0.1})


@few_units_ok  # bits, not statistics
@pytest.mark.slow
def test_dask_backend_gives_the_same_bits():
    """joblib's dask backend on a local cluster: same result as n_jobs = 1.

    Under -m slow: the default run checks the same route (a ``distributed.LocalCluster``, a
    ``Client`` and ``joblib.parallel_config(backend="dask")``, simulator/cli/cluster.py) bit for
    bit through the command line in tests/test_cluster.py; a second local cluster cost 2 s of
    CPU."""
    distributed = pytest.importorskip("distributed")
    import joblib

    p = Params.paper()
    ref = simulate_sde(p, SMALL, seed=7)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            res = simulate_sde(p, SMALL, seed=7, n_jobs=2)
    _same(ref, res)


def test_block_size_changes_only_rounding():
    """The noise is drawn step-major, so the trajectories do not depend on the block size; the
    sums are partitioned differently, so the statistics agree to rounding only."""
    p = Params.paper(beta=0.3)
    system = fluctuation_system(p)
    opts = SMALL.replace(n_traj=16)  # two of SMALL's chunks: blocks are per chunk
    base = run_chunks(system, opts, 5)
    assert len(base) == 2
    for block in (1, 7, 300):
        other = run_chunks(system, opts.replace(block_steps=block), 5)
        for a, b in zip(base, other):
            np.testing.assert_array_equal(a.final_state, b.final_state)
            np.testing.assert_allclose(a.s2, b.s2, rtol=1e-12)
            np.testing.assert_array_equal(a.counts, b.counts)


# ---- result protocol ---------------------------------------------------------------------------
VERSION_KEYS = {"python", "wgmsim", "numpy", "scipy", "qutip", "joblib", "matplotlib"}


def assert_result_protocol(res, tmp_path):
    """save/load bit for bit with the same metadata and provenance; JSON-safe to_dict with
    complete provenance; short repr and an HTML table; xarray with the wgmsim metadata."""
    import qutip

    res.save(tmp_path)
    back = type(res).load(tmp_path)
    a, b = res._arrays(), back._arrays()
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert json.dumps(back._meta(), default=str) == json.dumps(res._meta(), default=str)
    assert back.provenance == res.provenance
    prov = json.loads(json.dumps(res.to_dict(), allow_nan=False))["provenance"]
    assert VERSION_KEYS <= set(prov["versions"])
    assert prov["versions"]["qutip"] == qutip.__version__
    assert prov["timestamp"] and prov["seeds"] == res.seeds and prov["options"]["n_traj"]
    r = repr(res)
    assert "\n" not in r and len(r) < 400 and "array" not in r
    assert r.startswith(type(res).__name__ + "(")
    assert "<table>" in res._repr_html_()
    pytest.importorskip("xarray")
    ds = res.to_xarray()
    assert ds.attrs["wgmsim_type"] == type(res).__name__
    json.loads(ds.attrs["wgmsim"])
    return back, ds


@few_units_ok  # a round trip, not statistics
def test_sde_result_protocol(tmp_path):
    res = simulate_sde(Params.paper(), SMALL.replace(keep_trajectories=2, keep_every=50),
                       seed=2)
    back, ds = assert_result_protocol(res, tmp_path)
    _same(res, back)
    assert back.lyapunov["verdict"] == res.lyapunov["verdict"]
    np.testing.assert_array_equal(back.lyapunov["z"], res.lyapunov["z"])
    assert json.loads((tmp_path / "result.json").read_text())["type"] == "SDEResult"
    assert ds["covariance"].dims == ("mode_i", "mode_j")
    np.testing.assert_array_equal(ds["covariance"].sel(mode_i="q", mode_j="p").values,
                                  res.covariance[4, 5])
    assert ds["unit_s2"].dims == ("unit", "mode_i", "mode_j")
    np.testing.assert_array_equal(ds["unit_s2"].values, res.unit_s2)
    np.testing.assert_array_equal(ds["trajectories"].values, res.trajectories)
    np.testing.assert_array_equal(ds["sample_time"].values, res.trajectory_times)
    np.testing.assert_array_equal(ds["lyapunov_covariance"].values, res.lyapunov["covariance"])
    assert f"E_N[r_m]={res.log_negativity['r_m']:.6g}" in repr(res)
    assert res.provenance["params"] == Params.paper().to_dict()


def test_sde_result_of_an_explicit_system_round_trips(tmp_path):
    system = LangevinSystem(A=[[-1.0, 0.3], [-0.3, -1.0]], D=np.eye(2))
    res = simulate_sde(system, SDEOptions(n_traj=16, chunk_size=4, dt=0.1, t_burn=5.0,
                                          t_avg=20.0, batch_time=10.0, initial="lyapunov"),
                       seed=1)
    back, ds = assert_result_protocol(res, tmp_path)
    assert back.params is None and ds["mode_i"].values.tolist() == ["x0", "x1"]
    with pytest.raises(ValueError, match="6-variable"):
        res.to_estimate()


@few_units_ok  # a round trip, not statistics
def test_sde_result_reads_format_2_folders(tmp_path):
    """Folders written before the result protocol (result.json = the format-2 record) load."""
    from simulator.resultio import write_result

    res = simulate_sde(Params.paper(), SMALL, seed=3)
    arrays = {k: getattr(res, k) for k in ("unit_s1", "unit_s2", "unit_counts", "chunk_seconds")}
    write_result(tmp_path, "result", res._record(), arrays)
    back = SDEResult.load(tmp_path)
    _same(res, back)
    assert back.versions == res.versions and back.timestamp == res.timestamp
    assert back.provenance["versions"] == res.versions


def test_sde_estimate_and_xxpp():
    from simulator.compare import compare
    from simulator.conventions import covariance_xxpp
    from simulator.validate import reference_scalars, sde_estimate

    res = quick_run(Params.paper())  # 8 units, status ok: the comparison below is statistical
    assert res.status == "ok"
    est = res.to_estimate()
    assert est.engine == "sde" and est.error_kind == "stderr"
    np.testing.assert_array_equal(est.covariance_err, res.covariance_stderr)
    assert est.scalars["E_N[r_m]"] == res.log_negativity["r_m"]
    assert est.scalars_err["E_N[r_m]"] == res.log_negativity_stderr["r_m"] > 0
    assert est.info["n_units"] == res.n_units >= 8
    assert sde_estimate(res).scalars == est.scalars
    ref = lyapunov(Params.paper())
    comp = compare(ref.covariance, reference_scalars(ref), est)
    assert comp.agrees, comp.verdict
    np.testing.assert_array_equal(res.covariance_xxpp(), covariance_xxpp(res.covariance))
    assert res.covariance_xxpp(1.0)[2, 2] == res.covariance[4, 4]  # x_m = q at hbar = 1
