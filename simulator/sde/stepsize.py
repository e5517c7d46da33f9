"""``dt = "auto"``: the step sized by the nonlinearity, not by the linear dynamics.

The exponential integrator propagates the linear part exactly at any step; only the explicit
nonlinear remainder ``N(x)`` limits ``dt``. :func:`choose_dt` starts at the largest step the time
average can use (:func:`dt_cap`) and halves it until a pilot run passes the step-halving check
of :func:`step_error_check`: ``PILOT_TRAJECTORIES`` trajectories
integrated at ``dt`` and ``dt / 2`` on the *same* Brownian path, over the run's burn-in and one
batch of ``BATCH_MIN_CORRELATION_TIMES`` correlation times; the largest change of the
time-averaged second moments ``<x x^T>``, relative to their largest element, must be at most
``rtol``, at that step and at half of it (one lucky pass at a step outside the asymptotic
range, where the change need not fall with the step, is not enough; measured: 0.44, 0.083,
0.18, 0.14 at the first four halvings of the shift check at ``G0/Gamma = 0.1``). For a
first-order scheme that change is about half the step's own error, so the error
of the chosen step is estimated as twice the change (``estimated_error``).

With ``control_variate`` the quantity measured is the nonlinear *shift* ``V_nl - V_Lyapunov``,
far smaller than the covariance, so the check is on the shift: the pilot integrates the
augmented system (:mod:`simulator.sde.control`) at ``dt`` and ``dt / 2`` on the same noise and the
largest change of the shift, relative to its largest element (the pilot's own estimate), must be
at most ``rtol``. (The linear path is exact at any step, so this is the change of ``<x x^T>``
measured against the shift instead of against the covariance.) This matters: the explicit
nonlinear step biases the shift by O(dt) -- measured at ``G0/Gamma = 0.1``: ``dE_N`` -5.97e-3,
-5.18e-3, -4.69e-3 (errors ~2e-4) at ``dt`` = 0.2, 0.1, 0.05 -- so a shift to 1 % needs steps far
below the cap, and the choice can take several halvings.

The cap. Samples of the time average are taken every ``sample_every`` steps; more than
``SAMPLES_PER_CORRELATION_TIME`` samples per correlation time ``1 / slowest_rate`` add almost no
information (neighbouring samples are nearly identical), fewer would start to waste the run. So
``dt <= 1 / (SAMPLES_PER_CORRELATION_TIME * slowest_rate * sample_every)``, which also keeps
batches of ``BATCH_MIN_CORRELATION_TIMES`` correlation times at 40 samples or more.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .parallel import run_ensemble
from .options import SDEOptions
from .problem import EnsembleProblem
from .records import PairedMoments, pair_record, step_error_report
from .scheduling import Schedule
from .scheduling import BATCH_MIN_CORRELATION_TIMES, schedule
from .system import LangevinSystem

__all__ = ["choose_dt", "paired_sums", "step_error_check", "dt_cap", "DEFAULT_RTOL", "SAMPLES_PER_CORRELATION_TIME",
           "PILOT_TRAJECTORIES", "MAX_HALVINGS"]

#: Tolerance of the step-halving check when ``rtol`` is not given.
DEFAULT_RTOL = 1e-2
#: Samples per correlation time at the largest step.
SAMPLES_PER_CORRELATION_TIME = 4.0
#: Trajectories of the pilot check.
PILOT_TRAJECTORIES = 32
#: Halvings below the cap before giving up.
MAX_HALVINGS = 16


def dt_cap(system: LangevinSystem, options: SDEOptions) -> float:
    """Largest step considered: ``1 / (SAMPLES_PER_CORRELATION_TIME * slowest_rate *
    sample_every)`` (units of ``1/omega_m``)."""
    if not system.stable:
        raise ValueError("dt = 'auto': needs a stable system (its correlation time caps the "
                         "step); give dt explicitly")
    return 1.0 / (SAMPLES_PER_CORRELATION_TIME * system.slowest_rate * options.sample_every)


def choose_dt(system: LangevinSystem, options: SDEOptions, seed_seq: np.random.SeedSequence
              ) -> tuple[float, dict[str, Any]]:
    """The largest step ``cap / 2^k`` that, and half of which, pass the step-halving check at
    ``options.rtol``.

    Parameters
    ----------
    system : LangevinSystem
    options : SDEOptions
        With ``dt = "auto"``; ``method``, ``initial``, ``t_burn``, ``sample_every`` are used.
    seed_seq : SeedSequence
        Noise of the pilot runs (the same for every candidate step).

    Returns
    -------
    dt : float
    info : dict
        ``dt``, ``rtol``, ``cap``, ``step_halving_change`` (relative change of the second
        moments between ``dt`` and ``dt / 2`` at the chosen step), ``estimated_error`` (twice
        that), ``pilot_trajectories`` and ``tried`` (``[dt, change]`` per candidate).

    Raises
    ------
    ValueError
        Unstable system, or no step down to ``cap / 2**(MAX_HALVINGS + 1)`` passes (the message
        names the last step and its change).
    """
    rtol = options.rtol if options.rtol is not None else DEFAULT_RTOL
    cap = dt_cap(system, options)
    tau = 1.0 / system.slowest_rate
    n = min(options.n_traj, PILOT_TRAJECTORIES)
    tried = []
    dt = cap
    for _ in range(MAX_HALVINGS + 2):
        pilot = options.replace(dt=dt, rtol=None, n_traj=n, chunk_size=n, batch_time=None,
                                t_avg=BATCH_MIN_CORRELATION_TIMES * tau, control_variate=False,
                                keep_trajectories=0, error_check=False)
        if options.control_variate:
            change = _shift_change(system, pilot, seed_seq, n)
        else:
            chk = step_error_check(system, pilot, schedule(system, pilot), seed_seq, n)
            change = chk["second_moment_relative_difference"]
        tried.append([dt, change])
        ok = [np.isfinite(c) and c <= rtol for _, c in tried[-2:]]
        if len(ok) == 2 and all(ok):
            dt, change = tried[-2]
            return dt, {"dt": dt, "rtol": rtol, "cap": cap, "step_halving_change": change,
                        "measured_on": "shift" if options.control_variate else "covariance",
                        "estimated_error": 2.0 * change, "pilot_trajectories": n,
                        "tried": tried}
        dt /= 2.0
    raise ValueError(f"dt = 'auto': no step down to {tried[-1][0]:.3g} keeps the step-halving "
                     f"change of the second moments below rtol = {rtol:g} (last: "
                     f"{tried[-1][1]:.3g}); give dt explicitly or raise rtol")


def _shift_change(system: LangevinSystem, pilot: SDEOptions, seed_seq: np.random.SeedSequence,
                  n: int) -> float:
    """Largest step-halving change of the control-variate shift over its largest element."""
    from .control import control_order, difference_covariance

    order = control_order(system, pilot)
    pair = _one_pair(EnsembleProblem(system, pilot, PairedMoments(shadow=order)), seed_seq, n)
    s1c, s2c, s1f, s2f, c = (pair[k] for k in ("s1_coarse", "s2_coarse", "s1_fine", "s2_fine",
                                                "count"))
    d = system.dim

    def shift(s1, s2):
        m = s1 / c
        return difference_covariance(s2 / c - np.outer(m, m), d, order)

    sc, sf = shift(s1c, s2c), shift(s1f, s2f)
    scale = np.abs(sf).max()
    if scale == 0.0:
        return 0.0 if np.abs(sc).max() == 0.0 else float("inf")
    return float(np.abs(sc - sf).max() / scale)


def paired_sums(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                seed_seq: np.random.SeedSequence, n: int) -> dict[str, Any]:
    """Integrate ``n`` trajectories at ``dt`` and ``dt / 2`` on the same Brownian path, drawn
    from ``seed_seq``, over ``sched``: :func:`_one_pair` of the
    :class:`~simulator.sde.records.PairedMoments` problem."""
    return _one_pair(EnsembleProblem(system, options, PairedMoments(), sched), seed_seq, n)


def _one_pair(problem: EnsembleProblem, seed_seq: np.random.SeedSequence,
              n: int) -> dict[str, Any]:
    """:func:`~simulator.sde.records.pair_record` of one chunk of ``n`` trajectories of a paired
    ``problem`` (its schedule kept) on the driver, drawn from ``seed_seq``."""
    one = problem.options.replace(n_traj=n, chunk_size=n, keep_trajectories=0)
    chunk = run_ensemble(dataclasses.replace(problem, options=one, schedule=problem.schedule),
                         seed_seq)
    return pair_record(chunk[0])


def step_error_check(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                     seed_seq: np.random.SeedSequence, n: int) -> dict[str, float]:
    """:func:`step_error_report` of ``n`` trajectories at ``dt`` and ``dt / 2`` on the same
    Brownian path (:func:`paired_sums`)."""
    return step_error_report(paired_sums(system, options, sched, seed_seq, n))
