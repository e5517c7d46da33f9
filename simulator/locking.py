"""An exclusive, cross-platform lock on a folder, held for the length of a run.

``DIR/.lock`` is locked with `filelock <https://py-filelock.readthedocs.io>`_ (``fcntl.flock``
on POSIX, ``msvcrt.locking`` on Windows): the operating system releases the lock when its holder
dies, even by ``kill -9``, so a stale lock file never blocks. The holder's pid, host and start
time go into ``DIR/.lock.info``, a separate file, because filelock truncates the lock file each
time a process tries to take it; a refused process quotes that file.

This module sits in the bottom layer (it imports :mod:`simulator.errors` and
:mod:`simulator.resultio`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
from pathlib import Path
from typing import Iterator

from .errors import CheckpointError
from .resultio import atomic_write_bytes

__all__ = ["folder_lock", "LOCK_NAME", "INFO_NAME"]

#: The lock file and the file naming its holder, inside the locked folder.
LOCK_NAME = ".lock"
INFO_NAME = ".lock.info"


@contextlib.contextmanager
def folder_lock(out: str | Path) -> Iterator[None]:
    """Hold ``out/.lock`` (exclusive, non-blocking) for the block; write the holder's pid, host
    and start time into ``out/.lock.info``.

    Raises
    ------
    CheckpointError
        Another process (or another lock in this process) holds it: the message names the
        folder and the holder; or the folder cannot be created or locked.
    """
    from filelock import FileLock, Timeout

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"{out}: cannot be used as a checkpoint folder "
                              f"({exc.strerror or exc})") from None
    lock = FileLock(out / LOCK_NAME, timeout=0, mode=0o644, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = (out / INFO_NAME).read_text(errors="replace").strip()
        except OSError:
            holder = ""
        raise CheckpointError(
            f"{out}: in use by another run ({holder or 'another process'}); wait for it to "
            "finish, or use another folder") from None
    except OSError as exc:  # e.g. a file system without locks, or a folder not writable
        raise CheckpointError(f"{out / LOCK_NAME}: cannot be locked ({exc.strerror or exc}); "
                              "use a folder on a local file system") from None
    try:
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        info = f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n"
        atomic_write_bytes(out / INFO_NAME, info.encode())  # mode 0644, as the chunks
        yield
    finally:
        lock.release()
