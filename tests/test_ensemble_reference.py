"""The ensemble pipeline reproduces its captured results bit for bit (issue 19).

``tests/data/ensemble_reference.json`` holds :func:`values` (hex floats) of five small ensembles
computed before the pipeline was reorganised: a stationary SDE (exponential integrator), an SRA1
run with the step-size check (the dt/dt-2 pair), a ring-up, and a control-variate stationary and
ring-up run. A refactor of the chunk loop, the schedule, the checkpoints or the estimators must
leave every number unchanged for the same seed and options. Regenerate only for an intended
change of the numbers: ``python tests/test_ensemble_reference.py``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "ensemble_reference.json"


def _flat(v) -> np.ndarray:
    if isinstance(v, dict):
        return np.concatenate([_flat(v[k]) for k in sorted(v)]) if v else np.zeros(0)
    if isinstance(v, (list, tuple)):
        return np.concatenate([_flat(x) for x in v]) if v else np.zeros(0)
    return np.asarray(v, dtype=float).ravel()


def _stationary(res, key: str, out: dict) -> None:
    for name in ("unit_s1", "unit_s2", "unit_counts"):
        out[f"{key}/{name}"] = getattr(res, name)
    # the plain estimate (the headline of a run without control variates)
    src = res.plain if res.plain is not None else {
        k: getattr(res, k) for k in ("mean", "mean_stderr", "covariance", "covariance_stderr",
                                     "observables", "uncertainty")}
    for name in ("mean", "mean_stderr", "covariance", "covariance_stderr"):
        out[f"{key}/{name}"] = src[name]
    obs = src["observables"]
    for name in ("log_negativity", "log_negativity_stderr", "log_negativity_raw",
                 "log_negativity_raw_stderr", "steering_raw", "steering_raw_stderr"):
        out[f"{key}/{name}"] = {k: v for k, v in obs[name].items() if np.isfinite(v)}
    out[f"{key}/uncertainty"] = [src["uncertainty"]["min_eigenvalue"],
                                 src["uncertainty"]["stderr"]]


def values() -> dict[str, np.ndarray]:
    """The numbers of five small ensembles, flat float arrays."""
    from simulator import Params, RingupOptions, SDEOptions, simulate_ringup, simulate_sde

    p = Params.paper()
    small = dict(n_traj=32, chunk_size=8, dt=0.1, t_burn=20.0, t_avg=60.0, batch_time=15.0)
    out: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = simulate_sde(p, SDEOptions(**small), seed=5)
        _stationary(res, "sde", out)
        res = simulate_sde(p, SDEOptions(**small, method="sra1", error_check=True), seed=6)
        _stationary(res, "sra1", out)
        out["sra1/error_check"] = {k: v for k, v in res.error_check.items()
                                   if isinstance(v, (float, int, np.ndarray))
                                   and not isinstance(v, bool)}
        strong = p.replace(mass=p.mass / 400.0, power=p.power / 400.0)  # G0 x 20, same |G|
        res = simulate_sde(strong, SDEOptions(**small, control_variate=True), seed=7)
        _stationary(res, "cv", out)
        out["cv/shift"] = [res.shift["covariance"], res.shift["covariance_stderr"],
                           res.shift["log_negativity"]]
        # the dt/dt-2 pair of the dt="auto" pilot, on the control-variate shift
        from simulator.sde.stepsize import choose_dt
        from simulator.sde.system import fluctuation_system

        pilot = SDEOptions(**{**small, "dt": "auto", "n_traj": 8, "chunk_size": 8},
                           control_variate=True, rtol=0.5)
        _, info = choose_dt(fluctuation_system(strong), pilot, np.random.SeedSequence(9))
        out["auto_cv/tried"] = info["tried"]
        ring = dict(n_traj=16, chunk_size=4, dt=0.1, t_final=20.0, output_every=5.0)
        for key, extra in (("ringup", {}), ("ringup_cv", {"control_variate": True})):
            r = simulate_ringup(p, RingupOptions(**ring, **extra), seed=8)
            for name in ("t", "mean_field", "linear_covariance", "unit_s1", "unit_s2",
                         "unit_counts"):
                out[f"{key}/{name}"] = getattr(r, name)
            src = r.plain if r.plain is not None else {  # the plain estimate
                k: getattr(r, k) for k in ("mean", "mean_stderr", "covariance",
                                           "covariance_stderr", "observables")}
            for name in ("mean", "mean_stderr", "covariance", "covariance_stderr"):
                out[f"{key}/{name}"] = src[name]
            out[f"{key}/log_negativity"] = src["observables"]["log_negativity"]
            if r.shift is not None:
                out[f"{key}/shift"] = [r.shift["covariance"], r.shift["covariance_stderr"]]
    return {k: _flat(v) for k, v in out.items()}


def test_ensembles_are_bit_for_bit_the_captured_ones():
    """Exact on the stack that computed the reference (tests/reference_stack.py), else 1e-10."""
    from reference_stack import assert_reference

    from reference_stack import same_stack

    ref = json.loads(DATA.read_text())
    now = values()
    assert set(now) == set(ref["values"])
    for k, v in now.items():
        expected = np.array([float.fromhex(x) for x in ref["values"][k]])
        if k.startswith("ringup") and not same_stack():
            # Not portable at 1e-10: on CI's lowest-versions stack (numpy 1.26, scipy 1.12) the
            # ring-up's per-trajectory sums differ at ~1e-6 relative after 20/omega_m (the
            # propagators along the time-dependent mean field, amplitude ~6e4, amplify the
            # libraries' round-off; the mean field itself agrees to 10 digits), and the unit
            # sums, which cancel, by up to 2.1 absolute of 40. Exact on the reference stack.
            continue
        if k == "auto_cv/tried" and not same_stack():
            # (dt, step-halving change) pairs of an 8-trajectory pilot at steps up to 3.7/omega_m:
            # the change amplifies round-off (measured 9e-4 relative on CI's lowest-versions
            # stack), the steps tried must still be the same
            np.testing.assert_array_equal(v[::2], expected[::2], err_msg=k)
            np.testing.assert_allclose(v[1::2], expected[1::2], rtol=1e-2, err_msg=k)
            continue
        assert_reference(v, expected, what=k)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    about = ("Computed before issue 19's pipeline rework (hex floats); "
             "tests/test_ensemble_reference.py compares exactly.")
    vals = {k: [float(x).hex() for x in v] for k, v in values().items()}
    DATA.write_text(json.dumps({"about": about, "values": vals}, indent=0) + "\n")
