"""Options and results of the attractor search (:func:`simulator.attractors.find_attractors`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..params import Params, ParameterError
from ..protocol import ResultProtocol
from ..resultfields import saved

__all__ = ["AttractorOptions", "LimitCycle", "Basin", "AttractorsResult"]


@dataclass(frozen=True, kw_only=True)
class AttractorOptions:
    """How the classical attractors are searched. Amplitudes and radii are in scaled units
    (``(G0/Gamma)`` times standard deviations, the same at every ``G0``; see
    :mod:`simulator.attractors.flow`).

    Attributes
    ----------
    max_amplitude : float
        Largest start ``z_q`` of the amplitude scan (> ``min_amplitude``): cycles with
        ``q_max`` up to about ``max_amplitude / (G0/Gamma)`` standard deviations are found.
    min_amplitude : float
        Smallest start ``z_q`` (> 0).
    n_amplitudes : int
        Grid points of the scan (geometric, >= 4).
    n_directions : int
        Sampled directions of the basin edge (>= 1; 0 skips the basin).
    bisections : int
        Bisection rounds on each direction's radius (>= 1; relative precision ``2**-bisections``).
    t_max : float
        A start that has not returned within ``t_max`` (``1/omega_m``) plus the decay time from
        the largest radius tried at the slowest rate of the drift matrix counts as not returning.
    max_horizon : float
        Cap on that time (``1/omega_m``, >= ``t_max``): near the stability boundary the
        relaxation time diverges and so would the cost. A capped search is flagged
        (``Basin.limited``): starts that return more slowly count as escaping, so the edge may
        be placed too low.
    max_steps : int
        Budget of RK4 steps of the basin search (a deterministic bound on its cost, about
        0.1 ms each; the default point uses ~2.2e4): once spent, bisection stops and the basin is
        flagged ``limited``.
    seed : int
        Seed of the sampled directions (``numpy.random.default_rng``).
    """

    max_amplitude: float = 20.0
    min_amplitude: float = 0.25
    n_amplitudes: int = 40
    n_directions: int = 64
    bisections: int = 8
    t_max: float = 300.0
    max_horizon: float = 1500.0
    max_steps: int = 60000
    seed: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.min_amplitude) and self.min_amplitude > 0.0):
            raise ParameterError(f"min_amplitude = {self.min_amplitude!r}: must be > 0")
        if not (np.isfinite(self.max_amplitude) and self.max_amplitude > self.min_amplitude):
            raise ParameterError(f"max_amplitude = {self.max_amplitude!r}: must be finite and "
                                 f"> min_amplitude = {self.min_amplitude!r}")
        for name, low in (("n_amplitudes", 4), ("n_directions", 0), ("bisections", 1),
                          ("max_steps", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ParameterError(f"{name} = {value!r}: must be an integer >= {low}")
        if not (np.isfinite(self.t_max) and self.t_max > 0.0):
            raise ParameterError(f"t_max = {self.t_max!r}: must be > 0 (units of 1/omega_m)")
        if not (np.isfinite(self.max_horizon) and self.max_horizon >= self.t_max):
            raise ParameterError(f"max_horizon = {self.max_horizon!r}: must be finite and >= "
                                 f"t_max = {self.t_max!r} (units of 1/omega_m)")


@dataclass(frozen=True)
class LimitCycle:
    """A periodic orbit of the classical equations.

    Attributes
    ----------
    stable : bool
        Every Floquet multiplier but the trivial one lies inside the unit circle.
    period : float
        ``1/omega_m``.
    q_max : float
        ``max |dq|`` on the orbit in units of the Lyapunov ``sigma_q`` (scales as ``1/G0``).
    amplitude : float
        ``(G0/Gamma) q_max``: the same at every ``G0``.
    photons : dict
        Mean photon numbers ``{"r", "l"}`` on the orbit (time average of ``|a_j|^2``).
    quanta : dict
        Largest displacement from the fixed point on the orbit in quanta:
        ``{"m": max (dq^2 + dp^2)/2, "r": max |d a_r|^2, "l": max |d a_l|^2}``.
    multipliers : ndarray of complex, shape (6,)
        Floquet multipliers, by decreasing modulus.
    point : ndarray, shape (6,)
        A point of the orbit in scaled coordinates (section ``dp = 0``, ``dq > 0``).
    """

    stable: bool
    period: float
    q_max: float
    amplitude: float
    photons: dict[str, float]
    quanta: dict[str, float]
    multipliers: np.ndarray
    point: np.ndarray

    def record(self) -> dict[str, Any]:
        """JSON item ``{kind, stable, q_max, period, photons, ...}``."""
        return {"kind": "limit_cycle", "stable": self.stable, "q_max": self.q_max,
                "period": self.period, "photons": dict(self.photons),
                "amplitude_scaled": self.amplitude, "quanta": dict(self.quanta),
                "floquet_multipliers": [[float(m.real), float(m.imag)] for m in self.multipliers]}


@dataclass(frozen=True)
class Basin:
    """Basin edge of the fixed point: the smallest Mahalanobis radius (in the Lyapunov
    covariance, units of standard deviations) from which the classical flow does not return.

    Attributes
    ----------
    radius : float
        Smallest edge radius over the sampled directions (an upper bound of the true edge,
        within ``2**-bisections`` relative); ``inf`` if every start up to ``r_hi`` returned;
        NaN if the step budget ran out before anything was learnt (``limited``).
    radii : ndarray, shape (n_directions,)
        Edge radius per direction (``inf`` where the start at ``r_hi`` returned).
    r_hi : float
        Largest radius tried (same units).
    horizon : float
        Integration time after which a start counts as not returning (``1/omega_m``).
    limited : bool
        ``horizon`` was capped at ``AttractorOptions.max_horizon``, below the time the slowest
        relaxation needs, or the step budget ``max_steps`` ran out: the edge may be placed too
        low, and is coarser.
    """

    radius: float
    radii: np.ndarray
    r_hi: float
    horizon: float = float("nan")
    limited: bool = False

    def record(self) -> dict[str, Any]:
        finite = self.radii[np.isfinite(self.radii)]
        return {"radius": self.radius, "units": "Mahalanobis radius in the Lyapunov covariance",
                "median": float(np.median(finite)) if finite.size else None,
                "n_directions": int(len(self.radii)),
                "n_returned_at_r_hi": int(np.sum(~np.isfinite(self.radii))), "r_hi": self.r_hi,
                "horizon": self.horizon, "limited": self.limited}


class _Cycles:
    """How ``AttractorsResult.cycles`` is saved: the scalars of each cycle in a JSON list, its
    ``point`` and ``multipliers`` as ``cycle{k}.point``, ``cycle{k}.multipliers``."""

    ARRAYS = ("point", "multipliers")

    @classmethod
    def encode(cls, cycles: tuple[LimitCycle, ...], key: str
               ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        meta = [{f.name: getattr(c, f.name) for f in fields(c) if f.name not in cls.ARRAYS}
                for c in cycles]
        return meta, {f"cycle{k}.{a}": getattr(c, a) for k, c in enumerate(cycles)
                      for a in cls.ARRAYS}

    @classmethod
    def decode(cls, meta: Any, arrays: dict[str, np.ndarray], key: str
               ) -> tuple[LimitCycle, ...]:
        return tuple(LimitCycle(**c, **{a: arrays[f"cycle{k}.{a}"] for a in cls.ARRAYS})
                     for k, c in enumerate(meta or ()))


@dataclass(frozen=True, repr=False)
class AttractorsResult(ResultProtocol):
    """Attractors of the classical equations at one parameter point.

    Attributes
    ----------
    params : Params
    options : AttractorOptions
    status : str
        ``"ok"`` or ``"unstable"`` (the fixed point is linearly unstable: no Lyapunov covariance,
        so no scaled search).
    message : str
    fixed_point_stable : bool
    fixed_point_photons : dict
        ``{"r", "l"}`` mean-field photon numbers.
    coupling_ratio : float
        ``G0 / Gamma``.
    cycles : tuple of LimitCycle
        By increasing amplitude, stable and unstable.
    basin : Basin or None
        ``None`` when not searched (``n_directions = 0``, an unstable point, or no other stable
        attractor found in the scanned range, in which case no start in that range escapes).
    elapsed : float
        Wall-clock seconds.
    """

    params: Params = saved("input", decode=Params)
    options: AttractorOptions = saved("input", decode=AttractorOptions)
    status: str = saved("outcome")
    message: str = saved("outcome")
    fixed_point_stable: bool = saved("value")
    fixed_point_photons: dict[str, float] = saved("value")
    coupling_ratio: float = saved("input")
    cycles: tuple[LimitCycle, ...] = saved("value", codec=_Cycles, default=())
    basin: Basin | None = saved("value", decode=Basin, default=None)
    elapsed: float = saved("record", default=0.0)

    @property
    def stable_cycles(self) -> tuple[LimitCycle, ...]:
        """The stable limit cycles."""
        return tuple(c for c in self.cycles if c.stable)

    @property
    def coexisting(self) -> bool:
        """Another stable attractor coexists with a stable fixed point."""
        return self.fixed_point_stable and bool(self.stable_cycles)

    @property
    def smallest_cycle(self) -> LimitCycle | None:
        """The stable cycle of smallest amplitude (``None`` if there is none)."""
        return self.stable_cycles[0] if self.stable_cycles else None

    @property
    def seeds(self) -> dict[str, int]:
        return {"directions": self.options.seed}

    def attractors(self) -> list[dict[str, Any]]:
        """The fixed point and every cycle as JSON items (``kind``, ``stable``, ``q_max``,
        ``period``, ``photons``)."""
        fp = {"kind": "fixed_point", "stable": self.fixed_point_stable, "q_max": 0.0,
              "period": None, "photons": dict(self.fixed_point_photons)}
        return [fp] + [c.record() for c in self.cycles]

    def summary_line(self) -> str:
        """One sentence for reports."""
        if self.status != "ok":
            return f"attractors: {self.message}"
        c = self.smallest_cycle
        if c is None:
            return (f"attractors: no stable limit cycle with q_max up to "
                    f"{self.options.max_amplitude / self.coupling_ratio:.3g} sigma_q; the fixed "
                    "point is the only attractor found")
        b = self.basin
        if b is None:
            edge = ""
        elif not np.isfinite(b.radius) and b.limited:
            edge = "; basin edge not resolved within the step budget (slow relaxation)"
        else:
            edge = (f"; basin edge at Mahalanobis radius {b.radius:.3g} sigma"
                    + (" (limited search: may be too low)" if b.limited else ""))
        return (f"attractors: a stable limit cycle coexists with the fixed point (q_max "
                f"{c.q_max:.4g} sigma_q, period {c.period:.4f}/omega_m, {c.quanta['m']:.3g} "
                f"phonons of excursion){edge}; the linearised state is metastable")

    def _record(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message,
                "attractors": self.attractors(),
                "basin": None if self.basin is None else self.basin.record(),
                "coexisting": self.coexisting, "coupling_ratio": self.coupling_ratio,
                "units": "q_max and basin radius in Lyapunov standard deviations; period in "
                         "1/omega_m",
                "elapsed_s": self.elapsed, "params": self.params.to_dict(),
                "options": {k: getattr(self.options, k)
                            for k in self.options.__dataclass_fields__}}

    # ---- result protocol ---------------------------------------------------------------------
    _file_name = "attractors"

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        if self.cycles:
            out["cycle_point"] = (("cycle", "mode_i"), np.array([c.point for c in self.cycles]))
            out["floquet_multipliers"] = (("cycle", "multiplier"),
                                          np.array([c.multipliers for c in self.cycles]))
            for name in ("q_max", "period"):
                out[name] = (("cycle",), np.array([getattr(c, name) for c in self.cycles]))
            out["cycle_stable"] = (("cycle",), np.array([c.stable for c in self.cycles]))
        if self.basin is not None:
            out["basin_radii"] = (("direction",), self.basin.radii)
        return out

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        # scaled phase-space points, multipliers, q_max (Lyapunov sigma_q) and basin radii
        # (Mahalanobis) are dimensionless; periods in 1/omega_m
        units = dict.fromkeys(("cycle_point", "floquet_multipliers", "q_max", "cycle_stable",
                               "basin_radii"), "1")
        return {**super()._xarray_attrs(), **{k: {"units": u} for k, u in units.items()},
                "period": {"units": "1/omega_m"}}

    def _summary(self) -> dict[str, Any]:
        c = self.smallest_cycle
        return {"status": self.status, "coexisting": self.coexisting,
                "cycles": len(self.cycles),
                "q_max": None if c is None else c.q_max,
                "basin_radius": None if self.basin is None else self.basin.radius}

    def __str__(self) -> str:
        return f"AttractorsResult({self.summary_line()})"
