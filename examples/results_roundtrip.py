"""Results that travel: save a Lyapunov, an SDE and a master-equation point, reload them, and
continue in QuTiP and xarray (notebook-style: each ``# %%`` is a cell in Jupyter/VS Code).

Run: ``python examples/results_roundtrip.py`` (a few seconds; writes ``roundtrip-results/``).
xarray is the optional extra ``pip install "wgmsim[xarray]"``.
"""

# %% Run one point with two engines
from pathlib import Path

import numpy as np
import qutip

from simulator import Params, SDEOptions, SDEResult, lyapunov, simulate_sde, solve_master, sweep
from simulator.linear import LyapunovResult
from simulator.master import MasterResult

p = Params.paper()  # the paper's immune point at its optimal detuning
lin = lyapunov(p)
sde = simulate_sde(p, SDEOptions(n_traj=128, chunk_size=16), seed=7)
me = solve_master(p)
print(lin)
print(sde)
print(me)

# %% Save all three into one folder (two files each: arrays .npz, metadata .json with a SHA-256)
out = Path("roundtrip-results")
lin.save(out)
sde.save(out)
me.save(out)
print("saved:", sorted(f.name for f in out.iterdir()))

# %% Reload: checksums verified, arrays bit for bit, provenance kept
lin2 = LyapunovResult.load(out)
sde2 = SDEResult.load(out)
me2 = MasterResult.load(out)
assert np.array_equal(lin2.covariance, lin.covariance)
assert np.array_equal(sde2.unit_s2, sde.unit_s2) and sde2.seeds == sde.seeds
assert np.array_equal(me2.normal_mode_state.full(), me.normal_mode_state.full())
print(f"SDE reloaded: E_N[r_m] = {sde2.log_negativity['r_m']:.4f} +- "
      f"{sde2.log_negativity_stderr['r_m']:.4f} over {sde2.n_units} units, status {sde2.status}")
prov = me2.provenance
print(f"made {prov['timestamp']} with wgmsim {prov['versions']['wgmsim']}, "
      f"qutip {prov['versions']['qutip']}; options {prov['options']['method']}")

# %% Continue in QuTiP: the reloaded density matrix
# me2.state is in the lab's displaced Fock basis, tensor order (a_r, b) here (no CCW factor),
# and me2.operators holds the annihilation operators on it; the engine's own normal-mode
# matrix is me2.normal_mode_state (see simulator.master.states).
rho, b = me2.state, me2.operators["b"]
print("state dims", rho.dims[0], "| operators", list(me2.operators))
n_m = qutip.expect(b.dag() * b, rho)
rho_m = rho.ptrace(1)  # the mechanical mode's fluctuations
s_vn = qutip.entropy_vn(rho_m)
# the same from the covariance, as for a Gaussian state: nu = sqrt(det V_m)
nu = np.sqrt(np.linalg.det(me2.covariance[4:, 4:]))
s_gauss = (nu + 0.5) * np.log(nu + 0.5) - (nu - 0.5) * np.log(nu - 0.5)
print(f"mechanics: {n_m:.5f} phonons (covariance: {lin.observables['phonon_number']:.5f} "
      f"linearised), entropy {s_vn:.5f} (Gaussian formula {s_gauss:.5f})")
assert abs(s_vn - s_gauss) < 1e-3
xvec = np.linspace(-4.0, 4.0, 81)  # qutip's default g = sqrt(2): x = (b + b^dag)/sqrt(2) = q
W = qutip.wigner(rho_m, xvec, xvec)
dx = xvec[1] - xvec[0]
print(f"Wigner function of the mechanics: min {W.min():.3g} (positive: a Gaussian state), "
      f"normalisation {W.sum() * dx * dx:.4f}")
print("E_N of the reloaded covariance:", round(me2.log_negativity["r_m"], 5),
      "| thewalrus-ordered covariance diagonal (hbar=2):",
      np.round(np.diag(me2.covariance_xxpp()), 4))

# %% Continue in xarray: named dimensions
try:
    import xarray  # noqa: F401
except ImportError:
    print('xarray not installed: pip install "wgmsim[xarray]" for the last cell')
else:
    ds = lin2.to_xarray()
    print("V[q, p] =", float(ds.covariance.sel(mode_i="q", mode_j="p")))
    dse = sde2.to_xarray()
    print("SDE V[q, q] = %.4f +- %.4f" % (float(dse.covariance.sel(mode_i="q", mode_j="q")),
                                          float(dse.covariance_stderr.sel(mode_i="q", mode_j="q"))))
    grid = sweep(p, detuning=np.linspace(-2.5, 0.0, 251) * p.Gamma).to_xarray()
    en = grid.log_negativity.sel(pair="r_m")
    best = float(en.idxmax("detuning")) / p.Gamma
    print(f"sweep: max E_N[r_m] = {float(en.max()):.4f} at detuning {best:.3f} Gamma")
    assert abs(best - p.detuning / p.Gamma) < 0.02
