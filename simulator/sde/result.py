"""The result of an SDE ensemble run, and its storage format.

:class:`SDEResult` follows the result protocol (:mod:`simulator.protocol`): ``save(DIR)`` writes
``DIR/result.npz`` (every array and numpy scalar bit for bit, by the declared fields of
:mod:`simulator.resultfields`: ``fixed_point``, ``mean``, ``covariance`` and their errors, the
unit sums, ``chunk_seconds``, kept trajectories, ``lyapunov.covariance``, ``lyapunov.z``, the
shift's and the plain estimate's arrays) and ``DIR/result.json`` (type, format, provenance, every
other field, readable copies of the covariance and its error, SHA-256 checksum over both);
``load`` also reads the folders written before the protocol (format 2,
described below); ``to_dict()`` is the JSON record of the format-2 ``result.json`` plus
``provenance``; ``to_xarray()`` names the dimensions ``mode``, ``mode_i``, ``mode_j``, ``unit``,
``chunk``, ``sample_time``, ``trajectory``; ``to_estimate()`` feeds :func:`simulator.compare.compare`.

Format 2 (directory ``DIR``), written by wgmsim before the result protocol, still read by
:meth:`SDEResult.load`:

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

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..conventions import QUADRATURES, covariance_xxpp as _covariance_xxpp
from ..estimate import Estimate
from ..params import Params
from ..protocol import QUADRATURE_DIMS, ResultProtocol, _stamp
from ..resultfields import saved
from ..statistics import format_log_negativity
from .options import SDEOptions

__all__ = ["SDEResult", "RESULT_FORMAT"]

RESULT_FORMAT = 2


_PLAIN_ARRAYS = ("mean", "mean_stderr", "covariance", "covariance_stderr")


def _nans(v: Any) -> Any:
    """``None`` (a non-finite number in JSON) back to NaN, in nested dicts."""
    if isinstance(v, dict):
        return {k: _nans(x) for k, x in v.items()}
    return np.nan if v is None else v


def _plain_from_saved(plain: dict[str, Any]) -> dict[str, Any]:
    return {**plain, "observables": _nans(plain["observables"])}


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
    if isinstance(out.get("log_negativity_stderr"), dict):  # null: below resolution
        out["log_negativity_stderr"] = {k: np.nan if v is None else v
                                        for k, v in out["log_negativity_stderr"].items()}
    return out


@dataclass(frozen=True, repr=False)
class SDEResult(ResultProtocol):
    """Stationary statistics of an SDE ensemble (dimensionless units, time in ``1/omega_m``).

    Attributes
    ----------
    covariance, covariance_stderr : ndarray, shape (d, d)
        Time-and-ensemble averaged covariance of the fluctuations and its error: the best
        estimate the run has. Plain runs: the sample covariance with its batch-means error.
        With ``control_variate`` (and a stable point): the controlled estimate
        ``V_Lyapunov + dV`` with the jackknife error of ``dV`` (``shift``); the plain one is
        in ``plain``.
    mean, mean_stderr : ndarray, shape (d,)
        Mean fluctuation about the fixed point (full amplitudes: ``fixed_point + mean``);
        with control variates ``<x> - <y>`` (``<y> = 0`` exactly).
    observables : dict
        ``log_negativity``, ``log_negativity_stderr``, ``steering``, ``steering_stderr``
        (jackknife; their unclipped ``*_raw`` forms and ``*_below_resolution`` flags) of
        ``covariance``, for the 6-variable system; empty otherwise.
    lyapunov : dict or None
        The plain estimate against the linearised reference: ``covariance`` (the reference),
        ``z`` (d x d), ``max_abs_z``, ``log_negativity``, ``log_negativity_z``, ``verdict``;
        ``None`` for an unstable system. (A controlled estimate is built on the reference: its
        difference from it is the shift, scored in ``shift``.)
    plain : dict or None
        With control variates: the plain (uncontrolled) estimate, ``mean``, ``mean_stderr``,
        ``covariance``, ``covariance_stderr``, ``observables``, ``uncertainty``; ``None``
        otherwise (the headline is the plain estimate).
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
    escapes : dict or None
        Escapes from the fixed point's basin (:func:`simulator.sde.escapes.summarise`):
        ``tested``, ``radius`` (Mahalanobis), ``count``, ``fraction`` (95 % interval),
        ``initial`` (captures from the initial state, by the end of the burn-in),
        ``stationary``, ``rate`` (per ``1/omega_m``, 95 % interval or upper bound),
        ``lifetime`` (seconds of lab time), ``times``, ``scope``. With escapes ``status`` is
        ``"metastable"`` and every statistic is that of the fixed point's basin. ``None``: a
        result from before the escape test.
    shift : dict or None
        With ``control_variate``: the nonlinear shift ``V_nl - V_Lyapunov`` (``covariance``,
        ``covariance_stderr``), ``controlled_covariance`` ``V_nl``, ``mean``/``mean_stderr``,
        ``z``/``max_abs_z`` and ``log_negativity``/``log_negativity_stderr``
        (``E_N(V_nl) - E_N(V_Lyapunov)``); see :func:`simulator.sde.control.shift_estimate`.
    """

    params: Params | None = saved("input", decode=Params)
    options: SDEOptions = saved("input", decode=SDEOptions)
    seed: int = saved("input")
    seeds: list[dict[str, Any]] = saved("input")
    schedule: dict[str, Any] = saved("record")
    fixed_point: np.ndarray = saved("reference", dims=("mode",), units="1")
    mean: np.ndarray = saved("value", dims=("mode",), units="1")
    mean_stderr: np.ndarray = saved("error", dims=("mode",), units="1")
    covariance: np.ndarray = saved("value", dims=QUADRATURE_DIMS, units="1")
    covariance_stderr: np.ndarray = saved("error", dims=QUADRATURE_DIMS, units="1")
    observables: dict[str, Any] = saved("value", decode=_nans)
    lyapunov: dict[str, Any] | None = saved("reference")
    diverged: int = saved("outcome")
    unit_s1: np.ndarray = saved("record", dims=("unit", "mode"), units="1")
    unit_s2: np.ndarray = saved("record", dims=("unit",) + QUADRATURE_DIMS, units="1")
    unit_counts: np.ndarray = saved("record", dims=("unit",), units="1")
    chunk_seconds: np.ndarray = saved("record", dims=("chunk",), units="s")
    timing: dict[str, float] = saved("record")
    versions: dict[str, str] = saved("record")
    status: str = saved("outcome", default="ok")
    message: str = saved("outcome", default="")
    error_check: dict[str, float] | None = saved("error", default=None)
    trajectories: np.ndarray | None = saved("record", dims=("sample_time", "trajectory", "mode"),
                                            units="1", default=None, repr=False)
    trajectory_times: np.ndarray | None = saved("record", coord="sample_time",
                                                units="1/omega_m", default=None, repr=False)
    flags: tuple[str, ...] = saved("outcome", default=(), decode=tuple)
    stderr_t_factor: float = saved("record", default=1.0)
    uncertainty: dict[str, float] | None = saved("outcome", default=None)
    timestamp: str = saved("record", default="")
    shift: dict[str, Any] | None = saved("value", default=None, decode=_shift_from_record)
    plain: dict[str, Any] | None = saved("value", default=None, decode=_plain_from_saved)
    escapes: dict[str, Any] | None = saved("outcome", default=None)

    @property
    def log_negativity(self) -> dict[str, float] | None:
        return self.observables.get("log_negativity")

    @property
    def log_negativity_stderr(self) -> dict[str, float] | None:
        return self.observables.get("log_negativity_stderr")

    @property
    def linear_covariance(self) -> np.ndarray | None:
        """The linearised reference covariance (``lyapunov["covariance"]``), shape (d, d);
        ``None`` for an unstable system. The name every result gives its reference."""
        return None if self.lyapunov is None else self.lyapunov["covariance"]

    @property
    def z(self) -> np.ndarray | None:
        """Scores of the plain estimate against :attr:`linear_covariance`
        (``lyapunov["z"]``), shape (d, d), as ``RingupResult.z``."""
        return None if self.lyapunov is None else self.lyapunov["z"]

    @property
    def n_units(self) -> int:
        """Statistical units (chunk x batch) with samples."""
        return int((self.unit_counts > 0).sum())

    def __str__(self) -> str:
        lines = [f"SDEResult({self.options.method}, dt={self.options.dt}, "
                 f"n_traj={self.options.n_traj}, status={self.status!r}, diverged={self.diverged})"]
        how = " (control variates)" if self.plain else ""
        esc = self.escapes
        if esc and esc["count"]:
            how += " [fixed point's basin]"
            lines.append(f"  escapes: {esc['count']} of {esc['n_traj']} left the fixed point's "
                         f"basin (radius {esc['radius']:.3g} sigma): "
                         f"{esc['initial']['count']} captured from the initial state, "
                         f"{esc['stationary']['count']} stationary")
        if self.log_negativity:
            lines.append(f"  E_N{how}: " + format_log_negativity(self.observables))
        if self.lyapunov:
            which = "plain estimate" if self.plain else "covariance"
            lines.append(f"  {which} vs Lyapunov: max |z| = {self.lyapunov['max_abs_z']:.2f} "
                         f"-> {self.lyapunov['verdict']}")
        return "\n".join(lines)

    def __post_init__(self) -> None:
        stamp = _stamp()
        if self.versions:
            stamp["versions"] = dict(self.versions)
        if self.timestamp:
            stamp["timestamp"] = self.timestamp
        object.__setattr__(self, "_stamp", stamp)

    # ---- Gaussian state and comparison -------------------------------------------------------
    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """The covariance in thewalrus / Strawberry Fields form: order ``(x_r, x_l, x_m, p_r,
        p_l, p_m)``, vacuum ``hbar/2`` (:func:`simulator.conventions.covariance_xxpp`)."""
        return _covariance_xxpp(self.covariance, hbar)

    def to_estimate(self, *, controlled: bool = False) -> Estimate:
        """The ensemble as an :class:`~simulator.compare.Estimate`: covariance with its
        (Student-t widened) error, E_N and steering with their jackknife errors, and ``info``
        with the estimator, trajectories, step, method, diverged count, statistical units
        (``n_units``) and status.

        By default the plain estimate, which is independent of the Lyapunov reference
        :func:`simulator.compare.compare` scores it against; ``controlled=True`` gives the
        headline (``V_Lyapunov + dV`` of a control-variate run, built on that reference: score
        it against another engine, e.g. the master equation, not against Lyapunov).

        Raises
        ------
        ValueError
            Not the 6-variable optomechanical system (no E_N or steering).
        """
        use_plain = self.plain is not None and not controlled
        src = self.plain if use_plain else {"covariance": self.covariance,
                                            "covariance_stderr": self.covariance_stderr,
                                            "observables": self.observables}
        obs = src["observables"]
        if not obs:
            raise ValueError("to_estimate: needs the 6-variable optomechanical system (this "
                             f"result has d = {len(self.mean)} and no E_N or steering)")
        scalars = {f"E_N[{k}]": v for k, v in obs["log_negativity"].items()}
        scalars.update({f"steering[{k}]": v for k, v in obs["steering"].items()})
        errs = {f"E_N[{k}]": v for k, v in obs["log_negativity_stderr"].items()}
        errs.update({f"steering[{k}]": v for k, v in obs["steering_stderr"].items()})
        info = {"estimator": ("plain" if self.plain is None or use_plain else
                              f"control variates, order {self.shift.get('order', 1)}"),
                "trajectories": self.options.n_traj, "dt": self.options.dt,
                "method": self.options.method, "diverged": self.diverged,
                "statistical units": self.n_units, "n_units": self.n_units,
                "status": self.status}
        if self.escapes and self.escapes["count"]:
            info["scope"] = "fixed point's basin"
            info["escapes"] = self.escapes["count"]
        if self.error_check:
            info["step-size check (dt vs dt/2, same noise): relative change of <x x^T>"] = \
                self.error_check["second_moment_relative_difference"]
        return Estimate("sde", src["covariance"], src["covariance_stderr"], scalars, errs,
                        "stderr", info, **_unclipped_estimates(obs))

    # ---- result protocol (simulator.protocol) ------------------------------------------------
    _file_name = "result"
    _legacy_format = RESULT_FORMAT  # result.json/npz of wgmsim before the result protocol

    def _record(self) -> dict[str, Any]:
        """JSON-ready record (see the module docstring); ``to_dict()`` adds ``provenance``."""
        return {
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
            "quadratures": list(QUADRATURES)[: len(self.mean)],
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
            "plain": self.plain,
            "escapes": self.escapes,
        }

    @classmethod
    def _upgrade(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Files of wgmsim before the declared fields kept the reference's scores in
        ``result.npz`` with nothing in their place in the JSON: read them as numbers."""
        lyap = meta.get("lyapunov")
        if lyap is not None and "max_abs_z" not in lyap:
            pairs = [k.rsplit(".", 1)[1] for k in arrays
                     if k.startswith("lyapunov.log_negativity_z.")]
            meta["lyapunov"] = {**lyap, "max_abs_z": None,
                                **({"log_negativity_z": dict.fromkeys(pairs)} if pairs else {})}
        return meta, arrays

    def _meta(self) -> dict[str, Any]:
        # readable copies in result.json (the arrays in result.npz are what load() uses)
        return {**super()._meta(), "quadratures": list(QUADRATURES)[: len(self.mean)],
                "covariance": self.covariance.tolist(),
                "covariance_stderr": self.covariance_stderr.tolist()}

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        out = super()._xarray_vars()
        if self.lyapunov is not None:  # the linearised reference and the scores against it
            ref = self.lyapunov
            out["lyapunov_covariance"] = (QUADRATURE_DIMS, np.asarray(ref["covariance"]))
            out["lyapunov_z"] = (QUADRATURE_DIMS, np.asarray(ref["z"]))
            out["lyapunov_max_abs_z"] = ((), np.asarray(float(ref["max_abs_z"])))
            for pair, z in (ref.get("log_negativity_z") or {}).items():
                out[f"lyapunov_log_negativity_z_{pair}"] = ((), np.asarray(float(z)))
        for k in _PLAIN_ARRAYS if self.plain is not None else ():
            out[f"plain_{k}"] = (("mode",) if k.startswith("mean") else QUADRATURE_DIMS,
                                 np.asarray(self.plain[k]))
        return out

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        out = super()._xarray_attrs()
        for k in self._xarray_vars():  # the linearised reference and its z-scores
            if k.startswith(("lyapunov_", "shift_")):
                out[k] = {"units": "1"}
        return out

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.options.method, "dt": self.options.dt,
                               "n_traj": self.options.n_traj, "n_units": self.n_units}
        if self.log_negativity:
            out["E_N[r_m]"] = self.log_negativity["r_m"]
            out["stderr"] = self.log_negativity_stderr["r_m"]
        if self.lyapunov:
            out["max_abs_z"] = self.lyapunov["max_abs_z"]
        out["diverged"] = self.diverged
        out["status"] = self.status
        return out

    @classmethod
    def _from_legacy(cls, meta: dict[str, Any], data: dict[str, np.ndarray]) -> "SDEResult":
        """A format-2 folder (module docstring): its arrays as JSON lists and the E_N and
        steering entries at the top level, moved to where the declared fields have them."""
        arr = lambda v: np.array(_nan_list(v), dtype=float)  # noqa: E731
        arrays = {**data, **{k: arr(meta.pop(k)) for k in
                             ("fixed_point", "mean", "mean_stderr", "covariance",
                              "covariance_stderr")}}
        lyap = meta.get("lyapunov")
        if lyap is not None:
            meta["lyapunov"] = {k: v for k, v in lyap.items() if k not in ("covariance", "z")}
            arrays.update({f"lyapunov.{k}": arr(lyap[k]) for k in ("covariance", "z")})
        meta["observables"] = {k: meta.pop(k) for k in [
            f"{n}{s}" for n in ("log_negativity", "steering")
            for s in ("", "_stderr", "_raw", "_raw_stderr", "_below_resolution")] if k in meta}
        meta.pop("plain", None)  # format 2 had no plain estimate
        return cls._from_saved(meta, arrays)

def _unclipped_estimates(obs: dict[str, Any]) -> dict[str, Any]:
    """The unclipped E_N / steering of ``obs`` and the keys below resolution (issue 13)."""
    raw, raw_err, below = {}, {}, []
    for name, label in (("log_negativity", "E_N"), ("steering", "steering")):
        raw.update({f"{label}[{k}]": v for k, v in obs.get(f"{name}_raw", {}).items()})
        raw_err.update({f"{label}[{k}]": v
                        for k, v in obs.get(f"{name}_raw_stderr", {}).items()})
        flags = obs.get(f"{name}_below_resolution")
        if flags is None:  # a result from before the unclipped estimates: zero means clipped
            flags = {k: v == 0.0 for k, v in obs[name].items()}
        below += [f"{label}[{k}]" for k, v in flags.items() if v]
    return {"raw_scalars": raw, "raw_scalars_err": raw_err, "below_resolution": tuple(below)}
