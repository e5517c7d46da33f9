"""Moment closure of a weakly nonlinear Fokker-Planck equation with a third-order term.

For a phase-space density ``W(u)``, ``u`` of dimension ``n``, obeying

    d_t W = - d_i [(c_i + A_ij u_j + Q_ijk u_j u_k) W] + (1/2) D_ij d_i d_j W
            + T_ijk d_i d_j d_k W

(summation over repeated indices; ``Q`` symmetric in its last two indices, ``T`` fully
symmetric) with ``c, Q, T = O(eps)`` and ``A`` stable, the stationary moments have the expansion

    <u>  = m1 + O(eps^3),        m1 = O(eps)
    K    = K1 + O(eps^3),        K1 = O(eps)   (third central moments = third cumulants)
    V    = V0 + V2 + O(eps^4),   V2 = O(eps^2)

where, with Gaussian fourth moments at leading order,

    A V0 + V0 A^T + D = 0
    A m1 + c + Q:V0 = 0,                                  (Q:V)_i = Q_ijk V_jk
    sum over the 3 slots of A K1 + S = 0,                 S_ijk = 2 sym[Q_iab V0_aj V0_bk] - 6 T_ijk
    A V2 + V2 A^T + B V0 + V0 B^T + R + R^T = 0,          B_ij = 2 Q_ijk m1_k, R_ij = Q_iab K1_abj

(``sym`` sums the three placements of the free index ``i`` among ``(i, j, k)``). The ``-6 T``
comes from integrating ``u_i u_j u_k T_abc d_a d_b d_c W`` by parts three times; ``T`` does not
enter the first two moments directly. The derivation, for this model, is in
``docs/second_order.md``.

Everything broadcasts over leading (grid) axes: ``A`` has shape ``(..., n, n)``, ``Q`` and ``T``
``(..., n, n, n)``; one call solves a whole grid with batched LAPACK, no Python loop over points.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .linear import solve_lyapunov

__all__ = [
    "SecondOrderMoments",
    "third_cumulant_source",
    "solve_third_cumulant",
    "second_order_moments",
    "directional_derivative",
]

_BASIS3: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _sylvester3_basis(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constant tensors turning ``A`` into the reduced three-slot Sylvester operator.

    For a symmetric ``K`` (``k = n(n+1)(n+2)/6`` independent entries ``i <= j <= k``),
    ``L(K)_ijk = A_ia K_ajk + A_ja K_iak + A_ka K_ija`` is symmetric and linear in ``A`` and
    ``K``: ``M(A) = sum_ab A_ab B_ab`` with ``B_ab = E (e_ab x I x I + I x e_ab x I +
    I x I x e_ab) P`` (``P`` duplicates, ``E`` picks the canonical entries).

    Returns
    -------
    B : ndarray, shape (n*n, k*k)
    P : ndarray, shape (n**3, k)
    index : ndarray of int, shape (k, 3)
        The canonical triples ``i <= j <= k``.
    """
    index = np.array(list(itertools.combinations_with_replacement(range(n), 3)))
    k = len(index)
    P = np.zeros((n**3, k))
    E = np.zeros((k, n**3))
    for col, (a, b, c) in enumerate(index):
        for perm in set(itertools.permutations((a, b, c))):
            P[np.ravel_multi_index(perm, (n, n, n)), col] = 1.0
        E[col, np.ravel_multi_index((a, b, c), (n, n, n))] = 1.0
    eye = np.eye(n)
    B = np.empty((n * n, k * k))
    for a in range(n):
        for b in range(n):
            e = np.zeros((n, n))
            e[a, b] = 1.0
            op = (np.kron(np.kron(e, eye), eye) + np.kron(np.kron(eye, e), eye)
                  + np.kron(np.kron(eye, eye), e))
            B[a * n + b] = (E @ op @ P).ravel()
    return B, P, index


def _basis3(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if n not in _BASIS3:
        _BASIS3[n] = _sylvester3_basis(n)
    return _BASIS3[n]


def third_cumulant_source(V: np.ndarray, Q: np.ndarray, T: np.ndarray | None = None
                          ) -> np.ndarray:
    """The source ``S_ijk = 2 sym[Q_iab V_aj V_bk] - 6 T_ijk`` of the third-cumulant equation.

    Parameters
    ----------
    V : ndarray, shape (..., n, n)
        Gaussian (zeroth-order) covariance.
    Q : ndarray, shape (..., n, n, n)
        Quadratic drift, symmetric in its last two indices.
    T : ndarray, shape (..., n, n, n), optional
        Fully symmetric third-order derivative coefficient (``None``: zero, the truncated-Wigner
        equation).

    Returns
    -------
    S : ndarray, shape (..., n, n, n), fully symmetric.
    """
    # X_ijk = Q_iab V_aj V_bk, symmetric in (j, k); sum over the three placements of i
    V = np.asarray(V)[..., None, :, :]
    X = np.swapaxes(V, -1, -2) @ np.asarray(Q) @ V
    S = 2.0 * (X + np.swapaxes(X, -3, -2) + np.moveaxis(X, -3, -1))
    if T is not None:
        S = S - 6.0 * T
    return S


def solve_third_cumulant(A: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Solve ``A_ia K_ajk + A_ja K_iak + A_ka K_ija + S_ijk = 0`` for symmetric ``K``, batched.

    Reduced to the ``n(n+1)(n+2)/6`` independent entries (56 for ``n = 6``) and solved by one
    batched LAPACK call; the operator of every grid point is a single matrix product with
    constant tensors (:func:`_sylvester3_basis`). The solution is unique when no three
    eigenvalues of ``A`` sum to zero (always, for a stable ``A``).

    Parameters
    ----------
    A : ndarray, shape (..., n, n)
    S : ndarray, shape (..., n, n, n)
        Fully symmetric source.

    Returns
    -------
    K : ndarray, shape (..., n, n, n), fully symmetric.
    """
    A, S = np.asarray(A, float), np.asarray(S, float)
    n = A.shape[-1]
    B, P, index = _basis3(n)
    k = len(index)
    # the operator once per A; axes of S beyond A's batch become right-hand sides
    a_batch = A.shape[:-2]
    batch = np.broadcast_shapes(a_batch, S.shape[:-3])
    extra = batch[:len(batch) - len(a_batch)]
    flat = A.reshape(-1, n * n)
    used = np.flatnonzero(np.any(flat != 0.0, axis=0))  # skip structurally zero entries of A
    M = (flat[:, used] @ B[used]).reshape((-1, k, k))
    s = np.broadcast_to(S, batch + (n, n, n))[..., index[:, 0], index[:, 1], index[:, 2]]
    s = np.moveaxis(s.reshape((-1,) + a_batch + (k,)), 0, -1).reshape(M.shape[0], k, -1)
    x = np.linalg.solve(M, -s)  # (points, k, right-hand sides)
    x = np.moveaxis(x.reshape(a_batch + (k, -1)), -1, 0)
    return (x @ P.T).reshape(batch + (n, n, n))


@dataclass(frozen=True)
class SecondOrderMoments:
    """Stationary moments to second order in the nonlinearity (module docstring).

    Attributes
    ----------
    covariance : ndarray, shape (..., n, n)
        ``V0``, the Lyapunov (Gaussian, linearised) covariance.
    mean_shift : ndarray, shape (..., n)
        ``m1``, the first-order shift of the mean.
    third_cumulant : ndarray, shape (..., n, n, n)
        ``K1``, the first-order third cumulants ``<du_i du_j du_k>``.
    covariance_shift : ndarray, shape (..., n, n)
        ``V2``: ``V = V0 + V2 + O(eps^4)``.
    """

    covariance: np.ndarray
    mean_shift: np.ndarray
    third_cumulant: np.ndarray
    covariance_shift: np.ndarray


def second_order_moments(A: np.ndarray, D: np.ndarray, c: np.ndarray, Q: np.ndarray,
                         T: np.ndarray | None = None, *, V0: np.ndarray | None = None
                         ) -> SecondOrderMoments:
    """Stationary mean, covariance and third cumulants to ``O(eps^2)`` (module docstring).

    Parameters
    ----------
    A, D : ndarray, shape (..., n, n)
        Linear drift (stable) and diffusion.
    c : ndarray, shape (..., n)
        Constant drift, ``O(eps)``.
    Q : ndarray, shape (..., n, n, n)
        Quadratic drift ``du_i/dt = ... + Q_ijk u_j u_k``, symmetric in ``(j, k)``, ``O(eps)``.
    T : ndarray, shape (..., n, n, n), optional
        Fully symmetric third-order derivative term of the phase-space equation, ``O(eps)``
        (``None``: a Fokker-Planck equation, e.g. truncated Wigner). Extra leading axes
        broadcast: ``np.stack([T, 0 * T])`` solves both equations in one batch (the mean
        shift, independent of ``T``, keeps the shape of ``c``).
    V0 : ndarray, shape (..., n, n), optional
        The Lyapunov covariance, if already known.

    Returns
    -------
    SecondOrderMoments

    Examples
    --------
    An Ornstein-Uhlenbeck process with a quadratic drift ``-u + e u^2`` and noise ``D = 2``:
    ``V0 = 1``, ``m1 = e``, ``K1 = 2 e``, ``V2 = 4 e^2`` (the exact moment hierarchy gives
    ``<u^3> = 5 e``, ``<u^2> = 1 + 5 e^2``, ``<u> = e``, to this order).

    >>> e = 1e-3
    >>> res = second_order_moments(-np.eye(1), 2 * np.eye(1), np.zeros(1), e * np.ones((1, 1, 1)))
    >>> [round(float(x) / s, 9) for x, s in [(res.mean_shift[0], e),
    ...  (res.third_cumulant[0, 0, 0], e), (res.covariance_shift[0, 0], e * e)]]
    [1.0, 2.0, 4.0]
    """
    A, D = np.asarray(A, float), np.asarray(D, float)
    V0 = solve_lyapunov(A, D) if V0 is None else np.asarray(V0, float)
    Q = np.asarray(Q, float)
    drive = np.asarray(c, float) + np.einsum("...ijk,...jk->...i", Q, V0)
    m1 = -np.linalg.solve(A, drive[..., None])[..., 0]
    K = solve_third_cumulant(A, third_cumulant_source(V0, Q, T))
    B = 2.0 * np.einsum("...ijk,...k->...ij", Q, m1)
    R = np.einsum("...iab,...abj->...ij", Q, K)
    src = B @ V0 + R
    src = src + np.swapaxes(src, -1, -2)
    V2 = solve_lyapunov(A, src)
    return SecondOrderMoments(V0, m1, K, 0.5 * (V2 + np.swapaxes(V2, -1, -2)))


def directional_derivative(f: Callable[[np.ndarray], np.ndarray], V: np.ndarray,
                           dV: np.ndarray, *, rel_step: float = 1e-3) -> np.ndarray:
    """``d/dt f(V + t dV)`` at ``t = 0``, by the fourth-order central difference, batched.

    The step is ``h = rel_step ||V|| / ||dV||`` per point (Frobenius norms), so the difference
    resolves the direction whatever the size of ``dV``; the result is scaled back to ``dV``
    (``f'(V)[dV]``, linear in ``dV``). Truncation error ``O(h^4)``, round-off
    ``~1e-16 / rel_step`` relative.

    Parameters
    ----------
    f : callable
        Maps covariances ``(..., n, n)`` to values ``(...)`` or ``(..., m)``; smooth near ``V``.
    V, dV : ndarray, shape (..., n, n)
        Broadcast together.

    Returns
    -------
    ndarray, shape (...) or (..., m)
    """
    V, dV = np.broadcast_arrays(np.asarray(V, float), np.asarray(dV, float))
    norm_dv = np.linalg.norm(dV, axis=(-2, -1))
    scale = np.where(norm_dv > 0, rel_step * np.linalg.norm(V, axis=(-2, -1))
                     / np.where(norm_dv > 0, norm_dv, 1.0), 0.0)
    step = dV * scale[..., None, None]
    t = np.array([1.0, -1.0, 2.0, -2.0]).reshape((4,) + (1,) * V.ndim)
    with np.errstate(divide="ignore", invalid="ignore"):
        fp, fm, f2p, f2m = np.asarray(f(V + t * step))  # one batched call for the 4 points
        extra = (1,) * (fp.ndim - scale.ndim)  # f may add trailing axes
        out = (8.0 * (fp - fm) - (f2p - f2m)) / (12.0 * scale.reshape(scale.shape + extra))
    return np.where(norm_dv.reshape(norm_dv.shape + extra) > 0, out, 0.0)
