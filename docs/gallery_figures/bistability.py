# %%
# Figure
# ------
# Drawn by the documentation (not part of the script).
#
# Every fixed point of the same resonator on a finer grid of laser detunings: the effective
# detuning of each against the bare one. Between the turning points three fixed points coexist
# (static optical bistability); filled markers are linearly stable, open ones unstable.
import matplotlib.pyplot as plt
import numpy as np

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
for bare in np.linspace(1.0, 4.0, 121):
    fp = fixed_points(p, bare)
    for d, s in zip(fp.effective_detunings, fp.stable):
        ax.plot(bare, d / (p.Gamma / p.omega_m), "o", ms=3, color="tab:blue",
                mfc="tab:blue" if s else "none")
ax.set_xlabel(r"bare (laser) detuning $\Delta_a/\omega_m$")
ax.set_ylabel(r"effective detuning $\Delta/\Gamma$")
ax.set_title("fixed points without scatterers at 300 mW (filled: stable, open: unstable)")
plt.show()
