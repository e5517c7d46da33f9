"""Progress of long runs, the same way for every engine.

Every engine (:func:`~simulator.sde.simulate_sde`, :func:`~simulator.sde.simulate_ringup`,
:func:`~simulator.master.solve_master`, :func:`~simulator.master.evolve_master`,
:func:`~simulator.validate.validate`) takes a ``progress`` argument:

- ``True``: a tqdm bar on stderr with rate and ETA (``tqdm.auto``: a widget in a Jupyter notebook,
  a text bar in a terminal);
- a callable: called as ``progress(done, total)`` after each unit of work (SDE and ring-up
  chunks, steady-state cutoff rounds, time-evolution output times; ``validate`` calls
  ``progress(stage, done, total)``);
- ``False`` or ``None``: nothing.

Engines never print: their messages go through :mod:`logging` (loggers ``simulator.*``), which
the command line shows with ``--verbose``.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator, Union

__all__ = ["ProgressArg", "TqdmProgress", "as_callback", "check_progress", "progress_callback"]

#: What a ``progress`` argument may be.
ProgressArg = Union[bool, Callable[..., None], None]


def check_progress(progress: Any, name: str = "progress") -> None:
    """Raise ``TypeError`` unless ``progress`` is ``True``, ``False``, ``None`` or callable."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return
    raise TypeError(f"{name} = {progress!r}: must be True, False, None or a callable "
                    "progress(done, total)")


class TqdmProgress:
    """A ``progress(done, total)`` callback drawing a tqdm bar (``tqdm.auto``) on stderr.

    The bar is created at the first call (when the total is known); a later call with another
    total changes it (the master equation's cutoff rounds end before their upper bound).

    Parameters
    ----------
    desc : str
        Label in front of the bar, e.g. ``"sde"``.
    unit : str
        What is counted, e.g. ``"chunk"``.
    file : file-like, optional
        Stream of the text bar (default: ``sys.stderr`` at the first call).
    auto_close : bool
        Close the bar once ``done >= total`` (later calls are ignored).
    """

    def __init__(self, desc: str, unit: str = "it", file: Any = None,
                 auto_close: bool = False) -> None:
        self.desc, self.unit, self.file, self.auto_close = desc, unit, file, auto_close
        self._bar: Any = None
        self._closed = False

    def __call__(self, done: int, total: int) -> None:
        if self._closed:
            return
        if self._bar is None:
            from tqdm.auto import tqdm  # lazy: tqdm is needed only when a bar is drawn

            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, leave=True,
                             file=sys.stderr if self.file is None else self.file,
                             dynamic_ncols=True, smoothing=0.1)
        bar = self._bar
        if total != bar.total:
            bar.total = total
        if done != bar.n:
            bar.update(done - bar.n)
        else:
            bar.refresh()
        if self.auto_close and done >= total:
            self.close()

    def close(self) -> None:
        """Finish the line of the bar (idempotent)."""
        self._closed = True
        if self._bar is not None:
            self._bar.close()


def as_callback(progress: ProgressArg, desc: str,
                unit: str = "it") -> Callable[[int, int], None] | None:
    """``progress`` as a callback: ``True`` gives a :class:`TqdmProgress` that closes itself when
    ``done`` reaches ``total``; a callable is returned as it is; ``False``/``None`` give ``None``.
    (:func:`progress_callback` also closes the bar when the run stops early.)"""
    check_progress(progress)
    if progress is None or progress is False:
        return None
    if progress is True:
        return TqdmProgress(desc, unit, auto_close=True)
    return progress


@contextlib.contextmanager
def progress_callback(progress: ProgressArg, desc: str,
                      unit: str = "it") -> Iterator[Callable[[int, int], None] | None]:
    """The callback an engine calls for ``progress``, or ``None`` when there is none.

    ``True`` gives a :class:`TqdmProgress` that is closed when the block ends; a callable is
    returned as it is; ``False``/``None`` give ``None``.

    Examples
    --------
    >>> seen = []
    >>> with progress_callback(lambda d, t: seen.append((d, t)), "demo") as cb:
    ...     cb(1, 2)
    >>> seen
    [(1, 2)]
    >>> with progress_callback(False, "demo") as cb:
    ...     cb is None
    True
    """
    check_progress(progress)
    if progress is None or progress is False:
        yield None
    elif progress is True:
        bar = TqdmProgress(desc, unit)
        try:
            yield bar
        finally:
            bar.close()
    else:
        yield progress
