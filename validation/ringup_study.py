"""Ring-up study: the laser switched on into an empty cavity with thermal mechanics.

    python validation/ringup_study.py [--out DIR] [--n-traj N] [--seed S]

Three cases at the paper's parameters (Sec. III) and one multistable case:

* ``abrupt``: the immune point (eps = eta = Gamma, beta = pi/8, Dt = 0.85 Gamma), drive switched
  on at t = 0;
* ``ramp``: the same with the drive ramped linearly over 100 / omega_m;
* ``multistable``: no scatterers, P = 300 mW, laser at Delta_a = 2.5 omega_m where the mean-field
  equation has three fixed points: which one does the ring-up reach?

For each: mean fields, photon number, phonon number and E_N(CW-mech) against time from an SDE
ensemble of the nonlinear equations (with 2-sigma bands from the spread across chunks), against
the time-dependent covariance equation along the mean-field trajectory; the time to reach the
stationary state. Writes ``ringup_<case>.png`` and ``RINGUP.md`` into DIR
(default ``validation/ringup``). Uses only the public API.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from simulator import (  # noqa: E402
    Params,
    RingupOptions,
    fixed_points,
    log_negativity,
    lyapunov,
    simulate_ringup,
)


def stationary_time(t, series, target, tol):
    """First time after which ``|series - target| <= tol`` for good (NaN if never)."""
    bad = np.flatnonzero(np.abs(np.asarray(series) - target) > tol)
    if len(bad) == 0:
        return float(t[0])
    return float(t[bad[-1] + 1]) if bad[-1] + 1 < len(t) else float("nan")


def run_case(name, params, ramp, n_traj, seed, t_final):
    opts = RingupOptions(n_traj=n_traj, chunk_size=max(16, n_traj // 32), t_final=t_final,
                         output_every=2.0, ramp_time=ramp)
    t0 = time.perf_counter()
    res = simulate_ringup(params, opts, seed=seed)
    wall = time.perf_counter() - t0
    lin = lyapunov(params)
    q_s = float(lin.mean_field.q)
    n_s = float(lin.mean_field.photon_number["r"])
    en_lin = log_negativity(res.linear_covariance)["r_m"]
    en_s = lin.log_negativity["r_m"]
    t = res.t
    times = {
        "q within 1%": stationary_time(t, res.mean_field[:, 4], q_s, 0.01 * q_s),
        "photons within 1%": stationary_time(
            t, 0.5 * (res.mean_field[:, 0] ** 2 + res.mean_field[:, 1] ** 2), n_s, 0.01 * n_s),
        "E_N (linearised) within 0.005": stationary_time(t, en_lin, en_s, 0.005),
    }
    late = t > 0.8 * t[-1]
    record = {
        "case": name, "wall_seconds": wall, "n_traj": n_traj, "seed": seed, "ramp": ramp,
        "t_final": t_final, "times": times, "q_s": q_s, "photons_s": n_s, "E_N_s": en_s,
        "late_mean_q": float(res.mean[late, 4].mean()),
        "late_E_N_ensemble": float(np.nanmean(res.log_negativity["r_m"][late])),
        "late_phonons_ensemble": float(res.phonon_number[late].mean()),
        "phonons_s": float(lin.observables["phonon_number"]),
        "max_abs_z": float(res.max_abs_z), "diverged": int(res.diverged),
        "relaxation_time": 1.0 / lin.slowest_rate,
    }
    return res, record


def plot_case(res, record, path):
    t = res.t
    fig, ax = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    n_chunks = res.options.n_chunks
    q_se = res.mean_stderr[:, 4]
    ax[0, 0].fill_between(t, res.mean[:, 4] - 2 * q_se, res.mean[:, 4] + 2 * q_se, alpha=0.3,
                          label="ensemble <q> (2 sigma)")
    ax[0, 0].plot(t, res.mean_field[:, 4], "k-", lw=1, label="mean field")
    ax[0, 0].axhline(record["q_s"], color="grey", ls=":", label="fixed point q_s")
    ax[0, 0].set_ylabel("mechanical displacement q")
    ph = res.photon_number
    ax[0, 1].plot(t, ph["r"], "C0-", label="CW, ensemble")
    ax[0, 1].plot(t, 0.5 * (res.mean_field[:, 0] ** 2 + res.mean_field[:, 1] ** 2), "k--", lw=1,
                  label="CW, mean field")
    ax[0, 1].plot(t, ph["l"], "C1-", label="CCW, ensemble")
    ax[0, 1].set_ylabel("photon number")
    lin = res.linear_covariance
    ph_lin = 0.5 * (lin[:, 4, 4] + lin[:, 5, 5]) - 0.5
    se = 0.5 * np.hypot(res.covariance_stderr[:, 4, 4], res.covariance_stderr[:, 5, 5])
    ax[1, 0].fill_between(t, res.phonon_number - 2 * se, res.phonon_number + 2 * se, alpha=0.3,
                          label="ensemble (2 sigma)")
    ax[1, 0].plot(t, ph_lin, "k-", lw=1, label="linearised dV/dt = AV + VA^T + D")
    ax[1, 0].set_yscale("log")
    ax[1, 0].set_ylabel("phonons in the fluctuations")
    ax[1, 1].plot(t, res.log_negativity["r_m"], "C0.", ms=3, label="ensemble")
    ax[1, 1].plot(t, log_negativity(lin)["r_m"], "k-", lw=1, label="linearised")
    ax[1, 1].axhline(record["E_N_s"], color="grey", ls=":", label="Lyapunov steady state")
    ax[1, 1].set_ylabel("E_N (CW-mechanics)")
    for a in ax.ravel():
        a.legend(fontsize=8)
        for key, tt in record["times"].items():
            if np.isfinite(tt) and key.startswith("E_N"):
                a.axvline(tt, color="C3", lw=0.6, ls="--")
    for a in ax[1]:
        a.set_xlabel("time (1/omega_m)")
    fig.suptitle(f"ring-up, {record['case']}: {res.options.n_traj} trajectories in {n_chunks} "
                 f"chunks, ramp {record['ramp']:g}/omega_m; red dashed: linearised E_N settled")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version: same bytes
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).with_name("ringup")))
    ap.add_argument("--n-traj", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    paper = Params.paper()
    multi = Params.paper(defects=(), eta=0.0, power=0.3)
    fp = fixed_points(multi, 2.5)
    stable = [i for i, s in enumerate(fp.stable) if s]
    target = fp.points[stable[0]]
    multi = multi.replace(detuning=float(target.effective_detuning) * multi.omega_m)
    cases = [("abrupt", paper, 0.0, 300.0), ("ramp", paper, 100.0, 400.0),
             ("multistable", multi, 0.0, 600.0)]
    lines = ["# Ring-up study", "",
             f"Generated by `python validation/ringup_study.py` ({args.n_traj} trajectories, seed "
             f"{args.seed}). Empty cavity (optical vacuum) and thermal mechanics (n_m = "
             f"{paper.n_m:.1f}) at t = 0; the drive is switched on (or ramped). Ensemble of the "
             "nonlinear truncated-Wigner equations against the linearised covariance equation "
             "along the mean-field trajectory. Times in 1/omega_m. (Wall times are printed, "
             "not written here, so that a rerun leaves the checkout unchanged.)", ""]
    for name, params, ramp, t_final in cases:
        res, rec = run_case(name, params, ramp, args.n_traj, args.seed, t_final)
        plot_case(res, rec, out / f"ringup_{name}.png")
        lines += [f"## {name}", "", f"![{name}](ringup_{name}.png)", ""]
        lines += [f"- slowest relaxation time of the linearised dynamics 1/rate = "
                  f"{rec['relaxation_time']:.1f}"]
        for key, tt in rec["times"].items():
            lines.append(f"- time for {key} of the stationary value: {tt:.0f}")
        lines += [
            f"- late-time ensemble: <q> = {rec['late_mean_q']:.1f} (fixed point {rec['q_s']:.1f}), "
            f"phonons {rec['late_phonons_ensemble']:.3f} (Lyapunov {rec['phonons_s']:.3f}), "
            f"E_N {rec['late_E_N_ensemble']:.4f} (Lyapunov {rec['E_N_s']:.4f})",
            f"- covariance against the linearised transient: max |z| = {rec['max_abs_z']:.2f} over "
            f"{len(res.t) * 21} (time, element) pairs; diverged trajectories: {rec['diverged']}",
            ""]
        if name == "multistable":
            qs = [float(p.q) for p in fp.points]
            reached = int(np.argmin([abs(rec["late_mean_q"] - q) for q in qs]))
            lines += ["- fixed points at Delta_a = 2.5 omega_m: q = "
                      + ", ".join(f"{q:.0f} ({'stable' if s else 'unstable'})"
                                  for q, s in zip(qs, fp.stable))
                      + f"; the ring-up reaches q = {qs[reached]:.0f} (fixed point {reached}, "
                      f"{'stable' if fp.stable[reached] else 'unstable'}).", ""]
        print(f"{name}: done in {rec['wall_seconds']:.1f} s")
    (out / "RINGUP.md").write_text("\n".join(lines))
    print(f"wrote {out / 'RINGUP.md'}")


if __name__ == "__main__":
    main()
