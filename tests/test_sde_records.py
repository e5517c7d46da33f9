"""The ensemble pipeline's one driver and its records (issue 19): what a chunk keeps is the
caller's choice, and every record runs through the same chunk loop and driver."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import Params
from simulator.sde import LangevinSystem, SDEOptions, fluctuation_system, simulate_sde
from simulator.sde.chunk import Kernel, run_chunk
from simulator.sde.integrators import make_integrator
from simulator.sde.parallel import run_ensemble
from simulator.sde.problem import EnsembleProblem
from simulator.sde.records import Moments, PairedMoments, Paths, pair_record, step_error_report
from simulator.sde.scheduling import Schedule, chunk_seeds

SMALL = SDEOptions(n_traj=16, chunk_size=4, dt=0.1, t_burn=5.0, t_avg=20.0, batch_time=5.0)


def test_problem_refuses_bad_fields():
    s = fluctuation_system(Params.paper())
    with pytest.raises(TypeError, match="record"):
        EnsembleProblem(s, SMALL, "moments")
    with pytest.raises(TypeError, match="options"):
        EnsembleProblem(s, {"n_traj": 4})
    with pytest.raises(ValueError, match="shadow = 3"):
        Moments(shadow=3)


def test_shadow_integrates_the_augmented_system():
    s = fluctuation_system(Params.paper())
    prob = EnsembleProblem(s, SMALL, Moments(shadow=1))
    assert prob.run_system.dim == 12 and prob.run_options.initial == "gaussian"
    mean, cov = prob.initial
    assert mean.shape == (12,) and np.all(cov[6:, :] == 0)  # w(0) = 0: the same sample


def test_kernel_phase_samples_the_right_steps():
    """The state after step j is sampled when j + 1 + phase is a positive multiple of every."""
    system = LangevinSystem(A=[[-1.0]], D=[[0.0]])  # deterministic: x_k = exp(-k dt) x_0
    integ = make_integrator("exponential", system, 0.1)
    x0 = np.ones((2, 1))
    for phase, want in ((0, [3, 6, 9]), (-4, [7, 10]), (2, [1, 4, 7, 10])):
        kernel = Kernel(integ, np.random.default_rng(0), 2)
        buf = np.empty((10, 2, 1))
        _, m = kernel.advance(x0.copy(), 10, 3, buf, phase)
        np.testing.assert_allclose(buf[:m, 0, 0], np.exp(-0.1 * np.array(want)), rtol=1e-12)


@pytest.mark.parametrize("block", [None, 10])  # several bins per noise block, or one
def test_paths_keep_every_trajectory_and_leave_the_moments_unchanged(block):
    """Paths adds the samples of each trajectory to exactly the sums Moments keeps; with one
    sample per bin, summing the paths over trajectories gives the bin sums."""
    s = fluctuation_system(Params.paper())
    sched = Schedule(dt=0.1, n_burn=0, n_batches=6, steps_per_batch=10, samples_per_batch=1,
                     sample_every=10, n_chunks=4, bound=1e6, record_initial=True)
    opts = SMALL.replace(block_steps=block)
    plain = run_ensemble(EnsembleProblem(s, opts, Moments(), sched), 3)
    paths = run_ensemble(EnsembleProblem(s, opts, Paths(), sched), 3, n_jobs=2)
    for a, b in zip(plain, paths):
        assert np.array_equal(a.s1, b.s1) and np.array_equal(a.s2, b.s2)
        assert a.paths is None and b.paths.shape == (7, 4, 6)
        np.testing.assert_allclose(b.paths.sum(axis=1), b.s1, rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="one sample per bin"):
        run_chunk(EnsembleProblem(s, SMALL, Paths()), chunk_seeds(0, 1)[0], 0, 4)


def test_paths_mark_a_diverged_trajectory():
    """A trajectory beyond the bound is NaN from its block on, and counted as diverged."""
    system = LangevinSystem(A=[[0.05]], D=[[0.0]])  # grows as exp(0.05 t)
    opts = SDEOptions(n_traj=4, chunk_size=4, dt=0.1, initial="gaussian",
                      initial_covariance=((0.0,),), initial_mean=(1.0,), allow_unstable=True,
                      t_burn=0.0, t_avg=40.0)
    sched = Schedule(dt=0.1, n_burn=0, n_batches=8, steps_per_batch=50, samples_per_batch=1,
                     sample_every=50, n_chunks=1, bound=2.0, record_initial=True)
    (res,) = run_ensemble(EnsembleProblem(system, opts, Paths(), sched), 0)
    t = np.arange(9) * 5.0
    finite = np.isfinite(res.paths[:, 0, 0])
    assert res.diverged == 4 and finite[0] and not finite[-1]
    np.testing.assert_allclose(res.paths[finite, 0, 0], np.exp(0.05 * t[finite]), rtol=1e-12)
    assert np.all(np.exp(0.05 * t[finite]) <= 2.0)


def test_step_size_check_is_a_paired_problem_on_the_driver():
    """The engine's step-size check is the PairedMoments problem on the seed stream after the
    chunks', bit for bit."""
    p = Params.paper()
    opts = SMALL.replace(error_check=True, method="sra1")
    with pytest.warns(Warning):
        res = simulate_sde(p, opts, seed=6)
    s = fluctuation_system(p)
    from simulator.sde.scheduling import schedule

    prob = EnsembleProblem(s, opts.replace(n_traj=16, chunk_size=16), PairedMoments(),
                           schedule(s, opts))
    (chunk,) = run_ensemble(prob, 6, stream=opts.n_chunks)
    assert step_error_report(pair_record(chunk)) == res.error_check
    again = run_chunk(prob, chunk_seeds(6, opts.n_chunks + 1)[-1], 0, 16)
    assert np.array_equal(again.s2, chunk.s2)


def test_a_seed_sequence_runs_one_auxiliary_chunk_only(tmp_path):
    s = fluctuation_system(Params.paper())
    prob = EnsembleProblem(s, SMALL)
    with pytest.raises(ValueError, match="seed: a SeedSequence"):
        run_ensemble(prob, np.random.SeedSequence(1))
    one = EnsembleProblem(s, SMALL.replace(n_traj=4), schedule=prob.schedule)
    with pytest.raises(ValueError, match="without checkpoints"):
        run_ensemble(one, np.random.SeedSequence(1), out=tmp_path / "run")
    (res,) = run_ensemble(one, np.random.SeedSequence(1))
    assert np.array_equal(res.s2, run_chunk(one, np.random.SeedSequence(1), 0, 4).s2)
