"""Ring-up: the transient from an empty cavity, as an SDE ensemble against the linearised theory.

At ``t = 0`` the cavity is empty (optical vacuum, Wigner variance 1/2 per quadrature) and the
mechanics thermal (``n_m + 1/2``) at ``q = p = 0``; the drive at the bare detuning of the
requested fixed point is switched on, optionally ramped linearly over ``ramp_time``. The full
amplitudes are split exactly as ``u = ubar(t) + x``: ``ubar`` solves the plain mean-field equations
(Eq. 3 without noise or Wigner correction; integrated to ``rtol = 1e-10``), and the fluctuations

    dx = (A(t) x + N(x)) dt + dW,     A(t) = drift_matrix_along(ubar(t)),

keep every nonlinear term (the same remainder ``N`` as about the fixed point, since the drift is
quadratic). The ``exponential`` method propagates with ``exp(A(t_mid) dt)`` and the exact noise
covariance of the frozen midpoint matrix (second order in the variation of ``A``); ``euler`` uses
``A(t_n)``. The ensemble mean and covariance are accumulated at output times only (memory grows
with the number of outputs, not the number of steps) and compared with
:func:`simulator.linear.covariance_evolution` started from the same state.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import (
    MIN_UNITS,
    ResultFileError,
    RunInterrupted,
    StabilityWarning,
    StatisticsWarning,
)
from ..linear import covariance_evolution
from ..model import Rates, diffusion_matrix, drift_matrix_along, mean_field, nonlinear_drift
from ..observables import log_negativity
from ..params import Params
from ..progress import as_callback
from ..resultio import read_result, versions, write_result
from .ensemble import chunk_seeds, effective_workers
from .integrators import expm, psd_sqrt
from .options import _positive
from .system import OptomechanicalRemainder

__all__ = ["RingupOptions", "RingupResult", "simulate_ringup"]

RINGUP_METHODS = ("exponential", "euler")
#: Version of the files written by :meth:`RingupResult.save`.
RINGUP_FORMAT = 2


@dataclass(frozen=True, kw_only=True)
class RingupOptions:
    """How a ring-up ensemble is run (times in ``1/omega_m``).

    Parameters
    ----------
    method : {"exponential", "euler"}
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

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if self.method not in RINGUP_METHODS:
            raise ValueError(f"method = {self.method!r}: must be one of {RINGUP_METHODS}")
        for name in ("dt", "t_final", "output_every", "bound"):
            put(name, _positive(name, getattr(self, name)))
        put("ramp_time", _positive("ramp_time", self.ramp_time, allow_zero=True))
        for name in ("n_traj", "chunk_size"):
            put(name, _positive(name, getattr(self, name), integer=True))
        if not isinstance(self.wigner_correction, bool):
            raise ValueError(f"wigner_correction = {self.wigner_correction!r}: must be a bool")
        ratio = self.output_every / self.dt
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"output_every = {self.output_every!r}: must be a multiple of "
                             f"dt = {self.dt!r}")

    @property
    def n_chunks(self) -> int:
        return -(-self.n_traj // self.chunk_size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RingupResult:
    """Ensemble statistics against time.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Output times (``1/omega_m``), ``t[0] = 0``.
    mean_field : ndarray, shape (n_t, 6)
        The deterministic path ``ubar(t)``.
    mean, mean_stderr : ndarray, shape (n_t, 6)
        Ensemble mean of the full amplitudes ``ubar + <x>`` and its error (across chunks).
    covariance, covariance_stderr : ndarray, shape (n_t, 6, 6)
    linear_covariance : ndarray, shape (n_t, 6, 6)
        :func:`~simulator.linear.covariance_evolution` from the same initial state.
    z : ndarray, shape (n_t, 6, 6)
        ``(covariance - linear_covariance) / covariance_stderr``.
    diverged : int
    """

    params: Params
    options: RingupOptions
    seed: int
    t: np.ndarray
    mean_field: np.ndarray
    mean: np.ndarray
    mean_stderr: np.ndarray
    covariance: np.ndarray
    covariance_stderr: np.ndarray
    linear_covariance: np.ndarray
    z: np.ndarray
    diverged: int
    timing: dict[str, float]
    status: str = "ok"
    message: str = ""
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    timestamp: str = ""

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
        """``E_N(t)`` of the ensemble covariance, per pair."""
        return log_negativity(self.covariance)

    @property
    def max_abs_z(self) -> float:
        iu = np.triu_indices(6)
        a = np.abs(self.z[:, iu[0], iu[1]])
        return float(np.nanmax(a)) if np.isfinite(a).any() else float("nan")

    def to_dict(self) -> dict[str, Any]:
        en = self.log_negativity
        lin_en = log_negativity(self.linear_covariance)
        return {
            "params": self.params.to_dict(), "options": self.options.to_dict(), "seed": self.seed,
            "t": self.t, "mean_field": self.mean_field, "mean": self.mean,
            "covariance": self.covariance, "covariance_stderr": self.covariance_stderr,
            "linear_covariance": self.linear_covariance,
            "photon_number": self.photon_number, "phonon_number": self.phonon_number,
            "log_negativity": en, "linear_log_negativity": lin_en,
            "max_abs_z": self.max_abs_z, "diverged": self.diverged, "timing": self.timing,
            "status": self.status, "message": self.message, "versions": self.versions,
            "timestamp": self.timestamp,
        }

    _ARRAYS = ("t", "mean_field", "mean", "mean_stderr", "covariance", "covariance_stderr",
               "linear_covariance", "z")

    def save(self, directory: str | Path) -> Path:
        """Write ``ringup.npz`` (the arrays of :attr:`_ARRAYS`) and ``ringup.json`` (parameters,
        options, seed, diverged count, status, timing, versions, format, checksum) into
        ``directory`` through :func:`simulator.resultio.write_result`; returns it."""
        meta = {"format": RINGUP_FORMAT, "params": self.params.to_dict(),
                "options": self.options.to_dict(), "seed": self.seed, "diverged": self.diverged,
                "timing": self.timing, "max_abs_z": self.max_abs_z, "status": self.status,
                "message": self.message, "versions": self.versions, "timestamp": self.timestamp}
        return write_result(directory, "ringup", meta,
                            {k: getattr(self, k) for k in self._ARRAYS})

    @classmethod
    def load(cls, directory: str | Path) -> "RingupResult":
        """Read a result written by :meth:`save`, verifying its checksum.

        Raises
        ------
        ResultFileError
            Missing, unreadable, other format, or checksum mismatch (file named).
        """
        d = Path(directory)
        meta, arrays = read_result(d, "ringup")
        if meta.get("format") != RINGUP_FORMAT:
            raise ResultFileError(f"{d / 'ringup.json'}: ring-up format {meta.get('format')!r}, "
                                  f"expected {RINGUP_FORMAT}")
        try:
            return cls(params=Params.from_dict(meta["params"]),
                       options=RingupOptions(**meta["options"]), seed=meta["seed"],
                       diverged=meta["diverged"], timing=meta["timing"], status=meta["status"],
                       message=meta["message"], versions=meta["versions"],
                       timestamp=meta["timestamp"], **{k: arrays[k] for k in cls._ARRAYS})
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultFileError(f"{d / 'ringup.json'}: inconsistent ring-up record "
                                  f"({type(exc).__name__}: {exc})") from None


def _mean_path(rates: Rates, bare: float, t_out: np.ndarray, t_mid: np.ndarray,
               ramp: float) -> tuple[np.ndarray, np.ndarray, Callable[[float], float]]:
    """Mean-field path at the output times and at the step midpoints."""
    from scipy.integrate import solve_ivp  # lazy: scipy.integrate is most of the import time

    def scale(t: float) -> float:
        return 1.0 if ramp <= 0 else min(1.0, t / ramp)

    def rhs(t, u):
        return nonlinear_drift(rates, u, bare, drive_scale=scale(t), wigner_correction=False)

    t_end = float(t_out[-1])
    pieces = [(0.0, min(ramp, t_end)), (min(ramp, t_end), t_end)] if 0 < ramp < t_end else [(0.0, t_end)]
    u = np.zeros(6)
    sols = []
    for a, b in pieces:
        if b <= a:
            continue
        sol = solve_ivp(rhs, (a, b), u, method="DOP853", rtol=1e-10,
                        atol=1e-10 * max(1.0, float(np.abs(mean_field(rates).vector()).max())),
                        dense_output=True)
        if not sol.success:
            raise RuntimeError(f"ring-up mean field: {sol.message}")
        sols.append((a, b, sol))
        u = sol.y[:, -1]

    def at(ts: np.ndarray) -> np.ndarray:
        out = np.empty((len(ts), 6))
        for i, t in enumerate(ts):
            for a, b, sol in sols:
                if t <= b + 1e-12:
                    out[i] = sol.sol(min(max(t, a), b))
                    break
        return out

    return at(t_out), at(t_mid), scale


def _step_matrices(rates: Rates, bare: float, u_steps: np.ndarray, dt: float, method: str,
                   remainder: OptomechanicalRemainder) -> tuple[np.ndarray, np.ndarray]:
    """Per-step lifted weights ``W (n_steps, 15, 6)`` and noise factors ``Lt (n_steps, 6, 6)``."""
    n = len(u_steps)
    a_r = (u_steps[:, 0] + 1j * u_steps[:, 1]) / np.sqrt(2.0)
    a_l = (u_steps[:, 2] + 1j * u_steps[:, 3]) / np.sqrt(2.0)
    A = drift_matrix_along(rates, a_r, a_l, bare + rates.delta_J - rates.g0 * u_steps[:, 4])
    D = diffusion_matrix(rates)
    C, c = remainder.feature_matrix, remainder.constant
    W = np.empty((n, 6 + C.shape[0] + 1, 6))
    Lt = np.empty((n, 6, 6))
    eye = np.eye(6)
    if method == "euler":
        Bt = psd_sqrt(D).T
        W[:, :6] = np.swapaxes(eye + dt * A, 1, 2)
        W[:, 6:-1] = dt * C
        W[:, -1] = dt * c
        Lt[:] = np.sqrt(dt) * Bt
        return W, Lt
    # batched over steps: exp(A dt), Phi = int_0^dt exp(A s) ds, Van Loan noise covariance
    E = expm(A * dt)
    aug = np.zeros((n, 12, 12))
    aug[:, :6, :6], aug[:, :6, 6:] = A, eye
    Phi = expm(aug * dt)[:, :6, 6:]
    vl = np.zeros((n, 12, 12))
    vl[:, :6, :6], vl[:, :6, 6:], vl[:, 6:, 6:] = -A, D, np.swapaxes(A, 1, 2)
    F = expm(vl * dt)
    Q = np.swapaxes(F[:, 6:, 6:], 1, 2) @ F[:, :6, 6:]
    Q = 0.5 * (Q + np.swapaxes(Q, 1, 2))
    w, U = np.linalg.eigh(Q)
    Lt[:] = np.swapaxes(U * np.sqrt(np.clip(w, 0.0, None))[:, None, :], 1, 2)
    PhiT = np.swapaxes(Phi, 1, 2)
    W[:, :6] = np.swapaxes(E, 1, 2)
    W[:, 6:-1] = C @ PhiT
    W[:, -1] = (c @ PhiT)
    return W, Lt


def _ringup_chunk(W, Lt, n_m, seed_seq, n, every, bound, block=64):
    rng = np.random.default_rng(seed_seq)
    n_steps = W.shape[0]
    n_out = n_steps // every + 1
    s1 = np.zeros((n_out, 6))
    s2 = np.zeros((n_out, 6, 6))
    counts = np.zeros(n_out, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    x = rng.standard_normal((n, 6)) * np.sqrt([0.5, 0.5, 0.5, 0.5, n_m + 0.5, n_m + 0.5])
    G = np.empty((n, W.shape[1]))
    G[:, -1] = 1.0
    C_feat = OptomechanicalRemainder(g0=1.0)  # features only (coefficients live in W)

    def record(j):
        nonlocal x
        ok = np.abs(x).max(axis=1) <= bound
        alive[:] &= ok
        x[~alive] = 0.0
        X = x[alive]
        s1[j] += X.sum(axis=0)
        s2[j] += X.T @ X
        counts[j] += X.shape[0]

    with np.errstate(over="ignore", invalid="ignore"):
        record(0)
        done = 0
        while done < n_steps:
            k = min(block, n_steps - done)
            noise = rng.standard_normal((k, n, 6)) @ Lt[done:done + k]
            for j in range(k):
                G[:, :6] = x
                C_feat.features(x, out=G[:, 6:-1])
                x = G @ W[done + j]
                x += noise[j]
                if (done + j + 1) % every == 0:
                    record((done + j + 1) // every)
            done += k
    return s1, s2, counts, int((~alive).sum())


def simulate_ringup(params: Params, options: RingupOptions | None = None, *, seed: int = 0,
                    n_jobs: int = 1, progress: Callable[[int, int], None] | None = None
                    ) -> RingupResult:
    """Ring-up ensemble from an empty cavity; see the module docstring.

    Returns
    -------
    RingupResult
        Ensemble mean and covariance at ``t = 0, output_every, ...`` (``1/omega_m``), with
        errors across chunks, and the linearised prediction. ``status`` is ``"diverged"``
        (StabilityWarning) if trajectories were dropped, ``"few_units"`` (StatisticsWarning)
        with fewer than ``MIN_UNITS`` chunks, else ``"ok"``.

    Raises
    ------
    ValueError
        Fewer than 2 chunks (no error bars), before any work.
    FloatingPointError
        A reported quantity came out non-finite.
    RunInterrupted
        Ctrl-C (nothing is saved: ring-up has no checkpoints).
    """
    import joblib

    options = RingupOptions() if options is None else options
    progress = as_callback(progress, "ringup", "chunk")  # True: a tqdm bar (simulator.progress)
    if options.n_chunks < 2:
        raise ValueError(f"n_traj = {options.n_traj}, chunk_size = {options.chunk_size}: "
                         f"{options.n_chunks} chunk; error bars need at least 2 (and "
                         f"{MIN_UNITS} to be trusted)")
    t0 = time.perf_counter()
    rates = Rates.from_params(params)
    bare = float(mean_field(rates).bare_detuning)
    dt = options.dt
    every = int(round(options.output_every / dt))
    n_out = int(np.floor(options.t_final / options.output_every + 1e-9))
    n_steps = n_out * every
    t_out = np.arange(n_out + 1) * every * dt
    t_steps = (np.arange(n_steps) + (0.5 if options.method == "exponential" else 0.0)) * dt
    ubar_out, ubar_steps, scale = _mean_path(rates, bare, t_out, t_steps, options.ramp_time)
    remainder = OptomechanicalRemainder(g0=float(rates.g0),
                                        offset=1.0 if options.wigner_correction else 0.0)
    W, Lt = _step_matrices(rates, bare, ubar_steps, dt, options.method, remainder)
    # the features are (q x, x x) with unit coupling; the couplings g0 are in W
    n_m = float(rates.n_m)
    sizes = [len(a) for a in np.array_split(np.arange(options.n_traj), options.n_chunks)]
    seeds = chunk_seeds(int(seed), options.n_chunks)
    tasks = [joblib.delayed(_ringup_chunk)(W, Lt, n_m, seeds[i], sizes[i], every, options.bound)
             for i in range(options.n_chunks)]
    workers = effective_workers(n_jobs, options.n_chunks)
    parts = []
    try:
        if workers == 1:
            gen = (f(*a, **k) for f, a, k in tasks)
        else:
            gen = joblib.Parallel(n_jobs=workers, return_as="generator")(tasks)
        for i, part in enumerate(gen):
            parts.append(part)
            if progress is not None:
                progress(i + 1, options.n_chunks)
    except KeyboardInterrupt:
        raise RunInterrupted(len(parts), options.n_chunks, None) from None  # nothing saved
    s1 = np.stack([p[0] for p in parts])  # (chunks, n_t, 6)
    s2 = np.stack([p[1] for p in parts])
    counts = np.stack([p[2] for p in parts]).astype(float)
    diverged = sum(p[3] for p in parts)
    C = counts.sum(axis=0)
    m = s1.sum(0) / C[:, None]
    V = s2.sum(0) / C[:, None, None] - m[:, :, None] * m[:, None, :]
    # errors across chunks (independent): per-chunk estimates, weighted spread
    with np.errstate(invalid="ignore", divide="ignore"):
        mc = s1 / counts[..., None]
        Vc = s2 / counts[..., None, None] - mc[..., :, None] * mc[..., None, :]
        w = counts / C
        nc = len(parts)
        f = nc / (nc - 1.0) if nc > 1 else np.nan
        se_m = np.sqrt(f * np.einsum("ct,ctj->tj", w**2, (mc - m) ** 2))
        se_V = np.sqrt(f * np.einsum("ct,ctjk->tjk", w**2, (Vc - V) ** 2))
    V0 = np.diag([0.5, 0.5, 0.5, 0.5, n_m + 0.5, n_m + 0.5])
    lin = covariance_evolution(rates, t_out, V0, u0=np.zeros(6), bare_detuning=bare,
                               drive_scale=scale, rtol=1e-9, atol=1e-9).covariance
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(se_V > 0, (V - lin) / np.where(se_V > 0, se_V, 1.0), np.nan)
    for name, value in (("mean", m), ("covariance", V), ("mean_field", ubar_out),
                        ("linear_covariance", lin)):
        if not np.isfinite(value).all():
            raise FloatingPointError(f"ring-up {name}: non-finite values in the result; refusing "
                                     "to report it (extreme parameters, or every trajectory "
                                     "diverged)")
    why = []
    status = "ok"
    if diverged:
        status = "diverged"
        why.append(f"{diverged} of {options.n_traj} trajectories diverged (beyond bound "
                   f"{options.bound:g}); left out from the output of divergence on")
        warnings.warn(why[-1], StabilityWarning, stacklevel=2)
    if options.n_chunks < MIN_UNITS:
        status = "few_units" if status == "ok" else status
        why.append(f"error bars from only {options.n_chunks} chunks (at least {MIN_UNITS} "
                   "are needed): raise n_traj or lower chunk_size")
        warnings.warn(why[-1], StatisticsWarning, stacklevel=2)
    return RingupResult(
        params=params, options=options, seed=int(seed), t=t_out, mean_field=ubar_out,
        mean=ubar_out + m, mean_stderr=se_m, covariance=0.5 * (V + np.swapaxes(V, 1, 2)),
        covariance_stderr=se_V, linear_covariance=lin, z=z, diverged=diverged,
        timing={"wall_seconds": time.perf_counter() - t0, "steps": n_steps,
                "trajectory_steps": n_steps * options.n_traj, "n_jobs": workers,
                "n_jobs_requested": n_jobs},
        status=status, message="; ".join(why), versions=versions(),
        timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
