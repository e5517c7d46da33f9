"""Attractors of the classical equations: the fixed point, limit cycles, and the basin edge.

The linearisation says whether the fixed point is *locally* stable. The classical (deterministic,
noise-free) equations of paper Eq. 3 can have other attractors besides: at red detuning,
self-sustained mechanical oscillations whose amplitude sweeps the optical resonance (Marquardt,
Harris and Girvin, PRL 96, 103901 (2006)). :func:`find_attractors` finds them in the scaled
coordinates of :mod:`simulator.attractors.flow`, where one search holds at every ``G0`` (amplitudes
in standard deviations scale as ``1/G0``):

* limit cycles by an amplitude scan and a periodic-orbit Newton with Floquet multipliers;
* the basin edge of the fixed point as the smallest Mahalanobis radius (in the Lyapunov
  covariance) from which the flow does not return (sampled directions plus bisection);

see :mod:`simulator.attractors.search`. Wherever a stable cycle coexists with the fixed point,
the linearised steady state is only metastable: noise can carry the system across the edge.

Examples
--------
>>> from simulator import Params
>>> from simulator.config import apply_changes
>>> p = apply_changes(Params.paper(), {"g0": "0.1Gamma", "G": "0.6096omega_m", "damping": "rwa"})
>>> res = find_attractors(p, options=AttractorOptions(max_amplitude=8.0, n_directions=0))
>>> res.coexisting, round(res.smallest_cycle.q_max)          # Lyapunov sigma_q
(True, 67)
"""

from __future__ import annotations

import time

import numpy as np

from ..conventions import amplitude
from ..linear import lyapunov
from ..params import Params
from .flow import QuadraticFlow, ScaledSystem, classical_flow
from .result import AttractorOptions, AttractorsResult, Basin, LimitCycle
from .search import basin_radii, cycle_brackets, refine_cycle

__all__ = ["find_attractors", "AttractorOptions", "AttractorsResult", "LimitCycle", "Basin",
           "QuadraticFlow", "ScaledSystem", "classical_flow"]


def _limit_cycle(system: ScaledSystem, orbit) -> LimitCycle:
    x = system.physical(orbit.samples)
    u = system.mean + x
    g = system.coupling_ratio
    q_max = float(np.abs(x[:, 4]).max() / system.sigma[4])
    photons = {"r": float(np.mean(np.abs(amplitude(u[:, 0], u[:, 1])) ** 2)),
               "l": float(np.mean(np.abs(amplitude(u[:, 2], u[:, 3])) ** 2))}
    quanta = {"m": float(np.max(0.5 * (x[:, 4] ** 2 + x[:, 5] ** 2))),
              "r": float(np.max(np.abs(amplitude(x[:, 0], x[:, 1])) ** 2)),
              "l": float(np.max(np.abs(amplitude(x[:, 2], x[:, 3])) ** 2))}
    return LimitCycle(stable=orbit.stable, period=float(orbit.period), q_max=q_max,
                      amplitude=g * q_max, photons=photons, quanta=quanta,
                      multipliers=orbit.multipliers, point=orbit.point)


#: Searches already made, keyed by the scaled flow and the options (the scaled problem is the
#: same at every G0, and validate, sweeps and tests meet the same point many times).
_SEARCHES: dict[tuple, tuple] = {}
_MAX_SEARCHES = 32
#: Bits the scaled flow keeps before the search, relative to its largest entry (2**-40, about
#: 1e-12): the same point reached along two routes (another G0, a Lyapunov solve's round-off)
#: gives flows that differ in the last bits; rounded, they are one flow, searched once, with
#: one result.
_FLOW_BITS = 40


def _rounded(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to a multiple of ``2**-_FLOW_BITS`` times the power of two at or above its
    largest ``|entry|`` (round-off next to zero becomes zero)."""
    x = np.asarray(x, dtype=float)
    top = float(np.abs(x).max())
    if top == 0.0:
        return x.copy()
    step = 2.0 ** (np.ceil(np.log2(top)) - _FLOW_BITS)
    return np.round(x / step) * step + 0.0  # + 0.0: no -0.0 (its bytes differ from 0.0)


def _search(flow: QuadraticFlow, options: AttractorOptions) -> tuple[list, np.ndarray | None,
                                                                     tuple | None]:
    """Orbits (by increasing amplitude), basin radii per direction and ``(r_hi, horizon,
    limited)``, in scaled units (``None`` for the basin when not searched); cached. The search
    runs on the flow rounded to :data:`_FLOW_BITS` bits, so its result is a function of the
    rounded flow whether or not it came from the cache."""
    A, H, metric = _rounded(flow.A), _rounded(flow.H), _rounded(flow.metric)
    key = (A.tobytes(), H.tobytes(), metric.tobytes(), options)
    if key in _SEARCHES:
        return _SEARCHES[key]
    flow = QuadraticFlow(A, H, metric, flow.q_index, flow.p_index)
    amps = np.geomspace(options.min_amplitude, options.max_amplitude, options.n_amplitudes)
    orbits = []
    for b in cycle_brackets(flow, amps):
        orbit = refine_cycle(flow, b["point"], b["period"])
        if orbit is not None and not any(
                np.allclose(orbit.point, o.point, rtol=1e-6, atol=1e-9) for o in orbits):
            orbits.append(orbit)
    orbits.sort(key=lambda o: np.abs(o.samples[:, flow.q_index]).max())
    radii = edge = None
    stable = [o for o in orbits if o.stable]
    if stable and options.n_directions > 0:
        r_hi = 1.25 * float(flow.radius(stable[0].samples).max())
        rng = np.random.default_rng(options.seed)
        w = rng.normal(size=(options.n_directions, flow.dim))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        # a slowly relaxing fixed point needs time to come back from r_hi: add the decay time
        # from r_hi to the certified ball (or to r_in) at the slowest rate of A
        r_in = max(flow.certified_radius, 0.02)
        needed = options.t_max + np.log(max(r_hi / r_in, 1.0)) / flow.slowest_rate
        horizon = min(needed, options.max_horizon)
        radii, exhausted = basin_radii(flow, w, r_hi, bisections=options.bisections,
                                       t_max=horizon, max_steps=options.max_steps)
        edge = (r_hi, float(horizon), bool(needed > options.max_horizon or exhausted))
    if len(_SEARCHES) >= _MAX_SEARCHES:
        _SEARCHES.pop(next(iter(_SEARCHES)))
    _SEARCHES[key] = (orbits, radii, edge)
    return orbits, radii, edge


def find_attractors(params: Params, *, options: AttractorOptions | None = None
                    ) -> AttractorsResult:
    """Fixed point, limit cycles and basin edge of the classical equations at ``params``.

    Parameters
    ----------
    params : Params
        The point (its fixed point at the effective detuning ``params.detuning``).
    options : AttractorOptions, optional

    Returns
    -------
    AttractorsResult
        ``status="unstable"`` (and nothing searched) if the fixed point is linearly unstable.
        The basin is searched only where a stable cycle was found; its radius and every cycle's
        ``q_max`` are in Lyapunov standard deviations. The scaled search is cached (per scaled
        flow and options): a second point with the same scaled flow, e.g. another ``G0`` at the
        same ``|G_r|`` and detuning, costs only its Lyapunov solution.
    """
    options = AttractorOptions() if options is None else options
    if not isinstance(options, AttractorOptions):
        raise TypeError(f"options: expected AttractorOptions, got {type(options).__name__}")
    t0 = time.perf_counter()
    lin = lyapunov(params)
    photons = {k: float(v) for k, v in lin.mean_field.photon_number.items()}
    g = float(lin.rates.g0 / lin.rates.Gamma)
    if not lin.stable:
        return AttractorsResult(params, options, "unstable",
                                "the fixed point is linearly unstable (" + lin.message + "); "
                                "no attractor search", False, photons, g,
                                elapsed=time.perf_counter() - t0)
    system = classical_flow(lin.rates, lin.covariance)
    orbits, radii, edge = _search(system.flow, options)
    cycles = tuple(_limit_cycle(system, o) for o in orbits)
    basin = None if radii is None else Basin(float(np.min(radii)) / g, radii / g, edge[0] / g,
                                             edge[1], edge[2])
    return AttractorsResult(params, options, "ok", "", True, photons, g, cycles, basin,
                            time.perf_counter() - t0)
