"""Exceptions, warning classes and result statuses shared by every engine.

One place for the vocabulary with which wgmsim says that something is wrong, so that a user can
filter all of it at once (``warnings.simplefilter("error", WgmsimWarning)``) and a status string
means the same in every result.

Statuses
--------
``ok``
    The numbers and their error bars can be trusted.
``few_units``
    The error bars rest on fewer than :data:`MIN_UNITS` independent statistical units, or on
    batches shorter than the correlation time needs: they are probably too small.
``unstable``
    The parameter point is dynamically unstable (an eigenvalue of the drift with real part >= 0).
``diverged``
    Trajectories left the region where the model holds and were dropped (numerical divergence:
    non-finite, or beyond the divergence bound).
``metastable``
    Trajectories of an SDE ensemble left the fixed point's basin for another attractor of the
    classical equations (escapes, :mod:`simulator.sde.escapes`): they were counted and dropped,
    and the statistics are those of the fixed point's basin.
``not_stationary``
    The averaging window of a stationary run started before the initial state had relaxed (the
    predicted relaxation bias exceeds the error bar, or the window's first part differs from
    its last): the time averages are biased (:mod:`simulator.sde.stationarity`).
``unphysical``
    A covariance violates the uncertainty principle ``V + i Omega / 2 >= 0``.
``not_converged``
    An iterative solver (master-equation truncation, time budget) did not converge.
"""

from __future__ import annotations

__all__ = [
    "MIN_UNITS", "STATUSES",
    "WgmsimWarning", "StatisticsWarning", "StabilityWarning", "PhysicalityWarning",
    "MetastabilityWarning",
    "ResultFileError", "CheckpointError", "RunInterrupted", "ParameterError",
    "TimeBudgetSpent", "AllDivergedError",
]


class ParameterError(ValueError):
    """A parameter value outside its allowed range, of the wrong type, or unknown
    (re-exported by :mod:`simulator.params`, where it has always been imported from)."""

#: Fewest independent statistical units (chunk x batch) behind an error bar reported as ``ok``.
MIN_UNITS = 8

#: Every status a result can carry (see the module docstring).
STATUSES = ("ok", "few_units", "unstable", "not_stationary", "diverged", "unphysical",
            "not_converged", "metastable")


class WgmsimWarning(UserWarning):
    """Base class of every warning wgmsim emits."""


class StatisticsWarning(WgmsimWarning):
    """Error bars that may not be honest: too few units, short batches, clipped estimates."""


class StabilityWarning(WgmsimWarning):
    """An unstable point, divergent trajectories or a run that did not become stationary."""


class MetastabilityWarning(WgmsimWarning):
    """Trajectories escaped from the fixed point's basin to another attractor (counted, dropped:
    the statistics are those of the basin; :mod:`simulator.sde.escapes`)."""


class PhysicalityWarning(WgmsimWarning):
    """A state that quantum mechanics forbids (uncertainty principle violated)."""


class AllDivergedError(FloatingPointError, ValueError):
    """Every trajectory (or all but one statistical unit) left the divergence bound: no result
    with an error bar exists. Raised for a bound the user chose too small as well as for a
    point beyond the model's range; a ``ValueError`` too, so that the command line treats it
    as input to change (exit 2)."""


class ResultFileError(ValueError):
    """A saved result or checkpoint that cannot be trusted: missing, truncated or tampered with.

    The message names the file.
    """


class CheckpointError(RuntimeError):
    """A checkpoint folder that belongs to another run, is locked by another process, or is
    inconsistent; the message names the folder and what to do."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during a chunked run, after the finished chunks were saved.

    Attributes
    ----------
    done, total : int
        Chunks finished (and saved, if ``folder`` is set) and chunks in the run.
    folder : pathlib.Path or None
        Checkpoint folder holding the finished chunks; rerunning the same command resumes.
    """

    def __init__(self, done: int, total: int, folder=None) -> None:
        super().__init__(f"interrupted after {done} of {total} chunks")
        self.done, self.total, self.folder = done, total, folder


class TimeBudgetSpent(RuntimeError):
    """A chunked run stopped between chunks because its time budget (``max_time``) was spent;
    the finished chunks are saved if ``folder`` is set, and rerunning the same command resumes.

    Attributes
    ----------
    done, total : int
        Chunks finished (and saved, if ``folder`` is set) and chunks in the run.
    folder : pathlib.Path or None
        Checkpoint folder holding the finished chunks.
    max_time, spent : float
        The budget and the time spent (s).
    """

    def __init__(self, done: int, total: int, folder, max_time: float, spent: float) -> None:
        where = f"saved in {folder}" if folder is not None else "not saved (no out folder)"
        super().__init__(f"time budget max_time = {max_time:g} s spent ({spent:.3g} s): "
                         f"{done} of {total} chunks finished, {where}")
        self.done, self.total, self.folder = done, total, folder
        self.max_time, self.spent = max_time, spent
