"""The one driver of every ensemble: chunks, seeds, checkpoints, joblib workers (any backend,
dask included), progress and Ctrl-C (:func:`run_ensemble`).

Chunks are independent (each its own seed stream) and are reduced in chunk order, so the result
does not depend on ``n_jobs`` or on the order in which they finish. Joblib's dask backend works as
any joblib backend: inside ``with joblib.parallel_config(backend="dask"):`` (after creating a
``distributed.Client``) the chunks are scheduled on the cluster; the result does not change.
Ctrl-C raises :class:`~simulator.errors.RunInterrupted` after the finished chunks are on disk.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import RunInterrupted, TimeBudgetSpent
from .checkpoints import ChunkResult, checkpoint_lock, chunk_path, prepare_out, run_id
from .backends import run_chunk
from .options import SDEOptions
from .problem import EnsembleProblem
from .scheduling import Schedule, chunk_seeds
from .system import LangevinSystem

__all__ = ["run_ensemble", "run_chunks", "effective_workers", "check_run_arguments"]

log = logging.getLogger("simulator.sde")


def check_run_arguments(seed: Any, n_jobs: Any) -> None:
    """``ValueError`` naming ``seed`` (an integer >= 0) or ``n_jobs`` (a non-zero integer) when
    they are not; shared by every ensemble driver."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r}: must be an integer >= 0")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs = {n_jobs!r}: must be a non-zero integer (-1: all cores)")


def effective_workers(n_jobs: int, n_tasks: int, backend: str = "numpy") -> int:
    """Workers actually started: ``n_jobs`` (negative: joblib's ``cpu_count + 1 + n_jobs``)
    capped at the number of chunks to run and at ``os.cpu_count()``. Under a distributed (dask)
    backend, every chunk to run whatever ``n_jobs`` says: the cluster decides where they run
    (with ``n_jobs = 1`` joblib would otherwise run them here, bypassing the backend). With
    ``backend="jax"``, one: the chunks take turns on the one device."""
    if _distributed_backend():
        return max(1, n_tasks)
    if backend == "jax":
        return 1
    cpus = os.cpu_count() or 1
    want = n_jobs if n_jobs > 0 else max(1, cpus + 1 + n_jobs)
    return max(1, min(want, n_tasks, cpus))


def _distributed_backend() -> bool:
    try:
        from joblib.parallel import get_active_backend

        backend = get_active_backend()[0]
    except Exception:  # noqa: BLE001 - old joblib: assume local
        return False
    return "dask" in type(backend).__name__.lower()


def _run_and_save(problem, seed_seq, index, n, chunk_dir, run=""):
    res = run_chunk(problem, seed_seq, index, n)
    if chunk_dir is not None:
        res.save(chunk_path(chunk_dir, index), run)
    return res


def run_ensemble(problem: EnsembleProblem, seed: int | np.random.SeedSequence, *,
                 chunk_ids: Sequence[int] | None = None, n_jobs: int = 1,
                 out: str | Path | None = None, identity: dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 max_time: float | None = None, stream: int = 0) -> list[ChunkResult]:
    """Compute (or load from ``out``) the chunks ``chunk_ids`` (default: all) of ``problem``, in
    chunk order: the one driver of the stationary run, the ring-up, the step-size check, the
    ``dt="auto"`` pilot and control variates.

    Parameters
    ----------
    problem : EnsembleProblem
        System, options (``n_traj`` split into ``options.n_chunks`` chunks), record, schedule.
    seed : int or SeedSequence
        Chunk ``i`` draws every random number from ``SeedSequence(seed).spawn(...)[stream + i]``;
        a ``SeedSequence`` is itself the stream of a one-chunk auxiliary run (the ``dt`` pilot).
    n_jobs : int
        Requested workers; at most :func:`effective_workers` are started (logged at INFO on the
        ``simulator.sde`` logger when capped).
    out : path, optional
        Checkpoint folder (:mod:`simulator.sde.checkpoints`): finished chunks are saved there and
        reused on a rerun.
    identity : dict
        JSON-ready description of the problem (parameters, options, seed); its hash is the run
        id stored in the manifest and every chunk file and compared on resume.
    progress : callable or None
        Called as ``progress(done, total)`` after each chunk is available (in the caller).
    max_time : float or None
        Time budget (s) from this call: checked between chunks; once spent, the run stops
        with :class:`~simulator.errors.TimeBudgetSpent` (the finished chunks saved in ``out``).
    stream : int
        First seed stream: ``0`` for a run's chunks; auxiliary runs of the same seed use the
        streams after them (the step-size check ``n_chunks``, the ``dt`` pilot ``n_chunks + 1``).

    Raises
    ------
    CheckpointError
        ``out`` is locked by another process, belongs to another run, or a chunk file is bad or
        in the wrong slot (named in the message).
    RunInterrupted
        Ctrl-C: the finished chunks are saved in ``out``; rerunning resumes.
    TimeBudgetSpent
        ``max_time`` spent before the last chunk; the finished ones are saved in ``out``.

    Examples
    --------
    The displacement ``x_q`` of every trajectory at five output times (a :class:`Paths` record
    on a time-resolved schedule), in two chunks of four:

    >>> from simulator import Params
    >>> from simulator.sde import Paths, SDEOptions, fluctuation_system
    >>> sched = Schedule(dt=0.1, n_burn=0, n_batches=4, steps_per_batch=10, samples_per_batch=1,
    ...                  sample_every=10, n_chunks=2, bound=1e6, record_initial=True)
    >>> prob = EnsembleProblem(fluctuation_system(Params.paper()),
    ...                        SDEOptions(n_traj=8, chunk_size=4), Paths(columns=(4,)), sched)
    >>> [c.paths.shape for c in run_ensemble(prob, seed=1)]
    [(5, 4, 1), (5, 4, 1)]
    """
    deadline = None if max_time is None else (time.perf_counter(), float(max_time))
    n_chunks = problem.options.n_chunks
    ids = list(range(n_chunks)) if chunk_ids is None else sorted(set(chunk_ids))
    for i in ids:
        if not 0 <= i < n_chunks:
            raise ValueError(f"chunk_ids: {i} outside 0..{n_chunks - 1}")
    if isinstance(seed, np.random.SeedSequence):
        if n_chunks != 1 or out is not None:
            raise ValueError("seed: a SeedSequence is the stream of a one-chunk run without "
                             "checkpoints; give an integer seed")
        seeds = [seed]
    else:
        seeds = chunk_seeds(seed, stream + n_chunks)[stream:]
    if out is None:
        return _run_chunks(problem, seeds, ids, n_jobs, None, None, progress, deadline)
    identity = identity or {"seed": seed, "options": problem.options.to_dict()}
    with checkpoint_lock(Path(out)):
        chunk_dir = prepare_out(Path(out), identity)
        return _run_chunks(problem, seeds, ids, n_jobs, chunk_dir, run_id(identity), progress,
                           deadline)


def run_chunks(system: LangevinSystem, options: SDEOptions, seed: int, *,
               sched: Schedule | None = None, **kwargs: Any) -> list[ChunkResult]:
    """:func:`run_ensemble` of the moments of ``system`` (``sched``: the schedule, default the
    stationary run's); ``kwargs`` as there."""
    return run_ensemble(EnsembleProblem(system, options, schedule=sched), seed, **kwargs)


def _run_chunks(problem, seeds, ids, n_jobs, chunk_dir, run, progress, deadline=None):
    import joblib

    sizes = problem.options.chunk_sizes()
    results: dict[int, ChunkResult] = {}
    if chunk_dir is not None:
        for i in ids:
            p = chunk_path(chunk_dir, i)
            if p.exists():
                results[i] = ChunkResult.load(p, run, i)
    todo = [i for i in ids if i not in results]
    total, done = len(ids), len(results)
    if not todo:
        if progress is not None:
            progress(done, total)
        return [results[i] for i in ids]
    workers = effective_workers(n_jobs, len(todo))
    if workers != n_jobs:
        log.info("n_jobs = %d: using %d worker(s) (%d chunk(s) to run, %d CPU core(s))",
                 n_jobs, workers, len(todo), os.cpu_count() or 1)
    tasks = (joblib.delayed(_run_and_save)(problem, seeds[i], i, sizes[i], chunk_dir, run)
             for i in todo)
    try:
        if progress is not None:
            progress(done, total)
        if workers == 1 and not _distributed_backend():
            gen = (t[0](*t[1], **t[2]) for t in tasks)
        else:
            gen = joblib.Parallel(n_jobs=workers, return_as="generator")(tasks)
        for res in gen:
            results[res.index] = res
            done += 1
            if progress is not None:
                progress(done, total)
            if deadline is not None and done < total:
                spent = time.perf_counter() - deadline[0]
                if spent > deadline[1]:
                    saved = done if chunk_dir is not None else 0
                    raise TimeBudgetSpent(saved, total, None if chunk_dir is None
                                          else chunk_dir.parent, deadline[1], spent)
    except KeyboardInterrupt:
        if chunk_dir is not None:
            saved = sum(chunk_path(chunk_dir, i).exists() for i in ids)
            raise RunInterrupted(saved, total, chunk_dir.parent) from None
        raise RunInterrupted(done, total, None) from None
    return [results[i] for i in ids]
