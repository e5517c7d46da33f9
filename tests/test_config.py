"""Run files: g0/G, TOML round trip, --config precedence, run.toml reproducing a run."""

import ast
import json
import functools
import math
from pathlib import Path

import numpy as np
import pytest

from simulator import Params, lyapunov
from simulator.cli import build_parser, main
from simulator.cli.common import params_from_args
from simulator.cli.runfile import build_options
from simulator.cli.sde import options_from_args
from simulator.config import (ConfigError, RunFile, apply_changes, power_for_coupling,
                              write_run_file)
from simulator.model import Rates
from simulator.sde import SDEOptions, SDEResult
from simulator.sde.ringup import RingupOptions
from simulator.validate import ValidateOptions

ROOT = Path(__file__).parent.parent


@functools.lru_cache(maxsize=1)
def study_coupling_params():
    """``coupling_params`` of validation/linearisation_study.py, the study's own parametrisation
    (taken from its source, so that the test does not import matplotlib)."""
    tree = ast.parse((ROOT / "validation" / "linearisation_study.py").read_text())
    func = next(n for n in tree.body
                if isinstance(n, ast.FunctionDef) and n.name == "coupling_params")
    namespace = {"Params": Params}
    exec(compile(ast.Module([func], type_ignores=[]), "linearisation_study.py", "exec"), namespace)
    return namespace["coupling_params"]


# ---- g0 and G -----------------------------------------------------------------------------------
@pytest.mark.parametrize("g", [1.2e-5, 0.03, 0.1, 0.2, 0.5])
def test_g0_and_G_reproduce_the_linearisation_study(g):
    expected = study_coupling_params()(g)
    G_paper = lyapunov(Params.paper()).to_dict()["coupling"]["r"]  # |G_r| / omega_m
    args = build_parser().parse_args(["lyapunov", "--set", f"g0={g!r}Gamma",
                                      "--set", f"G={G_paper!r}omega_m"])
    p = params_from_args(args)
    assert p.G0 / p.Gamma == pytest.approx(g, rel=1e-14)
    assert p.mass == pytest.approx(expected.mass, rel=1e-14)
    assert p.power == pytest.approx(expected.power, rel=1e-14)
    assert p.replace(mass=expected.mass, power=expected.power) == expected
    a, b = Rates.from_params(p), Rates.from_params(expected)
    for name in ("g0", "drive", "delta", "Gamma"):
        assert float(getattr(a, name)) == pytest.approx(float(getattr(b, name)), rel=1e-13)
    assert lyapunov(p).to_dict()["coupling"]["r"] == pytest.approx(G_paper, rel=1e-13)


@pytest.mark.parametrize("changes", [{}, {"detuning": "-0.3Gamma", "damping": "rwa"},
                                     {"eta": "0.5-0.1jGamma", "beta": "0.3"}, {"eps": 0.0}])
def test_G_is_checked_with_the_mean_field(changes):
    target = 0.37 * Params.paper().omega_m
    p = apply_changes(Params.paper(), {**changes, "G": target})
    assert lyapunov(p).to_dict()["coupling"]["r"] * p.omega_m == pytest.approx(target, rel=1e-12)
    assert power_for_coupling(p, 0.0) == 0.0


# ---- --config: precedence, unknown keys ---------------------------------------------------------
def parse(*argv):
    args = build_parser().parse_args(list(argv))
    return args, params_from_args(args)


def test_config_under_explicit_flags(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[params]\npower = "10mW"\ndetuning = "-1Gamma"\n'
                   '[sde]\nn_traj = 64\nt_avg = 50.0\nblock_steps = 8\nseed = 5\n'
                   'wigner_correction = false\n')
    args, p = parse("sde", "--config", str(cfg))
    opts = options_from_args(args)
    assert p.power == 0.01 and p.detuning == -p.Gamma
    assert (opts.n_traj, opts.t_avg, opts.block_steps) == (64, 50.0, 8)
    assert opts.wigner_correction is False
    assert args.seed == 5
    # explicit flags win, even when they repeat the default (256 trajectories, seed 0)
    args, p = parse("sde", "--config", str(cfg), "--n-traj", "256", "--seed", "0",
                    "--set", "power=20mW")
    opts = options_from_args(args)
    assert (opts.n_traj, opts.t_avg, args.seed, p.power) == (256, 50.0, 0, 0.02)
    assert p.detuning == -p.Gamma
    # --params over --config [params], --set over --params
    pfile = tmp_path / "p.toml"
    pfile.write_text('power = "15mW"\ntemperature = "50mK"\n')
    args, p = parse("sde", "--config", str(cfg), "--params", str(pfile))
    assert (p.power, p.temperature, p.detuning) == (0.015, 0.05, -p.Gamma)
    args, p = parse("sde", "--config", str(cfg), "--params", str(pfile), "--set",
                    "temperature=1mK")
    assert (p.power, p.temperature) == (0.015, 1e-3)


@pytest.mark.parametrize("text, message", [
    ("[sde]\nn_trajectories = 3\n", "unknown key(s) ['n_trajectories'] in [sde]; allowed: "
                                    "['method', 'dt', 'n_traj'"),
    ("[params]\ncolour = 3\n", "unknown key(s) ['colour'] in [params]; allowed: ['mass'"),
    ("[engine]\nx = 1\n", "[engine] is not a table of a run file; allowed tables: ['params', "
                          "'sde', 'ringup', 'master', 'validate']"),
    ("[ringup]\nn_traj = 8\n", "table(s) ['[ringup]'] not used by `wgmsim sde`, which reads "
                                 "['[params]', '[sde]']; nothing left to read"),
    ("[params]\npower = 0.03\ndetuning = \"-1.15\"\n", "detuning needs a unit"),
    ("power = 1\n", "[power] is not a table of a run file"),
])
def test_bad_run_files_refused(tmp_path, capsys, text, message):
    cfg = tmp_path / "run.toml"
    cfg.write_text(text)
    assert main(["sde", "--config", str(cfg), "--n-traj", "4", "--t-avg", "1"]) == 2
    assert message in capsys.readouterr().err


def test_master_table(tmp_path):
    cfg = tmp_path / "run.toml"
    from simulator.master import EvolveOptions, MasterOptions

    cfg.write_text("[master]\nnonlinear = true\ntol = 1e-4\ntail = 1e-4\nmax_rounds = 3\n")
    args, _ = parse("me", "--config", str(cfg))
    opts = build_options(args, MasterOptions, "master", nonlinear=args.nonlinear, tol=args.tol)
    assert opts == MasterOptions(nonlinear=True, tol=1e-4, tail=1e-4, max_rounds=3)
    with pytest.raises(ConfigError, match=r"\[master\] \['max_rounds'\]: not options of "
                                          "EvolveOptions"):
        build_options(args, EvolveOptions, "master", nonlinear=args.nonlinear)


def test_validate_run_file_gives_the_same_options(tmp_path):
    options = ValidateOptions(quick=True, seed=4, master=False, master_max_dim=64)
    write_run_file(tmp_path, Params.paper(beta=0.3), command="validate", validate=options)
    args, p = parse("validate", "--config", str(tmp_path / "run.toml"))
    back = build_options(args, ValidateOptions, "validate", quick=args.quick, seed=args.seed,
                         n_jobs=args.n_jobs, master=not args.no_master,
                         master_max_dim=args.master_max_dim)
    assert p == Params.paper(beta=0.3)
    assert back.sde_options() == options.sde_options()
    assert (back.seed, back.master, back.master_max_dim) == (4, False, 64)


def _validate_options(args):
    return build_options(args, ValidateOptions, "validate", quick=args.quick, seed=args.seed,
                         n_jobs=args.n_jobs, master=not args.no_master,
                         master_max_dim=args.master_max_dim)


def test_a_run_file_works_with_every_subcommand_sharing_its_tables(tmp_path, capsys):
    """Issue 20: run.toml of `sde --out` fed to lyapunov, me, ringup and validate: each reads
    the tables it shares ([params]; validate also [sde], with its seed) and names the others
    it ignores in one line."""
    sde_opts = SDEOptions(n_traj=32, chunk_size=8, t_avg=40.0, dt=0.05)
    write_run_file(tmp_path, Params.paper(beta=0.3), command="sde", sde=sde_opts, seed=9)
    cfg = str(tmp_path / "run.toml")
    assert main(["lyapunov", "--config", cfg, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == f"wgmsim lyapunov: {cfg}: ignoring [sde] (read by sde/validate)"
    assert json.loads(out)["params"]["beta"] == 0.3
    for command in ("me", "ringup"):
        args, p = parse(command, "--config", cfg)
        assert p == Params.paper(beta=0.3)
        assert f"ignoring [sde] (read by sde/validate)" in capsys.readouterr().err
    args, p = parse("validate", "--config", cfg)
    opts = _validate_options(args)
    assert capsys.readouterr().err == ""  # validate reads both tables
    assert p == Params.paper(beta=0.3) and opts.seed == 9
    assert opts.sde == sde_opts  # the SDE leg runs the sde run's options and seed
    # --quiet: no note; a file with none of the command's tables is still refused
    args, _ = parse("--quiet", "me", "--config", cfg)
    assert capsys.readouterr().err == ""
    only = tmp_path / "only.toml"
    only.write_text("[ringup]\nn_traj = 8\n")
    with pytest.raises(ConfigError, match="nothing left to read"):
        parse("sde", "--config", str(only))
    # validate's run file fed to sde: [validate] ignored, its [sde] table read
    write_run_file(tmp_path / "v", Params.paper(), command="validate",
                   validate=ValidateOptions(quick=True, seed=4))
    args, _ = parse("sde", "--config", str(tmp_path / "v" / "run.toml"))
    assert options_from_args(args).n_traj == ValidateOptions(quick=True).sde_options().n_traj
    assert "ignoring [validate] (read by validate)" in capsys.readouterr().err


def test_validate_refuses_two_different_seeds(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[validate]\nseed = 1\n[sde]\nseed = 2\nn_traj = 16\n")
    with pytest.raises(ConfigError, match=r"\[validate\] seed = 1 and \[sde\] seed = 2"):
        _validate_options(parse("validate", "--config", str(cfg))[0])
    cfg.write_text("[validate]\nseed = 2\n[sde]\nseed = 2\nn_traj = 16\n")
    assert _validate_options(parse("validate", "--config", str(cfg))[0]).seed == 2


# ---- run.toml repeats a run bit for bit ---------------------------------------------------------
def test_sde_run_file_reproduces_the_result(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["sde", "--n-traj", "8", "--chunk-size", "4", "--t-avg", "20", "--t-burn", "5",
                 "--seed", "3", "--set", "beta=0.3", "--set", "eta=0.8-0.02jGamma",
                 "--quiet", "--out", str(first)]) == 0
    run = RunFile.read(first / "run.toml")
    assert run.table("sde")["seed"] == 3 and run.table("sde")["n_traj"] == 8
    assert main(["sde", "--config", str(first / "run.toml"), "--quiet", "--out",
                 str(second)]) == 0
    a, b = SDEResult.load(first), SDEResult.load(second)
    assert a.params == b.params and a.options == b.options and a.seeds == b.seeds
    assert np.array_equal(a.covariance, b.covariance)
    assert np.array_equal(a.covariance_stderr, b.covariance_stderr)
    assert (first / "run.toml").read_text() == (second / "run.toml").read_text()
    # and a different seed gives different bits (the comparison can fail)
    assert main(["sde", "--config", str(first / "run.toml"), "--seed", "4", "--quiet",
                 "--out", str(tmp_path / "c")]) == 0
    assert not np.array_equal(SDEResult.load(tmp_path / "c").covariance, a.covariance)
    capsys.readouterr()


def test_ringup_run_file_reproduces_the_result(tmp_path, capsys):
    from simulator.sde.ringup import RingupResult

    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["ringup", "--n-traj", "8", "--chunk-size", "4", "--t-final", "4",
                 "--seed", "2", "--quiet", "--out", str(first)]) == 0
    assert main(["ringup", "--config", str(first / "run.toml"), "--quiet", "--out",
                 str(second)]) == 0
    a, b = RingupResult.load(first), RingupResult.load(second)
    assert a.options == b.options == RingupOptions(n_traj=8, chunk_size=4, t_final=4.0)
    assert np.array_equal(a.covariance, b.covariance)
    capsys.readouterr()


def test_sde_options_table_round_trip(tmp_path):
    opts = SDEOptions(n_traj=10, chunk_size=3, initial="gaussian", initial_mean=(0.0,) * 6,
                      initial_covariance=tuple(tuple(0.5 * (i == j) for j in range(6))
                                               for i in range(6)), block_steps=7, dt=1 / 3)
    write_run_file(tmp_path, Params.paper(), command="sde", sde=opts, seed=11)
    args, _ = parse("sde", "--config", str(tmp_path / "run.toml"))
    assert options_from_args(args) == opts and args.seed == 11
    assert math.isclose(options_from_args(args).dt, 1 / 3, rel_tol=0)


def test_validate_out_writes_a_run_file(tmp_path, capsys):
    assert main(["validate", "--set", "detuning=-3Gamma", "--set", "power=20mW", "--quick",
                 "--out", str(tmp_path), "--quiet"]) == 0  # unstable: no ensemble, fast
    args, p = parse("validate", "--config", str(tmp_path / "run.toml"))
    assert p == apply_changes(Params.paper(), {"detuning": "-3Gamma", "power": "20mW"})
    assert args.quick is True and RunFile.read(tmp_path / "run.toml").table("sde")["n_traj"] == 256
    capsys.readouterr()
