"""Ensembles of SDE trajectories: fixed chunks, streaming accumulation, joblib, checkpoints.

The ``n_traj`` trajectories are split into ``options.n_chunks`` fixed chunks. Chunk ``i`` draws
all its random numbers from ``np.random.default_rng(SeedSequence(seed).spawn(n_chunks)[i])`` and
returns only sums (per batch of the averaging window), so the reduced result is independent of
``n_jobs`` and of the order in which chunks finish: they are reduced in chunk order.

The pipeline, one module per job (this module gathers their public names):

* :mod:`simulator.sde.problem`: :class:`EnsembleProblem` (system, options, record, schedule),
  what the one driver runs;
* :mod:`simulator.sde.records`: what each chunk keeps (moments per bin, paths of every
  trajectory, the dt/dt-2 pair; a control-variate shadow);
* :mod:`simulator.sde.chunk`: the one chunk loop and its kernels;
* :mod:`simulator.sde.parallel`: the one driver, :func:`run_ensemble`: chunks and seeds,
  checkpoints, joblib workers (dask included), progress and Ctrl-C;
* :mod:`simulator.sde.scheduling`: chunks, burn-in, batches and bins, seeds, divergence bound;
* :mod:`simulator.sde.stepsize`: the step-size check and the ``dt="auto"`` pilot;
* :mod:`simulator.sde.checkpoints`: chunk files, the manifest and the lock of ``out=DIR``;
* :mod:`simulator.sde.resources`: the memory and time estimate checked before any work.
"""

from __future__ import annotations

from .checkpoints import CHECKPOINT_FORMAT, ChunkResult, checkpoint_lock, chunk_path, run_id
from .backends import run_chunk
from .chunk import initial_state
from .parallel import (_distributed_backend, check_run_arguments, effective_workers, run_chunks,
                       run_ensemble)
from .problem import EnsembleProblem
from .records import Moments, PairedMoments, Paths
from .resources import available_memory, check_resources, estimate_resources
from .scheduling import (
    BATCH_MIN_CORRELATION_TIMES,
    BOUND_SIGMAS,
    DEFAULT_T_AVG,
    Schedule,
    chunk_seeds,
    divergence_bound,
    initial_moments,
    schedule,
    seed_records,
)
from .stepsize import step_error_check

__all__ = ["EnsembleProblem", "run_ensemble", "Moments", "Paths", "PairedMoments", "Schedule",
           "ChunkResult", "schedule", "run_chunk", "run_chunks", "chunk_seeds",
           "run_id", "effective_workers", "estimate_resources", "divergence_bound",
           "check_run_arguments", "seed_records", "initial_moments", "initial_state",
           "step_error_check", "check_resources", "available_memory", "checkpoint_lock",
           "chunk_path", "CHECKPOINT_FORMAT", "DEFAULT_T_AVG",
           "BATCH_MIN_CORRELATION_TIMES", "BOUND_SIGMAS", "_distributed_backend"]
