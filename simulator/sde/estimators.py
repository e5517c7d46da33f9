"""Estimators for stationary SDE ensembles: covariance with batch-means errors, jackknife E_N.

The raw data are per-unit sums: unit ``i`` (one batch of the averaging window of one chunk) holds
``s1_i = sum x`` (shape ``(d,)``), ``s2_i = sum x x^T`` (``(d, d)``) and the sample count ``c_i``.
Units are (nearly) independent when a batch is much longer than the correlation time, which the
default batch length ``20 / slowest_rate`` ensures; trajectories of different chunks are exactly
independent.

* Covariance: pooled, ``V = S2/C - m m^T`` with ``m = S1/C``.
* Its standard error by batch means: the spread of the per-unit covariances,
  ``se^2 = n/(n-1) sum_i w_i^2 (V_i - V)^2`` with ``w_i = c_i / C``.
* Any nonlinear function of ``V`` (log-negativity, steering): delete-one jackknife over units,
  ``se^2 = (n-1)/n sum_i (f(V_(-i)) - mean f(V_(-j)))^2``.

Clipped quantities. ``E_N = max(0, -ln(2 nu_-))`` and the steerings are clipped at zero. Where the
estimate or any of its jackknife replicates is clipped, the clipped value and its jackknife error
mean nothing (typically "0 +- 0"), and a z-score of it against a small positive reference is
infinite. Such a quantity is flagged *below resolution*, its error is reported as NaN, and it is
scored through its unclipped form (``-ln(2 nu_-)``, ``(1/2) ln(det A / (4 det W))``): a smooth
function of ``V`` that may be negative, with an honest jackknife error, compared with the same
unclipped function of the reference covariance. For an unclipped quantity the two scores are
identical.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..conventions import PAIRS
from ..observables import log_negativity, log_negativity_raw, steering, steering_raw
# scoring moved to simulator.statistics (engine-neutral); importable from here for older code
from ..statistics import (  # noqa: F401
    format_clipped,
    format_log_negativity,
    max_abs,
    pool_seeds,
    score_against_reference,
    verdict,
    z_scores,
)

__all__ = ["pooled_covariance", "unit_covariances", "batch_means_stderr", "jackknife",
           "jackknife_observables", "student_t_factor"]


def pooled_covariance(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(d,)`` and covariance ``(d, d)`` of all samples pooled over units (axis 0)."""
    c = counts.sum()
    if c == 0:
        raise ValueError("no samples (every trajectory diverged?)")
    m = s1.sum(axis=0) / c
    V = s2.sum(axis=0) / c - np.outer(m, m)
    return m, 0.5 * (V + V.T)


def unit_covariances(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit means ``(n, d)`` and covariances ``(n, d, d)`` (units with no samples: NaN)."""
    c = counts.astype(float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s1 / c
        V = s2 / c[..., None] - m[:, :, None] * m[:, None, :]
    return m, V


def batch_means_stderr(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Batch-means standard errors of the pooled mean ``(d,)`` and covariance ``(d, d)``.

    Needs at least two units with samples (else the errors are NaN).
    """
    keep = counts > 0
    s1, s2, counts = s1[keep], s2[keep], counts[keep]
    n = len(counts)
    if n < 2:
        d = s1.shape[-1] if s1.ndim == 2 else 0
        return np.full(d, np.nan), np.full((d, d), np.nan)
    m, V = pooled_covariance(s1, s2, counts)
    mu, Vu = unit_covariances(s1, s2, counts)
    w = counts / counts.sum()
    factor = n / (n - 1.0)
    se_m = np.sqrt(factor * np.einsum("i,ij->j", w**2, (mu - m) ** 2))
    se_V = np.sqrt(factor * np.einsum("i,ijk->jk", w**2, (Vu - V) ** 2))
    return se_m, se_V


def jackknife(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
              f: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Delete-one jackknife of ``f(V)`` over units.

    Parameters
    ----------
    f : callable
        Maps covariances ``(..., d, d)`` to values ``(..., k)`` (vectorised over leading axes).

    Returns
    -------
    value, stderr : ndarray, shape (k,)
        ``f`` of the pooled covariance and its jackknife standard error (NaN with < 2 units).
    """
    value, se, _ = _jackknife_replicates(s1, s2, counts, f)
    return value, se


def _jackknife_replicates(s1, s2, counts, f):
    """:func:`jackknife` plus the leave-one-out values ``(n, k)`` (``None`` with < 2 units)."""
    keep = counts > 0
    s1, s2, counts = s1[keep], s2[keep], counts[keep]
    _, V = pooled_covariance(s1, s2, counts)
    value = np.asarray(f(V))
    n = len(counts)
    if n < 2:
        return value, np.full(value.shape, np.nan), None
    S1, S2, C = s1.sum(0), s2.sum(0), counts.sum()
    c_loo = (C - counts).astype(float)
    m_loo = (S1 - s1) / c_loo[:, None]
    V_loo = (S2 - s2) / c_loo[:, None, None] - m_loo[:, :, None] * m_loo[:, None, :]
    V_loo = 0.5 * (V_loo + np.swapaxes(V_loo, -1, -2))
    th = np.asarray(f(V_loo))
    # a replicate from very few samples can be singular (E_N infinite): its error is NaN,
    # "no error bar", said by the caller -- not a numpy warning to the user
    with np.errstate(invalid="ignore", over="ignore"):
        se = np.sqrt((n - 1.0) / n * ((th - th.mean(axis=0)) ** 2).sum(axis=0))
    return value, se, th


def _vector(fn: Callable[[np.ndarray], dict], keys: list[str]):
    return lambda V: np.stack([fn(V)[k] for k in keys], axis=-1)


def _composed(f: Callable, g: Callable) -> Callable:
    return lambda V: f(g(V))


def _clipped_family(s1, s2, counts, fn_clipped, fn_raw, keys):
    """Clipped and raw values of one family (E_N or steering) with jackknife errors and the
    below-resolution flags (estimate or any leave-one-out replicate at or below zero)."""
    val, se = jackknife(s1, s2, counts, _vector(fn_clipped, keys))
    raw, raw_se, th = _jackknife_replicates(s1, s2, counts, _vector(fn_raw, keys))
    below = raw <= 0.0
    if th is not None:
        below = below | (th <= 0.0).any(axis=0)
    se = np.where(below, np.nan, se)
    return ({k: float(v) for k, v in zip(keys, val)}, {k: float(v) for k, v in zip(keys, se)},
            {k: float(v) for k, v in zip(keys, raw)}, {k: float(v) for k, v in zip(keys, raw_se)},
            {k: bool(v) for k, v in zip(keys, below)})


def jackknife_observables(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
                          covariance: Callable[[np.ndarray], np.ndarray] | None = None
                          ) -> dict[str, dict[str, Any]]:
    """Log-negativity and steering of the pooled covariance with jackknife errors.

    ``covariance``, if given, maps the pooled covariance of the unit sums ``(..., k, k)`` to the
    ``(..., 6, 6)`` covariance whose observables are wanted (the control-variate estimate
    ``V_Lyapunov + dV`` of an augmented run, :mod:`simulator.sde.control`); by default the sums
    are those of the 6 variables themselves.

    Only for the 6-variable optomechanical system. Returns, for ``name`` in ``"log_negativity"``
    and ``"steering"`` (keys of :func:`simulator.observables.log_negativity` and
    :func:`simulator.observables.steering`):

    * ``name``, ``name_stderr``: the (clipped) value and its jackknife error; the error is NaN
      where the quantity is below resolution;
    * ``name_raw``, ``name_raw_stderr``: the unclipped form (:func:`log_negativity_raw`,
      :func:`steering_raw`) and its jackknife error;
    * ``name_below_resolution``: ``True`` where the estimate or one of its jackknife replicates
      is clipped at zero (the clipped value then carries no error bar; score the raw one).
    """
    out: dict[str, dict[str, Any]] = {}
    en_keys = list(PAIRS)
    st_keys = list(steering(np.eye(6) / 2))
    for name, fc, fr, keys in (("log_negativity", log_negativity, log_negativity_raw, en_keys),
                               ("steering", steering, steering_raw, st_keys)):
        if covariance is not None:
            fc, fr = _composed(fc, covariance), _composed(fr, covariance)
        val, se, raw, raw_se, below = _clipped_family(s1, s2, counts, fc, fr, keys)
        out.update({name: val, f"{name}_stderr": se, f"{name}_raw": raw,
                    f"{name}_raw_stderr": raw_se, f"{name}_below_resolution": below})
    return out


def student_t_factor(n_units: int) -> float:
    """Widening of a standard error estimated from ``n_units`` units.

    The batch-means and jackknife errors are themselves estimated from ``n_units`` units, so
    ``(estimate - truth) / stderr`` follows Student's t with ``n_units - 1`` degrees of freedom,
    not a normal law. The reported error bar is widened so that ``+- stderr`` covers the same
    68.3 % as one normal sigma: ``t.ppf(Phi(1), n_units - 1)`` (1.08 at 8 units, 1.016 at 32,
    -> 1). This is the only place where errors are widened (issue 13 relies on it). It does not
    correct for batches that are too short (which make errors too small by a factor the units
    cannot reveal): those are flagged ``few_units`` instead.
    """
    from scipy import special  # t.ppf and norm.cdf of scipy.stats, without importing it

    if n_units < 2:
        return float("inf")
    return float(special.stdtrit(n_units - 1, special.ndtr(1.0)))
