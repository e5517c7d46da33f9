# %%
# Figure
# ------
# Drawn by the documentation from the variables above (not part of the script).
#
# The ring-up ``res`` of the script: phonons in the fluctuations (with the ensemble's one-sigma
# error) and E_N of the CW mode and the mechanics, ensemble against the linearised covariance
# equation along the mean-field path.
import matplotlib.pyplot as plt
import numpy as np

lin = res.linear_covariance
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
se = 0.5 * np.hypot(res.covariance_stderr[:, 4, 4], res.covariance_stderr[:, 5, 5])
ax1.errorbar(res.t, res.phonon_number, yerr=se, fmt="o", ms=3, label="ensemble")
ax1.plot(res.t, 0.5 * (lin[:, 4, 4] + lin[:, 5, 5]) - 0.5, label="linearised")
ax1.set_yscale("log")
ax1.set_xlabel(r"time $t\,\omega_m$")
ax1.set_ylabel("phonons in the fluctuations")
ax1.legend(fontsize=8)
ax2.plot(res.t, res.log_negativity["r_m"], "o", ms=3, label="ensemble")
ax2.plot(res.t, en_lin, label="linearised")
ax2.set_xlabel(r"time $t\,\omega_m$")
ax2.set_ylabel(r"$E_N$ (CW mode - mechanics)")
ax2.legend(fontsize=8)
fig.suptitle(f"ring-up at the immune point, {res.options.n_traj} trajectories")
plt.show()
