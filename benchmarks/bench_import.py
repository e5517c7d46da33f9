"""Import time of ``simulator`` against its floor, ``numpy`` + ``scipy.linalg``.

Each import runs in a fresh interpreter (``python -c "import ..."``), timed inside the child with
``time.perf_counter`` so that interpreter start-up is excluded; the figure is the median of
``--repeat`` runs, the two imports interleaved so that machine load falls on both alike. The
target (issue 11) is ``import simulator`` within 1.5x the floor. ``python -X importtime`` gives the
breakdown: the slowest modules pulled in by ``import simulator`` are printed last.

Usage: ``python benchmarks/bench_import.py [--repeat N] [--top K]``; exit status 1 if the ratio
exceeds ``--limit`` (default 1.5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"floor": "import numpy, scipy.linalg", "simulator": "import simulator"}


def _env() -> dict[str, str]:
    """The child's environment: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def time_import(statement: str) -> float:
    """Seconds taken by ``statement`` in a fresh interpreter (start-up excluded)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=_env(), cwd=ROOT)
    return float(out.stdout.strip())


def importtime_breakdown(statement: str, top: int) -> list[tuple[int, str]]:
    """``(cumulative microseconds, module)`` of the ``top`` slowest imports under ``-X importtime``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                         capture_output=True, text=True, check=True, env=_env(), cwd=ROOT)
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="fresh interpreters per import (7)")
    ap.add_argument("--top", type=int, default=12, help="modules shown in the breakdown (12)")
    ap.add_argument("--limit", type=float, default=1.5, help="largest accepted ratio (1.5)")
    args = ap.parse_args(argv)

    times: dict[str, list[float]] = {k: [] for k in TARGETS}
    for _ in range(args.repeat):
        for key, statement in TARGETS.items():
            times[key].append(time_import(statement))
    med = {k: statistics.median(v) for k, v in times.items()}
    for key, statement in TARGETS.items():
        print(f"{statement:28s} median {1e3 * med[key]:7.1f} ms over {args.repeat} runs "
              f"(min {1e3 * min(times[key]):.1f}, max {1e3 * max(times[key]):.1f})")
    ratio = med["simulator"] / med["floor"]
    print(f"ratio simulator / (numpy + scipy.linalg) = {ratio:.2f} (limit {args.limit})")
    print(f"\nslowest imports under 'python -X importtime -c \"{TARGETS['simulator']}\"' "
          "(cumulative ms):")
    for us, name in importtime_breakdown(TARGETS["simulator"], args.top):
        print(f"  {us / 1e3:8.1f}  {name}")
    return 0 if ratio <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
