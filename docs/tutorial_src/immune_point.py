"""
The immune point, engine by engine
==================================

The paper's central claim is that a nanoparticle placed at the right angle makes the
optomechanical entanglement immune to a defect's backscattering: with a defect and a
nanoparticle of equal strength (``eps = eta = Gamma``) at the angle ``beta = pi/8``, the
entanglement between the clockwise (CW) optical mode and the mechanics is that of a resonator
without any scatterer, once the detuning is shifted by the scatterers' common frequency shift.

This tutorial checks that claim with every engine of wgmsim, in the order a careful user would:

1. the **linearised** steady state (Lyapunov equation), which is what the paper computes;
2. an **SDE ensemble** of the *nonlinear* truncated-Wigner Langevin equations, with error bars;
3. the **master equation** in a truncated Fock space, with the nonlinear radiation-pressure term;
4. the **validation** that compares all of them element by element, as ``wgmsim validate`` does.

The page is this script's output: run it yourself with ``python docs/tutorial_src/immune_point.py``
(about half a minute on two cores). Units: :class:`~simulator.Params` takes SI values; engines
report rates in units of the mechanical frequency ``omega_m`` and times in ``1/omega_m``.
Covariances are ``(6, 6)`` in the order ``(X_r, Y_r, X_l, Y_l, q, p)`` with vacuum variance 1/2
(see :doc:`/conventions`).
"""

# %%
# The parameter point
# -------------------
# :meth:`Params.paper() <simulator.Params.paper>` returns the paper's Sec. III values at the
# immune point and its optimal detuning: the effective detuning ``Delta = -1.15 Gamma``, so that
# the cavity resonance sits at ``Dt = Delta + Delta_J = 0.85 Gamma``.

import matplotlib.pyplot as plt
import numpy as np

from simulator import (
    MasterOptions,
    Params,
    SDEOptions,
    lyapunov,
    simulate_sde,
    solve_master,
    sweep,
)
from simulator.validate import ValidateOptions, validate

p = Params.paper()
print(f"omega_m = {p.omega_m:.3g} s^-1, Gamma = {p.Gamma / p.omega_m:.2f} omega_m, "
      f"G0 = {p.G0:.2f} s^-1, thermal phonons n_m = {p.n_m:.1f}")
print(f"defects (eps, angle) = {p.defects}, eta = {p.eta:.3g} s^-1, beta = {p.beta:.4f} rad")
print(f"J1/Gamma = {p.J1 / p.Gamma:.3f}, J2/Gamma = {p.J2 / p.Gamma:.3f}, "
      f"Delta_J/Gamma = {p.Delta_J / p.Gamma:.3f}")
print(f"effective detuning Delta/Gamma = {p.detuning / p.Gamma:.3f}, "
      f"resonance Dt/Gamma = {(p.detuning + p.Delta_J) / p.Gamma:.3f}")

# %%
# At ``beta = pi/8`` and ``m = 4`` the phase is ``exp(-2i m beta) = -1``, so the backscattering
# amplitudes ``J1 = eps + eta exp(-2i m beta)`` and ``J2 = eps + eta exp(+2i m beta)`` both
# vanish for ``eps = eta``: the two scatterers' reflections cancel, no light is scattered into
# the CCW mode, and all that is left is the common frequency shift ``Delta_J = 2 Gamma``, which
# the detuning absorbs. That is the immunity.
#
# 1. The linearised steady state
# ------------------------------
# :func:`~simulator.lyapunov` solves the mean field (paper Eq. 10), builds the drift matrix ``A``
# from the Langevin equations (Eq. 3) and solves ``A V + V A^T = -D`` when every eigenvalue of
# ``A`` has a negative real part.

lin = lyapunov(p)
print(f"stable: {lin.stable}; slowest relaxation rate {lin.slowest_rate:.4f} omega_m")
print("eigenvalues of A / omega_m:", np.array2string(lin.eigenvalues, precision=3))
print("E_N:", {k: round(v, 4) for k, v in lin.log_negativity.items()})
print("steering:", {k: round(v, 4) for k, v in lin.observables["steering"].items()})
print(f"CW photons {lin.mean_field.photon_number['r']:.3e}, "
      f"phonons in the fluctuations {lin.observables['phonon_number']:.3f}")

# %%
# The slowest rate sets the time scales of everything that follows: the stochastic runs
# below discard a burn-in of ``8 / slowest_rate`` and cut the averaging window into batches
# of ``20 / slowest_rate``.
#
# Immunity in one figure. :func:`~simulator.sweep` evaluates whole grids of parameter points in
# one vectorised call. Left: E_N between the CW mode and the mechanics against the resonance
# detuning ``Dt`` for the ideal resonator, the defect alone, and defect plus nanoparticle at
# ``beta = pi/8``; the immune curve lies on the ideal one. Right: the same at fixed
# ``Dt = 0.85 Gamma`` against the nanoparticle's angle: immunity recurs at
# ``beta = pi/8 + n pi/4``. Away from it the backscattering splits the CW and CCW modes into
# supermodes shifted by ``+-|J1|``, and the lower one can end up driven on its blue side; where
# that makes the linearised system unstable the curve has a gap (:func:`~simulator.sweep`
# returns NaN there).

configs = {
    "no scatterers": p.replace(defects=(), eta=0.0),
    "defect only": p.replace(eta=0.0),
    "defect + nanoparticle (immune)": p,
}
dt_over_gamma = np.linspace(0.05, 3.0, 300)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for label, q in configs.items():
    grid = sweep(q, detuning=dt_over_gamma * q.Gamma - q.Delta_J)
    ax1.plot(dt_over_gamma, grid.log_negativity["r_m"], label=label)
ax1.axvline(0.85, color="0.6", ls=":", lw=1)
ax1.set_xlabel(r"resonance detuning $\tilde\Delta/\Gamma$")
ax1.set_ylabel(r"$E_N$ (CW mode - mechanics)")
ax1.legend(fontsize=8)
betas = np.linspace(0.0, np.pi / 2, 181)
scan = sweep(p, beta=betas)
ax2.plot(betas / np.pi, scan.log_negativity["r_m"], label="CW - mechanics")
ax2.plot(betas / np.pi, scan.log_negativity["l_m"], label="CCW - mechanics")
for n in range(2):
    ax2.axvline(1 / 8 + n / 4, color="0.6", ls=":", lw=1)
ax2.set_xlabel(r"nanoparticle angle $\beta/\pi$")
ax2.set_ylabel(r"$E_N$ at $\tilde\Delta = 0.85\,\Gamma$")
ax2.legend(fontsize=8)
fig.suptitle(r"linearised steady state, $\epsilon = \eta = \Gamma$, P = 30 mW, T = 200 mK")
plt.show()

# %%
# 2. An SDE ensemble of the nonlinear equations
# ---------------------------------------------
# The linearised picture drops the radiation-pressure nonlinearity. :func:`~simulator.simulate_sde`
# integrates the full truncated-Wigner Langevin equations (every nonlinear term kept) about the
# fixed point, for an ensemble of trajectories, and averages the covariance over time and over
# the ensemble. The ensemble is split into fixed chunks seeded from ``seed``, so the answer
# depends on ``seed`` and the options only, not on the number of workers.
#
# A small ensemble keeps this page quick (128 trajectories; ``wgmsim validate`` uses 1024). The
# error bars come from batch means over (chunk, time batch) units and a jackknife for E_N and
# steering (see :doc:`/statistics`); ``error_check=True`` also integrates 64 trajectories at
# ``dt`` and ``dt/2`` on the same noise to measure the step-size error.

opts = SDEOptions(n_traj=128, chunk_size=16, t_avg=1000.0, error_check=True)
sde = simulate_sde(p, opts, seed=1)
en, se = sde.log_negativity["r_m"], sde.log_negativity_stderr["r_m"]
print(f"status: {sde.status}; {sde.n_units} statistical units; {sde.diverged} diverged")
print(f"E_N(CW-mech): SDE {en:.4f} +- {se:.4f}, Lyapunov {lin.log_negativity['r_m']:.4f}")
print(f"covariance vs Lyapunov: max |z| = {sde.lyapunov['max_abs_z']:.2f} -> "
      f"{sde.lyapunov['verdict']}")
print("step-size check, relative change of <x x^T> from dt to dt/2: "
      f"{sde.error_check['second_moment_relative_difference']:.1e}")
print(f"{sde.timing['trajectory_steps']:.2e} trajectory-steps in {sde.timing['wall_seconds']:.1f} s")

# %%
# Each of the 21 independent covariance elements, as a z-score
# ``(V_SDE - V_Lyapunov) / standard error``: with honest error bars these scatter like a
# standard normal variable, and the verdict "agree" needs every ``|z|`` below 5.

names = ("X_r", "Y_r", "X_l", "Y_l", "q", "p")
iu = np.triu_indices(6)
z = sde.lyapunov["z"][iu]
labels = [f"{names[i]},{names[j]}" for i, j in zip(*iu)]
fig, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
ax.bar(range(len(z)), z, color=np.where(np.abs(z) < 5, "tab:blue", "tab:red"))
ax.axhspan(-5, 5, color="0.92", zorder=0, label="agreement band |z| < 5")
ax.axhline(0, color="k", lw=0.5)
ax.set_xticks(range(len(z)), labels, rotation=70, fontsize=7)
ax.set_ylabel(r"$z = (V_{SDE} - V_{Lyap})\,/\,\sigma$")
ax.set_title(f"SDE ensemble ({opts.n_traj} trajectories, dt = {opts.dt}) vs Lyapunov, "
             "immune point")
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %%
# 3. The master equation
# ----------------------
# :func:`~simulator.solve_master` finds the steady state of the fluctuations' master equation
# with QuTiP, here with the nonlinear ``G0 da^dag da dq`` term kept. The Fock space is truncated
# in the normal modes of the linearised state (nearly a product of thermal states: few levels
# suffice although the bath holds 415 phonons), and the cutoffs are raised until the covariance
# changes by less than ``tol = 1e-3``; the last change is reported as the truncation error.

me = solve_master(p, options=MasterOptions(nonlinear=True))
print(f"converged: {me.converged} ({me.message})")
print(f"cutoffs {me.cutoffs} (dimension {int(np.prod(me.cutoffs))}), "
      f"truncation error {me.truncation_error:.1e}")
print(f"E_N(CW-mech): master {me.log_negativity['r_m']:.5f}, "
      f"Lyapunov {me.lyapunov.log_negativity['r_m']:.5f}")
print(f"max |V_master - V_Lyapunov| = {me.lyapunov_difference:.1e}")

# %%
# The nonlinear term moves nothing beyond the truncation error: at the paper's
# ``G0/Gamma ~ 1e-5`` the linearised picture is exact for all practical purposes.
#
# The density matrix is a ``qutip.Qobj`` in the lab's displaced Fock basis (the fluctuations
# about the mean field; tensor order ``a_r``, ``a_l`` where the CCW mode couples, ``b``), and
# ``me.operators`` holds the annihilation operators on it, so QuTiP's own tools apply: the
# phonon number from ``b^dag b`` is the covariance's, within the truncation error. (The engine
# solves in the Fock basis of the normal modes; that matrix is ``me.normal_mode_state``.)

import qutip  # noqa: E402

b = me.operators["b"]
V = me.covariance
print(f"state dims {me.state.dims[0]}, operators {list(me.operators)}")
print(f"<b^dag b> = {qutip.expect(b.dag() * b, me.state):.5f} (QuTiP on me.state), "
      f"{0.5 * (V[4, 4] + V[5, 5] - 1) + 0.5 * (me.mean[4]**2 + me.mean[5]**2):.5f} "
      "(covariance)")

# %%
#
# 4. The validation, as ``wgmsim validate`` runs it
# -------------------------------------------------
# :func:`simulator.validate.validate` runs the three engines on one point and compares every
# covariance element, E_N of each pair and steering in both directions with the Lyapunov
# solution: the SDE by z-scores against its standard errors, the master equation against its
# truncation error. ``quick=True`` is the ``--quick`` ensemble (256 trajectories).

res = validate(p, ValidateOptions(quick=True, seed=0))
for engine, line in res.verdicts.items():
    print(f"{engine:7s} {line}")
print(f"seconds per engine: { {k: round(v, 1) for k, v in res.timing.items()} }")

# %%
# The same comparison row by row, for three covariance elements and the entanglement of the
# CW mode and the mechanics (the report ``wgmsim validate`` writes has all of them; steering
# is zero at this point in every engine):

for comp in res.comparisons:
    for row in comp.rows:
        if row.quantity in ("V[X_r,q]", "V[q,q]", "V[p,p]", "E_N[r_m]"):
            print(f"{comp.engine:7s} {row.quantity:15s} Lyapunov {row.reference:9.5f}  "
                  f"engine {row.value:9.5f} +- {row.error:.1e}  {row.verdict}")

# %%
# From the command line the same job is ``wgmsim validate --quick`` (or without ``--quick``
# for 1024 trajectories), which writes ``report.md``, ``report.json`` and the figures to
# ``wgmsim-report/``. To see where the immunity breaks, move the nanoparticle:
# ``wgmsim validate --set beta=0.3 --quick --out beta03``, or in Python
# ``validate(p.replace(beta=0.3), ValidateOptions(quick=True))``.
