"""``import simulator`` stays light: the heavy libraries load on first use, not at import.

The timing itself is in ``benchmarks/bench_import.py``; this checks the cause, deterministically.
"""

import simulator


def test_import_loads_no_heavy_library(fresh_imports):
    """In a fresh interpreter (``conftest.fresh_imports``, which names the libraries)."""
    assert fresh_imports["heavy"] == []


def test_every_public_name_resolves():
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None, name
    from simulator import SDEOptions, evolve_master, simulate_ringup, solve_master  # noqa: F401
