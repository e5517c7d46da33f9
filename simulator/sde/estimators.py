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
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..observables import log_negativity, steering

__all__ = [
    "pooled_covariance",
    "unit_covariances",
    "batch_means_stderr",
    "jackknife",
    "jackknife_observables",
    "z_scores",
    "max_abs",
    "verdict",
    "pool_seeds",
]


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
    keep = counts > 0
    s1, s2, counts = s1[keep], s2[keep], counts[keep]
    _, V = pooled_covariance(s1, s2, counts)
    value = np.asarray(f(V))
    n = len(counts)
    if n < 2:
        return value, np.full(value.shape, np.nan)
    S1, S2, C = s1.sum(0), s2.sum(0), counts.sum()
    c_loo = (C - counts).astype(float)
    m_loo = (S1 - s1) / c_loo[:, None]
    V_loo = (S2 - s2) / c_loo[:, None, None] - m_loo[:, :, None] * m_loo[:, None, :]
    V_loo = 0.5 * (V_loo + np.swapaxes(V_loo, -1, -2))
    th = np.asarray(f(V_loo))
    se = np.sqrt((n - 1.0) / n * ((th - th.mean(axis=0)) ** 2).sum(axis=0))
    return value, se


def _en_vector(V: np.ndarray) -> np.ndarray:
    en = log_negativity(V)
    return np.stack([en["r_m"], en["l_m"], en["r_l"]], axis=-1)


def _steer_vector(V: np.ndarray) -> np.ndarray:
    st = steering(V)
    return np.stack([st[k] for k in st], axis=-1)


def jackknife_observables(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray
                          ) -> dict[str, dict[str, float]]:
    """Log-negativity and steering of the pooled covariance with jackknife errors.

    Only for the 6-variable optomechanical system. Returns
    ``{"log_negativity": {...}, "log_negativity_stderr": {...}, "steering": {...},
    "steering_stderr": {...}}`` with the keys of :func:`simulator.observables.log_negativity`
    and :func:`simulator.observables.steering`.
    """
    en, en_se = jackknife(s1, s2, counts, _en_vector)
    st, st_se = jackknife(s1, s2, counts, _steer_vector)
    keys = ("r_m", "l_m", "r_l")
    steer_keys = list(steering(np.eye(6) / 2))
    return {
        "log_negativity": {k: float(v) for k, v in zip(keys, en)},
        "log_negativity_stderr": {k: float(v) for k, v in zip(keys, en_se)},
        "steering": {k: float(v) for k, v in zip(steer_keys, st)},
        "steering_stderr": {k: float(v) for k, v in zip(steer_keys, st_se)},
    }


def z_scores(estimate: np.ndarray, stderr: np.ndarray, reference: np.ndarray, *,
             atol: float = 1e-12) -> np.ndarray:
    """``(estimate - reference) / stderr`` elementwise. Where the error is zero the score is 0 if
    ``|estimate - reference| <= atol`` (e.g. an E_N clipped to 0 against a reference of 1e-16)
    and ``inf`` otherwise."""
    diff = np.asarray(estimate, float) - np.asarray(reference, float)
    se = np.asarray(stderr, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0),
                     np.where(np.abs(diff) <= atol, 0.0, np.inf))
    return np.where(np.isnan(se), np.nan, z)


def max_abs(values) -> float:
    """Largest ``|v|`` ignoring NaN; NaN if every value is NaN."""
    a = np.abs(np.asarray(values, dtype=float)).ravel()
    a = a[~np.isnan(a)]
    return float(a.max()) if a.size else float("nan")


def verdict(max_abs_z: float, n_units: int, *, threshold: float = 5.0) -> str:
    """``"agree"`` / ``"disagree"`` at ``threshold`` sigma, flagged when too few units (< 8)
    make the error bars themselves uncertain."""
    if not np.isfinite(max_abs_z):
        return "undetermined (no error bars)"
    word = "agree" if max_abs_z < threshold else "disagree"
    if n_units < 8:
        word += f" (only {n_units} batches: error bars uncertain)"
    return word


def pool_seeds(values, stderrs) -> dict[str, np.ndarray]:
    """Pool independent runs (different root seeds) of the same estimate.

    Parameters
    ----------
    values, stderrs : array_like, shape (n_seeds, ...)
        One estimate and its reported standard error per independent run (n_seeds >= 2).

    Returns
    -------
    dict of str to ndarray, each of shape ``(...)``
        ``mean`` (equal weights), ``seed_std`` (sample std over runs, ddof 1), ``pooled_stderr``
        (``sqrt(sum se_i^2) / n``: the error of the mean if the reported errors are right),
        ``scatter_stderr`` (``seed_std / sqrt(n)``: the same from the observed scatter) and
        ``scatter_ratio`` (``seed_std / rms(se_i)``: about 1 when the reported errors are honest,
        with a relative uncertainty of about ``1 / sqrt(2 (n - 1))``).
    """
    v = np.asarray(values, dtype=float)
    se = np.asarray(stderrs, dtype=float)
    if v.shape != se.shape:
        raise ValueError(f"values shape {v.shape} != stderrs shape {se.shape}")
    n = v.shape[0] if v.ndim else 0
    if n < 2:
        raise ValueError(f"pool_seeds needs at least 2 runs, got n_seeds = {n}")
    std = v.std(axis=0, ddof=1)
    rms = np.sqrt((se**2).mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = std / rms
    return {"mean": v.mean(axis=0), "seed_std": std,
            "pooled_stderr": np.sqrt((se**2).sum(axis=0)) / n,
            "scatter_stderr": std / np.sqrt(n), "scatter_ratio": ratio}
