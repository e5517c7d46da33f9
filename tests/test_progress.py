"""Progress and logging: ``progress=True`` for every engine, ``--progress``/``--quiet``/
``--verbose`` on the command line, validate's per-leg log lines, and no print in the library."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import few_units_ok
from simulator import Params
from simulator.cli import main
from simulator.master import EvolveOptions, evolve_master, solve_master
from simulator.progress import TqdmProgress, as_callback, check_progress, progress_callback
from simulator.sde import SDEOptions, simulate_sde
from simulator.sde.ringup import RingupOptions, simulate_ringup
from simulator.validate import ValidateOptions, validate

PKG = Path(__file__).resolve().parent.parent / "simulator"
SMALL_SDE = SDEOptions(n_traj=32, chunk_size=8, dt=0.1, t_burn=30.0, t_avg=60.0, batch_time=15.0)
SMALL_RINGUP = RingupOptions(n_traj=16, chunk_size=4, dt=0.05, t_final=4.0, output_every=1.0)
COLD = Params.paper().replace(temperature=1e-3, power=5e-3)


@pytest.fixture(autouse=True)
def _reset_logging():
    """``main`` installs a handler on the ``simulator`` logger: leave the logger as found."""
    logger = logging.getLogger("simulator")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


# ---- the helper ---------------------------------------------------------------------------------
def test_progress_argument_is_checked():
    for bad in (1, "yes", 0.5):
        with pytest.raises(TypeError, match="progress"):
            check_progress(bad)
    with pytest.raises(TypeError, match="progress"):
        solve_master(Params.paper(), progress="yes")


def test_tqdm_bar_counts_and_closes(capsys):
    bar = TqdmProgress("demo", "chunk", auto_close=True)
    for done in range(4):
        bar(done, 3)
    bar(3, 3)  # after closing: ignored, no error
    err = capsys.readouterr().err
    assert "demo" in err and "3/3" in err and "chunk/s" in err
    assert as_callback(None, "x") is None and as_callback(False, "x") is None
    f = print  # a callable is handed back as it is
    assert as_callback(f, "x") is f
    with progress_callback(True, "ctx", "round") as cb:
        cb(1, 2)
    assert "ctx" in capsys.readouterr().err


# ---- progress=True in Python, for every engine ---------------------------------------------------
@few_units_ok  # progress output only
def test_progress_true_sde(capsys):
    simulate_sde(Params.paper(), SMALL_SDE, seed=1, progress=True)
    captured = capsys.readouterr()
    assert "sde" in captured.err and "4/4" in captured.err and "chunk" in captured.err
    assert captured.out == ""


@few_units_ok  # progress output only
def test_progress_true_ringup(capsys):
    simulate_ringup(Params.paper(), SMALL_RINGUP, seed=1, progress=True)
    captured = capsys.readouterr()
    assert "ringup" in captured.err and "4/4" in captured.err
    assert captured.out == ""


def test_progress_true_and_callable_master_steady_state(capsys):
    calls = []
    res = solve_master(Params.paper(), progress=lambda d, t: calls.append((d, t)))
    rounds = len(res.history)
    assert calls[0] == (0, res.options.max_rounds) and calls[-1] == (rounds, rounds)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    solve_master(Params.paper(), progress=True)
    captured = capsys.readouterr()
    assert "master steady state" in captured.err and f"{rounds}/{rounds}" in captured.err
    assert captured.out == ""


def test_progress_master_evolution_same_result(capsys):
    """The progress path steps the solver time by time: the same numbers as one mesolve call."""
    t = np.linspace(0.0, 2.0, 5)
    opts = EvolveOptions(cutoffs=(3, 5))
    calls = []
    plain = evolve_master(COLD, t, options=opts)
    stepped = evolve_master(COLD, t, options=opts, progress=lambda d, n: calls.append((d, n)))
    assert calls[-1] == (10, 10) and len(calls) == 10  # 5 times, twice (truncation check)
    np.testing.assert_allclose(stepped.covariance, plain.covariance, rtol=0, atol=1e-12)
    evolve_master(COLD, t, options=opts, progress=True)
    assert "master evolution" in capsys.readouterr().err


@few_units_ok  # progress output only
def test_validate_progress_per_leg(capsys, caplog):
    opts = ValidateOptions(sde=SMALL_SDE, seed=1, attractors=False)  # not under test here
    stages = {}
    with caplog.at_level(logging.INFO, logger="simulator"):
        res = validate(Params.paper(), opts,
                       progress=lambda s, d, t: stages.setdefault(s, []).append((d, t)))
    assert res.master is not None
    assert set(stages) == {"sde", "master"}
    assert stages["sde"][-1] == (4, 4)
    assert stages["master"][-1][0] == stages["master"][-1][1] == len(res.master.history)
    lines = [r.getMessage() for r in caplog.records if r.name == "simulator.validate"]
    for leg in ("lyapunov", "sde", "master"):
        assert any(f"{leg} leg started" in x for x in lines), (leg, lines)
        assert any(f"{leg} leg done in" in x for x in lines), (leg, lines)
    assert capsys.readouterr().out == ""
    validate(Params.paper(), opts, progress=True)
    err = capsys.readouterr().err
    assert "validate sde" in err and "validate master" in err


# ---- the command line ---------------------------------------------------------------------------
def test_me_progress_bar_and_quiet(capsys):
    assert main(["me", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "master steady state" in err and "round/s" in err
    assert main(["me", "--progress", "--quiet", "--verbose"]) == 0  # --quiet wins
    assert capsys.readouterr().err == ""
    assert main(["me"]) == 0  # stderr is not a terminal here: no bar by default
    assert capsys.readouterr().err == ""


def test_me_verbose_logs_rounds(capsys):
    assert main(["me", "-v"]) == 0
    err = capsys.readouterr().err
    tag = "INFO simulator.master: master steady state: round"
    rounds = [x for x in err.splitlines() if tag in x]
    assert len(rounds) >= 2
    assert main(["-v", "me"]) == 0  # also before the command
    assert "INFO simulator.master" in capsys.readouterr().err


def test_validate_cli_logs_every_leg(capsys, tmp_path, no_report_figures):
    # the logging is under test, not the statistics: a small SDE leg through a run file
    cfg = tmp_path / "small.toml"
    cfg.write_text("[sde]\nn_traj = 32\nchunk_size = 16\nt_avg = 200.0\n")
    args = ["validate", "--quick", "--no-attractors", "--config", str(cfg),
            "--out", str(tmp_path / "out")]
    assert main(args + ["--verbose", "--progress"]) == 0
    err = capsys.readouterr().err
    for leg in ("lyapunov", "sde", "master"):
        assert f"INFO simulator.validate: validate: {leg} leg started" in err, leg
        assert f"INFO simulator.validate: validate: {leg} leg done in" in err, leg
    assert "validate sde" in err and "validate master" in err  # the bars


def test_verbosity_levels():
    assert main(["me", "-vv", "--cutoffs", "3,6"]) == 0
    assert logging.getLogger("simulator").level == logging.DEBUG
    assert main(["me", "--cutoffs", "3,6"]) == 0
    assert logging.getLogger("simulator").level == logging.WARNING
    assert len([h for h in logging.getLogger("simulator").handlers
                if getattr(h, "_wgmsim_cli", False)]) == 1  # replaced, not stacked


# ---- nothing in the library prints ---------------------------------------------------------------
def test_no_print_in_the_library():
    """Engines report through ``logging`` and return values; only ``simulator/cli`` prints."""
    found = []
    for path in PKG.rglob("*.py"):
        if "cli" in path.relative_to(PKG).parts:
            continue
        text = path.read_text()
        if "print" not in text:  # no print() call without the name: parse 5 files of 75
            continue
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                found.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert not found, f"print() in the library: {found}"


# ---- BLAS threads in master-equation solves ------------------------------------------------------
def test_master_solves_use_one_blas_thread(monkeypatch):
    """``threadpoolctl`` limits every BLAS pool to ``BLAS_THREADS`` during a solve, then
    restores them."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import simulator.master.steady as steady

    seen = []
    real = steady.STEADY_METHODS["sylvester"]

    def spy(*args, **kwargs):
        seen.append({p["num_threads"] for p in threadpool_info()})
        return real(*args, **kwargs)

    monkeypatch.setitem(steady.STEADY_METHODS, "sylvester", spy)
    with threadpool_limits(limits=2):
        before = {p["num_threads"] for p in threadpool_info()}
        solve_master(Params.paper())
        after = {p["num_threads"] for p in threadpool_info()}
    assert seen and all(s == {steady.BLAS_THREADS} for s in seen)
    assert after == before
