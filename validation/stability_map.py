"""Global stability: where does a classical attractor coexist with the fixed point?

    python validation/stability_map.py [--out DIR] [--quick]

At the paper's immune point (``eps = eta = Gamma``, ``beta = pi/8``, rwa damping) on a grid of
the effective detuning ``Dt/Gamma = (Delta + Delta_J)/Gamma`` against the coupling
``|G_r|/omega_m`` (the power, ``P`` proportional to ``|G_r|^2 / G0^2`` at fixed detuning), the
attractor search of :func:`simulator.find_attractors` gives, for every linearly stable point,

* the smallest stable limit cycle of the classical (noise-free) equations and its amplitude,
* the basin edge of the fixed point (smallest Mahalanobis radius, in the Lyapunov covariance,
  from which the flow does not return).

Both are computed in scaled units, ``(G0/Gamma)`` times standard deviations, in which the
classical flow does not depend on ``G0`` at fixed ``|G_r|`` and detuning: in standard deviations
every amplitude is the scaled one divided by ``G0/Gamma``, so the (G0/Gamma, Dt/Gamma) map is the
Dt map with the G0 axis exact. The figure also gives the cavity sweep ``G0 max|dq|`` of the cycle
(in ``omega_m``), the variable of the attractor diagram of Marquardt, Harris and Girvin,
PRL 96, 103901 (2006).

At the reference point (``Dt = 0.85 Gamma``, ``|G_r| = 0.6096 omega_m``) and a handful of
``G0/Gamma`` (:data:`ESCAPE_G0`) it runs SDE ensembles with escape counting
(:func:`simulator.simulate_sde`, ``SDEResult.escapes``): from the linearised steady state
(``initial="lyapunov"``: the stationary escape rate per ``1/omega_m`` with its 95 % interval,
or its upper bound when nothing escapes, and the lifetime) and from the default thermal start
(the fraction captured by the cycle, 95 % interval). Fixed seeds; the runs' sizes are
:data:`ESCAPE_RUNS`.

Writes ``stability_map.png``, ``STABILITY.md`` (table and conclusions computed from the numbers)
and ``rows.json`` into DIR (default ``validation/stability``); they hold no timings, so a
rerun leaves them unchanged. ``--from-rows`` redraws from ``rows.json``; ``--escapes-only``
reruns the SDE ensembles only, keeping the map's rows. Uses only the public API (and
:func:`simulator.config.apply_changes`).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from simulator import AttractorOptions, Params, SDEOptions, find_attractors, simulate_sde
from simulator.config import apply_changes

ROOT = Path(__file__).resolve().parent
#: A wider scan than the default (cycles of larger amplitude at larger detuning).
#: The basin search runs to the relaxation time however slow (no horizon cap, no step budget
#: in practice): the slowest points (|G_r| = 0.2 omega_m, Dt = 0.3 Gamma, relaxation time
#: ~420 / omega_m) take ~20 s each.
OPTIONS = AttractorOptions(max_amplitude=40.0, n_amplitudes=56, max_horizon=1e4,
                           max_steps=10**7)
#: G0/Gamma values at which the table converts scaled amplitudes to standard deviations.
G0_RATIOS = (1.2e-5, 0.01, 0.05, 0.1, 0.2)
#: Reference point of the escape runs: ``(Dt/Gamma, |G_r|/omega_m)``.
ESCAPE_POINT = (0.85, 0.6096)
#: G0/Gamma of the SDE escape runs: the basin edge from 90 standard deviations (0.05) down to
#: 6.4 (0.7, where the escape test's floor of 8 sets the radius).
ESCAPE_G0 = (0.05, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7)
#: ``initial -> (n_traj, t_avg in 1/omega_m, seed)``: the stationary runs are the issue's size
#: (1024 x 3000 / omega_m: a 95 % bound near 1e-6 per 1/omega_m when none escapes), the thermal
#: ones short (the captures happen in the burn-in). All 14 runs: 2 min wall on two busy cores.
ESCAPE_RUNS = {"lyapunov": (1024, 3000.0, 17), "thermal": (512, 200.0, 18)}


def point(dt_over_gamma: float, coupling: float, g0_over_gamma: float = 0.1) -> Params:
    """The immune point, rwa damping, at ``Dt/Gamma`` and ``|G_r| = coupling omega_m``."""
    base = Params.paper(damping="rwa")
    delta_j = base.Delta_J / base.Gamma
    return apply_changes(base, {"g0": f"{g0_over_gamma}Gamma",
                                "detuning": f"{dt_over_gamma - delta_j}Gamma",
                                "G": f"{coupling}omega_m"})


def stability_map(dts, couplings) -> list[dict]:
    """One row per ``(Dt/Gamma, |G_r|/omega_m)``: scaled amplitudes (G0-independent)."""
    rows = []
    for G in couplings:
        for dt in dts:
            p = point(dt, G)
            res = find_attractors(p, options=OPTIONS)
            g = res.coupling_ratio
            c, b = res.smallest_cycle, res.basin
            rows.append({
                "dt_over_gamma": float(dt), "coupling": float(G),
                "power_W_at_g0_0.1": p.power, "status": res.status,
                "stable_cycles": len(res.stable_cycles),
                "cycle_scaled": None if c is None else g * c.q_max,
                "cycle_period": None if c is None else c.period,
                "cycle_sweep_omega_m": None if c is None else
                float(p.G0 / p.omega_m * c.q_max * np.sqrt(_vqq(p))),
                "basin_scaled": None if b is None else g * b.radius,
            })
    return rows


def escape_run(g0_over_gamma: float, initial: str) -> dict:
    """One SDE ensemble at :data:`ESCAPE_POINT` and ``G0/Gamma`` from ``initial`` (sizes and
    seed from :data:`ESCAPE_RUNS`): its ``escapes`` record, without the escape times.

    Returns a dict: ``g0_over_gamma``, ``initial``, ``n_traj``, ``t_avg`` (``1/omega_m``),
    ``seed``, ``status``, ``diverged`` (trajectories dropped at the divergence bound, not
    escapes), ``radius`` (escape radius, Mahalanobis, standard deviations),
    ``count``, ``captured`` (escapes found at the end of the burn-in: ``count``, ``value``,
    ``low``, ``high``, 95 % Clopper-Pearson), ``fraction`` (all escapes, same keys),
    ``stationary`` (``count``, ``exposure`` in trajectory x ``1/omega_m``), ``rate`` (per
    ``1/omega_m``: ``value``, ``low``, ``high``, ``upper_bound``) and ``lifetime_s``
    (seconds: ``value``, ``low``, ``high``; ``None`` entries where unbounded).
    """
    n, t_avg, seed = ESCAPE_RUNS[initial]
    p = point(*ESCAPE_POINT, g0_over_gamma=g0_over_gamma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # metastable / statistics warnings: recorded in status
        res = simulate_sde(p, SDEOptions(n_traj=n, t_avg=t_avg, initial=initial), seed=seed,
                           n_jobs=2)
    e = res.escapes
    return {"g0_over_gamma": float(g0_over_gamma), "initial": initial, "n_traj": n,
            "t_avg": t_avg, "seed": seed, "status": res.status, "diverged": int(res.diverged),
            "radius": e["radius"],
            "count": e["count"],
            "captured": {"count": e["initial"]["count"], **e["initial"]["fraction"]},
            "fraction": dict(e["fraction"]), "stationary": dict(e["stationary"]),
            "rate": dict(e["rate"]), "lifetime_s": e["lifetime"]}


def escape_runs(g0s=ESCAPE_G0) -> list[dict]:
    """:func:`escape_run` from both starts at every ``G0/Gamma`` of ``g0s``."""
    return [escape_run(g, init) for g in g0s for init in ESCAPE_RUNS]


def _runs(escapes, initial: str) -> list[dict]:
    """The escape runs from ``initial``, by increasing ``G0/Gamma``."""
    return sorted((e for e in escapes if e["initial"] == initial),
                  key=lambda e: e["g0_over_gamma"])


def _rate_text(r: dict) -> str:
    if r["value"] is None:
        return "no exposure"
    if r["upper_bound"]:
        return f"< {r['high']:.2g}"
    return f"{r['value']:.2g} ({r['low']:.2g}..{r['high']:.2g})"


def _life_text(life: dict | None) -> str:
    if life is None or life["low"] is None:
        return "-"
    if life["value"] is None:
        return f"> {life['low']:.2g}"
    return f"{life['value']:.2g} ({life['low']:.2g}..{life['high']:.2g})"


def escape_lines(escapes: list[dict], ref: dict | None) -> list[str]:
    """The Markdown table of the escape runs (one line per ``G0/Gamma``, both starts)."""
    if not escapes:
        return []
    nl, tl, _ = ESCAPE_RUNS["lyapunov"]
    nt, tt, _ = ESCAPE_RUNS["thermal"]
    dt, G = ESCAPE_POINT
    lines = ["", f"## SDE escapes at Dt = {dt:g} Gamma, |G_r| = {G:g} omega_m", "",
             f"`simulate_sde` with escape counting: from the linearised steady state "
             f"(`initial=\"lyapunov\"`, {nl} trajectories x {tl:g} / omega_m after the burn-in) "
             "the "
             "stationary escapes, their rate per 1/omega_m (95 % Poisson interval; `<`: none "
             "escaped, the 95 % upper bound) and the lifetime 1/rate in seconds; from the "
             f"default thermal start ({nt} x {tt:g} / omega_m) the fraction captured by the cycle "
             "(beyond the first test's radius at the end of the burn-in; 95 % Clopper-Pearson). "
             "Radius: the escape test's, Mahalanobis standard deviations. (diverged): trajectories "
             "dropped at the engine's divergence bound (non-finite or beyond it; not counted as "
             "escapes).", "",
             "| G0/Gamma | basin edge, sigma | radius | stationary escapes / exposure | rate per "
             "1/omega_m | lifetime, s | status (diverged) | captured from thermal start "
             "(diverged) |",
             "|---|---|---|---|---|---|---|---|"]
    by = {(e["g0_over_gamma"], e["initial"]): e for e in escapes}
    for g in sorted({e["g0_over_gamma"] for e in escapes}):
        s, t = by.get((g, "lyapunov")), by.get((g, "thermal"))
        edge = ("-" if ref is None or ref.get("basin_scaled") is None
                else f"{ref['basin_scaled'] / g:.3g}")
        cells = [f"{g:g}", edge]
        if s is None:
            cells += ["-"] * 5
        else:
            st = s["stationary"]
            cells += [f"{s['radius']:.3g}", f"{st['count']} / {st['exposure']:.3g}",
                      _rate_text(s["rate"]), _life_text(s["lifetime_s"]),
                      f"{s['status']} ({s['diverged']})"]
        cells.append("-" if t is None else
                     f"{t['captured']['count']} of {t['n_traj']}: {t['captured']['value']:.3f} "
                     f"({t['captured']['low']:.3f}..{t['captured']['high']:.3f}) "
                     f"({t['diverged']})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def escape_conclusion(escapes: list[dict]) -> list[str]:
    """The conclusion on the escape runs, from their numbers."""
    stat = _runs(escapes, "lyapunov")
    if not stat:
        return ["* Escape rates from SDE ensembles were not run (`--from-rows` of an older "
                "`rows.json`)."]
    bounded = [e for e in stat if e["rate"]["upper_bound"]]
    measured = [e for e in stat if not e["rate"]["upper_bound"] and e["rate"]["value"]]
    out = []
    if bounded:
        out.append("* From the linearised steady state nothing escapes at G0/Gamma "
                   + ", ".join(f"{e['g0_over_gamma']:g}" for e in bounded)
                   + ": the stationary rate is below what these runs resolve, reported as the "
                   f"95 % upper bound {max(e['rate']['high'] for e in bounded):.2g} per "
                   f"1/omega_m (lifetime above {min(e['lifetime_s']['low'] for e in bounded):.2g}"
                   " s). The fixed point is metastable in principle (the cycle coexists) but no "
                   "escape is measurable in a run of this size.")
    if measured:
        out.append("* Metastable at strong coupling, measured: the stationary escape rate is "
                   + "; ".join(f"{_rate_text(e['rate'])} per 1/omega_m at G0/Gamma "
                               f"{e['g0_over_gamma']:g} (lifetime {_life_text(e['lifetime_s'])} s"
                               f", escape radius {e['radius']:.3g})" for e in measured)
                   + ". The rate rises steeply as the basin shrinks (its radius in standard "
                   "deviations falls as 1/G0): an activated escape, whose exponent grows "
                   "as 1/G0^2. The SDE statistics there are those of the fixed point's basin.")
    div = [e for e in stat if e["diverged"]]
    if div:
        out.append("* Some trajectories from the linearised steady state were dropped at the "
                   "divergence bound, not counted as escapes: "
                   + ", ".join(f"{e['diverged']} at {e['g0_over_gamma']:g}" for e in div) + ".")
    cap = _runs(escapes, "thermal")
    if cap:
        out.append("* From the default thermal start (mechanics at n_m = 415, ~20 sigma_q wide, "
                   "wider than the basin at large G0) the fraction captured by the cycle "
                   "at the end of the burn-in is "
                   + ", ".join(f"{e['captured']['value']:.3g} at {e['g0_over_gamma']:g}"
                               for e in cap)
                   + ": transients of the initial state, not a stationary rate "
                   "(`initial=\"lyapunov\"` removes them)."
                   + ("" if not any(e["diverged"] for e in cap) else
                      " Where trajectories diverge before the escape test starts (the end of "
                      "the burn-in: " + ", ".join(f"{e['diverged']} of {e['n_traj']} at "
                                                 f"{e['g0_over_gamma']:g}"
                                                 for e in cap if e["diverged"])
                      + ") the captured fraction is only a lower bound on the fraction that "
                      "left the basin."))
    out.append("* At the paper's point (G0/Gamma = 1.2e-5) the basin edge is ~3.7e5 standard "
               "deviations away and the cycle ~5.5e5: nothing measurable escapes (the escape "
               "test is not even armed there, the basin lying beyond the divergence bound)"
               + ("" if not measured else
                  f"; escapes are measured here only at a radius up to "
                  f"{max(e['radius'] for e in measured):.3g}, and an activated rate over a barrier "
                  "at ~4e5 standard deviations is zero for every purpose") + ".")
    return out


def _vqq(p: Params) -> float:
    from simulator import lyapunov

    return float(lyapunov(p).covariance[4, 4])


def _grid(rows, key, dts, couplings):
    Z = np.full((len(couplings), len(dts)), np.nan)
    for r in rows:
        i, j = couplings.index(r["coupling"]), dts.index(r["dt_over_gamma"])
        if r[key] is not None:
            Z[i, j] = r[key]
    return Z


def plot_escapes(ax, escapes) -> None:
    """Stationary escape rate (per 1/omega_m: points with 95 % intervals, upper bounds as
    downward triangles) and, on a second axis, the fraction captured from the thermal start."""
    stat = _runs(escapes, "lyapunov")
    meas = [e for e in stat if not e["rate"]["upper_bound"] and e["rate"]["value"]]
    if meas:
        g = [e["g0_over_gamma"] for e in meas]
        v = np.array([e["rate"]["value"] for e in meas])
        lo = np.array([e["rate"]["low"] for e in meas])
        hi = np.array([e["rate"]["high"] for e in meas])
        ax.errorbar(g, v, yerr=[v - lo, hi - v], fmt="o", color="C0",
                    label="stationary escape rate (lyapunov start)")
    ub = [e for e in stat if e["rate"]["upper_bound"]]
    if ub:
        ax.plot([e["g0_over_gamma"] for e in ub], [e["rate"]["high"] for e in ub], "v",
                color="C0", mfc="none", label="95 % upper bound (none escaped)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = []
    for t in sorted({e["g0_over_gamma"] for e in escapes}):  # labels that do not overlap
        ticks += [t] if not ticks or t >= 1.3 * ticks[-1] else []
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], minor=False)
    ax.set_xticks([], minor=True)
    ax.set_xlabel("G0 / Gamma")
    ax.set_ylabel("escape rate (per 1/omega_m)")
    ax.set_title(f"SDE escapes at Dt = {ESCAPE_POINT[0]:g} Gamma, "
                 f"|G_r| = {ESCAPE_POINT[1]:g} omega_m",
                 fontsize=9)
    cap = _runs(escapes, "thermal")
    if cap:
        ax2 = ax.twinx()
        g = [e["g0_over_gamma"] for e in cap]
        c = np.array([e["captured"]["value"] for e in cap])
        lo = np.array([e["captured"]["low"] for e in cap])
        hi = np.array([e["captured"]["high"] for e in cap])
        ax2.errorbar(g, c, yerr=[c - lo, hi - c], fmt="s-", color="C3", ms=4,
                     label="captured from thermal start")
        ax2.plot(g, [e["diverged"] / e["n_traj"] for e in cap], "x--", color="C1",
                 label="diverged from thermal start")
        ax2.set_ylabel("fraction of trajectories, thermal start (95 %)", color="C3")
        ax2.set_ylim(0, 1)
        ax2.legend(fontsize=8, loc="center left")
    if stat:
        ax.legend(fontsize=8, loc="upper left")


def plot(rows, dts, couplings, path: Path, escapes=()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))
    for ax, key, title in ((axes[0], "cycle_scaled", "smallest stable cycle: (G0/Gamma) max|dq|/sigma_q"),
                           (axes[1], "basin_scaled", "basin edge: (G0/Gamma) x Mahalanobis radius")):
        Z = _grid(rows, key, dts, couplings)
        m = ax.pcolormesh(dts, couplings, Z, shading="nearest", cmap="viridis")
        unstable = _grid([{**r, "u": 1.0 if r["status"] == "unstable" else None} for r in rows],
                         "u", dts, couplings)
        ax.pcolormesh(dts, couplings, unstable, shading="nearest", cmap="Greys", vmin=0, vmax=2)
        fig.colorbar(m, ax=ax)
        ax.set_xlabel("Dt / Gamma")
        ax.set_ylabel("|G_r| / omega_m")
        ax.set_title(title + "\n(white: none found / not searched)", fontsize=9)
    ax = axes[2]
    g = np.geomspace(1e-5, 0.5, 50)
    ref = [r for r in rows if r["coupling"] == 0.6096 and abs(r["dt_over_gamma"] - 0.85) < 1e-9]
    if ref and ref[0]["cycle_scaled"] is not None:
        ax.loglog(g, ref[0]["cycle_scaled"] / g, label="smallest stable cycle")
        ax.loglog(g, ref[0]["basin_scaled"] / g, "--", label="basin edge (Mahalanobis)")
    ax.loglog([0.05, 0.1, 0.2], [133, 66.6, 33.4], "o", label="issue 17 (measured)")
    ax.set_xlabel("G0 / Gamma")
    ax.set_ylabel("standard deviations")
    ax.set_title("Dt = 0.85 Gamma, |G_r| = 0.6096 omega_m", fontsize=9)
    ax.legend(fontsize=8)
    plot_escapes(axes[3], escapes)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def conclusions(stable_pts, with_cycle, escapes) -> list[str]:
    """The conclusions (Markdown bullets) from the stable points, those with a cycle and
    the escape runs."""
    if not with_cycle:
        return ["", "## Conclusions", "", *escape_conclusion(list(escapes))]
    sweeps = [r["cycle_sweep_omega_m"] for r in with_cycle]
    return ["", "## Conclusions", "",
            f"* A stable limit cycle coexists with the linearly stable fixed point at "
            f"{len(with_cycle)} of {len(stable_pts)} stable grid points; the linearised "
            "steady state there is metastable.",
            f"* Its cavity sweep `G0 max|dq|` spans {min(sweeps):.2f}-{max(sweeps):.2f} "
            "omega_m, several times the detuning: the mechanics swings the cavity through "
            "resonance to the blue side, where it gains the energy that the red-detuned "
            "fixed point's optical damping takes away. Qualitatively this is the "
            "dynamical multistability of Marquardt, Harris and Girvin (PRL 96, 103901 "
            "(2006)): a ladder of coexisting stable cycles of growing amplitude, "
            "alternating with unstable ones (one must separate the fixed point from the "
            "smallest stable cycle along the amplitude), "
            "set by the cycle-averaged power balance; a quantitative overlay of their "
            "attractor diagram (other parameters and units) is not made here.",
            *([f"* No stable cycle up to scaled amplitude {OPTIONS.max_amplitude:g} at "
               + ", ".join(f"(Dt/Gamma {r['dt_over_gamma']:g}, |G_r| {r['coupling']:g})"
                           for r in stable_pts if r["cycle_scaled"] is None)
               + ": near the red sideband (Dt ~ omega_m = 1.67 Gamma) the optical damping "
               "is strongest and the amplitude decays at every amplitude scanned."]
              if len(with_cycle) < len(stable_pts) else []),
            "* The G0 axis is exact: at the paper's G0/Gamma = 1.2e-5 the same scaled "
            "numbers put the cycle about half a million standard deviations away; at "
            "G0/Gamma ~ 0.1 it is tens of standard deviations away and the SDE's thermal "
            "start already reaches it.",
            *escape_conclusion(list(escapes))]


def write_markdown(rows, dts, couplings, path: Path, escapes=()) -> None:
    """``STABILITY.md`` from the map's ``rows`` and the escape runs' ``escapes``."""
    stable_pts = [r for r in rows if r["status"] == "ok"]
    with_cycle = [r for r in stable_pts if r["cycle_scaled"] is not None]
    ref = [r for r in rows if r["coupling"] == 0.6096 and abs(r["dt_over_gamma"] - 0.85) < 1e-9]
    lines = ["# Global stability of the classical equations", "",
             "Generated by `python validation/stability_map.py`; immune point, rwa damping. "
             "Amplitudes are scaled, `(G0/Gamma)` x standard deviations of the Lyapunov "
             "covariance: divide by `G0/Gamma` for standard deviations (the flow is the same "
             "at every G0 at fixed `|G_r|` and detuning). `-` no stable cycle found with scaled "
             f"amplitude up to {OPTIONS.max_amplitude:g}; `unstable`: the fixed point itself is linearly unstable.", "",
             f"{len(rows)} points, {len(stable_pts)} linearly stable, a coexisting stable cycle at "
             f"{len(with_cycle)} of them.", ""]
    lines += ["## Smallest stable cycle / basin edge (scaled)", "",
              "| |G_r|/omega_m \\ Dt/Gamma | " + " | ".join(f"{d:g}" for d in dts) + " |",
              "|---" * (len(dts) + 1) + "|"]
    for G in couplings:
        cells = []
        for d in dts:
            r = next(x for x in rows if x["coupling"] == G and x["dt_over_gamma"] == d)
            if r["status"] != "ok":
                cells.append("unstable")
            elif r["cycle_scaled"] is None:
                cells.append("-")
            else:
                cells.append(f"{r['cycle_scaled']:.2f} / {r['basin_scaled']:.2f}")
        lines.append(f"| {G:g} | " + " | ".join(cells) + " |")
    if ref and ref[0]["cycle_scaled"] is not None:
        r = ref[0]
        lines += ["", "## In standard deviations at Dt = 0.85 Gamma, |G_r| = 0.6096 omega_m", "",
                  "| G0/Gamma | smallest stable cycle, max|dq| / sigma_q | basin edge, sigma |",
                  "|---|---|---|"]
        for g in G0_RATIOS:
            lines.append(f"| {g:g} | {r['cycle_scaled'] / g:.4g} | {r['basin_scaled'] / g:.4g} |")
        lines += ["", f"The cycle's cavity sweep `G0 max|dq|` is {r['cycle_sweep_omega_m']:.2f} "
                  f"omega_m, period {r['cycle_period']:.4f} / omega_m."]
    lines += escape_lines(list(escapes), ref[0] if ref else None)
    lines += conclusions(stable_pts, with_cycle, escapes)
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "stability")
    ap.add_argument("--quick", action="store_true", help="a 3 x 2 grid")
    ap.add_argument("--from-rows", action="store_true",
                    help="redraw the figure and the Markdown from DIR/rows.json (no search)")
    ap.add_argument("--escapes-only", action="store_true",
                    help="rerun the SDE escape ensembles only, the map's rows from DIR/rows.json")
    args = ap.parse_args()
    if args.quick:
        dts, couplings = [0.5, 0.85, 1.5], [0.4, 0.6096]
    else:
        dts = [0.3, 0.5, 0.7, 0.85, 1.0, 1.25, 1.5, 2.0]
        couplings = [0.2, 0.4, 0.6096, 0.8]
    args.out.mkdir(parents=True, exist_ok=True)
    saved = (json.loads((args.out / "rows.json").read_text())
             if args.from_rows or args.escapes_only else None)
    if saved is not None:
        rows = [{k: v for k, v in r.items() if k != "cpu_s"} for r in saved["rows"]]
        dts = sorted({r["dt_over_gamma"] for r in rows})
        couplings = sorted({r["coupling"] for r in rows})
    else:
        rows = stability_map(dts, couplings)
    if args.from_rows:
        escapes = saved.get("escapes", [])
    else:
        escapes = escape_runs(ESCAPE_G0[1:3] if args.quick else ESCAPE_G0)
        (args.out / "rows.json").write_text(json.dumps({"rows": rows, "escapes": escapes},
                                                       indent=1) + "\n")
    plot(rows, dts, couplings, args.out / "stability_map.png", escapes)
    write_markdown(rows, dts, couplings, args.out / "STABILITY.md", escapes)
    print((args.out / "STABILITY.md").read_text())


if __name__ == "__main__":
    main()
