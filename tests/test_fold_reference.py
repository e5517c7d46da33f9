"""Physics written once (issue 9): the folded helpers reproduce main's numbers bit for bit.

``tests/data/fold_reference.json`` holds :func:`values` computed with wgmsim at commit 24502ee
(before the fold), as hex floats; this test recomputes them and compares exactly. Regenerate only
for an intended change of the numbers: ``python tests/test_fold_reference.py OUT.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "fold_reference.json"


def _points():
    from simulator import Params

    return {
        "paper": Params.paper(),
        "cold": Params.paper(temperature=0.0),
        "rwa": Params.paper(damping="rwa", gamma_m=6e5),
        "lossy": Params.paper(defects=((1e6 - 5e4j, 0.3), (2e5 - 1e4j, 1.1)), eta=3e5 - 2e4j),
        "weak": Params.paper(power=1e-3, detuning=0.3e7, temperature=1.0),
    }


def values() -> dict[str, np.ndarray]:
    """Every quantity the fold touched, as flat float arrays (complex as re, im pairs)."""
    from simulator.fixed_points import fixed_points
    from simulator.linear import covariance_evolution, lyapunov
    from simulator.master.operators import build_space, hamiltonian, kept_modes
    from simulator.model import (Rates, diffusion_matrix, drift_matrix, mean_field,
                                 nonlinear_drift, transmission)
    from simulator.observables import log_negativity, steering
    from simulator.sde.ensemble import initial_moments
    from simulator.observables import log_negativity_raw, steering_raw
    from simulator.sde.options import SDEOptions
    from simulator.sde.ringup import RingupOptions, ringup_system
    from simulator.sde.system import fluctuation_system
    from simulator.sweep import sweep

    out: dict[str, list] = {}
    names = ["Gamma", "G0", "n_m", "a_in", "drive_amplitude", "J1", "J2", "Delta_J"]
    for key, p in _points().items():
        out[f"{key}/params"] = [getattr(p, n) for n in names]
        r = Rates.from_params(p)
        out[f"{key}/rates"] = [getattr(r, f) for f in r.__dataclass_fields__ if f != "damping"]
        mf = mean_field(r)
        out[f"{key}/mean_field"] = [mf.vector(), mf.bare_detuning]
        out[f"{key}/A"], out[f"{key}/D"] = drift_matrix(r, mf), diffusion_matrix(r)
        out[f"{key}/transmission"] = transmission(r)
        u = np.random.default_rng(3).normal(size=(4, 6)) * 5.0
        out[f"{key}/nonlinear"] = nonlinear_drift(r, u, mf.bare_detuning)
        ly = lyapunov(p).to_dict()
        out[f"{key}/coupling"] = [ly["coupling"]["r"], ly["coupling"]["l"]]
        out[f"{key}/initial"] = list(initial_moments(fluctuation_system(p), SDEOptions()))
        fp = fixed_points(p, float(mf.bare_detuning) - 0.5)
        out[f"{key}/fixed_points"] = [m.vector() for m in fp.points]
        V = lyapunov(p).covariance
        if V is not None:
            out[f"{key}/observables"] = [list(f(V).values()) for f in
                                         (log_negativity, steering, log_negativity_raw,
                                          steering_raw)]
            space = build_space(kept_modes(r), "normal", (3,) * len(kept_modes(r)), V)
            out[f"{key}/hamiltonian"] = hamiltonian(space, r, mf).full()
    p = _points()["paper"]
    sw = sweep(p, detuning=np.linspace(-3e7, 3e7, 5))
    out["sweep/coupling"] = [sw.coupling_r, sw.coupling_l]
    system, path = ringup_system(p, RingupOptions(dt=0.05, t_final=2.0, output_every=0.5,
                                                  ramp_time=1.0))
    t = np.linspace(0.0, 2.0, 5)
    out["ringup/A"] = system.drift_at(t)
    out["evolution"] = covariance_evolution(Rates.from_params(p), t[:3],
                                            np.diag([0.5] * 4 + [1.5, 1.5])).covariance
    return {k: _flat(v) for k, v in out.items()}


def _flat(v) -> np.ndarray:
    if isinstance(v, (list, tuple)):
        return np.concatenate([_flat(x) for x in v]) if v else np.zeros(0)
    a = np.asarray(v)
    if np.iscomplexobj(a):
        a = np.stack([a.real, a.imag], axis=-1)
    return a.astype(float).ravel()


def test_folded_physics_is_bit_for_bit_main():
    """Exact on the stack that computed the reference (tests/reference_stack.py), else 1e-10."""
    from reference_stack import assert_reference, same_stack

    ref = json.loads(DATA.read_text())
    now = values()
    assert set(now) == set(ref["values"])
    expected = {k: np.array([float.fromhex(x) for x in v]) for k, v in ref["values"].items()}
    if same_stack():
        differ = [k for k, v in now.items() if v.tobytes() != expected[k].tobytes()]
        assert not differ, f"changed at the last bit: {differ}"
    for k, v in now.items():
        if k.endswith("/hamiltonian") and not same_stack():
            # in the normal-mode basis, whose phases another LAPACK may choose differently:
            # compare the spectrum, which does not depend on them
            v, expected[k] = _spectrum(v), _spectrum(expected[k])
        assert_reference(v, expected[k], what=k)


def _spectrum(flat: np.ndarray) -> np.ndarray:
    """Sorted eigenvalues of the Hermitian matrix stored as flat (re, im) pairs."""
    z = flat[0::2] + 1j * flat[1::2]
    n = int(round(np.sqrt(z.size)))
    return np.linalg.eigvalsh(z.reshape(n, n))


if __name__ == "__main__":
    about = ("Computed with wgmsim at commit 24502ee (before issue 9's fold), hex floats; "
             "tests/test_fold_reference.py compares exactly.")
    vals = {k: [float(x).hex() for x in v] for k, v in values().items()}
    Path(sys.argv[1]).write_text(json.dumps({"_about": about, "values": vals}, indent=0) + "\n")
