"""Up-front resource estimate of an ensemble: memory and time, checked before any work."""

from __future__ import annotations

from ..resources import available_memory
from .options import SDEOptions
from .scheduling import Schedule
from .system import LangevinSystem

__all__ = ["available_memory", "estimate_resources", "check_resources"]

#: Assumed memory of one chunk's seed sequence and Python bookkeeping, bytes.
_CHUNK_OVERHEAD_BYTES = 4096
#: Fraction of the available memory a run may plan to use.
_MEMORY_FRACTION = 0.5
#: Rough cost of the integrator (seconds per step per chunk, and per trajectory-variable step),
#: measured on one core of a 2020s laptop; used for the up-front time estimate only.
_SECONDS_PER_CHUNK_STEP = 1.5e-5
_SECONDS_PER_VARIABLE_STEP = 1.5e-8


def estimate_resources(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                       n_workers: int) -> dict[str, float]:
    """Up-front memory (bytes) and time (seconds) of a run.

    Memory: per worker one chunk's state, noise blocks (up to 3 arrays of ``block x chunk x d``),
    the sample buffer and kept trajectories; for the whole run, per chunk its unit sums (held
    twice while reduced), final state and seed bookkeeping. Nothing else grows with ``n_traj``.
    Time: ``steps x (per-chunk overhead + per-variable cost)`` summed over chunks, divided over
    the workers; a rough figure (a factor of a few either way).
    """
    d, n = system.dim, min(options.chunk_size, options.n_traj)  # no chunk exceeds the run
    block = options.block_for(n)
    steps = sched.n_burn + sched.n_batches * sched.steps_per_batch
    kept = 0
    if options.keep_trajectories:
        kept = (steps // options.keep_every + 1) * min(options.keep_trajectories, n) * d * 8
    per_chunk_work = 8 * n * d * (3 * block + block // options.sample_every + 8) + kept
    per_chunk_kept = 8 * (2 * sched.n_bins * (d * d + d + 1) + n * d) + _CHUNK_OVERHEAD_BYTES
    memory = n_workers * per_chunk_work + options.n_chunks * per_chunk_kept
    seconds = (options.n_chunks * steps * (_SECONDS_PER_CHUNK_STEP
                                           + _SECONDS_PER_VARIABLE_STEP * n * d) / n_workers)
    return {"memory_bytes": float(memory), "seconds": float(seconds),
            "memory_limit_bytes": float(_MEMORY_FRACTION * available_memory())}


def check_resources(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                    n_workers: int, max_seconds: float | None = None) -> dict[str, float]:
    """:func:`estimate_resources`, refusing (``ValueError`` naming ``n_traj``, the estimate and
    the limit) a run that would need more than half the available memory or, if given, more
    than ``max_seconds``."""
    est = estimate_resources(system, options, sched, n_workers)
    if est["memory_bytes"] > est["memory_limit_bytes"]:
        raise ValueError(
            f"n_traj = {options.n_traj}: the run would need about "
            f"{est['memory_bytes'] / 2**30:.3g} GiB ({options.n_chunks} chunks of "
            f"{options.chunk_size}, {n_workers} worker(s)), more than the limit of "
            f"{est['memory_limit_bytes'] / 2**30:.3g} GiB (half the available memory); lower "
            "n_traj or t_avg, or raise chunk_size")
    if max_seconds is not None and est["seconds"] > max_seconds:
        raise ValueError(
            f"n_traj = {options.n_traj}: the run would take about {est['seconds']:.3g} s with "
            f"{n_workers} worker(s), more than the limit max_seconds = {max_seconds:g}")
    return est
