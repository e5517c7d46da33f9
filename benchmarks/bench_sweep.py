"""Benchmark: vectorised Delta-beta sweep against per-point SciPy Lyapunov loops.

Run:  python benchmarks/bench_sweep.py [--n 200] [--repeat 3]

Prints points per second for
  1. ``sweep()`` end to end (model, Routh-Hurwitz stability, batched Lyapunov, E_N, steering),
  2. the batched solver ``solve_lyapunov`` alone on the stable points,
  3. a per-point loop of ``scipy.linalg.solve_continuous_lyapunov`` on the same A, D,
  4. a lean per-point loop of what one map point needs -- model, A and D, an eigenvalue
     stability check, ``solve_continuous_lyapunov`` and E_N -- timed on a subsample,
  5. a per-point loop of the single-point engine ``lyapunov(params)`` (which also evaluates
     steering, purity and the residual), timed on a subsample,
and the difference between the sweep and SciPy per point, relative to that point's largest
element (median, 99th percentile, worst, with the residuals of both at the worst point).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from simulator import (
    Params,
    Rates,
    diffusion_matrix,
    drift_matrix,
    log_negativity,
    lyapunov,
    lyapunov_residual,
    solve_lyapunov,
    sweep,
)


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="grid is n x n (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument("--subsample", type=int, default=2000, help="points for the lyapunov() loop")
    args = ap.parse_args()

    p = Params.paper()
    g = p.Gamma
    det, beta = np.meshgrid(np.linspace(-4.0, 2.0, args.n) * g, np.linspace(0, np.pi / 2, args.n),
                            indexing="ij")
    n_pts = det.size
    sweep(p, detuning=det[:2, :2], beta=beta[:2, :2])  # warm caches
    t_sweep, res = best_of(lambda: sweep(p, detuning=det, beta=beta), args.repeat)

    r = Rates.from_params(p, detuning=det, beta=beta)
    A, D = drift_matrix(r)[res.stable], diffusion_matrix(r)[res.stable]
    n_stable = len(A)
    t_solve, V = best_of(lambda: solve_lyapunov(A, D), args.repeat)

    t0 = time.perf_counter()
    V_ref = np.array([solve_continuous_lyapunov(a, -d) for a, d in zip(A, D)])
    t_scipy = time.perf_counter() - t0
    V_sw = res.covariance[res.stable]
    # per-point difference relative to that point's largest element
    rel = np.abs(V_sw - V_ref).max(axis=(1, 2)) / np.abs(V_ref).max(axis=(1, 2))
    worst = int(np.argmax(rel))

    idx = np.random.default_rng(0).choice(n_pts, size=min(args.subsample, n_pts), replace=False)
    flat_d, flat_b = det.ravel()[idx], beta.ravel()[idx]
    t0 = time.perf_counter()
    for dd, bb in zip(flat_d, flat_b):
        rp = Rates.from_params(p, detuning=dd, beta=bb)
        a, d = drift_matrix(rp), diffusion_matrix(rp)
        if np.linalg.eigvals(a).real.max() < 0:
            log_negativity(solve_continuous_lyapunov(a, -d))
    t_lean = (time.perf_counter() - t0) / len(idx)
    t0 = time.perf_counter()
    for dd, bb in zip(flat_d, flat_b):
        lyapunov(p.replace(detuning=float(dd), beta=float(bb)))
    t_point = (time.perf_counter() - t0) / len(idx)

    out = {
        "grid": f"{args.n} x {args.n} (Delta/Gamma in [-4, 2], beta in [0, pi/2])",
        "points": n_pts,
        "stable_points": n_stable,
        "sweep_points_per_s": n_pts / t_sweep,
        "batched_solver_points_per_s": n_stable / t_solve,
        "scipy_loop_points_per_s": n_stable / t_scipy,
        "lean_scipy_loop_points_per_s": 1.0 / t_lean,
        "lyapunov_loop_points_per_s": 1.0 / t_point,
        "speedup_solver_vs_scipy_loop": t_scipy / t_solve,
        "speedup_sweep_vs_scipy_loop_per_point": (t_scipy / n_stable) / (t_sweep / n_pts),
        "speedup_sweep_vs_lean_scipy_loop": t_lean / (t_sweep / n_pts),
        "speedup_sweep_vs_lyapunov_loop": t_point / (t_sweep / n_pts),
        "rel_diff_vs_scipy_median": float(np.median(rel)),
        "rel_diff_vs_scipy_p99": float(np.percentile(rel, 99)),
        "rel_diff_vs_scipy_max": float(rel[worst]),
        "worst_point_max_real_eigenvalue": float(np.linalg.eigvals(A[worst]).real.max()),
        "worst_point_residual_sweep": float(lyapunov_residual(A[worst], V_sw[worst], D[worst])),
        "worst_point_residual_scipy": float(lyapunov_residual(A[worst], V_ref[worst], D[worst])),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    for k, v in out.items():
        print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
