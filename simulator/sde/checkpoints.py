"""Checkpoints of an ensemble: chunk files, the run's manifest and its lock.

With ``out=DIR`` every finished chunk is written to ``DIR/chunks/chunk_NNNNN.npz`` (atomically,
mode 0644) next to ``DIR/manifest.json``; a later call with the same problem, options and seed
loads those and runs only the missing chunks, giving the same bits as an uninterrupted run.
Checkpoints cannot mix runs: the manifest and every chunk file carry the run id (SHA-256 of the
problem, options and root seed), each chunk its slot index and a SHA-256 of its arrays, all
verified on resume; a folder with chunk files but no valid manifest is refused; ``DIR/.lock``
(:func:`simulator.locking.folder_lock`: filelock, held for the whole run, the holder's pid and
host in ``DIR/.lock.info``) keeps a second process out. Any of these faults raises :class:`~simulator.errors.CheckpointError` naming the file
or folder and what to do.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..locking import folder_lock as checkpoint_lock
from ..resultio import atomic_write_bytes

__all__ = ["ChunkResult", "run_id", "checkpoint_lock", "prepare_out", "chunk_path",
           "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 2


@dataclass(frozen=True)
class ChunkResult:
    """Sums of one chunk. Shapes: ``s1 (n_bins, d)``, ``s2 (n_bins, d, d)``,
    ``counts (n_bins,)`` (number of samples, i.e. trajectories x sampled times); a bin is a batch
    of the averaging window, or an output time of a time-resolved run (:attr:`Schedule.n_bins`).
    ``kept``: the kept trajectories of chunk 0 ``(n_times, n_keep, d)``; ``paths``: with the
    :class:`~simulator.sde.records.Paths` record, chosen components of every trajectory at every
    bin ``(n_bins, n_traj, k)``. ``diverged`` counts numerical divergence only; with the escape
    test on, ``escape_times`` ``(k,)`` holds the block-end time of each escape from the fixed
    point's basin, ``escape_initial`` how many of them the first test found, and ``exposure``
    the trajectory-time in the averaging window spent in it (``1/omega_m``), both saved in the
    chunk file (``None``/0 without the test)."""

    index: int
    n_traj: int
    s1: np.ndarray
    s2: np.ndarray
    counts: np.ndarray
    diverged: int
    final_state: np.ndarray
    seconds: float
    kept: np.ndarray | None = None
    paths: np.ndarray | None = None
    escape_times: np.ndarray | None = None
    escape_initial: int = 0
    exposure: float = 0.0

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(index=self.index, n_traj=self.n_traj, s1=self.s1, s2=self.s2,
                      counts=self.counts, diverged=self.diverged, final_state=self.final_state,
                      seconds=self.seconds)
        for name in ("kept", "paths"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        if self.escape_times is not None:  # escapes tested (simulator.sde.escapes)
            arrays["escape_times"] = self.escape_times
            arrays["escape_initial"] = self.escape_initial
            arrays["exposure"] = self.exposure
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
            kept=data.get("kept"), paths=data.get("paths"),
            escape_times=data.get("escape_times"),
            escape_initial=int(data.get("escape_initial", 0)),
            exposure=float(data.get("exposure", 0.0)),
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


def run_id(identity: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a run's identity (problem, options, root seed)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(identity: dict[str, Any]) -> dict[str, Any]:
    return {"format": CHECKPOINT_FORMAT, "run_id": run_id(identity), **identity}


def prepare_out(out: Path, identity: dict[str, Any]) -> Path:
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
