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
    "log_negativity_raw",
    "steering_raw",
    "score_against_reference",
    "format_clipped",
    "format_log_negativity",
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


def jackknife_observables(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray
                          ) -> dict[str, dict[str, Any]]:
    """Log-negativity and steering of the pooled covariance with jackknife errors.

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
        val, se, raw, raw_se, below = _clipped_family(s1, s2, counts, fc, fr, keys)
        out.update({name: val, f"{name}_stderr": se, f"{name}_raw": raw,
                    f"{name}_raw_stderr": raw_se, f"{name}_below_resolution": below})
    return out


def z_scores(estimate: np.ndarray, stderr: np.ndarray, reference: np.ndarray, *,
             atol: float = 1e-12) -> np.ndarray:
    """``(estimate - reference) / stderr`` elementwise. Where the error is zero the score is 0 if
    ``|estimate - reference| <= atol`` (e.g. an element that is exactly zero in both) and ``inf``
    otherwise. Do not score a value clipped at zero with this: score its unclipped form
    (:func:`score_against_reference`)."""
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
    make the error bars themselves uncertain; ``"undetermined (no error bars)"`` only when
    ``max_abs_z`` is not finite (fewer than two units), never because a quantity is clipped
    (:func:`score_against_reference` scores those unclipped)."""
    if not np.isfinite(max_abs_z):
        return "undetermined (no error bars)"
    word = "agree" if max_abs_z < threshold else "disagree"
    if n_units < 8:
        word += f" (only {n_units} batches: error bars uncertain)"
    return word


def score_against_reference(V: np.ndarray, se_V: np.ndarray, VL: np.ndarray,
                            observables: dict[str, dict[str, Any]], n_units: int, *,
                            threshold: float = 5.0) -> dict[str, Any]:
    """Score an ensemble covariance and its E_N against a reference covariance (Lyapunov).

    Parameters
    ----------
    V, se_V : ndarray, shape (d, d)
        Pooled covariance and its batch-means standard errors.
    VL : ndarray, shape (d, d)
        Reference covariance.
    observables : dict
        :func:`jackknife_observables` output (may be empty, e.g. for ``d != 6``).
    n_units : int
        Statistical units with samples.
    threshold : float
        ``|z|`` at or above which a quantity disagrees.

    Returns
    -------
    dict
        ``covariance`` (the reference), ``z`` (d x d), ``max_abs_z_covariance`` (over the
        ``d (d + 1) / 2`` independent elements) and ``verdict_covariance`` (that alone); with
        observables also ``log_negativity`` (reference, clipped), ``log_negativity_raw``
        (reference, unclipped), ``log_negativity_z`` (z of the *unclipped* estimate against the
        unclipped reference: the ordinary z where nothing is clipped, finite where something
        is), ``log_negativity_below_resolution``; ``max_abs_z`` over the covariance and E_N
        scores and ``verdict`` (:func:`verdict`). A clipped E_N never makes the verdict
        undetermined.
    """
    z = z_scores(V, se_V, VL)
    iu = np.triu_indices(len(V))
    max_cov = max_abs(z[iu])
    out: dict[str, Any] = {"covariance": VL, "z": z, "max_abs_z_covariance": max_cov,
                           "verdict_covariance": verdict(max_cov, n_units, threshold=threshold)}
    max_z = max_cov
    if observables and "log_negativity_raw" in observables:
        enL = {k: float(v) for k, v in log_negativity(VL).items()}
        rawL = {k: float(v) for k, v in log_negativity_raw(VL).items()}
        raw, raw_se = observables["log_negativity_raw"], observables["log_negativity_raw_stderr"]
        en_z = {k: float(z_scores(raw[k], raw_se[k], rawL[k])) for k in enL}
        out.update(log_negativity=enL, log_negativity_raw=rawL, log_negativity_z=en_z,
                   log_negativity_below_resolution=dict(
                       observables["log_negativity_below_resolution"]))
        max_z = max_abs([max_cov, *en_z.values()])
    out["max_abs_z"] = max_z
    out["verdict"] = verdict(max_z, n_units, threshold=threshold)
    return out


def format_clipped(value: float, stderr: float, raw: float | None = None,
                   raw_stderr: float | None = None, below: bool = False, *,
                   digits: int = 4, pm: str = "+-") -> str:
    """Text for a quantity clipped at zero: ``"0.1555 +- 0.0005"`` when resolved; when below
    resolution ``"< 0.0031 (below resolution)"`` (upper bound ``raw + 2 raw_stderr``), or
    ``"0 (below resolution; unclipped -0.012 +- 0.004)"`` when even that bound is negative.
    Never ``"0 +- 0"``."""
    if not below:
        return f"{value:.{digits}f} {pm} {stderr:.{digits}f}"
    if raw is None or raw_stderr is None or not np.isfinite(raw_stderr):
        return f"{value:.{digits}f} (below resolution, no error bar)"
    bound = raw + 2.0 * raw_stderr
    if bound > 0:
        return f"< {bound:.2g} (below resolution)"
    return f"0 (below resolution; unclipped {raw:.2g} {pm} {raw_stderr:.1g})"


def format_log_negativity(observables: dict[str, dict[str, Any]], *, pm: str = "+-") -> str:
    """``"r_m 0.0351 +- 0.0022, l_m < 0.0031 (below resolution), r_l ..."`` from
    :func:`jackknife_observables` output (or an older result without the raw keys)."""
    en, se = observables["log_negativity"], observables["log_negativity_stderr"]
    raw = observables.get("log_negativity_raw", {})
    raw_se = observables.get("log_negativity_raw_stderr", {})
    below = observables.get("log_negativity_below_resolution",
                            {k: en[k] == 0.0 for k in en})
    return ", ".join(f"{k} " + format_clipped(en[k], se[k], raw.get(k), raw_se.get(k),
                                              bool(below.get(k)), pm=pm) for k in en)


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
