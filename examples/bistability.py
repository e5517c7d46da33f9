"""All mean-field fixed points at a given laser (bare) detuning: optical multistability."""

import numpy as np

from simulator import Params, fixed_points

p = Params.paper(defects=(), eta=0.0, power=0.3)  # no scatterers, 300 mW
for bare in np.linspace(1.5, 3.5, 5):  # Delta_a / omega_m
    fp = fixed_points(p, bare)
    points = ", ".join(f"Delta/Gamma={d / (p.Gamma / p.omega_m):+.3f} ({'stable' if s else 'unstable'})"
                       for d, s in zip(fp.effective_detunings, fp.stable))
    print(f"Delta_a = {bare:.2f} omega_m: {len(fp.points)} fixed point(s): {points}")
