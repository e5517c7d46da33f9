"""``simulate_sde``: stationary statistics of the nonlinear Langevin equations from an ensemble.

Integrates the truncated-Wigner form of paper Eq. 3 about the mean-field fixed point (see
:mod:`simulator.sde.system`), averages the covariance of the fluctuations over time after a
burn-in and over trajectories, attaches error bars (batch means, jackknife) and compares with the
linearised (Lyapunov) solution of the same ``A`` and ``D``.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import (MIN_UNITS, AllDivergedError, MetastabilityWarning, PhysicalityWarning,
                      StabilityWarning, StatisticsWarning)
from ..linear import solve_lyapunov
from ..observables import uncertainty_violation
from ..params import Params
from ..progress import as_callback
from ..resultio import versions
from ..statistics import Z_AGREE, score_against_reference
from .chunk import step_error_check
from .control import (
    control_options,
    control_order,
    control_system,
    difference_covariance,
    shift_estimate,
)
from . import escapes as _escapes
from .estimators import batch_means_stderr, jackknife, jackknife_observables, pooled_covariance
from .options import SDEOptions
from .parallel import _distributed_backend, check_run_arguments, effective_workers, run_chunks
from .resources import check_resources, estimate_resources
from .result import SDEResult
from .scheduling import Schedule, chunk_seeds, schedule
from .stepsize import choose_dt, dt_cap
from .stationarity import stationarity_reason
from .system import LangevinSystem, fluctuation_system

__all__ = ["simulate_sde", "estimate_run", "build_system", "student_t_factor", "SEVERITY",
           "PHYSICALITY_SIGMAS"]

log = logging.getLogger("simulator.sde")

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


def student_t_factor(n_units: int) -> float:
    """Widening of a standard error estimated from ``n_units`` units.

    The batch-means and jackknife errors are themselves estimated from ``n_units`` units, so
    ``(estimate - truth) / stderr`` follows Student's t with ``n_units - 1`` degrees of freedom,
    not a normal law. The reported error bar is widened so that ``+- stderr`` covers the same
    68.3 % as one normal sigma: ``t.ppf(Phi(1), n_units - 1)`` (1.08 at 8 units, 1.016 at 32,
    -> 1). This is the only place where errors are widened (issue 13 relies on it). It does not
    correct for batches that are too short (which make errors too small by a factor the units
    cannot reveal): those are flagged ``few_units`` instead.
    """
    from scipy import stats

    if n_units < 2:
        return float("inf")
    return float(stats.t.ppf(stats.norm.cdf(1.0), n_units - 1))


def build_system(problem: Params | LangevinSystem, options: SDEOptions) -> LangevinSystem:
    """The :class:`LangevinSystem` of ``problem`` (parameters or an explicit system).

    Raises
    ------
    ValueError
        The drift or diffusion matrix has non-finite entries (e.g. ``temperature = 1e300``).
    """
    if isinstance(problem, Params):
        with np.errstate(all="ignore"):
            try:
                system = fluctuation_system(problem, wigner_correction=options.wigner_correction)
            except np.linalg.LinAlgError as exc:
                raise ValueError(f"params: the fluctuation equations cannot be formed ({exc}); "
                                 "check for extreme parameter values") from None
    elif isinstance(problem, LangevinSystem):
        system = problem
    else:
        raise TypeError(f"problem: expected Params or LangevinSystem, got "
                        f"{type(problem).__name__}")
    for name in ("A", "D"):
        m = getattr(system, name)
        if not np.isfinite(m).all():
            raise ValueError(f"{name}: the {'drift' if name == 'A' else 'diffusion'} matrix has "
                             "non-finite entries (overflow from extreme parameter values?)")
    return system


def _check_finite(name: str, value: Any) -> None:
    """``FloatingPointError`` if ``value`` (array or dict of numbers) holds NaN or inf."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(f"{name}[{k!r}]", v)
        return
    a = np.asarray(value, dtype=float)
    if not np.isfinite(a).all():
        raise FloatingPointError(
            f"{name}: non-finite value(s) {a.ravel()[~np.isfinite(a.ravel())][:3].tolist()} in the "
            "result; refusing to report it (overflow from extreme parameters, or every unit "
            "diverged)")


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
        while the run lasts; see :mod:`simulator.sde.ensemble`).
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
        ``"metastable"`` (trajectories escaped from the fixed point's basin: counted in
        ``escapes``, dropped, :mod:`simulator.sde.escapes`), ``"not_stationary"`` (the initial state had not relaxed by ``t_burn``:
        :mod:`simulator.sde.stationarity`), ``"unphysical"``, ``"few_units"`` (all that
        apply in ``flags``, the reasons in ``message``); each non-ok flag is also emitted as a
        warning (:class:`~simulator.errors.StabilityWarning`, ``PhysicalityWarning``,
        ``StatisticsWarning``, ``MetastabilityWarning``). Standard errors are widened by
        :func:`student_t_factor`.

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
    options = _check_inputs(options, seed, n_jobs)
    t0 = time.perf_counter()
    plan = _prepare(problem, options, int(seed), n_jobs, max_seconds)
    system, sched = plan.system, plan.schedule
    test, info = _escapes.plan(problem, solve_lyapunov(system.A, system.D) if system.stable
                               else None, plan.run_system.dim, options.escape_radius,
                               sched.t_burn)
    chunks = run_chunks(plan.run_system, plan.run_options, int(seed), n_jobs=plan.workers,
                        out=out, identity=_identity(problem, options, int(seed)),
                        progress=as_callback(progress, "sde", "chunk"), max_time=max_time,
                        escapes=test)
    wall_chunks = time.perf_counter() - t0
    escapes = _escapes.collect(chunks, test, info, options.n_traj,
                               problem.omega_m if isinstance(problem, Params) else None)
    plain = _statistics(system, options, sched, chunks)
    reference = _reference(system, plain)
    shift = _shift(system, options, reference, plain, plan.order)
    stats, plain_record = _headline(system, plain, reference, shift, plan.order)
    why = _reasons(system, options, sched, stats, plain)
    if _escapes.reason(escapes):
        why["metastable"] = _escapes.reason(escapes)
    flags, status, message = _flag(why)
    err = _error_check(system, plan.options, int(seed))
    timing = _timing(options, sched, chunks, t0, wall_chunks, plan.workers, n_jobs,
                     plan.estimate)
    return _assemble(problem, options, int(seed), plan, chunks, stats, reference, err, shift,
                     timing, flags, status, message, plain_record, escapes)


# ---- the steps of simulate_sde ------------------------------------------------------------------
@dataclass(frozen=True)
class _Statistics:
    """The pooled statistics of a run (:func:`_statistics`); standard errors already widened.

    ``s1, s2, counts``: per-unit sums, shapes ``(n, d)``, ``(n, d, d)``, ``(n,)``, of the plain
    estimator ``x`` (``s1_run``, ``s2_run``: of the whole state a control-variate run integrates,
    for :func:`_shift`); ``mean``
    ``(d,)`` and ``covariance`` ``(d, d)`` with their standard errors; ``observables`` (``d = 6``
    only) and ``uncertainty`` (``None`` without ``rates`` or for odd ``d``) as in
    :class:`SDEResult`; ``t_factor`` is :func:`student_t_factor` of ``n_units``.
    """

    s1: np.ndarray
    s2: np.ndarray
    counts: np.ndarray
    s1_run: np.ndarray
    s2_run: np.ndarray
    diverged: int
    n_units: int
    t_factor: float
    mean: np.ndarray
    mean_stderr: np.ndarray
    covariance: np.ndarray
    covariance_stderr: np.ndarray
    observables: dict[str, Any]
    uncertainty: dict[str, float] | None


def _check_inputs(options: SDEOptions | None, seed: int, n_jobs: int) -> SDEOptions:
    """The options (default ``SDEOptions()``) after checking their type, ``seed`` and ``n_jobs``."""
    options = SDEOptions() if options is None else options
    if not isinstance(options, SDEOptions):
        raise TypeError(f"options: expected SDEOptions, got {type(options).__name__}")
    check_run_arguments(seed, n_jobs)
    return options


@dataclass(frozen=True)
class _Plan:
    """What :func:`_prepare` decided: the physical ``system``, the ``options`` with the step
    resolved (``auto_dt``: the pilot's record, or ``None``), the control-variate ``order`` (0:
    none) and the ``run_system``/``run_options`` the chunk loop integrates (the augmented system
    with control variates, else ``system``/``options``), its ``schedule``, the ``workers`` used
    and the resource ``estimate``."""

    system: LangevinSystem
    options: SDEOptions
    auto_dt: dict[str, Any] | None
    order: int
    run_system: LangevinSystem
    run_options: SDEOptions
    schedule: Schedule
    workers: int
    estimate: dict[str, Any]


def estimate_run(problem: Params | LangevinSystem, options: SDEOptions | None = None, *,
                 n_jobs: int = 1) -> dict[str, Any]:
    """The engine's plan of a run, before any work (what :func:`simulate_sde` checks first).

    With ``dt="auto"`` the run is sized at the largest step the pilot may choose
    (:func:`~simulator.sde.stepsize.dt_cap`; no pilot is run); with ``control_variate`` it is
    the augmented system's.

    Returns
    -------
    dict
        ``schedule`` (:class:`~simulator.sde.ensemble.Schedule`), ``workers``, ``n_chunks``,
        ``trajectory_steps`` and :func:`~simulator.sde.ensemble.estimate_resources`'
        ``memory_bytes`` (with ``workers`` workers), ``seconds`` and ``memory_limit_bytes``;
        ``system`` (the plain system) and ``options`` (the step resolved) for a work estimate
        (:func:`simulator.sde.workrate.work_estimate`).

    Raises
    ------
    UnstableSystemError, ValueError
        As :func:`simulate_sde` before its first step (not the memory limit: compare
        ``memory_bytes`` with ``memory_limit_bytes``).
    """
    options = _check_inputs(options, 0, n_jobs)
    system = _checked_system(problem, options)
    _, _, _, run_system, run_opts = _run_system(system, options, None)
    sched = schedule(run_system, run_opts)
    workers = effective_workers(n_jobs, options.n_chunks)
    steps = sched.n_burn + sched.n_batches * sched.steps_per_batch
    sized = options.replace(dt=run_opts.dt) if options.dt == "auto" else options
    return {"schedule": sched, "workers": workers, "n_chunks": options.n_chunks,
            "trajectory_steps": float(options.n_traj) * steps,
            "system": system, "options": sized,
            **estimate_resources(run_system, run_opts, sched, workers)}


def _checked_system(problem: Params | LangevinSystem, options: SDEOptions) -> LangevinSystem:
    system = build_system(problem, options)
    if not options.allow_unstable:
        system.check_stable()
    return system


def _prepare(problem: Params | LangevinSystem, options: SDEOptions, seed: int, n_jobs: int,
             max_seconds: float | None) -> _Plan:
    """System, step, control variates, schedule, workers and resource estimate; refuses a bad
    run before any work.

    Raises ``UnstableSystemError`` (unstable and not ``allow_unstable``), ``ValueError`` (fewer
    than 2 planned units, or beyond the memory/time limits).
    """
    system = _checked_system(problem, options)
    opts, auto_dt, order, run_system, run_opts = _run_system(system, options, seed)
    sched = schedule(run_system, run_opts)
    if sched.n_units < 2:
        raise ValueError(
            f"n_traj = {options.n_traj}, t_avg = {sched.t_avg:g}: {sched.n_units} statistical "
            f"unit ({sched.n_chunks} chunk x {sched.n_batches} batch); an error bar needs at "
            f"least 2 (and {MIN_UNITS} to be trusted)")
    workers = effective_workers(n_jobs, options.n_chunks)
    if workers != n_jobs:
        log.info("n_jobs = %d: using %d worker(s) (%d chunk(s), %d CPU core(s))", n_jobs,
                 workers, options.n_chunks, os.cpu_count() or 1)
    # under dask the chunks' working memory is on the cluster's workers, not here
    estimate = check_resources(run_system, run_opts, sched,
                               1 if _distributed_backend() else workers, max_seconds)
    log.info("estimated %.3g GiB and %.3g s with %d worker(s) for %d unit(s)",
             estimate["memory_bytes"] / 2**30, estimate["seconds"], workers, sched.n_units)
    return _Plan(system, opts, auto_dt, order, run_system, run_opts, sched, workers, estimate)


def _run_system(system: LangevinSystem, options: SDEOptions, seed: int | None):
    """``(options with dt resolved, auto_dt record or None, control-variate order, system and
    options of the chunk loop)``: ``dt="auto"`` is resolved on a pilot
    (:mod:`simulator.sde.stepsize`), or without ``seed`` set to its cap (for a plan); with
    ``control_variate`` the chunk loop runs the augmented system (:mod:`simulator.sde.control`)."""
    opts, auto_dt = options, None
    if options.dt == "auto" and seed is None:  # a plan: the largest step the pilot may choose
        opts = options.replace(dt=dt_cap(system, options), rtol=None)
    elif options.dt == "auto":  # resolve the step on a pilot (simulator.sde.stepsize)
        dt, auto_dt = choose_dt(system, options, chunk_seeds(seed, options.n_chunks + 2)[-1])
        opts = options.replace(dt=dt, rtol=None)
    # control variates: the chunk loop runs the augmented system (simulator.sde.control)
    order = control_order(system, opts) if options.control_variate else 0
    run_system, run_opts = ((control_system(system, order), control_options(system, opts, order))
                            if order else (system, opts))
    return opts, auto_dt, order, run_system, run_opts


def _statistics(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                chunks: list) -> _Statistics:
    """Pooled mean and covariance of the chunks' units, batch-means errors widened by
    :func:`student_t_factor`, jackknifed observables and uncertainty check.

    Raises ``FloatingPointError`` if fewer than 2 units kept samples or a value is non-finite.
    """
    s1_run = np.concatenate([c.s1 for c in chunks])
    s2_run = np.concatenate([c.s2 for c in chunks])
    counts = np.concatenate([c.counts for c in chunks])
    diverged = sum(c.diverged for c in chunks)
    d = system.dim
    s1, s2 = s1_run[:, :d], s2_run[:, :d, :d]  # the plain estimator (x) of a control-variate run
    n_units = int((counts > 0).sum())
    if n_units < 2:
        raise AllDivergedError(
            f"{diverged} of {options.n_traj} trajectories diverged (beyond bound "
            f"{sched.bound:g} or non-finite), {_escaped(chunks)} escaped from the fixed "
            f"point's basin, and {n_units} statistical unit(s) kept samples; "
            "no result with an error bar can be formed: raise bound (--bound; the default is "
            "1000 standard deviations of the stationary state), or check the parameters")
    tf = student_t_factor(n_units)
    mean, V = pooled_covariance(s1, s2, counts)
    se_m, se_V = batch_means_stderr(s1, s2, counts)
    se_m, se_V = tf * se_m, tf * se_V
    observables = _observables(d, s1, s2, counts, tf)
    _check_statistics(mean, V, se_m, se_V, observables)
    return _Statistics(s1=s1, s2=s2, counts=counts, s1_run=s1_run, s2_run=s2_run,
                       diverged=diverged, n_units=n_units,
                       t_factor=tf, mean=mean, mean_stderr=se_m, covariance=V,
                       covariance_stderr=se_V, observables=observables,
                       uncertainty=_uncertainty(system, s1, s2, counts, tf))


def _escaped(chunks: list) -> int:
    return sum(0 if c.escape_times is None else len(c.escape_times) for c in chunks)


def _observables(d: int, s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
                 tf: float, covariance: Callable | None = None) -> dict[str, Any]:
    """Jackknifed observables of a 6-mode run (``{}`` otherwise), errors widened by ``tf``
    (``covariance``: as :func:`~simulator.sde.estimators.jackknife_observables`)."""
    observables: dict[str, Any] = {}
    if d == 6:
        observables = jackknife_observables(s1, s2, counts, covariance)
        for key, val in observables.items():
            if key.endswith("_stderr") and isinstance(val, dict):
                observables[key] = {k: tf * v for k, v in val.items()}
    return observables


def _check_statistics(mean: np.ndarray, V: np.ndarray, se_m: np.ndarray, se_V: np.ndarray,
                      observables: dict[str, Any]) -> None:
    """``FloatingPointError`` naming the first non-finite statistic (NaN errors of values below
    resolution excepted)."""
    for name, value in (("mean", mean), ("covariance", V), ("mean_stderr", se_m),
                        ("covariance_stderr", se_V), *observables.items()):
        if name in ("log_negativity_stderr", "steering_stderr"):
            # a clipped value below resolution carries no error bar (NaN) by design
            below = observables[name.replace("_stderr", "_below_resolution")]
            value = {k: v for k, v in value.items() if not below[k]}
        _check_finite(name, value)


def _uncertainty(system: LangevinSystem, s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
                 tf: float, covariance: Callable | None = None) -> dict[str, float] | None:
    """Jackknifed smallest eigenvalue of ``V + i Omega / 2`` with its widened error, for a
    physical system (``rates`` known, even ``d``); else ``None`` (``covariance``: as
    :func:`~simulator.sde.estimators.jackknife_observables`)."""
    if system.rates is None or system.dim % 2 != 0:
        return None
    g = (lambda W: W) if covariance is None else covariance
    f = lambda W: np.asarray(uncertainty_violation(g(W)))[..., None]  # noqa: E731
    val, err = jackknife(s1, s2, counts, f)
    uncertainty = {"min_eigenvalue": float(val[0]), "stderr": float(tf * err[0])}
    _check_finite("uncertainty", uncertainty)
    return uncertainty


def _reasons(system: LangevinSystem, options: SDEOptions, sched: Schedule,
             stats: _Statistics, plain: _Statistics | None = None) -> dict[str, str]:
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


def _reference(system: LangevinSystem, stats: _Statistics) -> dict[str, Any] | None:
    """Scores against the Lyapunov covariance of the same ``A``, ``D`` (``None`` if unstable)."""
    if not system.stable:
        return None
    VL = solve_lyapunov(system.A, system.D)
    _check_finite("lyapunov covariance", VL)
    return score_against_reference(stats.covariance, stats.covariance_stderr, VL,
                                   stats.observables, stats.n_units)


def _error_check(system: LangevinSystem, options: SDEOptions,
                 seed: int) -> dict[str, Any] | None:
    """The step-size error check (``options.error_check``; else ``None``) of the plain system at
    the resolved step (``options``), on the seed after the chunks'
    (:func:`~simulator.sde.ensemble.step_error_check`)."""
    if not options.error_check:
        return None
    aux = chunk_seeds(seed, options.n_chunks + 1)[-1]
    return step_error_check(system, options, schedule(system, options), aux,
                            min(options.n_traj, 64))


def _shift(system: LangevinSystem, options: SDEOptions, reference: dict[str, Any] | None,
           stats: _Statistics, order: int) -> dict[str, Any] | None:
    """The nonlinear shift from a control-variate run (:func:`simulator.sde.control.
    shift_estimate`); ``None`` without control variates or a Lyapunov reference."""
    if not (options.control_variate and reference is not None):
        return None
    shift = shift_estimate(system, reference["covariance"], stats.s1_run, stats.s2_run,
                           stats.counts, stats.t_factor, order)
    below = shift.get("log_negativity_below_resolution", {})
    _check_finite("shift", {
        **{k: v for k, v in shift.items() if k not in ("z", "log_negativity_stderr",
                                                        "log_negativity_below_resolution")},
        "log_negativity_stderr": {k: v for k, v in shift.get("log_negativity_stderr", {}).items()
                                  if not below.get(k)}})
    return shift


def _headline(system: LangevinSystem, plain: _Statistics, reference: dict[str, Any] | None,
              shift: dict[str, Any] | None, order: int):
    """``(statistics, plain record)`` of the headline estimate: the plain one (record ``None``)
    without control variates; with them the controlled one, ``V_Lyapunov + dV``
    (:mod:`simulator.sde.control`), its E_N, steering and uncertainty jackknifed through the same
    map, and the plain estimate kept as ``SDEResult.plain``. The scores against Lyapunov stay
    those of the plain estimate: the controlled one is built on that reference, and its
    difference from it is the shift, scored in ``shift``."""
    if shift is None or reference is None:
        return plain, None
    VL = reference["covariance"]
    cov = lambda Vz: VL + difference_covariance(Vz, system.dim, order)  # noqa: E731
    args = (plain.s1_run, plain.s2_run, plain.counts, plain.t_factor)
    stats = dataclasses.replace(
        plain, mean=shift["mean"], mean_stderr=shift["mean_stderr"],
        covariance=shift["controlled_covariance"], covariance_stderr=shift["covariance_stderr"],
        observables=_observables(system.dim, *args, cov),
        uncertainty=_uncertainty(system, *args, cov))
    _check_statistics(stats.mean, stats.covariance, stats.mean_stderr, stats.covariance_stderr,
                      stats.observables)
    record = {"mean": plain.mean, "mean_stderr": plain.mean_stderr,
              "covariance": plain.covariance, "covariance_stderr": plain.covariance_stderr,
              "observables": plain.observables, "uncertainty": plain.uncertainty}
    return stats, record


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
        "estimated_seconds": estimate["seconds"],
        "estimated_memory_bytes": estimate["memory_bytes"],
    }


def _assemble(problem: Params | LangevinSystem, options: SDEOptions, seed: int, plan: _Plan,
              chunks: list, stats: _Statistics, reference: dict[str, Any] | None, err: Any,
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
