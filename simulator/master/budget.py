"""Up-front memory and work estimates of a master-equation time evolution, and its sub-steps.

A time evolution keeps, per output time, the density matrix (``dim^2`` complex numbers) and a
few 6x6 arrays (moments, the linearised reference), so its memory grows with ``n_times``; its
work grows with the time span: the solver's step is set by the fastest rates of the Liouvillian,
which grow with the cutoffs. Both are estimated before any work and a run beyond the limits is
refused with the numbers (``ValueError`` naming ``n_times`` or ``t_max``).

The solver is advanced at most :data:`SUBSTEP` (``1/omega_m``) at a time, whatever the spacing
of the output times, so that the time budget (``max_time``) is checked at least that often and
no single call of the integrator runs out of steps (``nsteps``) or never returns.

A direct (sparse LU) steady-state solve cannot be interrupted: its time is estimated
(:func:`direct_solve_seconds`) and it is not started when it would overrun the budget.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..resources import MEMORY_FRACTION, available_memory

__all__ = ["SUBSTEP", "PER_TIME_BYTES", "SECONDS_PER_UNIT_TIME_DIM2",
           "PREPASS_SECONDS_PER_UNIT_TIME", "WORK_LIMIT_SECONDS", "evolution_memory",
           "prepass_seconds", "evolution_seconds", "check_evolution", "direct_solve_seconds",
           "substeps"]

#: Longest interval (1/omega_m) the solver is advanced in one call.
SUBSTEP = 2.0
#: Memory per output time besides the density matrix: time, covariances and means of the run,
#: the check and the linearised reference (``3 x 36 + 2 x 6`` doubles), the solver's record.
PER_TIME_BYTES = 2048
#: Solver cost per unit of time and per ``dim^2``: measured 0.05 s per 1/omega_m at dimension
#: 120 (cutoffs (10, 12), linearised, 2026-12-04, loaded 2-core machine), i.e. 3.5e-6 s; a
#: rough figure (a factor of a few either way: the step also shrinks as the cutoffs grow).
SECONDS_PER_UNIT_TIME_DIM2 = 3.5e-6
#: With a time budget, the longest estimated run accepted, in budgets (and at least
#: :data:`WORK_LIMIT_SECONDS`).
MAX_OVERRUN = 100.0
#: Cost of the linearised pre-pass (``scipy.integrate.solve_ivp`` of the covariance, rtol
#: 1e-9) per unit of time: measured 1.06e-3 s (span 1e5 in 106 s, loaded 2-core machine).
PREPASS_SECONDS_PER_UNIT_TIME = 1e-3
#: Direct (sparse LU) steady-state solve, which cannot be interrupted: measured 8.2 s at
#: dimension 120 and 133 s at 240 (cutoffs (6, 20), (8, 30); loaded 2-core machine), i.e.
#: ``dim^4`` times this.
DIRECT_SECONDS_PER_DIM4 = 4e-8
#: A pre-pass estimated below this (s) is never refused for a budget: it is short in any case.
PREPASS_GRACE_SECONDS = 10.0
#: Longest estimated run accepted without a time budget (``max_time``), seconds.
WORK_LIMIT_SECONDS = 86400.0


def evolution_memory(n_times: int, dim: int) -> float:
    """Bytes held by a run with ``n_times`` output times in a space of dimension ``dim``."""
    return float(n_times) * (16.0 * dim * dim + PER_TIME_BYTES)


def prepass_seconds(t_span: float) -> float:
    """Estimated seconds of the linearised covariance evolution over ``t_span`` that sets the
    cutoffs before the master equation is solved."""
    return float(t_span) * PREPASS_SECONDS_PER_UNIT_TIME


def evolution_seconds(t_span: float, dim: int, runs: int = 1) -> float:
    """Estimated seconds for the linearised pre-pass and ``runs`` evolutions over ``t_span`` at
    dimension ``dim``."""
    return (prepass_seconds(t_span)
            + float(runs) * float(t_span) * SECONDS_PER_UNIT_TIME_DIM2 * dim * dim)


def check_evolution(n_times: int, t_span: float, dim: int, *, runs: int = 1,
                    max_time: float | None = None) -> dict[str, float]:
    """Refuse (``ValueError`` with the numbers) a run whose memory exceeds half of what is
    available, or whose estimated time exceeds :data:`WORK_LIMIT_SECONDS` (without
    ``max_time``), or both that and :data:`MAX_OVERRUN` budgets (with it); return the
    estimates."""
    memory = evolution_memory(n_times, dim)
    limit = MEMORY_FRACTION * available_memory()
    if memory > limit:
        raise ValueError(
            f"n_times = {n_times} (--n-times): the time evolution would hold about "
            f"{memory / 1e9:.3g} GB "
            f"(a {dim}x{dim} density matrix per output time), more than the limit of "
            f"{limit / 1e9:.3g} GB (half the available memory); use fewer output times")
    seconds = evolution_seconds(t_span, dim, runs)
    if max_time is None and seconds > WORK_LIMIT_SECONDS:
        raise ValueError(
            f"t_max = {t_span:g} (--t-max): the time evolution would take about {seconds:.3g} s "
            f"(dimension {dim}, {runs} run(s)), more than {WORK_LIMIT_SECONDS:g} s; shorten "
            "t_max, or give a time budget max_time (--max-time) to stop with the times reached")
    if max_time is not None and prepass_seconds(t_span) > max(max_time, PREPASS_GRACE_SECONDS):
        # the pre-pass runs before the first output time and cannot stop with a result
        raise ValueError(
            f"t_max = {t_span:g} (--t-max): the linearised pre-pass that sets the cutoffs would "
            f"take about {prepass_seconds(t_span):.3g} s, more than the budget max_time = "
            f"{max_time:g} s (--max-time), before the first output time; shorten t_max")
    if max_time is not None and seconds > max(MAX_OVERRUN * max_time, WORK_LIMIT_SECONDS):
        # the linearised pre-pass that sets the cutoffs covers the whole span, budget or not
        raise ValueError(
            f"t_max = {t_span:g} (--t-max): the time evolution would take about {seconds:.3g} s "
            f"(dimension {dim}, {runs} run(s)), more than {MAX_OVERRUN:g} times the budget "
            f"max_time = {max_time:g} s (--max-time): it could reach only a small part of it; "
            "shorten t_max")
    return {"memory_bytes": memory, "seconds": seconds}


def direct_solve_seconds(dim: int) -> float:
    """Estimated seconds of one direct (sparse LU) steady-state solve at dimension ``dim``."""
    return DIRECT_SECONDS_PER_DIM4 * float(dim) ** 4


def substeps(t0: float, t1: float) -> Iterator[float]:
    """Intermediate times strictly between ``t0`` and ``t1``, at most :data:`SUBSTEP` apart
    (a generator: a huge span costs no memory)."""
    n = int(np.ceil((t1 - t0) / SUBSTEP - 1e-9))
    for k in range(1, n):
        yield t0 + (t1 - t0) * (k / n)
