"""The chunk loop of each array library, chosen by the options' ``backend``.

``"numpy"``: :func:`simulator.sde.chunk.run_chunk`, every record. ``"jax"``:
:func:`simulator.sde.jax_backend.run_chunk` (imported, with JAX, only when asked for) for the
:class:`~simulator.sde.records.Moments` record (sums per bin: stationary, control-variate and
ring-up runs); the other records (``Paths``, ``PairedMoments``: studies, the step-size check and
the ``dt="auto"`` pilot) run on numpy whatever the backend. Both loops return the same
:class:`~simulator.sde.checkpoints.ChunkResult`, so the driver (:mod:`simulator.sde.parallel`)
does not know which one ran.
"""

from __future__ import annotations

import numpy as np

from . import chunk
from .checkpoints import ChunkResult
from .records import Moments

__all__ = ["run_chunk", "runs_on_jax", "device_record"]


def runs_on_jax(problem) -> bool:
    """Whether a chunk of ``problem`` (:class:`~simulator.sde.problem.EnsembleProblem`) runs on
    the JAX backend: ``backend="jax"`` and a plain :class:`~simulator.sde.records.Moments`
    record."""
    return problem.run_options.backend == "jax" and type(problem.record) is Moments


def run_chunk(problem, seed_seq: np.random.SeedSequence, index: int, n: int) -> ChunkResult:
    """Integrate one chunk of ``n`` trajectories of ``problem`` on its backend; see
    :func:`simulator.sde.chunk.run_chunk`."""
    if runs_on_jax(problem):
        from .jax_backend import run_chunk as run_jax_chunk

        return run_jax_chunk(problem.run_system, problem.run_options, problem.schedule,
                             seed_seq, index, n, problem.record.escapes)
    return chunk.run_chunk(problem, seed_seq, index, n)


def device_record(problem) -> dict[str, str]:
    """What a run of ``problem`` records of its device in ``timing``: ``{}`` on numpy; with
    ``backend="jax"`` ``{"backend": "jax (float64)", "device": "gpu (...)"}``, after checking
    that JAX imports and a chunk fits the device's memory (before any work)."""
    options = problem.run_options
    if options.backend != "jax":
        return {}
    from .jax_backend import check_device_memory

    device = check_device_memory(problem.run_system, options)["device"]
    return {"backend": f"jax ({options.precision})", "device": device}
