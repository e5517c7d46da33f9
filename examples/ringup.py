"""Ring-up: switch the laser on into an empty cavity and watch the mechanics cool and entangle."""

import numpy as np

from simulator import Params, RingupOptions, log_negativity, simulate_ringup

# E_N at a single time comes from the ensemble covariance at that time: with N trajectories its
# statistical error is ~1/sqrt(N), and near E_N = 0 (vacuum at t = 0) it is biased upwards.
opts = RingupOptions(n_traj=4096, chunk_size=256, t_final=150.0, output_every=5.0)
res = simulate_ringup(Params.paper(), opts, seed=3)
en_lin = log_negativity(res.linear_covariance)["r_m"]
print("    t   photons_r   phonons  E_N(ensemble)  E_N(linearised)")
for i in np.linspace(0, len(res.t) - 1, 9).astype(int):
    print(f"{res.t[i]:5.0f}  {res.photon_number['r'][i]:10.3e}  {res.phonon_number[i]:8.3f}  "
          f"{res.log_negativity['r_m'][i]:13.4f}  {en_lin[i]:15.4f}")
