"""Load a parameter file, change one value, and scan the nanoparticle angle in one vectorised call."""

from pathlib import Path

import numpy as np

from simulator import Params, lyapunov, sweep

p = Params.from_toml(Path(__file__).with_name("custom_params.toml"))
print(f"G0 = {p.G0:.1f} s^-1, n_m = {p.n_m:.1f}, |J1|/Gamma = {abs(p.J1) / p.Gamma:.3f}")
res = lyapunov(p)
print("stable:", res.stable, " E_N(CW-mech):", res.log_negativity and round(res.log_negativity["r_m"], 4))

betas = np.linspace(0, np.pi / 2, 181)
scan = sweep(p, beta=betas)
best = np.nanargmax(scan.log_negativity["r_m"])
print(f"best nanoparticle angle {betas[best]:.3f} rad: E_N = {scan.log_negativity['r_m'][best]:.4f}")
