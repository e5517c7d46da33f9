"""Dispatch of an ensemble's chunks: joblib workers (any backend, dask included), checkpoints,
progress and Ctrl-C.

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
from .chunk import run_chunk
from .escapes import EscapeTest
from .options import SDEOptions
from .scheduling import Schedule, chunk_seeds, schedule
from .system import LangevinSystem

__all__ = ["run_chunks", "effective_workers", "check_run_arguments"]

log = logging.getLogger("simulator.sde")


def check_run_arguments(seed: Any, n_jobs: Any) -> None:
    """``ValueError`` naming ``seed`` (an integer >= 0) or ``n_jobs`` (a non-zero integer) when
    they are not; shared by every ensemble driver."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r}: must be an integer >= 0")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs = {n_jobs!r}: must be a non-zero integer (-1: all cores)")


def effective_workers(n_jobs: int, n_tasks: int) -> int:
    """Workers actually started: ``n_jobs`` (negative: joblib's ``cpu_count + 1 + n_jobs``)
    capped at the number of chunks to run and at ``os.cpu_count()``. Under a distributed (dask)
    backend, every chunk to run whatever ``n_jobs`` says: the cluster decides where they run
    (with ``n_jobs = 1`` joblib would otherwise run them here, bypassing the backend)."""
    if _distributed_backend():
        return max(1, n_tasks)
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


def _run_and_save(system, options, sched, seed_seq, index, n, chunk_dir, run="", escapes=None):
    res = run_chunk(system, options, sched, seed_seq, index, n, escapes)
    if chunk_dir is not None:
        res.save(chunk_path(chunk_dir, index), run)
    return res


def run_chunks(system: LangevinSystem, options: SDEOptions, seed: int, *,
               chunk_ids: Sequence[int] | None = None, n_jobs: int = 1,
               out: str | Path | None = None, identity: dict[str, Any] | None = None,
               progress: Callable[[int, int], None] | None = None,
               sched: Schedule | None = None,
               max_time: float | None = None, escapes: EscapeTest | None = None
               ) -> list[ChunkResult]:
    """Compute (or load from ``out``) the chunks ``chunk_ids`` (default: all), in chunk order.

    Parameters
    ----------
    n_jobs : int
        Requested workers; at most :func:`effective_workers` are started (logged at INFO on the
        ``simulator.sde`` logger when capped).
    identity : dict
        JSON-ready description of the problem (parameters, options, seed); its hash is the run
        id stored in the manifest and every chunk file and compared on resume.
    progress : callable or None
        Called as ``progress(done, total)`` after each chunk is available (in the caller).
    sched : Schedule or None
        The steps and bins of each chunk; ``None``: :func:`schedule` of the stationary run. A
        transient (ring-up) passes its own, time-resolved one.
    max_time : float or None
        Time budget (s) from this call: checked between chunks; once spent, the run stops
        with :class:`~simulator.errors.TimeBudgetSpent` (the finished chunks saved in ``out``).
    escapes : EscapeTest or None
        The per-block test for escapes from the fixed point's basin
        (:mod:`simulator.sde.escapes`); ``None``: not tested.

    Raises
    ------
    CheckpointError
        ``out`` is locked by another process, belongs to another run, has chunks but no valid
        manifest, or holds a chunk file that is unreadable, tampered with, or from another run or
        slot (named in the message).
    RunInterrupted
        Ctrl-C: the finished chunks are saved in ``out``; rerunning resumes.
    TimeBudgetSpent
        ``max_time`` spent before the last chunk; the finished ones are saved in ``out``.
    """
    deadline = None if max_time is None else (time.perf_counter(), float(max_time))
    sched = schedule(system, options) if sched is None else sched
    ids = list(range(options.n_chunks)) if chunk_ids is None else sorted(set(chunk_ids))
    for i in ids:
        if not 0 <= i < options.n_chunks:
            raise ValueError(f"chunk_ids: {i} outside 0..{options.n_chunks - 1}")
    if out is None:
        return _run_chunks(system, options, sched, seed, ids, n_jobs, None, None, progress,
                           deadline, escapes)
    identity = identity or {"seed": seed, "options": options.to_dict()}
    with checkpoint_lock(Path(out)):
        chunk_dir = prepare_out(Path(out), identity)
        return _run_chunks(system, options, sched, seed, ids, n_jobs, chunk_dir,
                           run_id(identity), progress, deadline, escapes)


def _run_chunks(system, options, sched, seed, ids, n_jobs, chunk_dir, run, progress,
                deadline=None, escapes=None):
    import joblib

    sizes = options.chunk_sizes()
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
    seeds = chunk_seeds(seed, options.n_chunks)
    workers = effective_workers(n_jobs, len(todo))
    if workers != n_jobs:
        log.info("n_jobs = %d: using %d worker(s) (%d chunk(s) to run, %d CPU core(s))",
                 n_jobs, workers, len(todo), os.cpu_count() or 1)
    tasks = (joblib.delayed(_run_and_save)(system, options, sched, seeds[i], i, sizes[i],
                                           chunk_dir, run, escapes) for i in todo)
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
