"""The JAX backend of the SDE chunk loop (``backend="jax"``, :mod:`simulator.sde.jax_backend`).

Needs JAX (``pip install -e ".[test,jax]"``); skipped without it, except the checks that hold
without JAX (options, the array form of the features, ``import simulator`` not importing jax).
Statistical comparisons with the numpy backend use the reported standard errors of both runs:
``|a - b| / sqrt(se_a^2 + se_b^2)`` below ``statistics.Z_AGREE`` in every compared element.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from simulator import Params
from simulator.config import apply_changes
from simulator.sde import SDEOptions, fluctuation_system, simulate_sde
from simulator.sde.control import ControlRemainder, control_system
from simulator.sde.ringup import RingupOptions, simulate_ringup
from simulator.statistics import Z_AGREE

ROOT = Path(__file__).resolve().parents[1]
P = Params.paper()
#: Issue 17's point at G0/Gamma = 0.1 (|G_r| = 0.6096 omega_m, rwa damping): a shift resolved.
STRONG = apply_changes(P, {"g0": "0.1Gamma", "G": "0.6096omega_m", "damping": "rwa"})


def _jax():
    return pytest.importorskip("jax", reason="the JAX backend needs jax (pip install -e '.[test,jax]')")


# --- without JAX ----------------------------------------------------------------------------

def test_import_simulator_does_not_import_jax(fresh_imports):
    """``import simulator, simulator.sde, simulator.sde.jax_backend`` in a fresh interpreter
    (``conftest.fresh_imports``) leaves jax unloaded."""
    assert fresh_imports["jax"] is False


@pytest.mark.parametrize("kw,match", [
    ({"backend": "torch"}, "backend = 'torch'"),
    ({"precision": "float16"}, "precision = 'float16'"),
    ({"precision": "float32"}, "only with backend='jax'"),
    ({"backend": "jax", "keep_trajectories": 2}, "keep_trajectories"),
])
def test_options_name_the_bad_backend_field(kw, match):
    with pytest.raises(ValueError, match=match):
        SDEOptions(**kw)


def test_ringup_options_check_backend_too():
    with pytest.raises(ValueError, match="backend = 'cuda'"):
        RingupOptions(backend="cuda")
    assert RingupOptions(backend="jax").sde_options().backend == "jax"


def test_numpy_options_record_unchanged_and_jax_options_round_trip():
    """A numpy run's options dict (saved results, checkpoint identity) has no backend keys, as
    before the backend existed; a JAX run's has them and reads back."""
    assert "backend" not in SDEOptions().to_dict()
    assert "precision" not in RingupOptions().to_dict()
    o = SDEOptions(backend="jax", precision="float32")
    assert SDEOptions.from_dict(o.to_dict()) == o


def test_array_features_equal_the_in_place_features():
    rng = np.random.default_rng(0)
    nl = fluctuation_system(STRONG).nonlinearity
    x = rng.standard_normal((5, 6))
    np.testing.assert_array_equal(nl.array_features(x, np), nl.features(x))
    for order in (1, 2):
        cr = ControlRemainder(nl, 6, order)
        z = rng.standard_normal((5, 6 * (order + 1)))
        np.testing.assert_allclose(cr.array_features(z, np), cr.features(z), rtol=1e-15)


# --- the kernel against numpy's integrators ---------------------------------------------------

@pytest.mark.parametrize("method", ["exponential", "euler", "sra1"])
@pytest.mark.parametrize("which", ["plain", "control2", "ringup"])
def test_step_forms_equal_the_numpy_integrators(method, which):
    """One step of :data:`STEP_FORMS` on JAX equals the numpy integrator's ``step`` on the same
    normals (stationary, the control-variate system, and a time-dependent ring-up drift)."""
    jax = _jax()
    import jax.numpy as jnp

    from simulator.sde.integrators import make_integrator
    from simulator.sde.jax_backend import STEP_FORMS, jax_modules
    from simulator.sde.ringup import ringup_system

    jax_modules()
    s = fluctuation_system(P)
    t = 0.0
    if which == "control2":
        s = control_system(s, 2)
    elif which == "ringup":
        s, _ = ringup_system(P, RingupOptions(ramp_time=10.0))
        t = 3.0
    integ = make_integrator(method, s, 0.05)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, s.dim))
    z = rng.standard_normal((1, integ.n_normals, 7, s.dim))
    want = integ.step(x.copy(), tuple(a[0] for a in integ.noise_from_normals(z, t0=t)), t)
    step, per_step, const = STEP_FORMS[method]
    m = {k: jnp.asarray(getattr(integ, k)) for k in const}
    for k in per_step:
        m[k] = jnp.asarray(integ._at(k, t) if integ.time_dependent else getattr(integ, k))
    feat = s.nonlinearity.array_features

    def lift(v):
        return jnp.concatenate([v, feat(v, jnp), jnp.ones((v.shape[0], 1))], axis=-1)

    got = step(jnp.asarray(x), jnp.asarray(z[0]), m, lift, jnp.dot, 0.05, s.dim)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
    assert jax is not None


def _chunk(backend="jax", block=None, bound=None, n=64, **kw):
    from simulator.sde.backends import run_chunk
    from simulator.sde.problem import EnsembleProblem
    from simulator.sde.scheduling import chunk_seeds

    o = SDEOptions(n_traj=n, chunk_size=n, t_burn=20.0, t_avg=40.0, batch_time=10.0,
                   backend=backend, block_steps=block, bound=bound, **kw)
    return run_chunk(EnsembleProblem(fluctuation_system(P), o), chunk_seeds(4, 1)[0], 0, n)


def test_noise_is_keyed_by_step_not_by_block():
    """The block length changes when the state is checked, not the path: the sums agree to
    rounding for blocks of 16 and 100 steps."""
    _jax()
    a, b = _chunk(block=16), _chunk(block=100)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_allclose(a.s2, b.s2, rtol=1e-10)
    np.testing.assert_allclose(a.final_state, b.final_state, rtol=1e-10, atol=1e-12)


def test_diverged_trajectories_leave_the_sums():
    """With a bound some trajectories cross: they are counted, the counts are the survivors'
    samples, and no sample beyond the bound entered the sums (each bin's ``sum x_k^2`` is at
    most its count times ``bound^2``, which a crossing sample would break)."""
    _jax()
    full = _chunk()
    sigma = np.sqrt(np.diag(full.s2.sum(0) / full.counts.sum()))
    bound = 2.5 * float(sigma.max())
    res = _chunk(bound=bound)
    assert 0 < res.diverged < 64
    per_bin = full.counts // 64  # samples per trajectory and bin
    assert res.counts[-1] == per_bin[-1] * (64 - res.diverged)
    assert (res.counts <= full.counts).all() and np.isfinite(res.s2).all()
    diag = np.diagonal(res.s2, axis1=1, axis2=2)
    assert (diag <= res.counts[:, None] * bound ** 2).all()


# --- statistics against the numpy backend -----------------------------------------------------

def _z(a, se_a, b, se_b):
    return np.abs(a - b) / np.sqrt(se_a ** 2 + se_b ** 2)


OPTS = SDEOptions(n_traj=256, chunk_size=64, t_avg=300.0)


def test_stationary_run_agrees_with_numpy_and_lyapunov():
    _jax()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither run may be flagged
        a = simulate_sde(P, OPTS, seed=11)
        b = simulate_sde(P, OPTS.replace(backend="jax"), seed=11)
    assert a.status == b.status == "ok"
    z = _z(a.covariance, a.covariance_stderr, b.covariance, b.covariance_stderr)
    assert z.max() < Z_AGREE, z.max()
    assert b.lyapunov["max_abs_z"] < Z_AGREE
    assert b.timing["backend"] == "jax (float64)" and b.timing["n_jobs"] == 1
    assert not np.array_equal(a.covariance, b.covariance)  # another generator, not a copy


def test_float32_agrees_with_lyapunov():
    _jax()
    res = simulate_sde(P, OPTS.replace(backend="jax", precision="float32"), seed=11)
    assert res.status == "ok" and res.lyapunov["max_abs_z"] < Z_AGREE


def test_control_variate_shift_agrees_with_numpy():
    """The measured nonlinear shift dE_N at G0/Gamma = 0.1 (rwa damping, Lyapunov start, where
    control variates resolve it) agrees between the backends within their errors."""
    _jax()
    p = STRONG
    o = SDEOptions(n_traj=256, chunk_size=32, t_avg=200.0, initial="lyapunov",
                   control_variate=True)
    a = simulate_sde(p, o, seed=2)
    b = simulate_sde(p, o.replace(backend="jax"), seed=2)
    ea, eb = a.shift["log_negativity"]["r_m"], b.shift["log_negativity"]["r_m"]
    sa, sb = a.shift["log_negativity_stderr"]["r_m"], b.shift["log_negativity_stderr"]["r_m"]
    assert abs(ea) > 5 * sa and abs(eb) > 5 * sb  # resolved, so the comparison means something
    assert _z(ea, sa, eb, sb) < Z_AGREE


def test_ringup_agrees_with_numpy():
    _jax()
    o = RingupOptions(n_traj=256, chunk_size=32, t_final=30.0, output_every=5.0, ramp_time=10.0)
    a = simulate_ringup(P, o, seed=3)
    b = simulate_ringup(P, dataclasses.replace(o, backend="jax"), seed=3)
    z = _z(a.covariance, a.covariance_stderr, b.covariance, b.covariance_stderr)
    assert np.nanmax(z[1:]) < Z_AGREE  # t = 0 is the same initial sample: no spread
    np.testing.assert_allclose(a.covariance[0], b.covariance[0], rtol=1e-12)
    assert b.timing["backend"] == "jax (float64)"


def test_resume_after_kill_equals_an_uninterrupted_jax_run(tmp_path):
    _jax()
    from simulator.sde.engine import _identity
    from simulator.sde.parallel import run_chunks

    o = OPTS.replace(backend="jax")
    full = simulate_sde(P, o, seed=5)
    out = tmp_path / "run"
    run_chunks(fluctuation_system(P), o, 5, chunk_ids=[1, 3], out=out,
               identity=_identity(P, o, 5))
    resumed = simulate_sde(P, o, seed=5, out=out)
    np.testing.assert_array_equal(resumed.covariance, full.covariance)
    np.testing.assert_array_equal(resumed.unit_s2, full.unit_s2)


def test_cli_runs_with_backend_jax(capsys):
    _jax()
    from simulator.cli import main

    code = main(["sde", "--n-traj", "256", "--chunk-size", "64", "--t-avg", "300",
                 "--backend", "jax", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "backend jax (float64, " in out


def test_ringup_and_validate_cli_take_backend_jax(capsys, tmp_path):
    _jax()
    from simulator.cli import main

    assert main(["ringup", "--n-traj", "64", "--chunk-size", "16", "--t-final", "10",
                 "--backend", "jax", "--quiet", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"backend": "jax"' in out and '"device":' in out
    assert main(["validate", "--quick", "--no-master", "--no-attractors", "--backend", "jax",
                 "--quiet", "--out", str(tmp_path / "v"), "--json"]) == 0
    report = (tmp_path / "v" / "report.json").read_text()
    assert '"backend": "jax"' in report


def test_cli_without_jax_says_so_in_one_line(tmp_path):
    """JAX hidden from the interpreter: one line naming the extra, exit 2, no traceback."""
    code = ("import sys; sys.modules['jax'] = None; sys.modules['jax.numpy'] = None; "
            "from simulator.cli import main; "
            "sys.exit(main(['sde', '--backend', 'jax', '--n-traj', '8', '--quiet']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert "wgmsim[jax]" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_escapes_on_jax_at_01():
    """Issue 17's captures run through the JAX kernel too: from the thermal start at
    G0/Gamma = 0.1 about 11 % of the trajectories are captured by the limit cycle (112 of 1024
    in the issue's numpy run); they are counted and dropped and E_N keeps its error bar."""
    _jax()
    from simulator.errors import MetastabilityWarning

    opts = SDEOptions(n_traj=256, chunk_size=64, t_avg=600.0, backend="jax")
    with pytest.warns(MetastabilityWarning):
        res = simulate_sde(STRONG, opts, seed=5)
    esc = res.escapes
    assert res.status == "metastable" and res.diverged == 0
    assert esc["count"] == esc["initial"]["count"] > 5
    assert esc["fraction"]["low"] < 0.11 < esc["fraction"]["high"]
    en, se = res.log_negativity["r_m"], res.observables["log_negativity_stderr"]["r_m"]
    assert np.isfinite(en) and en > 0.1 and 0 < se < 0.01
