"""The chunk loop: one chunk of trajectories integrated and reduced to sums per bin.

Inside a chunk the state is an array ``(n, d)`` advanced for all its trajectories at once. Noise
is drawn ``block_steps`` steps at a time; the sampled states of a block go into a fixed buffer and
are folded into the batch sums ``sum x`` and ``sum x x^T`` at the end of the block (one matrix
product), so memory does not grow with the run length. At the end of every block each trajectory
is checked: a non-finite value or ``|x_k| > bound`` marks it diverged; its block is dropped and it
takes no further part (it is counted and reported, never averaged in).

The same loop runs a time-resolved (transient) problem: a system with a time-dependent drift
``A(t)`` (every step is given its start time) and a :class:`~simulator.sde.scheduling.Schedule`
with ``record_initial`` and one sample per bin, so that a chunk returns its sums at every output
time instead of per batch (the ring-up, :mod:`simulator.sde.ringup`). Nothing in it depends on
the dimension ``d``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .checkpoints import ChunkResult
from .escapes import EscapeRecord, EscapeTest
from .integrators import make_integrator
from .options import SDEOptions
from .scheduling import Schedule, initial_moments
from .system import LangevinSystem

__all__ = ["run_chunk", "Kernel", "initial_state", "paired_sums", "step_error_check"]


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


class Kernel:
    """The stepping kernel of a chunk: noise drawn a block at a time, every trajectory advanced by
    the integrator, sampled states written to a buffer, thinned trajectories kept.

    The chunk loop (:func:`run_chunk`) touches the state only through :meth:`advance` and the
    folds of the buffer into sums (:func:`_fold_block`), so this and those are what another
    array library would implement to run the same loop; the physics stays in the integrator's
    ``draw`` and ``step``.
    """

    def __init__(self, integ, rng: np.random.Generator, n: int, keep: int = 0,
                 keep_every: int = 1) -> None:
        self.integ, self.rng, self.n = integ, rng, n
        self.keep, self.keep_every = keep, keep_every
        self.step_no = 0
        self.kept: list[np.ndarray] = []

    def advance(self, x: np.ndarray, k: int, every: int = 0, buf: np.ndarray | None = None
                ) -> tuple[np.ndarray, int]:
        """``k`` steps from ``x (n, d)``; every ``every``-th state (counted from this call) is
        also written to ``buf[0], buf[1], ...``. Returns the state and the samples written."""
        integ, dt = self.integ, self.integ.dt
        noise = integ.draw(self.rng, k, self.n, reuse=True, t0=self.step_no * dt)
        m = 0
        for j in range(k):
            x = integ.step(x, tuple(a[j] for a in noise), self.step_no * dt)
            self.step_no += 1
            if every and (j + 1) % every == 0:
                buf[m] = x
                m += 1
            if self.keep and self.step_no % self.keep_every == 0:
                self.kept.append(x[:self.keep].copy())
        return x, m


def run_chunk(system: LangevinSystem, options: SDEOptions, sched: Schedule,
              seed_seq: np.random.SeedSequence, index: int, n: int,
              escapes: EscapeTest | None = None) -> ChunkResult:
    """Integrate one chunk of ``n`` trajectories and return its sums per bin.

    The system may be stationary or time-dependent (``system.drift_at``; every step gets its
    start time ``step_no * dt``) and of any dimension. A schedule with ``record_initial`` also
    sums the initial state (bin 0); batches shorter than a noise block share one block. With
    ``escapes`` every block end from ``escapes.t_start`` on is tested for escapes from the
    fixed point's basin (:mod:`simulator.sde.escapes`), next to the divergence check; an
    escaped trajectory's block is dropped as a diverged one's.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed_seq)
    block = options.block_for(n)
    sums = (np.zeros((sched.n_bins, system.dim)), np.zeros((sched.n_bins, system.dim, system.dim)),
            np.zeros(sched.n_bins, dtype=np.int64))
    alive = np.ones(n, dtype=bool)
    n_keep = min(options.keep_trajectories, n) if index == 0 else 0
    kernel = Kernel(make_integrator(options.method, system, options.dt), rng, n, n_keep,
                    options.keep_every)
    record = EscapeRecord(escapes)
    with np.errstate(over="ignore", invalid="ignore"):
        x = initial_state(system, options, rng, n)
        if n_keep:
            kernel.kept.append(x[:n_keep].copy())
        done = 0
        while done < sched.n_burn:  # burn-in, in blocks
            k = min(block, sched.n_burn - done)
            x, _ = kernel.advance(x, k)
            _check_state(x, sched.bound, alive)
            done += k
            record.check(x, alive, sched.bound, kernel.step_no * options.dt)
        x = _averaging_window(kernel, x, sched, block, alive, sums, record)
    times, initial, exposure = record.arrays()
    return ChunkResult(
        index=index, n_traj=n, s1=sums[0], s2=sums[1], counts=sums[2],
        diverged=int((~alive).sum()) - len(times), final_state=x,
        seconds=time.perf_counter() - start, kept=np.stack(kernel.kept) if n_keep else None,
        escape_times=times if escapes is not None else None, escape_initial=initial,
        exposure=exposure,
    )


def _averaging_window(kernel: Kernel, x: np.ndarray, sched: Schedule, block: int,
                      alive: np.ndarray, sums: tuple[np.ndarray, ...],
                      record: EscapeRecord) -> np.ndarray:
    """The averaging window (or the output times of a time-resolved run): batches of blocks,
    the sampled states buffered and folded into ``sums = (s1, s2, counts)`` per bin; escapes
    tested (``record``) at every block end before its fold."""
    s1, s2, counts = sums
    n, d = x.shape
    every, nb, off = sched.sample_every, sched.n_batches, int(sched.record_initial)
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
            x, m = kernel.advance(x, k, every, buf)
            done += k
            before = len(record.times)
            record.check(x, alive, sched.bound, kernel.step_no * sched.dt)
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
            record.expose(alive, len(record.times) - before, k * sched.dt)
        b += q
    return x


def paired_sums(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                seed_seq: np.random.SeedSequence, n: int) -> dict[str, Any]:
    """Integrate ``n`` trajectories at ``dt`` and ``dt / 2`` on the same Brownian path (the fine
    path's increments summed pairwise give the coarse one, :meth:`Integrator.coarsen_path`).

    Returns
    -------
    dict
        ``coarse``, ``fine``: the final states ``(n, d)``; ``s1_coarse``, ``s2_coarse``,
        ``s1_fine``, ``s2_fine``: the sums ``sum x`` ``(d,)`` and ``sum x x^T`` ``(d, d)`` over the
        sampled times of the averaging window; ``count``: samples in each sum. The one loop of
        the step-size check (:func:`step_error_check`) and of the ``dt="auto"`` pilot
        (:mod:`simulator.sde.stepsize`).
    """
    rng = np.random.default_rng(seed_seq)
    coarse = make_integrator(options.method, system, options.dt)
    fine = make_integrator(options.method, system, options.dt / 2.0)
    d, block, dt = system.dim, options.block_for(n), options.dt
    s1c, s1f, s2c, s2f = np.zeros(d), np.zeros(d), np.zeros((d, d)), np.zeros((d, d))
    count = 0
    with np.errstate(over="ignore", invalid="ignore"):
        xc = initial_state(system, options, rng, n)
        xf = xc.copy()
        total = sched.n_burn + sched.n_batches * sched.steps_per_batch
        done = 0
        while done < total:
            k = min(block, total - done)
            nf = fine.draw(rng, 2 * k, n, t0=done * dt)
            nc = fine.coarsen_path(nf)
            for j in range(k):
                t = (done + j) * dt
                xc = coarse.step(xc, tuple(a[j] for a in nc), t)
                xf = fine.step(xf, tuple(a[2 * j] for a in nf), t)
                xf = fine.step(xf, tuple(a[2 * j + 1] for a in nf), t + 0.5 * dt)
                step = done + j + 1 - sched.n_burn
                if step > 0 and step % sched.sample_every == 0:
                    s1c += xc.sum(axis=0)
                    s1f += xf.sum(axis=0)
                    s2c += xc.T @ xc
                    s2f += xf.T @ xf
                    count += n
            done += k
    return {"coarse": xc, "fine": xf, "s1_coarse": s1c, "s2_coarse": s2c, "s1_fine": s1f,
            "s2_fine": s2f, "count": count}


def step_error_check(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                     seed_seq: np.random.SeedSequence, n: int) -> dict[str, float]:
    """Integrate ``n`` trajectories at ``dt`` and ``dt / 2`` on the same Brownian path
    (:func:`paired_sums`).

    Returns the rms over trajectories of the final-state difference, and the largest difference
    of the time-averaged second moments ``<x x^T>`` over the averaging window, together with the
    largest element of the fine estimate (for a relative figure).
    """
    pair = paired_sums(system, options, sched, seed_seq, n)
    xc, xf, count = pair["coarse"], pair["fine"], pair["count"]
    diff = np.abs(pair["s2_coarse"] - pair["s2_fine"]) / max(count, 1)
    scale = np.abs(pair["s2_fine"]).max() / max(count, 1)
    return {
        "n_traj": int(n),
        "final_state_rms_difference": float(np.sqrt(np.mean(np.sum((xc - xf) ** 2, axis=1)))),
        "second_moment_max_abs_difference": float(diff.max()),
        "second_moment_max_element": float(scale),
        "second_moment_relative_difference": float(diff.max() / scale) if scale > 0 else float("nan"),
    }
