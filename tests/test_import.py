"""``import simulator`` stays light: the heavy libraries load on first use, not at import.

The timing itself is in ``benchmarks/bench_import.py``; this checks the cause, deterministically.
"""

import subprocess
import sys

import simulator

HEAVY = ("scipy.integrate", "scipy.optimize", "qutip", "matplotlib", "joblib", "dask")


def test_import_loads_no_heavy_library():
    code = ("import sys, simulator; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_every_public_name_resolves():
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None, name
    from simulator import SDEOptions, evolve_master, simulate_ringup, solve_master  # noqa: F401
