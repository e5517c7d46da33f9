"""Fault injection on the SDE engine and its files (issue 8, engine half).

Every case asserts the exact outcome: the error type, a message naming the file, folder or value,
that finished chunks survive untouched, and that a later resume gives the same bits as a run that
was never disturbed. Signals and concurrency use real processes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params
from simulator.errors import (
    MIN_UNITS,
    CheckpointError,
    PhysicalityWarning,
    ResultFileError,
    RunInterrupted,
    StabilityWarning,
    StatisticsWarning,
)
from simulator.sde import LangevinSystem, SDEOptions, SDEResult, fluctuation_system, run_chunks
from simulator.sde.engine import _identity, simulate_sde, student_t_factor
from simulator.sde.ensemble import (
    BATCH_MIN_CORRELATION_TIMES,
    BOUND_SIGMAS,
    ChunkResult,
    checkpoint_lock,
    divergence_bound,
    effective_workers,
    estimate_resources,
    schedule,
)
from simulator.sde.estimators import batch_means_stderr
from simulator.sde.ringup import RingupOptions, RingupResult, simulate_ringup
from simulator.jsonio import to_jsonable

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
P = Params.paper()
# 4 chunks x 2 batches = 8 units; batches far shorter than the correlation time (few_units):
# these runs test bits and files, not error bars. They start in the stationary state (a thermal
# start would not relax in t_burn = 5 and add not_stationary).
TINY = SDEOptions(n_traj=8, chunk_size=2, dt=0.1, t_burn=5.0, t_avg=20.0, batch_time=10.0,
                  initial="lyapunov")
SEED = 3

#: Every run here is a fault-injection run on TINY (4 statistical units, flagged): the tests
#: check refusals, bits and round trips, never error bars; the ones about the flag itself say so
#: in their names and catch it with ``pytest.warns``.
pytestmark = few_units_ok


@pytest.fixture(scope="module")
def full():
    """The undisturbed run every resume is compared with."""
    return simulate_sde(P, TINY, seed=SEED)


def _same(a: SDEResult, b: SDEResult) -> None:
    for name in ("unit_s1", "unit_s2", "unit_counts", "covariance", "covariance_stderr", "mean"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    # NaN (the error of a value below resolution) compares as null
    assert to_jsonable(a.observables) == to_jsonable(b.observables)


def _partial(out: Path, ids=(0, 1), seed=SEED, opts=TINY) -> dict[str, int]:
    """An 'interrupted' run that finished chunks ``ids``; returns the files' mtimes."""
    run_chunks(fluctuation_system(P), opts, seed, chunk_ids=list(ids), out=out,
               identity=_identity(P, opts, seed))
    return {f.name: f.stat().st_mtime_ns for f in (out / "chunks").iterdir()}


def _stamps(out: Path) -> dict[str, int]:
    return {f.name: f.stat().st_mtime_ns for f in (out / "chunks").iterdir()}


# ---- checkpoint folders ------------------------------------------------------------------------
def test_resume_loads_finished_chunks_bit_identical(tmp_path, full):
    out = tmp_path / "run"
    stamps = _partial(out)
    seen = []
    res = simulate_sde(P, TINY, seed=SEED, out=out, progress=lambda d, t: seen.append(d))
    _same(full, res)
    assert seen[0] == 2 and seen[-1] == 4
    assert {k: v for k, v in _stamps(out).items() if k in stamps} == stamps


def test_manifest_deleted_is_refused(tmp_path, full):
    out = tmp_path / "run"
    stamps = _partial(out)
    (out / "manifest.json").unlink()
    with pytest.raises(CheckpointError) as info:
        simulate_sde(P, TINY, seed=SEED, out=out)
    msg = str(info.value)
    assert str(out) in msg and "no manifest.json" in msg and "2 chunk file(s)" in msg
    assert "delete the folder" in msg
    assert _stamps(out) == stamps  # nothing touched
    shutil.rmtree(out / "chunks")
    _same(full, simulate_sde(P, TINY, seed=SEED, out=out))


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]"], ids=["empty", "garbage", "list"])
def test_manifest_unreadable_is_refused(tmp_path, content):
    out = tmp_path / "run"
    stamps = _partial(out)
    (out / "manifest.json").write_bytes(content)
    with pytest.raises(CheckpointError, match="not a valid checkpoint manifest") as info:
        simulate_sde(P, TINY, seed=SEED, out=out)
    assert str(out / "manifest.json") in str(info.value)
    assert _stamps(out) == stamps


def test_other_options_refuse_the_folder(tmp_path):
    out = tmp_path / "run"
    stamps = _partial(out)
    with pytest.raises(CheckpointError, match=r"different run \(differs in \['options', "
                                              r"'run_id'\]\)"):
        simulate_sde(P, TINY.replace(dt=0.05), seed=SEED, out=out)
    with pytest.raises(CheckpointError, match=r"differs in \['run_id', 'seed'\]"):
        simulate_sde(P, TINY, seed=SEED + 1, out=out)
    assert _stamps(out) == stamps


def test_chunk_copied_to_another_slot_is_refused(tmp_path, full):
    out = tmp_path / "run"
    _partial(out)
    src, dst = out / "chunks" / "chunk_00000.npz", out / "chunks" / "chunk_00002.npz"
    shutil.copy(src, dst)
    with pytest.raises(CheckpointError) as info:
        simulate_sde(P, TINY, seed=SEED, out=out)
    msg = str(info.value)
    assert msg.startswith(str(dst)) and "holds chunk 0, not chunk 2" in msg
    assert "delete it to recompute that chunk" in msg
    dst.unlink()
    _same(full, simulate_sde(P, TINY, seed=SEED, out=out))


def test_chunk_from_another_run_is_refused(tmp_path, full):
    out, other = tmp_path / "run", tmp_path / "other"
    _partial(out)
    _partial(other, ids=(3,), seed=SEED + 1)
    bad = out / "chunks" / "chunk_00003.npz"
    shutil.copy(other / "chunks" / "chunk_00003.npz", bad)
    with pytest.raises(CheckpointError, match="belongs to another run") as info:
        simulate_sde(P, TINY, seed=SEED, out=out)
    assert str(bad) in str(info.value)
    bad.unlink()
    _same(full, simulate_sde(P, TINY, seed=SEED, out=out))


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_damaged_chunk_is_refused_naming_the_file(tmp_path, full, damage):
    out = tmp_path / "run"
    _partial(out)
    bad = out / "chunks" / "chunk_00001.npz"
    data = bad.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                     "garbage": os.urandom(len(data))}[damage])
    with pytest.raises(CheckpointError, match="unreadable chunk file") as info:
        simulate_sde(P, TINY, seed=SEED, out=out)
    assert str(info.value).startswith(str(bad))
    assert "delete it to recompute that chunk" in str(info.value)
    bad.unlink()
    _same(full, simulate_sde(P, TINY, seed=SEED, out=out))


def test_chunk_with_changed_numbers_fails_its_checksum(tmp_path):
    out = tmp_path / "run"
    _partial(out)
    bad = out / "chunks" / "chunk_00000.npz"
    with np.load(bad) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["s2"] = arrays["s2"] * 1.001
    np.savez(bad, **arrays)
    with pytest.raises(CheckpointError, match="do not match the chunk's checksum") as info:
        simulate_sde(P, TINY, seed=SEED, out=out)
    assert str(bad) in str(info.value)


def test_chunk_of_old_format_is_refused(tmp_path):
    out = tmp_path / "run"
    _partial(out)
    bad = out / "chunks" / "chunk_00000.npz"
    with np.load(bad) as f:
        arrays = {k: f[k] for k in f.files if k not in ("run_id", "digest")}
    np.savez(bad, **arrays)
    with pytest.raises(CheckpointError, match=r"missing \['digest', 'run_id'\]"):
        ChunkResult.load(bad, "x", 0)


def test_checkpoint_files_are_world_readable(tmp_path):
    out = tmp_path / "run"
    _partial(out)
    for f in [out / "manifest.json", out / ".lock", out / ".lock.info",
              *(out / "chunks").iterdir()]:
        assert f.stat().st_mode & 0o777 == 0o644, f
    assert not [f for f in (out / "chunks").iterdir() if f.suffix != ".npz"]  # no temp files


def test_out_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(CheckpointError, match="cannot be used as a checkpoint folder") as info:
        simulate_sde(P, TINY, seed=SEED, out=f)
    assert str(f) in str(info.value)
    assert f.read_text() == "x"


# ---- locks and concurrency (real processes) -----------------------------------------------------
HOLDER = r"""
import os, sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1], thread_local=False)  # kept: released when collected
lock.acquire()
with open(sys.argv[1] + ".info", "w") as f:
    f.write(f"pid {os.getpid()} on testhost since now")
print("locked", flush=True)
time.sleep(60)
"""

RUNNER = r"""
import json, os, signal, sys, time, warnings
signal.signal(signal.SIGINT, signal.default_int_handler)
warnings.simplefilter("ignore")
from simulator import Params
from simulator.errors import CheckpointError, RunInterrupted
from simulator.sde import SDEOptions, simulate_sde
opts = SDEOptions(**json.loads(sys.argv[1]))
gate, hold_at = sys.argv[4], int(sys.argv[5])


def progress(done, total):
    # after `hold_at` chunks, wait (holding the lock) until the test creates the gate file
    deadline = time.monotonic() + 60
    while done >= hold_at and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)


try:
    res = simulate_sde(Params.paper(), opts, seed=int(sys.argv[2]), out=sys.argv[3],
                       progress=progress)
except CheckpointError as exc:
    print(json.dumps({"error": "CheckpointError", "message": str(exc)}))
    sys.exit(3)
except RunInterrupted as exc:
    print(json.dumps({"error": "RunInterrupted", "done": exc.done, "total": exc.total,
                      "folder": str(exc.folder)}))
    sys.exit(130)
res.save(sys.argv[3])
print(json.dumps({"status": res.status}))
"""

def _runner(out: Path, hold_at: int = 99) -> subprocess.Popen:
    """A real process running TINY into ``out`` that, after ``hold_at`` chunks, waits for the
    file ``out.parent / "gate"`` (holding the lock)."""
    return subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(TINY.to_dict()), str(SEED),
                             str(out), str(out.parent / "gate"), str(hold_at)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_chunks(out: Path, proc: subprocess.Popen, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "chunks").is_dir() and len(list((out / "chunks").glob("chunk_*.npz"))) >= n:
            return
        time.sleep(0.01)


def test_lock_held_by_another_process_is_refused(tmp_path, full):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError) as info:
            simulate_sde(P, TINY, seed=SEED, out=out)
        msg = str(info.value)
        assert str(out) in msg and f"pid {holder.pid} on testhost" in msg
        assert not (out / "manifest.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder died without cleaning up: its lock files are left, but the lock is gone
    assert (out / ".lock.info").read_text().startswith(f"pid {holder.pid}")
    _same(full, simulate_sde(P, TINY, seed=SEED, out=out))
    assert (out / ".lock.info").read_text().startswith(f"pid {os.getpid()} on ")


def test_lock_is_exclusive_within_one_process(tmp_path):
    out = tmp_path / "run"
    with checkpoint_lock(out):
        with pytest.raises(CheckpointError, match=f"pid {os.getpid()}"):
            simulate_sde(P, TINY, seed=SEED, out=out)


def test_two_concurrent_processes_one_is_refused(tmp_path, full):
    """A runner process holds the folder mid-run; this process (the second) is refused, and the
    runner then finishes with the undisturbed bits."""
    out = tmp_path / "run"
    first = _runner(out, hold_at=1)
    _wait_for_chunks(out, first, 1)
    try:
        with pytest.raises(CheckpointError) as refused:
            simulate_sde(P, TINY, seed=SEED, out=out)
    finally:
        (tmp_path / "gate").touch()
    o1, e1 = first.communicate(timeout=120)
    assert first.returncode == 0, e1
    assert str(out) in str(refused.value) and f"pid {first.pid} on " in str(refused.value)
    _same(full, SDEResult.load(out))


def test_sigint_saves_chunks_and_resume_is_bit_identical(tmp_path, full):
    out = tmp_path / "run"
    proc = _runner(out, hold_at=2)
    _wait_for_chunks(out, proc, 2)
    proc.send_signal(signal.SIGINT)
    o, e = proc.communicate(timeout=60)
    assert proc.returncode == 130, e
    info = json.loads(o)
    assert info == {"error": "RunInterrupted", "done": 2, "total": 4, "folder": str(out)}
    assert sorted(f.name for f in (out / "chunks").iterdir()) == ["chunk_00000.npz",
                                                                 "chunk_00001.npz"]
    assert not (out / "result.json").exists()
    stamps = _stamps(out)
    # the resume in this process (the interrupted process is the real one under test)
    simulate_sde(P, TINY, seed=SEED, out=out).save(out)
    assert {k: v for k, v in _stamps(out).items() if k in stamps} == stamps
    _same(full, SDEResult.load(out))


def test_keyboard_interrupt_in_process_raises_run_interrupted(tmp_path, full):
    out = tmp_path / "run"
    calls = []

    def progress(done, total):
        calls.append(done)
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as info:
        simulate_sde(P, TINY, seed=SEED, out=out, progress=progress)
    assert (info.value.done, info.value.total, info.value.folder) == (2, 4, out)
    assert len(list((out / "chunks").glob("*.npz"))) == 2
    _same(full, simulate_sde(P, TINY, seed=SEED, out=out))


# ---- saved results ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory, full):
    d = tmp_path_factory.mktemp("saved")
    full.save(d / "a")
    full.save(d / "b")
    return d


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_result_roundtrip_keeps_status_and_provenance(saved, full):
    back = SDEResult.load(saved / "a")
    _same(full, back)
    assert back.status == full.status == "few_units" and back.flags == ("few_units",)
    assert back.stderr_t_factor == full.stderr_t_factor == student_t_factor(8)
    assert back.uncertainty == full.uncertainty and back.timestamp == full.timestamp != ""
    assert {"qutip", "numpy", "wgmsim", "python"} <= set(back.versions)
    meta = json.loads((saved / "a" / "result.json").read_text())
    assert meta["checksum"]["algorithm"] == "sha256"


def test_tampered_result_json_is_refused(saved, tmp_path):
    d = _copy(saved / "a", tmp_path / "t")
    meta = json.loads((d / "result.json").read_text())
    meta["covariance"][0][0] *= 0.5
    (d / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ResultFileError, match="checksum mismatch") as info:
        SDEResult.load(d)
    assert str(d / "result.json") in str(info.value)


def test_tampered_result_npz_is_refused(saved, tmp_path):
    d = _copy(saved / "a", tmp_path / "t")
    data = bytearray((d / "result.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (d / "result.npz").write_bytes(bytes(data))
    with pytest.raises(ResultFileError, match="checksum mismatch") as info:
        SDEResult.load(d)
    assert str(d / "result.npz") in str(info.value)


def test_results_of_two_saves_mixed_are_refused(saved, tmp_path):
    d = _copy(saved / "a", tmp_path / "t")
    simulate_sde(P, TINY, seed=SEED + 1).save(tmp_path / "o")
    shutil.copy(tmp_path / "o" / "result.npz", d / "result.npz")
    with pytest.raises(ResultFileError, match="do not belong together") as info:
        SDEResult.load(d)
    assert str(d / "result.json") in str(info.value)


def test_result_with_a_file_missing_is_refused(saved, tmp_path):
    d = _copy(saved / "a", tmp_path / "t")
    (d / "result.npz").unlink()
    with pytest.raises(ResultFileError, match="missing") as info:
        SDEResult.load(d)
    assert str(d / "result.npz") in str(info.value)


def test_ringup_interrupted_and_workers_capped():
    opts = RingupOptions(n_traj=4, chunk_size=1, t_final=5.0, output_every=5.0)

    def progress(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as info:
        simulate_ringup(P, opts, seed=0, progress=progress)
    assert (info.value.done, info.value.total, info.value.folder) == (2, 4, None)
    two = RingupOptions(n_traj=2, chunk_size=1, t_final=5.0, output_every=5.0)
    with pytest.warns(StatisticsWarning, match="only 2 chunks"):
        res = simulate_ringup(P, two, n_jobs=1)
    assert res.status == "few_units" and res.timing["n_jobs"] == 1
    with pytest.raises(ValueError, match=r"n_traj = 1, chunk_size = 32: 1 chunk"):
        simulate_ringup(P, RingupOptions(n_traj=1, t_final=5.0, output_every=5.0))


def test_tampered_ringup_result_is_refused(tmp_path):
    opts = RingupOptions(n_traj=8, chunk_size=1, t_final=5.0, output_every=5.0)
    res = simulate_ringup(P, opts, seed=0)
    assert res.status == "ok"
    res.save(tmp_path)
    back = RingupResult.load(tmp_path)
    np.testing.assert_array_equal(back.covariance, res.covariance)
    assert back.versions == res.versions and "qutip" in back.versions
    meta = json.loads((tmp_path / "ringup.json").read_text())
    meta["seed"] = 1
    (tmp_path / "ringup.json").write_text(json.dumps(meta))
    with pytest.raises(ResultFileError, match="checksum mismatch") as info:
        RingupResult.load(tmp_path)
    assert str(tmp_path / "ringup.json") in str(info.value)


# ---- honest error bars -------------------------------------------------------------------------
def test_few_units_status_and_warning():
    opts = SDEOptions(n_traj=4, chunk_size=2, dt=0.1, t_burn=5.0, t_avg=300.0, batch_time=150.0,
                      initial="lyapunov")
    with pytest.warns(StatisticsWarning, match="only 4 statistical units") as rec:
        res = simulate_sde(P, opts, seed=0)
    assert res.status == "few_units" and res.n_units == 4
    assert "only 4 statistical units (2 chunk(s) x 2 batch(es))" in res.message
    assert len(rec) == 1


def test_short_batches_status_and_warning():
    with pytest.warns(StatisticsWarning, match=r"batch_time 10 is 0\.676 correlation times"):
        res = simulate_sde(P, TINY, seed=0)
    assert res.status == "few_units" and res.n_units >= MIN_UNITS


def test_fewer_than_two_units_refused_before_work(tmp_path):
    opts = SDEOptions(n_traj=2, chunk_size=2, dt=0.1, t_burn=5.0, t_avg=20.0)
    with pytest.raises(ValueError, match=r"n_traj = 2, t_avg = 20: 1 statistical unit"):
        simulate_sde(P, opts, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("n_traj", [1, 32, 64, 256, 4096])
@pytest.mark.parametrize("beta", [np.pi / 8, 0.3])
def test_default_batches_give_enough_adequate_units(n_traj, beta):
    system = fluctuation_system(Params.paper(beta=beta))
    sched = schedule(system, SDEOptions(n_traj=n_traj))
    assert sched.adequacy() == []
    assert sched.n_units >= MIN_UNITS
    assert sched.batch_time * system.slowest_rate >= BATCH_MIN_CORRELATION_TIMES - 1e-9
    assert sched.t_avg >= 600.0 - 1.0


def test_default_window_follows_a_slow_relaxation():
    """A nearly unstable oscillator (rate 1e-3): the default window grows to 8 batches of 10
    correlation times in one chunk instead of giving meaningless error bars."""
    system = LangevinSystem(A=[[0.0, 1.0], [-1.0, -2e-3]], D=[[0.0, 0.0], [0.0, 1.0]])
    sched = schedule(system, SDEOptions(n_traj=32, initial="lyapunov"))
    assert sched.correlation_time == pytest.approx(1e3)
    assert sched.n_batches == 8 and sched.batch_time == pytest.approx(1e4, rel=1e-3)
    assert sched.adequacy() == []


def test_stderr_widened_by_student_t(full):
    # scipy.stats.t.ppf(scipy.stats.norm.cdf(1), 7), written out: importing scipy.stats for
    # it cost 0.2-0.4 s of CPU (the engine computes it through scipy.special)
    assert student_t_factor(8) == pytest.approx(1.0767133754164624, rel=1e-12)
    assert 1.07 < student_t_factor(8) < 1.08 and 1.0 < student_t_factor(1000) < 1.001
    se_m, se_V = batch_means_stderr(full.unit_s1, full.unit_s2, full.unit_counts)
    np.testing.assert_allclose(full.covariance_stderr, student_t_factor(8) * se_V, rtol=1e-14)
    np.testing.assert_allclose(full.mean_stderr, student_t_factor(8) * se_m, rtol=1e-14)


def test_batch_factor_justified():
    """For an Ornstein-Uhlenbeck process (correlation time 1) the reported error of the mean is
    within ~5 % of the true one at batches of BATCH_MIN_CORRELATION_TIMES correlation times, and
    far too small at half a correlation time."""
    gamma, D, n, L = 1.0, 2.0, 16, 2000.0
    system = LangevinSystem(A=[[-gamma]], D=[[D]])
    exact = np.sqrt(2 * (D / (2 * gamma)) / gamma / (L * n))  # sqrt(2 tau sigma^2 / (L n))
    base = SDEOptions(n_traj=n, chunk_size=n, dt=0.05, t_burn=10.0, t_avg=L, initial="lyapunov")
    good = simulate_sde(system, base.replace(batch_time=BATCH_MIN_CORRELATION_TIMES), seed=1)
    assert good.status == "ok" and good.n_units == 200
    ratio = good.mean_stderr[0] / exact
    assert 0.8 < ratio < 1.15, ratio  # expected sqrt(1 - 0.1) = 0.95, +-5 % sampling
    with pytest.warns(StatisticsWarning, match="correlation times"):
        short = simulate_sde(system, base.replace(batch_time=0.5), seed=1)
    assert short.status == "few_units"
    assert short.mean_stderr[0] / exact < 0.6  # expected sqrt(1 - 2 (1 - e^-1/2)) = 0.46


# ---- unstable, divergent, non-finite, unphysical ------------------------------------------------
GROW = LangevinSystem(A=[[0.3]], D=[[1.0]])
GROW_OPTS = SDEOptions(n_traj=64, chunk_size=8, dt=0.1, t_burn=0.0, t_avg=24.0, batch_time=6.0,
                       block_steps=5, initial="gaussian", initial_covariance=((1.0,),),
                       allow_unstable=True)


def test_divergence_bound_scales_with_the_system():
    a = LangevinSystem(A=[[-1.0, 0.0], [0.0, -2.0]], D=[[2.0, 0.0], [0.0, 0.5]])
    b = LangevinSystem(A=a.A, D=a.D * 1e6)
    opts = SDEOptions(initial="gaussian", initial_covariance=((0.0, 0.0), (0.0, 0.0)))
    assert divergence_bound(a, opts) == pytest.approx(BOUND_SIGMAS * 1.0)  # V_11 = D_11 / 2
    assert divergence_bound(b, opts) == pytest.approx(1e3 * divergence_bound(a, opts))
    assert divergence_bound(a, opts.replace(bound=7.0)) == 7.0
    # unstable: the initial state (plus one unit of time of diffusion) sets the scale
    assert divergence_bound(GROW, GROW_OPTS) == pytest.approx(BOUND_SIGMAS * np.sqrt(2.0))


def test_unstable_run_that_grew_is_not_ok():
    with pytest.warns(StabilityWarning) as rec:
        res = simulate_sde(GROW, GROW_OPTS, seed=0)
    assert res.status == "diverged" and res.flags == ("diverged", "unstable")
    assert 0 < res.diverged < 64 and res.lyapunov is None
    assert "dynamically unstable" in res.message and "beyond bound 1414.21" in res.message
    assert {str(w.message).split(" ")[1] for w in rec} >= {"of", "point"}
    assert res.covariance[0, 0] > 1e3  # it did grow


def test_unstable_run_without_divergence_says_unstable():
    opts = GROW_OPTS.replace(t_avg=4.0, batch_time=0.5)
    with pytest.warns(StabilityWarning, match="dynamically unstable"):
        res = simulate_sde(GROW, opts, seed=0)
    assert res.diverged == 0 and res.status == "unstable" and res.flags[0] == "unstable"


def test_every_trajectory_diverged_is_an_error():
    with pytest.raises(FloatingPointError, match="64 of 64 trajectories diverged"):
        simulate_sde(GROW, GROW_OPTS.replace(t_avg=200.0, batch_time=50.0, block_steps=400),
                     seed=0)


@pytest.mark.parametrize("temperature", [1e300, 1e150])
def test_extreme_temperature_never_gives_a_result(temperature):
    with pytest.raises((FloatingPointError, ValueError)) as info:
        simulate_sde(Params.paper(temperature=temperature), TINY, seed=0)
    # refused when the parameters are built (n_m beyond range), or by the engine (non-finite)
    assert "n_m" in str(info.value) or "non-finite" in str(info.value)


@pytest.mark.filterwarnings("ignore:One of rtol or atol:RuntimeWarning")
def test_non_finite_system_refused_before_work():
    with pytest.raises(ValueError, match="D: the diffusion matrix has non-finite"):
        simulate_sde(LangevinSystem(A=[[-1.0]], D=[[np.inf]]), TINY.replace(
            initial="gaussian", initial_covariance=((1.0,),)))


def test_unphysical_covariance_is_flagged():
    import dataclasses

    system = fluctuation_system(P)
    squeezed = dataclasses.replace(system, D=system.D * 0.05)  # far too little noise
    # 16 trajectories as 4 chunks of two batches (8 units): half the steps of 8 chunks of one
    opts = SDEOptions(n_traj=16, chunk_size=4, dt=0.1, t_burn=0.0, t_avg=300.0,
                      initial="lyapunov")
    with pytest.warns(PhysicalityWarning, match="uncertainty principle"):
        res = simulate_sde(squeezed, opts, seed=0)
    assert res.status == "unphysical"
    u = res.uncertainty
    assert u["min_eigenvalue"] < -5 * u["stderr"]
    ok = simulate_sde(system, opts, seed=0)
    assert ok.status == "ok" and ok.uncertainty["min_eigenvalue"] > -5 * ok.uncertainty["stderr"]


# ---- runaways ----------------------------------------------------------------------------------
def test_huge_n_traj_refused_before_work(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as info:
        simulate_sde(P, SDEOptions(n_traj=10**9), out=tmp_path / "never")
    msg = str(info.value)
    assert msg.startswith("n_traj = 1000000000: the run would need about")
    assert "GiB" in msg and "limit" in msg
    assert time.perf_counter() - t0 < 5 and not (tmp_path / "never").exists()


def test_time_limit_refused_before_work():
    with pytest.raises(ValueError, match=r"n_traj = 8: the run would take about .* max_seconds"):
        simulate_sde(P, TINY, max_seconds=1e-6)


def test_memory_estimate_is_flat_in_n_traj():
    system = fluctuation_system(P)
    opts = SDEOptions(n_traj=1024)
    sched = schedule(system, opts)
    a = estimate_resources(system, opts, sched, 1)["memory_bytes"]
    b = estimate_resources(system, opts.replace(n_traj=1024 * 100), sched, 1)["memory_bytes"]
    per_traj = (b - a) / (1024 * 99)
    assert per_traj < 300  # bytes per trajectory: final state and per-chunk sums only


def test_workers_capped_and_said(caplog):
    cpus = os.cpu_count()
    assert effective_workers(1000, 3) == min(3, cpus) and effective_workers(-2, 1) == 1
    assert effective_workers(1000, 10**6) == cpus
    assert effective_workers(-1, 10**6) == cpus
    with caplog.at_level(logging.INFO, logger="simulator.sde"):
        res = simulate_sde(P, TINY.replace(n_traj=2, chunk_size=2, t_avg=40.0), seed=0,
                           n_jobs=1000)
    assert res.timing["n_jobs"] == 1 and res.timing["n_jobs_requested"] == 1000
    assert "n_jobs = 1000: using 1 worker(s)" in caplog.text
