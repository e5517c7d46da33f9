"""The fully quantum check: master-equation steady state against the Lyapunov solution."""

from simulator import MasterOptions, Params, solve_master

for damping in ("brownian", "rwa"):
    p = Params.paper(beta=0.3, damping=damping)
    me = solve_master(p, options=MasterOptions())  # linearised Hamiltonian, automatic cutoffs
    print(f"{damping:8s}: E_N master {me.log_negativity['r_m']:.5f}, Lyapunov "
          f"{me.lyapunov.log_negativity['r_m']:.5f}; max |V_ME - V_Lyap| = "
          f"{me.lyapunov_difference:.1e} (truncation error {me.truncation_error:.1e}, "
          f"cutoffs {me.cutoffs})")
