# %%
# Figure
# ------
# Drawn by the documentation from the variables above (not part of the script).
#
# How the cutoffs converged in the last solve of the script (``damping="rwa"``): per round, the
# Hilbert-space dimension, the change of the covariance since the previous round and E_N. The
# last change is the truncation error reported with the result.
import matplotlib.pyplot as plt

dims = [h["dim"] for h in me.history]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
ax1.semilogy([d for d, h in zip(dims, me.history) if h["change"] is not None],
             [h["change"] for h in me.history if h["change"] is not None], "o-")
ax1.axhline(me.options.tol, color="0.5", ls=":", label=f"tol = {me.options.tol:g}")
ax1.set_xlabel("Hilbert-space dimension")
ax1.set_ylabel(r"max $|\Delta V|$ since the previous round")
ax1.legend(fontsize=8)
ax2.plot(dims, [h["log_negativity_r_m"] for h in me.history], "o-", label="master equation")
ax2.axhline(me.lyapunov.log_negativity["r_m"], color="0.5", ls="--", label="Lyapunov")
ax2.set_xlabel("Hilbert-space dimension")
ax2.set_ylabel(r"$E_N$ (CW mode - mechanics)")
ax2.legend(fontsize=8)
fig.suptitle(f"master equation at beta = 0.3, damping {p.damping}: cutoffs {me.cutoffs}")
plt.show()
