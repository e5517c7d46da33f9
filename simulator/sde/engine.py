"""``simulate_sde``: stationary statistics of the nonlinear Langevin equations from an ensemble.

Integrates the truncated-Wigner form of paper Eq. 3 about the mean-field fixed point (see
:mod:`simulator.sde.system`), averages the covariance of the fluctuations over time after a
burn-in and over trajectories, attaches error bars (batch means, jackknife) and compares with the
linearised (Lyapunov) solution of the same ``A`` and ``D``.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..linear import solve_lyapunov
from ..params import Params
from .ensemble import chunk_seeds, run_chunks, schedule, step_error_check
from .estimators import (
    batch_means_stderr,
    jackknife_observables,
    pooled_covariance,
    score_against_reference,
)
from .options import SDEOptions
from .result import SDEResult
from .system import LangevinSystem, fluctuation_system

__all__ = ["simulate_sde", "build_system", "versions"]


def versions() -> dict[str, str]:
    """Versions of Python and the numerical libraries (stored with every result)."""
    import joblib
    import scipy

    from .. import __version__

    return {"wgmsim": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "joblib": joblib.__version__}


def build_system(problem: Params | LangevinSystem, options: SDEOptions) -> LangevinSystem:
    """The :class:`LangevinSystem` of ``problem`` (parameters or an explicit system)."""
    if isinstance(problem, Params):
        return fluctuation_system(problem, wigner_correction=options.wigner_correction)
    if isinstance(problem, LangevinSystem):
        return problem
    raise TypeError(f"problem: expected Params or LangevinSystem, got {type(problem).__name__}")


def _identity(problem: Params | LangevinSystem, options: SDEOptions, seed: int) -> dict[str, Any]:
    if isinstance(problem, Params):
        desc: Any = problem.to_dict()
    else:
        desc = {"A": problem.A.tolist(), "D": problem.D.tolist(),
                "nonlinearity": repr(problem.nonlinearity)}
    return {"problem": desc, "options": options.to_dict(), "seed": int(seed)}


def simulate_sde(
    problem: Params | LangevinSystem,
    options: SDEOptions | None = None,
    *,
    seed: int = 0,
    n_jobs: int = 1,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SDEResult:
    """Time-averaged stationary covariance of the nonlinear SDE, with error bars.

    Solves ``dx = (A x + N(x)) dt + dW``, ``<dW dW^T> = D dt`` (fluctuations ``x`` about the
    fixed point, order ``(X_r, Y_r, X_l, Y_l, q, p)``) for ``options.n_traj`` trajectories from
    Wigner-sampled initial states, discards ``t_burn`` and averages ``x`` and ``x x^T`` over
    ``t_avg`` and the ensemble.

    Parameters
    ----------
    problem : Params or LangevinSystem
        Physical parameters (the fixed point at ``params.detuning``) or an explicit system.
    options : SDEOptions, optional
        Defaults to ``SDEOptions()``.
    seed : int
        Root of ``SeedSequence(seed).spawn(n_chunks)``; the result depends on ``seed`` and
        ``options`` only (not on ``n_jobs``).
    n_jobs : int
        Joblib workers for the chunks (the active joblib backend is used, e.g. dask).
    out : path, optional
        Checkpoint directory: finished chunks are saved there and reused on a rerun.
    progress : callable, optional
        ``progress(done, total)`` after each chunk.

    Returns
    -------
    SDEResult

    Raises
    ------
    UnstableSystemError
        If ``A`` has an eigenvalue with non-negative real part and not ``allow_unstable``
        (raised before any integration).

    Examples
    --------
    >>> from simulator import Params
    >>> opts = SDEOptions(n_traj=64, chunk_size=32, t_burn=120.0, t_avg=100.0, batch_time=25.0)
    >>> res = simulate_sde(Params.paper(), opts, seed=1)
    >>> bool(abs(res.lyapunov["max_abs_z"]) < 6)
    True
    """
    options = SDEOptions() if options is None else options
    if not isinstance(options, SDEOptions):
        raise TypeError(f"options: expected SDEOptions, got {type(options).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r}: must be an integer >= 0")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ValueError(f"n_jobs = {n_jobs!r}: must be a non-zero integer (-1: all cores)")
    t0 = time.perf_counter()
    system = build_system(problem, options)
    if not options.allow_unstable:
        system.check_stable()
    sched = schedule(system, options)
    chunks = run_chunks(system, options, int(seed), n_jobs=n_jobs, out=out,
                        identity=_identity(problem, options, int(seed)), progress=progress)
    wall_chunks = time.perf_counter() - t0
    s1 = np.concatenate([c.s1 for c in chunks])
    s2 = np.concatenate([c.s2 for c in chunks])
    counts = np.concatenate([c.counts for c in chunks])
    diverged = sum(c.diverged for c in chunks)
    d = system.dim
    status, message = "ok", ""
    if counts.sum() == 0:
        nan = np.full(d, np.nan)
        mean, V, se_m, se_V = nan, np.full((d, d), np.nan), nan, np.full((d, d), np.nan)
        status, message = "failed", "every trajectory diverged before the averaging window"
    else:
        mean, V = pooled_covariance(s1, s2, counts)
        se_m, se_V = batch_means_stderr(s1, s2, counts)
    if diverged and status == "ok":
        status = "diverged"
        message = (f"{diverged} of {options.n_traj} trajectories diverged (non-finite or beyond "
                   f"bound {options.bound:g}); their data from the block of divergence on are "
                   "left out")
    observables: dict[str, Any] = {}
    if d == 6 and status != "failed":
        observables = jackknife_observables(s1, s2, counts)
    reference = None
    if system.stable:
        VL = solve_lyapunov(system.A, system.D)
        reference = score_against_reference(V, se_V, VL, observables, int((counts > 0).sum()))
    err = None
    if options.error_check:
        aux = chunk_seeds(int(seed), options.n_chunks + 1)[-1]
        err = step_error_check(system, options, sched, aux, min(options.n_traj, 64))
    kept = times = None
    if chunks[0].kept is not None:
        kept = chunks[0].kept
        times = np.arange(kept.shape[0]) * options.keep_every * options.dt
    wall = time.perf_counter() - t0
    steps = sched.n_burn + sched.n_batches * sched.steps_per_batch
    chunk_seconds = np.array([c.seconds for c in chunks])
    seeds = [{"entropy": s.entropy, "spawn_key": list(s.spawn_key)}
             for s in chunk_seeds(int(seed), options.n_chunks)]
    timing = {
        "wall_seconds": wall,
        "chunks_wall_seconds": wall_chunks,
        "chunk_seconds_total": float(chunk_seconds.sum()),
        "trajectory_steps": int(options.n_traj * steps),
        "trajectory_steps_per_second": options.n_traj * steps / max(wall_chunks, 1e-12),
        "n_jobs": n_jobs,
    }
    return SDEResult(
        params=problem if isinstance(problem, Params) else None,
        options=options, seed=int(seed), seeds=seeds, schedule=sched.to_dict(),
        fixed_point=system.mean, mean=mean, mean_stderr=se_m, covariance=V,
        covariance_stderr=se_V, observables=observables, lyapunov=reference, diverged=diverged,
        unit_s1=s1, unit_s2=s2, unit_counts=counts, chunk_seconds=chunk_seconds, timing=timing,
        versions=versions(), status=status, message=message, error_check=err,
        trajectories=kept, trajectory_times=times,
    )
