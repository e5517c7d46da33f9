# %%
# Figure
# ------
# Drawn by the documentation from the variables above (not part of the script).
#
# E_N of the three mode pairs against the resonance detuning ``Dt = Delta + Delta_J``, at the
# immune point ``p`` and with the defect alone; the dotted line is the script's point.
import matplotlib.pyplot as plt
import numpy as np

from simulator import sweep

x = np.linspace(0.05, 3.0, 300)  # Dt / Gamma
fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
for q, style, name in ((p, "-", "defect + nanoparticle"), (p.replace(eta=0.0), "--", "defect only")):
    grid = sweep(q, detuning=x * q.Gamma - q.Delta_J)
    for pair, colour in (("r_m", "tab:blue"), ("l_m", "tab:orange"), ("r_l", "tab:green")):
        ax.plot(x, grid.log_negativity[pair], style, color=colour, label=f"{pair}, {name}")
ax.axvline((p.detuning + p.Delta_J) / p.Gamma, color="0.5", ls=":")
ax.set_xlabel(r"resonance detuning $\tilde\Delta/\Gamma$")
ax.set_ylabel(r"$E_N$")
ax.set_title(r"immune point ($\epsilon=\eta=\Gamma$, $\beta=\pi/8$) and the defect alone")
ax.legend(fontsize=7, ncol=2)
plt.show()
