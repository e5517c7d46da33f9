"""Ring-up: the transient from an empty cavity, as an SDE ensemble against the linearised theory.

At ``t = 0`` the cavity is empty (optical vacuum, Wigner variance 1/2 per quadrature) and the
mechanics thermal (``n_m + 1/2``) at ``q = p = 0``; the drive at the bare detuning of the
requested fixed point is switched on, optionally ramped linearly over ``ramp_time``. The full
amplitudes are split exactly as ``u = ubar(t) + x``: ``ubar`` solves the plain mean-field equations
(Eq. 3 without noise or Wigner correction; integrated to ``rtol = 1e-10``), and the fluctuations

    dx = (A(t) x + N(x)) dt + dW,     A(t) = drift_matrix_along(ubar(t)),

keep every nonlinear term (the same remainder ``N`` as about the fixed point, since the drift is
quadratic). This is a :class:`~simulator.sde.system.LangevinSystem` with a time-dependent drift
(``drift_at``), and it runs through the stationary engine's machinery unchanged: the integrators of
:data:`~simulator.sde.integrators.METHODS` (``exponential`` freezes ``A`` at each step's midpoint
with the exact step-noise covariance of that matrix), the chunk loop, seeding
(``SeedSequence(seed).spawn(n_chunks)``), checkpoints (``out=DIR``: run id, lock, checksums) and
divergence handling of :mod:`simulator.sde.ensemble`, with a time-resolved schedule: each chunk
returns the sums ``sum x``, ``sum x x^T`` and the counts at every output time (memory grows with
the number of outputs, not of steps). Errors are across chunks (batch means over chunks for the
covariance, delete-one jackknife for ``E_N(t)``), widened by the Student-t factor of the stationary
engine; z-scores against :func:`simulator.linear.covariance_evolution` from the same initial state
come from :func:`simulator.sde.estimators.z_scores`.

Control variates (``control_variate=True``): alongside each nonlinear trajectory the chunk loop
integrates the linearised SDE about the same mean-field path on the same noise from the same
sample (the augmented system of :mod:`simulator.sde.control`, drift ``blockdiag(A(t), ...)``), and

    V_nl(t) = V_lin(t) + <x x^T - y y^T>(t),

``V_lin`` the linear reference above; errors by delete-one jackknife over the chunks of the
difference (and of ``dE_N(t)``), widened by the same Student-t factor. They land in
:attr:`RingupResult.shift`; the plain statistics (``covariance``, ``log_negativity``) are those of
``x`` and do not change.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..conventions import PAIRS, QUADRATURES, covariance_xxpp as _covariance_xxpp
from ..errors import MIN_UNITS, AllDivergedError, StabilityWarning, StatisticsWarning
from ..linear import covariance_evolution
from ..model import Rates, diffusion_matrix, drift_matrix_about, mean_field, nonlinear_drift
from ..observables import log_negativity
from ..params import Params
from ..progress import as_callback
from ..protocol import ResultProtocol
from .control import control_options, control_order, control_system, shift_estimate
from .engine import student_t_factor
from .ensemble import (
    Schedule,
    check_resources,
    check_run_arguments,
    effective_workers,
    initial_moments,
    run_chunks,
    seed_records,
)
from .estimators import batch_means_stderr, jackknife, max_abs, pooled_covariance, z_scores
from .integrators import METHODS, ExponentialEuler
from .options import SDEOptions, _positive, check_steps
from .system import LangevinSystem, OptomechanicalRemainder

__all__ = ["RingupOptions", "RingupResult", "simulate_ringup", "ringup_system", "MeanFieldPath"]

#: Version of the files written by the ring-up before the result protocol (still read).
RINGUP_FORMAT = 2


@dataclass(frozen=True, kw_only=True)
class RingupOptions:
    """How a ring-up ensemble is run (times in ``1/omega_m``).

    Parameters
    ----------
    method : str
        Integrator, a key of :data:`~simulator.sde.integrators.METHODS` (the same table as the
        stationary engine).
    dt : float
    n_traj, chunk_size : int
        Trajectories, and trajectories per chunk (chunks fix the seeds and the error bars).
    t_final : float
        End of the run.
    output_every : float
        Time between outputs of the ensemble mean and covariance (a multiple of ``dt``).
    ramp_time : float
        Linear ramp of the drive from 0 to 1 over this time (0: switched on at ``t = 0``).
    bound : float
        Divergence bound on ``|x_k|``.
    wigner_correction : bool
    control_variate : bool
        Also integrate the linearised SDE on the same noise and report the nonlinear shift
        ``V_nl(t) - V_lin(t)`` and ``dE_N(t)`` with their errors (:attr:`RingupResult.shift`);
        about 3x the work per step.
    """

    method: str = "exponential"
    dt: float = 0.05
    n_traj: int = 256
    chunk_size: int = 32
    t_final: float = 200.0
    output_every: float = 1.0
    ramp_time: float = 0.0
    bound: float = 1e6
    wigner_correction: bool = True
    control_variate: bool = False

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if self.method not in METHODS:
            raise ValueError(f"method = {self.method!r}: must be one of {sorted(METHODS)}")
        for name in ("dt", "t_final", "output_every", "bound"):
            put(name, _positive(name, getattr(self, name)))
        put("ramp_time", _positive("ramp_time", self.ramp_time, allow_zero=True))
        for name in ("n_traj", "chunk_size"):
            put(name, _positive(name, getattr(self, name), integer=True))
        for name in ("wigner_correction", "control_variate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be a bool")
        for name in ("t_final", "output_every"):
            check_steps(name, getattr(self, name), self.dt)
        ratio = self.output_every / self.dt
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"output_every = {self.output_every!r}: must be a multiple of "
                             f"dt = {self.dt!r}")
        if self.n_outputs < 1:
            raise ValueError(f"t_final = {self.t_final!r}: shorter than output_every = "
                             f"{self.output_every!r}")

    @property
    def n_chunks(self) -> int:
        return -(-self.n_traj // self.chunk_size)

    @property
    def steps_per_output(self) -> int:
        return int(round(self.output_every / self.dt))

    @property
    def n_outputs(self) -> int:
        """Output times after ``t = 0`` (the last one at or before ``t_final``)."""
        return int(np.floor(self.t_final / self.output_every + 1e-9))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def sde_options(self, initial: str = "thermal") -> SDEOptions:
        """The same run in the stationary engine's terms (what the chunk loop reads)."""
        every = self.steps_per_output
        return SDEOptions(method=self.method, dt=self.dt, n_traj=self.n_traj,
                          chunk_size=self.chunk_size, t_burn=0.0,
                          t_avg=self.n_outputs * every * self.dt, batch_time=every * self.dt,
                          sample_every=every, initial=initial, bound=self.bound,
                          wigner_correction=self.wigner_correction, allow_unstable=True)

    def schedule(self) -> Schedule:
        """Time-resolved schedule: the initial state and one sample every ``output_every``."""
        every = self.steps_per_output
        return Schedule(dt=self.dt, n_burn=0, n_batches=self.n_outputs, steps_per_batch=every,
                        samples_per_batch=1, sample_every=every, n_chunks=self.n_chunks,
                        bound=self.bound, correlation_time=None, record_initial=True)


# ---- the time-dependent system -----------------------------------------------------------------
class DriveRamp:
    """Drive amplitude factor ``min(1, t / ramp)`` (1 for ``ramp = 0``); picklable."""

    def __init__(self, ramp: float) -> None:
        self.ramp = float(ramp)

    def __call__(self, t: float) -> float:
        return 1.0 if self.ramp <= 0 else min(1.0, t / self.ramp)


class MeanFieldPath:
    """``ubar(t)``: the plain mean-field equations from an empty cavity (``u = 0``), solved to
    ``rtol = 1e-10`` on ``[0, t_end]`` in pieces split at the end of the ramp. Calling it with
    times ``(k,)`` gives ``(k, 6)``; picklable (it travels to joblib workers)."""

    def __init__(self, rates: Rates, bare: float, t_end: float, ramp: float) -> None:
        from scipy.integrate import solve_ivp  # lazy: scipy.integrate is most of the import time

        self.scale = scale = DriveRamp(ramp)

        def rhs(t, u):
            return nonlinear_drift(rates, u, bare, drive_scale=scale(t), wigner_correction=False)

        cuts = [0.0, ramp, t_end] if 0 < ramp < t_end else [0.0, t_end]
        u = np.zeros(6)
        atol = 1e-10 * max(1.0, float(np.abs(mean_field(rates).vector()).max()))
        self.pieces = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            sol = solve_ivp(rhs, (a, b), u, method="DOP853", rtol=1e-10, atol=atol,
                            dense_output=True)
            if not sol.success:
                raise RuntimeError(f"ring-up mean field: {sol.message}")
            self.pieces.append((a, b, sol.sol))
            u = sol.y[:, -1]
        self.t_end = float(t_end)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.empty((len(t), 6))
        todo = np.ones(len(t), dtype=bool)
        for a, b, sol in self.pieces:
            sel = todo & (t <= b + 1e-12)
            if sel.any():
                out[sel] = sol(np.clip(t[sel], a, b)).T
                todo &= ~sel
        if todo.any():  # beyond t_end (a step's last node): hold the final value
            out[todo] = self.pieces[-1][2](self.pieces[-1][1])
        return out


class PathDrift:
    """``A(t) = drift_matrix_along(ubar(t))`` for times ``(k,)``, shape ``(k, 6, 6)``."""

    def __init__(self, rates: Rates, bare: float, path: MeanFieldPath) -> None:
        self.rates, self.bare, self.path = rates, float(bare), path

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return np.asarray(drift_matrix_about(self.rates, self.path(t), self.bare))


def ringup_system(params: Params, options: RingupOptions) -> tuple[LangevinSystem, MeanFieldPath]:
    """The fluctuations about the mean-field path from an empty cavity, as a time-dependent
    :class:`LangevinSystem` (``drift_at`` = :class:`PathDrift`), and the path."""
    rates = Rates.from_params(params)
    bare = float(mean_field(rates).bare_detuning)
    t_end = options.n_outputs * options.steps_per_output * options.dt
    path = MeanFieldPath(rates, bare, t_end, options.ramp_time)
    drift = PathDrift(rates, bare, path)
    remainder = OptomechanicalRemainder.of(rates, wigner_correction=options.wigner_correction)
    system = LangevinSystem(A=drift(np.zeros(1))[0], D=diffusion_matrix(rates),
                            nonlinearity=remainder, rates=rates, bare_detuning=bare,
                            drift_at=drift)
    return system, path


# ---- result -------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class RingupResult(ResultProtocol):
    """Ensemble statistics against time (saved as ``DIR/ringup.npz`` + ``DIR/ringup.json``).

    Attributes
    ----------
    params : Params or None
        ``None`` for a run of an explicit :class:`LangevinSystem`.
    seed : int
    seeds : list of dict
        Entropy and spawn key of each chunk's stream (``SeedSequence(seed).spawn(n_chunks)``).
    t : ndarray, shape (n_t,)
        Output times (``1/omega_m``), ``t[0] = 0``.
    mean_field : ndarray, shape (n_t, d)
        The deterministic path ``ubar(t)``.
    mean, mean_stderr : ndarray, shape (n_t, d)
        Ensemble mean of the full amplitudes ``ubar + <x>`` and its error (across chunks).
    covariance, covariance_stderr : ndarray, shape (n_t, d, d)
    linear_covariance : ndarray, shape (n_t, d, d)
        :func:`~simulator.linear.covariance_evolution` from the same initial state.
    z : ndarray, shape (n_t, d, d)
        ``(covariance - linear_covariance) / covariance_stderr``
        (:func:`~simulator.sde.estimators.z_scores`: 0 or inf where the error is 0).
    observables : dict
        ``log_negativity`` and ``log_negativity_stderr`` (jackknife over chunks), each a dict of
        pair -> ndarray (n_t,); empty unless ``d = 6``.
    unit_s1, unit_s2, unit_counts : ndarray
        Per-chunk sums at the output times: ``(n_chunks, n_t, d)``, ``(n_chunks, n_t, d, d)``,
        ``(n_chunks, n_t)``.
    diverged : int
    status, flags, message
        ``"ok"``, or the most severe of ``"diverged"``, ``"few_units"`` (all in ``flags``).
    stderr_t_factor : float
        Student-t widening already applied to every error (as in the stationary engine).
    shift : dict or None
        With control variates: ``covariance`` and ``covariance_stderr`` ``(n_t, d, d)``, the
        nonlinear shift ``V_nl(t) - V_lin(t)`` and its jackknife error; ``log_negativity`` and
        ``log_negativity_stderr``, pair -> ``(n_t,)``, ``E_N(V_lin + dV) - E_N(V_lin)`` (only for
        the optomechanical system); ``order`` (1 or 2, see :mod:`simulator.sde.control`).
        ``None`` without.
    """

    params: Params | None
    options: RingupOptions
    seed: int
    seeds: list[dict[str, Any]]
    schedule: dict[str, Any]
    t: np.ndarray
    mean_field: np.ndarray
    mean: np.ndarray
    mean_stderr: np.ndarray
    covariance: np.ndarray
    covariance_stderr: np.ndarray
    linear_covariance: np.ndarray
    z: np.ndarray
    observables: dict[str, dict[str, np.ndarray]]
    unit_s1: np.ndarray
    unit_s2: np.ndarray
    unit_counts: np.ndarray
    chunk_seconds: np.ndarray
    diverged: int
    timing: dict[str, float]
    status: str = "ok"
    flags: tuple[str, ...] = ()
    message: str = ""
    stderr_t_factor: float = 1.0
    shift: dict[str, Any] | None = None

    # ---- physics ---------------------------------------------------------------------------
    @property
    def photon_number(self) -> dict[str, np.ndarray]:
        """``<a^dag a> = (<X>^2 + <Y>^2 + V_XX + V_YY)/2 - 1/2`` per optical mode, shape (n_t,)."""
        m, V = self.mean, self.covariance
        return {k: 0.5 * (m[:, i] ** 2 + m[:, i + 1] ** 2 + V[:, i, i] + V[:, i + 1, i + 1]) - 0.5
                for k, i in (("r", 0), ("l", 2))}

    @property
    def phonon_number(self) -> np.ndarray:
        """Phonons in the fluctuations, ``(V_qq + V_pp)/2 - 1/2``, shape (n_t,)."""
        V = self.covariance
        return 0.5 * (V[:, 4, 4] + V[:, 5, 5]) - 0.5

    @property
    def log_negativity(self) -> dict[str, np.ndarray]:
        """``E_N(t)`` of the ensemble covariance, per pair, shape (n_t,)."""
        return self.observables.get("log_negativity") or log_negativity(self.covariance)

    @property
    def log_negativity_stderr(self) -> dict[str, np.ndarray] | None:
        """Jackknife error (over chunks) of ``E_N(t)``, per pair."""
        return self.observables.get("log_negativity_stderr")

    @property
    def max_abs_z(self) -> float:
        iu = np.triu_indices(self.z.shape[-1])
        return max_abs(self.z[:, iu[0], iu[1]])

    @property
    def n_units(self) -> int:
        """Chunks with samples at every output time (the units of the error bars)."""
        return int((self.unit_counts > 0).all(axis=1).sum()) if self.unit_counts.size else 0

    @property
    def versions(self) -> dict[str, str]:
        """Versions of Python, wgmsim and its dependencies (from :attr:`provenance`)."""
        return self.provenance["versions"]

    @property
    def timestamp(self) -> str:
        """UTC time the result was made (ISO 8601)."""
        return self.provenance["timestamp"]

    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """The covariance at every output time in thewalrus / Strawberry Fields form, shape
        ``(n_t, 6, 6)`` (:func:`simulator.conventions.covariance_xxpp`)."""
        return _covariance_xxpp(self.covariance, hbar)

    # ---- result protocol ---------------------------------------------------------------------
    _file_name = "ringup"
    _legacy_format = RINGUP_FORMAT  # ringup.json/npz of wgmsim before the result protocol
    _ARRAYS = ("t", "mean_field", "mean", "mean_stderr", "covariance", "covariance_stderr",
               "linear_covariance", "z", "unit_s1", "unit_s2", "unit_counts", "chunk_seconds")

    def _arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        for name, per_pair in self.observables.items():
            for pair, v in per_pair.items():
                out[f"{name}.{pair}"] = np.asarray(v)
        for key, v in (self.shift or {}).items():
            if isinstance(v, dict):
                for pair, w in v.items():
                    out[f"shift.{key}.{pair}"] = np.asarray(w)
            elif key != "order":
                out[f"shift.{key}"] = np.asarray(v)
        return out

    def _meta(self) -> dict[str, Any]:
        return {"params": None if self.params is None else self.params.to_dict(),
                "options": self.options.to_dict(), "seed": self.seed, "seeds": self.seeds,
                "schedule": self.schedule, "diverged": self.diverged, "timing": self.timing,
                "status": self.status, "flags": list(self.flags), "message": self.message,
                "stderr_t_factor": self.stderr_t_factor,
                "shift_order": None if self.shift is None else self.shift["order"]}

    @classmethod
    def _from_saved(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "RingupResult":
        observables: dict[str, dict[str, np.ndarray]] = {}
        shift: dict[str, Any] | None = None
        if meta.get("shift_order") is not None:
            shift = {"order": int(meta["shift_order"])}
        for key, v in arrays.items():
            if key.startswith("shift."):
                if shift is None:
                    raise ValueError(f"array {key!r} without shift_order")
                parts = key.split(".")
                if len(parts) == 3:
                    shift.setdefault(parts[1], {})[parts[2]] = v
                else:
                    shift[parts[1]] = v
            elif "." in key:
                name, pair = key.split(".", 1)
                observables.setdefault(name, {})[pair] = v
        return cls(params=None if meta["params"] is None else Params.from_dict(meta["params"]),
                   options=RingupOptions(**meta["options"]), seed=int(meta["seed"]),
                   seeds=meta["seeds"], schedule=meta["schedule"], observables=observables,
                   diverged=int(meta["diverged"]), timing=meta["timing"], status=meta["status"],
                   flags=tuple(meta["flags"]), message=meta["message"],
                   stderr_t_factor=float(meta["stderr_t_factor"]), shift=shift,
                   **{k: arrays[k] for k in cls._ARRAYS})

    @classmethod
    def _from_legacy(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "RingupResult":
        """A format-2 folder: no per-chunk sums (empty), no E_N errors, seeds re-derived."""
        options = RingupOptions(**meta["options"])
        n_t, d = arrays["mean"].shape
        out = cls(params=Params.from_dict(meta["params"]), options=options,
                  seed=int(meta["seed"]), seeds=seed_records(int(meta["seed"]), options.n_chunks),
                  schedule={}, observables={}, unit_s1=np.zeros((0, n_t, d)),
                  unit_s2=np.zeros((0, n_t, d, d)), unit_counts=np.zeros((0, n_t)),
                  chunk_seconds=np.zeros(0), diverged=int(meta["diverged"]),
                  timing=meta["timing"], status=meta["status"],
                  flags=() if meta["status"] == "ok" else (meta["status"],),
                  message=meta["message"], **{k: arrays[k] for k in cls._ARRAYS[:8]})
        stamp = dict(out.provenance)
        stamp.update(versions=meta.get("versions") or {}, timestamp=meta.get("timestamp"))
        object.__setattr__(out, "_stamp", {k: stamp[k] for k in
                                           ("versions", "timestamp", "platform")})
        return out

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        dims = {"mean_field": ("time", "mode"), "mean": ("time", "mode"),
                "mean_stderr": ("time", "mode"), "unit_s1": ("chunk", "time", "mode"),
                "unit_s2": ("chunk", "time", "mode_i", "mode_j"), "unit_counts": ("chunk", "time"),
                "chunk_seconds": ("chunk",)}
        out = {k: (dims.get(k, ("time", "mode_i", "mode_j")), np.asarray(getattr(self, k)))
               for k in self._ARRAYS if k != "t"}
        for name, per_pair in self.observables.items():
            out[name] = (("time", "pair"), np.stack([per_pair[p] for p in per_pair], axis=-1))
        return out

    def _xarray_coords(self) -> dict[str, Any]:
        d = self.covariance.shape[-1]
        names = list(QUADRATURES) if d == 6 else [f"x{k}" for k in range(d)]
        out = {"time": np.asarray(self.t), "mode": names, "mode_i": names, "mode_j": names}
        if self.observables:
            out["pair"] = list(next(iter(self.observables.values())))
        return out

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_traj": self.options.n_traj, "t_final": float(self.t[-1]),
                               "n_t": len(self.t), "method": self.options.method}
        if self.observables:
            en, se = self.observables["log_negativity"], self.observables["log_negativity_stderr"]
            out["E_N[r_m](t_final)"] = float(en["r_m"][-1])
            out["stderr"] = float(se["r_m"][-1])
        out["max_abs_z"] = self.max_abs_z
        if self.shift is not None and "log_negativity" in self.shift:
            out["dE_N[r_m](t_final)"] = float(self.shift["log_negativity"]["r_m"][-1])
            out["dE_N stderr"] = float(self.shift["log_negativity_stderr"]["r_m"][-1])
        out["diverged"] = self.diverged
        out["status"] = self.status
        return out

    def _record(self) -> dict[str, Any]:
        out = {**self._meta(), **{k: getattr(self, k) for k in self._ARRAYS[:8]},
               "photon_number": self.photon_number, "phonon_number": self.phonon_number,
               "log_negativity": self.log_negativity,
               "log_negativity_stderr": self.log_negativity_stderr,
               "linear_log_negativity": log_negativity(self.linear_covariance),
               "max_abs_z": self.max_abs_z, "n_units": self.n_units, "shift": self.shift,
               "versions": self.versions, "timestamp": self.timestamp}
        if self.covariance.shape[-1] != 6:
            for k in ("photon_number", "phonon_number", "log_negativity",
                      "linear_log_negativity"):
                out.pop(k)
        return out


# ---- driver -------------------------------------------------------------------------------------
def _linear_reference(system: LangevinSystem, options: RingupOptions, t_out: np.ndarray,
                      V0: np.ndarray) -> np.ndarray:
    """Covariance of the linearised SDE of an explicit system from ``V0``: the exact discrete
    propagation ``V -> E V E^T + Q`` of the exponential integrator (exact for a constant ``A``;
    midpoint-frozen ``A(t)`` otherwise), sampled at ``t_out``."""
    every = options.steps_per_output
    if not system.time_dependent:
        integ = ExponentialEuler(system, every * options.dt)
        E_of = lambda i: integ.E  # noqa: E731
        Q_of = lambda i: integ.Q  # noqa: E731
        stride = 1
    else:
        integ = ExponentialEuler(system, options.dt)
        E_of = lambda i: integ._at("E", i * options.dt)  # noqa: E731
        Q_of = lambda i: integ._at("Q", i * options.dt)  # noqa: E731
        stride = every
    out = np.empty((len(t_out),) + V0.shape)
    V = out[0] = V0
    for n in range(1, len(t_out)):
        for i in range((n - 1) * stride, n * stride):
            E = E_of(i)
            V = E @ V @ E.T + Q_of(i)
        out[n] = 0.5 * (V + V.T)
    return out


def _statistics(s1, s2, counts, tf):
    """Per output time: pooled mean and covariance, errors across chunks, E_N with jackknife."""
    n_t, d = s1.shape[1], s1.shape[2]
    m = np.empty((n_t, d))
    V = np.empty((n_t, d, d))
    se_m = np.empty((n_t, d))
    se_V = np.empty((n_t, d, d))
    pairs = list(PAIRS)
    en = np.empty((n_t, len(pairs)))
    en_se = np.empty((n_t, len(pairs)))

    def en_vector(W):
        e = log_negativity(W)
        return np.stack([e[p] for p in pairs], axis=-1)

    for i in range(n_t):
        m[i], V[i] = pooled_covariance(s1[:, i], s2[:, i], counts[:, i])
        se_m[i], se_V[i] = batch_means_stderr(s1[:, i], s2[:, i], counts[:, i])
        if d == 6:
            en[i], en_se[i] = jackknife(s1[:, i], s2[:, i], counts[:, i], en_vector)
    observables = {}
    if d == 6:
        # an E_N clipped at zero has no error bar: NaN there (never "0 +- 0")
        observables = {"log_negativity": {p: en[:, k] for k, p in enumerate(pairs)},
                       "log_negativity_stderr": {p: np.where(en[:, k] > 0.0, tf * en_se[:, k],
                                                             np.nan)
                                                 for k, p in enumerate(pairs)}}
    return m, V, tf * se_m, tf * se_V, observables


def _shift(system: LangevinSystem, lin: np.ndarray, s1: np.ndarray, s2: np.ndarray,
           counts: np.ndarray, tf: float, order: int) -> dict[str, Any]:
    """:func:`~simulator.sde.control.shift_estimate` at every output time, stacked: the
    covariance shift ``(n_t, d, d)`` and ``dE_N(t)`` per pair with their jackknife errors over
    the chunks with samples at that time (as for the plain statistics)."""
    per_t = [shift_estimate(system, lin[i], s1[:, i], s2[:, i], counts[:, i], tf, order)
             for i in range(lin.shape[0])]
    out: dict[str, Any] = {"order": int(order)}
    for key in ("covariance", "covariance_stderr"):
        out[key] = np.stack([r[key] for r in per_t])
    for key in ("log_negativity", "log_negativity_stderr", "log_negativity_below_resolution"):
        if key in per_t[0]:
            out[key] = {p: np.array([r[key][p] for r in per_t]) for p in per_t[0][key]}
    for key in ("covariance", "covariance_stderr"):
        if not np.isfinite(out[key]).all():
            raise FloatingPointError(f"ring-up shift {key}: non-finite values")
    return out


def simulate_ringup(problem: Params | LangevinSystem, options: RingupOptions | None = None, *,
                    seed: int = 0, n_jobs: int = 1, out: str | Path | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    max_time: float | None = None) -> RingupResult:
    """Ring-up ensemble from an empty cavity; see the module docstring.

    Parameters
    ----------
    problem : Params or LangevinSystem
        Parameters (the ring-up from an empty cavity towards the fixed point at
        ``params.detuning``), or an explicit system (stationary or with ``drift_at``) started
        in the stationary (Lyapunov) state of its ``A`` (``A(0)``), which must then be stable.
    options : RingupOptions, optional
    seed : int
        Root of ``SeedSequence(seed).spawn(n_chunks)`` (>= 0); the result does not depend on
        ``n_jobs``.
    n_jobs : int
        Joblib workers (non-zero; -1: all cores), capped at the chunks and the cores.
    out : path, optional
        Checkpoint folder: finished chunks are saved there (run id, lock, checksums as in
        :mod:`simulator.sde.ensemble`) and reused by a rerun, which gives the same bits.
    progress : callable, optional
        ``progress(done, total)`` after each chunk.
    max_time : float, optional
        Time budget (s), checked between chunks: once spent the run stops with
        :class:`~simulator.errors.TimeBudgetSpent` (finished chunks saved in ``out``).

    Returns
    -------
    RingupResult
        Ensemble mean and covariance at ``t = 0, output_every, ...`` (``1/omega_m``), with
        errors across chunks, ``E_N(t)`` with jackknife errors, and the linearised prediction.
        ``status`` is ``"diverged"`` (StabilityWarning) if trajectories were dropped,
        ``"few_units"`` (StatisticsWarning) with fewer than ``MIN_UNITS`` chunks, else ``"ok"``.

    Raises
    ------
    ValueError
        Bad seed or n_jobs, fewer than 2 chunks (no error bars), or a run whose estimated memory
        is beyond half the available memory -- before any work.
    CheckpointError
        ``out`` is locked, belongs to another run, or holds a bad chunk file (named).
    FloatingPointError
        A reported quantity came out non-finite.
    RunInterrupted
        Ctrl-C; the finished chunks are saved in ``out`` (if given).
    """
    options = RingupOptions() if options is None else options
    if not isinstance(options, RingupOptions):
        raise TypeError(f"options: expected RingupOptions, got {type(options).__name__}")
    check_run_arguments(seed, n_jobs)
    progress = as_callback(progress, "ringup", "chunk")  # True: a tqdm bar (simulator.progress)
    if options.n_chunks < 2:
        raise ValueError(f"n_traj = {options.n_traj}, chunk_size = {options.chunk_size}: "
                         f"{options.n_chunks} chunk; error bars need at least 2 (and "
                         f"{MIN_UNITS} to be trusted)")
    t0 = time.perf_counter()
    sched = options.schedule()
    t_out = np.arange(sched.n_bins) * sched.steps_per_batch * options.dt
    if isinstance(problem, Params):
        system, path = ringup_system(problem, options)
        sde_opts = options.sde_options("thermal")
        identity_problem: Any = problem.to_dict()
    elif isinstance(problem, LangevinSystem):
        system, path = problem, None
        problem.check_stable()
        sde_opts = options.sde_options("lyapunov")
        identity_problem = {"A": problem.A.tolist(), "D": problem.D.tolist(),
                            "nonlinearity": repr(problem.nonlinearity),
                            "drift_at": repr(problem.drift_at)}
    else:
        raise TypeError(f"problem: expected Params or LangevinSystem, got "
                        f"{type(problem).__name__}")
    d = system.dim
    # control variates: the chunk loop runs the augmented system (simulator.sde.control)
    order = control_order(system, sde_opts) if options.control_variate else 0
    run_system, run_opts = ((control_system(system, order), control_options(system, sde_opts, order))
                            if order else (system, sde_opts))
    workers = effective_workers(n_jobs, options.n_chunks)
    check_resources(run_system, run_opts, sched, workers)  # refuses a run beyond half the memory
    identity = {"engine": "ringup", "problem": identity_problem, "options": options.to_dict(),
                "seed": int(seed)}
    chunks = run_chunks(run_system, run_opts, int(seed), n_jobs=workers, out=out, identity=identity,
                        progress=progress, sched=sched, max_time=max_time)
    wall_chunks = time.perf_counter() - t0
    s1_run = np.stack([c.s1 for c in chunks])  # (chunks, n_t, k d)
    s2_run = np.stack([c.s2 for c in chunks])
    s1, s2 = s1_run[..., :d], s2_run[..., :d, :d]  # the plain estimator (x)
    counts = np.stack([c.counts for c in chunks])
    diverged = sum(c.diverged for c in chunks)
    n_units = int((counts > 0).all(axis=1).sum())
    if n_units < 2:
        raise AllDivergedError(f"{diverged} of {options.n_traj} trajectories diverged and "
                               f"{n_units} chunk(s) kept samples at every output time; no "
                               "result with an error bar can be formed: raise bound, or check "
                               "the parameters")
    tf = student_t_factor(n_units)
    m, V, se_m, se_V, observables = _statistics(s1, s2, counts, tf)
    V0 = initial_moments(system, sde_opts)[1]
    if path is not None:
        rates = system.rates
        ubar = path(t_out)
        lin = covariance_evolution(rates, t_out, V0, u0=np.zeros(6),
                                   bare_detuning=system.bare_detuning, drive_scale=path.scale,
                                   rtol=1e-9, atol=1e-9).covariance
    else:
        ubar = np.broadcast_to(system.mean, m.shape).copy()
        lin = _linear_reference(system, options, t_out, V0)
    for name, value in (("mean", m), ("covariance", V), ("mean_field", ubar),
                        ("linear_covariance", lin)):
        if not np.isfinite(value).all():
            raise FloatingPointError(f"ring-up {name}: non-finite values in the result; refusing "
                                     "to report it (extreme parameters, or every trajectory "
                                     "diverged)")
    z = z_scores(V, se_V, lin)
    shift = _shift(system, lin, s1_run, s2_run, counts, tf, order) if order else None
    why: dict[str, str] = {}
    if diverged:
        why["diverged"] = (f"{diverged} of {options.n_traj} trajectories diverged (beyond bound "
                           f"{options.bound:g}); left out from the block of divergence on")
    if n_units < MIN_UNITS:
        why["few_units"] = (f"error bars from only {n_units} chunks (at least {MIN_UNITS} are "
                            "needed): raise n_traj or lower chunk_size")
    flags = tuple(k for k in ("diverged", "few_units") if k in why)
    for k in flags:
        warnings.warn(why[k], StabilityWarning if k == "diverged" else StatisticsWarning,
                      stacklevel=2)
    steps = sched.n_batches * sched.steps_per_batch
    timing = {"wall_seconds": time.perf_counter() - t0, "chunks_wall_seconds": wall_chunks,
              "chunk_seconds_total": float(sum(c.seconds for c in chunks)), "steps": steps,
              "trajectory_steps": steps * options.n_traj, "n_jobs": workers,
              "n_jobs_requested": n_jobs}
    return RingupResult(
        params=problem if isinstance(problem, Params) else None, options=options,
        seed=int(seed), seeds=seed_records(int(seed), options.n_chunks),
        schedule=sched.to_dict(), t=t_out, mean_field=ubar, mean=ubar + m, mean_stderr=se_m,
        covariance=V, covariance_stderr=se_V, linear_covariance=lin, z=z,
        observables=observables, unit_s1=s1, unit_s2=s2, unit_counts=counts,
        chunk_seconds=np.array([c.seconds for c in chunks]), diverged=diverged, timing=timing,
        status=flags[0] if flags else "ok", flags=flags, message="; ".join(why[k] for k in flags),
        stderr_t_factor=tf, shift=shift,
    )
