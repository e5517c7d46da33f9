"""Scoring an estimate against a reference: z-scores, verdicts and the one threshold.

Engine-neutral: the SDE engines (stationary, ring-up, control variates), :mod:`simulator.compare`
and :mod:`simulator.validate` all score with these functions, against :data:`Z_AGREE`, the only
place the 5-sigma band is written.

* :func:`z_scores`: ``(estimate - reference) / stderr`` (0 or inf where the error is 0).
* :func:`agrees`, :func:`verdict`: the band, and the one-word verdict of a largest ``|z|``
  (flagged with fewer than :data:`~simulator.errors.MIN_UNITS` units).
* :func:`score_against_reference`: a covariance and its E_N (scored unclipped) against a
  reference covariance.
* :func:`format_clipped`, :func:`format_log_negativity`: text for quantities clipped at zero,
  never ``"0 +- 0"``.
* :func:`pool_seeds`: independent runs of one estimate pooled, with a check of the reported
  errors against the observed scatter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import MIN_UNITS
from .observables import log_negativity, log_negativity_raw

__all__ = ["Z_AGREE", "z_scores", "agrees", "max_abs", "verdict", "score_against_reference",
           "format_clipped", "format_log_negativity", "pool_seeds", "binomial_interval"]

#: ``|z|`` below which a statistical estimate agrees with its reference, for every engine and
#: comparison. With about 30 quantities per comparison a 5-sigma band flags a false deviation
#: with probability ~2e-5.
Z_AGREE = 5.0


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


def agrees(z: float, *, threshold: float = Z_AGREE) -> bool:
    """``|z| < threshold`` (NaN: ``False``)."""
    return bool(abs(z) < threshold)


def max_abs(values) -> float:
    """Largest ``|v|`` ignoring NaN; NaN if every value is NaN."""
    a = np.abs(np.asarray(values, dtype=float)).ravel()
    a = a[~np.isnan(a)]
    return float(a.max()) if a.size else float("nan")


def verdict(max_abs_z: float, n_units: int, *, threshold: float = Z_AGREE) -> str:
    """``"agree"`` / ``"disagree"`` at ``threshold`` sigma, flagged when too few units
    (< :data:`~simulator.errors.MIN_UNITS`)
    make the error bars themselves uncertain; ``"undetermined (no error bars)"`` only when
    ``max_abs_z`` is not finite (fewer than two units), never because a quantity is clipped
    (:func:`score_against_reference` scores those unclipped)."""
    if not np.isfinite(max_abs_z):
        return "undetermined (no error bars)"
    word = "agree" if max_abs_z < threshold else "disagree"
    if n_units < MIN_UNITS:
        word += f" (only {n_units} batches: error bars uncertain)"
    return word


def score_against_reference(V: np.ndarray, se_V: np.ndarray, VL: np.ndarray,
                            observables: dict[str, dict[str, Any]], n_units: int, *,
                            threshold: float = Z_AGREE) -> dict[str, Any]:
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
        small = 0 < stderr < 0.5 * 10.0**-digits  # e.g. a control-variate error: never "0.0000"
        return f"{value:.{digits}f} {pm} {stderr:{'.2g' if small else f'.{digits}f'}}"
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


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval of a binomial fraction ``k / n``.

    Conservative: it covers the true fraction with probability at least ``level`` whatever the
    fraction (the Wilson interval can fall short near 0 and 1, where escape fractions live).

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n``, ``n >= 1``.
    level : float
        Coverage, in (0, 1).

    Returns
    -------
    (low, high) : tuple of float
        ``low = 0`` for ``k = 0``, ``high = 1`` for ``k = n``.

    Examples
    --------
    >>> lo, hi = binomial_interval(0, 100)
    >>> lo, round(hi, 4)                      # the "rule of three": about 3 / n
    (0.0, 0.0362)
    """
    from scipy import special  # beta.ppf(q, a, b) = betaincinv(a, b, q), without scipy.stats

    if isinstance(k, bool) or isinstance(n, bool) or int(n) < 1 or not 0 <= int(k) <= int(n):
        raise ValueError(f"k = {k!r}, n = {n!r}: need integers 0 <= k <= n, n >= 1")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level = {level!r}: must be in (0, 1)")
    k, n, a = int(k), int(n), 1.0 - level
    low = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, a / 2))
    high = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1 - a / 2))
    return low, high
