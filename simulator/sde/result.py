"""The result of an SDE ensemble run, and its storage format.

Format (directory ``DIR``), written by :meth:`SDEResult.save` and read by :meth:`SDEResult.load`:

* ``DIR/result.json`` -- every scalar and small matrix: ``params`` (as :meth:`Params.to_dict`,
  or ``null`` for a bare :class:`LangevinSystem`), ``options``, ``schedule``, ``seed`` and the
  per-chunk ``seeds`` (entropy and spawn key), ``covariance`` and ``covariance_stderr`` (6x6,
  order ``X_r, Y_r, X_l, Y_l, q, p``), ``mean``/``mean_stderr`` of the fluctuations,
  ``log_negativity``/``log_negativity_stderr`` and ``steering``/``steering_stderr``,
  ``lyapunov`` (the linearised reference, z-scores and verdict), ``diverged``, ``timing``,
  ``versions`` (:func:`simulator.resultio.versions`), ``timestamp`` (UTC, ISO 8601), ``status``,
  ``flags`` (every non-ok status that applies), ``message``, ``stderr_t_factor`` (the Student-t
  widening already applied to every ``*_stderr``), ``uncertainty`` (smallest eigenvalue of
  ``V + i Omega/2`` and its error, optomechanical system only), ``error_check``, ``shift``
  (control-variate nonlinear shift or ``null``), ``format``,
  and ``checksum`` (SHA-256 of ``result.npz`` and this JSON, see :mod:`simulator.resultio`).
* ``DIR/result.npz`` -- the arrays: ``unit_s1 (n_units, d)``, ``unit_s2 (n_units, d, d)``,
  ``unit_counts (n_units,)`` (per chunk and batch, chunk-major), ``chunk_seconds``, and, if kept,
  ``trajectories (n_t, k, d)`` with ``trajectory_times (n_t,)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..jsonio import to_jsonable
from ..params import Params
from ..resultio import read_result, write_result
from .options import SDEOptions

__all__ = ["SDEResult", "RESULT_FORMAT"]

RESULT_FORMAT = 2


@dataclass(frozen=True)
class SDEResult:
    """Stationary statistics of an SDE ensemble (dimensionless units, time in ``1/omega_m``).

    Attributes
    ----------
    covariance, covariance_stderr : ndarray, shape (d, d)
        Time-and-ensemble averaged covariance of the fluctuations and its batch-means error.
    mean, mean_stderr : ndarray, shape (d,)
        Mean fluctuation about the fixed point (full amplitudes: ``fixed_point + mean``).
    observables : dict
        ``log_negativity``, ``log_negativity_stderr``, ``steering``, ``steering_stderr``
        (jackknife), for the 6-variable system; empty otherwise.
    lyapunov : dict or None
        Linearised reference: ``covariance``, ``z`` (d x d), ``max_abs_z``, ``log_negativity``,
        ``log_negativity_z``, ``verdict``; ``None`` for an unstable system.
    diverged : int
        Trajectories that blew up (left out from the block where it happened on).
    status : str
        ``"ok"`` or the most severe of ``flags`` (see :mod:`simulator.errors`).
    flags : tuple of str
        Every non-ok status that applies (``"diverged"``, ``"unstable"``, ``"unphysical"``,
        ``"few_units"``); ``message`` gives the reasons.
    stderr_t_factor : float
        Student-t factor already applied to every standard error (see
        :func:`simulator.sde.engine.student_t_factor`).
    uncertainty : dict or None
        ``min_eigenvalue`` of ``V + i Omega / 2`` (negative: unphysical) and its ``stderr``.
    shift : dict or None
        With ``control_variate``: the nonlinear shift ``V_nl - V_Lyapunov`` (``covariance``,
        ``covariance_stderr``), ``controlled_covariance`` ``V_nl``, ``mean``/``mean_stderr``,
        ``z``/``max_abs_z`` and ``log_negativity``/``log_negativity_stderr``
        (``E_N(V_nl) - E_N(V_Lyapunov)``); see :func:`simulator.sde.control.shift_estimate`.
    """

    params: Params | None
    options: SDEOptions
    seed: int
    seeds: list[dict[str, Any]]
    schedule: dict[str, Any]
    fixed_point: np.ndarray
    mean: np.ndarray
    mean_stderr: np.ndarray
    covariance: np.ndarray
    covariance_stderr: np.ndarray
    observables: dict[str, Any]
    lyapunov: dict[str, Any] | None
    diverged: int
    unit_s1: np.ndarray
    unit_s2: np.ndarray
    unit_counts: np.ndarray
    chunk_seconds: np.ndarray
    timing: dict[str, float]
    versions: dict[str, str]
    status: str = "ok"
    message: str = ""
    error_check: dict[str, float] | None = None
    trajectories: np.ndarray | None = field(default=None, repr=False)
    trajectory_times: np.ndarray | None = field(default=None, repr=False)
    flags: tuple[str, ...] = ()
    stderr_t_factor: float = 1.0
    uncertainty: dict[str, float] | None = None
    timestamp: str = ""
    shift: dict[str, Any] | None = None

    @property
    def log_negativity(self) -> dict[str, float] | None:
        return self.observables.get("log_negativity")

    @property
    def log_negativity_stderr(self) -> dict[str, float] | None:
        return self.observables.get("log_negativity_stderr")

    @property
    def n_units(self) -> int:
        """Statistical units (chunk x batch) with samples."""
        return int((self.unit_counts > 0).sum())

    def __str__(self) -> str:
        lines = [f"SDEResult({self.options.method}, dt={self.options.dt}, "
                 f"n_traj={self.options.n_traj}, status={self.status!r}, diverged={self.diverged})"]
        if self.log_negativity:
            lines.append("  E_N: " + ", ".join(
                f"{k} {v:.4f} +- {self.log_negativity_stderr[k]:.4f}"
                for k, v in self.log_negativity.items()))
        if self.lyapunov:
            lines.append(f"  vs Lyapunov: max |z| = {self.lyapunov['max_abs_z']:.2f} "
                         f"-> {self.lyapunov['verdict']}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (see the module docstring)."""
        return to_jsonable({
            "format": RESULT_FORMAT,
            "status": self.status,
            "flags": list(self.flags),
            "message": self.message,
            "stderr_t_factor": self.stderr_t_factor,
            "uncertainty": self.uncertainty,
            "timestamp": self.timestamp,
            "params": None if self.params is None else self.params.to_dict(),
            "options": self.options.to_dict(),
            "schedule": self.schedule,
            "seed": self.seed,
            "seeds": self.seeds,
            "quadratures": ["X_r", "Y_r", "X_l", "Y_l", "q", "p"][: len(self.mean)],
            "fixed_point": self.fixed_point,
            "mean": self.mean,
            "mean_stderr": self.mean_stderr,
            "covariance": self.covariance,
            "covariance_stderr": self.covariance_stderr,
            **self.observables,
            "lyapunov": self.lyapunov,
            "diverged": self.diverged,
            "n_units": self.n_units,
            "timing": self.timing,
            "versions": self.versions,
            "error_check": self.error_check,
            "shift": self.shift,
        })

    def save(self, directory: str | Path) -> Path:
        """Write ``result.json`` and ``result.npz`` (checksummed together, atomically) into
        ``directory`` (created); returns it."""
        arrays = dict(unit_s1=self.unit_s1, unit_s2=self.unit_s2, unit_counts=self.unit_counts,
                      chunk_seconds=self.chunk_seconds)
        if self.trajectories is not None:
            arrays["trajectories"] = self.trajectories
            arrays["trajectory_times"] = self.trajectory_times
        return write_result(directory, "result", self.to_dict(), arrays)

    @classmethod
    def load(cls, directory: str | Path) -> "SDEResult":
        """Read a result written by :meth:`save`.

        Raises
        ------
        ResultFileError
            A file is missing, unreadable, of another format, or fails the checksum (modified,
            or ``result.json`` and ``result.npz`` from different saves); the message names it.
        """
        from ..errors import ResultFileError

        d = Path(directory)
        meta, data = read_result(d, "result")
        if meta.get("format") != RESULT_FORMAT:
            raise ResultFileError(f"{d / 'result.json'}: result format {meta.get('format')!r}, "
                                  f"expected {RESULT_FORMAT}")
        try:
            return cls._from_record(meta, data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultFileError(f"{d / 'result.json'}: inconsistent result record "
                                  f"({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_record(cls, meta: dict[str, Any], data: dict[str, np.ndarray]) -> "SDEResult":
        params = None if meta["params"] is None else Params.from_dict(meta["params"])
        obs_keys = ("log_negativity", "log_negativity_stderr", "steering", "steering_stderr")
        nan = lambda v: np.nan if v is None else v  # noqa: E731
        arr = lambda v: np.array(v if v is None else _nan_list(v), dtype=float)  # noqa: E731
        lyap = meta["lyapunov"]
        if lyap is not None:
            lyap = dict(lyap)
            for k in ("covariance", "z"):
                lyap[k] = arr(lyap[k])
        return cls(
            params=params,
            options=SDEOptions.from_dict(meta["options"]),
            seed=meta["seed"],
            seeds=meta["seeds"],
            schedule=meta["schedule"],
            fixed_point=arr(meta["fixed_point"]),
            mean=arr(meta["mean"]),
            mean_stderr=arr(meta["mean_stderr"]),
            covariance=arr(meta["covariance"]),
            covariance_stderr=arr(meta["covariance_stderr"]),
            observables={k: {kk: nan(vv) for kk, vv in meta[k].items()}
                         for k in obs_keys if k in meta},
            lyapunov=lyap,
            diverged=int(meta["diverged"]),
            unit_s1=data["unit_s1"], unit_s2=data["unit_s2"], unit_counts=data["unit_counts"],
            chunk_seconds=data["chunk_seconds"],
            timing=meta["timing"],
            versions=meta["versions"],
            status=meta["status"],
            message=meta["message"],
            error_check=meta["error_check"],
            trajectories=data.get("trajectories"),
            trajectory_times=data.get("trajectory_times"),
            flags=tuple(meta["flags"]),
            stderr_t_factor=float(meta["stderr_t_factor"]),
            uncertainty=meta["uncertainty"],
            timestamp=meta["timestamp"],
            shift=_shift_from_record(meta.get("shift")),
        )


def _nan_list(v: Any) -> Any:
    if isinstance(v, list):
        return [_nan_list(x) for x in v]
    return np.nan if v is None else v


def _shift_from_record(shift: dict[str, Any] | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    out = dict(shift)
    for k in ("covariance", "covariance_stderr", "controlled_covariance", "mean", "mean_stderr",
              "z"):
        if k in out:
            out[k] = np.array(_nan_list(out[k]), dtype=float)
    if out.get("max_abs_z") is None:
        out["max_abs_z"] = np.nan
    return out
