"""``--max-time`` and ``--work-limit`` of ``wgmsim sde`` and ``wgmsim ringup``: the work estimate
shown before a run starts, the refusal of a run beyond the limit, and the stop between chunks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .checks import UsageError, real
from .common import show_progress

__all__ = ["WORK_LIMIT", "add_budget_arguments", "check_work"]

#: Default ``--work-limit`` (s): a day of this machine's measured rate.
WORK_LIMIT = 86400.0
#: A typical rate (trajectory-steps/s of one worker; measured 2.2e6-2.7e6 on the loaded 2-core
#: development machine, 8.4e6 idle) for the first, rough estimate; a run estimated above
#: :data:`MEASURE_ABOVE` seconds by it (or any run with ``--max-time``) is timed on a pilot.
ROUGH_RATE = 2e6
MEASURE_ABOVE = 10.0


def add_budget_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--max-time`` and ``--work-limit``."""
    p.add_argument("--max-time", type=real(), metavar="SECONDS",
                   help="time budget: stop between chunks once spent (exit status 3); with "
                   "--out the finished chunks are saved and the same command resumes")
    p.add_argument("--work-limit", type=real(), default=WORK_LIMIT, metavar="SECONDS",
                   help="refuse a run whose estimated time at this machine's measured rate "
                   "exceeds SECONDS (default %(default)g: one day); not applied with "
                   "--scheduler")


def check_work(name: str, args: argparse.Namespace, system, options, steps_per_trajectory: float,
               workers: int, flags: str, factor: float = 1.0) -> dict[str, Any]:
    """Measure this machine's rate, show the estimate (with progress bars or ``-v``) and refuse
    (``UsageError`` naming ``flags`` and ``--work-limit``) a run beyond the limit.

    ``factor`` scales the measured cost (control variates integrate three copies of the state).
    """
    from ..sde.workrate import format_seconds, work_estimate

    steps = float(options.n_traj) * steps_per_trajectory
    rough = steps * factor / (ROUGH_RATE * workers)
    if rough < MEASURE_ABOVE and args.max_time is None:  # small: no pilot (about 0.3 s)
        est = {"trajectory_steps": steps, "rate": ROUGH_RATE, "workers": workers,
               "seconds": rough}
        how = "typical"
    else:
        est = work_estimate(system, options, steps_per_trajectory, workers)
        how = "measured here"
    est["seconds"] *= factor if how != "typical" else 1.0
    est["rate"] /= factor
    what = (f"about {est['trajectory_steps']:.3g} trajectory-steps, about "
            f"{format_seconds(est['seconds'])} at {est['rate']:.3g} trajectory-steps/s "
            f"{how} ({workers} worker(s))")
    if show_progress(args) or int(getattr(args, "verbose", 0) or 0) > 0:
        print(f"wgmsim {name}: {what}", file=sys.stderr)
    per_chunk = steps_per_trajectory * min(options.chunk_size, options.n_traj) / est["rate"]
    if args.max_time is not None and per_chunk > args.max_time:
        raise UsageError(
            f"--max-time {args.max_time:g}: one chunk of {options.chunk_size} trajectories takes "
            f"about {format_seconds(per_chunk)} here, and the budget is checked between chunks; "
            "lower --chunk-size, or raise --max-time")
    if not getattr(args, "scheduler", None) and est["seconds"] > args.work_limit:
        raise UsageError(
            f"{flags}: the run is {what}, more than --work-limit {args.work_limit:g} s; make "
            "it smaller, or raise --work-limit (with --max-time and --out it can run in parts)")
    return est
