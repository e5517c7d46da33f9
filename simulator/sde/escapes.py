"""Escapes from the fixed point's basin: the per-block test, its radius, and what it reports.

The classical equations can have another stable attractor besides the fixed point (a limit
cycle, :mod:`simulator.attractors`); noise, or a broad initial state, carries trajectories
there. Such a trajectory is an *escape*: at the end of every noise block (from the end of the
burn-in on) each trajectory's state ``x`` is tested,

    r^2 = x^T V^-1 x > r_esc^2,          V: the Lyapunov covariance of the fixed point,

with ``r`` its Mahalanobis radius in standard deviations, computed as ``((x @ W) ** 2).sum(1)``
with a precomputed whitening matrix ``W`` (:func:`escaped`, a pure array function of the states).
An escaped trajectory is counted, its time (the block end) recorded, its samples of that block
dropped and it takes no further part, exactly as a diverged one; the rest of the ensemble gives
the statistics *of the fixed point's basin*. ``diverged`` stays for numerical divergence
(non-finite, or beyond the divergence bound, 1000 standard deviations).

The escape radius (``escape_radius=None``, the default) is the basin radius of the attractor search
(:class:`simulator.attractors.Basin`: the smallest Mahalanobis radius over sampled directions
from which the deterministic flow does not return), at least :data:`MIN_ESCAPE_RADIUS`. Why:

* no stationary fluctuation gets there: in ``d = 6`` variables ``r^2`` of a Gaussian state is
  chi-squared with 6 degrees of freedom, ``P(r > 8) = 1.6e-11`` per independent sample, and the
  basin radius at ``G0/Gamma = 0.1`` (``|G_r| = 0.61 omega_m``, ``Dt = 0.85 Gamma``) is 45;
* a trajectory beyond it has left the basin along the direction of easiest escape, and one
  captured by the cycle stays beyond it at every phase (measured at 0.1: on the cycle ``r``
  stays above ~50 at every block end; the cycle's ``max |dq|`` is 67 sigma_q);
* it is far below the divergence bound (20000 sigma_q at 0.1), so an escape is caught long
  before the trajectory's excursion grows into a numerical blow-up;
* the test starts at the end of the burn-in: the default thermal start (mechanics at
  ``n_m = 415``) lies at a median Mahalanobis radius of 29 (up to 95), and such starts return
  within ~3 blocks (~80 / omega_m) unless captured. An escape found at the end of the burn-in is
  a *capture from the initial state*; later ones are *stationary escapes*, whose rate is
  reported per ``1/omega_m`` of exposure in the averaging window. ``initial="lyapunov"`` (the
  linearised steady state) removes the captures: at 0.1 none of 1024 x 3000 / omega_m escape.

A search costs seconds per new scaled flow (cached), so the default does not search below
:data:`SEARCH_MIN_COUPLING` in ``G0/Gamma``: the attractors there scale as ``1/G0`` (at the
paper's point the basin edge is 3.7e5 sigma away) and lie beyond the divergence bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..statistics import binomial_interval

__all__ = ["EscapeTest", "EscapeRecord", "escaped", "resolve_radius", "initial_radius", "make_test", "plan",
           "collect", "summarise", "fates", "describe", "reason", "MIN_ESCAPE_RADIUS", "SEARCH_MIN_COUPLING", "LEVEL"]

#: Smallest escape radius (Mahalanobis, standard deviations): a Gaussian state in 6 variables
#: exceeds it with probability 1.6e-11 per independent sample.
MIN_ESCAPE_RADIUS = 8.0
#: ``escape_radius=None`` searches the attractors only from this ``G0/Gamma`` up.
SEARCH_MIN_COUPLING = 1e-3
#: Coverage of the reported intervals.
LEVEL = 0.95


def escaped(x: np.ndarray, W: np.ndarray, r2: float) -> np.ndarray:
    """Trajectories of ``x (n, D)`` whose whitened radius ``|x W|^2`` exceeds ``r2``, shape (n,).

    ``W (D, d)`` whitens the first ``d`` variables (zero rows for the rest, e.g. the linear copy
    of a control-variate run). Non-finite states give ``False`` (they are diverged, not
    escaped). A pure array function, so that another array library can run it unchanged.
    """
    return ((x @ W) ** 2).sum(axis=1) > r2


@dataclass(frozen=True)
class EscapeTest:
    """What the chunk loop needs: ``W (D, d)``, the escape ``radius``, ``t_start``
    (``1/omega_m``: block ends before it are not tested, the burn-in's relaxation from a broad
    start) and ``initial_radius``, the radius of the first test (at the first block end from
    ``t_start`` on, the end of the burn-in): a trajectory beyond it has not relaxed into the
    fixed point (captured, or still in transit near the basin edge)."""

    W: np.ndarray
    radius: float
    t_start: float
    initial_radius: float

    @property
    def r2(self) -> float:
        return self.radius * self.radius


@dataclass
class EscapeRecord:
    """The escapes of one chunk: detection ``times`` (block ends, ``1/omega_m``), how many of
    them at the first test (``initial``) and the ``exposure`` (trajectory-time in the averaging
    window spent in the basin)."""

    test: EscapeTest | None
    times: list = field(default_factory=list)
    initial: int = 0
    exposure: float = 0.0
    tested: bool = False

    def check(self, x: np.ndarray, alive: np.ndarray, bound: float, t: float) -> None:
        """Flag trajectories of ``x (n, D)`` still ``alive`` that escaped by time ``t``: counted,
        ``alive`` cleared, state zeroed (their block is then dropped by the fold). A state
        beyond ``bound`` or non-finite is left to the divergence check."""
        if not self.due(t):
            return
        with np.errstate(over="ignore", invalid="ignore"):
            r2 = ((x @ self.test.W) ** 2).sum(axis=1)
            out = self.flag(r2, np.abs(x).max(axis=1), alive, bound, t)
        x[out] = 0.0

    def due(self, t: float) -> bool:
        """Whether the block end at ``t`` is tested (a test given, ``t >= t_start``)."""
        return self.test is not None and t >= self.test.t_start - 1e-9

    def flag(self, r2: np.ndarray, worst: np.ndarray, alive: np.ndarray, bound: float,
             t: float) -> np.ndarray:
        """The bookkeeping of :meth:`check` from the whitened radii ``r2 (n,)`` and
        ``worst = max_k |x_k|`` ``(n,)`` of the block-end states (computed wherever the states
        live, e.g. on a GPU): the ``alive`` trajectories with ``r2`` beyond the radius and
        ``worst <= bound`` are counted at ``t`` and cleared from ``alive``; returns them."""
        r = self.test.radius if self.tested else self.test.initial_radius
        out = alive & (r2 > r * r) & (worst <= bound)
        k = int(out.sum())
        if k:
            self.times.extend([float(t)] * k)
            self.initial += 0 if self.tested else k
            alive &= ~out
        self.tested = True
        return out

    def expose(self, alive: np.ndarray, n_escaped: int, span: float) -> None:
        """Add ``span`` of exposure for the ``alive`` trajectories and half of it for the
        ``n_escaped`` that escaped within it (from the first test on)."""
        if not self.tested:
            return
        self.exposure += (int(alive.sum()) + 0.5 * n_escaped) * span

    def arrays(self) -> tuple[np.ndarray, int, float]:
        return np.asarray(self.times, dtype=float), int(self.initial), float(self.exposure)


def resolve_radius(problem: Any, radius: float | str | None, *, stable: bool
                   ) -> tuple[float | None, dict[str, Any]]:
    """``(radius or None, provenance)`` of ``escape_radius`` for ``problem``.

    ``None``: the attractor search's basin radius (at least :data:`MIN_ESCAPE_RADIUS`) for
    :class:`~simulator.params.Params` with a stable fixed point and a coexisting stable cycle,
    ``G0/Gamma >= SEARCH_MIN_COUPLING``; ``None`` otherwise (an explicit
    :class:`~simulator.sde.system.LangevinSystem` has no search: give a number). A number is
    used as given; ``"off"`` switches the test off.
    """
    if radius == "off":
        return None, {"source": "off"}
    if radius is not None:
        return float(radius), {"source": "given"}
    from ..params import Params

    if not isinstance(problem, Params):
        return None, {"source": "auto: no attractor search for an explicit system "
                                "(give escape_radius)"}
    if not stable:
        return None, {"source": "auto: the fixed point is unstable"}
    g = problem.G0 / problem.Gamma
    if g < SEARCH_MIN_COUPLING:
        return None, {"source": f"auto: G0/Gamma = {g:.3g} < {SEARCH_MIN_COUPLING:g}: other "
                                "attractors lie beyond the divergence bound (not searched)"}
    from ..attractors import find_attractors

    found = find_attractors(problem)
    basin = found.basin
    if not found.coexisting or basin is None or not np.isfinite(basin.radius):
        return None, {"source": "auto: " + found.summary_line()}
    c = found.smallest_cycle
    return max(float(basin.radius), MIN_ESCAPE_RADIUS), {
        "source": "auto: basin radius of the attractor search", "basin_radius": basin.radius,
        "basin_limited": basin.limited, "cycle_q_max": c.q_max, "cycle_period": c.period}


def initial_radius(radius: float) -> float:
    """Radius of the first test: ``max(MIN_ESCAPE_RADIUS, radius / 4)``. A relaxed trajectory is
    within ~5 there (Gaussian, 6 variables: ``P(r > 8) = 1.6e-11``); one beyond has not
    relaxed. Measured at ``G0/Gamma = 0.1`` from the thermal start: a trajectory at ``r``
    45..55 for 150 / omega_m (near the basin edge, where the flow is slow), below 45 at the
    end of the burn-in, returned only at ~250 / omega_m; kept, it made its batch's ``V_qq``
    6.7 against 0.97."""
    return max(MIN_ESCAPE_RADIUS, float(radius) / 4.0)


def make_test(covariance: np.ndarray, run_dim: int, radius: float | None,
              t_start: float) -> EscapeTest | None:
    """The :class:`EscapeTest` of a run whose state has ``run_dim`` variables, the first ``d``
    those of ``covariance (d, d)`` (the Lyapunov covariance of the fixed point); ``None``
    without a radius. The first test uses :func:`initial_radius`."""
    if radius is None:
        return None
    d = covariance.shape[0]
    L = np.linalg.cholesky(0.5 * (covariance + covariance.T))  # V = L L^T, r^2 = |L^-1 x|^2
    W = np.zeros((run_dim, d))
    W[:d] = np.linalg.inv(L).T
    return EscapeTest(W=W, radius=float(radius), t_start=float(t_start),
                      initial_radius=min(float(radius), initial_radius(radius)))


def plan(problem: Any, covariance: np.ndarray | None, run_dim: int,
         radius: float | str | None, t_start: float
         ) -> tuple[EscapeTest | None, dict[str, Any]]:
    """``(test or None, how the radius was set)`` of a run of ``problem`` whose state has
    ``run_dim`` variables, testing block ends from ``t_start`` on; ``covariance (d, d)`` is the
    Lyapunov covariance of the fixed point (``None``: no stationary state, nothing tested)."""
    r, info = resolve_radius(problem, radius, stable=covariance is not None)
    if r is None:
        return None, info
    if covariance is None:
        return None, {**info, "source": info["source"] + "; no stationary state: not tested"}
    return make_test(covariance, run_dim, r, t_start), info


def collect(chunks: list, test: EscapeTest | None, info: dict[str, Any], n_traj: int,
            omega_m: float | None) -> dict[str, Any]:
    """:func:`summarise` of the chunks' escapes (``escape_times``, ``escape_initial``,
    ``exposure``)."""
    times = [c.escape_times for c in chunks if c.escape_times is not None]
    return summarise(np.concatenate(times) if times else np.zeros(0),
                     sum(c.escape_initial for c in chunks), float(sum(c.exposure for c in chunks)),
                     n_traj, None if test is None else test, info, omega_m)


def _rate(k: int, exposure: float) -> dict[str, Any]:
    """Poisson rate ``k / exposure`` with its exact (Garwood) interval; for ``k = 0`` the upper
    bound only."""
    from scipy import special  # chi2.ppf(q, 2 k) = 2 gammaincinv(k, q), without scipy.stats

    if exposure <= 0:
        return {"value": None, "low": None, "high": None, "upper_bound": k == 0}
    a = 1.0 - LEVEL
    if k == 0:
        return {"value": 0.0, "low": 0.0, "high": float(-np.log(a) / exposure),
                "upper_bound": True}
    low = special.gammaincinv(k, a / 2) / exposure
    high = special.gammaincinv(k + 1, 1 - a / 2) / exposure
    return {"value": k / exposure, "low": float(low), "high": float(high), "upper_bound": False}


def _fraction(k: int, n: int) -> dict[str, Any]:
    low, high = binomial_interval(k, n, LEVEL)
    return {"value": k / n, "low": low, "high": high, "level": LEVEL}


def summarise(times: np.ndarray, initial: int, exposure: float, n_traj: int,
              test: EscapeTest | None, info: dict[str, Any], omega_m: float | None
              ) -> dict[str, Any]:
    """The ``escapes`` record of a result.

    Parameters
    ----------
    times : ndarray, shape (k,)
        Detection times (``1/omega_m``) of every escape of the run.
    initial : int
        How many of them the first test found (captures from the initial state, or not
        relaxed by the end of the burn-in).
    exposure : float
        Trajectory-time in the averaging window spent in the basin (``1/omega_m``).
    n_traj : int
    test : EscapeTest or None
        The test (its radii, Mahalanobis); ``None``: not tested.
    info : dict
        How the radius was set (:func:`resolve_radius`).
    omega_m : float or None
        Mechanical frequency (s^-1) for the lifetime in seconds; ``None`` for an explicit system.

    Returns
    -------
    dict
        ``radius``, ``count``, ``fraction`` (of trajectories, ``value``, ``low``, ``high``),
        ``initial`` (captures from the initial state: ``count``, ``fraction``), ``stationary``
        (``count``, ``exposure``), ``rate`` (stationary escapes per ``1/omega_m``: ``value``,
        ``low``, ``high``, ``upper_bound``), ``lifetime`` (``1/rate`` in seconds of lab time:
        ``value``, ``low``, ``high``; ``None`` without ``omega_m``), ``lifetime_omega_m``
        (the same in ``1/omega_m``), ``times``, ``tested`` and ``scope``.
    """
    times = np.sort(np.asarray(times, dtype=float))
    k, initial = int(times.size), int(initial)
    radius = None if test is None else test.radius
    rate = _rate(k - initial, exposure)

    def inverse(v):
        return None if v in (None, 0.0) else 1.0 / v

    life = {"value": inverse(rate["value"]), "low": inverse(rate["high"]),
            "high": inverse(rate["low"])}
    seconds = None if omega_m is None else {
        key: None if v is None else v / omega_m for key, v in life.items()}
    return {"tested": radius is not None, "radius": radius, "radius_info": dict(info),
            "initial_radius": None if test is None else test.initial_radius,
            "n_traj": int(n_traj), "count": k, "fraction": _fraction(k, n_traj),
            "initial": {"count": initial, "fraction": _fraction(initial, n_traj)},
            "stationary": {"count": k - initial, "exposure": float(exposure)},
            "rate": rate, "lifetime_omega_m": life, "lifetime": seconds,
            "times": times.tolist(),
            "scope": "fixed point's basin" if radius is not None else "whole run"}


def fates(esc: dict[str, Any], diverged: int) -> dict[str, Any]:
    """A ring-up's ``escapes`` with the fate of every trajectory: ``captured`` (escaped from the
    fixed point's basin, or not settled into it by the first test) and ``settled`` (neither
    captured nor diverged), each ``value`` with its 95 % Clopper-Pearson ``low``/``high``."""
    n, k = esc["n_traj"], esc["count"]
    return {**esc, "captured": _fraction(k, n), "settled": _fraction(n - k - int(diverged), n)}


def describe(esc: dict[str, Any] | None) -> str:
    """One sentence on what the escape test measured (for reports)."""
    if not esc:
        return "escapes not measured (a result from before the escape test)"
    if not esc["tested"]:
        return "escapes not tested (" + esc["radius_info"].get("source", "") + ")"
    f, rate = esc["fraction"], _rate_text(esc, "no stationary exposure")
    return (f"SDE escapes from the fixed point's basin: {esc['count']} of {esc['n_traj']} "
            f"(fraction {f['value']:.3g}, 95 %: {f['low']:.3g}..{f['high']:.3g}; "
            f"{esc['initial']['count']} captured from the initial state); {rate}; the SDE "
            "statistics are those of the fixed point's basin")


def _rate_text(esc: dict[str, Any], no_rate: str) -> str:
    """The stationary escape rate with its 95 % interval (or upper bound) and the lifetime, as
    :func:`describe` and :func:`reason` print them; ``no_rate`` where no rate was formed."""
    r, life = esc["rate"], esc.get("lifetime")
    if r["value"] is None:
        rate = no_rate
    elif r["upper_bound"]:
        rate = f"stationary escape rate < {r['high']:.3g} per 1/omega_m (95 %)"
    else:
        rate = (f"stationary escape rate {r['value']:.3g} per 1/omega_m (95 %: "
                f"{r['low']:.3g}..{r['high']:.3g})")
    if life is not None and life["value"] is not None:
        rate += f", lifetime {life['value']:.3g} s"
    elif life is not None and life["low"] is not None:
        rate += f", lifetime > {life['low']:.3g} s"
    return rate


def reason(esc: dict[str, Any] | None) -> str | None:
    """The ``metastable`` reason of a result with escapes (``None`` without any)."""
    if not esc or not esc["count"]:
        return None
    f, rate = esc["fraction"], _rate_text(esc, "no averaging window")
    return (f"{esc['count']} of {esc['n_traj']} trajectories escaped from the "
            f"fixed point's basin (Mahalanobis radius > {esc['radius']:.3g}; fraction "
            f"{f['value']:.3g}, 95 %: {f['low']:.3g}..{f['high']:.3g}): "
            f"{esc['initial']['count']} captured from the initial state (beyond "
            f"{esc['initial_radius']:.3g} at the end of the burn-in), "
            f"{esc['stationary']['count']} later; {rate}. They are left out from the "
            "block of escape on: the statistics are those of the fixed point's basin")
