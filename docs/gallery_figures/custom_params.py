# %%
# Figure
# ------
# Drawn by the documentation from the variables above (not part of the script).
#
# The angle scan ``scan`` of the script: E_N of each pair against the nanoparticle's angle for
# the parameter file's point, with the best angle marked.
import matplotlib.pyplot as plt
import numpy as np

fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
for pair in ("r_m", "l_m", "r_l"):
    ax.plot(betas / np.pi, scan.log_negativity[pair], label=pair)
ax.axvline(betas[best] / np.pi, color="0.5", ls=":", label="best angle (CW - mechanics)")
ax.set_xlabel(r"nanoparticle angle $\beta/\pi$")
ax.set_ylabel(r"$E_N$")
ax.set_title(f"custom_params.toml: P = {p.power * 1e3:g} mW, T = {p.temperature * 1e3:g} mK, "
             f"{len(p.defects)} defects, damping {p.damping}")
ax.legend(fontsize=8)
plt.show()
