"""Ensembles of SDE trajectories: fixed chunks, streaming accumulation, joblib, checkpoints.

The ``n_traj`` trajectories are split into ``options.n_chunks`` fixed chunks. Chunk ``i`` draws
all its random numbers from ``np.random.default_rng(SeedSequence(seed).spawn(n_chunks)[i])`` and
returns only sums (per batch of the averaging window), so the reduced result is independent of
``n_jobs`` and of the order in which chunks finish: they are reduced in chunk order.

Inside a chunk the state is an array ``(n, d)`` advanced for all its trajectories at once. Noise
is drawn ``block_steps`` steps at a time; the sampled states of a block go into a fixed buffer and
are folded into the batch sums ``sum x`` and ``sum x x^T`` at the end of the block (one matrix
product), so memory does not grow with the run length. At the end of every block each trajectory
is checked: a non-finite value or ``|x_k| > bound`` marks it diverged; its block is dropped and it
takes no further part (it is counted and reported, never averaged in).

With ``out=DIR`` every finished chunk is written to ``DIR/chunks/chunk_NNNNN.npz`` (atomically)
next to ``DIR/manifest.json``; a later call with the same problem, options and seed loads those
and runs only the missing chunks, giving the same bits as an uninterrupted run.

Joblib's dask backend works as any joblib backend: inside
``with joblib.parallel_config(backend="dask"):`` (after creating a ``distributed.Client``) the
chunks are scheduled on the cluster; the result does not change.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .integrators import make_integrator
from .options import SDEOptions
from .system import LangevinSystem

__all__ = ["Schedule", "ChunkResult", "schedule", "run_chunk", "run_chunks", "chunk_seeds"]

CHECKPOINT_FORMAT = 1


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
    """

    dt: float
    n_burn: int
    n_batches: int
    steps_per_batch: int
    samples_per_batch: int
    sample_every: int

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
            "batch_time": self.batch_time,
        }


def schedule(system: LangevinSystem, options: SDEOptions) -> Schedule:
    """Step counts: burn-in ``8 / slowest_rate`` and batches ``20 / slowest_rate`` by default."""
    rate = system.slowest_rate if system.stable else None
    dt, every = options.dt, options.sample_every
    if options.t_burn is not None:
        t_burn = options.t_burn
    elif rate is not None:
        t_burn = 8.0 / rate
    else:
        raise ValueError("t_burn: must be given for an unstable system (no relaxation rate)")
    if options.batch_time is not None:
        batch_time = options.batch_time
    elif rate is not None:
        batch_time = 20.0 / rate
    else:
        batch_time = options.t_avg
    batch_time = min(batch_time, options.t_avg)
    n_batches = max(1, int(np.floor(options.t_avg / batch_time + 1e-9)))
    samples = int(np.floor(options.t_avg / n_batches / (dt * every) + 1e-9))
    if samples < 1:
        raise ValueError(f"t_avg = {options.t_avg!r}: fewer than one sample per batch")
    return Schedule(dt=dt, n_burn=int(round(t_burn / dt)), n_batches=n_batches,
                    steps_per_batch=samples * every, samples_per_batch=samples, sample_every=every)


@dataclass(frozen=True)
class ChunkResult:
    """Sums of one chunk. Shapes: ``s1 (n_batches, d)``, ``s2 (n_batches, d, d)``,
    ``counts (n_batches,)`` (number of samples, i.e. trajectories x sampled times)."""

    index: int
    n_traj: int
    s1: np.ndarray
    s2: np.ndarray
    counts: np.ndarray
    diverged: int
    final_state: np.ndarray
    seconds: float
    kept: np.ndarray | None = None

    def save(self, path: Path) -> None:
        """Write atomically to ``path`` (``.npz``)."""
        path = Path(path)
        arrays = dict(index=self.index, n_traj=self.n_traj, s1=self.s1, s2=self.s2,
                      counts=self.counts, diverged=self.diverged, final_state=self.final_state,
                      seconds=self.seconds)
        if self.kept is not None:
            arrays["kept"] = self.kept
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> "ChunkResult":
        with np.load(path, allow_pickle=False) as f:
            return cls(
                index=int(f["index"]), n_traj=int(f["n_traj"]), s1=f["s1"], s2=f["s2"],
                counts=f["counts"], diverged=int(f["diverged"]), final_state=f["final_state"],
                seconds=float(f["seconds"]), kept=f["kept"] if "kept" in f else None,
            )


def chunk_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """``SeedSequence(seed).spawn(n)``: one independent stream per chunk (index ``n`` and above
    are reserved for auxiliary runs such as the step-size error check)."""
    return np.random.SeedSequence(seed).spawn(n)


def initial_state(system: LangevinSystem, options: SDEOptions, rng: np.random.Generator,
                  n: int) -> np.ndarray:
    """Wigner samples of the initial fluctuations, shape ``(n, d)``."""
    d = system.dim
    if options.initial == "gaussian":
        cov = np.asarray(options.initial_covariance, dtype=float)
        mean = np.zeros(d) if options.initial_mean is None else np.asarray(options.initial_mean)
        if cov.shape != (d, d) or mean.shape != (d,):
            raise ValueError(f"initial_covariance/initial_mean: need shapes ({d}, {d}) and ({d},)")
    elif options.initial == "lyapunov":
        from ..linear import solve_lyapunov

        if not system.stable:
            raise ValueError("initial = 'lyapunov': the system has no stationary state")
        cov, mean = solve_lyapunov(system.A, system.D), np.zeros(d)
    else:  # thermal: optical vacuum fluctuations, thermal mechanics
        if system.rates is None or d != 6:
            raise ValueError("initial = 'thermal': needs the optomechanical system; use "
                             "'gaussian' or 'lyapunov' for other systems")
        n_m = float(system.rates.n_m)
        cov, mean = np.diag([0.5, 0.5, 0.5, 0.5, n_m + 0.5, n_m + 0.5]), np.zeros(d)
    from .integrators import psd_sqrt

    z = rng.standard_normal((n, d))
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


def run_chunk(system: LangevinSystem, options: SDEOptions, sched: Schedule,
              seed_seq: np.random.SeedSequence, index: int, n: int) -> ChunkResult:
    """Integrate one chunk of ``n`` trajectories and return its batch sums."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed_seq)
    integ = make_integrator(options.method, system, options.dt)
    d = system.dim
    nb, every, block = sched.n_batches, sched.sample_every, options.block_for(n)
    s1 = np.zeros((nb, d))
    s2 = np.zeros((nb, d, d))
    counts = np.zeros(nb, dtype=np.int64)
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
            noise = integ.draw(rng, k, n, reuse=True)
            for j in range(k):
                x = integ.step(x, tuple(a[j] for a in noise))
                step_no += 1
                if n_keep and step_no % options.keep_every == 0:
                    kept.append(x[:n_keep].copy())
            _check_state(x, options.bound, alive)
            done += k
        # Averaging window: batches of blocks; sampled states buffered then folded in.
        block = max(every, (block // every) * every)
        buf = np.empty((block // every, n, d))
        ones = np.ones(buf.shape[0] * n)
        for b in range(nb):
            done = 0
            while done < sched.steps_per_batch:
                k = min(block, sched.steps_per_batch - done)
                noise = integ.draw(rng, k, n, reuse=True)
                m = 0
                for j in range(k):
                    x = integ.step(x, tuple(a[j] for a in noise))
                    step_no += 1
                    if (j + 1) % every == 0:
                        buf[m] = x
                        m += 1
                    if n_keep and step_no % options.keep_every == 0:
                        kept.append(x[:n_keep].copy())
                done += k
                b1, b2, c = _fold_block(buf[:m], x, options.bound, alive, ones)
                s1[b] += b1
                s2[b] += b2
                counts[b] += c
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
            nf = fine.draw(rng, 2 * k, n)
            nc = fine.coarsen_path(nf)
            for j in range(k):
                xc = coarse.step(xc, tuple(a[j] for a in nc))
                xf = fine.step(xf, tuple(a[2 * j] for a in nf))
                xf = fine.step(xf, tuple(a[2 * j + 1] for a in nf))
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


# ---- checkpoints ------------------------------------------------------------------------------
def _manifest(identity: dict[str, Any]) -> dict[str, Any]:
    return {"format": CHECKPOINT_FORMAT, **identity}


def _prepare_out(out: Path, identity: dict[str, Any]) -> Path:
    out = Path(out)
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    path = out / "manifest.json"
    want = json.loads(json.dumps(_manifest(identity)))
    if path.exists():
        have = json.loads(path.read_text())
        if have != want:
            diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
            raise ValueError(
                f"out = {str(out)!r}: holds checkpoints of a different run (differs in {diff}); "
                "use another directory or delete it"
            )
    else:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(want, indent=2, sort_keys=True))
        os.replace(tmp, path)
    return out / "chunks"


def chunk_path(chunk_dir: Path, index: int) -> Path:
    return Path(chunk_dir) / f"chunk_{index:05d}.npz"


def _run_and_save(system, options, sched, seed_seq, index, n, chunk_dir):
    res = run_chunk(system, options, sched, seed_seq, index, n)
    if chunk_dir is not None:
        res.save(chunk_path(chunk_dir, index))
    return res


def run_chunks(system: LangevinSystem, options: SDEOptions, seed: int, *,
               chunk_ids: Sequence[int] | None = None, n_jobs: int = 1,
               out: str | Path | None = None, identity: dict[str, Any] | None = None,
               progress: Callable[[int, int], None] | None = None) -> list[ChunkResult]:
    """Compute (or load from ``out``) the chunks ``chunk_ids`` (default: all), in chunk order.

    Parameters
    ----------
    identity : dict
        JSON-ready description of the problem (parameters, options, seed); stored in the
        manifest and compared on resume.
    progress : callable or None
        Called as ``progress(done, total)`` after each chunk is available (in the caller).
    """
    import joblib

    sched = schedule(system, options)
    sizes = options.chunk_sizes()
    seeds = chunk_seeds(seed, options.n_chunks)
    ids = list(range(options.n_chunks)) if chunk_ids is None else sorted(set(chunk_ids))
    for i in ids:
        if not 0 <= i < options.n_chunks:
            raise ValueError(f"chunk_ids: {i} outside 0..{options.n_chunks - 1}")
    chunk_dir = None
    results: dict[int, ChunkResult] = {}
    if out is not None:
        chunk_dir = _prepare_out(Path(out), identity or {"seed": seed, "options": options.to_dict()})
        for i in ids:
            p = chunk_path(chunk_dir, i)
            if p.exists():
                results[i] = ChunkResult.load(p)
    todo = [i for i in ids if i not in results]
    total, done = len(ids), len(results)
    if progress is not None:
        progress(done, total)
    if todo:
        tasks = (joblib.delayed(_run_and_save)(system, options, sched, seeds[i], i, sizes[i],
                                               chunk_dir) for i in todo)
        if n_jobs == 1:
            gen = (t[0](*t[1], **t[2]) for t in tasks)
        else:
            gen = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        for res in gen:
            results[res.index] = res
            done += 1
            if progress is not None:
                progress(done, total)
    return [results[i] for i in ids]
