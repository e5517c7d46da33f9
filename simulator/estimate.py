"""What every engine hands to the comparison: an :class:`Estimate` of the stationary state.

This module sits in the bottom layer (it imports only numpy), so that each engine's result can
produce its own estimate (``to_estimate()``) without importing :mod:`simulator.compare`, which sits
above the engines and re-exports both names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Estimate", "propagate_bound"]


@dataclass(frozen=True)
class Estimate:
    """One engine's estimate of the stationary state.

    Attributes
    ----------
    engine : str
        Label, e.g. ``"sde"`` or ``"master"``.
    covariance : ndarray, shape (6, 6)
    covariance_err : ndarray, shape (6, 6)
        One-sigma error of each element (standard error, or truncation error estimate).
    scalars : dict of str to float
        Named scalar observables, e.g. ``"E_N[r_m]"``, ``"steering[r->m]"``.
    scalars_err : dict of str to float
        Their errors, same keys.
    error_kind : {"stderr", "truncation"}
    info : dict
        Anything else worth reporting (step-size error, cutoffs, timing, ...).
    raw_scalars, raw_scalars_err : dict of str to float
        Unclipped forms of clipped scalars (``E_N[..]``: ``-ln(2 nu_-)``; ``steering[..]``) and
        their standard errors, same keys (statistical estimates only; may be empty).
    below_resolution : tuple of str
        Keys whose clipped value carries no error bar (estimate or jackknife replicate at zero).
    """

    engine: str
    covariance: np.ndarray
    covariance_err: np.ndarray
    scalars: dict[str, float]
    scalars_err: dict[str, float]
    error_kind: str = "stderr"
    info: dict[str, Any] = field(default_factory=dict)
    raw_scalars: dict[str, float] = field(default_factory=dict)
    raw_scalars_err: dict[str, float] = field(default_factory=dict)
    below_resolution: tuple[str, ...] = ()


def propagate_bound(f, V: np.ndarray, err: float, *, h: float = 1e-7) -> float:
    """First-order bound on ``|f(V + E) - f(V)|`` for a symmetric ``E`` with ``|E_ij| <= err``.

    ``sum_{i<=j} |df/dV_ij| err`` with the derivative along the symmetric direction ``E_ij``
    (central differences of step ``h``). Used to turn an element-wise truncation error of a
    covariance into an error estimate for E_N or steering.
    """
    V = np.asarray(V, dtype=float)
    total = 0.0
    for i in range(V.shape[0]):
        for j in range(i, V.shape[0]):
            E = np.zeros_like(V)
            E[i, j] = E[j, i] = h
            total += abs(float(f(V + E)) - float(f(V - E))) / (2 * h)
    return total * err


def summary_scalars(summary: dict[str, Any]) -> dict[str, float]:
    """E_N and steering of an :func:`~simulator.observables.summary`-style dict, keyed as in the
    comparison rows (``"E_N[r_m]"``, ``"steering[r->m]"``, ...)."""
    out = {f"E_N[{k}]": float(v) for k, v in summary["log_negativity"].items()}
    out.update({f"steering[{k}]": float(v) for k, v in summary["steering"].items()})
    return out
