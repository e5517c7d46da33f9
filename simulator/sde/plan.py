"""The plan of a stationary run, before any work: system, step, control variates, schedule,
workers and resources (:func:`prepare`; :func:`estimate_run` gives it to the command line).

``dt="auto"`` is resolved here on a pilot (:mod:`simulator.sde.stepsize`) and control variates
become the record's shadow (:mod:`simulator.sde.control`), so that what the driver runs is one
:class:`~simulator.sde.problem.EnsembleProblem`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MIN_UNITS
from ..params import Params
from .control import control_order
from .options import SDEOptions
from .backends import device_record
from .parallel import _distributed_backend, check_run_arguments, effective_workers
from .problem import EnsembleProblem
from .records import Moments
from .resources import check_resources, estimate_resources
from .scheduling import Schedule, chunk_seeds
from .stepsize import choose_dt, dt_cap
from .system import LangevinSystem, fluctuation_system

__all__ = ["Plan", "prepare", "estimate_run", "build_system", "check_inputs", "identity_of"]

log = logging.getLogger("simulator.sde")


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


def identity_of(problem: Params | LangevinSystem, options: SDEOptions, seed: int) -> dict[str, Any]:
    if isinstance(problem, Params):
        desc: Any = problem.to_dict()
    else:
        desc = {"A": problem.A.tolist(), "D": problem.D.tolist(),
                "nonlinearity": repr(problem.nonlinearity)}
    return {"problem": desc, "options": options.to_dict(), "seed": int(seed)}


def check_inputs(options: SDEOptions | None, seed: int, n_jobs: int) -> SDEOptions:
    """The options (default ``SDEOptions()``) after checking their type, ``seed`` and ``n_jobs``."""
    options = SDEOptions() if options is None else options
    if not isinstance(options, SDEOptions):
        raise TypeError(f"options: expected SDEOptions, got {type(options).__name__}")
    check_run_arguments(seed, n_jobs)
    return options


@dataclass(frozen=True)
class Plan:
    """What :func:`prepare` decided: the physical ``system``, the ``options`` with the step
    resolved (``auto_dt``: the pilot's record, or ``None``), the ensemble ``problem`` the driver
    runs (its record's ``shadow`` is the control-variate order, 0: none; its ``run_system``
    the augmented system with control variates), the ``workers`` used and the resource
    ``estimate``."""

    system: LangevinSystem
    options: SDEOptions
    auto_dt: dict[str, Any] | None
    problem: EnsembleProblem
    workers: int
    estimate: dict[str, Any]

    @property
    def order(self) -> int:
        return self.problem.record.shadow

    @property
    def schedule(self) -> Schedule:
        return self.problem.schedule


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
    options = check_inputs(options, 0, n_jobs)
    system = _checked_system(problem, options)
    _, _, prob = _ensemble(system, options, None)
    sched, run_system, run_opts = prob.schedule, prob.run_system, prob.run_options
    workers = effective_workers(n_jobs, options.n_chunks, options.backend)
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


def prepare(problem: Params | LangevinSystem, options: SDEOptions, seed: int, n_jobs: int,
             max_seconds: float | None) -> Plan:
    """System, step, control variates, schedule, workers and resource estimate; refuses a bad
    run before any work.

    Raises ``UnstableSystemError`` (unstable and not ``allow_unstable``), ``ValueError`` (fewer
    than 2 planned units, or beyond the memory/time limits).
    """
    system = _checked_system(problem, options)
    opts, auto_dt, prob = _ensemble(system, options, seed)
    sched = prob.schedule
    if sched.n_units < 2:
        raise ValueError(
            f"n_traj = {options.n_traj}, t_avg = {sched.t_avg:g}: {sched.n_units} statistical "
            f"unit ({sched.n_chunks} chunk x {sched.n_batches} batch); an error bar needs at "
            f"least 2 (and {MIN_UNITS} to be trusted)")
    workers = effective_workers(n_jobs, options.n_chunks, options.backend)
    if workers != n_jobs:
        log.info("n_jobs = %d: using %d worker(s) (%d chunk(s), %d CPU core(s))", n_jobs,
                 workers, options.n_chunks, os.cpu_count() or 1)
    # under dask the chunks' working memory is on the cluster's workers, not here
    estimate = check_resources(prob.run_system, prob.run_options, sched,
                               1 if _distributed_backend() else workers, max_seconds)
    log.info("estimated %.3g GiB and %.3g s with %d worker(s) for %d unit(s)",
             estimate["memory_bytes"] / 2**30, estimate["seconds"], workers, sched.n_units)
    estimate = {**estimate, **device_record(prob)}  # JAX: importable, a chunk fits
    return Plan(system, opts, auto_dt, prob, workers, estimate)


def _ensemble(system: LangevinSystem, options: SDEOptions, seed: int | None):
    """``(options with dt resolved, auto_dt record or None, the EnsembleProblem)``: ``dt="auto"``
    is resolved on a pilot (:mod:`simulator.sde.stepsize`), or without ``seed`` set to its cap
    (for a plan); with ``control_variate`` the record carries the shadow of
    :mod:`simulator.sde.control` and the chunk loop runs the augmented system."""
    opts, auto_dt = options, None
    if options.dt == "auto" and seed is None:  # a plan: the largest step the pilot may choose
        opts = options.replace(dt=dt_cap(system, options), rtol=None)
    elif options.dt == "auto":  # resolve the step on a pilot (simulator.sde.stepsize)
        dt, auto_dt = choose_dt(system, options, chunk_seeds(seed, options.n_chunks + 2)[-1])
        opts = options.replace(dt=dt, rtol=None)
    order = control_order(system, opts) if options.control_variate else 0
    return opts, auto_dt, EnsembleProblem(system, opts, Moments(shadow=order))

