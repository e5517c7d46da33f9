"""The chunk loop: one chunk of trajectories integrated and reduced to what its record keeps.

Inside a chunk the state is an array ``(n, d)`` advanced for all its trajectories at once (a
pair of them for :class:`PairedKernel`). What the loop does is the same for every ensemble
(:func:`run_chunk`)::

    x = initial state (Wigner samples)                       # bin 0 too, if recorded
    for each segment of the record's plan:                   # burn-in, batches, output times
        x, m = kernel.advance(x, steps, every, buffer, phase) # m sampled states in buffer
        x = record.fold(x, m, segment)                        # state check, then the sums

What it keeps is the caller's choice, as diffrax's ``SaveAt(fn=...)`` or QuTiP's ``e_ops``: the
record (:mod:`simulator.sde.records`) plans the segments, owns the buffer and the sums, and
folds each block's samples into them. :class:`~simulator.sde.records.Moments` keeps ``sum x``
and ``sum x x^T`` per bin (batches of a stationary run, output times of a ring-up),
:class:`~simulator.sde.records.PairedMoments` the same sums at ``dt`` and ``dt / 2`` on one
Brownian path (the step-size check and the ``dt="auto"`` pilot). The control-variate shadow is
a record option too (``shadow=1|2``): the loop then integrates the augmented system of
:mod:`simulator.sde.control`.

The state check. At the end of every block each trajectory is checked in one place, the
record's fold (for :class:`~simulator.sde.records.Moments`: :func:`_check_state` on the state
after a burn-in block, :func:`_fold_block` / :func:`_fold_groups` on a window block's samples):
a non-finite value or ``|x_k| > bound`` marks it diverged; its block is dropped and it takes no
further part (it is counted and reported, never averaged in). Other per-trajectory tests
(escape from the fixed point's basin) belong beside it.

The kernel seam. The loop touches the state only through ``kernel.advance`` and the record's
``fold``: :class:`Kernel` is what another array library implements to run the same loop, the
physics staying in the integrator's ``draw`` and ``step``. Nothing here depends on ``d``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .checkpoints import ChunkResult
from .integrators import make_integrator, psd_sqrt
from .options import SDEOptions
from .scheduling import initial_moments
from .system import LangevinSystem

__all__ = ["run_chunk", "Kernel", "PairedKernel", "Segment", "initial_state", "make_kernel"]


def initial_state(system: LangevinSystem, options: SDEOptions, rng: np.random.Generator,
                  n: int) -> np.ndarray:
    """Wigner samples of the initial fluctuations, shape ``(n, d)``."""
    mean, cov = initial_moments(system, options)
    z = rng.standard_normal((n, system.dim))
    return mean + z @ psd_sqrt(cov).T


@dataclass(frozen=True)
class Segment:
    """One block of a record's plan: ``steps`` steps; the state after step ``j`` (0-based) is
    sampled when ``j + 1 + phase`` is a positive multiple of ``every`` (``every = 0``: none);
    the samples go to bins ``first_bin .. first_bin + n_bins - 1`` (``n_bins = 0``: burn-in,
    the state is only checked)."""

    steps: int
    every: int = 0
    phase: int = 0
    first_bin: int = 0
    n_bins: int = 0


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


def _multiples(k: int, every: int, offset: int) -> range:
    """The ``s`` in ``1 .. k`` with ``s + offset`` a positive multiple of ``every``."""
    lo = max(1, 1 - offset)
    return range(lo + (-(lo + offset)) % every, k + 1, every)


class Kernel:
    """The stepping kernel of a chunk: noise drawn a block at a time, every trajectory advanced by
    the integrator, sampled states written to a buffer, thinned trajectories kept.

    The interface another array library implements (with the record's fold of the buffer):

    ``advance(x, k, every=0, buf=None, phase=0) -> (x, m)``
        ``k`` steps from ``x (n, d)``; the state after step ``j`` is written to ``buf[0], buf[1],
        ...`` when ``j + 1 + phase`` is a positive multiple of ``every``; returns the new state
        and the number ``m`` of samples written. Steps are numbered from the chunk's start
        (``step_no``) and the integrator gets each step's start time ``step_no * dt``.

    The physics stays in the integrator's ``draw`` (noise of a block, ``reuse=True``: into
    buffers kept between blocks) and ``step``.
    """

    def __init__(self, integ, rng: np.random.Generator, n: int, keep: int = 0,
                 keep_every: int = 1) -> None:
        self.integ, self.rng, self.n = integ, rng, n
        self.keep, self.keep_every = keep, keep_every
        self.step_no = 0
        self.kept: list[np.ndarray] = []

    def advance(self, x: np.ndarray, k: int, every: int = 0, buf: np.ndarray | None = None,
                phase: int = 0) -> tuple[np.ndarray, int]:
        """``k`` steps from ``x (n, d)``, sampling into ``buf`` (see the class docstring)."""
        integ, step0 = self.integ, self.step_no
        noise = integ.draw(self.rng, k, self.n, reuse=True, t0=step0 * integ.dt)
        loop = integ.stepper(self.n)
        loop.load(x)
        if every == 1 and not self.keep:  # every step sampled (the default): one loop
            skip = min(k, max(0, -phase))
            loop.run(noise, 0, skip, step0)
            loop.run(noise, skip, k, step0, samples=buf[:k - skip])
            self.step_no = step0 + k
            return loop.state.copy(), k - skip
        samples = set(_multiples(k, every, phase)) if every else set()
        kept = set(_multiples(k, self.keep_every, step0)) if self.keep else set()
        m, j = 0, 0
        for stop in sorted(samples | kept | {k}):  # the integrator's loop between events
            loop.run(noise, j, stop, step0)
            j = stop
            if stop in samples:
                buf[m] = loop.state
                m += 1
            if stop in kept:
                self.kept.append(loop.state[:self.keep].copy())
        self.step_no = step0 + k
        return loop.state.copy(), m


class PairedKernel:
    """:class:`Kernel` for a pair of states ``(x_coarse, x_fine)``, each ``(n, d)``, integrated
    at ``dt`` and ``dt / 2`` on the same Brownian path (the fine path's increments summed
    pairwise give the coarse one, :meth:`Integrator.coarsen_path`). Samples are written to
    ``buf[m] = (x_coarse, x_fine)``, shape ``(2, n, d)``."""

    def __init__(self, coarse, fine, rng: np.random.Generator, n: int) -> None:
        self.coarse, self.fine, self.rng, self.n = coarse, fine, rng, n
        self.step_no = 0

    def advance(self, x: tuple[np.ndarray, np.ndarray], k: int, every: int = 0,
                buf: np.ndarray | None = None, phase: int = 0):
        """``k`` coarse steps (``2 k`` fine ones) from ``x = (xc, xf)``; as :meth:`Kernel.advance`."""
        xc, xf = x
        coarse, fine, step0 = self.coarse, self.fine, self.step_no
        nf = fine.draw(self.rng, 2 * k, self.n, t0=step0 * coarse.dt)
        nc = fine.coarsen_path(nf)
        samples = set(_multiples(k, every, phase)) if every else set()
        lc, lf = coarse.stepper(self.n), fine.stepper(self.n)
        lc.load(xc)
        lf.load(xf)
        m, j = 0, 0
        for stop in sorted(samples | {k}):  # the two paths meet only in the samples
            lc.run(nc, j, stop, step0)
            lf.run(nf, 2 * j, 2 * stop, 2 * step0)
            j = stop
            if stop in samples:
                buf[m, 0] = lc.state
                buf[m, 1] = lf.state
                m += 1
        self.step_no = step0 + k
        return (lc.state.copy(), lf.state.copy()), m


def make_kernel(problem, rng: np.random.Generator, n: int, keep: int = 0,
                keep_every: int = 1) -> Kernel:
    """The stepping kernel of a chunk of ``problem``: its integrator
    (``run_options.method`` at ``run_options.dt`` on ``run_system``) behind :class:`Kernel`.
    The one place a record gets its kernel: another array library's kernel (same ``advance``)
    is chosen here."""
    options = problem.run_options
    return Kernel(make_integrator(options.method, problem.run_system, options.dt), rng, n, keep,
                  keep_every)


def run_chunk(problem, seed_seq: np.random.SeedSequence, index: int, n: int) -> ChunkResult:
    """Integrate one chunk of ``n`` trajectories of ``problem``
    (:class:`~simulator.sde.problem.EnsembleProblem`) and return what its record keeps.

    The one chunk loop of every ensemble: stationary or time-dependent systems (every step gets
    its start time ``step_no * dt``) of any dimension, with any record
    (:mod:`simulator.sde.records`). All random numbers come from ``seed_seq``: first the
    initial samples, then the noise block by block.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed_seq)
    acc = problem.record.open(problem, rng, n, index)
    with np.errstate(over="ignore", invalid="ignore"):
        x = acc.start(initial_state(problem.run_system, problem.run_options, rng, n))
        for seg in acc.segments():
            x, m = acc.kernel.advance(x, seg.steps, seg.every, acc.buffer, seg.phase)
            x = acc.fold(x, m, seg)
    return acc.result(index, n, x, time.perf_counter() - start)
