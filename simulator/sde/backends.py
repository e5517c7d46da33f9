"""The chunk loop of each array library, chosen by ``options.backend``.

``"numpy"``: :func:`simulator.sde.chunk.run_chunk`; ``"jax"``:
:func:`simulator.sde.jax_backend.run_chunk` (imported, with JAX, only when asked for). Both take
the same arguments and return the same :class:`~simulator.sde.checkpoints.ChunkResult`, so the
driver (:mod:`simulator.sde.parallel`) does not know which one ran.
"""

from __future__ import annotations

import numpy as np

from . import chunk
from .checkpoints import ChunkResult
from .options import SDEOptions
from .scheduling import Schedule
from .system import LangevinSystem

__all__ = ["run_chunk"]


def run_chunk(system: LangevinSystem, options: SDEOptions, sched: Schedule,
              seed_seq: np.random.SeedSequence, index: int, n: int) -> ChunkResult:
    """Integrate one chunk of ``n`` trajectories on ``options.backend``; see
    :func:`simulator.sde.chunk.run_chunk` for the arguments."""
    if options.backend == "jax":
        from .jax_backend import run_chunk as run_jax_chunk

        return run_jax_chunk(system, options, sched, seed_seq, index, n)
    return chunk.run_chunk(system, options, sched, seed_seq, index, n)
