"""The schedule of an ensemble: chunks, burn-in, batches, bins, seeds and the divergence bound.

A run of ``n_traj`` trajectories is split into ``options.n_chunks`` fixed chunks; chunk ``i``
draws all its random numbers from ``SeedSequence(seed).spawn(n_chunks)[i]`` (:func:`chunk_seeds`;
indices ``n_chunks`` and above are reserved for auxiliary runs: the step-size check, the ``dt``
pilot). :func:`schedule` resolves the burn-in, the averaging window and its batches (the
statistical units) from the options and the system's slowest rate; a time-resolved run (the
ring-up) makes its own :class:`Schedule` with ``record_initial`` and one sample per bin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MIN_UNITS
from ..model import initial_covariance
from .options import SDEOptions, check_steps
from .system import LangevinSystem

__all__ = ["Schedule", "schedule", "initial_moments", "divergence_bound", "chunk_seeds",
           "seed_records", "BATCH_MIN_CORRELATION_TIMES", "BOUND_SIGMAS", "DEFAULT_T_AVG"]

#: Shortest batch, in correlation times ``1 / slowest_rate``, behind an error bar reported as ok.
#: For a quantity with autocorrelation ``exp(-|t| / tau)`` the batch-means estimate of the
#: variance of the grand mean is low by the factor ``1 - (tau / T)(1 - exp(-T / tau))`` for
#: batches of length ``T`` (neighbouring batches are correlated; the estimator assumes they are
#: not). At ``T = 10 tau`` the error bar is therefore at most 5 % too small, less than the
#: sampling scatter of an error bar from 8..32 units (13..27 %); at ``T = 3 tau`` it is 18 % too
#: small and at ``T = tau`` 40 %. Quadratic quantities (covariances) decorrelate faster (``tau/2``
#: for Gaussian fluctuations), so the bound holds for them too. Tested in
#: ``tests/test_faults_engine.py::test_batch_factor_justified``.
BATCH_MIN_CORRELATION_TIMES = 10.0

#: Default averaging window (``1/omega_m``) when the correlation time does not ask for more.
DEFAULT_T_AVG = 600.0

#: Default divergence bound in standard deviations of the reference state (stationary Lyapunov
#: or initial covariance; initial plus one unit of time of diffusion when unstable). A
#: Gaussian fluctuation never gets there (probability ``exp(-5e5)``); a trajectory that does has
#: left the region the linearised fixed point describes.
BOUND_SIGMAS = 1e3


@dataclass(frozen=True)
class Schedule:
    """Resolved step counts of a run (times in ``1/omega_m``).

    Attributes
    ----------
    n_burn : int
        Burn-in steps.
    n_batches : int
        Batches per chunk in the averaging window.
    steps_per_batch : int
        Steps per batch (a multiple of ``sample_every``).
    samples_per_batch : int
    record_initial : bool
        Also record the initial state as a bin of its own, before the batches (time-resolved
        runs such as the ring-up: bin ``b`` is then the state at ``b * steps_per_batch * dt``).
    """

    dt: float
    n_burn: int
    n_batches: int
    steps_per_batch: int
    samples_per_batch: int
    sample_every: int
    n_chunks: int = 1
    bound: float = 1e6
    correlation_time: float | None = None
    record_initial: bool = False

    @property
    def n_bins(self) -> int:
        """Rows of a chunk's sums: the batches, plus the initial state if recorded."""
        return self.n_batches + int(self.record_initial)

    @property
    def t_burn(self) -> float:
        return self.n_burn * self.dt

    @property
    def t_avg(self) -> float:
        return self.n_batches * self.steps_per_batch * self.dt

    @property
    def batch_time(self) -> float:
        return self.steps_per_batch * self.dt

    def to_dict(self) -> dict[str, Any]:
        return {
            "dt": self.dt, "n_burn": self.n_burn, "n_batches": self.n_batches,
            "steps_per_batch": self.steps_per_batch, "samples_per_batch": self.samples_per_batch,
            "sample_every": self.sample_every, "t_burn": self.t_burn, "t_avg": self.t_avg,
            "batch_time": self.batch_time, "n_chunks": self.n_chunks,
            "n_units": self.n_units, "bound": self.bound,
            "correlation_time": self.correlation_time,
            "batch_correlation_times": self.batch_correlation_times,
            "record_initial": self.record_initial,
        }

    @property
    def n_units(self) -> int:
        """Planned statistical units, ``n_chunks * n_batches``."""
        return self.n_chunks * self.n_batches

    @property
    def batch_correlation_times(self) -> float | None:
        """Batch length in correlation times (``None`` for an unstable system)."""
        if self.correlation_time is None:
            return None
        return self.batch_time / self.correlation_time

    def adequacy(self) -> list[str]:
        """Why the planned error bars are not trustworthy (empty list: they are)."""
        why = []
        if self.n_units < MIN_UNITS:
            why.append(f"only {self.n_units} statistical units ({self.n_chunks} chunk(s) x "
                       f"{self.n_batches} batch(es)); at least {MIN_UNITS} are needed: raise "
                       "n_traj or t_avg")
        ct = self.batch_correlation_times
        if ct is not None and ct < BATCH_MIN_CORRELATION_TIMES * (1 - 1e-9):
            why.append(f"batch_time {self.batch_time:g} is {ct:.3g} correlation times "
                       f"(1/slowest rate = {self.correlation_time:.4g}); at least "
                       f"{BATCH_MIN_CORRELATION_TIMES:g} are needed for batch means: raise "
                       "batch_time or leave it to the default")
        return why


def initial_moments(system: LangevinSystem, options: SDEOptions
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` of the initial fluctuations (see ``initial``)."""
    d = system.dim
    if options.initial == "gaussian":
        cov = np.asarray(options.initial_covariance, dtype=float)
        mean = np.zeros(d) if options.initial_mean is None else np.asarray(options.initial_mean)
        if cov.shape != (d, d) or mean.shape != (d,):
            raise ValueError(f"initial_covariance/initial_mean: need shapes ({d}, {d}) and ({d},)")
        return mean, cov
    if options.initial == "lyapunov":
        from ..linear import solve_lyapunov

        if not system.stable:
            raise ValueError("initial = 'lyapunov': the system has no stationary state")
        return np.zeros(d), solve_lyapunov(system.A, system.D)
    # thermal: optical vacuum fluctuations, thermal mechanics
    if system.rates is None or d != 6:
        raise ValueError("initial = 'thermal': needs the optomechanical system; use "
                         "'gaussian' or 'lyapunov' for other systems")
    return np.zeros(d), initial_covariance(float(system.rates.n_m))


def divergence_bound(system: LangevinSystem, options: SDEOptions) -> float:
    """``options.bound`` if given, else :data:`BOUND_SIGMAS` times the largest standard
    deviation of the reference state: the stationary (Lyapunov) or, where larger, the initial
    covariance of a stable system; the initial covariance plus one unit of time of diffusion
    ``D`` of an unstable one.
    """
    if options.bound is not None:
        return float(options.bound)
    _, cov0 = initial_moments(system, options)
    if system.stable:
        from ..linear import solve_lyapunov

        var = np.maximum(np.diag(cov0), np.diag(solve_lyapunov(system.A, system.D)))
    else:
        var = np.diag(cov0) + np.diag(system.D)
    sigma = float(np.sqrt(np.max(var)))
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"bound: cannot be derived from the system (reference standard deviation "
                         f"{sigma!r}); give bound explicitly")
    return BOUND_SIGMAS * sigma


def schedule(system: LangevinSystem, options: SDEOptions) -> Schedule:
    """Step counts and the divergence bound of a run.

    Burn-in ``8 / slowest_rate`` by default. The default averaging window is
    :data:`DEFAULT_T_AVG`, lengthened to ``ceil(MIN_UNITS / n_chunks)`` batches of
    :data:`BATCH_MIN_CORRELATION_TIMES` correlation times if that is longer. The default batch
    length is ``20 / slowest_rate``, shortened (never below ``BATCH_MIN_CORRELATION_TIMES``
    correlation times) when that gives fewer than :data:`~simulator.errors.MIN_UNITS` units
    (chunks x batches) in ``t_avg``. Default runs of a stable system therefore always have at
    least ``MIN_UNITS`` units of adequate length.
    """
    rate = system.slowest_rate if system.stable else None
    dt, every = options.dt, options.sample_every
    for name in ("t_burn", "t_avg", "batch_time"):
        check_steps(name, getattr(options, name), dt)
    if options.t_burn is not None:
        t_burn = options.t_burn
    elif rate is not None:
        t_burn = 8.0 / rate
    else:
        raise ValueError("t_burn: must be given for an unstable system (no relaxation rate)")
    per_chunk = -(-MIN_UNITS // options.n_chunks)
    # shortest adequate batch, rounded up to whole samples
    min_batch = None
    if rate is not None:
        min_batch = np.ceil(BATCH_MIN_CORRELATION_TIMES / rate / (dt * every) - 1e-9) * dt * every
    if options.t_avg is not None:
        t_avg = options.t_avg
    elif rate is not None:
        t_avg = max(DEFAULT_T_AVG, per_chunk * min_batch)
    else:
        raise ValueError("t_avg: must be given for an unstable system (no relaxation rate)")
    if options.batch_time is not None:
        batch_time = options.batch_time
    elif rate is not None:
        batch_time = min(20.0 / rate, t_avg / per_chunk)
        batch_time = max(batch_time, min_batch)
    else:
        batch_time = t_avg
    batch_time = min(batch_time, t_avg)
    n_batches = max(1, int(np.floor(t_avg / batch_time + 1e-9)))
    samples = int(np.floor(t_avg / n_batches / (dt * every) + 1e-9))
    if samples < 1:
        raise ValueError(f"t_avg = {t_avg!r}: fewer than one sample per batch")
    return Schedule(dt=dt, n_burn=int(round(t_burn / dt)), n_batches=n_batches,
                    steps_per_batch=samples * every, samples_per_batch=samples, sample_every=every,
                    n_chunks=options.n_chunks, bound=divergence_bound(system, options),
                    correlation_time=None if rate is None else 1.0 / rate)


def chunk_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """``SeedSequence(seed).spawn(n)``: one independent stream per chunk (index ``n`` and above
    are reserved for auxiliary runs such as the step-size error check)."""
    return np.random.SeedSequence(seed).spawn(n)


def seed_records(seed: int, n_chunks: int) -> list[dict[str, Any]]:
    """The per-chunk seeds of a run as JSON (entropy and spawn key of each chunk's stream)."""
    return [{"entropy": s.entropy, "spawn_key": list(s.spawn_key)}
            for s in chunk_seeds(int(seed), n_chunks)]
