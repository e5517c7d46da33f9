"""Fault injection at the command line: bad input, hostile files, absurd sizes, engine failures,
Ctrl-C and closed pipes.

Every case asserts the exit status, that stderr is one line without a traceback, that the line
names the bad value or file, and, where a run could lose work, that nothing finished was lost.
Signals and pipes use a real ``python -m simulator`` process; the rest call ``main`` in-process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import simulator.cli.lyapunov as cli_lyapunov
import simulator.cli.sde as cli_sde
import simulator.validate as validate_module
from simulator.cli import build_parser, main
from simulator.errors import CheckpointError, ResultFileError, RunInterrupted

ROOT = Path(__file__).resolve().parents[1]
TINY_SDE = ["--n-traj", "8", "--chunk-size", "8", "--t-burn", "5", "--t-avg", "20",
            "--batch-time", "5", "--quiet"]
TINY_RINGUP = ["--n-traj", "4", "--chunk-size", "4", "--t-final", "4", "--quiet"]


def one_error_line(capsys, *needles: str) -> str:
    """stderr of the last call: exactly one line, no traceback, containing every needle."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# ---- --params files -----------------------------------------------------------------------------
def _params_file(tmp_path: Path, kind: str) -> tuple[str, str]:
    """(path given to --params, text the error must contain)."""
    f = tmp_path / "p.toml"
    if kind == "missing":
        return str(tmp_path / "nope.toml"), "no such file"
    if kind == "directory":
        return str(tmp_path), "is a directory"
    if kind == "binary":
        f.write_bytes(b"\x00\xff\xfe\x89PNG\x00")
        return str(f), "not a text"
    if kind == "invalid_toml":
        f.write_text("power = = 3\n")
        return str(f), "not valid TOML"
    if kind == "unknown_key":
        f.write_text("powr = 0.01\n")
        return str(f), "powr"
    if kind == "bad_value":
        f.write_text("power = -1.0\n")
        return str(f), "power = -1.0"
    if kind == "below_a_file":
        f.write_text("power = 0.01\n")
        return str(f / "x.toml"), "cannot read"
    if kind == "empty_name":
        return "", "empty file name"
    if kind == "device":
        return "/dev/zero", "not a regular file"
    if kind == "huge":
        f.write_text("# " + "x" * 2_000_000 + "\n")
        return str(f), "too large"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "directory", "binary", "invalid_toml", "unknown_key",
                                  "bad_value", "below_a_file", "empty_name", "device", "huge"])
def test_bad_params_file(capsys, tmp_path, kind):
    path, needle = _params_file(tmp_path, kind)
    assert main(["lyapunov", "--params", path]) == 2
    line = one_error_line(capsys, "wgmsim lyapunov:", needle)
    if path:
        assert path in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_params_file(capsys, tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("power = 0.01\n")
    f.chmod(0)
    assert main(["lyapunov", "--params", str(f)]) == 2
    one_error_line(capsys, str(f), "cannot read")


# ---- --out directories --------------------------------------------------------------------------
def _out_dir(tmp_path: Path, kind: str) -> tuple[str, str]:
    if kind == "existing_file":
        (tmp_path / "f").write_text("keep me")
        return str(tmp_path / "f"), "is a file"
    if kind == "device":
        return os.devnull, "not a directory"
    if kind == "empty":
        return "", "empty directory name"
    if kind == "below_a_file":
        (tmp_path / "f").write_text("keep me")
        return str(tmp_path / "f" / "sub"), "is not a directory"
    if kind == "read_only_fs":
        return "/proc/wgmsim-out", "cannot write"
    raise AssertionError(kind)


@pytest.mark.parametrize("command", ["sde", "ringup", "validate"])
@pytest.mark.parametrize("kind", ["existing_file", "device", "empty", "below_a_file",
                                  "read_only_fs"])
def test_bad_out_dir(capsys, tmp_path, monkeypatch, command, kind):
    if kind == "read_only_fs" and not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    # nothing may start: an engine call is a failure of this test
    boom = lambda *a, **k: pytest.fail("the engine ran")  # noqa: E731
    monkeypatch.setattr(cli_sde, "simulate_sde", boom)
    monkeypatch.setattr("simulator.cli.ringup.simulate_ringup", boom)
    monkeypatch.setattr("simulator.cli.validate.validate", boom)
    path, needle = _out_dir(tmp_path, kind)
    assert main([command, "--out", path, "--quiet"]) == 2
    one_error_line(capsys, f"wgmsim {command}:", "--out", needle)
    if kind in ("existing_file", "below_a_file"):
        assert (tmp_path / "f").read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a mode-500 directory")
def test_out_dir_without_write_permission(capsys, tmp_path):
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    assert main(["sde", "--out", str(d / "run"), *TINY_SDE]) == 2
    one_error_line(capsys, str(d), "cannot write")


# ---- --plot, checked before the run -------------------------------------------------------------
@pytest.mark.parametrize("kind,needle", [("no_dir", "does not exist"), ("suffix", "figure type"),
                                         ("is_dir", "is a directory"),
                                         ("read_only_fs", "cannot write"),
                                         ("empty", "empty file name")])
def test_bad_plot_path_refused_before_the_run(capsys, tmp_path, monkeypatch, kind, needle):
    plot = {"no_dir": str(tmp_path / "missing" / "f.png"), "suffix": str(tmp_path / "f.txt"),
            "is_dir": str(tmp_path), "read_only_fs": "/proc/wgmsim.png", "empty": ""}[kind]
    if kind == "is_dir":
        plot = str(tmp_path / "d.png")
        os.mkdir(plot)
    monkeypatch.setattr("simulator.cli.ringup.simulate_ringup",
                        lambda *a, **k: pytest.fail("the run started before --plot was checked"))
    out = tmp_path / "res"
    assert main(["ringup", *TINY_RINGUP, "--out", str(out), "--plot", plot]) == 2
    one_error_line(capsys, "wgmsim ringup:", "--plot", needle)
    assert not out.exists()  # no half-written result


# ---- extreme parameter values -------------------------------------------------------------------
#: Parameter files (bare numbers are SI) whose every value is finite but whose derived quantities
#: overflow: (TOML text, text the error must contain).
EXTREME = {
    "power=1e300 W": ("power = 1e300", "power = 1e+300"),
    "omega_m=1e-300": ("omega_m = 1e-300", "omega_m = 1e-300"),
    "detuning=1e8 Gamma": ("detuning = 3.78e15", "detuning = 3780000000000000.0"),
    "temperature=1e300 K": ("temperature = 1e300", "temperature = 1e+300"),
    "temperature=1e12 K": ("temperature = 1e12", "temperature = 1000000000000.0"),
    "mass=1e-300": ("mass = 1e-300", "mass = 1e-300"),
    "gamma_m=1e300": ("gamma_m = 1e300", "gamma_m = 1e+300"),
    "omega_m=1e20": ("omega_m = 1e20", "omega_m = 1e+20"),
    "kappa_0=1e25": ("kappa_0 = 1e25", "kappa_0 = 1e+25"),
}


@pytest.mark.parametrize("case", sorted(EXTREME))
@pytest.mark.parametrize("command", ["lyapunov", "sde"])
def test_extreme_values_refused(capsys, tmp_path, command, case):
    text, needle = EXTREME[case]
    f = tmp_path / "extreme.toml"
    f.write_text(text + "\n")
    args = [command, "--params", str(f), *(TINY_SDE if command == "sde" else [])]
    assert main(args) == 2
    line = one_error_line(capsys, f"wgmsim {command}: invalid parameter", needle, "must be")
    assert "LinAlgError" not in line


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_non_finite_set_value_refused(capsys, value):
    assert main(["lyapunov", "--set", f"power={value}"]) == 2
    one_error_line(capsys, "wgmsim lyapunov:", "power")


def test_nan_result_is_an_error_not_a_result(capsys, tmp_path):
    """A defect of 1e10 Gamma passes the parameter checks but the Lyapunov solution loses every
    digit (E_N of the CW-CCW pair is NaN): refused, no number printed."""
    f = tmp_path / "eps.toml"
    f.write_text("[[defects]]\neps = 3.78e17\nbeta = 0.0\n")
    assert main(["lyapunov", "--params", str(f)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines == [lines[0]] and "numerical failure" in lines[0]
    assert "log_negativity.r_l" in lines[0]


# ---- numeric flags ------------------------------------------------------------------------------
BAD_FLAGS = [
    ("sde", "--n-traj", "0"), ("sde", "--n-traj", "-5"), ("sde", "--n-traj", "1.5"),
    ("sde", "--n-traj", "many"), ("sde", "--dt", "0"), ("sde", "--dt", "-1"),
    ("sde", "--dt", "nan"), ("sde", "--dt", "inf"), ("sde", "--t-avg", "0"),
    ("sde", "--t-burn", "-1"), ("sde", "--batch-time", "0"), ("sde", "--chunk-size", "0"),
    ("sde", "--sample-every", "0"), ("sde", "--bound", "0"), ("sde", "--seed", "-1"),
    ("sde", "--n-jobs", "0"), ("sde", "--n-jobs", "-2"),
    ("ringup", "--n-traj", "0"), ("ringup", "--t-final", "0"), ("ringup", "--dt", "-0.1"),
    ("ringup", "--output-every", "-1"), ("ringup", "--ramp-time", "-1"),
    ("ringup", "--chunk-size", "0"), ("ringup", "--seed", "-3"), ("ringup", "--n-jobs", "0"),
    ("me", "--t-max", "0"), ("me", "--n-times", "1"), ("me", "--tol", "0"),
    ("me", "--max-dim", "0"), ("me", "--max-time", "0"), ("me", "--max-time", "-5"),
    ("me", "--initial-phonons", "-1"), ("me", "--cutoffs", "0,3"),
    ("validate", "--seed", "-1"), ("validate", "--n-jobs", "0"),
    ("validate", "--master-max-dim", "4"),
]


@pytest.mark.parametrize("command,flag,value", BAD_FLAGS)
def test_bad_numeric_flag_refused_before_work(capsys, command, flag, value):
    assert main([command, flag, value, "--quiet"] if command != "me" else
                [command, flag, value]) == 2
    one_error_line(capsys, f"wgmsim {command}:", flag, repr(value))


def test_integer_flags_read_exponents():
    """``--n-traj 1e3`` is 1000 (an integer written with an exponent), not an error."""
    args = build_parser().parse_args(["sde", "--n-traj", "1e3", "--chunk-size", "6.4e1"])
    assert args.n_traj == 1000 and args.chunk_size == 64


@pytest.mark.parametrize("command", ["sde", "ringup"])
def test_huge_n_traj_refused_with_numbers(capsys, monkeypatch, command):
    monkeypatch.setattr(cli_sde, "simulate_sde", lambda *a, **k: pytest.fail("the run started"))
    monkeypatch.setattr("simulator.cli.ringup.simulate_ringup",
                        lambda *a, **k: pytest.fail("the run started"))
    t0 = time.perf_counter()
    assert main([command, "--n-traj", "1e9", "--quiet"]) == 2
    assert time.perf_counter() - t0 < 10
    one_error_line(capsys, "--n-traj 1000000000", "GB of memory", "available")


def test_long_average_refused_for_memory(capsys, monkeypatch):
    monkeypatch.setattr(cli_sde, "simulate_sde", lambda *a, **k: pytest.fail("the run started"))
    assert main(["sde", "--t-avg", "1e12", "--quiet"]) == 2
    one_error_line(capsys, "--t-avg 1e+12", "GB of memory")


def test_n_jobs_capped_with_a_note(capsys, monkeypatch):
    seen = {}

    def fake(params, options, *, n_jobs, **kwargs):
        seen["n_jobs"] = n_jobs
        raise CheckpointError("stop here")

    monkeypatch.setattr(cli_sde, "simulate_sde", fake)
    main(["sde", *TINY_SDE, "--n-jobs", "1000"])
    err = capsys.readouterr().err
    assert "--n-jobs 1000 capped at 1 (1 chunk(s)" in err
    assert seen["n_jobs"] == 1


# ---- engine errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("exc,status,needle", [
    (CheckpointError("/runs/a: locked by process 4242"), 2, "/runs/a: locked by process 4242"),
    (ResultFileError("/runs/a/result.npz: checksum mismatch"), 2, "result.npz: checksum"),
    (RunInterrupted(3, 8, Path("/runs/a")), 130, "3 of 8 chunks saved in /runs/a"),
    (RunInterrupted(3, 8, None), 130, "3 of 8 chunks (nothing saved"),
    (KeyboardInterrupt(), 130, "interrupted; finished chunks are saved in /tmp/wgmsim-ck"),
    (MemoryError(), 2, "out of memory"),
    (PermissionError(13, "Permission denied", "/runs/a/x.npz"), 2, "/runs/a/x.npz"),
])
def test_engine_errors_are_one_line(capsys, monkeypatch, exc, status, needle):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(cli_sde, "simulate_sde", fail)
    assert main(["sde", *TINY_SDE, "--out", "/tmp/wgmsim-ck"]) == status
    line = one_error_line(capsys, "wgmsim sde:", needle)
    if status == 130 and getattr(exc, "folder", None):
        assert "rerun the same command to resume" in line


def test_internal_error_one_line_and_traceback_on_request(capsys, monkeypatch):
    def broken(params):
        raise RuntimeError("boom 17")

    monkeypatch.setattr(cli_lyapunov, "lyapunov", broken)
    monkeypatch.delenv("WGMSIM_DEBUG", raising=False)
    assert main(["lyapunov"]) == 1
    one_error_line(capsys, "internal error: RuntimeError: boom 17", "please report", "--debug")
    assert main(["--debug", "lyapunov"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "boom 17" in err
    assert main(["lyapunov", "--debug"]) == 1  # also after the command
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("WGMSIM_DEBUG", "1")
    assert main(["lyapunov"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_package_warnings_are_one_line_and_the_result_is_printed(capsys, monkeypatch):
    import warnings

    from simulator.errors import StatisticsWarning

    real = cli_lyapunov.lyapunov

    def warns(params):
        warnings.warn("only 3 statistical units\nerror bars too small", StatisticsWarning)
        return real(params)

    monkeypatch.setattr(cli_lyapunov, "lyapunov", warns)
    assert main(["lyapunov"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("wgmsim lyapunov:")
    assert captured.err == ("wgmsim lyapunov: warning: only 3 statistical units; "
                            "error bars too small\n")


def test_warnings_of_a_failed_command_are_not_shown(capsys, monkeypatch):
    import warnings

    def warns_then_fails(params):
        warnings.warn("invalid value encountered in log", RuntimeWarning)
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_lyapunov, "lyapunov", warns_then_fails)
    assert main(["lyapunov"]) == 1
    one_error_line(capsys, "internal error: RuntimeError: boom")


# ---- master equation: time budget, convergence --------------------------------------------------
def test_me_not_converged_exits_3_and_keeps_the_result(capsys):
    assert main(["me", "--max-dim", "20"]) == 3
    captured = capsys.readouterr()
    assert "covariance" in captured.out  # the result is printed, not lost
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wgmsim me: not converged")
    assert "max_dim" in lines[0]


def test_me_max_time_reaches_the_options(capsys, monkeypatch):
    import dataclasses

    from simulator.master import MasterOptions

    if "max_time" in {f.name for f in dataclasses.fields(MasterOptions)}:
        seen = {}

        def fake(params, options, **kwargs):  # kwargs: progress
            seen["max_time"] = options.max_time
            raise ValueError("stop")

        monkeypatch.setattr("simulator.master.solve_master", fake)
        assert main(["me", "--max-time", "7.5"]) == 2
        assert seen["max_time"] == 7.5
    else:  # this engine has no time budget: refused, never ignored
        assert main(["me", "--max-time", "7.5"]) == 2
        one_error_line(capsys, "--max-time 7.5", "max_time")


# ---- validate: a failing leg is reported, not a crash -------------------------------------------
def test_validate_reports_failed_legs(capsys, tmp_path, monkeypatch):
    def sde_fails(*args, **kwargs):
        raise FloatingPointError("overflow in step 12")

    def master_fails(*args, **kwargs):
        raise IndexError("cutoff table")

    monkeypatch.setattr(validate_module, "simulate_sde", sde_fails)
    monkeypatch.setattr(validate_module, "_run_master", master_fails)
    # (the attractor search, 4-7 s at the paper's point, is not under test here)
    assert main(["validate", "--quick", "--quiet", "--no-attractors", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "SDE ensemble not compared: the SDE ensemble failed: FloatingPointError: overflow" \
        in captured.out
    assert "master equation not compared: the master equation failed: IndexError" in captured.out
    report = (tmp_path / "report.md").read_text()
    assert "SDE ensemble not compared" in report and "Master equation not compared" in report


# ---- real processes: Ctrl-C and closed pipes ----------------------------------------------------
def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, so that Python installs its
    KeyboardInterrupt handler even when the test runner was started as a background job (whose
    children inherit SIGINT ignored, and a Python started so never sees Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "simulator", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
                            **kwargs)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            pytest.fail("the run did not get going in time")
        time.sleep(0.05)


def _chunk_files(folder: Path) -> list[Path]:
    """Finished chunk files (not the temporary files of an atomic write in progress)."""
    return [f for f in folder.rglob("*.npz")
            if f.is_file() and f.parent.name == "chunks" and ".tmp" not in f.name]


@pytest.mark.parametrize("command", ["sde", pytest.param("validate", marks=pytest.mark.slow)])
def test_sigint_keeps_finished_chunks(tmp_path, command):
    out = tmp_path / "run"
    # 16 chunks of ~0.05 s: after the first, 15 still to run (~1 s) when SIGINT arrives
    args = (["sde", "--n-traj", "64", "--chunk-size", "4", "--t-avg", "1000", "--quiet"]
            if command == "sde" else ["validate", "--quick", "--no-master", "--quiet"])
    proc = _spawn(*args, "--out", str(out), stdout=subprocess.DEVNULL)
    try:
        _wait_for(lambda: out.exists() and len(_chunk_files(out)) >= 1)
        before = {f.name for f in _chunk_files(out)}
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"wgmsim {command}: interrupted")
    assert "resume" in lines[0] and str(out) in lines[0]
    assert before <= {f.name for f in _chunk_files(out)}  # the finished chunks are still there


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see the run start")
def test_sigint_during_ringup(tmp_path):
    plot = tmp_path / "f.png"
    proc = _spawn("ringup", "--n-traj", "20000", "--chunk-size", "100", "--t-final", "400",
                  "--quiet", "--plot", str(plot), stdout=subprocess.DEVNULL)
    try:
        # importing takes < 1 CPU second; past 1.5 the ensemble is running
        _wait_for(lambda: _cpu_seconds(proc.pid) > 1.5 or proc.poll() is not None)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.splitlines() == [err.strip()] and "Traceback" not in err
    assert err.startswith("wgmsim ringup: interrupted") and "keeps no partial results" in err


def test_closed_pipe_is_quiet():
    """``wgmsim lyapunov | head -0``: the reader is gone before anything is written."""
    proc = _spawn("lyapunov", stdout=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert err == "" and proc.returncode == 141


@pytest.mark.slow
def test_head_in_a_shell_pipeline_is_quiet():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run(f"{sys.executable} -m simulator lyapunov | head -1", shell=True,
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert res.stdout.startswith("wgmsim lyapunov:") and res.stdout.count("\n") == 1
    assert res.stderr == ""


@pytest.fixture(scope="module")
def tiny_sde_result():
    from simulator import Params
    from simulator.sde import SDEOptions, simulate_sde

    opts = SDEOptions(n_traj=8, chunk_size=8, t_burn=5.0, t_avg=20.0, batch_time=5.0)
    with warnings.catch_warnings():  # few_units and not_stationary: a fixture for display only
        warnings.simplefilter("ignore")
        return simulate_sde(Params.paper(), opts, seed=2)


@pytest.mark.parametrize("status", ["few_units", "unstable", "diverged", "unphysical",
                                    "not_stationary"])
@pytest.mark.parametrize("as_json", [False, True])
def test_sde_status_shown_in_text_and_json(capsys, monkeypatch, tiny_sde_result, status, as_json):
    import dataclasses
    import json

    res = dataclasses.replace(tiny_sde_result, status=status, message=f"why {status}")
    monkeypatch.setattr(cli_sde, "simulate_sde", lambda *a, **k: res)
    assert main(["sde", *TINY_SDE, *(["--json"] if as_json else [])]) == 0
    out = capsys.readouterr().out
    if as_json:
        data = json.loads(out)
        assert data["status"] == status and data["message"] == f"why {status}"
    else:
        assert f"STATUS {status.upper()}: why {status}" in out


def test_clipped_entanglement_is_not_shown_as_zero_pm_zero(capsys, monkeypatch, tiny_sde_result):
    import dataclasses

    obs = dict(tiny_sde_result.observables)
    obs["log_negativity"] = {**obs["log_negativity"], "l_m": 0.0}
    obs["log_negativity_stderr"] = {**obs["log_negativity_stderr"], "l_m": 0.0}
    res = dataclasses.replace(tiny_sde_result, observables=obs)
    monkeypatch.setattr(cli_sde, "simulate_sde", lambda *a, **k: res)
    assert main(["sde", *TINY_SDE]) == 0
    out = capsys.readouterr().out
    assert "below resolution" in out and "0.0000 +- 0.0000" not in out


def test_ctrl_c_without_out_says_how_to_keep_chunks(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise RunInterrupted(2, 8, None)

    monkeypatch.setattr(cli_sde, "simulate_sde", interrupted)
    assert main(["sde", *TINY_SDE]) == 130
    one_error_line(capsys, "wgmsim sde: interrupted after 2 of 8 chunks (nothing saved)",
                   "give --out DIR")
