"""The statistics of a stationary run from its chunks' sums: pooled mean and covariance with
batch-means errors, jackknifed observables and uncertainty check, the Lyapunov scores, the
control-variate shift and the headline estimate (the controlled one where there is one).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import AllDivergedError
from ..linear import solve_lyapunov
from ..observables import uncertainty_violation
from ..statistics import score_against_reference
from .control import difference_covariance, shift_estimate
from .estimators import (batch_means_stderr, jackknife, jackknife_observables, pooled_covariance,
                         student_t_factor)
from .options import SDEOptions
from .scheduling import Schedule
from .system import LangevinSystem

__all__ = ["Statistics", "pooled_statistics", "lyapunov_reference", "control_shift", "headline",
           "check_finite"]


def check_finite(name: str, value: Any) -> None:
    """``FloatingPointError`` if ``value`` (array or dict of numbers) holds NaN or inf."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(f"{name}[{k!r}]", v)
        return
    a = np.asarray(value, dtype=float)
    if not np.isfinite(a).all():
        raise FloatingPointError(
            f"{name}: non-finite value(s) {a.ravel()[~np.isfinite(a.ravel())][:3].tolist()} in the "
            "result; refusing to report it (overflow from extreme parameters, or every unit "
            "diverged)")


@dataclass(frozen=True)
class Statistics:
    """The pooled statistics of a run (:func:`pooled_statistics`); standard errors already widened.

    ``s1, s2, counts``: per-unit sums, shapes ``(n, d)``, ``(n, d, d)``, ``(n,)``, of the plain
    estimator ``x`` (``s1_run``, ``s2_run``: of the whole state a control-variate run integrates,
    for :func:`control_shift`); ``mean``
    ``(d,)`` and ``covariance`` ``(d, d)`` with their standard errors; ``observables`` (``d = 6``
    only) and ``uncertainty`` (``None`` without ``rates`` or for odd ``d``) as in
    :class:`SDEResult`; ``t_factor`` is :func:`student_t_factor` of ``n_units``.
    """

    s1: np.ndarray
    s2: np.ndarray
    counts: np.ndarray
    s1_run: np.ndarray
    s2_run: np.ndarray
    diverged: int
    n_units: int
    t_factor: float
    mean: np.ndarray
    mean_stderr: np.ndarray
    covariance: np.ndarray
    covariance_stderr: np.ndarray
    observables: dict[str, Any]
    uncertainty: dict[str, float] | None


def pooled_statistics(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                chunks: list) -> Statistics:
    """Pooled mean and covariance of the chunks' units, batch-means errors widened by
    :func:`student_t_factor`, jackknifed observables and uncertainty check.

    Raises ``FloatingPointError`` if fewer than 2 units kept samples or a value is non-finite.
    """
    s1_run = np.concatenate([c.s1 for c in chunks])
    s2_run = np.concatenate([c.s2 for c in chunks])
    counts = np.concatenate([c.counts for c in chunks])
    diverged = sum(c.diverged for c in chunks)
    d = system.dim
    s1, s2 = s1_run[:, :d], s2_run[:, :d, :d]  # the plain estimator (x) of a control-variate run
    n_units = int((counts > 0).sum())
    if n_units < 2:
        raise AllDivergedError(
            f"{diverged} of {options.n_traj} trajectories diverged (beyond bound "
            f"{sched.bound:g} or non-finite), {_escaped(chunks)} escaped from the fixed "
            f"point's basin, and {n_units} statistical unit(s) kept samples; "
            "no result with an error bar can be formed: raise bound (--bound; the default is "
            "1000 standard deviations of the stationary state), or check the parameters")
    tf = student_t_factor(n_units)
    mean, V = pooled_covariance(s1, s2, counts)
    se_m, se_V = batch_means_stderr(s1, s2, counts)
    se_m, se_V = tf * se_m, tf * se_V
    observables = _observables(d, s1, s2, counts, tf)
    _check_statistics(mean, V, se_m, se_V, observables)
    return Statistics(s1=s1, s2=s2, counts=counts, s1_run=s1_run, s2_run=s2_run,
                       diverged=diverged, n_units=n_units,
                       t_factor=tf, mean=mean, mean_stderr=se_m, covariance=V,
                       covariance_stderr=se_V, observables=observables,
                       uncertainty=_uncertainty(system, s1, s2, counts, tf))


def _observables(d: int, s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
                 tf: float, covariance: Callable | None = None) -> dict[str, Any]:
    """Jackknifed observables of a 6-mode run (``{}`` otherwise), errors widened by ``tf``
    (``covariance``: as :func:`~simulator.sde.estimators.jackknife_observables`)."""
    observables: dict[str, Any] = {}
    if d == 6:
        observables = jackknife_observables(s1, s2, counts, covariance)
        for key, val in observables.items():
            if key.endswith("_stderr") and isinstance(val, dict):
                observables[key] = {k: tf * v for k, v in val.items()}
    return observables


def _check_statistics(mean: np.ndarray, V: np.ndarray, se_m: np.ndarray, se_V: np.ndarray,
                      observables: dict[str, Any]) -> None:
    """``FloatingPointError`` naming the first non-finite statistic (NaN errors of values below
    resolution excepted)."""
    for name, value in (("mean", mean), ("covariance", V), ("mean_stderr", se_m),
                        ("covariance_stderr", se_V), *observables.items()):
        if name in ("log_negativity_stderr", "steering_stderr"):
            # a clipped value below resolution carries no error bar (NaN) by design
            below = observables[name.replace("_stderr", "_below_resolution")]
            value = {k: v for k, v in value.items() if not below[k]}
        check_finite(name, value)


def _uncertainty(system: LangevinSystem, s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
                 tf: float, covariance: Callable | None = None) -> dict[str, float] | None:
    """Jackknifed smallest eigenvalue of ``V + i Omega / 2`` with its widened error, for a
    physical system (``rates`` known, even ``d``); else ``None`` (``covariance``: as
    :func:`~simulator.sde.estimators.jackknife_observables`)."""
    if system.rates is None or system.dim % 2 != 0:
        return None
    g = (lambda W: W) if covariance is None else covariance
    f = lambda W: np.asarray(uncertainty_violation(g(W)))[..., None]  # noqa: E731
    val, err = jackknife(s1, s2, counts, f)
    uncertainty = {"min_eigenvalue": float(val[0]), "stderr": float(tf * err[0])}
    check_finite("uncertainty", uncertainty)
    return uncertainty


def lyapunov_reference(system: LangevinSystem, stats: Statistics) -> dict[str, Any] | None:
    """Scores against the Lyapunov covariance of the same ``A``, ``D`` (``None`` if unstable)."""
    if not system.stable:
        return None
    VL = solve_lyapunov(system.A, system.D)
    check_finite("lyapunov covariance", VL)
    return score_against_reference(stats.covariance, stats.covariance_stderr, VL,
                                   stats.observables, stats.n_units)


def control_shift(system: LangevinSystem, options: SDEOptions, reference: dict[str, Any] | None,
           stats: Statistics, order: int) -> dict[str, Any] | None:
    """The nonlinear shift from a control-variate run (:func:`simulator.sde.control.
    shift_estimate`); ``None`` without control variates or a Lyapunov reference."""
    if not (options.control_variate and reference is not None):
        return None
    shift = shift_estimate(system, reference["covariance"], stats.s1_run, stats.s2_run,
                           stats.counts, stats.t_factor, order)
    below = shift.get("log_negativity_below_resolution", {})
    check_finite("shift", {
        **{k: v for k, v in shift.items() if k not in ("z", "log_negativity_stderr",
                                                        "log_negativity_below_resolution")},
        "log_negativity_stderr": {k: v for k, v in shift.get("log_negativity_stderr", {}).items()
                                  if not below.get(k)}})
    return shift


def headline(system: LangevinSystem, plain: Statistics, reference: dict[str, Any] | None,
              shift: dict[str, Any] | None, order: int):
    """``(statistics, plain record)`` of the headline estimate: the plain one (record ``None``)
    without control variates; with them the controlled one, ``V_Lyapunov + dV``
    (:mod:`simulator.sde.control`), its E_N, steering and uncertainty jackknifed through the same
    map, and the plain estimate kept as ``SDEResult.plain``. The scores against Lyapunov stay
    those of the plain estimate: the controlled one is built on that reference, and its
    difference from it is the shift, scored in ``shift``."""
    if shift is None or reference is None:
        return plain, None
    VL = reference["covariance"]
    cov = lambda Vz: VL + difference_covariance(Vz, system.dim, order)  # noqa: E731
    args = (plain.s1_run, plain.s2_run, plain.counts, plain.t_factor)
    stats = dataclasses.replace(
        plain, mean=shift["mean"], mean_stderr=shift["mean_stderr"],
        covariance=shift["controlled_covariance"], covariance_stderr=shift["covariance_stderr"],
        observables=_observables(system.dim, *args, cov),
        uncertainty=_uncertainty(system, *args, cov))
    _check_statistics(stats.mean, stats.covariance, stats.mean_stderr, stats.covariance_stderr,
                      stats.observables)
    record = {"mean": plain.mean, "mean_stderr": plain.mean_stderr,
              "covariance": plain.covariance, "covariance_stderr": plain.covariance_stderr,
              "observables": plain.observables, "uncertainty": plain.uncertainty}
    return stats, record


def _escaped(chunks: list) -> int:
    """Escapes from the fixed point's basin counted by the chunks (0 without the test)."""
    return sum(0 if c.escape_times is None else len(c.escape_times) for c in chunks)
