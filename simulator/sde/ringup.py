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
divergence handling of :mod:`simulator.sde.ensemble` -- one
:class:`~simulator.sde.problem.EnsembleProblem` with the
:class:`~simulator.sde.records.Moments` record, run by
:func:`~simulator.sde.parallel.run_ensemble` -- with a time-resolved schedule: each chunk
returns the sums ``sum x``, ``sum x x^T`` and the counts at every output time (memory grows with
the number of outputs, not of steps). Errors are across chunks (batch means over chunks for the
covariance, delete-one jackknife for ``E_N(t)``), widened by the Student-t factor of the stationary
engine; z-scores against :func:`simulator.linear.covariance_evolution` from the same initial state
come from :func:`simulator.statistics.z_scores`.

Control variates (``control_variate=True``): alongside each nonlinear trajectory the chunk loop
integrates the linearised SDE about the same mean-field path on the same noise from the same
sample (the augmented system of :mod:`simulator.sde.control`, drift ``blockdiag(A(t), ...)``), and

    V_nl(t) = V_lin(t) + <x x^T - y y^T>(t),

``V_lin`` the linear reference above; errors by delete-one jackknife over the chunks of the
difference (and of ``dE_N(t)``), widened by the same Student-t factor. They land in
:attr:`RingupResult.shift`, and the controlled estimate ``V_lin + dV`` is the headline
(``covariance``, ``log_negativity``); the plain statistics of ``x`` are kept in
:attr:`RingupResult.plain`.

Modules: the options in :mod:`simulator.sde.ringup_options`, the result in
:mod:`simulator.sde.ringup_result`, the time-dependent system and the driver here.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..conventions import PAIRS
from ..errors import (MIN_UNITS, AllDivergedError, MetastabilityWarning, StabilityWarning,
                      StatisticsWarning)
from ..linear import covariance_evolution, solve_lyapunov
from ..model import Rates, diffusion_matrix, drift_matrix_about, mean_field
from ..point_model import PointModel
from ..observables import log_negativity
from ..params import Params
from ..progress import as_callback
from ..statistics import z_scores
from . import escapes as _escapes
from .backends import device_record
from .control import control_order, shift_estimate
from .estimators import batch_means_stderr, jackknife, pooled_covariance, student_t_factor
from .integrators import ExponentialEuler
from .options import SDEOptions
from .parallel import check_run_arguments, effective_workers, run_ensemble
from .problem import EnsembleProblem
from .records import Moments
from .resources import check_resources, estimate_resources
from .ringup_options import RingupOptions
from .ringup_result import RingupResult
from .scheduling import initial_moments, seed_records
from .system import LangevinSystem, OptomechanicalRemainder, fluctuation_system

__all__ = ["RingupOptions", "RingupResult", "simulate_ringup", "estimate_ringup", "ringup_system",
           "MeanFieldPath"]


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

        point = PointModel(rates, bare)  # nonlinear_drift in scalar arithmetic, same bits

        def rhs(t, u):
            return point.nonlinear_drift(u, drive_scale=scale(t), wigner_correction=False)

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
    path = _cached(("path", rates, bare, t_end, options.ramp_time),
                   lambda: MeanFieldPath(rates, bare, t_end, options.ramp_time))
    drift = PathDrift(rates, bare, path)
    remainder = OptomechanicalRemainder.of(rates, wigner_correction=options.wigner_correction)
    system = LangevinSystem(A=drift(np.zeros(1))[0], D=diffusion_matrix(rates),
                            nonlinearity=remainder, rates=rates, bare_detuning=bare,
                            drift_at=drift)
    return system, path


#: Mean-field paths and their linearised covariances, computed once per process for a point,
#: span and ramp (a command estimates a ring-up before it runs it, a sweep or a test suite meets
#: one point many times); a few entries, each a function of its key alone.
_COMPUTED: dict[tuple, Any] = {}
_MAX_COMPUTED = 8


def _point_key(rates: Rates) -> tuple:
    """The exact values of a point's rates (every bit), as a key."""
    return tuple((f.name, np.shape(v), np.asarray(v).tobytes()) if f.name != "damping" else v
                 for f in dataclasses.fields(rates) for v in [getattr(rates, f.name)])


def _cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept under ``key``; a :class:`Rates` in the key counts by its values."""
    key = tuple(_point_key(k) if isinstance(k, Rates) else k for k in key)
    hit = _COMPUTED.get(key)
    if hit is None:
        hit = compute()
        if len(_COMPUTED) >= _MAX_COMPUTED:
            _COMPUTED.pop(next(iter(_COMPUTED)))
        _COMPUTED[key] = hit
    return hit


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
    for key in ("covariance", "covariance_stderr", "mean", "mean_stderr"):
        out[key] = np.stack([r[key] for r in per_t])
    for key in ("log_negativity", "log_negativity_stderr", "log_negativity_below_resolution"):
        if key in per_t[0]:
            out[key] = {p: np.array([r[key][p] for r in per_t]) for p in per_t[0][key]}
    for key in ("covariance", "covariance_stderr"):
        if not np.isfinite(out[key]).all():
            raise FloatingPointError(f"ring-up shift {key}: non-finite values")
    return out


def _plan(problem: Params | LangevinSystem, options: RingupOptions):
    """``(system, mean-field path or None, SDEOptions, EnsembleProblem)``: the moments on the
    output times (``options.schedule()``), with ``control_variate`` with the shadow of
    :mod:`simulator.sde.control` (the chunk loop then runs the augmented system)."""
    if isinstance(problem, Params):
        system, path = ringup_system(problem, options)
        sde_opts = options.sde_options("thermal")
    elif isinstance(problem, LangevinSystem):
        system, path = problem, None
        problem.check_stable()
        sde_opts = options.sde_options("lyapunov")
    else:
        raise TypeError(f"problem: expected Params or LangevinSystem, got "
                        f"{type(problem).__name__}")
    order = control_order(system, sde_opts) if options.control_variate else 0
    ensemble = EnsembleProblem(system, sde_opts, Moments(shadow=order), options.schedule())
    return system, path, sde_opts, ensemble


def _identity(problem: Params | LangevinSystem) -> Any:
    if isinstance(problem, Params):
        return problem.to_dict()
    return {"A": problem.A.tolist(), "D": problem.D.tolist(),
            "nonlinearity": repr(problem.nonlinearity), "drift_at": repr(problem.drift_at)}


def estimate_ringup(problem: Params | LangevinSystem, options: RingupOptions | None = None, *,
                    n_jobs: int = 1) -> dict[str, Any]:
    """The engine's plan of a ring-up, before any work (what :func:`simulate_ringup` checks
    first): ``schedule``, ``workers``, ``n_chunks``, ``trajectory_steps`` and
    :func:`~simulator.sde.ensemble.estimate_resources`' ``memory_bytes`` (with ``workers``
    workers), ``seconds`` and ``memory_limit_bytes``; with ``control_variate`` of the augmented
    system."""
    options = RingupOptions() if options is None else options
    ensemble = _plan(problem, options)[-1]
    sched = ensemble.schedule
    workers = effective_workers(n_jobs, options.n_chunks, options.backend)
    return {"schedule": sched, "workers": workers, "n_chunks": options.n_chunks,
            "trajectory_steps": float(options.n_traj) * sched.n_batches * sched.steps_per_batch,
            **estimate_resources(ensemble.run_system, ensemble.run_options, sched, workers)}


def _headline(m, se_m, V, se_V, observables, lin, shift):
    """``(mean, its error, covariance, its error, observables, plain)`` of the headline: the
    plain estimate (``plain`` ``None``) without control variates; with them the controlled one,
    ``V_lin(t) + dV(t)``, ``<x> - <y>`` and ``E_N(V_lin) + dE_N`` with the shift's errors, and
    the plain estimate (``mean`` of the fluctuations) as ``plain``."""
    if shift is None:
        return m, se_m, V, se_V, observables, None
    plain = {"mean": m, "mean_stderr": se_m, "covariance": V, "covariance_stderr": se_V,
             "observables": observables}
    if "log_negativity" in shift:
        en_lin = log_negativity(lin)
        observables = {"log_negativity": {p: en_lin[p] + v
                                          for p, v in shift["log_negativity"].items()},
                       "log_negativity_stderr": dict(shift["log_negativity_stderr"])}
    return (shift["mean"], shift["mean_stderr"], lin + shift["covariance"],
            shift["covariance_stderr"], observables, plain)


def _check_inputs(options: RingupOptions | None, seed: int, n_jobs: int) -> RingupOptions:
    """The options (default ``RingupOptions()``) after checking them, ``seed`` and ``n_jobs``."""
    options = RingupOptions() if options is None else options
    if not isinstance(options, RingupOptions):
        raise TypeError(f"options: expected RingupOptions, got {type(options).__name__}")
    check_run_arguments(seed, n_jobs)
    if options.n_chunks < 2:
        raise ValueError(f"n_traj = {options.n_traj}, chunk_size = {options.chunk_size}: "
                         f"{options.n_chunks} chunk; error bars need at least 2 (and "
                         f"{MIN_UNITS} to be trusted)")
    return options


def _pooled(chunks: list, options: RingupOptions):
    """``(s1, s2, counts, diverged, n_units)``: the chunks' sums stacked, shapes
    ``(chunks, n_t, k d)``, ``(chunks, n_t, k d, k d)``, ``(chunks, n_t)``; ``FloatingPointError``
    when fewer than 2 chunks kept samples at every output time."""
    s1 = np.stack([c.s1 for c in chunks])
    s2 = np.stack([c.s2 for c in chunks])
    counts = np.stack([c.counts for c in chunks])
    diverged = sum(c.diverged for c in chunks)
    n_units = int((counts > 0).all(axis=1).sum())
    if n_units < 2:
        escaped = sum(0 if c.escape_times is None else len(c.escape_times) for c in chunks)
        raise AllDivergedError(f"{diverged} of {options.n_traj} trajectories diverged, "
                               f"{escaped} were captured by another attractor, and "
                               f"{n_units} chunk(s) kept samples at every output time; no "
                               "result with an error bar can be formed: raise bound, or check "
                               "the parameters")
    return s1, s2, counts, diverged, n_units


def _linear_path(system: LangevinSystem, path: MeanFieldPath | None, options: RingupOptions,
                 sde_opts: SDEOptions, t_out: np.ndarray, shape: tuple[int, ...]):
    """``(mean field (n_t, d), linearised covariance (n_t, d, d))`` at the output times."""
    V0 = initial_moments(system, sde_opts)[1]
    if path is not None:
        key = ("covariance", system.rates, system.bare_detuning, path.scale.ramp,
               np.asarray(t_out, dtype=float).tobytes(), np.asarray(V0, dtype=float).tobytes())
        lin = _cached(key, lambda: covariance_evolution(
            system.rates, t_out, V0, u0=np.zeros(6), bare_detuning=system.bare_detuning,
            drive_scale=path.scale, rtol=1e-9, atol=1e-9).covariance)
        return path(t_out), lin.copy()
    ubar = np.broadcast_to(system.mean, shape).copy()
    return ubar, _linear_reference(system, options, t_out, V0)


def _escape_test(problem: Params | LangevinSystem, system: LangevinSystem,
                 options: RingupOptions, run_dim: int):
    """``(test or None, how its radius was set)``: the escape test about the fixed point the
    ring-up goes to, from ``ramp_time + 8 / slowest rate`` on (at most ``t_final``)."""
    fixed = fluctuation_system(problem) if isinstance(problem, Params) else system
    if not fixed.stable:
        return _escapes.plan(problem, None, run_dim, options.escape_radius, 0.0)
    t_end = options.n_outputs * options.steps_per_output * options.dt
    t_start = min(options.ramp_time + 8.0 / fixed.slowest_rate, t_end)
    return _escapes.plan(problem, solve_lyapunov(fixed.A, fixed.D), run_dim,
                         options.escape_radius, t_start)


def _escape_record(chunks: list, test, info: dict[str, Any], options: RingupOptions,
                   problem, path, diverged: int) -> dict[str, Any]:
    """``RingupResult.escapes``: the chunks' escapes with the captured and settled fractions."""
    omega_m = None if path is None else problem.omega_m
    escapes = _escapes.fates(_escapes.collect(chunks, test, info, options.n_traj, omega_m),
                             diverged)
    escapes["t_start"] = None if test is None else test.t_start
    return escapes


#: Warning of each flag a ring-up can raise.
_WARNINGS = {"diverged": StabilityWarning, "metastable": MetastabilityWarning,
             "few_units": StatisticsWarning}


def _reasons(options: RingupOptions, diverged: int, n_units: int,
             escapes: dict[str, Any]) -> dict[str, str]:
    """Every reason the numbers cannot be trusted as they stand, keyed by status."""
    why: dict[str, str] = {}
    if diverged:
        why["diverged"] = (f"{diverged} of {options.n_traj} trajectories diverged (beyond bound "
                           f"{options.bound:g}); left out from the block of divergence on")
    if escapes["count"]:
        c = escapes["captured"]
        why["metastable"] = (f"{escapes['count']} of {options.n_traj} trajectories captured by "
                             f"another attractor (fraction {c['value']:.3g}, 95 %: "
                             f"{c['low']:.3g}..{c['high']:.3g}; not settled within Mahalanobis "
                             f"radius {escapes['initial_radius']:.3g} by "
                             f"t = {escapes['t_start']:g} or beyond {escapes['radius']:.3g} "
                             "later); left out from then on: the statistics after that are "
                             "those of the fixed point's basin")
    if n_units < MIN_UNITS:
        why["few_units"] = (f"error bars from only {n_units} chunks (at least {MIN_UNITS} are "
                            "needed): raise n_traj or lower chunk_size")
    return why


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
    options = _check_inputs(options, seed, n_jobs)
    progress = as_callback(progress, "ringup", "chunk")  # True: a tqdm bar (simulator.progress)
    t0 = time.perf_counter()
    system, path, sde_opts, ensemble = _plan(problem, options)
    sched, order, d = ensemble.schedule, ensemble.record.shadow, system.dim
    t_out = np.arange(sched.n_bins) * sched.steps_per_batch * options.dt
    workers = effective_workers(n_jobs, options.n_chunks, options.backend)
    # refuses a run beyond half the memory
    check_resources(ensemble.run_system, ensemble.run_options, sched, workers)
    device = device_record(ensemble)  # JAX: importable, a chunk fits the device's memory
    identity = {"engine": "ringup", "problem": _identity(problem), "options": options.to_dict(),
                "seed": int(seed)}
    test, info = _escape_test(problem, system, options, ensemble.run_system.dim)
    ensemble = dataclasses.replace(ensemble, record=Moments(shadow=order, escapes=test))
    chunks = run_ensemble(ensemble, int(seed), n_jobs=workers, out=out, identity=identity,
                          progress=progress, max_time=max_time)
    wall_chunks = time.perf_counter() - t0
    s1_run, s2_run, counts, diverged, n_units = _pooled(chunks, options)
    s1, s2 = s1_run[..., :d], s2_run[..., :d, :d]  # the plain estimator (x)
    tf = student_t_factor(n_units)
    m, V, se_m, se_V, observables = _statistics(s1, s2, counts, tf)
    ubar, lin = _linear_path(system, path, options, sde_opts, t_out, m.shape)
    for name, value in (("mean", m), ("covariance", V), ("mean_field", ubar),
                        ("linear_covariance", lin)):
        if not np.isfinite(value).all():
            raise FloatingPointError(f"ring-up {name}: non-finite values in the result; refusing "
                                     "to report it (extreme parameters, or every trajectory "
                                     "diverged)")
    z = z_scores(V, se_V, lin)  # of the plain estimate (a controlled one is built on lin)
    shift = _shift(system, lin, s1_run, s2_run, counts, tf, order) if order else None
    m, se_m, V, se_V, observables, plain = _headline(m, se_m, V, se_V, observables, lin, shift)
    escapes = _escape_record(chunks, test, info, options, problem, path, diverged)
    why = _reasons(options, diverged, n_units, escapes)
    flags = tuple(k for k in ("diverged", "metastable", "few_units") if k in why)
    for k in flags:
        warnings.warn(why[k], _WARNINGS[k], stacklevel=2)
    steps = sched.n_batches * sched.steps_per_batch
    timing = {"wall_seconds": time.perf_counter() - t0, "chunks_wall_seconds": wall_chunks,
              "chunk_seconds_total": float(sum(c.seconds for c in chunks)), "steps": steps,
              "trajectory_steps": steps * options.n_traj, "n_jobs": workers,
              "n_jobs_requested": n_jobs,
              **device}
    return RingupResult(
        params=problem if isinstance(problem, Params) else None, options=options,
        seed=int(seed), seeds=seed_records(int(seed), options.n_chunks),
        schedule=sched.to_dict(), t=t_out, mean_field=ubar, mean=ubar + m, mean_stderr=se_m,
        plain=None if plain is None else {**plain, "mean": ubar + plain["mean"]},
        covariance=V, covariance_stderr=se_V, linear_covariance=lin, z=z,
        observables=observables, unit_s1=s1, unit_s2=s2, unit_counts=counts,
        chunk_seconds=np.array([c.seconds for c in chunks]), diverged=diverged, timing=timing,
        status=flags[0] if flags else "ok", flags=flags, message="; ".join(why[k] for k in flags),
        stderr_t_factor=tf, shift=shift, escapes=escapes,
    )
