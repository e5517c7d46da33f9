"""``--scheduler ADDRESS``: run the SDE and ring-up chunks on a dask cluster.

``ADDRESS`` is a dask scheduler (``tcp://host:8786``, ``tls://...``, ``host:port``) or
``local:N``, a :class:`distributed.LocalCluster` of ``N`` single-threaded worker processes on this
machine. Inside the block joblib's dask backend is active, so every chunk goes to the cluster
whatever ``--n-jobs`` says (:func:`simulator.sde.ensemble.effective_workers`); the result is bit
for bit that of ``--n-jobs 1``, since chunk ``i`` always draws from seed ``i`` and chunks are
reduced in chunk order.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
from typing import Iterator

from .checks import UsageError

log = logging.getLogger("simulator.cli")

_LOCAL = re.compile(r"local:(\d+)$")
_REMOTE = re.compile(r"([a-z][a-z0-9+.-]*://)?[^\s:/]+(:\d+)?/?$", re.IGNORECASE)

#: Extra that provides dask and distributed.
DASK_HINT = "pip install 'wgmsim[dask]' (dask and distributed)"


def scheduler_arg(text: str) -> str:
    """argparse type of ``--scheduler``: ``local:N`` (``N >= 1``) or a scheduler address."""
    text = text.strip()
    m = _LOCAL.match(text)
    if m:
        if int(m.group(1)) < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: local:N needs N >= 1 worker processes")
        return text
    if text.startswith("local") or not _REMOTE.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a dask scheduler address (tcp://HOST:PORT) or local:N for N "
            "local worker processes")
    return text


scheduler_arg.__name__ = "scheduler"


def add_scheduler_argument(parser) -> None:
    """Add ``--scheduler ADDRESS`` to a subcommand."""
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", type=scheduler_arg, default=None,
        help="run the chunks on a dask cluster: a scheduler address (tcp://HOST:8786) or "
        "local:N (a local cluster of N worker processes); all chunks go to the cluster whatever "
        "--n-jobs says, with the same result bit for bit. Needs the dask extra.")


@contextlib.contextmanager
def dask_backend(address: str | None) -> Iterator[object | None]:
    """Within the block, joblib sends its tasks to the dask cluster at ``address`` (``None``:
    nothing changes). Yields the ``distributed.Client`` (or ``None``).

    Raises
    ------
    UsageError
        dask/distributed are not installed, or the scheduler cannot be reached.
    """
    if address is None:
        yield None
        return
    try:
        import distributed
        import joblib
    except ImportError as exc:
        raise UsageError(f"--scheduler {address}: needs dask and distributed, which are not "
                         f"installed ({exc}); {DASK_HINT}") from None
    with contextlib.ExitStack() as stack:
        m = _LOCAL.match(address)
        if m:
            n = int(m.group(1))
            log.info("starting a local dask cluster of %d worker process(es)", n)
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.ERROR))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(address, timeout="20s"))
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--scheduler {address}: cannot reach the dask scheduler "
                                 f"({exc})") from None
        log.info("dask cluster %s: %d worker(s)", address,
                 len(client.scheduler_info().get("workers", {})))
        stack.enter_context(joblib.parallel_config(backend="dask"))
        yield client
