"""Did the averaging window of a stationary run start after the initial state had relaxed?

A stationary SDE run discards ``t_burn`` and averages over ``t_avg``. If the initial state has
not relaxed by ``t_burn``, the time average is biased by the tail of the transient, and the
batch-means error bar (the scatter of the units about their own mean) cannot see it: the units
share the bias. Two tests, either of which flags the run ``not_stationary``:

1. **The initial state's relaxation, predicted** (a floor that needs no samples). For the
   linearised dynamics ``dx = A x dt + dW`` the second moments relax exactly as
   ``M(t) - V_inf = e^{At} X e^{A^T t}`` with ``X = V_0 + m_0 m_0^T - V_inf`` (``V_inf`` the
   Lyapunov covariance, ``V_0, m_0`` the initial covariance and mean), whose integral over the
   window ``[t_1, t_2] = [t_burn, t_burn + t_avg]`` solves ``A Y + Y A^T = F(t_2) - F(t_1)``.
   The bias of the pooled covariance is ``Y / t_avg - mbar mbar^T`` (``mbar`` the time-averaged
   mean, ``A^{-1} (e^{A t_2} - e^{A t_1}) m_0 / t_avg``). The run is flagged when some element
   is biased by more than :data:`BIAS_STDERRS` of its standard error.
2. **The window drifts, measured.** The pooled covariance of the first fifth of the batches is
   compared with that of the last half (Geweke's first-10 % / last-50 % test, in batch means):
   ``z = (V_first - V_last) / sqrt(se_first^2 + se_last^2)`` per element, flagged where the
   largest ``|z|`` exceeds the two-sided Student-t quantile of family-wise false-alarm
   probability :data:`FALSE_ALARM` over the ``d (d + 1) / 2`` elements. This catches what the
   linearised prediction does not (nonlinear relaxation, a user's system); it needs at least
   two batches and :data:`MIN_PART_UNITS` units in each part.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conventions import QUADRATURES
from ..errors import MIN_UNITS
from .estimators import batch_means_stderr, pooled_covariance
from .ensemble import Schedule, initial_moments
from .options import SDEOptions
from .system import LangevinSystem

__all__ = ["BIAS_STDERRS", "FALSE_ALARM", "MIN_PART_UNITS", "relaxation_bias",
           "window_drift", "stationarity_reason"]

#: Largest predicted relaxation bias of a covariance element, in its standard errors, of a run
#: called stationary: at one standard error a z-score against the truth moves by at most 1.
BIAS_STDERRS = 1.0
#: Family-wise probability that the drift test flags a stationary run (all elements together).
FALSE_ALARM = 1e-3
#: Fewest units with samples in each part of the window for the drift test to be made.
MIN_PART_UNITS = MIN_UNITS // 2


def _element(i: int, j: int, d: int) -> str:
    names = QUADRATURES if d == len(QUADRATURES) else [f"x{k}" for k in range(d)]
    return f"V[{names[i]},{names[j]}]"


def relaxation_bias(system: LangevinSystem, options: SDEOptions, t_burn: float,
                    t_avg: float) -> np.ndarray | None:
    """Bias ``(d, d)`` of the window-averaged covariance from the linearised relaxation of the
    initial state (see the module docstring); ``None`` for an unstable or time-dependent
    system."""
    import scipy.linalg as sl

    if not system.stable or getattr(system, "drift_at", None) is not None:
        return None
    A = np.asarray(system.A, dtype=float)
    m0, V0 = initial_moments(system, options)
    with np.errstate(all="ignore"):
        V_inf = sl.solve_continuous_lyapunov(A, -np.asarray(system.D, dtype=float))
        X = V0 + np.outer(m0, m0) - V_inf
        E1, E2 = sl.expm(A * t_burn), sl.expm(A * (t_burn + t_avg))
        F = E2 @ X @ E2.T - E1 @ X @ E1.T
        Y = sl.solve_continuous_lyapunov(A, F)
        mbar = np.linalg.solve(A, (E2 - E1) @ m0) / t_avg
        bias = Y / t_avg - np.outer(mbar, mbar)
    if not np.isfinite(bias).all():
        return None
    return 0.5 * (bias + bias.T)


def _ratio(value: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``|value| / se`` where ``se > 0``; 0 where both vanish, inf where only ``se`` does."""
    out = np.zeros_like(value, dtype=float)
    pos = se > 0
    out[pos] = np.abs(value[pos]) / se[pos]
    out[~pos & (np.abs(value) > 0)] = np.inf
    return out


def window_drift(s1: np.ndarray, s2: np.ndarray, counts: np.ndarray, n_chunks: int,
                 n_batches: int) -> dict[str, Any] | None:
    """First fifth against last half of the averaging window, in batch means.

    Parameters
    ----------
    s1, s2, counts : ndarray, shapes (n_chunks * n_batches, d), (..., d, d), (...,)
        Per-unit sums in chunk-major order (as the chunks return them).

    Returns
    -------
    dict or None
        ``max_abs_z``, ``threshold``, ``element`` ``(i, j)``, ``difference`` (first - last) and
        the number of units in each part; ``None`` when the test cannot be made.
    """
    from scipy import special  # not scipy.stats: 0.25 s to import against 0.66 s

    if n_batches < 2:
        return None
    d = s1.shape[-1]
    k_first, k_last = max(1, n_batches // 5), max(1, n_batches // 2)
    S1, S2 = s1.reshape(n_chunks, n_batches, d), s2.reshape(n_chunks, n_batches, d, d)
    C = counts.reshape(n_chunks, n_batches)
    parts = []
    for sl_ in (slice(0, k_first), slice(n_batches - k_last, n_batches)):
        c = C[:, sl_].reshape(-1)
        keep = c > 0
        if keep.sum() < MIN_PART_UNITS:
            return None
        a1, a2 = S1[:, sl_].reshape(-1, d)[keep], S2[:, sl_].reshape(-1, d, d)[keep]
        _, V = pooled_covariance(a1, a2, c[keep])
        _, se = batch_means_stderr(a1, a2, c[keep])
        parts.append((V, se, int(keep.sum())))
    (Va, sa, na), (Vb, sb, nb) = parts
    z = _ratio(Va - Vb, np.sqrt(sa**2 + sb**2))
    iu = np.triu_indices(d)
    n_el = len(iu[0])
    # Student's t quantile (scipy.stats.t.ppf)
    threshold = float(special.stdtrit(min(na, nb) - 1, 1 - FALSE_ALARM / (2 * n_el)))
    flat = int(np.argmax(z[iu]))
    i, j = int(iu[0][flat]), int(iu[1][flat])
    return {"max_abs_z": float(z[i, j]), "threshold": threshold, "element": (i, j),
            "difference": float((Va - Vb)[i, j]), "units": (na, nb),
            "batches": (k_first, k_last)}


def _burn_needed(system: LangevinSystem, options: SDEOptions, t_burn: float, t_avg: float,
                 se: np.ndarray) -> float | None:
    """Smallest burn-in (doubling, then bisected to 10 %) whose predicted bias is within
    :data:`BIAS_STDERRS`; ``None`` if none is found below ``1e6 * (t_burn + 1)``."""
    def ok(tb: float) -> bool:
        b = relaxation_bias(system, options, tb, t_avg)
        return b is not None and _ratio(b, se).max() <= BIAS_STDERRS

    lo, hi = t_burn, max(2.0 * t_burn, 1.0)
    while not ok(hi):
        lo, hi = hi, 2.0 * hi
        if hi > 1e6 * (t_burn + 1.0):
            return None
    while hi - lo > 0.1 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def stationarity_reason(system: LangevinSystem, options: SDEOptions, sched: Schedule,
                        s1: np.ndarray, s2: np.ndarray, counts: np.ndarray,
                        covariance_stderr: np.ndarray) -> str | None:
    """Why the averaging window is not stationary (``None``: no evidence that it is not).

    ``s1, s2, counts`` are the per-unit sums of the plain estimator in chunk-major order,
    ``covariance_stderr`` ``(d, d)`` the (widened) standard error of the pooled covariance.
    """
    d = s1.shape[-1]
    why = []
    bias = relaxation_bias(system, options, sched.t_burn, sched.t_avg)
    if bias is not None:
        r = _ratio(bias, covariance_stderr)
        if r.max() > BIAS_STDERRS:
            i, j = np.unravel_index(int(np.argmax(r)), r.shape)
            # the error bars of a drifting run are inflated by the drift: never suggest less
            # than the default burn-in
            need = _burn_needed(system, options, sched.t_burn, sched.t_avg, covariance_stderr)
            default = 8.0 / system.slowest_rate
            fix = (f"raise t_burn to at least {max(need, default):.3g} (the default, "
                   f"8 / slowest rate, is {default:.3g})" if need is not None else
                   "raise t_burn")
            why.append(f"the initial state has not relaxed by t_burn = {sched.t_burn:g}: its "
                       f"linearised relaxation biases {_element(i, j, d)} by {bias[i, j]:+.3g} "
                       f"({r[i, j]:.3g} standard errors) over the averaging window; {fix}")
    drift = window_drift(s1, s2, counts, sched.n_chunks, sched.n_batches)
    if drift is not None and drift["max_abs_z"] > drift["threshold"]:
        i, j = drift["element"]
        why.append(f"the averaging window drifts: {_element(i, j, d)} over its first "
                   f"{drift['batches'][0]} batch(es) differs from its last "
                   f"{drift['batches'][1]} by {drift['difference']:+.3g} (|z| = "
                   f"{drift['max_abs_z']:.3g} > {drift['threshold']:.3g}); raise t_burn")
    return "; ".join(why) if why else None
