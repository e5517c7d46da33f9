"""Speed of the SDE ensemble: numpy (one core, all cores) against the JAX backend, and diffrax.

The problem is issue 21's: the paper's immune point (``Params.paper()``), stationary run, burn-in
300 and averaging 1000 (units of ``1/omega_m``), exponential integrator. For each engine it
prints trajectory-steps per second, trajectory-time (``omega_m^-1``) per second, the largest
relative standard error of the stationary covariance, ``max_ij se(V_ij) / sqrt(V_ii V_jj)``, the
time that error says a 1 % covariance would take (``wall * (err / 0.01)^2``), and the largest
``|z|`` of the covariance against Lyapunov (a check that the fast answer is also right).

    python benchmarks/bench_jax.py                 # the full set (a GPU for the JAX sizes)
    python benchmarks/bench_jax.py --quick         # small sizes, a minute on a laptop CPU
    python benchmarks/bench_jax.py --json out.json # also write every figure to a file

Needs numpy, scipy and joblib (and jax for the JAX rows, diffrax for its row); not qutip. Every
stage is written to ``--json`` as soon as it is measured, so a run stopped early keeps what it
finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import Params  # noqa: E402
from simulator.sde import SDEOptions, fluctuation_system, simulate_sde  # noqa: E402

T_BURN, T_AVG = 300.0, 1000.0
RESULTS: dict = {"stages": []}


def _record(args, row: dict) -> None:
    RESULTS["stages"].append(row)
    text = "  ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in row.items())
    print(text, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(RESULTS, indent=1))


def _accuracy(res) -> dict:
    """The plain estimate's largest relative error (with control variates the controlled
    covariance's error is the shift's, reported apart)."""
    plain = res.plain or {"covariance": res.covariance, "covariance_stderr": res.covariance_stderr}
    V, se = plain["covariance"], plain["covariance_stderr"]
    scale = np.sqrt(np.outer(np.diag(V), np.diag(V)))
    out = {"rel_err": float(np.max(se / scale)), "max_abs_z": float(res.lyapunov["max_abs_z"])}
    if res.shift and "log_negativity" in res.shift:
        out["dEN_shift"] = float(res.shift["log_negativity"]["r_m"])
        out["dEN_shift_err"] = float(res.shift["log_negativity_stderr"]["r_m"])
    return out


def bench_wgmsim(args, name: str, n: int, chunk: int, n_jobs: int, dt: float, **extra) -> None:
    """One stationary run of ``n`` trajectories; records its figures."""
    p = Params.paper()
    opts = SDEOptions(n_traj=n, chunk_size=chunk, dt=dt, t_burn=T_BURN, t_avg=T_AVG, **extra)
    first = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2 if extra.get("backend") == "jax" else 1):  # JAX: the second is timed
            t0 = time.perf_counter()
            res = simulate_sde(p, opts, seed=1, n_jobs=n_jobs)
            wall = time.perf_counter() - t0
            first = wall if first is None else first
    steps = round((T_BURN + T_AVG) / dt) * n
    acc = _accuracy(res)
    _record(args, {"engine": name, "n_traj": n, "dt": dt, "wall_s": wall,
                   "traj_steps_per_s": steps / wall, "traj_time_per_s": steps * dt / wall,
                   **acc, "time_to_1pct_s": wall * (acc["rel_err"] / 0.01) ** 2,
                   "status": res.status, "first_run_s": first,
                   "device": res.timing.get("device", "cpu (numpy)")})


def bench_diffrax(args, n: int, dt: float) -> None:
    """diffrax ShARK (additive noise, strong order 1.5 in the noise) under ``vmap``: the same
    drift ``A x + N(x)`` and noise ``B dW`` (``B B^T = D``); the covariance from states saved
    every 1 / omega_m of the averaging window."""
    import diffrax
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from simulator.sde.integrators import psd_sqrt
    from simulator.linear import solve_lyapunov

    s = fluctuation_system(Params.paper())
    A, B = jnp.asarray(s.A), jnp.asarray(psd_sqrt(s.D))
    C, c = jnp.asarray(s.nonlinearity.feature_matrix), jnp.asarray(s.nonlinearity.constant)
    nl = s.nonlinearity

    def drift(t, y, args):
        return A @ y + nl.array_features(y, jnp) @ C + c

    def diffusion(t, y, args):
        return B

    t1 = T_BURN + T_AVG
    ts = jnp.arange(T_BURN + 1.0, t1 + 1e-9, 1.0)

    def solve(key):
        k0, k1 = jax.random.split(key)
        y0 = jax.random.normal(k0, (6,)) * 0.0
        bm = diffrax.UnsafeBrownianPath(shape=(6,), key=k1, levy_area=diffrax.SpaceTimeLevyArea)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        sol = diffrax.diffeqsolve(terms, diffrax.ShARK(), 0.0, t1, dt, y0,
                                  saveat=diffrax.SaveAt(ts=ts), max_steps=int(t1 / dt) + 10,
                                  adjoint=diffrax.ForwardMode())
        return sol.ys

    run = jax.jit(jax.vmap(solve))
    keys = jax.random.split(jax.random.key(0), n)
    run(keys[:2]).block_until_ready()  # compile (another batch size recompiles below)
    run(keys).block_until_ready()
    t0 = time.perf_counter()
    ys = run(keys).block_until_ready()
    wall = time.perf_counter() - t0
    ys = ys.reshape(-1, 6)
    ys = ys - ys.mean(axis=0)
    V = np.asarray(ys.T @ ys) / ys.shape[0]
    VL = solve_lyapunov(s.A, s.D)
    scale = np.sqrt(np.outer(np.diag(VL), np.diag(VL)))
    steps = round(t1 / dt) * n
    _record(args, {"engine": "diffrax ShARK vmap", "n_traj": n, "dt": dt, "wall_s": wall,
                   "traj_steps_per_s": steps / wall, "traj_time_per_s": steps * dt / wall,
                   "max_rel_dev": float(np.max(np.abs(V - VL) / scale)),
                   "device": str(jax.devices()[0])})


def _variants(args, nj: int) -> None:
    """The kernel's ways of forming its products (the same numbers; speed differs by device)."""
    for product, moments in (("dot", "dot"), ("sum", "dot"), ("dot", "sum"), ("sum", "sum")):
        os.environ["WGMSIM_JAX_PRODUCT"], os.environ["WGMSIM_JAX_MOMENTS"] = product, moments
        try:
            bench_wgmsim(args, f"wgmsim jax float64 product={product} moments={moments}", nj,
                         nj // 2, 1, 0.1, backend="jax")
        finally:
            del os.environ["WGMSIM_JAX_PRODUCT"], os.environ["WGMSIM_JAX_MOMENTS"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CPU)")
    ap.add_argument("--json", metavar="FILE", help="write the figures here as they come")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip", default="", help="comma-separated stages to skip: numpy1, "
                    "numpyN, jax, variants, jax32, jaxdt1, jaxcv, jaxbig, diffrax")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    RESULTS["machine"] = {"python": sys.version.split()[0], "platform": platform.platform(),
                          "cores": args.cores, "numpy": np.__version__}
    try:
        import jax

        RESULTS["machine"]["jax"] = jax.__version__
        RESULTS["machine"]["jax_device"] = str(jax.devices()[0])
    except ImportError:
        skip |= {"jax", "variants", "jax32", "jaxdt1", "jaxcv", "jaxbig", "diffrax"}
    print(RESULTS["machine"], flush=True)
    q = args.quick
    n1 = 256 if q else 4096
    nj = 4096 if q else 2**20
    stages = {
        "jax": lambda: bench_wgmsim(args, "wgmsim jax float64", nj, nj // 2, 1, 0.1,
                                    backend="jax"),
        "numpy1": lambda: bench_wgmsim(args, "wgmsim numpy, 1 core", n1, n1 // 2, 1, 0.1),
        "numpyN": lambda: args.cores > 1 and bench_wgmsim(
            args, f"wgmsim numpy, {args.cores} cores", n1 * args.cores, n1 // 2, args.cores, 0.1),
        "jaxdt1": lambda: bench_wgmsim(args, "wgmsim jax float64", nj, nj // 2, 1, 1.0,
                                       backend="jax"),
        "jax32": lambda: bench_wgmsim(args, "wgmsim jax float32", nj, nj // 2, 1, 0.1,
                                      backend="jax", precision="float32"),
        "jaxcv": lambda: bench_wgmsim(args, "wgmsim jax float64, control variates", nj // 4,
                                      nj // 8, 1, 0.1, backend="jax", control_variate=True),
        "diffrax": lambda: bench_diffrax(args, 256 if q else 131072, 0.1),
        "variants": lambda: _variants(args, nj),
        "jaxbig": lambda: not q and bench_wgmsim(args, "wgmsim jax float64", 4 * nj, 2 * nj, 1,
                                                 0.1, backend="jax"),
    }
    for name, stage in stages.items():  # most wanted first: a run cut short keeps those
        if name in skip:
            continue
        try:
            stage()
        except Exception as exc:  # noqa: BLE001 -- one stage failing must not lose the others
            _record(args, {"engine": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
