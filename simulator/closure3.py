"""Cumulant closures (third or fourth) of a weakly nonlinear phase-space equation, by Newton.

For a phase-space density ``W(u)``, ``u`` of dimension ``n``, obeying

    d_t W = - d_i [(c_i + A_ij u_j + Q_ijk u_j u_k) W] + (1/2) D_ij d_i d_j W
            + T_ijk d_i d_j d_k W

(``Q`` symmetric in its last two indices, ``T`` fully symmetric; :mod:`simulator.closure`),
the exact equations of the mean ``m``, the covariance ``V`` and the third cumulants ``K`` (third
central moments of ``du = u - m``) are, with ``A' = A + 2 Q(m, .)``,

    dm/dt = c + A m + Q:(V + m m^T)                                   (Q:V)_i = Q_ijk V_jk
    dV/dt = A' V + V A'^T + R + R^T + D,                              R_ij = Q_iab K_abj
    dK/dt = sym3[A' K] + sym3[Q_iab (<du_a du_b du_j du_k> - V_ab V_jk)] - 6 T_ijk

(``sym3`` sums the three placements of the free index; the diffusion drops out of the central
third moments, ``T`` out of the first two). They are exact; the only approximation here is the
closure: the fourth cumulant is set to zero, ``<du_a du_b du_j du_k> = V_ab V_jk + V_aj V_bk +
V_ak V_bj``, so the ``Q`` term of the ``K`` equation is ``2 sym3[Q_iab V_aj V_bk]``. No ``K V``
product arises in it (that would need fifth moments); ``K`` couples to ``m`` through ``A'``.

The stationary state solves ``F(m, V, K) = 0``: ``n + n(n+1)/2 + n(n+1)(n+2)/6`` unknowns (83
for ``n = 6``). ``F`` is a polynomial of degree two, so its central-difference Jacobian is exact
up to round-off; Newton's method starts from the second-order solution ``(m1, V0 + V2, K1)``.

Order of accuracy. With ``c, Q, T = O(eps)``: the neglected fourth cumulant is ``O(eps^2)`` and
enters ``K`` at ``O(eps^3)``, hence ``V`` at ``O(eps^4)``. The covariance of this closure is thus
exact to ``O(eps^2)`` like the second-order one, with a different ``O(eps^4)`` remainder (it
resums the terms of ``m``, ``V`` and ``K`` among themselves); the mean is exact to ``O(eps^3)``
(error ``O(eps^5)``, against ``O(eps^3)`` at second order).

With ``cumulants=4`` the fourth cumulant ``L`` is kept and the fifth set to zero
(``<du^5>`` = the ten pairings ``V K``). Its exact equation, after the pairings' own time
derivatives cancel the ``A'``, ``D`` and ``R`` terms, is

    dL/dt = sym4[A' L] + sym4[2 Q_iab (V_aj K_bkl + V_ak K_bjl + V_al K_bjk)]
            + sym4[Q_iab X5_abjkl]

(``X5`` the fifth cumulant, dropped; neither ``D`` nor ``T`` enters), and the ``K`` equation
gains ``sym3[Q_iab L_abjk]``. ``L = O(eps^2)`` is then exact at leading order, the neglected
fifth cumulant (``O(eps^3)``) enters ``L`` at ``O(eps^4)``, ``K`` at ``O(eps^5)`` and ``V`` at
``O(eps^6)``: this closure is exact to ``O(eps^4)`` in the covariance. 209 unknowns for
``n = 6``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .closure import second_order_moments, third_cumulant_source

__all__ = ["ThirdOrderMoments", "closure_residual", "third_order_moments"]

#: Grid points are solved in chunks of about this many Jacobian-evaluation entries (N directions
#: x N x n**cumulants per point; 8 bytes each, a few temporaries): ~100 MB.
_JACOBIAN_ENTRIES = 4_000_000


def _canonical(n: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical index tuples ``i <= j <= ...`` of a symmetric tensor (shape ``(k, rank)``) and
    the matrix ``(n**rank, k)`` duplicating them into the full tensor."""
    index = np.array(list(itertools.combinations_with_replacement(range(n), rank)))
    dup = np.zeros((n**rank, len(index)))
    for col, t in enumerate(index):
        for perm in set(itertools.permutations(t)):
            dup[np.ravel_multi_index(perm, (n,) * rank), col] = 1.0
    return index, dup


def _sym(X: np.ndarray, rank: int) -> np.ndarray:
    """Sum over the ``rank`` placements of the first index of ``X`` (shape ``(..., n, ..., n)``,
    symmetric in its last ``rank - 1`` indices): a fully symmetric tensor."""
    return sum(np.moveaxis(X, -rank, -rank + p) for p in range(rank))


def closure_residual(m: np.ndarray, V: np.ndarray, K: np.ndarray, A: np.ndarray,
                     D: np.ndarray, c: np.ndarray, Q: np.ndarray, T: np.ndarray | None = None,
                     L: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Time derivatives ``(dm/dt, dV/dt, dK/dt[, dL/dt])`` of the closed hierarchy (module
    docstring).

    Parameters
    ----------
    m : ndarray, shape (..., n)
        Mean.
    V : ndarray, shape (..., n, n)
        Covariance (symmetric).
    K : ndarray, shape (..., n, n, n)
        Third cumulants (fully symmetric).
    A, D : ndarray, shape (..., n, n)
        Linear drift and diffusion (rates; ``D`` per unit time).
    c : ndarray, shape (..., n)
    Q : ndarray, shape (..., n, n, n)
        Quadratic drift, symmetric in its last two indices.
    T : ndarray, shape (..., n, n, n), optional
        Third-order term (``None``: Fokker-Planck, e.g. truncated Wigner).
    L : ndarray, shape (..., n, n, n, n), optional
        Fourth cumulants (fully symmetric). ``None``: the third-order closure (``L = 0``, no
        ``dL/dt`` returned); given: the fourth-order closure (fifth cumulant zero).

    Returns
    -------
    Fm : ndarray, shape (..., n)
    FV : ndarray, shape (..., n, n), symmetric
    FK : ndarray, shape (..., n, n, n), fully symmetric
    FL : ndarray, shape (..., n, n, n, n), fully symmetric; only when ``L`` is given
    """
    mm = m[..., :, None] * m[..., None, :]
    Fm = c + np.einsum("...ij,...j->...i", A, m) + np.einsum("...ijk,...jk->...i", Q, V + mm)
    Aeff = A + 2.0 * np.einsum("...ijk,...k->...ij", Q, m)
    R = np.einsum("...iab,...abj->...ij", Q, K) + Aeff @ V
    FV = R + np.swapaxes(R, -1, -2) + D
    FK = _sym(np.einsum("...ia,...ajk->...ijk", Aeff, K), 3) + third_cumulant_source(V, Q, T)
    if L is None:
        return Fm, FV, FK
    FK = FK + _sym(np.einsum("...iab,...abjk->...ijk", Q, L), 3)
    Y = 2.0 * np.einsum("...iab,...aj,...bkl->...ijkl", Q, V, K, optimize=True)  # sym in (k, l)
    Y = Y + np.swapaxes(Y, -3, -2) + np.swapaxes(Y, -3, -1)  # symmetric in (j, k, l)
    FL = _sym(np.einsum("...ia,...ajkl->...ijkl", Aeff, L) + Y, 4)
    return Fm, FV, FK, FL


@dataclass(frozen=True)
class ThirdOrderMoments:
    """Stationary moments of the cumulant closure, batch shape S.

    Attributes
    ----------
    mean : ndarray, shape S + (n,)
    covariance : ndarray, shape S + (n, n)
    third_cumulant : ndarray, shape S + (n, n, n)
    fourth_cumulant : ndarray, shape S + (n, n, n, n), or None
        Only with ``cumulants=4``.
    converged : ndarray of bool, shape S
        Newton's scaled residual fell below ``tol`` at a stable fixed point of the closed moment
        dynamics ``dx/dt = F(x)`` (``abscissa < 0``). The polynomial system has other roots; one
        that is unstable is not the perturbative stationary state.
    residual : ndarray, shape S
        Final ``max |F|`` over all equations divided by ``max |D|`` (dimensionless).
    abscissa : ndarray, shape S
        Largest real part of the eigenvalues of ``dF/dx`` at the solution (rate, units of ``A``).
    iterations : int
        Newton steps taken (the batch is iterated together).
    """

    mean: np.ndarray
    covariance: np.ndarray
    third_cumulant: np.ndarray
    fourth_cumulant: np.ndarray | None
    converged: np.ndarray
    residual: np.ndarray
    abscissa: np.ndarray
    iterations: int


def third_order_moments(A: np.ndarray, D: np.ndarray, c: np.ndarray, Q: np.ndarray,
                        T: np.ndarray | None = None, *, cumulants: int = 3, tol: float = 1e-10,
                        max_iter: int = 12) -> ThirdOrderMoments:
    """Stationary mean, covariance and third cumulants, fourth (or fifth) cumulant set to zero.

    Newton's method on the ``n + n(n+1)/2 + n(n+1)(n+2)/6`` independent entries of
    ``(m, V, K)`` (plus the ``n(n+1)(n+2)(n+3)/24`` of ``L`` with ``cumulants=4``), from the
    second-order solution ``(m1, V0 + V2, K1, 0)``
    (:func:`simulator.closure.second_order_moments`), batched over the leading axes. The
    Jacobian is the central difference of the quadratic residual (exact but for round-off).

    Parameters
    ----------
    A, D : ndarray, shape (..., n, n)
        Linear drift (stable) and diffusion.
    c : ndarray, shape (..., n)
    Q : ndarray, shape (..., n, n, n)
    T : ndarray, shape (..., n, n, n), optional
    cumulants : {3, 4}
        Highest cumulant kept: 3 (fourth set to zero; covariance exact to ``O(eps^2)``) or 4
        (fifth set to zero; covariance exact to ``O(eps^4)``).
    tol : float
        Convergence: ``max |F| <= tol * max |D|`` at every point.
    max_iter : int
        Most Newton steps.

    Returns
    -------
    ThirdOrderMoments
        A point that did not converge (no stable root of the closure near the second-order
        solution, e.g. at strong nonlinearity) has ``converged = False`` and its last iterate.

    Examples
    --------
    The one-dimensional process ``-u + e u^2`` with ``D = 2`` (exact: mean ``e + 5 e^3``,
    variance ``1 + 4 e^2 + O(e^4)``; second order gives the mean ``e``):

    >>> e = 1e-2
    >>> res = third_order_moments(-np.eye(1), 2 * np.eye(1), np.zeros(1), e * np.ones((1, 1, 1)))
    >>> bool(res.converged), round((float(res.mean[0]) - e) / e**3, 2)
    (True, 5.0)
    >>> round((float(res.covariance[0, 0]) - 1) / e**2, 2)
    4.0
    """
    if cumulants not in (3, 4):
        raise ValueError(f"cumulants = {cumulants!r}: must be 3 or 4")
    A, D = np.asarray(A, float), np.asarray(D, float)
    c, Q = np.asarray(c, float), np.asarray(Q, float)
    T = None if T is None else np.asarray(T, float)
    shape = np.broadcast_shapes(A.shape[:-2], D.shape[:-2], c.shape[:-1], Q.shape[:-3],
                                () if T is None else T.shape[:-3])
    points = int(np.prod(shape))
    # flat batch of P points: (P, ...) arrays, reshaped to S at the end
    coef = [None if a is None else np.broadcast_to(a, shape + a.shape[a.ndim - k:]).reshape(
        (points,) + a.shape[a.ndim - k:]) for a, k in ((A, 2), (D, 2), (c, 1), (Q, 3), (T, 3))]
    layout = _Layout(A.shape[-1], cumulants)
    # the Jacobian holds N residuals of N x n**cumulants entries per point: cap the memory
    chunk = max(1, int(_JACOBIAN_ENTRIES // (layout.N * layout.n**cumulants)))
    parts = [_Newton(layout, [None if a is None else a[i:i + chunk] for a in coef]).solve(
        tol, max_iter) for i in range(0, points, chunk)]
    return _joined(parts, shape, layout.n)


def _joined(parts: list[ThirdOrderMoments], shape: tuple[int, ...], n: int
            ) -> ThirdOrderMoments:
    """The flat-batch results of the chunks, concatenated and reshaped to the grid ``shape``."""
    def join(name: str, tail: tuple[int, ...]) -> np.ndarray | None:
        if getattr(parts[0], name) is None:
            return None
        return np.concatenate([getattr(r, name) for r in parts]).reshape(shape + tail)

    return ThirdOrderMoments(join("mean", (n,)), join("covariance", (n, n)),
                             join("third_cumulant", (n,) * 3), join("fourth_cumulant", (n,) * 4),
                             join("converged", ()), join("residual", ()), join("abscissa", ()),
                             max(r.iterations for r in parts))


class _Layout:
    """Packing of ``(m, V, K[, L])`` into their ``N`` independent entries per point."""

    def __init__(self, n: int, cumulants: int) -> None:
        self.n, self.ranks = n, (2, 3, 4)[:cumulants - 1]
        self.canon = [_canonical(n, r) for r in self.ranks]
        self.sizes = (n,) + tuple(len(index) for index, _ in self.canon)
        self.N = sum(self.sizes)

    def unpack(self, x: np.ndarray) -> list[np.ndarray]:
        parts = np.split(x, np.cumsum(self.sizes)[:-1], axis=-1)
        return [parts[0]] + [(p @ dup.T).reshape(x.shape[:-1] + (self.n,) * r)
                             for p, r, (_, dup) in zip(parts[1:], self.ranks, self.canon)]

    def pack(self, parts) -> np.ndarray:
        return np.concatenate([parts[0]] + [P[(Ellipsis,) + tuple(index.T)]
                                            for P, (index, _) in zip(parts[1:], self.canon)],
                              axis=-1)


class _Newton:
    """Newton's method on the packed closure residual of a flat batch of points."""

    def __init__(self, layout: _Layout, coef: list[np.ndarray | None]) -> None:
        self.layout, self.coef = layout, coef
        so = second_order_moments(*coef)
        start = [so.mean_shift, so.covariance + so.covariance_shift, so.third_cumulant]
        if len(layout.ranks) == 3:
            start.append(np.zeros((len(coef[0]),) + (layout.n,) * 4))
        self.x = layout.pack(start)
        self.scale_D = np.abs(coef[1]).max(axis=(-2, -1))
        # difference steps per block, from the size of the Gaussian covariance (sv^(rank/2))
        sv = np.abs(so.covariance).max(axis=(-2, -1))
        self.h = 1e-2 * np.concatenate([np.repeat(sv[:, None] ** (r / 2), size, -1) for r, size
                                        in zip((1,) + layout.ranks, layout.sizes)], axis=-1)

    def residual(self, x: np.ndarray, sel: np.ndarray, directions: bool = False) -> np.ndarray:
        """Packed ``F`` at ``x`` for the points ``sel`` (shape (p, N), or (p, N, N) with a
        direction axis)."""
        m, V, K, *L = self.layout.unpack(x)
        args = [None if a is None else (a[sel][:, None] if directions else a[sel])
                for a in self.coef]
        return self.layout.pack(closure_residual(m, V, K, *args, *L))

    def jacobian(self, x: np.ndarray, sel: np.ndarray) -> np.ndarray:
        """``J[p, i, j] = dF_i/dx_j`` at the points ``sel`` by central differences (exact for
        the quadratic ``F``)."""
        steps = np.eye(self.layout.N) * self.h[sel][:, None, :]  # (p, N directions, N)
        Fp = self.residual(x[:, None, :] + steps, sel, True)
        Fm = self.residual(x[:, None, :] - steps, sel, True)
        return np.swapaxes((Fp - Fm) / (2.0 * self.h[sel][:, :, None]), -1, -2)

    def solve(self, tol: float, max_iter: int) -> ThirdOrderMoments:
        x, N = self.x, self.layout.N
        every = np.arange(len(x))
        F = self.residual(x, every)
        res = np.abs(F).max(axis=-1) / self.scale_D
        it = 0
        active = ~(res <= tol)  # iterate the points not yet converged and not diverging
        while it < max_iter and active.any():
            sel = every[active]
            with np.errstate(all="ignore"):
                J = self.jacobian(x[sel], sel)
                ok = np.isfinite(J).all(axis=(-2, -1)) & (np.linalg.matrix_rank(J) == N)
                dx = np.zeros((len(sel), N))
                if ok.any():
                    dx[ok] = np.linalg.solve(J[ok], F[sel][ok][..., None])[..., 0]
                x[sel[ok]] -= dx[ok]
                F[sel] = self.residual(x[sel], sel)
                res[sel] = np.abs(F[sel]).max(axis=-1) / self.scale_D[sel]
            active[sel] = ok & ~(res[sel] <= tol) & (res[sel] < 1e8)
            it += 1
        return self._result(x, np.where(np.isfinite(res), res, np.inf), tol, it)

    def _result(self, x: np.ndarray, res: np.ndarray, tol: float, it: int) -> ThirdOrderMoments:
        """The moments at ``x``, converged where the residual is below ``tol`` and the root is a
        stable fixed point of the moment dynamics (largest real part of ``dF/dx`` < 0)."""
        with np.errstate(all="ignore"):
            J = self.jacobian(np.where(np.isfinite(x), x, 0.0), np.arange(len(x)))
            good = np.isfinite(J).all(axis=(-2, -1))
            abscissa = np.full(len(x), np.inf)
            if good.any():
                abscissa[good] = np.linalg.eigvals(J[good]).real.max(axis=-1)
        m, V, K, *L = self.layout.unpack(x)
        return ThirdOrderMoments(m, V, K, L[0] if L else None, (res <= tol) & (abscissa < 0),
                                 res, abscissa, it)
