"""SDE integrators: the fluctuation drift, measured strong orders, exactness of the linear part."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

from simulator import Params, nonlinear_drift, solve_lyapunov
from simulator.sde import METHODS, LangevinSystem, OptomechanicalRemainder, fluctuation_system
from simulator.sde.control import control_system
from simulator.sde.integrators import ExponentialEuler, integrate_path, make_integrator


@pytest.mark.parametrize(
    "params",
    [
        Params.paper(),
        Params.paper(beta=0.3),
        Params.paper(damping="rwa", beta=0.3),
        Params.paper(eta=(1.0 - 0.1j) * 0.6 * 63e6, defects=((0.3 * 63e6, 0.0), (0.2e7, 0.7))),
    ],
    ids=["immune", "beta0.3", "rwa", "complex-multi"],
)
def test_fluctuation_drift_is_exact_rewrite(params):
    """A x + N(x) equals the full nonlinear drift at u_s + x minus its value at u_s."""
    s = fluctuation_system(params)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 6)) * np.array([3, 3, 3, 3, 30, 30])
    full = nonlinear_drift(s.rates, s.mean + x, s.bare_detuning)
    at_fp = nonlinear_drift(s.rates, s.mean, s.bare_detuning)
    # the fixed point is that of the plain equations; the Wigner -g0 term is the residual there
    assert np.allclose(at_fp, [0, 0, 0, 0, 0, -float(s.rates.g0)], atol=1e-9)
    assert np.allclose(full, s.drift(x), rtol=0, atol=1e-8)
    # the remainder is genuinely nonlinear: N(2x) != 2 N(x)
    N = s.nonlinearity
    assert not np.allclose(N(2 * x), 2 * N(x))


def test_drift_matrix_is_jacobian_of_drift():
    s = fluctuation_system(Params.paper(beta=0.3))
    h = 1e-4
    J = np.empty((6, 6))
    for k in range(6):
        e = np.zeros((1, 6))
        e[0, k] = h
        J[:, k] = (s.drift(e) - s.drift(-e))[0] / (2 * h)
    assert np.allclose(J, s.A, atol=1e-9)


def _scalar_system():
    return LangevinSystem(A=[[-1.0]], D=[[1.0]], nonlinearity=lambda x: np.sin(3.0 * x))


def _optomechanical_test_system():
    # the paper's A with 10x its noise and a strong nonlinearity, so that stochastic errors show
    s = fluctuation_system(Params.paper())
    return LangevinSystem(A=s.A, D=10.0 * s.D, nonlinearity=OptomechanicalRemainder(g0=0.3))


def measured_order(system, method, *, T=1.0, levels=10, skip=3, n_levels=4, n=200, seed=3):
    """Fit log(rms error at T) against log(dt) on one shared Brownian path per trajectory.

    The reference is the same method at dt = T / 2^levels; coarser runs use the exactly
    coarsened noise of that path.
    """
    cls = METHODS[method]
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(n, system.dim))
    fine = cls(system, T / 2**levels)
    noise = fine.draw(rng, 2**levels, n)
    ref = integrate_path(fine, x0, noise)
    integ, hs, errs = fine, [], []
    for level in range(1, skip + n_levels):
        noise = integ.coarsen_path(noise)
        integ = cls(system, integ.dt * 2)
        if level >= skip:
            x = integrate_path(integ, x0, noise)
            errs.append(np.sqrt(np.mean(np.sum((x - ref) ** 2, axis=1))))
            hs.append(integ.dt)
    return np.polyfit(np.log(hs), np.log(errs), 1)[0]


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("system", ["scalar", "optomechanical"])
def test_measured_strong_order(method, system):
    sysobj = _scalar_system() if system == "scalar" else _optomechanical_test_system()
    order = measured_order(sysobj, method)
    assert abs(order - METHODS[method].strong_order) < 0.3, order


def test_linear_exact_scheme_has_no_step_size_bias_pathwise():
    """For N = 0 one exponential step of 2.0 equals 64 steps of 1/32 on the same path."""
    s0 = fluctuation_system(Params.paper())
    lin = LangevinSystem(A=s0.A, D=s0.D)
    rng = np.random.default_rng(5)
    x0 = rng.normal(size=(50, 6))
    fine = ExponentialEuler(lin, 2.0 / 64)
    noise = fine.draw(rng, 64, 50)
    x_fine = integrate_path(fine, x0, noise)
    integ = fine
    while noise[0].shape[0] > 1:
        noise = integ.coarsen_path(noise)
        integ = ExponentialEuler(lin, integ.dt * 2)
    x_coarse = integrate_path(integ, x0, noise)
    assert integ.dt == 2.0
    assert np.allclose(x_coarse, x_fine, rtol=0, atol=1e-10)


@pytest.mark.parametrize("dt", [0.01, 0.1, 0.5])
def test_linear_exact_scheme_stationary_covariance_is_lyapunov(dt):
    """The exponential scheme's discrete stationary covariance (V = E V E^T + Q) is the
    continuous Lyapunov solution at any dt; Euler-Maruyama's is biased (the test can fail)."""
    s = fluctuation_system(Params.paper())
    VL = solve_lyapunov(s.A, s.D)
    ex = ExponentialEuler(s, dt)
    V = solve_discrete_lyapunov(ex.E, ex.Q)
    assert np.allclose(V, VL, rtol=0, atol=1e-8 * np.abs(VL).max())
    em = make_integrator("euler", s, dt)
    M = np.eye(6) + dt * s.A
    if np.abs(np.linalg.eigvals(M)).max() < 1:
        V_em = solve_discrete_lyapunov(M, dt * s.D)
        assert np.abs(V_em - VL).max() > 0.01 * np.abs(VL).max()
    assert em.strong_order == 1.0


def test_integrator_rejects_bad_step():
    s = fluctuation_system(Params.paper())
    with pytest.raises(ValueError, match="dt"):
        make_integrator("exponential", s, 0.0)
    with pytest.raises(ValueError, match="method"):
        make_integrator("rk4", s, 0.1)


def test_batched_expm_matches_scipy():
    from scipy.linalg import expm as scipy_expm

    from simulator.sde.integrators import expm

    rng = np.random.default_rng(8)
    for scale in (0.01, 1.0, 30.0):
        M = rng.normal(size=(5, 12, 12)) * scale
        ref = np.stack([scipy_expm(m) for m in M])
        assert np.allclose(expm(M), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    s = fluctuation_system(Params.paper())
    assert np.allclose(expm(s.A * 0.1), scipy_expm(s.A * 0.1), rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_draw_with_reused_buffers_gives_the_same_noise(method):
    s = fluctuation_system(Params.paper())
    integ = make_integrator(method, s, 0.1)
    a = integ.draw(np.random.default_rng(4), 8, 5)
    rng = np.random.default_rng(4)
    b = integ.draw(rng, 8, 5, reuse=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = integ.draw(rng, 8, 5, reuse=True)  # the next block overwrites the buffers
    assert c[0] is b[0] and not np.array_equal(c[0], a[0])


def _systems_with_every_feature_form():
    s = _optomechanical_test_system()
    return {"features": s, "callable": _scalar_system(), "linear": LangevinSystem(A=s.A, D=s.D),
            "control2": control_system(s, order=2),
            "time-dependent": LangevinSystem(A=s.A, D=s.D, nonlinearity=s.nonlinearity,
                                             drift_at=_Modulated(s.A))}


class _Modulated:
    """A(t) = A (1 + 0.3 sin 2t): a different matrix at every step."""

    def __init__(self, A):
        self.A = np.asarray(A, dtype=float)

    def __call__(self, t):
        return (1.0 + 0.3 * np.sin(2.0 * t))[:, None, None] * self.A


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("kind", ["features", "callable", "linear", "control2",
                                  "time-dependent"])
def test_run_is_step_by_step_bit_for_bit(method, kind):
    """``run`` (the loop over buffers kept between steps) gives the numbers of ``step`` one step
    at a time, bit for bit, for every form of nonlinearity and a drift that changes every step
    (across pages of its matrices), and leaves the input alone."""
    s = _systems_with_every_feature_form()[kind]
    integ = make_integrator(method, s, 0.05)
    integ.PAGE = 4  # steps 2..8 span three pages
    x0 = np.random.default_rng(1).normal(size=(5, s.dim))
    noise = integ.draw(np.random.default_rng(2), 9, 5, t0=0.0)
    x = x0.copy()
    for j in range(2, 9):
        x = integ.step(x, tuple(a[j] for a in noise), j * 0.05)
    y = integ.run(x0, noise, 2, 9)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(integ.run(x0, noise, 2, 9), x)  # buffers reused: same again
    assert np.array_equal(integ.run(x0, noise, 3, 3), x0) and integ.run(x0, noise, 3, 3) is not x0
    assert np.array_equal(x0, np.random.default_rng(1).normal(size=(5, s.dim)))


@pytest.mark.parametrize("method", ["exponential", "sra1"])
@pytest.mark.parametrize("every, phase, keep_every", [(3, 0, 1), (4, -2, 5), (1, 0, 7), (0, 0, 2),
                                                     (1, -3, 0), (1, 0, 0), (1, -20, 0)])
def test_kernel_samples_and_keeps_where_the_step_loop_did(every, phase, keep_every, method):
    """The kernel runs the integrator between sampling events (every step sampled: one loop
    writing the samples; ``keep_every = 0``: nothing kept); samples, kept trajectories and the
    state are those of the step-by-step loop."""
    from simulator.sde.chunk import Kernel

    s = _optomechanical_test_system()
    k, n = 11, 4
    kern = Kernel(make_integrator(method, s, 0.05), np.random.default_rng(3), n,
                  keep=2 if keep_every else 0, keep_every=keep_every or 1)
    kern.step_no = 3
    x0 = np.random.default_rng(1).normal(size=(n, 6))
    buf = np.zeros((k, n, 6))
    x, m = kern.advance(x0, k, every, buf, phase)
    ref = make_integrator(method, s, 0.05)
    noise = ref.draw(np.random.default_rng(3), k, n)
    y, samples, kept = x0, [], []
    for j in range(k):
        y = ref.step(y, tuple(a[j] for a in noise))
        if every and j + 1 + phase > 0 and (j + 1 + phase) % every == 0:
            samples.append(y)
        if keep_every and (3 + j + 1) % keep_every == 0:
            kept.append(y[:2])
    np.testing.assert_array_equal(x, y)
    assert m == len(samples) and kern.step_no == 3 + k
    np.testing.assert_array_equal(buf[:m], np.array(samples).reshape(m, n, 6))
    assert len(kern.kept) == len(kept)
    for a, b in zip(kern.kept, kept):
        np.testing.assert_array_equal(a, b)


# ---- time-dependent drift A(t) --------------------------------------------------------------------
class _ConstantDrift:
    def __init__(self, A):
        self.A = np.asarray(A, dtype=float)

    def __call__(self, t):
        return np.broadcast_to(self.A, (len(t),) + self.A.shape)


class _OscillatingDecay:
    """A(t) = -(1 + 0.5 sin t) I_2: commuting, so the noise-free solution is
    x(T) = exp(-(T + 0.5 (1 - cos T))) x(0)."""

    def __call__(self, t):
        return -(1.0 + 0.5 * np.sin(t))[:, None, None] * np.eye(2)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_constant_drift_at_steps_like_the_stationary_system(method):
    """A system given A(t) = A steps bit for bit like the stationary one (paged matrices, across
    page boundaries, noise included)."""
    s = _optomechanical_test_system()
    td = LangevinSystem(A=s.A, D=s.D, nonlinearity=s.nonlinearity, drift_at=_ConstantDrift(s.A))
    assert td.time_dependent and not s.time_dependent
    a, b = make_integrator(method, s, 0.05), make_integrator(method, td, 0.05)
    b.PAGE = 7  # several pages in a short path
    x = np.random.default_rng(1).normal(size=(5, 6))
    rng_a, rng_b = np.random.default_rng(2), np.random.default_rng(2)
    xa, xb = x.copy(), x.copy()
    for block in range(3):
        na = a.draw(rng_a, 6, 5)
        nb = b.draw(rng_b, 6, 5, t0=block * 6 * 0.05)
        xa = integrate_path(a, xa, na, t0=block * 6 * 0.05)
        xb = integrate_path(b, xb, nb, t0=block * 6 * 0.05)
    np.testing.assert_allclose(xb, xa, rtol=1e-13, atol=1e-12)
    with pytest.raises(ValueError, match="start time"):
        b.step(x, tuple(v[0] for v in nb))


@pytest.mark.parametrize("method,order", [("euler", 1.0), ("exponential", 2.0), ("sra1", 2.0)])
def test_time_dependent_drift_converges_at_the_scheme_order(method, order):
    """Noise-free path of A(t) = -(1 + 0.5 sin t): the error at T = 2 falls as dt^order (Euler
    first order; the midpoint-frozen exponential and Ralston's SRA1 second order), so A(t) is
    evaluated at the right times (a scheme that froze A(0) would not converge at all)."""
    system = LangevinSystem(A=-np.eye(2), D=np.zeros((2, 2)), drift_at=_OscillatingDecay())
    T = 2.0
    exact = np.exp(-(T + 0.5 * (1.0 - np.cos(T))))
    errors = []
    for n in (20, 40, 80):
        integ = make_integrator(method, system, T / n)
        noise = tuple(np.zeros((n, 1, 2)) for _ in range(integ.n_normals))
        errors.append(abs(integrate_path(integ, np.ones((1, 2)), noise)[0, 0] - exact))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - order) < 0.15), (errors, rates)


def test_time_dependent_exponential_noise_has_the_frozen_covariance():
    """Per step the exponential noise has covariance Q of the midpoint matrix A(t + dt/2)."""
    system = LangevinSystem(A=-np.eye(2), D=np.diag([1.0, 2.0]), drift_at=_OscillatingDecay())
    integ = make_integrator("exponential", system, 0.3)
    t0 = 0.6
    z = np.random.default_rng(4).standard_normal((3, 1, 200000, 2))
    (w,) = integ.noise_from_normals(z, t0=t0)
    for k in range(3):
        a = -(1.0 + 0.5 * np.sin(t0 + (k + 0.5) * 0.3))
        Q = np.diag([1.0, 2.0]) * (np.exp(2 * a * 0.3) - 1.0) / (2 * a)
        np.testing.assert_allclose(integ._at("Q", t0 + k * 0.3), Q, rtol=1e-12)
        emp = w[k].T @ w[k] / w.shape[1]
        se = np.sqrt(2.0 / w.shape[1]) * np.diag(Q).max()
        assert np.abs(emp - Q).max() < 5 * se
    with pytest.raises(ValueError, match="time-dependent"):
        integ.coarsen((w[0],), (w[1],))
