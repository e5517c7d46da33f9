"""The chunk loop: one chunk of trajectories integrated and reduced to sums per bin.

Inside a chunk the state is an array ``(n, d)`` advanced for all its trajectories at once. Noise
is drawn ``block_steps`` steps at a time; the sampled states of a block go into a fixed buffer and
are folded into the batch sums ``sum x`` and ``sum x x^T`` at the end of the block (one matrix
product), so memory does not grow with the run length. At the end of every block each trajectory
is checked: a non-finite value or ``|x_k| > bound`` marks it diverged; its block is dropped and it
takes no further part (it is counted and reported, never averaged in).

The same loop runs a time-resolved (transient) problem: a system with a time-dependent drift
``A(t)`` (every step is given its start time) and a :class:`~simulator.sde.schedule.Schedule`
with ``record_initial`` and one sample per bin, so that a chunk returns its sums at every output
time instead of per batch (the ring-up, :mod:`simulator.sde.ringup`). Nothing in it depends on
the dimension ``d``.
"""

from __future__ import annotations

import time

import numpy as np

from .checkpoints import ChunkResult
from .integrators import make_integrator
from .options import SDEOptions
from .schedule import Schedule, initial_moments
from .system import LangevinSystem

__all__ = ["run_chunk", "initial_state", "step_error_check"]


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
