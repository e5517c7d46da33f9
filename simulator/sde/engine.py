"""``simulate_sde``: stationary statistics of the nonlinear Langevin equations from an ensemble.

Integrates the truncated-Wigner form of paper Eq. 3 about the mean-field fixed point (see
:mod:`simulator.sde.system`), averages the covariance of the fluctuations over time after a
burn-in and over trajectories, attaches error bars (batch means, jackknife) and compares with the
linearised (Lyapunov) solution of the same ``A`` and ``D``.

The run is planned (:mod:`simulator.sde.plan`: step, control-variate shadow, schedule,
resources), handed as one :class:`~simulator.sde.problem.EnsembleProblem` to the driver
(:func:`~simulator.sde.parallel.run_ensemble`), and its sums reduced
(:mod:`simulator.sde.summary`); the step-size check is a
:class:`~simulator.sde.records.PairedMoments` problem on the same driver.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import (MIN_UNITS, MetastabilityWarning, PhysicalityWarning, StabilityWarning,
                      StatisticsWarning)
from ..linear import solve_lyapunov
from ..params import Params
from ..progress import as_callback
from ..resultio import versions
from ..statistics import Z_AGREE
from . import escapes as _escapes
from .estimators import student_t_factor
from .options import SDEOptions
from .parallel import run_ensemble
from .problem import EnsembleProblem
from .plan import Plan, build_system, check_inputs, estimate_run, identity_of, prepare
from .records import Moments, PairedMoments, pair_record, step_error_report
from .result import SDEResult
from .scheduling import Schedule, chunk_seeds, schedule
from .stationarity import stationarity_reason
from .summary import (Statistics, control_shift, headline, lyapunov_reference,
                      pooled_statistics)
from .system import LangevinSystem

__all__ = ["simulate_sde", "estimate_run", "build_system", "student_t_factor", "SEVERITY",
           "PHYSICALITY_SIGMAS"]

#: Statuses a result can get from the engine, most severe first; ``status`` is the first that
#: applies, ``flags`` lists all of them.
SEVERITY = ("diverged", "unstable", "metastable", "not_stationary", "unphysical", "few_units")
_WARNING = {"diverged": StabilityWarning, "unstable": StabilityWarning,
            "metastable": MetastabilityWarning,
            "not_stationary": StabilityWarning, "unphysical": PhysicalityWarning,
            "few_units": StatisticsWarning}
#: The covariance is called unphysical when the smallest eigenvalue of ``V + i Omega / 2`` is
#: below zero by more than this many (widened) standard errors -- the threshold of the verdict
#: against Lyapunov, so that a physical state is flagged only by a 5-sigma fluctuation.
PHYSICALITY_SIGMAS = Z_AGREE
_identity = identity_of  # the checkpoint identity of a run (tests/test_faults_engine.py)


def simulate_sde(
    problem: Params | LangevinSystem,
    options: SDEOptions | None = None,
    *,
    seed: int = 0,
    n_jobs: int = 1,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_seconds: float | None = None,
    max_time: float | None = None,
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
        Joblib workers for the chunks; capped at the number of chunks and the CPU cores
        (``timing["n_jobs"]`` is the number used). Under joblib's dask backend every chunk goes
        to the cluster whatever ``n_jobs`` says.
    out : path, optional
        Checkpoint directory: finished chunks are saved there and reused on a rerun (locked
        while the run lasts; see :mod:`simulator.sde.ensemble`); with ``error_check`` the
        step-size check's chunk too, in ``out/step_size_check``.
    progress : bool or callable, optional
        ``True``: a tqdm bar of the chunks on stderr; a callable: ``progress(done, total)``
        after each chunk (:mod:`simulator.progress`).
    max_seconds : float, optional
        Refuse (before any work) a run whose estimated time exceeds this.
    max_time : float, optional
        Time budget (s): checked between chunks; once spent the run stops with
        :class:`~simulator.errors.TimeBudgetSpent` (finished chunks saved in ``out``; the same
        call resumes).

    Returns
    -------
    SDEResult
        ``status`` is ``"ok"`` or the most severe of ``"diverged"``, ``"unstable"``,
        ``"not_stationary"`` (the initial state had not relaxed by ``t_burn``:
        :mod:`simulator.sde.stationarity`), ``"unphysical"``, ``"few_units"`` (all that
        apply in ``flags``, the reasons in ``message``); each non-ok flag is also emitted as a
        warning (:class:`~simulator.errors.StabilityWarning`, ``PhysicalityWarning``,
        ``StatisticsWarning``). Standard errors are widened by :func:`student_t_factor`.

    Raises
    ------
    UnstableSystemError
        If ``A`` has an eigenvalue with non-negative real part and not ``allow_unstable``
        (raised before any integration).
    ValueError
        Non-finite drift/diffusion, fewer than 2 planned statistical units, or a run whose
        estimated memory (or time, with ``max_seconds``) is beyond the limit -- before any work.
    CheckpointError
        ``out`` is locked, belongs to another run, or holds a bad chunk file (named).
    RunInterrupted
        Ctrl-C; the finished chunks are saved in ``out``.
    TimeBudgetSpent
        ``max_time`` spent before the last chunk; the finished chunks are saved in ``out``.
    FloatingPointError
        A reported quantity came out non-finite, or every unit diverged.

    Examples
    --------
    >>> from simulator import Params
    >>> opts = SDEOptions(n_traj=64, chunk_size=8, t_avg=150.0)  # 8 chunks x 1 batch of 10 tau
    >>> res = simulate_sde(Params.paper(), opts, seed=1)
    >>> res.status, res.n_units
    ('ok', 8)
    >>> bool(abs(res.lyapunov["max_abs_z"]) < 6)
    True
    """
    options = check_inputs(options, seed, n_jobs)
    t0 = time.perf_counter()
    plan = prepare(problem, options, int(seed), n_jobs, max_seconds)
    system, sched = plan.system, plan.schedule
    test, info = _escapes.plan(problem, solve_lyapunov(system.A, system.D) if system.stable
                               else None, plan.problem.run_system.dim, options.escape_radius,
                               sched.t_burn)
    ensemble = dataclasses.replace(plan.problem,
                                   record=Moments(shadow=plan.order, escapes=test))
    chunks = run_ensemble(ensemble, int(seed), n_jobs=plan.workers, out=out,
                          identity=identity_of(problem, options, int(seed)),
                          progress=as_callback(progress, "sde", "chunk"), max_time=max_time)
    wall_chunks = time.perf_counter() - t0
    escapes = _escapes.collect(chunks, test, info, options.n_traj,
                               problem.omega_m if isinstance(problem, Params) else None)
    plain = pooled_statistics(system, options, sched, chunks)
    reference = lyapunov_reference(system, plain)
    shift = control_shift(system, options, reference, plain, plan.order)
    stats, plain_record = headline(system, plain, reference, shift, plan.order)
    why = _reasons(system, options, sched, stats, plain)
    if _escapes.reason(escapes):
        why["metastable"] = _escapes.reason(escapes)
    flags, status, message = _flag(why)
    err = _error_check(system, plan.options, int(seed),
                       None if out is None else Path(out) / STEP_CHECK_FOLDER,
                       identity_of(problem, options, int(seed)))
    timing = _timing(options, sched, chunks, t0, wall_chunks, plan.workers, n_jobs,
                     plan.estimate)
    return _assemble(problem, options, int(seed), plan, chunks, stats, reference, err, shift,
                     timing, flags, status, message, plain_record, escapes)


def _reasons(system: LangevinSystem, options: SDEOptions, sched: Schedule,
             stats: Statistics, plain: Statistics | None = None) -> dict[str, str]:
    """Every reason the numbers cannot be trusted as they stand, keyed by status. Stationarity
    is judged on the plain estimate (``plain``; its sums and errors): the relaxation of the
    initial state cancels between the two copies of a control-variate run, whose controlled
    errors (exactly 0 for a linear system) say nothing about it."""
    why: dict[str, str] = {}
    diverged, n_units, uncertainty = stats.diverged, stats.n_units, stats.uncertainty
    if diverged:
        why["diverged"] = (f"{diverged} of {options.n_traj} trajectories diverged (non-finite or "
                           f"beyond bound {sched.bound:g}); their data from the block of "
                           "divergence on are left out")
    if not system.stable:
        lam = system.eigenvalues[0]
        why["unstable"] = (f"the point is dynamically unstable (eigenvalue of A "
                           f"{lam.real:+.3e}{lam.imag:+.3e}i); there is no stationary state and "
                           "the averages depend on the times chosen")
    else:
        base = stats if plain is None else plain
        reason = stationarity_reason(system, options, sched, base.s1, base.s2, base.counts,
                                     base.covariance_stderr)
        if reason:
            why["not_stationary"] = reason
    if uncertainty is not None and \
            uncertainty["min_eigenvalue"] < -PHYSICALITY_SIGMAS * uncertainty["stderr"]:
        why["unphysical"] = (
            f"the covariance violates the uncertainty principle: smallest eigenvalue of "
            f"V + i Omega/2 = {uncertainty['min_eigenvalue']:.4g} +- "
            f"{uncertainty['stderr']:.2g} (< 0 by more than {PHYSICALITY_SIGMAS:g} sigma)")
    few = sched.adequacy()
    if n_units < MIN_UNITS <= sched.n_units:
        few.append(f"only {n_units} statistical units kept samples (at least {MIN_UNITS} "
                   "are needed)")
    if few:
        why["few_units"] = "error bars not trustworthy: " + "; ".join(few)
    return why


def _flag(why: dict[str, str]) -> tuple[tuple[str, ...], str, str]:
    """``(flags, status, message)`` from the reasons, most severe first; warns once per flag.

    Called from :func:`simulate_sde` only: ``stacklevel=3`` points the warnings at its caller.
    """
    flags = tuple(k for k in SEVERITY if k in why)
    status = flags[0] if flags else "ok"
    message = "; ".join(why[k] for k in flags)
    for k in flags:
        warnings.warn(why[k], _WARNING[k], stacklevel=3)
    return flags, status, message


#: Subfolder of a run's checkpoint folder that holds its step-size check's chunk.
STEP_CHECK_FOLDER = "step_size_check"


def _error_check(system: LangevinSystem, options: SDEOptions, seed: int,
                 out: Path | None = None, identity: dict[str, Any] | None = None
                 ) -> dict[str, Any] | None:
    """The step-size error check (``options.error_check``; else ``None``) of the plain system at
    the resolved step (``options``): :func:`~simulator.sde.chunk.step_error_report` of one
    :class:`~simulator.sde.records.PairedMoments` chunk of ``min(n_traj, 64)`` trajectories
    over the run's schedule, on the seed stream after the chunks'. With ``out`` (the run's
    ``DIR/step_size_check``) the chunk is checkpointed there like the run's, so a resumed run
    does not integrate it again."""
    if not options.error_check:
        return None
    n = min(options.n_traj, 64)
    pair = EnsembleProblem(system, options.replace(n_traj=n, chunk_size=n, keep_trajectories=0),
                           PairedMoments(), schedule(system, options))
    ident = None if identity is None else {**identity, "part": STEP_CHECK_FOLDER}
    (res,) = run_ensemble(pair, seed, stream=options.n_chunks, out=out, identity=ident)
    return step_error_report(pair_record(res))


def _timing(options: SDEOptions, sched: Schedule, chunks: list, t0: float, wall_chunks: float,
            workers: int, n_jobs: int, estimate: dict[str, Any]) -> dict[str, Any]:
    """``SDEResult.timing``: wall-clock seconds (from ``t0``), throughput, workers, estimates."""
    wall = time.perf_counter() - t0
    steps = sched.n_burn + sched.n_batches * sched.steps_per_batch
    return {
        "wall_seconds": wall,
        "chunks_wall_seconds": wall_chunks,
        "chunk_seconds_total": float(np.array([c.seconds for c in chunks]).sum()),
        "trajectory_steps": int(options.n_traj * steps),
        "trajectory_steps_per_second": options.n_traj * steps / max(wall_chunks, 1e-12),
        "n_jobs": workers,
        "n_jobs_requested": n_jobs,
        **{k: estimate[k] for k in ("backend", "device") if k in estimate},
        "estimated_seconds": estimate["seconds"],
        "estimated_memory_bytes": estimate["memory_bytes"],
    }


def _assemble(problem: Params | LangevinSystem, options: SDEOptions, seed: int, plan: Plan,
              chunks: list, stats: Statistics, reference: dict[str, Any] | None, err: Any,
              shift: dict[str, Any] | None, timing: dict[str, Any],
              flags: tuple[str, ...], status: str, message: str,
              plain: dict[str, Any] | None, escapes: dict[str, Any]) -> SDEResult:
    """The :class:`SDEResult` (seeds, kept trajectories, versions and timestamp added)."""
    kept = times = None
    if chunks[0].kept is not None:
        kept = chunks[0].kept[..., :plan.system.dim]
        times = np.arange(kept.shape[0]) * options.keep_every * plan.options.dt
    seeds = [{"entropy": s.entropy, "spawn_key": list(s.spawn_key)}
             for s in chunk_seeds(seed, options.n_chunks)]
    auto = {"auto_dt": plan.auto_dt} if plan.auto_dt else {}
    return SDEResult(
        params=problem if isinstance(problem, Params) else None,
        options=options, seed=seed, seeds=seeds, schedule={**plan.schedule.to_dict(), **auto},
        shift=shift, fixed_point=plan.system.mean, mean=stats.mean,
        mean_stderr=stats.mean_stderr, covariance=stats.covariance,
        covariance_stderr=stats.covariance_stderr,
        observables=stats.observables, lyapunov=reference, diverged=stats.diverged,
        unit_s1=stats.s1, unit_s2=stats.s2, unit_counts=stats.counts,
        chunk_seconds=np.array([c.seconds for c in chunks]), timing=timing,
        versions=versions(), status=status, message=message, error_check=err,
        trajectories=kept, trajectory_times=times, flags=flags, stderr_t_factor=stats.t_factor,
        uncertainty=stats.uncertainty, plain=plain, escapes=escapes,
        timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
