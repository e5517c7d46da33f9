"""Shared fixtures: parameter points used across the test modules."""

import os

# One BLAS thread for the test process and the subprocesses it starts, set before numpy loads
# OpenBLAS: the master-equation tests multiply many small dense matrices, where a second BLAS
# thread on a busy 2-core machine made them 4-5x slower in CPU time (tests/test_master.py: 73 s ->
# 15 s). A user's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (a CI run must not depend on luck); run
# with HYPOTHESIS_PROFILE=explore to search afresh.
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

from simulator import Params

#: For a test that runs an ensemble below the engine's minimum of statistical units (to stay
#: fast) and asserts nothing statistical on it (shapes, round trips, formats, exact zeros), or
#: asserts only that the flag is raised: the engine's StatisticsWarning is expected there. The
#: one definition (issue 19); a test that draws a statistical conclusion runs at or above
#: ``simulator.errors.MIN_UNITS`` instead.
few_units_ok = pytest.mark.filterwarnings("ignore::simulator.errors.StatisticsWarning")


@pytest.fixture
def paper() -> Params:
    """The paper's immune point (eps = eta = Gamma, beta = pi/8, Dt = 0.85 Gamma)."""
    return Params.paper()


@pytest.fixture
def ideal() -> Params:
    """No scatterers, at the paper's optimal detuning Delta = 0.85 Gamma."""
    p = Params.paper(defects=(), eta=0.0)
    return p.replace(detuning=0.85 * p.Gamma)


@pytest.fixture
def defect() -> Params:
    """A defect and a misplaced nanoparticle (beta = 0.3), where CW and CCW couple."""
    return Params.paper(beta=0.3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def steady_state():
    """``solve_master(params, options=options)``, solved once per parameter point and options
    for the whole session (the defect point takes seconds; test_master, test_protocol,
    test_netcdf, test_second_order and test_validate read the same results). Results are
    frozen; do not rely on their identity."""
    from simulator.master import solve_master

    cache: dict = {}

    def solve(params: Params, options=None):
        key = (params, options)
        if key not in cache:
            cache[key] = solve_master(params, options=options)
        return cache[key]

    return solve


@pytest.fixture(scope="session")
def paper_validation():
    """``validate`` at the paper's point with every leg: Lyapunov, a small SDE leg with its
    step-size check (32 trajectories, 2 statistical units: flagged, and nothing statistical is
    asserted on it), the quick nonlinear master equation and the attractor search. Shared by the
    report, round-trip, netCDF and master-leg tests (one run instead of four).

    The attractor search here finds the cycles only (``AttractorOptions(n_directions=0)``: 1.4
    s of CPU instead of 6 for the basin's 64 directions at this point): the tests read the
    cycle (5.5e5 sigma_q) and the master equation's scope, not the basin edge, which is tested
    at G0/Gamma = 0.1 (tests/test_attractors.py, test_validate's metastable summary) and at
    this point under ``-m slow``."""
    import functools
    import warnings

    import simulator.validate as validate_module
    from simulator import SDEOptions
    from simulator.attractors import AttractorOptions, find_attractors
    from simulator.errors import StatisticsWarning

    opts = validate_module.ValidateOptions(quick=True, seed=3, sde=SDEOptions(
        n_traj=32, chunk_size=16, t_avg=200.0, error_check=True))
    cycles_only = functools.partial(find_attractors, options=AttractorOptions(n_directions=0))
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setattr(validate_module, "find_attractors", cycles_only)
        warnings.simplefilter("ignore", StatisticsWarning)
        return validate_module.validate(Params.paper(), opts)


@pytest.fixture
def no_report_figures(monkeypatch):
    """For a test of a report's text, files or command-line wiring, not of its figures:
    ``write_report`` leaves out the two matplotlib figures (0.3-0.5 s of CPU each). The figures
    are tested where they are the subject (test_validate's quick run, test_report_html)."""
    import simulator.plotting

    monkeypatch.setattr(simulator.plotting, "plot_validation", lambda result, directory: [])


#: Libraries ``import simulator`` must not load (they load on first use; tests/test_import.py).
HEAVY = ("scipy.integrate", "scipy.optimize", "qutip", "matplotlib", "joblib", "dask")


@pytest.fixture(scope="session")
def fresh_imports():
    """What one fresh interpreter saw, in this order: ``import simulator`` (which of
    :data:`HEAVY` it loaded), then the SDE package and its JAX backend module (whether ``jax``
    got loaded), then ``matplotlib.use('svg')`` and ``simulator.plotting`` (the backend after,
    whether ``pyplot`` got loaded). One interpreter for test_import, test_jax_backend and
    test_architecture's plotting check (each start costs 0.15-0.5 s of CPU)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys\n"
        "import simulator\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "import simulator.sde, simulator.sde.jax_backend\n"
        "jax = 'jax' in sys.modules\n"
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import simulator.plotting\n"
        "print(json.dumps({'heavy': heavy, 'jax': jax, 'backend': matplotlib.get_backend(),\n"
        "                  'pyplot': 'matplotlib.pyplot' in sys.modules}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])
