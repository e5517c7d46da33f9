"""Engine-agnostic comparison of covariance-based results with the Lyapunov reference.

Every engine (SDE ensemble, master equation) is turned into an :class:`Estimate`: a covariance
matrix in the convention of :mod:`simulator.conventions`, the observables computed from it with
:mod:`simulator.observables`, and an error bar per number -- a statistical standard error
(``error_kind="stderr"``) or a deterministic error estimate such as the Fock truncation error
(``error_kind="truncation"``). :func:`compare` gives a row per quantity with the difference,
the z-score (statistical) or the difference in units of the error estimate, and a verdict.

Quantities clipped at zero (E_N, steering): a statistical estimate that carries their unclipped
form (``raw_scalars``) is scored through it, against the same unclipped function of the reference
covariance (:mod:`simulator.statistics`); one whose estimate or jackknife replicates touch the
clip is marked *below resolution* and shown as an upper bound, never as "0 +- 0". The 21
covariance elements are judged on their own as well (:attr:`Comparison.covariance_verdict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .conventions import QUADRATURES
from .estimate import Estimate, propagate_bound
from .observables import log_negativity_raw, steering_raw
from .statistics import Z_AGREE, agrees, format_clipped, z_scores

__all__ = ["Estimate", "ComparisonRow", "Comparison", "compare", "propagate_bound", "Z_AGREE",
           "raw_reference_scalars"]

@dataclass(frozen=True)
class ComparisonRow:
    """One quantity: reference value, estimate, error, difference and verdict.

    For a scalar scored through its unclipped form, ``score`` is the z of ``raw_value`` (error
    ``raw_error``) against ``raw_reference``; ``below_resolution`` rows have ``error`` NaN and
    are shown by :meth:`value_text` as an upper bound.
    """

    quantity: str
    reference: float
    value: float
    error: float
    difference: float
    score: float
    agrees: bool
    verdict: str
    below_resolution: bool = False
    raw_value: float = float("nan")
    raw_error: float = float("nan")
    raw_reference: float = float("nan")

    def value_text(self, *, fmt: str = ".5g", err_fmt: str = ".2g", pm: str = "±") -> str:
        """``"0.1555 ± 0.0005"``, or ``"< 0.0031 (below resolution)"`` for a clipped value
        (never ``"0 ± 0"``)."""
        if not self.below_resolution:
            if (self.value == 0.0 and self.error == 0.0
                    and self.quantity.startswith(("E_N", "steering"))):
                return "0 (clipped at zero)"  # a deterministic engine's clipped value
            return f"{self.value:{fmt}} {pm} {self.error:{err_fmt}}"
        return format_clipped(self.value, self.error, self.raw_value, self.raw_error, True, pm=pm)


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
    def covariance_rows(self) -> tuple[ComparisonRow, ...]:
        """The independent covariance elements (``V[..]``) alone."""
        return tuple(r for r in self.rows if r.quantity.startswith("V["))

    @property
    def covariance_verdict(self) -> str:
        """The covariance elements judged on their own (no scalar, clipped or not, enters)."""
        rows = self.covariance_rows
        bad = [r for r in rows if not r.agrees]
        scores = [abs(r.score) for r in rows if not np.isnan(r.score)]
        unit = "sigma" if self.error_kind == "stderr" else "error estimates"
        if not bad:
            return (f"agrees: all {len(rows)} covariance elements within {self._band()} "
                    f"(max {max(scores, default=float('nan')):.2f} {unit})")
        return f"deviates: {len(bad)} of {len(rows)} covariance elements outside {self._band()}"

    @property
    def verdict(self) -> str:
        """One line: agreement overall, or how many quantities deviate and by how much."""
        bad = [r for r in self.rows if not r.agrees]
        unit = "sigma" if self.error_kind == "stderr" else "error estimates"
        below = [r.quantity for r in self.rows if r.below_resolution]
        note = (f"; {len(below)} below resolution ({', '.join(below)}), scored unclipped"
                if below else "")
        if not bad:
            return (f"agrees: all {len(self.rows)} quantities within {self._band()} "
                    f"(max {self.max_abs_score:.2f} {unit}){note}")
        worst = max(bad, key=lambda r: abs(r.score) if not np.isnan(r.score) else np.inf)
        return (f"deviates: {len(bad)} of {len(self.rows)} quantities outside {self._band()}; "
                f"worst {worst.quantity} by {abs(worst.score):.1f} {unit}{note}")

    def _band(self) -> str:
        return f"{Z_AGREE:g} sigma" if self.error_kind == "stderr" else "the error estimate"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "engine": self.engine,
            "error_kind": self.error_kind,
            "verdict": self.verdict,
            "covariance_verdict": self.covariance_verdict,
            "agrees": self.agrees,
            "max_abs_score": self.max_abs_score,
            "rows": [r.__dict__ for r in self.rows],
            "info": self.info,
        }


def _row(name: str, ref: float, val: float, err: float, kind: str, atol: float) -> ComparisonRow:
    diff = val - ref
    if kind == "stderr":
        score = float(z_scores(val, err, ref, atol=atol))
        ok = agrees(score)
        verdict = "agrees" if ok else f"deviates by {abs(score):.1f} sigma"
    else:
        tol = max(err, atol)
        score = diff / tol
        ok = bool(abs(diff) <= tol)
        verdict = ("agrees within truncation error" if ok
                   else f"differs by {abs(diff):.2e} (error estimate {err:.1e})")
    return ComparisonRow(name, float(ref), float(val), float(err), float(diff), float(score),
                         ok, verdict)


def _raw_row(name: str, ref: float, val: float, err: float, raw_ref: float, raw: float,
             raw_err: float, below: bool, atol: float) -> ComparisonRow:
    """A clipped scalar scored through its unclipped form (z of ``raw`` against ``raw_ref``)."""
    score = float(z_scores(raw, raw_err, raw_ref, atol=atol))
    ok = agrees(score)
    verdict = "agrees" if ok else f"deviates by {abs(score):.1f} sigma"
    if below:
        verdict = "below resolution; unclipped value " + verdict
    return ComparisonRow(name, float(ref), float(val), float("nan") if below else float(err),
                         float(val - ref), score, ok, verdict, bool(below), float(raw),
                         float(raw_err), float(raw_ref))


def _unscored_row(name: str, ref: float, val: float) -> ComparisonRow:
    """A clipped value without its unclipped form (e.g. a result file from an older version)."""
    return ComparisonRow(name, float(ref), float(val), float("nan"), float(val - ref),
                         float("nan"), True, "below resolution, not scored (no unclipped value)",
                         True)


def raw_reference_scalars(V: np.ndarray) -> dict[str, float]:
    """Unclipped E_N and steering of a covariance ``(6, 6)``, keyed ``E_N[r_m]``,
    ``steering[r->m]``, ... (as the comparison rows)."""
    out = {f"E_N[{k}]": float(v) for k, v in log_negativity_raw(V).items()}
    out.update({f"steering[{k}]": float(v) for k, v in steering_raw(V).items()})
    return out


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
        Rows for the 21 independent covariance elements, then the scalars (clipped ones scored
        through their unclipped form where the estimate carries it).
    """
    rows = []
    V_ref = np.asarray(reference_covariance, dtype=float)
    V, err = np.asarray(estimate.covariance, dtype=float), np.asarray(estimate.covariance_err)
    for i in range(6):
        for j in range(i, 6):
            name = f"V[{QUADRATURES[i]},{QUADRATURES[j]}]"
            rows.append(_row(name, V_ref[i, j], V[i, j], float(err[i, j]), estimate.error_kind, atol))
    raw_ref = raw_reference_scalars(V_ref) if estimate.error_kind == "stderr" else {}
    for key, value in estimate.scalars.items():
        if key not in reference_scalars:
            continue
        err_k = float(estimate.scalars_err.get(key, np.nan))
        below = key in estimate.below_resolution
        if key in estimate.raw_scalars and key in raw_ref:
            rows.append(_raw_row(key, reference_scalars[key], value, err_k, raw_ref[key],
                                 estimate.raw_scalars[key],
                                 float(estimate.raw_scalars_err.get(key, np.nan)), below, atol))
        elif below:
            rows.append(_unscored_row(key, reference_scalars[key], value))
        else:
            rows.append(_row(key, reference_scalars[key], value, err_k, estimate.error_kind,
                             atol))
    return Comparison(estimate.engine, estimate.error_kind, tuple(rows), dict(estimate.info))
