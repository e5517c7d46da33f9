"""A nonlinear SDE ensemble on two workers, checked against the linearised (Lyapunov) answer.

The result depends only on the seed and the options, not on the number of workers.
"""

from simulator import Params, SDEOptions, lyapunov, simulate_sde

p = Params.paper(beta=0.3)  # a misplaced nanoparticle: CW and CCW modes coupled
opts = SDEOptions(n_traj=256, chunk_size=32, t_avg=1000.0)  # dt = 0.1, exponential integrator
res = simulate_sde(p, opts, seed=42, n_jobs=2)
en, se = res.log_negativity["r_m"], res.log_negativity_stderr["r_m"]
print(f"SDE E_N(CW-mech) = {en:.4f} +- {se:.4f}; Lyapunov {lyapunov(p).log_negativity['r_m']:.4f}")
print(f"covariance vs Lyapunov: max |z| = {res.lyapunov['max_abs_z']:.2f} -> {res.lyapunov['verdict']}")
print(f"{res.timing['trajectory_steps']:.2e} trajectory-steps in {res.timing['wall_seconds']:.1f} s")
