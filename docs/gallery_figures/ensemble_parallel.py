# %%
# Figure
# ------
# Drawn by the documentation from the variables above (not part of the script).
#
# The ensemble's 21 independent covariance elements against the Lyapunov solution: the
# difference ``V_SDE - V_Lyapunov`` with its one-sigma batch-means error bar.
import matplotlib.pyplot as plt
import numpy as np

names = ("X_r", "Y_r", "X_l", "Y_l", "q", "p")
iu = np.triu_indices(6)
diff = (res.covariance - res.lyapunov["covariance"])[iu]
err = res.covariance_stderr[iu]
fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
ax.errorbar(np.arange(diff.size), diff, yerr=err, fmt="o", ms=4, capsize=2)
ax.axhline(0.0, color="k", lw=0.5)
ax.set_xticks(np.arange(diff.size), [f"{names[i]},{names[j]}" for i, j in zip(*iu)],
              rotation=70, fontsize=7)
ax.set_ylabel(r"$V_{SDE} - V_{Lyap}$ (vacuum = 1/2)")
ax.set_title(f"beta = 0.3: {res.options.n_traj} trajectories, max |z| = "
             f"{res.lyapunov['max_abs_z']:.2f}")
plt.show()
