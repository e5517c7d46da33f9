"""Engine-agnostic comparison of covariance-based results with the Lyapunov reference.

Every engine (SDE ensemble, master equation) is turned into an :class:`Estimate`: a covariance
matrix in the convention of :mod:`simulator.conventions`, the observables computed from it with
:mod:`simulator.observables`, and an error bar per number -- a statistical standard error
(``error_kind="stderr"``) or a deterministic error estimate such as the Fock truncation error
(``error_kind="truncation"``). :func:`compare` gives a row per quantity with the difference,
the z-score (statistical) or the difference in units of the error estimate, and a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conventions import QUADRATURES
from .estimate import Estimate, propagate_bound
from .sde.estimators import z_scores

__all__ = ["Estimate", "ComparisonRow", "Comparison", "compare", "propagate_bound", "Z_AGREE"]

#: ``|z|`` below which a statistical estimate "agrees" with the reference (the SDE engine's own
#: verdict uses the same band). With about 30 quantities per comparison a 5-sigma band flags a
#: false deviation with probability ~2e-5.
Z_AGREE = 5.0


@dataclass(frozen=True)
class ComparisonRow:
    """One quantity: reference value, estimate, error, difference and verdict."""

    quantity: str
    reference: float
    value: float
    error: float
    difference: float
    score: float
    agrees: bool
    verdict: str


@dataclass(frozen=True)
class Comparison:
    """All rows of one engine against the reference, with the engine's own error estimates
    (``info``: step-size check, cutoffs, ...)."""

    engine: str
    error_kind: str
    rows: tuple[ComparisonRow, ...]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def max_abs_score(self) -> float:
        """Largest ``|z|`` (stderr) or ``|difference / error|`` (truncation) over all rows."""
        scores = [abs(r.score) for r in self.rows if not np.isnan(r.score)]
        return max(scores) if scores else float("nan")

    @property
    def agrees(self) -> bool:
        """Every quantity agrees."""
        return all(r.agrees for r in self.rows)

    @property
    def verdict(self) -> str:
        """One line: agreement overall, or how many quantities deviate and by how much."""
        bad = [r for r in self.rows if not r.agrees]
        unit = "sigma" if self.error_kind == "stderr" else "error estimates"
        if not bad:
            return f"agrees: all {len(self.rows)} quantities within {self._band()} (max {self.max_abs_score:.2f} {unit})"
        worst = max(bad, key=lambda r: abs(r.score) if not np.isnan(r.score) else np.inf)
        return (f"deviates: {len(bad)} of {len(self.rows)} quantities outside {self._band()}; "
                f"worst {worst.quantity} by {abs(worst.score):.1f} {unit}")

    def _band(self) -> str:
        return f"{Z_AGREE:g} sigma" if self.error_kind == "stderr" else "the error estimate"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "engine": self.engine,
            "error_kind": self.error_kind,
            "verdict": self.verdict,
            "agrees": self.agrees,
            "max_abs_score": self.max_abs_score,
            "rows": [r.__dict__ for r in self.rows],
            "info": self.info,
        }


def _row(name: str, ref: float, val: float, err: float, kind: str, atol: float) -> ComparisonRow:
    diff = val - ref
    if kind == "stderr":
        score = float(z_scores(val, err, ref, atol=atol))
        agrees = bool(abs(score) < Z_AGREE)
        verdict = "agrees" if agrees else f"deviates by {abs(score):.1f} sigma"
    else:
        tol = max(err, atol)
        score = diff / tol
        agrees = bool(abs(diff) <= tol)
        verdict = ("agrees within truncation error" if agrees
                   else f"differs by {abs(diff):.2e} (error estimate {err:.1e})")
    return ComparisonRow(name, float(ref), float(val), float(err), float(diff), float(score),
                         agrees, verdict)


def compare(reference_covariance: np.ndarray, reference_scalars: dict[str, float],
            estimate: Estimate, *, atol: float = 1e-12) -> Comparison:
    """Compare ``estimate`` with a reference (normally the Lyapunov solution of the same model).

    Parameters
    ----------
    reference_covariance : ndarray, shape (6, 6)
    reference_scalars : dict of str to float
        Same keys as ``estimate.scalars`` (missing keys are skipped).
    estimate : Estimate
    atol : float
        Differences below this count as agreement when the error is zero (e.g. an element that
        is exactly zero in both).

    Returns
    -------
    Comparison
        Rows for the 21 independent covariance elements, then the scalars.
    """
    rows = []
    V_ref = np.asarray(reference_covariance, dtype=float)
    V, err = np.asarray(estimate.covariance, dtype=float), np.asarray(estimate.covariance_err)
    for i in range(6):
        for j in range(i, 6):
            name = f"V[{QUADRATURES[i]},{QUADRATURES[j]}]"
            rows.append(_row(name, V_ref[i, j], V[i, j], float(err[i, j]), estimate.error_kind, atol))
    for key, value in estimate.scalars.items():
        if key in reference_scalars:
            rows.append(_row(key, reference_scalars[key], value,
                             float(estimate.scalars_err.get(key, np.nan)), estimate.error_kind, atol))
    return Comparison(estimate.engine, estimate.error_kind, tuple(rows), dict(estimate.info))
