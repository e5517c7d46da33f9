"""What a chunk keeps: the records of the ensemble pipeline.

A record is the caller's choice of what the one chunk loop (:func:`simulator.sde.chunk.run_chunk`)
accumulates, as diffrax's ``SaveAt(fn=...)`` or QuTiP's ``e_ops``: a new statistic is a new record
handed to the one driver (:func:`simulator.sde.parallel.run_ensemble`), never a new loop.

* :class:`Moments`: ``sum x``, ``sum x x^T`` and the sample count per bin: the batches of a
  stationary run's averaging window, or the output times of a time-resolved run (the ring-up,
  whose :class:`~simulator.sde.scheduling.Schedule` has ``record_initial`` and one sample per bin).
* :class:`Paths`: the moments and, besides, chosen components of every trajectory at every bin
  (a study of single trajectories: which settle, which escape; ``validation/ringup_thermal.py``).
* :class:`PairedMoments`: the same sums, over the averaging window, at ``dt`` and ``dt / 2`` on one
  Brownian path (the step-size check and the ``dt="auto"`` pilot).
* ``shadow`` (every record): the control-variate order (:mod:`simulator.sde.control`); with ``1`` or ``2``
  the loop integrates the augmented system ``z = (x, w[, u])`` and the sums are of ``z``.

A record's :meth:`~Record.open` gives the chunk's accumulator, which the loop drives through
``start(x0) -> x``, ``segments()``, ``kernel``, ``buffer``, ``fold(x, m, segment) -> x`` (the
per-block state check and the sums, in that order) and ``result(index, n, x, seconds)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from .checkpoints import ChunkResult
from .chunk import PairedKernel, Segment, _check_state, _fold_block, _fold_groups, make_kernel
from .escapes import EscapeRecord, EscapeTest
from .integrators import make_integrator

__all__ = ["Record", "Moments", "Paths", "PairedMoments", "pair_record", "step_error_report"]


@dataclass(frozen=True)
class Record:
    """Base of the records: ``shadow`` is the control-variate order (0: none, 1 or 2)."""

    shadow: int = 0

    def __post_init__(self) -> None:
        if self.shadow not in (0, 1, 2):
            raise ValueError(f"shadow = {self.shadow!r}: must be 0 (none), 1 or 2")

    def open(self, problem, rng: np.random.Generator, n: int, index: int):
        """The accumulator of one chunk of ``n`` trajectories of ``problem``."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class Moments(Record):
    """Per bin: ``s1 (n_bins, d)`` = ``sum x``, ``s2 (n_bins, d, d)`` = ``sum x x^T`` and
    ``counts (n_bins,)``, over the trajectories that did not diverge; chunk 0 also keeps the
    first ``keep_trajectories`` trajectories every ``keep_every`` steps (``SDEOptions``).

    ``escapes``: the per-block test for escapes from the fixed point's basin
    (:mod:`simulator.sde.escapes`), run beside the divergence check; an escaped trajectory is
    counted with its time and dropped from its block on (``ChunkResult.escape_times``,
    ``escape_initial``, ``exposure``). ``None``: not tested."""

    escapes: EscapeTest | None = None

    def open(self, problem, rng: np.random.Generator, n: int, index: int) -> "_MomentSums":
        return _MomentSums(problem, rng, n, index)


@dataclass(frozen=True, eq=False)
class Paths(Moments):
    """:class:`Moments`, and ``paths (n_bins, n, k)`` in each chunk's result: the components
    ``columns`` (all when empty) of every trajectory at every bin, ``NaN`` from the block in
    which a trajectory diverged on. Needs one sample per bin (``samples_per_batch = 1``: the
    state at the bin's time)."""

    columns: tuple[int, ...] = ()

    def open(self, problem, rng: np.random.Generator, n: int, index: int) -> "_PathSums":
        if problem.schedule.samples_per_batch != 1:
            raise ValueError(f"Paths: needs one sample per bin (the schedule has "
                             f"{problem.schedule.samples_per_batch})")
        return _PathSums(problem, rng, n, index, self.columns)


@dataclass(frozen=True)
class PairedMoments(Record):
    """``sum x`` and ``sum x x^T`` over the averaging window at ``dt`` (bin 0) and ``dt / 2``
    (bin 1) on the same Brownian path, ``counts`` the samples in each; ``final_state`` is
    ``(2, n, d)``. The pair is not checked for divergence: a diverged trajectory shows in the
    difference, which is what the step-size check measures."""

    def open(self, problem, rng: np.random.Generator, n: int, index: int) -> "_PairedSums":
        return _PairedSums(problem, rng, n)


class _MomentSums:
    """Accumulator of :class:`Moments` (the loop of the stationary run and of the ring-up)."""

    def __init__(self, problem, rng: np.random.Generator, n: int, index: int) -> None:
        system, options, sched = problem.run_system, problem.run_options, problem.schedule
        d = system.dim
        self.sched, self.n, self.block = sched, n, options.block_for(n)
        self.s1 = np.zeros((sched.n_bins, d))
        self.s2 = np.zeros((sched.n_bins, d, d))
        self.counts = np.zeros(sched.n_bins, dtype=np.int64)
        self.alive = np.ones(n, dtype=bool)
        self.n_keep = min(options.keep_trajectories, n) if index == 0 else 0
        self.kernel = make_kernel(problem, rng, n, self.n_keep, options.keep_every)
        self.escapes = EscapeRecord(getattr(problem.record, "escapes", None))
        every = sched.sample_every
        self.window_block = max(every, (self.block // every) * every)
        self.per_block = self.window_block // sched.steps_per_batch  # whole batches per block
        size = max(self.window_block, sched.steps_per_batch * max(self.per_block, 1)) // every
        self.buffer = np.empty((size, n, d))
        self.ones = np.ones(size * n)

    def start(self, x: np.ndarray) -> np.ndarray:
        if self.n_keep:
            self.kernel.kept.append(x[:self.n_keep].copy())
        if self.sched.record_initial:
            self._add(0, 1, _fold_block(x[None], x, self.sched.bound, self.alive, self.ones))
        return x

    def segments(self) -> Iterator[Segment]:
        """Burn-in in noise blocks; then the bins, several whole batches per block where they
        fit (folded by :func:`_fold_groups`), else each batch in blocks of whole samples."""
        sched, done = self.sched, 0
        while done < sched.n_burn:
            k = min(self.block, sched.n_burn - done)
            yield Segment(k)
            done += k
        nb, spb, off = sched.n_batches, sched.steps_per_batch, int(sched.record_initial)
        b = 0
        while b < nb:
            q = min(self.per_block, nb - b) if self.per_block > 1 else 1
            done, total = 0, q * spb
            while done < total:
                k = min(self.window_block, total - done) if q == 1 else total
                yield Segment(k, sched.sample_every, 0, off + b, q)
                done += k
            b += q

    def fold(self, x: np.ndarray, m: int, seg: Segment) -> np.ndarray:
        """The state check of the block (divergence; escapes, before the samples are folded, so
        that an escaped trajectory's block is dropped) and, in the window, its samples into the
        sums."""
        bound, alive, esc = self.sched.bound, self.alive, self.escapes
        t = self.kernel.step_no * self.sched.dt
        if seg.n_bins == 0:
            _check_state(x, bound, alive)
            esc.check(x, alive, bound, t)
            return x
        before = len(esc.times)
        esc.check(x, alive, bound, t)
        if seg.n_bins == 1:
            self._add(seg.first_bin, 1, _fold_block(self.buffer[:m], x, bound, alive, self.ones))
        else:
            n, d = x.shape
            groups = self.buffer[:m].reshape(seg.n_bins, m // seg.n_bins, n, d)
            self._add(seg.first_bin, seg.n_bins, _fold_groups(groups, x, bound, alive, self.ones))
        esc.expose(alive, len(esc.times) - before, seg.steps * self.sched.dt)
        return x

    def _add(self, first: int, q: int, sums: tuple) -> None:
        if q == 1:
            self.s1[first] += sums[0]
            self.s2[first] += sums[1]
            self.counts[first] += sums[2]
        else:
            self.s1[first:first + q] += sums[0]
            self.s2[first:first + q] += sums[1]
            self.counts[first:first + q] += sums[2]

    def result(self, index: int, n: int, x: np.ndarray, seconds: float) -> ChunkResult:
        times, initial, exposure = self.escapes.arrays()
        return ChunkResult(index=index, n_traj=n, s1=self.s1, s2=self.s2, counts=self.counts,
                           diverged=int((~self.alive).sum()) - len(times), final_state=x,
                           seconds=seconds,
                           kept=np.stack(self.kernel.kept) if self.n_keep else None,
                           escape_times=times if self.escapes.test is not None else None,
                           escape_initial=initial, exposure=exposure)


class _PathSums(_MomentSums):
    """Accumulator of :class:`Paths`: the moments, and the chosen components of each sample."""

    def __init__(self, problem, rng: np.random.Generator, n: int, index: int,
                 columns: tuple[int, ...]) -> None:
        super().__init__(problem, rng, n, index)
        self.columns = list(columns) or list(range(problem.run_system.dim))
        self.paths = np.full((self.sched.n_bins, n, len(self.columns)), np.nan)

    def start(self, x: np.ndarray) -> np.ndarray:
        x = super().start(x)
        if self.sched.record_initial:
            self.paths[0] = np.where(self.alive[:, None], x[:, self.columns], np.nan)
        return x

    def fold(self, x: np.ndarray, m: int, seg: Segment) -> np.ndarray:
        x = super().fold(x, m, seg)  # the state check first: self.alive is up to date
        if m:
            vals = self.buffer[:m][:, :, self.columns]
            vals[:, ~self.alive] = np.nan
            self.paths[seg.first_bin:seg.first_bin + m] = vals
        return x

    def result(self, index: int, n: int, x: np.ndarray, seconds: float) -> ChunkResult:
        return dataclasses.replace(super().result(index, n, x, seconds), paths=self.paths)


class _PairedSums:
    """Accumulator of :class:`PairedMoments`: noise blocks run straight through burn-in and
    window; samples every ``sample_every`` steps after the burn-in, summed one by one."""

    def __init__(self, problem, rng: np.random.Generator, n: int) -> None:
        system, options, sched = problem.run_system, problem.run_options, problem.schedule
        d = system.dim
        self.sched, self.block = sched, options.block_for(n)
        self.kernel = PairedKernel(make_integrator(options.method, system, options.dt),
                                   make_integrator(options.method, system, options.dt / 2.0),
                                   rng, n)
        self.s1 = np.zeros((2, d))
        self.s2 = np.zeros((2, d, d))
        self.count = 0
        self.buffer = np.empty((self.block // max(sched.sample_every, 1) + 1, 2, n, d))

    def start(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x, x.copy()

    def segments(self) -> Iterator[Segment]:
        sched, done = self.sched, 0
        total = sched.n_burn + sched.n_batches * sched.steps_per_batch
        while done < total:
            k = min(self.block, total - done)
            yield Segment(k, sched.sample_every, done - sched.n_burn, 0, 1)
            done += k

    def fold(self, x, m: int, seg: Segment):
        for i in range(m):
            for j in (0, 1):
                xs = self.buffer[i, j]
                self.s1[j] += xs.sum(axis=0)
                self.s2[j] += xs.T @ xs
            self.count += xs.shape[0]
        return x

    def result(self, index: int, n: int, x, seconds: float) -> ChunkResult:
        return ChunkResult(index=index, n_traj=n, s1=self.s1, s2=self.s2,
                           counts=np.full(2, self.count, dtype=np.int64), diverged=0,
                           final_state=np.stack(x), seconds=seconds)


def pair_record(res: ChunkResult) -> dict[str, Any]:
    """The sums of a :class:`~simulator.sde.records.PairedMoments` chunk by name: ``coarse``,
    ``fine`` (the final states ``(n, d)``), ``s1_coarse``, ``s2_coarse``, ``s1_fine``,
    ``s2_fine`` (``sum x`` ``(d,)`` and ``sum x x^T`` ``(d, d)`` over the sampled times of the
    averaging window) and ``count`` (samples in each sum)."""
    return {"coarse": res.final_state[0], "fine": res.final_state[1],
            "s1_coarse": res.s1[0], "s2_coarse": res.s2[0], "s1_fine": res.s1[1],
            "s2_fine": res.s2[1], "count": int(res.counts[0])}


def step_error_report(pair: dict[str, Any]) -> dict[str, float]:
    """The step-size check of a pair (:func:`pair_record`): the rms over trajectories of the
    final-state difference, and the largest difference of the time-averaged second moments
    ``<x x^T>`` over the averaging window, together with the largest element of the fine
    estimate (for a relative figure)."""
    xc, xf, count = pair["coarse"], pair["fine"], pair["count"]
    diff = np.abs(pair["s2_coarse"] - pair["s2_fine"]) / max(count, 1)
    scale = np.abs(pair["s2_fine"]).max() / max(count, 1)
    return {
        "n_traj": int(xc.shape[0]),
        "final_state_rms_difference": float(np.sqrt(np.mean(np.sum((xc - xf) ** 2, axis=1)))),
        "second_moment_max_abs_difference": float(diff.max()),
        "second_moment_max_element": float(scale),
        "second_moment_relative_difference": float(diff.max() / scale) if scale > 0 else float("nan"),
    }
