"""Command-line input checks done before any work: flag values, ``--params`` files, ``--out``
directories and ``--plot`` files.

Every failure raises :class:`UsageError` with one line naming the flag, the value and what is
allowed; :func:`simulator.cli.main` prints it as ``wgmsim CMD: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import textwrap
import tomllib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import read_params
from ..params import ParameterError, Params
from ..sde.resources import available_memory

__all__ = [
    "UsageError", "OnelineParser", "integer", "real", "n_jobs_arg", "read_params_file",
    "check_out_dir", "check_plot_file", "cap_workers", "check_memory", "one_line", "wrap",
    "nonfinite_entries", "PLOT_SUFFIXES",
]

#: Largest ``--params`` file read (a parameter file is a few hundred bytes).
MAX_PARAMS_BYTES = 1_000_000

#: File types ``--plot`` can write (matplotlib's standard backends).
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".eps", ".ps", ".jpg", ".jpeg")


def one_line(text: object) -> str:
    """``text`` on one line: its non-blank lines joined with ``; ``."""
    return "; ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


def wrap(text: str, width: int = 78) -> str:
    """A ``--help`` description wrapped to ``width`` columns (the parsers keep text raw so that
    the key list of ``--set`` keeps its layout)."""
    return textwrap.fill(" ".join(text.split()), width)


class UsageError(ValueError):
    """A bad flag value, file or directory on the command line (exit status 2)."""


class OnelineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``PROG: MESSAGE (see PROG --help)``,
    with exit status 2, instead of the usage block followed by the message."""

    def error(self, message: str):  # noqa: D102 (argparse API)
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def integer(low: int) -> Callable[[str], int]:
    """An argparse ``type`` for an integer flag ``>= low`` (argparse names the flag).

    Integer-valued numbers written with an exponent are accepted (``--n-traj 1e6`` is
    1000000); fractions, non-finite and out-of-range values are refused naming the flag.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                x = float(text)
            except ValueError:
                x = math.nan
            if not (math.isfinite(x) and x == int(x)):
                raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= {low}") from None
            value = int(x)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= {low}")
        return value

    parse.__name__ = "integer"
    return parse


def real(low: float = 0.0, *, strict: bool = True) -> Callable[[str], float]:
    """An argparse ``type`` for a finite real flag ``> low`` (``strict``) or ``>= low``."""
    allowed = f"a finite number {'>' if strict else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (value <= low if strict else value < low):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {allowed}")
        return value

    parse.__name__ = "real"
    return parse


def n_jobs_arg(text: str) -> int:
    """``--n-jobs``: an integer >= 1, or -1 for every core."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= 1, or -1 for every core")
    return value


def cap_workers(n_jobs: int, n_chunks: int, warn: Callable[[str], None]) -> int:
    """Workers actually used: at most the chunks and the cores available; ``warn`` says so.

    ``-1`` means every available core. Returns 1 or more.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, cores or 1)
    want = cores if n_jobs == -1 else n_jobs
    used = max(1, min(want, n_chunks, cores))
    if n_jobs != -1 and used < n_jobs:
        warn(f"note: --n-jobs {n_jobs} capped at {used} ({n_chunks} chunk(s), {cores} core(s))")
    return used


def check_toml_file(flag: str, path: str) -> None:
    """Refuse, as one :class:`UsageError` naming ``flag`` and the file, a path that is not a
    readable UTF-8 TOML file of sensible size (missing, a directory, a device, binary, invalid)."""
    if not path:
        raise UsageError(f"{flag} '': empty file name")
    p = Path(path)
    if p.exists() and not p.is_dir() and not p.is_file():
        raise UsageError(f"{flag} {path}: not a regular file (a device, pipe or socket)")
    if p.is_file() and p.stat().st_size > MAX_PARAMS_BYTES:
        raise UsageError(f"{flag} {path}: {p.stat().st_size} bytes, too large for a parameter "
                         f"file (at most {MAX_PARAMS_BYTES})")
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{flag} {path}: is a directory, not a TOML file") from None
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{flag} {path}: not a text (UTF-8) TOML file") from None
    try:
        tomllib.loads(text.removeprefix("\ufeff"))  # a byte-order mark is skipped (tomlio)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{flag} {path}: not valid TOML ({exc})") from None


def read_params_file(path: str, *, base: Params | None = None) -> Params:
    """:class:`Params` from a ``--params`` TOML file (values with units, or bare SI numbers)
    applied to ``base``; every failure is one :class:`UsageError` or
    :class:`~simulator.params.ParameterError` naming the file."""
    check_toml_file("--params", path)
    try:
        return read_params(path, base=base)
    except ParameterError as exc:
        raise ParameterError(f"{exc}" if str(path) in str(exc) else f"{path}: {exc}") from None
    except TypeError as exc:
        raise ParameterError(f"{path}: {exc}") from None


def _nearest_existing(p: Path) -> Path:
    p = p.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe_writable(directory: Path) -> str | None:
    """``None`` if a file can be created in ``directory`` (created and removed at once), else
    the reason. ``os.access`` alone is not enough: it says yes to root on a read-only mount."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def check_out_dir(path: str | None, flag: str = "--out", files: tuple[str, ...] = ()) -> None:
    """Refuse an output directory that cannot be created or written, or where one of the
    ``files`` the command writes into it exists and is not a regular file, before any work."""
    if path is None:
        return
    for name in files:
        f = Path(path) / name
        if f.exists() and not f.is_file():
            raise UsageError(f"{flag} {path}: {f} exists and is not a regular file (a "
                             "directory?); the run writes its result there: remove it or use "
                             "another folder")
    if not path.strip():
        raise UsageError(f"{flag} {path!r}: empty directory name")
    p = Path(path)
    if p.exists() and not p.is_dir():
        kind = "a file" if p.is_file() else "not a directory (a device or special file)"
        raise UsageError(f"{flag} {path}: exists and is {kind}; give a directory")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise UsageError(f"{flag} {path}: {base} is not a directory")
    why = _probe_writable(base)
    if why:
        raise UsageError(f"{flag} {path}: cannot write in {base} ({why})")


def check_plot_file(path: str | None, flag: str = "--plot") -> None:
    """Refuse a figure path that cannot be written, before the run (so no result is lost)."""
    if path is None:
        return
    if not path.strip():
        raise UsageError(f"{flag} {path!r}: empty file name")
    p = Path(path)
    if p.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"{flag} {path}: unknown figure type {p.suffix or '(none)'!r}; "
                         f"use one of {', '.join(PLOT_SUFFIXES)}")
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory")
    if p.exists() and not p.is_file():
        raise UsageError(f"{flag} {path}: exists and is not a regular file")
    parent = p.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {parent} does not exist")
    why = _probe_writable(parent)
    if why:
        raise UsageError(f"{flag} {path}: cannot write in {parent} ({why})")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"{flag} {path}: file is not writable")


def check_memory(what: str, need_bytes: float, detail: str = "") -> None:
    """Refuse a run whose estimated memory exceeds half of what is available, with the numbers.

    Parameters
    ----------
    what : str
        The flags that set the size, e.g. ``"--n-traj 1000000000"``.
    need_bytes : float
        Estimated peak memory of the run (bytes).
    detail : str
        Extra numbers for the message (work, chunks).
    """
    avail = available_memory()  # the engine's reading (simulator.sde.resources)
    if need_bytes <= 0.5 * avail:
        return
    extra = f" ({detail})" if detail else ""
    raise UsageError(f"{what}: the run needs about {need_bytes / 1e9:.3g} GB of memory{extra}, "
                     f"{avail / 1e9:.3g} GB is available; make the run smaller")


def nonfinite_entries(data: Any, path: str = "") -> list[str]:
    """Paths (``a.b[2]``) of the NaN or infinite floats in a nested dict/list of results."""
    if isinstance(data, dict):
        return [p for k, v in data.items()
                for p in nonfinite_entries(v, f"{path}.{k}" if path else str(k))]
    if isinstance(data, (list, tuple)):
        return [p for i, v in enumerate(data) for p in nonfinite_entries(v, f"{path}[{i}]")]
    if isinstance(data, np.ndarray):
        return nonfinite_entries(data.tolist(), path)
    if isinstance(data, (float, np.floating)) and not math.isfinite(data):
        return [path]
    return []
