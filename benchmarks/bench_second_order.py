"""Benchmark: the exact second-order engine, one point and a grid, on one core.

Run:  python benchmarks/bench_second_order.py [--n 10000] [--repeat 5]

Prints the wall time of ``second_order(params)`` for one point (best of ``--repeat`` after a warm-up;
targets of issue 16: <= 5 ms) and for a detuning x power grid of ``--n`` points in one batched call
(target: 10^4 points <= 10 s), with the number of stable points and the coefficient range found.
Set ``OMP_NUM_THREADS=1`` (the script does, before numpy is imported) so that the figure is one
core's.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from simulator import Params, second_order  # noqa: E402


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="grid points (default 10000)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    p = Params.paper()
    second_order(p)  # warm-up: builds the constant operator tensors once
    t_point = best_of(lambda: second_order(p), args.repeat)
    side = int(round(np.sqrt(args.n)))
    det = (np.linspace(0.05, 2.0, side) - 2.0) * p.Gamma  # Dt/Gamma in (0.05, 2]
    power = p.power * np.geomspace(1e-3, 1.0, side)        # up to the paper's 30 mW
    D, P = np.meshgrid(det, power, indexing="ij")
    t0 = time.perf_counter()
    res = second_order(p, detuning=D, power=P)
    t_grid = time.perf_counter() - t0
    coef = res.coefficient("quantum")[res.stable]
    print(f"second_order, one point (paper's immune point): {t_point * 1e3:.2f} ms "
          f"(best of {args.repeat}; target <= 5 ms)")
    print(f"second_order, {res.stable.size} grid points in one call: {t_grid:.2f} s "
          f"({res.stable.size / t_grid:.0f} points/s; target 10^4 in <= 10 s); "
          f"{int(res.stable.sum())} stable; quantum dE_N/(G0/Gamma)^2 in "
          f"[{coef.min():.3g}, {coef.max():.3g}]")


if __name__ == "__main__":
    main()
