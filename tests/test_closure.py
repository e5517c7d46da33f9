"""Tests of simulator/closure.py: the generic O(eps^2) moment closure."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulator.closure import (directional_derivative, second_order_moments,
                               solve_third_cumulant, third_cumulant_source)
from simulator.linear import solve_lyapunov


def random_stable(rng: np.random.Generator, n: int) -> np.ndarray:
    A = rng.normal(size=(n, n))
    return A - (np.linalg.eigvals(A).real.max() + 0.5) * np.eye(n)


def symmetrise(X: np.ndarray) -> np.ndarray:
    return sum(np.transpose(X, p) for p in itertools.permutations(range(3))) / 6.0


def test_third_cumulant_solver_matches_the_full_kronecker_system():
    rng = np.random.default_rng(1)
    n = 6
    A = random_stable(rng, n)
    S = symmetrise(rng.normal(size=(n, n, n)))
    K = solve_third_cumulant(A, S)
    eye = np.eye(n)
    L = (np.kron(np.kron(A, eye), eye) + np.kron(np.kron(eye, A), eye)
         + np.kron(np.kron(eye, eye), A))
    ref = np.linalg.solve(L, -S.ravel()).reshape(n, n, n)
    np.testing.assert_allclose(K, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(K, symmetrise(K), atol=1e-14)


def test_third_cumulant_solver_is_batched():
    rng = np.random.default_rng(2)
    A = np.stack([random_stable(rng, 4) for _ in range(3)])
    S = np.stack([symmetrise(rng.normal(size=(4, 4, 4))) for _ in range(3)])
    K = solve_third_cumulant(A, S)
    for k in range(3):
        np.testing.assert_allclose(K[k], solve_third_cumulant(A[k], S[k]), rtol=1e-12)


def test_source_is_symmetric_and_holds_the_third_order_term():
    rng = np.random.default_rng(3)
    n = 4
    Q = rng.normal(size=(n, n, n))
    Q = 0.5 * (Q + np.swapaxes(Q, -1, -2))
    V = solve_lyapunov(random_stable(rng, n), np.eye(n))
    T = symmetrise(rng.normal(size=(n, n, n)))
    S = third_cumulant_source(V, Q, T)
    np.testing.assert_allclose(S, symmetrise(S), atol=1e-12)
    np.testing.assert_allclose(S - third_cumulant_source(V, Q), -6.0 * T, atol=1e-12)


def exact_hierarchy_1d(e: float, t: float, n_max: int = 40) -> tuple[float, float, float]:
    """Mean, variance and third cumulant of ``d_t W = -d[(-u + e u^2) W] + d^2 W + t d^3 W``
    from the stationary moment hierarchy truncated at ``n_max`` (exact as ``n_max`` grows):
    ``0 = -n M_n + e n M_{n+1} + n (n-1) M_{n-2} - t n (n-1) (n-2) M_{n-3}``."""
    # unknowns M_1 .. M_n_max; M_0 = 1; M_{n_max+1} dropped (tiny for small e)
    M = np.zeros((n_max, n_max))
    b = np.zeros(n_max)
    for n in range(1, n_max + 1):
        row = n - 1
        M[row, n - 1] += -n
        if n + 1 <= n_max:
            M[row, n] += e * n
        for k, coef in ((n - 2, n * (n - 1)), (n - 3, -t * n * (n - 1) * (n - 2))):
            if k == 0:
                b[row] -= coef
            elif k > 0:
                M[row, k - 1] += coef
    m = np.linalg.solve(M, b)
    m1, m2, m3 = m[:3]
    return m1, m2 - m1**2, m3 - 3 * m1 * m2 + 2 * m1**3


@pytest.mark.parametrize("with_t", [False, True])
def test_one_dimensional_closure_matches_the_exact_hierarchy_to_fourth_order(with_t):
    """The closure's error is O(e^4) in the variance: it shrinks 16x when e halves."""
    errors = []
    for e in (0.02, 0.01):
        t = 0.5 * e if with_t else 0.0
        res = second_order_moments(-np.eye(1), 2 * np.eye(1), np.zeros(1), e * np.ones((1, 1, 1)),
                                   t * np.ones((1, 1, 1)) if with_t else None)
        mean, var, k3 = exact_hierarchy_1d(e, t)
        assert abs(res.mean_shift[0] - mean) < 10 * e**3
        assert abs(res.third_cumulant[0, 0, 0] - k3) < 50 * e**3  # next order: 32 e^3 at t = 0
        errors.append(abs(1.0 + res.covariance_shift[0, 0] - var))
        assert abs(res.covariance_shift[0, 0]) > 100 * errors[-1]
    assert 12 < errors[0] / errors[1] < 20


def test_linear_system_has_no_shift():
    rng = np.random.default_rng(4)
    A = random_stable(rng, 6)
    res = second_order_moments(A, np.eye(6), np.zeros(6), np.zeros((6, 6, 6)))
    assert not res.mean_shift.any() and not res.third_cumulant.any()
    assert not res.covariance_shift.any()


def test_directional_derivative_of_a_known_function():
    rng = np.random.default_rng(5)
    V = solve_lyapunov(random_stable(rng, 4), np.eye(4))
    dV = 1e-9 * rng.normal(size=(4, 4))
    got = directional_derivative(lambda W: np.log(np.linalg.det(W)), V, dV)
    exact = np.trace(np.linalg.solve(V, dV))
    assert abs(got - exact) < 1e-8 * abs(exact)
    assert directional_derivative(lambda W: np.linalg.det(W), V, 0 * dV) == 0.0
