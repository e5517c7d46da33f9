"""Benchmarks of control variates and ``dt="auto"`` (issue 12).

    python benchmarks/bench_control.py [--quick] [--json FILE]

1. **dE_N, plain vs control variates**, at ``G0/Gamma = 0.05`` and ``0.1`` (the paper's immune
   point with ``|G_r| = 0.61 omega_m`` fixed, mass and power scaled as in
   ``validation/linearisation_study.py``; initial state the linearised stationary state). One
   plain run and one control-variate run of the same size are timed; the plain estimate of the
   shift is ``E_N(V) - E_N(V_Lyapunov)`` with the error of ``E_N(V)`` (``V_Lyapunov`` is exact),
   the control-variate one is ``shift["log_negativity"]``. The time to a relative standard
   error of 1 % (and 0.1 %) on ``dE_N(r_m)`` is **extrapolated** from the measured run with
   ``stderr ~ 1/sqrt(work)``, i.e. ``t_target = t_run (rel_err / target)^2``, both relative to
   the control-variate value of ``dE_N`` (the plain run cannot resolve it). The ratio of these
   times is the compute saving.
   Both runs use ``dt = 0.1``, whose O(dt) step bias of the shift (~10 % at 0.1) is common to
   both estimators; a third run sizes the step on the shift (``dt="auto"``, rtol 1 %) and gives
   the time to a 1 % error at 1 % step accuracy.
2. **Covariance at the paper's point, dt="auto" vs dt=0.1**: time to a 1 % covariance (largest
   standard error over largest element), extrapolated the same way from a measured run of each;
   the auto run's time includes its pilot step-size search, and its step-halving change is
   printed as the accuracy check.

Timings depend on the load of the machine (2 shared cores here); ``n_jobs = 1`` throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from simulator import Params  # noqa: E402
from simulator.sde import SDEOptions, simulate_sde  # noqa: E402


def coupling_params(g0_over_gamma: float) -> Params:
    """The paper's immune point with G0/Gamma set at fixed |G_r| (mass and power scaled)."""
    base = Params.paper()
    ratio = g0_over_gamma * base.Gamma / base.G0
    return base.replace(mass=base.mass / ratio**2, power=base.power / ratio**2)


def timed(params, opts, seed):
    t = time.perf_counter()
    res = simulate_sde(params, opts, seed=seed)
    return res, time.perf_counter() - t


def dEN_comparison(g: float, *, n_traj: int, t_avg: float, seed: int = 11) -> dict:
    p = coupling_params(g)
    opts = SDEOptions(n_traj=n_traj, chunk_size=max(8, n_traj // 16), t_avg=t_avg,
                      initial="lyapunov")
    cv, t_cv = timed(p, opts.replace(control_variate=True), seed)
    plain, t_plain = timed(p, opts, seed + 1)
    en_L = plain.lyapunov["log_negativity"]["r_m"]
    d_cv = cv.shift["log_negativity"]["r_m"]
    se_cv = cv.shift["log_negativity_stderr"]["r_m"]
    d_plain = plain.log_negativity["r_m"] - en_L
    se_plain = plain.log_negativity_stderr["r_m"]
    ref = abs(d_cv)
    out = {"g0_over_gamma": g, "n_traj": n_traj, "t_avg": cv.schedule["t_avg"],
           "t_burn": cv.schedule["t_burn"], "dt": cv.schedule["dt"], "E_N_lyapunov": en_L,
           "dE_N_control": d_cv, "dE_N_control_stderr": se_cv, "seconds_control": t_cv,
           "dE_N_plain": d_plain, "dE_N_plain_stderr": se_plain, "seconds_plain": t_plain,
           "dV_qq_control": float(cv.shift["covariance"][4, 4]),
           "dV_qq_control_stderr": float(cv.shift["covariance_stderr"][4, 4]),
           "status": [cv.status, plain.status]}
    for target in (1e-2, 1e-3):
        tc = t_cv * (se_cv / ref / target) ** 2
        tp = t_plain * (se_plain / ref / target) ** 2
        out[f"seconds_to_{target:g}_control"] = tc
        out[f"seconds_to_{target:g}_plain"] = tp
        out[f"speedup_{target:g}"] = tp / tc
    out["shift_resolved_sigmas"] = ref / se_cv
    return out


def shift_at_auto_dt(g: float, *, n_traj: int, t_avg: float, seed: int = 31) -> dict:
    """Control variates with ``dt="auto"`` sized on the shift (rtol 1 %): the step a 1 %
    *accuracy* (not only precision) of dE_N needs, and the time to 1 % at that step."""
    p = coupling_params(g)
    opts = SDEOptions(n_traj=n_traj, chunk_size=max(8, n_traj // 16), t_avg=t_avg,
                      initial="lyapunov", control_variate=True, dt="auto", rtol=0.01)
    res, t = timed(p, opts, seed)
    d, se = res.shift["log_negativity"]["r_m"], res.shift["log_negativity_stderr"]["r_m"]
    a = res.schedule["auto_dt"]
    return {"g0_over_gamma": g, "dt": a["dt"], "step_halving_change": a["step_halving_change"],
            "dE_N": d, "dE_N_stderr": se, "seconds": t,
            "seconds_to_1pct": t * (se / abs(d) / 0.01) ** 2}


def dt_comparison(*, n_traj: int, t_avg: float, seed: int = 21) -> dict:
    p = Params.paper()
    out: dict = {"n_traj": n_traj, "t_avg": t_avg}
    for name, dt in (("dt_0.1", 0.1), ("dt_auto", "auto")):
        opts = SDEOptions(n_traj=n_traj, chunk_size=max(8, n_traj // 16), t_avg=t_avg, dt=dt)
        res, t = timed(p, opts, seed)
        rel = float(np.abs(res.covariance_stderr).max() / np.abs(res.covariance).max())
        row = {"dt": res.schedule["dt"], "seconds": t, "rel_stderr": rel,
               "seconds_to_1pct": t * (rel / 0.01) ** 2,
               "max_abs_z_vs_lyapunov": res.lyapunov["max_abs_z"], "status": res.status}
        if "auto_dt" in res.schedule:
            a = res.schedule["auto_dt"]
            row.update(step_halving_change=a["step_halving_change"], rtol=a["rtol"],
                       cap=a["cap"])
        out[name] = row
    out["speedup"] = out["dt_0.1"]["seconds_to_1pct"] / out["dt_auto"]["seconds_to_1pct"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small runs (a minute)")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    q = args.quick
    report = {"load_average_start": os.getloadavg(), "dE_N": [], "dt": None}
    for g in (0.05, 0.1):
        report["dE_N"].append(dEN_comparison(g, n_traj=64 if q else 256,
                                             t_avg=300.0 if q else 1500.0))
    report["shift_auto_dt"] = shift_at_auto_dt(0.05, n_traj=32 if q else 128,
                                               t_avg=300.0 if q else 600.0)
    report["dt"] = dt_comparison(n_traj=64 if q else 256, t_avg=300.0 if q else 1500.0)
    report["load_average_end"] = os.getloadavg()
    print("dE_N(r_m): time to a relative standard error, extrapolated as stderr ~ 1/sqrt(work)")
    print(f"{'G0/Gamma':>9} {'dE_N (control)':>22} {'plain':>22} {'t_run c/p [s]':>14} "
          f"{'to 1%: control':>15} {'plain':>10} {'x':>7} {'to 0.1%: x':>11}")
    for r in report["dE_N"]:
        print(f"{r['g0_over_gamma']:>9g} {r['dE_N_control']:>+12.3e}+-{r['dE_N_control_stderr']:<8.1e} "
              f"{r['dE_N_plain']:>+12.3e}+-{r['dE_N_plain_stderr']:<8.1e} "
              f"{r['seconds_control']:>6.1f}/{r['seconds_plain']:<6.1f} "
              f"{r['seconds_to_0.01_control']:>14.3g}s {r['seconds_to_0.01_plain']:>9.3g}s "
              f"{r['speedup_0.01']:>7.1f} {r['speedup_0.001']:>11.1f}")
    a = report["shift_auto_dt"]
    print(f"control variates at G0/Gamma = {a['g0_over_gamma']:g} with dt=auto sized on the shift "
          f"(rtol 1 %): dt {a['dt']:.3g} (step-halving change {a['step_halving_change']:.1e}), "
          f"dE_N {a['dE_N']:+.4e} +- {a['dE_N_stderr']:.1e} in {a['seconds']:.1f} s -> "
          f"{a['seconds_to_1pct']:.3g} s to 1 % (statistical) at 1 % step accuracy")
    d = report["dt"]
    print("covariance at the paper's point: time to 1 % (largest stderr / largest element)")
    for k in ("dt_0.1", "dt_auto"):
        r = d[k]
        extra = (f", step-halving change {r['step_halving_change']:.1e} <= rtol {r['rtol']:g}"
                 if "step_halving_change" in r else "")
        print(f"  {k:8} dt {r['dt']:.4g}: run {r['seconds']:.1f} s at {100 * r['rel_stderr']:.2f} %"
              f" -> {r['seconds_to_1pct']:.3g} s to 1 %; max|z| vs Lyapunov "
              f"{r['max_abs_z_vs_lyapunov']:.2f}{extra}")
    print(f"  speed-up dt=auto over dt=0.1: {d['speedup']:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
