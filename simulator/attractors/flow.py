"""The classical (deterministic, noise-free) fluctuation equations in scaled coordinates.

Writing ``u = u_s + x`` about the mean-field fixed point ``u_s`` (order
``(X_r, Y_r, X_l, Y_l, q, p)``, time in ``1/omega_m``) turns the plain c-number Langevin equations
(paper Eq. 3 without noise, :func:`simulator.model.nonlinear_drift` with
``wigner_correction=False``) into the exact, quadratic system

    dx/dt = A x + Q(x),      Q_k(x) = sum_ij H_kij x_i x_j,

with ``A`` the drift matrix at ``u_s`` (:func:`simulator.model.drift_matrix`) and ``H`` read off the
model's own drift by polarisation (the drift is a polynomial of degree two, so
``Q(x) = (f_0(x) + f_0(-x))/2`` with ``f_0`` the drift without the laser drive is exact): no second
copy of the physics. Every term is O(1) near the fixed point, as in the SDE engine
(:mod:`simulator.sde.system`).

Scaled coordinates. Each fluctuation is divided by its Lyapunov standard deviation
``sigma_k = sqrt(V_kk)`` and multiplied by ``g = G0/Gamma``:

    z_k = g x_k / sigma_k.

``Q`` is proportional to ``G0`` and ``A`` depends on ``G0`` only through ``|G_j| = sqrt(2) G0
|alpha_j|``, so at fixed ``|G_r|`` and detuning the flow of ``z`` is the same at every ``G0``:
amplitudes of attractors scale as ``1/G0`` in units of ``sigma``, and one search holds for all.
A point at Mahalanobis radius ``r`` (in the Lyapunov covariance ``V``, i.e.
``sqrt(x^T V^-1 x) = r``) has scaled radius ``g r = sqrt(z^T C^-1 z)``, ``C`` the correlation
matrix of ``V``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model import Rates, drift_matrix, mean_field, nonlinear_drift

__all__ = ["QuadraticFlow", "ScaledSystem", "classical_flow"]


@dataclass(frozen=True, eq=False)
class QuadraticFlow:
    """``dz/dt = A z + Q(z)`` with a quadratic ``Q``, batched, in ``d`` variables.

    The interface the attractor search uses (:mod:`simulator.attractors.search`): a flow has
    ``dim``, ``q_index`` and ``p_index`` (the oscillator whose ``z_p = 0, z_q > 0`` crossings are
    the Poincare section), ``__call__``, ``jacobian``, ``rate_bound`` and ``radius``.

    Attributes
    ----------
    A : ndarray, shape (d, d)
        Linear part (units of ``omega_m``).
    H : ndarray, shape (d, d, d)
        Quadratic part, symmetric in its last two indices: ``Q_k(z) = H_kij z_i z_j``.
    metric : ndarray, shape (d, d)
        Symmetric positive definite ``C``: the radius of ``z`` is ``sqrt(z^T C^-1 z)``.
    q_index, p_index : int
        Position and momentum of the oscillator that defines the section.
    """

    A: np.ndarray
    H: np.ndarray
    metric: np.ndarray
    q_index: int = 4
    p_index: int = 5
    _pairs: tuple = field(init=False, repr=False)
    _Hpairs: np.ndarray = field(init=False, repr=False)
    _whiten: np.ndarray = field(init=False, repr=False)
    _colour: np.ndarray = field(init=False, repr=False)
    _norm_A: float = field(init=False, repr=False)
    _norm_H: np.ndarray = field(init=False, repr=False)
    _certified: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        A, H = np.array(self.A, dtype=float), np.array(self.H, dtype=float)
        d = A.shape[0]
        if A.shape != (d, d) or H.shape != (d, d, d):
            raise ValueError(f"A: shape {A.shape} and H: shape {H.shape} must be (d, d), "
                             "(d, d, d)")
        if not np.all(np.isfinite(A)) or not np.all(np.isfinite(H)):
            raise ValueError("A, H: must be finite")
        L = np.linalg.cholesky(np.asarray(self.metric, dtype=float))  # C = L L^T
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "H", H)
        # Q_k(z) = sum_{i<=j} c_kij z_i z_j over the pairs with a nonzero coefficient
        ii, jj = np.triu_indices(d)
        coef = np.where(ii == jj, 1.0, 2.0)[:, None] * H[:, ii, jj].T  # (pairs, d)
        keep = np.any(coef != 0.0, axis=1)
        object.__setattr__(self, "_pairs", (ii[keep], jj[keep]))
        object.__setattr__(self, "_Hpairs", coef[keep].copy())
        object.__setattr__(self, "_colour", L)
        object.__setattr__(self, "_whiten", np.linalg.inv(L))
        object.__setattr__(self, "_norm_A", float(np.abs(A).sum(axis=1).max()))
        # |J(z) - A|_inf <= 2 max_k sum_ij |H_kij| |z_j|
        object.__setattr__(self, "_norm_H", 2.0 * np.abs(H).sum(axis=1).max(axis=0))
        object.__setattr__(self, "_certified", _lyapunov_region(A, H))

    @property
    def dim(self) -> int:
        """Number of variables ``d``."""
        return self.A.shape[0]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``A z + Q(z)`` for ``z`` of shape ``(n, d)``."""
        i, j = self._pairs
        return z @ self.A.T + (z[:, i] * z[:, j]) @ self._Hpairs

    def jacobian(self, z: np.ndarray) -> np.ndarray:
        """``dF/dz = A + 2 H z``, shape ``(n, d, d)`` for ``z`` of shape ``(n, d)``."""
        return self.A + 2.0 * np.einsum("kij,nj->nki", self.H, z)

    def rate_bound(self, z: np.ndarray) -> float:
        """The fastest rate of the batch (units of ``omega_m``), which sets the RK4 step: the
        spectral radius of ``J(z)`` at the member with the largest ``|J|_inf`` bound, times 1.5
        (the bound itself overstates it up to 5x in these non-normal, scaled coordinates,
        e.g. near the stability boundary)."""
        if len(z) == 0:
            return self._norm_A
        k = int(np.argmax(np.abs(z) @ self._norm_H))
        J = self.A + 2.0 * (self.H @ z[k])  # jacobian() of one member, as one product
        return 1.5 * float(np.abs(np.linalg.eigvals(J)).max())

    @property
    def slowest_rate(self) -> float:
        """``-max Re(eig A)`` (units of ``omega_m``; <= 0 if the origin is not stable)."""
        return float(-np.linalg.eigvals(self.A).real.max())

    @property
    def certified_radius(self) -> float:
        """Radius (Euclidean, in ``z``) of a ball inside :meth:`certified` (0 if none)."""
        P, c = self._certified
        return 0.0 if P is None else float(np.sqrt(c / np.linalg.eigvalsh(P).max()))

    def certified(self, z: np.ndarray) -> np.ndarray:
        """``True`` where ``z (n, d)`` lies in a region proven to flow to the origin.

        With ``A^T P + P A = -I`` and ``|Q(z)| <= h |z|^2``, ``V = z^T P z`` has
        ``dV/dt <= -|z|^2 + 2 |P| h |z|^3 < 0`` for ``|z| < rho = 1/(2 |P| h)``, so the sublevel
        set ``V < lambda_min(P) rho^2`` is invariant and every trajectory in it converges to 0.
        All ``False`` if ``A`` is not stable.
        """
        P, c = self._certified
        if P is None:
            return np.zeros(len(z), dtype=bool)
        return ((z @ P) * z).sum(axis=1) < c  # z^T P z (measured 2.4x einsum's speed)

    def radius(self, z: np.ndarray) -> np.ndarray:
        """``sqrt(z^T C^-1 z)``, shape ``(n,)``."""
        return np.linalg.norm(z @ self._whiten.T, axis=-1)

    def from_whitened(self, w: np.ndarray) -> np.ndarray:
        """The point ``z = L w`` (``C = L L^T``) whose radius is ``|w|``; shape of ``w``."""
        return w @ self._colour.T


def _lyapunov_region(A: np.ndarray, H: np.ndarray) -> tuple:
    """``(P, c)`` of :meth:`QuadraticFlow.certified`, ``(None, 0)`` if ``A`` is not stable."""
    if np.linalg.eigvals(A).real.max() >= 0.0:
        return None, 0.0
    from scipy.linalg import solve_continuous_lyapunov

    P = solve_continuous_lyapunov(A.T, -np.eye(len(A)))
    P = 0.5 * (P + P.T)
    # |Q(z)| <= h |z|^2 with h = sqrt(sum_k |H_k|_2^2) (H_k symmetric)
    h = float(np.sqrt(sum(np.linalg.norm(Hk, 2) ** 2 for Hk in H)))
    eig = np.linalg.eigvalsh(P)
    if h == 0.0:
        return P, np.inf
    rho = 1.0 / (2.0 * eig.max() * h)
    return P, float(eig.min() * rho**2)


def _quadratic_part(rates: Rates, bare_detuning: float) -> np.ndarray:
    """``H`` (shape ``(6, 6, 6)``) of the model's drift by polarisation of its quadratic part."""
    def quad(x):
        f0 = nonlinear_drift(rates, x, bare_detuning, drive_scale=0.0, wigner_correction=False)
        return 0.5 * (f0 + nonlinear_drift(rates, -x, bare_detuning, drive_scale=0.0,
                                           wigner_correction=False))

    e = np.eye(6)
    H = np.zeros((6, 6, 6))
    diag = quad(e)  # (6 points, 6 components)
    for i in range(6):
        H[:, i, i] = diag[i]
        for j in range(i + 1, 6):
            H[:, i, j] = H[:, j, i] = 0.5 * (quad(e[i] + e[j]) - diag[i] - diag[j])
    return H


@dataclass(frozen=True)
class ScaledSystem:
    """The optomechanical flow in scaled coordinates and the maps back to physical ones.

    Attributes
    ----------
    flow : QuadraticFlow
        ``dz/dt`` in scaled coordinates (module docstring).
    coupling_ratio : float
        ``g = G0 / Gamma``.
    sigma : ndarray, shape (6,)
        Lyapunov standard deviations ``sqrt(V_kk)``.
    mean : ndarray, shape (6,)
        The fixed point ``u_s``.
    """

    flow: QuadraticFlow
    coupling_ratio: float
    sigma: np.ndarray
    mean: np.ndarray

    def physical(self, z: np.ndarray) -> np.ndarray:
        """Fluctuations ``x = z sigma / g`` of scaled points ``z (..., 6)``."""
        return np.asarray(z) * self.sigma / self.coupling_ratio


def classical_flow(rates: Rates, covariance: np.ndarray) -> ScaledSystem:
    """The classical fluctuation equations of ``rates`` about their fixed point, scaled.

    Parameters
    ----------
    rates : Rates
        A single point (scalar fields).
    covariance : ndarray, shape (6, 6)
        The Lyapunov covariance ``V`` of that point (it sets ``sigma`` and the metric).

    Returns
    -------
    ScaledSystem

    Examples
    --------
    >>> import numpy as np
    >>> from simulator import Params, lyapunov
    >>> from simulator.model import nonlinear_drift
    >>> res = lyapunov(Params.paper())
    >>> s = classical_flow(res.rates, res.covariance)
    >>> z = np.full((1, 6), 0.3)                     # dx/dt from the model's own full drift
    >>> u = s.mean + s.physical(z)
    >>> full = nonlinear_drift(res.rates, u, float(res.mean_field.bare_detuning),
    ...                        wigner_correction=False)
    >>> bool(np.allclose(s.physical(s.flow(z)), full, rtol=1e-6, atol=1e-6 * abs(full).max()))
    True
    """
    if covariance is None:
        raise ValueError("covariance: None (an unstable point has no Lyapunov covariance, so no "
                         "scaled coordinates)")
    mf = mean_field(rates)
    A = drift_matrix(rates, mf)
    H = _quadratic_part(rates, float(mf.bare_detuning))
    V = np.asarray(covariance, dtype=float)
    sigma = np.sqrt(np.diag(V))
    g = float(rates.g0 / rates.Gamma)
    if not g > 0.0:
        raise ValueError(f"G0/Gamma = {g!r}: the classical flow needs a positive coupling")
    t = sigma / g  # x = t z
    Az = A * t[None, :] / t[:, None]
    Hz = H * t[None, :, None] * t[None, None, :] / t[:, None, None]
    C = V / np.outer(sigma, sigma)
    return ScaledSystem(QuadraticFlow(Az, Hz, 0.5 * (C + C.T)), g, sigma, mf.vector())
