"""Every script in examples/ runs to completion (each is meant to take under a minute)."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
#: Run with -m slow: master_check.py solves two defect-point master equations (the brownian one
#: is also test_master.py's [defect] case, in the default run); ringup.py (4096 trajectories),
#: ensemble_parallel.py (two worker processes) and results_roundtrip.py take 3-4 s of CPU each,
#: a third of the default run's budget for all of them (issue 20: under 60 s of CPU in all). CI
#: still runs every example: the documentation build in .ci/run executes each script of
#: examples/ (sphinx-gallery, abort_on_example_error, warnings as errors).
SLOW = {"master_check.py", "ringup.py", "ensemble_parallel.py", "results_roundtrip.py"}


@pytest.mark.parametrize("script", [
    pytest.param(s, id=s.name, marks=[pytest.mark.slow] if s.name in SLOW else [])
    for s in EXAMPLES])
def test_example_runs(script, tmp_path, monkeypatch, capsys):
    """Run as ``python script.py`` from an empty folder would, but in this interpreter: a fresh
    one per script cost more than the three default-run scripts themselves (imports); the
    scripts read no arguments and print their results."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script)])
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip()


def test_examples_found():
    assert len(EXAMPLES) >= 3
