"""Ensembles of SDE trajectories: fixed chunks, streaming accumulation, joblib, checkpoints.

The ``n_traj`` trajectories are split into ``options.n_chunks`` fixed chunks. Chunk ``i`` draws
all its random numbers from ``np.random.default_rng(SeedSequence(seed).spawn(n_chunks)[i])`` and
returns only sums (per batch of the averaging window), so the reduced result is independent of
``n_jobs`` and of the order in which chunks finish: they are reduced in chunk order.

The same loop runs a time-resolved (transient) problem: a system with a time-dependent drift
``A(t)`` (every step is given its start time) and a :class:`Schedule` with ``record_initial``
and one sample per bin, so that a chunk returns its sums at every output time instead of per
batch (the ring-up, :mod:`simulator.sde.ringup`). Nothing in it depends on the dimension ``d``.

Inside a chunk the state is an array ``(n, d)`` advanced for all its trajectories at once. Noise
is drawn ``block_steps`` steps at a time; the sampled states of a block go into a fixed buffer and
are folded into the batch sums ``sum x`` and ``sum x x^T`` at the end of the block (one matrix
product), so memory does not grow with the run length. At the end of every block each trajectory
is checked: a non-finite value or ``|x_k| > bound`` marks it diverged; its block is dropped and it
takes no further part (it is counted and reported, never averaged in).

With ``out=DIR`` every finished chunk is written to ``DIR/chunks/chunk_NNNNN.npz`` (atomically,
mode 0644) next to ``DIR/manifest.json``; a later call with the same problem, options and seed
loads those and runs only the missing chunks, giving the same bits as an uninterrupted run.
Checkpoints cannot mix runs: the manifest and every chunk file carry the run id (SHA-256 of the
problem, options and root seed), each chunk its slot index and a SHA-256 of its arrays, all
verified on resume; a folder with chunk files but no valid manifest is refused; ``DIR/.lock``
(``fcntl.flock``, held for the whole run, holder's pid and host written in it) keeps a second
process out. Any of these faults raises :class:`~simulator.errors.CheckpointError` naming the file
or folder and what to do. Ctrl-C raises :class:`~simulator.errors.RunInterrupted` after the
finished chunks are on disk.

Joblib's dask backend works as any joblib backend: inside
``with joblib.parallel_config(backend="dask"):`` (after creating a ``distributed.Client``) the
chunks are scheduled on the cluster; the result does not change.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..errors import MIN_UNITS, CheckpointError, RunInterrupted, TimeBudgetSpent
from ..model import initial_covariance
from ..resources import available_memory
from ..resultio import atomic_write_bytes
from .integrators import make_integrator
from .options import SDEOptions, check_steps
from .system import LangevinSystem

__all__ = ["Schedule", "ChunkResult", "schedule", "run_chunk", "run_chunks", "chunk_seeds",
           "run_id", "effective_workers", "estimate_resources", "divergence_bound",
           "check_run_arguments", "seed_records",
           "BATCH_MIN_CORRELATION_TIMES", "BOUND_SIGMAS"]

log = logging.getLogger("simulator.sde")

CHECKPOINT_FORMAT = 2

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

#: Assumed memory of one chunk's seed sequence and Python bookkeeping, bytes.
_CHUNK_OVERHEAD_BYTES = 4096
#: Fraction of the available memory a run may plan to use.
_MEMORY_FRACTION = 0.5
#: Rough cost of the integrator (seconds per step per chunk, and per trajectory-variable step),
#: measured on one core of a 2020s laptop; used for the up-front time estimate only.
_SECONDS_PER_CHUNK_STEP = 1.5e-5
_SECONDS_PER_VARIABLE_STEP = 1.5e-8


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


@dataclass(frozen=True)
class ChunkResult:
    """Sums of one chunk. Shapes: ``s1 (n_bins, d)``, ``s2 (n_bins, d, d)``,
    ``counts (n_bins,)`` (number of samples, i.e. trajectories x sampled times); a bin is a batch
    of the averaging window, or an output time of a time-resolved run (:attr:`Schedule.n_bins`)."""

    index: int
    n_traj: int
    s1: np.ndarray
    s2: np.ndarray
    counts: np.ndarray
    diverged: int
    final_state: np.ndarray
    seconds: float
    kept: np.ndarray | None = None

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(index=self.index, n_traj=self.n_traj, s1=self.s1, s2=self.s2,
                      counts=self.counts, diverged=self.diverged, final_state=self.final_state,
                      seconds=self.seconds)
        if self.kept is not None:
            arrays["kept"] = self.kept
        return {k: np.asarray(v) for k, v in arrays.items()}

    def save(self, path: Path, run: str = "") -> None:
        """Write atomically to ``path`` (``.npz``, mode 0644) with the run id ``run`` and a
        SHA-256 of the arrays."""
        arrays = self._arrays()
        arrays["run_id"] = np.asarray(run)
        arrays["digest"] = np.asarray(_chunk_digest(arrays))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path, run: str | None = None, index: int | None = None) -> "ChunkResult":
        """Read and verify a chunk file written by :meth:`save`.

        Raises
        ------
        CheckpointError
            The file is unreadable (empty, truncated, not npz), lacks a field, fails its
            checksum, or belongs to another run (``run``) or another slot (``index``); the
            message names the file.
        """
        path = Path(path)
        fix = "delete it to recompute that chunk"
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except Exception as exc:  # noqa: BLE001 - any decoding failure is a bad file
            raise CheckpointError(f"{path}: unreadable chunk file ({type(exc).__name__}: "
                                  f"{exc}); {fix}") from None
        need = {"index", "n_traj", "s1", "s2", "counts", "diverged", "final_state", "seconds",
                "run_id", "digest"}
        missing = sorted(need - set(data))
        if missing:
            raise CheckpointError(f"{path}: not a chunk file of this wgmsim version (missing "
                                  f"{missing}); {fix}")
        if str(data["digest"]) != _chunk_digest(data):
            raise CheckpointError(f"{path}: contents do not match the chunk's checksum (modified "
                                  f"or corrupted); {fix}")
        if run is not None and str(data["run_id"]) != run:
            raise CheckpointError(f"{path}: belongs to another run (run id "
                                  f"{str(data['run_id'])[:12]}..., this run "
                                  f"{run[:12]}...); {fix}")
        if index is not None and int(data["index"]) != index:
            raise CheckpointError(f"{path}: holds chunk {int(data['index'])}, not chunk {index} "
                                  f"(copied or renamed?); {fix}")
        return cls(
            index=int(data["index"]), n_traj=int(data["n_traj"]), s1=data["s1"], s2=data["s2"],
            counts=data["counts"], diverged=int(data["diverged"]),
            final_state=data["final_state"], seconds=float(data["seconds"]),
            kept=data.get("kept"),
        )


def _chunk_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over name, dtype, shape and bytes of every array except ``digest``."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        if k == "digest":
            continue
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def chunk_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """``SeedSequence(seed).spawn(n)``: one independent stream per chunk (index ``n`` and above
    are reserved for auxiliary runs such as the step-size error check)."""
    return np.random.SeedSequence(seed).spawn(n)


def initial_state(system: LangevinSystem, options: SDEOptions, rng: np.random.Generator,
                  n: int) -> np.ndarray:
    """Wigner samples of the initial fluctuations, shape ``(n, d)``."""
    mean, cov = initial_moments(system, options)
    from .integrators import psd_sqrt

    z = rng.standard_normal((n, system.dim))
    return mean + z @ psd_sqrt(cov).T


def _check_state(x: np.ndarray, bound: float, alive: np.ndarray) -> None:
    """Flag trajectories whose state ``x (n, d)`` is non-finite or beyond ``bound``; zero them."""
    ok = np.abs(x).max(axis=1) <= bound  # NaN fails the comparison
    if not ok[alive].all():
        alive &= ok
        x[~alive] = 0.0


def _fold_block(buf: np.ndarray, x: np.ndarray, bound: float, alive: np.ndarray,
                ones: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sums ``sum x``, ``sum x x^T`` and the count of the sampled states ``buf (m, n, d)`` of one
    block, leaving out trajectories that diverged in it (flagged in ``alive``, state zeroed).

    Fast path: if every element of the block sum of squares is finite and no diagonal element
    exceeds ``bound^2``, no sample can be non-finite or beyond ``bound``; only otherwise is every
    trajectory inspected.
    """
    m, n, d = buf.shape
    X = buf.reshape(m * n, d)
    s2 = X.T @ X
    was_alive = alive.copy()
    if np.isfinite(s2).all() and np.diagonal(s2).max() <= bound * bound and was_alive.all():
        _check_state(x, bound, alive)
        if alive.all():
            return ones[: m * n] @ X, s2, m * n
    worst = np.abs(buf).max(axis=(0, 2))
    ok = worst <= bound
    _check_state(x, bound, alive)
    alive &= ok
    x[~alive] = 0.0
    use = alive & was_alive
    X = buf[:, use].reshape(-1, d)
    return X.sum(axis=0), X.T @ X, X.shape[0]


def _fold_groups(buf: np.ndarray, x: np.ndarray, bound: float, alive: np.ndarray,
                 ones: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_fold_block` for a block spanning several bins: ``buf (q, m, n, d)`` holds the
    ``m`` samples of each of ``q`` bins; returns ``s1 (q, d)``, ``s2 (q, d, d)``, ``counts (q,)``.
    Divergence is judged over the whole block (its trajectories' samples are all dropped). The
    sums of each bin are formed as in :func:`_fold_block` (same bits for the same samples)."""
    q, m, n, d = buf.shape
    was_alive = alive.copy()
    X = buf.reshape(q, m * n, d)
    s2 = np.matmul(np.swapaxes(X, 1, 2), X)
    if (np.isfinite(s2).all() and np.diagonal(s2, axis1=1, axis2=2).max() <= bound * bound
            and was_alive.all()):
        _check_state(x, bound, alive)
        if alive.all():
            s1 = np.stack([ones[: m * n] @ X[g] for g in range(q)])
            return s1, s2, np.full(q, m * n, dtype=np.int64)
    ok = np.abs(buf).max(axis=(0, 1, 3)) <= bound
    _check_state(x, bound, alive)
    alive &= ok
    x[~alive] = 0.0
    use = alive & was_alive
    X = buf[:, :, use].reshape(q, -1, d)
    return (X.sum(axis=1), np.matmul(np.swapaxes(X, 1, 2), X),
            np.full(q, X.shape[1], dtype=np.int64))


def run_chunk(system: LangevinSystem, options: SDEOptions, sched: Schedule,
              seed_seq: np.random.SeedSequence, index: int, n: int) -> ChunkResult:
    """Integrate one chunk of ``n`` trajectories and return its sums per bin.

    The system may be stationary or time-dependent (``system.drift_at``; every step gets its
    start time ``step_no * dt``) and of any dimension. A schedule with ``record_initial`` also
    sums the initial state (bin 0); batches shorter than a noise block share one block.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed_seq)
    integ = make_integrator(options.method, system, options.dt)
    d, dt = system.dim, options.dt
    nb, every, block = sched.n_batches, sched.sample_every, options.block_for(n)
    nbin, off = sched.n_bins, int(sched.record_initial)
    s1 = np.zeros((nbin, d))
    s2 = np.zeros((nbin, d, d))
    counts = np.zeros(nbin, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    n_keep = min(options.keep_trajectories, n) if index == 0 else 0
    kept: list[np.ndarray] = []
    with np.errstate(over="ignore", invalid="ignore"):
        x = initial_state(system, options, rng, n)
        if n_keep:
            kept.append(x[:n_keep].copy())
        step_no = 0
        # Burn-in, in blocks (keeping thinned trajectories if asked).
        done = 0
        while done < sched.n_burn:
            k = min(block, sched.n_burn - done)
            noise = integ.draw(rng, k, n, reuse=True, t0=step_no * dt)
            for j in range(k):
                x = integ.step(x, tuple(a[j] for a in noise), step_no * dt)
                step_no += 1
                if n_keep and step_no % options.keep_every == 0:
                    kept.append(x[:n_keep].copy())
            _check_state(x, sched.bound, alive)
            done += k
        # Averaging window: batches of blocks; sampled states buffered then folded in.
        block = max(every, (block // every) * every)
        spb = sched.steps_per_batch
        per_block = block // spb  # whole batches that fit in one block (0: batches span blocks)
        buf = np.empty((max(block, spb * max(per_block, 1)) // every, n, d))
        ones = np.ones(buf.shape[0] * n)
        if off:
            b1, b2, c = _fold_block(x[None], x, sched.bound, alive, ones)
            s1[0] += b1
            s2[0] += b2
            counts[0] += c
        b = 0
        while b < nb:
            q = min(per_block, nb - b) if per_block > 1 else 1
            done = 0
            total = q * spb
            while done < total:
                k = min(block, total - done) if q == 1 else total
                noise = integ.draw(rng, k, n, reuse=True, t0=step_no * dt)
                m = 0
                for j in range(k):
                    x = integ.step(x, tuple(a[j] for a in noise), step_no * dt)
                    step_no += 1
                    if (j + 1) % every == 0:
                        buf[m] = x
                        m += 1
                    if n_keep and step_no % options.keep_every == 0:
                        kept.append(x[:n_keep].copy())
                done += k
                if q == 1:
                    b1, b2, c = _fold_block(buf[:m], x, sched.bound, alive, ones)
                    s1[off + b] += b1
                    s2[off + b] += b2
                    counts[off + b] += c
                else:
                    g1, g2, gc = _fold_groups(buf[:m].reshape(q, m // q, n, d), x, sched.bound,
                                              alive, ones)
                    s1[off + b:off + b + q] += g1
                    s2[off + b:off + b + q] += g2
                    counts[off + b:off + b + q] += gc
            b += q
    return ChunkResult(
        index=index, n_traj=n, s1=s1, s2=s2, counts=counts, diverged=int((~alive).sum()),
        final_state=x, seconds=time.perf_counter() - start,
        kept=np.stack(kept) if n_keep else None,
    )


def step_error_check(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                     seed_seq: np.random.SeedSequence, n: int) -> dict[str, float]:
    """Integrate ``n`` trajectories at ``dt`` and ``dt / 2`` on the same Brownian path.

    Returns the rms over trajectories of the final-state difference, and the largest difference
    of the time-averaged second moments ``<x x^T>`` over the averaging window, together with the
    largest element of the fine estimate (for a relative figure).
    """
    rng = np.random.default_rng(seed_seq)
    coarse = make_integrator(options.method, system, options.dt)
    fine = make_integrator(options.method, system, options.dt / 2.0)
    d, block = system.dim, options.block_for(n)
    with np.errstate(over="ignore", invalid="ignore"):
        x = initial_state(system, options, rng, n)
        xc, xf = x.copy(), x.copy()
        total = sched.n_burn + sched.n_batches * sched.steps_per_batch
        m_c, m_f = np.zeros((d, d)), np.zeros((d, d))
        count = 0
        done = 0
        while done < total:
            k = min(block, total - done)
            nf = fine.draw(rng, 2 * k, n, t0=done * options.dt)
            nc = fine.coarsen_path(nf)
            for j in range(k):
                t = (done + j) * options.dt
                xc = coarse.step(xc, tuple(a[j] for a in nc), t)
                xf = fine.step(xf, tuple(a[2 * j] for a in nf), t)
                xf = fine.step(xf, tuple(a[2 * j + 1] for a in nf), t + 0.5 * options.dt)
                if done + j >= sched.n_burn and (done + j + 1 - sched.n_burn) % sched.sample_every == 0:
                    m_c += xc.T @ xc
                    m_f += xf.T @ xf
                    count += n
            done += k
    diff = np.abs(m_c - m_f) / max(count, 1)
    scale = np.abs(m_f).max() / max(count, 1)
    return {
        "n_traj": int(n),
        "final_state_rms_difference": float(np.sqrt(np.mean(np.sum((xc - xf) ** 2, axis=1)))),
        "second_moment_max_abs_difference": float(diff.max()),
        "second_moment_max_element": float(scale),
        "second_moment_relative_difference": float(diff.max() / scale) if scale > 0 else float("nan"),
    }


def check_run_arguments(seed: Any, n_jobs: Any) -> None:
    """``ValueError`` naming ``seed`` (an integer >= 0) or ``n_jobs`` (a non-zero integer) when
    they are not; shared by every ensemble driver."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r}: must be an integer >= 0")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs = {n_jobs!r}: must be a non-zero integer (-1: all cores)")


def seed_records(seed: int, n_chunks: int) -> list[dict[str, Any]]:
    """The per-chunk seeds of a run as JSON (entropy and spawn key of each chunk's stream)."""
    return [{"entropy": s.entropy, "spawn_key": list(s.spawn_key)}
            for s in chunk_seeds(int(seed), n_chunks)]


# ---- resources ---------------------------------------------------------------------------------
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


# ---- checkpoints ------------------------------------------------------------------------------
def run_id(identity: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a run's identity (problem, options, root seed)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(identity: dict[str, Any]) -> dict[str, Any]:
    return {"format": CHECKPOINT_FORMAT, "run_id": run_id(identity), **identity}


@contextlib.contextmanager
def checkpoint_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` (``fcntl.flock``, exclusive) for the block; the holder's pid, host and
    start time are written in it. The kernel releases the lock when the holder dies (even by
    ``kill -9``), so a stale lock file never blocks.

    Raises
    ------
    CheckpointError
        Another process holds the lock (the message names the folder and the holder), or the
        folder cannot be created.
    """
    import fcntl

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CheckpointError(f"{out}: cannot be used as a checkpoint folder "
                              f"({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
            raise CheckpointError(
                f"{out}: in use by another run ({holder}); wait for it to finish, or use another "
                "folder") from None
        except OSError as exc:  # e.g. a file system without flock
            raise CheckpointError(f"{out / '.lock'}: cannot be locked ({exc.strerror or exc}); "
                                  "use a folder on a local file system") from None
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def _prepare_out(out: Path, identity: dict[str, Any]) -> Path:
    """Check or create ``out/manifest.json`` (under the lock); returns the chunk folder."""
    out = Path(out)
    chunk_dir = out / "chunks"
    path = out / "manifest.json"
    want = json.loads(json.dumps(_manifest(identity)))
    fresh = "delete the folder (or use another) to start afresh"
    if path.exists():
        try:
            have = json.loads(path.read_text())
            if not isinstance(have, dict):
                raise ValueError("not a JSON object")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a valid checkpoint manifest ({exc}); "
                                  f"{fresh}") from None
        if have != want:
            diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            raise CheckpointError(
                f"{out}: holds checkpoints of a different run (differs in {diff}); use another "
                "folder or delete it")
        chunk_dir.mkdir(exist_ok=True)
        return chunk_dir
    stray = sorted(chunk_dir.glob("chunk_*.npz")) if chunk_dir.is_dir() else []
    if stray:
        raise CheckpointError(
            f"{out}: holds {len(stray)} chunk file(s) in {chunk_dir} but no manifest.json, so "
            f"they cannot be checked against this run; {fresh}")
    chunk_dir.mkdir(exist_ok=True)
    atomic_write_bytes(path, json.dumps(want, indent=2, sort_keys=True).encode() + b"\n")
    return chunk_dir


def chunk_path(chunk_dir: Path, index: int) -> Path:
    return Path(chunk_dir) / f"chunk_{index:05d}.npz"


def _run_and_save(system, options, sched, seed_seq, index, n, chunk_dir, run=""):
    res = run_chunk(system, options, sched, seed_seq, index, n)
    if chunk_dir is not None:
        res.save(chunk_path(chunk_dir, index), run)
    return res


def run_chunks(system: LangevinSystem, options: SDEOptions, seed: int, *,
               chunk_ids: Sequence[int] | None = None, n_jobs: int = 1,
               out: str | Path | None = None, identity: dict[str, Any] | None = None,
               progress: Callable[[int, int], None] | None = None,
               sched: Schedule | None = None,
               max_time: float | None = None) -> list[ChunkResult]:
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
                           deadline)
    identity = identity or {"seed": seed, "options": options.to_dict()}
    with checkpoint_lock(Path(out)):
        chunk_dir = _prepare_out(Path(out), identity)
        return _run_chunks(system, options, sched, seed, ids, n_jobs, chunk_dir,
                           run_id(identity), progress, deadline)


def _run_chunks(system, options, sched, seed, ids, n_jobs, chunk_dir, run, progress,
                deadline=None):
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
                                           chunk_dir, run) for i in todo)
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
