"""Benchmarks of the SDE engine (issue 3). Run: ``python benchmarks/bench_sde.py [--quick]``.

Prints one JSON object:

* ``throughput``: trajectory-steps per second of one chunk of 1024 trajectories for each
  integrator (including the streaming accumulation of ``x`` and ``x x^T`` at every step and the
  divergence checks), against a plain numpy Euler-Maruyama loop on the full amplitudes
  (``nonlinear_drift`` and fresh random numbers every step, no statistics) and against the
  random-number floor (drawing the same Gaussian numbers with the same generator into a
  preallocated buffer, nothing else);
* ``cost_to_accuracy``: wall time to estimate the stationary covariance at the paper's immune
  point to 1 % (largest standard error over largest element) and E_N(r_m) to a standard error of
  0.001, doubling the averaging time until reached;
* ``parallel``: wall time of one run with ``n_jobs = 1`` and ``2`` and the efficiency
  ``t1 / (2 t2)``.

Timings depend on the load of the machine; the numbers are minima over repeats where stated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from simulator import Params, diffusion_matrix, nonlinear_drift  # noqa: E402
from simulator.sde import SDEOptions, fluctuation_system, simulate_sde  # noqa: E402
from simulator.sde.ensemble import chunk_seeds, run_chunk, schedule  # noqa: E402
from simulator.sde.problem import EnsembleProblem  # noqa: E402


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def throughput(n: int = 1024, steps: int = 2000, repeats: int = 3) -> dict:
    params = Params.paper()
    system = fluctuation_system(params)
    out: dict = {"n_traj": n, "steps": steps}
    for method, dt in (("exponential", 0.1), ("sra1", 0.1), ("euler", 0.01)):
        opts = SDEOptions(method=method, dt=dt, n_traj=n, chunk_size=n, t_burn=0.0,
                          t_avg=steps * dt, batch_time=steps * dt / 4)
        sched = schedule(system, opts)
        seed = chunk_seeds(1, 1)[0]
        prob = EnsembleProblem(system, opts, schedule=sched)
        t = best_of(lambda: run_chunk(prob, seed, 0, n), repeats)
        out[method] = n * steps / t
    # plain numpy Euler-Maruyama on the full amplitudes (what one would write first)
    rates = system.rates
    B = np.sqrt(np.diag(diffusion_matrix(rates)))
    u0 = system.mean

    def plain():
        rng = np.random.default_rng(0)
        u = np.tile(u0, (n, 1))
        dt = 0.01
        for _ in range(steps):
            u = u + dt * nonlinear_drift(rates, u, system.bare_detuning) \
                + np.sqrt(dt) * B * rng.standard_normal((n, 6))

    out["plain_numpy_euler"] = n * steps / best_of(plain, repeats)

    def floor(n_normals: int):
        # the fastest way to get the same numbers: one generator, a preallocated block buffer
        buf = np.empty((64, n_normals, n, 6))

        def f():
            rng = np.random.default_rng(0)
            for _ in range(steps // 64):
                rng.standard_normal(out=buf)
        return f

    out["random_number_floor"] = n * (steps // 64) * 64 / best_of(floor(1), repeats)
    out["random_number_floor_2_normals"] = n * (steps // 64) * 64 / best_of(floor(2), repeats)
    out["exponential_over_floor"] = out["random_number_floor"] / out["exponential"]
    out["sra1_over_floor"] = out["random_number_floor_2_normals"] / out["sra1"]
    out["euler_over_floor"] = out["random_number_floor"] / out["euler"]
    out["plain_numpy_euler_over_floor"] = out["random_number_floor"] / out["plain_numpy_euler"]
    out["units"] = "trajectory-steps per second (6 variables); *_over_floor: slowdown factor"
    return out


def cost_to(target: str, *, n_traj: int, t_avg: float, n_jobs: int = 1, limit: float = 300.0
            ) -> dict:
    """Double ``t_avg`` until the accuracy target is met; report the wall time of that run."""
    params = Params.paper()
    while True:
        opts = SDEOptions(n_traj=n_traj, chunk_size=max(1, n_traj // 8), dt=0.1, t_avg=t_avg)
        t = time.perf_counter()
        res = simulate_sde(params, opts, seed=123, n_jobs=n_jobs)
        wall = time.perf_counter() - t
        rel = float(np.abs(res.covariance_stderr).max() / np.abs(res.covariance).max())
        en_se = res.log_negativity_stderr["r_m"]
        ok = rel < 0.01 if target == "covariance_1pct" else en_se < 0.001
        if ok or wall > limit:
            return {"target": target, "reached": ok, "wall_seconds": wall, "n_traj": n_traj,
                    "t_avg": res.schedule["t_avg"], "t_burn": res.schedule["t_burn"],
                    "dt": 0.1, "method": "exponential", "n_jobs": n_jobs,
                    "max_stderr_over_max_element": rel, "E_N_r_m": res.log_negativity["r_m"],
                    "E_N_r_m_stderr": en_se, "max_abs_z_vs_lyapunov": res.lyapunov["max_abs_z"],
                    "n_units": res.n_units}
        t_avg *= 2


def parallel(n_traj: int = 1024, t_avg: float = 2000.0) -> dict:
    opts = SDEOptions(n_traj=n_traj, chunk_size=n_traj // 8, dt=0.1, t_avg=t_avg)
    times = {}
    for n_jobs in (1, 2):
        simulate_sde(Params.paper(), opts.replace(n_traj=16, chunk_size=8, t_avg=10.0),
                     seed=0, n_jobs=n_jobs)  # start the workers
        t = time.perf_counter()
        simulate_sde(Params.paper(), opts, seed=0, n_jobs=n_jobs)
        times[n_jobs] = time.perf_counter() - t
    return {"n_traj": n_traj, "t_avg": t_avg, "wall_1": times[1], "wall_2": times[2],
            "efficiency": times[1] / (2 * times[2]), "cpu_count": os.cpu_count()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="throughput only, fewer steps")
    ap.add_argument("--n-jobs", type=int, default=1, help="workers for the cost-to-accuracy runs")
    args = ap.parse_args(argv)
    report = {"load_average_start": os.getloadavg()}
    report["throughput"] = throughput(steps=640 if args.quick else 2000,
                                      repeats=1 if args.quick else 3)
    if not args.quick:
        report["cost_to_accuracy"] = [
            cost_to("covariance_1pct", n_traj=256, t_avg=300.0, n_jobs=args.n_jobs),
            cost_to("E_N_stderr_0.001", n_traj=512, t_avg=1500.0, n_jobs=args.n_jobs),
        ]
        report["parallel"] = parallel()
    report["load_average_end"] = os.getloadavg()
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
