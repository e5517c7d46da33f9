"""Fault injection at the command line, continued: the third reliability round (issue 18).

Silent wrong results (angles without information, two runs into one folder), runaways (work
and memory estimates, time budgets), internal errors that were user input, and unclear
messages. Conventions as in ``test_faults_cli.py``, whose helpers are shared.
"""

from __future__ import annotations

import json
import time
import warnings

import pytest

import simulator.cli.sde as cli_sde
import simulator.cli.validate as cli_validate
from simulator.cli import main
from test_faults_cli import TINY_RINGUP, TINY_SDE, _chunk_files, one_error_line


# ---- angles -------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["--set", "toml", "defect"])
def test_angle_without_information_refused(capsys, tmp_path, where):
    """``1e20`` rad holds no angle in a float: refused naming the field, never run as some angle."""
    args = ["lyapunov"]
    if where == "--set":
        args += ["--set", "beta=1e20"]
        name = "beta = 1e+20 rad"
    else:
        f = tmp_path / "p.toml"
        f.write_text("beta = 1e20\n" if where == "toml" else
                     "[[defects]]\neps = 3.78e7\nbeta = 3e7\n")
        args += ["--params", str(f)]
        name = "beta = 1e+20 rad" if where == "toml" else "defects[0].beta = 30000000.0 rad"
    assert main(args) == 2
    one_error_line(capsys, "wgmsim lyapunov: invalid parameter", name, "modulo pi/m")


def test_angle_in_pi_is_reduced_exactly(capsys):
    """``1e20pi`` is an even multiple of pi, the same point as ``beta = 0`` (unstable there)."""
    outs = []
    for beta in ("1e20pi", "0", "7200deg"):
        assert main(["lyapunov", "--set", f"beta={beta}", "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["stable"] is False
    assert outs[0]["params"]["beta"] == outs[1]["params"]["beta"] == outs[2]["params"]["beta"] == 0


# ---- one --out folder, one validate run ---------------------------------------------------------
def test_second_validate_into_a_busy_out_is_refused(capsys, tmp_path, monkeypatch):
    from simulator.sde.ensemble import checkpoint_lock

    out = tmp_path / "J01"
    monkeypatch.setattr(cli_validate, "validate",
                        lambda *a, **k: pytest.fail("ran into a folder in use"))
    with checkpoint_lock(out):  # what a first run holds for its whole length
        assert main(["validate", "--quick", "--no-master", "--seed", "2", "--out",
                     str(out)]) == 2
    one_error_line(capsys, "wgmsim validate:", str(out), "in use by another run")
    assert not (out / "report.md").exists()


@pytest.fixture(scope="module")
def small_validation():
    """A validation at the paper's point with a small SDE leg started thermal with no burn-in,
    no master or attractor leg: flagged not_stationary only (8 units; the relaxation biases the
    window by 8 standard errors, the flag's threshold is 1). Written as a report and
    summarised below (one run for both tests): nothing statistical is read from it."""
    from simulator import Params
    from simulator.sde import SDEOptions
    from simulator.validate import ValidateOptions, validate

    small = SDEOptions(n_traj=64, chunk_size=8, t_avg=150.0, t_burn=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return validate(Params.paper(), ValidateOptions(master=False, sde=small,
                                                        control_variate=False,
                                                        attractors=False))


def test_report_files_are_written_as_one_unit(tmp_path, monkeypatch, no_report_figures,
                                              small_validation):
    """A failure while writing (here report.html, the last file) leaves the previous report
    whole: no file of the new one is moved into place, no staging folder is left."""
    import simulator.report as report
    import simulator.report_html as report_html

    res = small_validation
    report.write_report(res, tmp_path)
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    assert {"report.md", "report.json", "report.html"} <= set(before)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_html, "write_html", full_disk)
    monkeypatch.setattr(report, "write_html", full_disk)  # report imports it by name
    monkeypatch.setattr(report, "summary_lines", lambda r: ["another run"])
    monkeypatch.setattr(report, "report_dict", lambda r: {"another": "run"})
    with pytest.raises(OSError):
        report.write_report(res, tmp_path)
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == before


# ---- runaways of wgmsim me ----------------------------------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["--t-max", "10", "--n-times", "1e9"], "--n-times"),
    (["--t-max", "1e308", "--n-times", "3"], "--t-max"),
    (["--t-max", "1e308", "--n-times", "3", "--max-time", "5"], "--max-time"),
    # refused on the stationary state's cutoffs, before a pre-pass of hours over the span
    (["--t-max", "1e7", "--n-times", "3", "--initial-phonons", "0"], "dimension 80"),
    (["--t-max", "1e7", "--n-times", "3", "--max-time", "5"], "pre-pass"),
])
def test_me_evolution_refused_up_front_with_the_numbers(capsys, args, needle):
    t0 = time.perf_counter()
    assert main(["me", *args]) == 2
    assert time.perf_counter() - t0 < 30
    one_error_line(capsys, "wgmsim me:", needle, "would ")


@pytest.mark.parametrize("command,flag", [("me", "--initial-phonons"), ("sde", "--n-traj"),
                                          ("ringup", "--t-final")])
def test_out_of_memory_names_the_commands_own_flags(capsys, monkeypatch, command, flag):
    def oom(*args, **kwargs):
        raise MemoryError

    from simulator.cli import build_parser as bp

    monkeypatch.setattr("simulator.cli.build_parser", lambda: _with_func(bp(), command, oom))
    assert main([command]) == 2
    line = one_error_line(capsys, f"wgmsim {command}: out of memory", flag)
    assert ("--n-traj" in line) == (command != "me")


def _with_func(parser, command, func):
    parser._subparsers._group_actions[0].choices[command].set_defaults(func=func)
    return parser


# ---- runaways of wgmsim sde and ringup ----------------------------------------------------------
@pytest.fixture
def short_pilot(monkeypatch):
    """The pilot that measures this machine's rate stops at 0.02 s instead of PILOT_SECONDS
    (0.2 s; with its 4x lengthening 0.3-1 s here): it still runs and is still lengthened, and
    the estimate is still "measured here". A shorter pilot carries more of a chunk's set-up, so
    it measures a lower rate (a larger estimate): the refusals below hold at the full pilot's
    rate too. How well the pilot predicts a run is tests/test_sde_workrate.py's."""
    import simulator.sde.workrate as workrate

    monkeypatch.setattr(workrate, "PILOT_SECONDS", 0.02)


@pytest.mark.usefixtures("short_pilot")
@pytest.mark.parametrize("command,args", [
    ("sde", ["--dt", "1e-9", "--n-traj", "256", "--chunk-size", "128"]),
    ("ringup", ["--dt", "1e-6", "--n-traj", "4096", "--chunk-size", "512"]),
])
def test_work_beyond_the_limit_refused_with_the_estimate(capsys, command, args):
    t0 = time.perf_counter()
    assert main([command, *args, "--quiet"]) == 2
    assert time.perf_counter() - t0 < 30
    one_error_line(capsys, f"wgmsim {command}:", f"--dt {float(args[1]):g}", "trajectory-steps",
                   "measured here", "--work-limit 86400")


@pytest.mark.usefixtures("short_pilot")
def test_a_chunk_longer_than_max_time_refused(capsys):
    assert main(["sde", "--dt", "1e-6", "--n-traj", "16", "--chunk-size", "16", "--work-limit",
                 "1e30", "--max-time", "2", "--quiet"]) == 2
    one_error_line(capsys, "wgmsim sde:", "--max-time 2", "one chunk of 16", "--chunk-size")


@pytest.mark.parametrize("command", ["sde", "ringup"])
def test_max_time_stops_between_chunks_and_resumes(capsys, tmp_path, monkeypatch, command):
    import simulator.sde.workrate as workrate

    fast = lambda system, options, steps, workers=1: {  # noqa: E731 - a chunk "takes" 1 ns
        "trajectory_steps": options.n_traj * steps, "rate": 1e15, "workers": workers,
        "seconds": 1e-9}
    monkeypatch.setattr(workrate, "work_estimate", fast)
    args = ([command, *(["--n-traj", "64", "--chunk-size", "8", "--t-burn", "5", "--t-avg",
                         "20", "--batch-time", "5"] if command == "sde" else
                        ["--n-traj", "16", "--chunk-size", "4", "--t-final", "4"]),
             "--seed", "4", "--json", "--quiet"])
    out = tmp_path / "run"
    assert main([*args, "--out", str(out), "--max-time", "1e-6"]) == 3
    line = one_error_line(capsys, f"wgmsim {command}: --max-time 1e-06", "1 of ",
                          str(out), "rerun the same command to resume")
    assert "Traceback" not in line and len(_chunk_files(out)) == 1
    assert main([*args, "--out", str(out)]) == 0  # resumed
    resumed = json.loads(capsys.readouterr().out)
    assert main([*args, "--out", str(tmp_path / "fresh")]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert resumed["covariance"] == fresh["covariance"]


# ---- internal errors that were user input -------------------------------------------------------
@pytest.mark.parametrize("command,flag,value,field", [
    ("sde", "--t-burn", "1e308", "t_burn = 1e+308"), ("sde", "--t-avg", "1e308", "t_avg = 1e+308"),
    ("sde", "--batch-time", "1e308", "batch_time = 1e+308"),
    ("ringup", "--t-final", "1e308", "t_final = 1e+308"),
    ("ringup", "--output-every", "1e308", "output_every = 1e+308"),
])
def test_endless_times_refused_not_overflowing(capsys, command, flag, value, field):
    assert main([command, flag, value, "--quiet"]) == 2
    one_error_line(capsys, f"wgmsim {command}:", field, "steps of dt")


def test_every_trajectory_beyond_the_bound_is_input_not_a_bug(capsys):
    assert main(["sde", "--bound", "1e-300", "--n-traj", "16", "--chunk-size", "4", "--t-avg",
                 "20", "--t-burn", "1", "--quiet"]) == 2
    one_error_line(capsys, "wgmsim sde:", "16 of 16 trajectories diverged", "bound 1e-300",
                   "--bound")


def test_ctrl_c_while_the_libraries_load_is_one_line(capsys, monkeypatch):
    """The console script's entry point (wgmsim_launcher) catches Ctrl-C during the import of
    the package (about 0.5 s of numpy and scipy): one line, status 130, no traceback."""
    import builtins

    import wgmsim_launcher

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "simulator.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert wgmsim_launcher.main() == 130
    monkeypatch.undo()
    assert capsys.readouterr().err == "wgmsim: interrupted\n"


# ---- unclear messages ---------------------------------------------------------------------------
def test_memory_estimate_uses_the_chunk_actually_run(capsys):
    """--chunk-size 1e9 with 16 trajectories is one chunk of 16, not 1.2 TB of working arrays."""
    assert main(["sde", "--n-traj", "16", "--chunk-size", "1e9", "--t-avg", "150", "--quiet"]) == 2
    line = one_error_line(capsys, "wgmsim sde:", "1 statistical unit")
    assert "GB" not in line


@pytest.mark.parametrize("command,name", [("sde", "result.json"), ("sde", "result.npz"),
                                          ("ringup", "ringup.json"), ("validate", "report.md")])
def test_result_path_that_is_a_directory_refused_before_the_run(capsys, tmp_path, monkeypatch,
                                                                command, name):
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    for mod, fn in ((cli_sde, "simulate_sde"), (cli_validate, "validate")):
        monkeypatch.setattr(mod, fn, lambda *a, **k: pytest.fail("ran before the check"))
    args = {"sde": TINY_SDE, "ringup": TINY_RINGUP, "validate": ["--quick"]}[command]
    assert main([command, *args, "--out", str(out)]) == 2
    line = one_error_line(capsys, f"wgmsim {command}: --out", str(out / name),
                          "not a regular file")
    assert ".tmp" not in line


def test_full_disk_names_the_file(capsys, tmp_path, monkeypatch):
    import simulator.resultio as resultio

    def full(fd, mode="r", *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(resultio.os, "fdopen", full)
    assert main(["sde", *TINY_SDE, "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys, "wgmsim sde: cannot access", "No space left on device",
                          str(tmp_path / "o"))
    assert ".tmp" not in line


def test_unicode_minus_and_byte_order_mark_accepted(capsys, tmp_path):
    assert main(["lyapunov", "--set", "detuning=\u22121.15Gamma", "--json"]) == 0
    pasted = json.loads(capsys.readouterr().out)
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbfdetuning = \"-1.15Gamma\"\n")
    assert main(["lyapunov", "--params", str(f), "--json"]) == 0
    bom = json.loads(capsys.readouterr().out)
    assert main(["lyapunov", "--set", "detuning=-1.15Gamma", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert pasted["params"]["detuning"] == bom["params"]["detuning"] == \
        plain["params"]["detuning"]


def test_ringup_shows_no_numpy_warning_and_explains_negative_photons(capsys):
    assert main(["ringup", "--n-traj", "8", "--chunk-size", "4", "--t-final", "4"]) == 0
    out = capsys.readouterr()
    assert "RuntimeWarning" not in out.err and "invalid value" not in out.err
    if "-" in out.out.splitlines()[4].split()[1]:  # the t = 0 photon number is negative
        assert "sampling noise" in out.out


def test_lyapunov_of_none_names_the_argument():
    from simulator import lyapunov

    with pytest.raises(TypeError, match="params: expected Params"):
        lyapunov(None)


def test_me_evolution_stopped_by_max_time_says_so_and_exits_3(capsys):
    # the whole span would take about 10 s; a budget of 0.1 s stops it as 0.3 s did
    assert main(["me", "--t-max", "200", "--n-times", "3", "--max-time", "0.1",
                 "--initial-phonons", "0", "--cutoffs", "10,12"]) == 3
    out = capsys.readouterr()
    assert "STATUS NOT_CONVERGED" in out.out and "max_time = 0.1 s spent" in out.err


def test_full_disk_while_validate_writes_its_report_names_the_folder(capsys, tmp_path,
                                                                     monkeypatch):
    def full(*args, **kwargs):  # a write that fails after its file was opened: no file name
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli_validate, "validate", lambda *a, **k: None)
    monkeypatch.setattr(cli_validate, "write_report", full)
    out = tmp_path / "rep"
    assert main(["validate", "--quick", "--out", str(out)]) == 2
    one_error_line(capsys, f"wgmsim validate: cannot access {out}", "No space left on device")


def test_validate_summary_shows_an_sde_status_that_is_not_ok(small_validation):
    """A not_stationary SDE leg is said in the summary, next to its verdict."""
    import dataclasses

    from simulator.report import summary_lines

    res = small_validation
    assert res.sde.status == "not_stationary"
    text = "\n".join(summary_lines(res))
    assert "SDE status not_stationary: the initial state has not relaxed" in text
    ok = dataclasses.replace(res, sde=dataclasses.replace(res.sde, status="ok"))
    assert "SDE status" not in "\n".join(summary_lines(ok))
