"""Writing and reading result folders: atomic files, a checksum over arrays and metadata together,
and the provenance every result carries.

A result ``NAME`` in folder ``DIR`` is two files written together:

* ``DIR/NAME.npz`` -- the arrays (``numpy.savez``, no pickles);
* ``DIR/NAME.json`` -- the metadata, with a ``checksum`` entry
  ``{"algorithm": "sha256", "value": HEX}``: the SHA-256 of the ``.npz`` file's bytes followed by
  the canonical JSON (sorted keys, no whitespace) of the metadata without its ``checksum``.

:func:`read_result` recomputes the checksum and refuses a mismatch, a missing or truncated file
with :class:`~simulator.errors.ResultFileError` naming the file. Both files are written to a
temporary name and renamed into place (atomic on POSIX), arrays first.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ResultFileError
from .jsonio import to_jsonable

__all__ = ["atomic_write_bytes", "write_result", "read_result", "versions", "provenance"]

#: Distributions whose versions every result records.
_DISTRIBUTIONS = ("wgmsim", "numpy", "scipy", "qutip", "joblib", "matplotlib")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            # name the file being written, never the hidden temporary one (a full disk, or a
            # path that is a directory)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return path


def _canonical(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _digest(npz_bytes: bytes, meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    return hashlib.sha256(npz_bytes + _canonical(body)).hexdigest()


def write_result(directory: str | Path, name: str, meta: dict[str, Any],
                 arrays: dict[str, np.ndarray]) -> Path:
    """Write ``NAME.npz`` and ``NAME.json`` (with checksum) into ``directory`` (created).

    Parameters
    ----------
    directory : path
        Target folder.
    name : str
        File stem, e.g. ``"result"``.
    meta : dict
        JSON-able metadata (passed through :func:`~simulator.jsonio.to_jsonable`).
    arrays : dict of ndarray
        Arrays to store (``None`` values are skipped).

    Returns
    -------
    Path
        The folder.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items() if v is not None})
    npz_bytes = buf.getvalue()
    meta = to_jsonable({k: v for k, v in meta.items() if k != "checksum"})
    meta["checksum"] = {"algorithm": "sha256", "value": _digest(npz_bytes, meta)}
    atomic_write_bytes(d / f"{name}.npz", npz_bytes)
    atomic_write_bytes(d / f"{name}.json",
                       json.dumps(meta, indent=2, allow_nan=False).encode() + b"\n")
    return d


def read_result(directory: str | Path, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a result written by :func:`write_result`.

    Returns
    -------
    meta : dict
        The metadata (including its ``checksum`` entry).
    arrays : dict of ndarray

    Raises
    ------
    ResultFileError
        A file is missing, unreadable, not valid JSON/npz, has no checksum, or the checksum does not
        match (the files were changed or come from different saves).
    """
    d = Path(directory)
    jpath, npath = d / f"{name}.json", d / f"{name}.npz"
    for p in (jpath, npath):
        if not p.is_file():
            raise ResultFileError(f"{p}: missing (not a saved wgmsim result folder?)")
    try:
        meta = json.loads(jpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{jpath}: not a readable JSON file ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("checksum"), dict):
        raise ResultFileError(f"{jpath}: has no checksum; refusing to trust it")
    try:
        npz_bytes = npath.read_bytes()
    except OSError as exc:
        raise ResultFileError(f"{npath}: cannot be read ({exc})") from None
    expected = meta["checksum"].get("value")
    if _digest(npz_bytes, meta) != expected:
        raise ResultFileError(
            f"{jpath} and {npath}: checksum mismatch; the files were modified or do not belong "
            "together")
    try:
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a bad file
        raise ResultFileError(f"{npath}: not a readable npz archive ({exc})") from None
    return meta, arrays


def versions() -> dict[str, str]:
    """Versions of Python, wgmsim and its dependencies (from package metadata; nothing imported).

    A distribution that is not installed is recorded as ``"not installed"``. Read once per
    process (2 ms a distribution, and every result asks): the code a process runs is the code it
    imported, whatever is installed on disk later. A new dict each call.
    """
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    out = {"python": platform.python_version()}
    for dist in _DISTRIBUTIONS:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return tuple(out.items())


def provenance(**extra: Any) -> dict[str, Any]:
    """Versions, UTC timestamp and host platform, plus ``extra`` (seeds, options, params ...)."""
    return {
        "versions": versions(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        **extra,
    }
