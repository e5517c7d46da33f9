"""Work of an SDE run before it starts: trajectory-steps, and seconds at this machine's rate.

The rate is measured, not assumed: a pilot chunk of the same system, integrator, step and (up
to :data:`PILOT_TRAJ`) chunk size is integrated for :data:`PILOT_STEPS` steps, then four times
as many, ..., until one run takes :data:`PILOT_SECONDS` (about 0.3 s in all), and timed. The
estimate is ``trajectory-steps / (rate x workers)``. Sampling and reduction are left out, so it
is a floor: the pilot's rate was 1.2-1.3 times the run's own (chunks of 128 and 512, load
average 7; ``tests/test_sde_workrate.py`` holds it within a factor of 4); other load on the
machine lengthens the run.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .chunk import run_chunk
from .problem import EnsembleProblem
from .scheduling import Schedule
from .options import SDEOptions
from .system import LangevinSystem

__all__ = ["PILOT_TRAJ", "PILOT_STEPS", "PILOT_SECONDS", "measure_rate", "work_estimate",
           "format_seconds"]

#: Largest chunk of the pilot run (a larger chunk is measured at this size: a conservative rate).
PILOT_TRAJ = 256
#: Steps of the first pilot run; multiplied by 4 until a run takes :data:`PILOT_SECONDS`.
PILOT_STEPS = 256
#: Shortest pilot run whose rate is used (s), and the longest pilot (steps).
PILOT_SECONDS = 0.2
PILOT_MAX_STEPS = 65536


def measure_rate(system: LangevinSystem, options: SDEOptions) -> float:
    """Trajectory-steps per second of one worker on this machine for ``system`` integrated
    with ``options.method`` at ``options.dt`` in chunks of ``options.chunk_size``."""
    n = int(min(options.chunk_size, PILOT_TRAJ))
    pilot = options.replace(n_traj=n, chunk_size=n, t_burn=0.0, sample_every=1,
                            keep_trajectories=0, block_steps=None, t_avg=None, batch_time=None)

    def seconds(steps: int) -> float:
        sched = Schedule(dt=pilot.dt, n_burn=steps - 1, n_batches=1, steps_per_batch=1,
                         samples_per_batch=1, sample_every=1, n_chunks=1, bound=np.inf)
        t0 = time.perf_counter()
        run_chunk(EnsembleProblem(system, pilot, schedule=sched), np.random.SeedSequence(0), 0, n)
        return time.perf_counter() - t0

    # lengthen the pilot until it runs PILOT_SECONDS: the set-up of a chunk (integrator,
    # initial state; about 0.02 s) is then a small part of the time measured
    steps = PILOT_STEPS
    while True:
        spent = seconds(steps)
        if spent >= PILOT_SECONDS or steps >= PILOT_MAX_STEPS:
            return n * steps / max(spent, 1e-9)
        steps *= 4


def work_estimate(system: LangevinSystem, options: SDEOptions, steps_per_trajectory: float,
                  workers: int = 1) -> dict[str, Any]:
    """``{"trajectory_steps", "rate", "seconds", "workers"}`` of a run of ``options.n_traj``
    trajectories of ``steps_per_trajectory`` steps each, at the measured rate."""
    rate = measure_rate(system, options)
    steps = float(options.n_traj) * float(steps_per_trajectory)
    return {"trajectory_steps": steps, "rate": rate, "workers": int(workers),
            "seconds": steps / (rate * max(int(workers), 1))}


def format_seconds(seconds: float) -> str:
    """``"12 s"``, ``"3.5 h"``, ``"140 days"``: a duration for a message."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} days"
