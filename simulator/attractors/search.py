"""Limit cycles and basin edge of a deterministic flow (any flow with the
:class:`~simulator.attractors.flow.QuadraticFlow` interface), batched fourth-order Runge-Kutta.

Three steps, all in the flow's own (scaled) coordinates:

1. **Amplitude scan.** Starts at ``z_q = a`` (everything else 0) for a geometric grid of ``a``;
   after a settling time (for fast variables, here the optical modes, to follow the
   oscillator) the amplitude is read at successive crossings of the Poincare section
   ``z_p = 0, z_q > 0`` and its growth over a few periods recorded. A sign
   change of the growth between neighbouring ``a`` brackets a cycle: growth then decay is a cycle
   that attracts along the amplitude, decay then growth one that repels. Each bracket is narrowed
   by bisection.
2. **Periodic-orbit Newton.** From the bracket's section point and return time, Newton on
   ``phi_T(z) = z`` with the phase condition ``dz_p = 0`` (unknowns ``z`` and ``T``), the
   monodromy matrix ``M = d phi_T / dz`` integrated with the variational equations. Its
   eigenvalues are the Floquet multipliers; the cycle is stable when all but the trivial one
   (closest to 1) lie inside the unit circle.
3. **Basin edge.** Along sampled directions ``w`` (unit vectors in whitened coordinates, so the
   radius is the Mahalanobis radius of the flow's metric), bisection on the radius ``r`` of the
   start ``z = r L w`` between "returns to the fixed point" (radius below ``r_in``) and "does not
   return within ``t_max``". The smallest radius over the directions estimates the basin edge
   from above; a ray that leaves and re-enters the basin would be missed (bisection assumes each
   ray crosses the edge once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CycleOrbit", "scan_amplitudes", "cycle_brackets", "refine_cycle", "basin_radii"]


def _step(flow, z: np.ndarray, dt) -> np.ndarray:
    """One classical RK4 step of a batch ``z (n, d)``; ``dt`` a scalar or ``(n, 1)``."""
    k1 = flow(z)
    k2 = flow(z + 0.5 * dt * k1)
    k3 = flow(z + 0.5 * dt * k2)
    k4 = flow(z + dt * k3)
    return z + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


#: Steps between evaluations of the batch's fastest rate (an eigenvalue problem, a third of a
#: step's cost): the step is held that long. The Courant number 0.5 against the 1.5-fold rate
#: leaves RK4 (stable up to about 2.8) a margin of 8 for the state to move in meanwhile.
RATE_EVERY = 4


def _dt(flow, z: np.ndarray, dt_max: float, courant: float) -> float:
    return min(dt_max, courant / max(flow.rate_bound(z), 1e-12))


# ---- 1. amplitude scan --------------------------------------------------------------------------
def scan_amplitudes(flow, amplitudes: np.ndarray, *, t_settle: float = 12.0, periods: int = 4,
                    t_limit: float = 200.0, r_in: float = 1e-3, dt_max: float = 0.1,
                    courant: float = 0.5) -> dict[str, np.ndarray]:
    """Growth of the oscillator amplitude from starts ``z_q = a`` (everything else 0).

    Parameters
    ----------
    flow : QuadraticFlow-like
    amplitudes : ndarray, shape (n,)
        Start values of ``z_q`` (> 0).
    t_settle : float
        Time (``1/omega_m``) before the first section crossing is read: the fast (optical)
        variables settle onto the oscillation. A cycle that attracts so strongly that starts
        reach it within ``t_settle`` shows no growth: use a shorter ``t_settle`` and fewer
        ``periods`` for such a system.
    periods : int
        Section crossings between the first and the last reading.
    t_limit : float
        Longest integration; a start that has not made ``periods`` crossings by then counts as
        decaying (it stopped oscillating).
    r_in : float
        Radius below which a start counts as returned to the fixed point (decaying).
    dt_max, courant : float
        RK4 step: ``min(dt_max, courant / rate)``, ``rate`` the flow's bound on its Jacobian
        over the batch (every step; ``1/omega_m``).

    Returns
    -------
    dict
        ``growth`` (n,): ``ln(a_last / a_first)`` (``-inf`` for a return), ``point`` (n, d):
        the state at the first reading, ``period`` (n,): mean time between crossings (NaN if
        none).
    """
    a = np.asarray(amplitudes, dtype=float)
    n, d, iq, ip = len(a), flow.dim, flow.q_index, flow.p_index
    z = np.zeros((n, d))
    z[:, iq] = a
    count = np.zeros(n, dtype=int)
    first_q = np.full(n, np.nan)
    last_q = np.full(n, np.nan)
    t_first = np.full(n, np.nan)
    t_last = np.full(n, np.nan)
    point = np.full((n, d), np.nan)
    growth = np.full(n, np.nan)
    active = np.ones(n, dtype=bool)
    t, steps = 0.0, 0
    while active.any() and t < t_limit:
        za = z[active]
        if steps % RATE_EVERY == 0:
            dt = _dt(flow, za, dt_max, courant)
        steps += 1
        zn = _step(flow, za, dt)
        p0, p1 = za[:, ip], zn[:, ip]
        s = p0 / np.where(p0 != p1, p0 - p1, 1.0)
        zc = za + s[:, None] * (zn - za)
        cross = (np.sign(p0) != np.sign(p1)) & (zc[:, iq] > 0.0) & (t + dt > t_settle)
        idx = np.flatnonzero(active)
        z[active] = zn
        t += dt
        for k in np.flatnonzero(cross):
            i = idx[k]
            tc = t - dt + s[k] * dt
            if count[i] == 0:
                first_q[i], t_first[i], point[i] = zc[k, iq], tc, zc[k]
            last_q[i], t_last[i] = zc[k, iq], tc
            count[i] += 1
            if count[i] > periods:
                growth[i] = np.log(last_q[i] / first_q[i])
                active[i] = False
        gone = flow.radius(zn) < r_in
        for k in np.flatnonzero(gone):
            if active[idx[k]]:
                growth[idx[k]] = -np.inf
                active[idx[k]] = False
    growth[active] = -np.inf  # never settled into an oscillation: it decays
    period = (t_last - t_first) / np.maximum(count - 1, 1)
    period[count < 2] = np.nan
    return {"growth": growth, "point": point, "period": period}


def cycle_brackets(flow, amplitudes: np.ndarray, *, bisections: int = 5,
                   **scan) -> list[dict]:
    """Brackets ``[a_lo, a_hi]`` of the scan where the growth changes sign, narrowed by
    ``bisections`` rounds (all brackets in one batch per round).

    Returns
    -------
    list of dict
        ``lo``, ``hi`` (start amplitudes), ``attracting`` (growth then decay along ``a``),
        ``point`` (d,) and ``period``: the section state and return time of the start at
        ``lo`` (seed for :func:`refine_cycle`).
    """
    a = np.sort(np.asarray(amplitudes, dtype=float))
    res = scan_amplitudes(flow, a, **scan)
    pos = res["growth"] > 0.0
    brackets = [{"lo": a[i], "hi": a[i + 1], "attracting": bool(pos[i]),
                 "point": res["point"][i], "period": res["period"][i]}
                for i in range(len(a) - 1) if pos[i] != pos[i + 1]]
    for _ in range(bisections):
        if not brackets:
            break
        mid = np.array([np.sqrt(b["lo"] * b["hi"]) for b in brackets])
        rm = scan_amplitudes(flow, mid, **scan)
        for k, b in enumerate(brackets):
            if (rm["growth"][k] > 0.0) == b["attracting"]:
                b.update(lo=mid[k], point=rm["point"][k], period=rm["period"][k])
            else:
                b["hi"] = mid[k]
    return brackets


# ---- 2. periodic-orbit Newton -------------------------------------------------------------------
@dataclass(frozen=True)
class CycleOrbit:
    """A periodic orbit in the flow's coordinates.

    Attributes
    ----------
    point : ndarray, shape (d,)
        A point on the orbit on the section ``z_p = 0``.
    period : float
        ``1/omega_m``.
    multipliers : ndarray of complex, shape (d,)
        Floquet multipliers (eigenvalues of the monodromy matrix), by decreasing modulus.
    stable : bool
        Every multiplier but the trivial one has modulus below 1.
    samples : ndarray, shape (m, d)
        The orbit at ``m`` equally spaced times over one period.
    residual : float
        ``|phi_T(point) - point|`` relative to the orbit's size.
    """

    point: np.ndarray
    period: float
    multipliers: np.ndarray
    stable: bool
    samples: np.ndarray
    residual: float


def _flow_map(flow, z0: np.ndarray, T: float, steps: int):
    """``phi_T(z0)``, the monodromy ``M`` and the orbit at ``steps`` equal times."""
    d = flow.dim
    h = T / steps
    z, M = z0[None, :].copy(), np.eye(d)
    samples = np.empty((steps, d))

    def rhs(z, M):
        return flow(z), flow.jacobian(z)[0] @ M

    for k in range(steps):
        samples[k] = z[0]
        k1z, k1m = rhs(z, M)
        k2z, k2m = rhs(z + 0.5 * h * k1z, M + 0.5 * h * k1m)
        k3z, k3m = rhs(z + 0.5 * h * k2z, M + 0.5 * h * k2m)
        k4z, k4m = rhs(z + h * k3z, M + h * k3m)
        z = z + h / 6.0 * (k1z + 2 * k2z + 2 * k3z + k4z)
        M = M + h / 6.0 * (k1m + 2 * k2m + 2 * k3m + k4m)
    return z[0], M, samples


def refine_cycle(flow, point: np.ndarray, period: float, *, tol: float = 1e-9,
                 max_iter: int = 30, courant: float = 0.3, dt_max: float = 0.05
                 ) -> CycleOrbit | None:
    """Newton on ``phi_T(z) = z`` with ``z_p`` held at 0 (unknowns ``z``, ``T``).

    Parameters
    ----------
    flow : QuadraticFlow-like
    point : ndarray, shape (d,)
        Start guess on (or near) the section.
    period : float
        Start guess of the period (``1/omega_m``).
    tol : float
        Convergence: Newton update below ``tol`` times the orbit's size.
    max_iter : int
        Newton iterations before giving up.
    courant, dt_max : float
        RK4 step over the period, as in :func:`scan_amplitudes` (smaller here: the period and
        the multipliers are the result).

    Returns
    -------
    CycleOrbit or None
        ``None`` if Newton does not converge (or the orbit collapses to the fixed point).
    """
    d, ip = flow.dim, flow.p_index
    z = np.array(point, dtype=float)
    z[ip] = 0.0
    T = float(period)
    if not (np.isfinite(T) and T > 0.0 and np.all(np.isfinite(z))):
        return None
    e_p = np.zeros(d)
    e_p[ip] = 1.0
    for _ in range(max_iter):
        steps = max(64, int(np.ceil(T / _dt(flow, z[None, :] * 1.5, dt_max, courant))))
        phi, M, samples = _flow_map(flow, z, T, steps)
        size = max(np.abs(samples).max(), 1e-300)
        jac = np.zeros((d + 1, d + 1))
        jac[:d, :d] = M - np.eye(d)
        jac[:d, d] = flow(phi[None, :])[0]
        jac[d, :d] = e_p
        rhs = np.concatenate([z - phi, [0.0]])
        try:
            delta = np.linalg.solve(jac, rhs)
        except np.linalg.LinAlgError:
            return None
        # damp steps that would move the orbit by more than half its size
        scale = min(1.0, 0.5 * size / max(np.abs(delta[:d]).max(), 1e-300))
        z, T = z + scale * delta[:d], T + scale * delta[d]
        if not (T > 0.0 and np.all(np.isfinite(z))) or flow.radius(z[None, :])[0] < 1e-6:
            return None
        if scale == 1.0 and np.abs(delta[:d]).max() < tol * size \
                and abs(delta[d]) < tol * T:
            phi, M, samples = _flow_map(flow, z, T, steps)
            mult = np.linalg.eigvals(M)
            mult = mult[np.argsort(-np.abs(mult), kind="stable")]
            trivial = np.argmin(np.abs(mult - 1.0))
            others = np.delete(mult, trivial)
            return CycleOrbit(z, T, mult, bool(np.all(np.abs(others) < 1.0)), samples,
                              float(np.abs(phi - z).max() / size))
    return None


# ---- 3. basin edge ------------------------------------------------------------------------------
def _returns(flow, z0: np.ndarray, *, t_max: float, r_in: float, dt_max: float,
             courant: float, max_steps: float = np.inf) -> tuple[np.ndarray, int, bool]:
    """For each start ``z0 (n, d)``: does the flow bring it below radius ``r_in`` (or into the
    flow's ``certified`` region, where it has one) by ``t_max``? Also returns the RK4 steps
    taken and whether ``max_steps`` stopped the integration first (the starts still running
    then count as not returning)."""
    certified = getattr(flow, "certified", None)

    def inside(z):
        out = flow.radius(z) < r_in
        return out if certified is None else out | certified(z)

    z = np.array(z0, dtype=float)
    back = inside(z)
    idx = np.flatnonzero(~back)  # the starts still running, and their states
    za = z[idx]
    t, steps = 0.0, 0
    while len(idx) and t < t_max:
        if steps >= max_steps:
            return back, steps, True
        if steps % RATE_EVERY == 0:
            dt = _dt(flow, za, dt_max, courant)
        za = _step(flow, za, dt)
        t += dt
        steps += 1
        now = inside(za)
        if now.any():  # the batch shrinks only when a start returns
            back[idx[now]] = True
            idx, za = idx[~now], za[~now]
    return back, steps, False


def _walk(back: np.ndarray, levels: int) -> np.ndarray:
    """Bisection through a grid already evaluated: ``back (n, 2**levels - 1)`` says whether
    the start at grid point ``m = 1 .. 2**levels - 1`` of each row's bracket returned; returns
    the final bracket ``(a, b)`` in grid units, shape ``(2, n)``, exactly as ``levels`` rounds
    of bisection would have chosen it."""
    rows = np.arange(len(back))
    a = np.zeros(len(back), dtype=int)
    b = np.full(len(back), 2**levels)
    for _ in range(levels):
        mid = (a + b) // 2
        ok = back[rows, mid - 1]
        a, b = np.where(ok, mid, a), np.where(ok, b, mid)
    return np.stack([a, b])


def basin_radii(flow, directions: np.ndarray, r_hi: float, *, bisections: int = 10,
                t_max: float = 300.0, r_in: float = 0.02, dt_max: float = 0.1,
                courant: float = 0.5, max_steps: float = np.inf, levels: int = 2
                ) -> tuple[np.ndarray, bool]:
    """Radius along each whitened direction at which starts stop returning.

    Bisection, ``levels`` rounds at a time: each pass integrates, in one batch, the starts at
    all ``2**levels - 1`` interior points of every direction's bracket (the first pass also
    ``r_hi`` itself) and then walks the bisection through them, so ``bisections`` rounds cost
    ``ceil(bisections / levels)`` passes. A pass lasts as long as its slowest start (near the
    horizon ``t_max`` in practice), while each step costs more the larger the batch: at the
    paper's point the whole search took 3.2 s of CPU with 2 levels, 4.3 s with 1 and 3.7 s
    with 4.

    Parameters
    ----------
    flow : QuadraticFlow-like
    directions : ndarray, shape (n, d)
        Unit vectors in whitened coordinates; the start at radius ``r`` is ``flow.from_whitened(
        r w)``.
    r_hi : float
        Largest radius tried. A direction whose start at ``r_hi`` still returns gets ``inf``.
    bisections : int
        Rounds of bisection on ``[0, r_hi]`` (relative precision ``2**-bisections``).
    t_max, r_in : float
        A start returns if its radius falls below ``r_in`` (or it enters the flow's
        ``certified`` region, where the flow has one) within ``t_max`` (``1/omega_m``).
        A start within about ``exp(-mu t_max)`` (relative) of the edge, ``mu`` the escape rate
        from the saddle cycle on the edge, may linger past ``t_max``: it counts as not
        returning, so the edge is, if anything, placed slightly low.
    dt_max, courant : float
        RK4 step, as in :func:`scan_amplitudes` (one step for the whole batch).
    max_steps : float
        Budget of RK4 steps (of the whole batch) over all passes: a deterministic bound on the
        cost. Once spent, the pass in progress counts its unfinished starts as not returning
        and bisection stops.
    levels : int
        Bisection rounds per pass (>= 1; 1 is plain bisection, one start per direction).

    Returns
    -------
    radii : ndarray, shape (n,)
        The radius (midpoint of the last bracket) per direction, ``inf`` where none was found,
        NaN everywhere if the budget ran out within the first pass.
    exhausted : bool
        ``max_steps`` stopped the search (the radii are then coarser, and may be too low).
    """
    if not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ValueError(f"levels = {levels!r}: must be an integer >= 1")
    w = np.asarray(directions, dtype=float)
    kw = dict(t_max=t_max, r_in=r_in, dt_max=dt_max, courant=courant)
    lo = np.zeros(len(w))
    hi = np.full(len(w), float(r_hi))
    open_ = np.ones(len(w), dtype=bool)
    used, done, exhausted = 0, 0, False
    while done < bisections and not exhausted:
        k = min(levels, bisections - done)
        frac = np.arange(1, 2**k) / 2**k
        radii = lo[:, None] + (hi - lo)[:, None] * frac           # (n, 2**k - 1)
        starts = radii[..., None] * w[:, None, :]
        if done == 0:  # whether the top of the bracket returns: those directions stay open
            starts = np.concatenate([starts, float(r_hi) * w[:, None, :]], axis=1)
        back, steps, exhausted = _returns(flow, flow.from_whitened(starts.reshape(-1, w.shape[1])),
                                          max_steps=max_steps - used, **kw)
        used += steps
        back = back.reshape(len(w), -1)
        if done == 0:
            if exhausted:
                return np.full(len(w), np.nan), True   # nothing was learnt
            open_ = ~back[:, -1]
            back = back[:, :-1]
        a, b = _walk(back, k)
        width = hi - lo  # the ends kept as they were where the walk did not move them
        lo, hi = (np.where(a > 0, lo + width * a / 2**k, lo),
                  np.where(b < 2**k, lo + width * b / 2**k, hi))
        done += k
    out = 0.5 * (lo + hi)
    out[~open_ & (hi == r_hi)] = np.inf
    return out, exhausted
