"""Where does the linearisation hold? The exact O(G0^2) shift of E_N over the plane, checked.

    python validation/validity_map.py [--fixed coupling|power] [--quick] [--no-sde] [--no-master]
                                      [--jobs N] [--out DIR] [--rewrite]

For ``G0/Gamma`` (single-photon coupling over cavity decay) against the effective detuning
``Dt/Gamma = (Delta + Delta_J)/Gamma``, at the paper's immune point with ``|G_r|`` held at its
value at the paper's optimum (0.61 omega_m; mass scaled as G0^-2 and the power set for ``|G_r|``
at every detuning), the shift ``dE_N = E_N(nonlinear) - E_N(Lyapunov)`` of the CW-mechanics
entanglement is

* **computed exactly at leading order** by the second-order engine
  (:func:`simulator.second_order.second_order`, one batched call over the whole plane):
  ``dE_N = c (G0/Gamma)^2 + O(G0^4)`` with the quantum coefficient ``c`` (the full Wigner
  equation, what the master equation converges to) and truncated Wigner's (TWA, what the SDE
  engine converges to as ``dt -> 0``) beside it;
* **spot-checked** by the control-variate SDE (truncated Wigner), Richardson-extrapolated to
  ``dt -> 0`` from ``dt = 0.1`` and ``0.05``, started in the linearised stationary state, against
  the TWA coefficient; and by the master equation (``nonlinear=True`` minus the linear solve,
  ``tol = 1e-5``) at ``G0/Gamma`` and ``2 G0/Gamma`` against the quantum coefficient, with the
  remainder ``dE_N(ME) - c (G0/Gamma)^2 = O(G0^4)`` and its growth (~16x) when ``G0`` doubles.

Writes ``validity.png``, ``VALIDITY.md`` (tables and conclusions computed from the numbers) and
``rows.json`` into DIR (default ``validation/validity``); no timings or dates go into them (they
are printed). :func:`coefficient_map`, :func:`sde_check` and :func:`master_check` are the
functions to call from Python. Uses only the public API (plus
:func:`simulator.config.power_for_coupling` and the second-order engine's module).

``--fixed power`` makes the second map: the power is the one giving ``|G_r| = 0.61 omega_m`` at
``Dt/Gamma = 0.85`` and is kept as the detuning moves (a laser swept at fixed power; ``|G_r|``
then follows the cavity response). It writes ``VALIDITY_power.md``, ``validity_power.png`` and
``rows_power.json``. ``--rewrite`` redraws table, figure and conclusions from the rows file
(recomputing only the second-order map, which takes seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from simulator import MasterOptions, Params, SDEOptions, TruncationError, lyapunov, \
    second_order, simulate_sde, solve_master
from simulator.config import power_for_coupling

#: Detunings of the tables (Dt/Gamma).
TABLE_DTS = (0.3, 0.5, 0.85, 1.2, 1.7, 2.5)
#: The plane: Dt/Gamma and G0/Gamma.
PLANE_DTS = np.round(np.linspace(0.02, 3.0, 150), 4)
PLANE_G0S = np.geomspace(1e-3, 1.0, 61)
#: SDE spot checks (G0/Gamma, Dt/Gamma). With control variates the relative error does not grow
#: as G0 -> 0, so they sit at G0/Gamma = 0.05, where truncated Wigner's own O(G0^4) remainder is a
#: few % of the shift at most; the point at 0.1 shows that remainder where it is largest.
_SDE_DTS = (0.3, 0.5, 0.85, 1.2, 1.7, 2.5)
SDE_POINTS = {"coupling": [(0.05, d) for d in _SDE_DTS] + [(0.1, 2.5)],
              "power": [(0.05, d) for d in _SDE_DTS] + [(0.1, 2.5)]}
SDE_POINTS_QUICK = [(0.1, 0.85), (0.1, 1.7)]
#: Master-equation spot checks: each detuning at G0/Gamma 0.1 and 0.2 (the remainder's growth).
#: Dt/Gamma = 0.3 is left out: there the mechanical cutoff reaches ~50 and one solve takes minutes.
ME_DTS = {"coupling": (0.5, 0.85, 1.2, 1.7), "power": (0.85, 1.2, 1.7, 2.5)}
ME_G0S = (0.1, 0.2)
ME_POINTS_QUICK = [(0.1, 0.85), (0.2, 0.85)]
SDE_STEPS = (0.1, 0.05)


# ---- parameter points -------------------------------------------------------------------------

def point_params(g0_over_gamma: float, dt_over_gamma: float, G_target: float,
                 fixed: str = "coupling") -> Params:
    """The immune point with ``G0/Gamma`` and ``Dt/Gamma``, and ``|G_r| = G_target`` (s^-1)
    there (``fixed="coupling"``) or at ``Dt/Gamma = 0.85`` with that power kept
    (``fixed="power"``)."""
    base = Params.paper()
    ratio = g0_over_gamma * base.Gamma / base.G0
    at = dt_over_gamma if fixed == "coupling" else 0.85
    p = base.replace(mass=base.mass / ratio**2, detuning=at * base.Gamma - base.Delta_J)
    p = p.replace(power=power_for_coupling(p, G_target))
    return p.replace(detuning=dt_over_gamma * base.Gamma - base.Delta_J)


def paper_coupling() -> float:
    """``|G_r|`` (s^-1) at the paper's point."""
    lin = lyapunov(Params.paper())
    return float(abs(lin.to_dict()["coupling"]["r"]) * Params.paper().omega_m)


def coupling_r(p: Params) -> float:
    """``|G_r| / omega_m`` at ``p``."""
    return float(abs(lyapunov(p).to_dict()["coupling"]["r"]))


# ---- the exact leading order over the plane ---------------------------------------------------

def coefficient_map(g0s, dts, fixed: str = "coupling") -> dict:
    """The second-order engine over the (G0/Gamma, Dt/Gamma) plane, one batched call.

    Returns a dict of arrays of shape ``(len(g0s), len(dts))``: ``E_N`` (Lyapunov, r_m),
    ``quantum`` and ``twa`` (``dE_N / (G0/Gamma)^2``), ``stable``; and ``g0s``, ``dts``.
    The power is ``P(g, Dt) = P(g_ref, Dt) (g_ref/g)^2`` (``|G_r|^2`` is proportional to
    ``P G0^2`` at fixed effective detuning), checked against :func:`point_params` at the corners.
    """
    base = Params.paper()
    G = paper_coupling()
    g0s, dts = np.asarray(g0s, float), np.asarray(dts, float)
    g_ref = float(g0s[0])
    p_ref = np.array([point_params(g_ref, d, G, fixed).power for d in dts])
    ratio = g0s * base.Gamma / base.G0
    mass = (base.mass / ratio**2)[:, None]
    power = p_ref[None, :] * (g_ref / g0s[:, None]) ** 2
    detuning = (dts * base.Gamma - base.Delta_J)[None, :]
    for i, j in ((0, 0), (-1, -1), (0, -1), (-1, 0)):
        direct = point_params(g0s[i], dts[j], G, fixed).power
        if not np.isclose(power[i, j], direct, rtol=1e-9):
            raise AssertionError(f"power scaling: {power[i, j]} != {direct} at "
                                 f"G0/Gamma {g0s[i]}, Dt/Gamma {dts[j]}")
    res = second_order(base, mass=mass, detuning=detuning, power=power)
    return {"g0s": g0s, "dts": dts, "stable": res.stable,
            "E_N": res.log_negativity["r_m"],
            "quantum": res.coefficient("quantum", "r_m"), "twa": res.coefficient("twa", "r_m"),
            "g0_over_gamma": res.g0_over_Gamma}


def validity_limit(en, c, level):
    """``G0/Gamma`` where the leading-order ``|dE_N| = |c| (G0/Gamma)^2`` reaches ``level * E_N``
    (inf where ``c = 0``, NaN where ``E_N = 0``)."""
    en, c = np.asarray(en, float), np.asarray(c, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(en > 0, np.sqrt(level * en / np.abs(c)), np.nan)


def coefficient_rows(dts, fixed: str) -> list[dict]:
    """Per detuning of the tables: ``|G_r|``, E_N, both coefficients, their ratio and the
    ``G0/Gamma`` limits for 1 % and 10 %."""
    G = paper_coupling()
    cm = coefficient_map([0.1], dts, fixed)
    rows = []
    for j, d in enumerate(dts):
        en, cq, ct = (float(cm[k][0, j]) for k in ("E_N", "quantum", "twa"))
        rows.append({
            "dt_over_gamma": float(d), "stable": bool(cm["stable"][0, j]),
            "coupling_r": coupling_r(point_params(0.1, d, G, fixed)),
            "E_N_lyapunov": en, "c_quantum": cq, "c_twa": ct,
            "ratio": ct / cq if cq != 0 else float("nan"),
            "g0_1pc_quantum": float(validity_limit(en, cq, 0.01)),
            "g0_10pc_quantum": float(validity_limit(en, cq, 0.1)),
            "g0_1pc_twa": float(validity_limit(en, ct, 0.01)),
            "g0_10pc_twa": float(validity_limit(en, ct, 0.1))})
    return rows


# ---- spot checks -------------------------------------------------------------------------------

def sde_check(p: Params, *, n_traj: int, t_avg: float, seed: int, n_jobs: int = 2) -> dict:
    """dE_N(r_m) by control variates at dt = 0.1 and 0.05 (seeds ``seed``, ``seed + 1``) and
    the Richardson extrapolation ``2 dE(0.05) - dE(0.1)`` with its 1-sigma error."""
    out: dict = {}
    for k, dt in enumerate(SDE_STEPS):
        opts = SDEOptions(dt=dt, n_traj=n_traj, chunk_size=min(32, max(8, n_traj // 8)),
                          t_avg=t_avg, initial="lyapunov", control_variate=True, bound=1e4)
        r = simulate_sde(p, opts, seed=seed + k, n_jobs=n_jobs)
        out[f"dE_N_dt{dt:g}"] = float(r.shift["log_negativity"]["r_m"])
        out[f"dE_N_dt{dt:g}_err"] = float(r.shift["log_negativity_stderr"]["r_m"])
        out[f"status_dt{dt:g}"] = r.status
        out["diverged"] = out.get("diverged", 0) + int(r.diverged)
    a, sa = out["dE_N_dt0.1"], out["dE_N_dt0.1_err"]
    b, sb = out["dE_N_dt0.05"], out["dE_N_dt0.05_err"]
    out["dE_N_sde"] = 2 * b - a
    out["dE_N_sde_err"] = float(np.hypot(2 * sb, sa))
    return out


#: Cutoff tolerances of the master equation, tried in turn: at G0/Gamma = 0.1 the O(G0^4)
#: remainder is a few 1e-5 of E_N (at Dt/Gamma = 2.5 at fixed power, 1e-6) and must stand above
#: the truncation error; where the tight tolerance does not converge (Dt/Gamma = 0.5 at
#: G0/Gamma = 0.2), the looser one does.
MASTER_TOLS = (1e-6, 1e-5)


def master_check(p: Params, tols=MASTER_TOLS) -> dict:
    """``E_N`` shift of the master equation: the nonlinear solve minus the linear one (their
    common truncation largely cancels); ``master_error`` combines both truncation-error
    estimates; ``master_tol`` is the first of ``tols`` at which both solves converged."""
    why = "not converged"
    for tol in tols:
        try:
            nl = solve_master(p, options=MasterOptions(nonlinear=True, tol=tol))
            li = solve_master(p, options=MasterOptions(nonlinear=False, tol=tol))
        except TruncationError as exc:
            why = f"does not fit: {str(exc)[:80]}"
            continue
        if not (nl.converged and li.converged):
            continue
        return {"dE_N_master": float(nl.log_negativity["r_m"] - li.log_negativity["r_m"]),
                "master_error": float(np.hypot(nl.truncation_error, li.truncation_error)),
                "master_tol": tol, "cutoffs": [int(c) for c in nl.cutoffs]}
    return {"master_skipped": why}


def spot_checks(sde_points, me_points, fixed: str, *, n_traj: int, t_avg: float, seed: int,
                n_jobs: int = 2, log=print) -> tuple[list[dict], list[dict]]:
    """SDE and master-equation rows, each with the second-order prediction of its point."""
    G = paper_coupling()

    def base_row(g, d):
        p = point_params(g, d, G, fixed)
        so = second_order(p)
        return p, {"g0_over_gamma": g, "dt_over_gamma": d,
                   "E_N_lyapunov": float(so.log_negativity["r_m"]),
                   "c_quantum": float(so.coefficient("quantum")),
                   "c_twa": float(so.coefficient("twa"))}

    sde_rows, me_rows = [], []
    for i, (g, d) in enumerate(sde_points):
        p, row = base_row(g, d)
        t0 = time.perf_counter()
        row.update(sde_check(p, n_traj=n_traj, t_avg=t_avg, seed=seed + 2 * i, n_jobs=n_jobs))
        g2 = g * g
        log(f"SDE  G0/Gamma {g:g} Dt/Gamma {d:g}: dE_N/(G0/Gamma)^2 = "
            f"{row['dE_N_sde'] / g2:+.4f} +- {row['dE_N_sde_err'] / g2:.4f} (TWA "
            f"{row['c_twa']:+.4f}, quantum {row['c_quantum']:+.4f}) "
            f"[{time.perf_counter() - t0:.0f} s]")
        sde_rows.append(row)
    for g, d in me_points:
        p, row = base_row(g, d)
        t0 = time.perf_counter()
        row.update(master_check(p))
        if "dE_N_master" in row:
            log(f"ME   G0/Gamma {g:g} Dt/Gamma {d:g}: dE_N/(G0/Gamma)^2 = "
                f"{row['dE_N_master'] / g**2:+.5f} (trunc. {row['master_error']:.1e}; quantum "
                f"{row['c_quantum']:+.5f}) [{time.perf_counter() - t0:.0f} s]")
        else:
            log(f"ME   G0/Gamma {g:g} Dt/Gamma {d:g}: {row['master_skipped']}")
        me_rows.append(row)
    return sde_rows, me_rows


# ---- analysis -----------------------------------------------------------------------------------

def sde_z(r: dict) -> tuple[float, float]:
    """(SDE - TWA) and (SDE - quantum) in units of the SDE error."""
    g2 = r["g0_over_gamma"] ** 2
    e = r["dE_N_sde_err"]
    return (r["dE_N_sde"] - r["c_twa"] * g2) / e, (r["dE_N_sde"] - r["c_quantum"] * g2) / e


def remainders(me_rows) -> list[dict]:
    """Master-equation rows with ``remainder = dE_N(ME) - c (G0/Gamma)^2`` and, on the larger
    ``G0`` of a detuning, ``growth`` = its remainder over the one at half that ``G0``."""
    out = []
    for r in me_rows:
        if "dE_N_master" not in r:
            out.append(dict(r))
            continue
        g = r["g0_over_gamma"]
        rem = r["dE_N_master"] - r["c_quantum"] * g * g
        row = {**r, "remainder": rem, "remainder_over_g4": rem / g**4}
        half = next((s for s in me_rows if s["dt_over_gamma"] == r["dt_over_gamma"]
                     and np.isclose(s["g0_over_gamma"], g / 2) and "dE_N_master" in s), None)
        if half is not None:
            rem_half = half["dE_N_master"] - half["c_quantum"] * (g / 2) ** 2
            row["growth"] = rem / rem_half if rem_half != 0 else float("nan")
            row["remainder_half_resolved"] = (abs(rem_half) > 3 * half["master_error"]
                                              and abs(rem) > 3 * r["master_error"])
        out.append(row)
    return out


def _fmt_range(vals, fmt="{:.2f}"):
    vals = [v for v in vals if np.isfinite(v)]
    if not vals:
        return "n/a"
    lo, hi = min(vals), max(vals)
    if np.isclose(lo, hi, rtol=5e-3):
        return fmt.format(lo)
    return f"{fmt.format(lo)} to {fmt.format(hi)}"


def conclusions(coef_rows, sde_rows, me_rows, cmap=None) -> list[str]:
    """Statements computed from the tables (and, if given, the fine coefficient map)."""
    out = []
    ok = [r for r in coef_rows if r["stable"] and r["E_N_lyapunov"] > 0]
    over = [r for r in ok if np.isfinite(r["ratio"]) and r["ratio"] > 0]
    if over:
        lo = min(over, key=lambda r: r["ratio"])
        hi = max(over, key=lambda r: r["ratio"])
        out.append(
            f"- Truncated Wigner overstates the leading-order shift at every detuning of the "
            f"table where both have the same sign: TWA/quantum = {lo['ratio']:.2f} at Dt/Gamma = "
            f"{lo['dt_over_gamma']:g} up to {hi['ratio']:.3g} at {hi['dt_over_gamma']:g} "
            "(the quantum coefficient is what the master equation gives; TWA drops the "
            "third-order derivative term (g0/8)(d_X^2 + d_Y^2) d_p W of the Wigner equation).")
    flip = [r for r in ok if np.isfinite(r["ratio"]) and r["ratio"] <= 0]
    for r in flip:
        out.append(f"- At Dt/Gamma = {r['dt_over_gamma']:g} the two differ in sign: quantum "
                   f"{r['c_quantum']:+.3g}, TWA {r['c_twa']:+.3g} (G0/Gamma)^2.")
    low = [r for r in ok if r["dt_over_gamma"] <= 0.5]
    if low:
        out.append("- Truncated Wigner and the master equation do not agree at small detuning "
                   "either: TWA/quantum = " + ", ".join(
                       f"{r['ratio']:.2f} at Dt/Gamma = {r['dt_over_gamma']:g}" for r in low)
                   + ". (An earlier version of this study, from a noisy Richardson "
                   "extrapolation of 64 trajectories, said they agree there and gave -0.39 +- "
                   "0.04 for TWA at Dt/Gamma = 0.85; the converged numbers are in the tables.)")
    if cmap is not None:
        dts, cq = cmap["dts"], cmap["quantum"][0]
        en = cmap["E_N"][0]
        good = np.isfinite(cq) & (en > 0)
        s = np.sign(cq)
        cross = [0.5 * (dts[k] + dts[k + 1]) for k in range(len(dts) - 1)
                 if good[k] and good[k + 1] and s[k] != s[k + 1] and s[k] != 0]
        if cross:
            out.append("- The quantum coefficient changes sign near Dt/Gamma = "
                       + ", ".join(f"{c:.2f}" for c in cross)
                       + ": there the leading-order shift vanishes and the O(G0^4) term decides "
                       "(the 1 %/10 % limits below diverge); the TWA coefficient stays "
                       f"negative ({_fmt_range(cmap['twa'][0][good], '{:+.3f}')}).")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(good, cmap["twa"][0] / cq, np.nan)
        if np.any(ratio > 0):
            k = int(np.nanargmin(np.where(ratio > 0, ratio, np.nan)))
            out.append(
                f"- On the fine grid (Dt/Gamma {dts[0]:g}-{dts[-1]:g}, {len(dts)} values) the "
                f"pair is entangled from Dt/Gamma = {dts[good][0]:g} on"
                + ("" if np.all(cmap["stable"]) else " (unstable points excluded)")
                + f"; wherever the two coefficients have the same sign TWA/quantum >= "
                f"{ratio[k]:.3g} (its least, at Dt/Gamma = {dts[k]:g}): truncated Wigner "
                "overstates the master equation's shift everywhere on the map, or has the "
                "wrong sign.")
        spread = np.nanmax(np.abs(cmap["quantum"] - cmap["quantum"][:1]), initial=0.0)
        out.append(f"- Over the plane ({len(cmap['g0s'])} x {len(dts)} points, G0/Gamma "
                   f"{cmap['g0s'][0]:g}-{cmap['g0s'][-1]:g}) the coefficient does not depend on "
                   f"G0 (largest change {spread:.1e}): with |G_r| and Dt set, G0 enters only as "
                   "the prefactor (G0/Gamma)^2.")
    for r in ok:
        out.append(
            f"- Dt/Gamma = {r['dt_over_gamma']:g} (E_N = {r['E_N_lyapunov']:.4f}): dE_N = "
            f"{r['c_quantum']:+.4g} (G0/Gamma)^2 (TWA {r['c_twa']:+.4g}), so the linearised E_N "
            f"is right to 1 % up to G0/Gamma ~ {r['g0_1pc_quantum']:.2g} and to 10 % up to "
            f"~ {r['g0_10pc_quantum']:.2g} (leading order; TWA would say {r['g0_1pc_twa']:.2g} "
            f"and {r['g0_10pc_twa']:.2g})"
            + ("; the 10 % limit lies beyond G0/Gamma = 0.2, the largest G0 checked here, "
               "where the O(G0^4) term may set it instead" if r["g0_10pc_quantum"] > 0.3
               else "") + ".")
    sde = [r for r in sde_rows if "dE_N_sde" in r]
    if sde:
        # the leading-order check: the smallest G0 of each detuning (a larger one shows the
        # truncated-Wigner O(G0^4) remainder, below)
        g_min = {d: min(r["g0_over_gamma"] for r in sde if r["dt_over_gamma"] == d)
                 for d in {r["dt_over_gamma"] for r in sde}}
        lead = [r for r in sde if r["g0_over_gamma"] == g_min[r["dt_over_gamma"]]]
        zt = [sde_z(r)[0] for r in lead]
        zq = [sde_z(r)[1] for r in sde]
        rel = [r["dE_N_sde_err"] / abs(r["dE_N_sde"]) for r in sde]
        agree = all(abs(z) < 3 for z in zt)
        far = [r for r, z in zip(sde, zq) if abs(z) >= 3]
        out.append(
            f"- The control-variate SDE, extrapolated to dt -> 0 (errors "
            f"{_fmt_range([100 * x for x in rel], '{:.1f}')} % of the shift), "
            + ("agrees with the TWA coefficient" if agree else "does not agree everywhere with "
               "the TWA coefficient")
            + f" at the {len(lead)} leading-order points (G0/Gamma = "
            + _fmt_range([r["g0_over_gamma"] for r in lead], "{:g}")
            + f"; |z| <= {max(abs(z) for z in zt):.1f}); "
            + (f"{len(far)} of its {len(sde)} points are beyond 3 sigma from the quantum "
               f"coefficient (|z| up to {max(abs(z) for z in zq):.0f})" if far else
               "it is not distinguishable from the quantum coefficient at these points")
            + ". The SDE measures truncated Wigner, not quantum mechanics.")
        for d in sorted({r["dt_over_gamma"] for r in sde}):
            pair = sorted((r for r in sde if r["dt_over_gamma"] == d),
                          key=lambda r: r["g0_over_gamma"])
            if len(pair) < 2:
                continue
            lo, hi = pair[0], pair[-1]
            cl, ch = (r["dE_N_sde"] / r["g0_over_gamma"] ** 2 for r in (lo, hi))
            el, eh = (r["dE_N_sde_err"] / r["g0_over_gamma"] ** 2 for r in (lo, hi))
            out.append(
                f"- At Dt/Gamma = {d:g} the SDE also sees truncated Wigner's own O(G0^4) "
                f"remainder (it measures the whole TWA shift, not its leading order): its "
                f"coefficient is {ch:+.3f} +- {eh:.3f} at G0/Gamma = {hi['g0_over_gamma']:g} "
                f"and {cl:+.3f} +- {el:.3f} at {lo['g0_over_gamma']:g}, against {lo['c_twa']:+.3f}"
                f" at G0 -> 0 (z = {sde_z(hi)[0]:+.1f} and {sde_z(lo)[0]:+.1f}; in these units "
                "the remainder should fall 4x when G0 halves).")
        bias = [(r["dE_N_dt0.1"] - r["dE_N_sde"]) / abs(r["dE_N_sde"]) for r in sde
                if r["dE_N_sde"] != 0]
        if bias:
            out.append(f"- The step bias of the SDE shift at dt = 0.1 is "
                       f"{_fmt_range([100 * b for b in bias], '{:+.0f}')} % of the extrapolated "
                       "shift (O(dt); Richardson removes it).")
    me = [r for r in remainders(me_rows) if "dE_N_master" in r]
    if me:
        parts = []
        for g in sorted({r["g0_over_gamma"] for r in me}):
            sel = [r for r in me if r["g0_over_gamma"] == g]
            dev = max(abs(r["remainder"]) / g**2 for r in sel)
            gap = min(abs(r["c_twa"] - r["c_quantum"]) for r in sel)
            n = len(sel)
            parts.append(f"at most {dev:.2g} at G0/Gamma = {g:g} ({n} detuning"
                         f"{'s' if n > 1 else ''}; TWA's coefficient is {gap:.2g} or more away)")
        out.append(
            f"- The master equation agrees with the quantum coefficient at all {len(me)} points: "
            "|dE_N(ME)/(G0/Gamma)^2 - c_quantum| is " + "; ".join(parts)
            + ". What is left is the O(G0^4) remainder:")
        grow = [r for r in me if "growth" in r]
        res = [r for r in grow if r.get("remainder_half_resolved")]
        if res:
            out.append(
                "  it grows " + ", ".join(f"{r['growth']:.1f}x at Dt/Gamma = "
                                          f"{r['dt_over_gamma']:g}" for r in res)
                + " when G0/Gamma doubles from "
                + _fmt_range([r["g0_over_gamma"] / 2 for r in res], "{:g}")
                + " (16x for G0^4).")
        unres = [r for r in grow if not r.get("remainder_half_resolved")]
        if unres:
            out.append("  (at Dt/Gamma = " + ", ".join(f"{r['dt_over_gamma']:g}" for r in unres)
                       + " a remainder is within 3x its truncation-error estimate, so its "
                       "growth is not resolved.)")
    return out


# ---- output ------------------------------------------------------------------------------------

def _num(x, fmt):
    return fmt.format(x) if x is not None and np.isfinite(x) else "-"


def write_markdown(coef_rows, sde_rows, me_rows, path: Path, header: str, concl, figure: str):
    lines = [header, "", f"![validity]({figure})", "",
             "## The exact leading order", "",
             "dE_N(r_m) = E_N(nonlinear) - E_N(Lyapunov) = c (G0/Gamma)^2 + O(G0^4); c from the "
             "second-order engine (quantum: the full model; TWA: truncated Wigner). Limits: "
             "G0/Gamma where |c| (G0/Gamma)^2 = 1 % / 10 % of E_N.", "",
             "| Dt/Gamma | \\|G_r\\|/omega_m | E_N (Lyapunov) | c quantum | c TWA | TWA/quantum "
             "| G0/Gamma for 1 % | for 10 % | (TWA: 1 %) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in coef_rows:
        if not r["stable"]:
            lines.append(f"| {r['dt_over_gamma']:g} | unstable |  |  |  |  |  |  |  |")
            continue
        lines.append(
            f"| {r['dt_over_gamma']:g} | {r['coupling_r']:.3f} | {r['E_N_lyapunov']:.4f} | "
            f"{r['c_quantum']:+.4f} | {r['c_twa']:+.4f} | {_num(r['ratio'], '{:.3g}')} | "
            f"{_num(r['g0_1pc_quantum'], '{:.3g}')} | {_num(r['g0_10pc_quantum'], '{:.3g}')} | "
            f"{_num(r['g0_1pc_twa'], '{:.3g}')} |")
    if sde_rows:
        lines += ["", "## Spot checks: control-variate SDE against truncated Wigner", "",
                  "dE_N / (G0/Gamma)^2 (1 sigma); extrapolated = 2 x (dt 0.05) - (dt 0.1); z = "
                  "(SDE - prediction) / error.", "",
                  "| G0/Gamma | Dt/Gamma | dt 0.1 | dt 0.05 | dt -> 0 | TWA | z (TWA) | quantum "
                  "| z (quantum) |", "|---|---|---|---|---|---|---|---|---|"]
        for r in sde_rows:
            g2 = r["g0_over_gamma"] ** 2
            zt, zq = sde_z(r)
            div = f" ({r['diverged']} diverged)" if r.get("diverged") else ""
            lines.append(
                f"| {r['g0_over_gamma']:g} | {r['dt_over_gamma']:g} | "
                f"{r['dE_N_dt0.1'] / g2:+.4f} ± {r['dE_N_dt0.1_err'] / g2:.4f} | "
                f"{r['dE_N_dt0.05'] / g2:+.4f} ± {r['dE_N_dt0.05_err'] / g2:.4f} | "
                f"**{r['dE_N_sde'] / g2:+.4f} ± {r['dE_N_sde_err'] / g2:.4f}**{div} | "
                f"{r['c_twa']:+.4f} | {zt:+.1f} | {r['c_quantum']:+.4f} | {zq:+.1f} |")
    me = remainders(me_rows)
    if me:
        lines += ["", "## Spot checks: master equation against the quantum coefficient", "",
                  "dE_N(ME) = E_N(nonlinear ME) - E_N(linear ME) (cutoff tolerance 1e-6, or "
                  "1e-5 where that does not converge; trunc. = truncation-error estimate of "
                  "both); "
                  "remainder = dE_N(ME) - c_quantum (G0/Gamma)^2, growth = remainder over "
                  "that at half the G0 (16 for O(G0^4)).", "",
                  "| G0/Gamma | Dt/Gamma | dE_N (ME) | trunc. | c_quantum (G0/Gamma)^2 | "
                  "dE_N(ME)/(G0/Gamma)^2 | remainder | remainder/(G0/Gamma)^4 | growth | "
                  "c_TWA (G0/Gamma)^2 |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in me:
            g = r["g0_over_gamma"]
            if "dE_N_master" not in r:
                lines.append(f"| {g:g} | {r['dt_over_gamma']:g} | {r['master_skipped']} "
                             "|  |  |  |  |  |  |  |")
                continue
            gr = "-"
            if "growth" in r:
                gr = f"{r['growth']:.1f}" + ("" if r["remainder_half_resolved"]
                                              else " (unresolved)")
            lines.append(
                f"| {g:g} | {r['dt_over_gamma']:g} | {r['dE_N_master']:+.4e} | "
                f"{r['master_error']:.0e} (tol {r.get('master_tol', 1e-5):g}) | "
                f"{r['c_quantum'] * g * g:+.4e} | "
                f"{r['dE_N_master'] / g**2:+.4f} | {r['remainder']:+.2e} | "
                f"{r['remainder_over_g4']:+.3f} | {gr} | {r['c_twa'] * g * g:+.4e} |")
    lines += ["", "## Conclusions (computed from the numbers above)", "", *concl, ""]
    path.write_text("\n".join(lines))


def plot(cmap, sde_rows, me_rows, path: Path, fixed: str = "coupling"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dts, g0s = cmap["dts"], cmap["g0s"]
    cq, ct, en = cmap["quantum"][0], cmap["twa"][0], cmap["E_N"][0]
    good = np.isfinite(cq) & (en > 0)
    fig, ax = plt.subplots(2, 2, figsize=(11.5, 8.5))
    a = ax[0, 0]
    a.plot(dts[good], cq[good], "C0-", label="quantum (second order)")
    a.plot(dts[good], ct[good], "C3--", label="truncated Wigner (second order)")
    if sde_rows:
        g2 = np.array([r["g0_over_gamma"] ** 2 for r in sde_rows])
        a.errorbar([r["dt_over_gamma"] for r in sde_rows],
                   np.array([r["dE_N_sde"] for r in sde_rows]) / g2,
                   yerr=np.array([r["dE_N_sde_err"] for r in sde_rows]) / g2, fmt="o", color="C3",
                   mfc="none", capsize=3, label="SDE, dt -> 0")
    me = [r for r in me_rows if "dE_N_master" in r]
    for g, mk in ((0.1, "s"), (0.2, "^"), (0.05, "v")):
        sel = [r for r in me if np.isclose(r["g0_over_gamma"], g)]
        if sel:
            a.plot([r["dt_over_gamma"] for r in sel],
                   [r["dE_N_master"] / g**2 for r in sel], mk, color="C0", mfc="none",
                   label=f"master equation, G0/Gamma = {g:g}")
    a.axhline(0, color="grey", lw=0.5)
    a.set_xlabel("Dt / Gamma")
    a.set_ylabel("dE_N / (G0/Gamma)^2   (E_N in ln units)")
    a.legend(fontsize=7)
    a.set_title("(a) leading-order coefficient of the E_N shift", fontsize=9)

    a = ax[0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ct / cq
    a.semilogy(dts[good & (ratio > 0)], ratio[good & (ratio > 0)], "k-",
               label="TWA / quantum (same sign)")
    neg = good & (ratio < 0)
    if np.any(neg):
        a.semilogy(dts[neg], -ratio[neg], "k:", label="-TWA / quantum (opposite sign)")
    a.axhline(1, color="grey", lw=0.5)
    a.set_xlabel("Dt / Gamma")
    a.set_ylabel("ratio of the coefficients (dimensionless)")
    a.legend(fontsize=7)
    a.set_title("(b) how much truncated Wigner overstates the shift", fontsize=9)

    a = ax[1, 0]
    G, D = np.meshgrid(g0s, dts, indexing="ij")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_q = np.abs(cmap["quantum"]) * cmap["g0_over_gamma"] ** 2 / cmap["E_N"]
        rel_t = np.abs(cmap["twa"]) * cmap["g0_over_gamma"] ** 2 / cmap["E_N"]
    mask = ~(np.isfinite(rel_q) & (cmap["E_N"] > 0))
    lq = np.ma.masked_where(mask, np.log10(np.maximum(rel_q, 1e-12)))
    im = a.pcolormesh(D, G, np.clip(lq, -6, 1), shading="auto", cmap="viridis")
    fig.colorbar(im, ax=a, label="log10 |dE_N| / E_N  (quantum, leading order)")
    cs = a.contour(D, G, np.ma.masked_where(mask, rel_q), levels=[0.01, 0.1], colors="w",
                   linestyles="-")
    a.clabel(cs, fmt={0.01: "1 %", 0.1: "10 %"}, fontsize=7)
    ct_ = a.contour(D, G, np.ma.masked_where(mask, rel_t), levels=[0.01, 0.1], colors="r",
                    linestyles="--", linewidths=0.8)
    a.clabel(ct_, fmt={0.01: "1 % TWA", 0.1: "10 % TWA"}, fontsize=6)
    a.set_yscale("log")
    a.set_xlabel("Dt / Gamma")
    a.set_ylabel("G0 / Gamma")
    a.set_title("(c) where the linearised E_N is right to 1 % / 10 % (white: quantum, red "
                "dashed: TWA)", fontsize=9)

    a = ax[1, 1]
    rem = [r for r in remainders(me_rows) if "remainder" in r]
    for k, d in enumerate(sorted({r["dt_over_gamma"] for r in rem})):
        sel = sorted((r for r in rem if r["dt_over_gamma"] == d),
                     key=lambda r: r["g0_over_gamma"])
        a.errorbar([r["g0_over_gamma"] for r in sel], [abs(r["remainder"]) for r in sel],
                   yerr=[r["master_error"] for r in sel], fmt="o-", color=f"C{k}", capsize=2,
                   label=f"Dt/Gamma = {d:g}")
    if rem:
        gg = np.array([0.07, 0.25])
        ref = np.median([abs(r["remainder_over_g4"]) for r in rem])
        a.loglog(gg, ref * gg**4, "k--", lw=0.8, label="slope 4 (G0^4)")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("G0 / Gamma")
    a.set_ylabel("|dE_N(ME) - c_quantum (G0/Gamma)^2|  (ln units)")
    a.legend(fontsize=7)
    a.set_title("(d) master equation minus the second order: the O(G0^4) remainder", fontsize=9)
    fig.suptitle("nonlinear shift of E_N(CW-mechanics), immune point, fixed "
                 + ("|G_r| = 0.61 omega_m" if fixed == "coupling"
                    else "power (|G_r| = 0.61 omega_m at Dt = 0.85 Gamma)"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def header_text(args_line: str, fixed: str, n_traj: int, t_avg: float, seed: int) -> str:
    G = paper_coupling() / Params.paper().omega_m
    return (f"# Validity map of the linearisation\n\nGenerated by `python "
            f"validation/validity_map.py{args_line}` (SDE: seed {seed}, {n_traj} trajectories, "
            f"averaging time {t_avg:g}/omega_m per run after the default burn-in). "
            + ("|G_r| fixed at the paper's " if fixed == "coupling" else
               "Power fixed at the value giving, at Dt/Gamma = 0.85, the paper's |G_r| = ")
            + f"{G:.4f} omega_m; immune point (CCW mode dark), 200 mK, Brownian damping.")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).with_name("validity")))
    ap.add_argument("--quick", action="store_true",
                    help="two SDE and two master-equation points, 64 trajectories")
    ap.add_argument("--no-sde", action="store_true", help="skip the SDE spot checks")
    ap.add_argument("--no-master", action="store_true", help="skip the master equation")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2, choices=(1, 2),
                    help="worker processes of the SDE (at most 2)")
    ap.add_argument("--fixed", choices=("coupling", "power"), default="coupling",
                    help="hold |G_r| at every detuning, or the power of the paper's optimum")
    ap.add_argument("--rewrite", action="store_true",
                    help="rewrite tables, figure and conclusions from DIR/rows.json (no SDE or "
                         "master-equation runs)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "" if args.fixed == "coupling" else "_power"
    fig_name, md_name, rows_name = f"validity{tag}.png", f"VALIDITY{tag}.md", f"rows{tag}.json"
    t_start = time.perf_counter()

    t0 = time.perf_counter()
    cmap = coefficient_map(PLANE_G0S, PLANE_DTS, args.fixed)
    print(f"second-order map: {cmap['stable'].size} points in {time.perf_counter() - t0:.1f} s")
    coef_rows = coefficient_rows(TABLE_DTS, args.fixed)
    if args.rewrite:
        saved = json.loads((out / rows_name).read_text())
        sde_rows, me_rows, header = saved["sde"], saved["master"], saved["header"]
    else:
        if args.quick:
            sde_points, me_points, n_traj, t_avg = SDE_POINTS_QUICK, ME_POINTS_QUICK, 64, 300.0
        else:
            sde_points = SDE_POINTS[args.fixed]
            me_points = [(g, d) for d in ME_DTS[args.fixed] for g in ME_G0S]
            n_traj, t_avg = 512, 900.0
        sde_rows, me_rows = spot_checks(
            [] if args.no_sde else sde_points, [] if args.no_master else me_points, args.fixed,
            n_traj=n_traj, t_avg=t_avg, seed=args.seed, n_jobs=args.jobs)
        line = "".join([" --quick" if args.quick else "",
                        " --fixed power" if args.fixed == "power" else "",
                        " --no-sde" if args.no_sde else "",
                        " --no-master" if args.no_master else "",
                        f" --seed {args.seed}" if args.seed != 3 else ""])
        header = header_text(line, args.fixed, n_traj, t_avg, args.seed)
        (out / rows_name).write_text(json.dumps(
            {"header": header, "fixed": args.fixed, "coefficients": coef_rows,
             "sde": sde_rows, "master": me_rows}, indent=1) + "\n")
    plot(cmap, sde_rows, me_rows, out / fig_name, args.fixed)
    concl = conclusions(coef_rows, sde_rows, me_rows, cmap)
    write_markdown(coef_rows, sde_rows, me_rows, out / md_name, header, concl, fig_name)
    print("\n".join(concl))
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
