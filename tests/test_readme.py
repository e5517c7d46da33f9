"""The README's Python API example runs as written."""

from pathlib import Path

from conftest import few_units_ok

README = Path(__file__).parent.parent / "README.md"


#: The README's ensemble (256 trajectories over 10^3 / omega_m on two loky workers, 4 s of CPU
#: with the workers' imports) is cut to a few chunks in one process: the test checks that every call
#: of the block runs and prints, not the ensemble's statistics (those are tested at or above
#: the engine's minimum units in tests/test_sde_ensemble.py).
README_SDE = "SDEOptions(n_traj=256, t_avg=1000.0), seed=1, n_jobs=2"
TEST_SDE = ("SDEOptions(n_traj=16, chunk_size=8, dt=0.1, initial='lyapunov', t_burn=20.0,"
            " t_avg=40.0, batch_time=10.0), seed=1, n_jobs=1")


@few_units_ok  # the shrunken ensemble is flagged; nothing statistical is asserted on it
def test_python_api_block_runs(capsys):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    block = section.split("```python", 1)[1].split("```", 1)[0]
    assert block.count(README_SDE) == 1, "the README's SDE call changed: update README_SDE"
    block = block.replace(README_SDE, TEST_SDE)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0.1597")


def _blocks(language):
    text = README.read_text()
    return [b.split("```", 1)[0] for b in text.split(f"```{language}\n")[1:]]


def test_command_lines_parse_with_their_units():
    """Every `wgmsim ...` line of the README parses, and its --set values are accepted."""
    import shlex

    from simulator.cli import build_parser
    from simulator.cli.common import params_from_args

    lines = [ln.split("#")[0].strip() for b in _blocks("bash") for ln in b.splitlines()]
    lines = [ln for ln in lines if ln.startswith("wgmsim ") and "--config" not in ln]
    assert any("--set" in ln for ln in lines)
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        params_from_args(args)


def test_toml_example_reads(tmp_path):
    from simulator import Params

    block = next(b for b in _blocks("toml") if "[[defects]]" in b)
    path = tmp_path / "p.toml"
    path.write_text(block)
    p = Params.from_toml(path)
    assert p.temperature == 0.05 and len(p.defects) == 2 and p.eta.imag < 0
