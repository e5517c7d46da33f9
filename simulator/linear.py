"""Linearised (Gaussian) engine: stability, steady-state Lyapunov covariance, transient covariance.

Solves ``A V + V A^T = -D`` (paper Eq. 11) for the stationary covariance and
``dV/dt = A(t) V + V A(t)^T + D`` along a mean-field trajectory. All solvers broadcast over
leading axes so that a sweep is one vectorised call; dimensionless units (``omega_m = 1``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .conventions import QUADRATURES
from .errors import PhysicalityWarning
from .model import (
    MeanField,
    Rates,
    coupling,
    diffusion_matrix,
    drift_matrix,
    mean_field,
    transmission,
)
from .conventions import covariance_xxpp as _covariance_xxpp
from .estimate import Estimate, summary_scalars
from .observables import summary, unphysical_message
from .params import Params
from .point_model import PointModel
from .protocol import QUADRATURE_DIMS, ResultProtocol
from .resultfields import saved

__all__ = [
    "solve_lyapunov",
    "lyapunov_residual",
    "is_stable",
    "characteristic_polynomial",
    "routh_hurwitz_stable",
    "GridSteadyState",
    "grid_steady_state",
    "LyapunovResult",
    "lyapunov",
    "CovarianceTrajectory",
    "covariance_evolution",
]


# ---- stability --------------------------------------------------------------------------------
def is_stable(A: np.ndarray) -> np.ndarray:
    """``True`` where every eigenvalue of ``A`` (shape ``(..., n, n)``) has negative real part."""
    return np.linalg.eigvals(A).real.max(axis=-1) < 0.0


def characteristic_polynomial(A: np.ndarray) -> np.ndarray:
    """Coefficients ``(1, c_1, ..., c_n)`` of ``det(s I - A)`` by Faddeev-LeVerrier, batched.

    Independent of any eigenvalue routine, so that Routh-Hurwitz is a genuine cross-check.
    """
    A = np.asarray(A, dtype=float)
    n = A.shape[-1]
    eye = np.eye(n)
    coeffs = [np.ones(A.shape[:-2])]
    M = np.zeros_like(A)
    for k in range(1, n + 1):
        M = A @ M + coeffs[-1][..., None, None] * eye
        coeffs.append(-np.trace(A @ M, axis1=-2, axis2=-1) / k)
    return np.stack(coeffs, axis=-1)


def routh_hurwitz_stable(A: np.ndarray) -> np.ndarray:
    """Stability by the Routh-Hurwitz criterion, evaluated with the Routh array, batched.

    For ``det(s I - A) = s^n + a_1 s^{n-1} + ... + a_n`` every root has a negative real part iff
    all entries of the first column of the Routh array are positive (equivalently, all leading
    minors of the Hurwitz matrix are positive). A zero in the first column (a root on or
    symmetric about the imaginary axis) counts as not stable. Only elementwise arithmetic over
    the batch, no eigenvalue routine.
    """
    a = characteristic_polynomial(A)
    n = a.shape[-1] - 1
    prev, cur = a[..., 0::2], a[..., 1::2]
    width = prev.shape[-1]
    cur = np.concatenate([cur, np.zeros(a.shape[:-1] + (width - cur.shape[-1],))], axis=-1)
    stable = (prev[..., 0] > 0) & (cur[..., 0] > 0)
    for _ in range(n - 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = prev[..., :1] / cur[..., :1]
        nxt = np.zeros_like(cur)
        nxt[..., :-1] = prev[..., 1:] - ratio * cur[..., 1:]
        prev, cur = cur, nxt
        stable &= cur[..., 0] > 0
    return stable


# ---- Lyapunov equation ------------------------------------------------------------------------
def _lyapunov_operator_basis(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constant tensors turning ``A`` into the reduced Lyapunov operator by one matrix product.

    With ``k = n(n+1)/2`` independent entries of a symmetric ``V`` (upper triangle, row-major),
    ``L(V) = A V + V A^T`` is linear in both ``A`` and ``V``: ``M(A) = sum_ab A_ab B_ab`` with
    ``B_ab = E (e_ab (x) I + I (x) e_ab) P`` (``P`` duplicates, ``E`` eliminates).

    Returns
    -------
    B : ndarray, shape (n*n, k*k)
    iu, ju : ndarray, shape (k,)
        Row and column indices of the upper triangle.
    """
    iu, ju = np.triu_indices(n)
    k = len(iu)
    P = np.zeros((n * n, k))
    E = np.zeros((k, n * n))
    for col, (i, j) in enumerate(zip(iu, ju)):
        P[i * n + j, col] = P[j * n + i, col] = 1.0
        E[col, i * n + j] = 1.0
    eye = np.eye(n)
    B = np.empty((n * n, k * k))
    for a in range(n):
        for b in range(n):
            e_ab = np.zeros((n, n))
            e_ab[a, b] = 1.0
            # row-major vec: vec(A V) = (A (x) I) vec V, vec(V A^T) = (I (x) A) vec V
            B[a * n + b] = (E @ (np.kron(e_ab, eye) + np.kron(eye, e_ab)) @ P).ravel()
    return B, iu, ju


_BASIS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def solve_lyapunov(A: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Solve ``A V + V A^T = -D`` for symmetric ``V``, batched over leading axes.

    The equation is linear in the ``k = n(n+1)/2`` independent entries of ``V``. The ``k x k``
    operator of every grid point is assembled by a single matrix product with constant tensors
    (:func:`_lyapunov_operator_basis`) and all systems are solved in one batched LAPACK call, which
    is what makes grid sweeps fast (no Python loop, no Schur decomposition per point). Matrices
    with the optomechanical structure of this model take a faster exact route
    (:func:`_solve_optomechanical`).

    Parameters
    ----------
    A, D : ndarray, shape (..., n, n)
        Drift and (symmetric) diffusion matrices; they broadcast together.

    Returns
    -------
    V : ndarray, shape (..., n, n)
        Meaningful only where ``A`` is stable (check with :func:`is_stable`).
    """
    A, D = np.broadcast_arrays(np.asarray(A, float), np.asarray(D, float))
    if _has_optomechanical_structure(A, D):
        return _solve_optomechanical(A, D)
    return _solve_general(A, D)


def _solve_general(A: np.ndarray, D: np.ndarray) -> np.ndarray:
    """The ``n(n+1)/2`` reduced Kronecker system, batched (any ``n``)."""
    n = A.shape[-1]
    if n not in _BASIS:
        _BASIS[n] = _lyapunov_operator_basis(n)
    B, iu, ju = _BASIS[n]
    k = len(iu)
    batch = A.shape[:-2]
    flat = A.reshape(-1, n * n)
    used = np.flatnonzero(np.any(flat != 0.0, axis=0))  # skip structurally zero entries of A
    M = (flat[:, used] @ B[used]).reshape(batch + (k, k))
    v = np.linalg.solve(M, -D[..., iu, ju][..., None])[..., 0]
    V = np.empty(A.shape)
    V[..., iu, ju] = v
    V[..., ju, iu] = v
    return V


def _has_optomechanical_structure(A: np.ndarray, D: np.ndarray) -> bool:
    """Six variables ``(optics x4, q, p)`` with ``q`` driven only by ``p`` and itself, no direct
    ``p`` term in the optics, and no optics-mechanics cross diffusion (true for every model here)."""
    return (A.shape[-1] == 6 and A.size > 0 and not np.any(A[..., :4, 5])
            and not np.any(A[..., 4, :4]) and np.all(A[..., 4, 5] != 0)
            and not np.any(D[..., :4, 4:]))


def _solve_optomechanical(A: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Exact block elimination for ``A = [[Ao, g e_q^T], [e_p h^T, Am]]`` (optics ``o``, 4x4).

    With ``V = [[O, (c_q, c_p)], [., M]]`` the Lyapunov equation splits into
    ``Ao O + O Ao^T + g c_q^T + c_q g^T = -D_o``, the ``q`` column
    ``(Ao + a) c_q + b c_p + g M_qq = 0`` (``Am = [[a, b], [c, d]]``), the ``p`` column
    ``(Ao + d) c_p + c c_q + O h + g M_qp = 0`` and three mechanical equations. ``O`` is affine
    in ``c_q`` (one optical 10x10 solve with 5 right-hand sides), ``c_p`` follows from the ``q``
    column, which leaves 7 unknowns ``(c_q, M_qq, M_qp, M_pp)``: about 5x fewer operations than
    the 21x21 system, with the same result (tested against it and SciPy).
    """
    batch = A.shape[:-2]
    A, D = A.reshape(-1, 6, 6), D.reshape(-1, 6, 6)
    N = len(A)
    if 4 not in _BASIS:
        _BASIS[4] = _lyapunov_operator_basis(4)
    B4, iu, ju = _BASIS[4]
    Ao, g, h = A[:, :4, :4], A[:, :4, 4], A[:, 5, :4]
    a, b, c, d = A[:, 4, 4], A[:, 4, 5], A[:, 5, 4], A[:, 5, 5]
    # optical block: O = O_D + sum_k c_q[k] O_k, all packed (upper triangle, 10 entries)
    Lo = (Ao.reshape(N, 16) @ B4).reshape(N, 10, 10)
    rhs = np.empty((N, 10, 5))
    rhs[:, :, 0] = -D[:, iu, ju]
    gi, gj = g[:, iu], g[:, ju]
    for k in range(4):  # -(g e_k^T + e_k g^T)
        rhs[:, :, k + 1] = -(gi * (ju == k) + (iu == k) * gj)
    X = np.linalg.solve(Lo, rhs)
    H = np.zeros((N, 4, 10))  # H @ packed(O) = O h
    for col, (i, j) in enumerate(zip(iu, ju)):
        H[:, i, col] += h[:, j]
        if i != j:
            H[:, j, col] += h[:, i]
    Oh = H @ X
    eye = np.eye(4)
    P = -(Ao + a[:, None, None] * eye) / b[:, None, None]  # c_p = P c_q + r M_qq
    r = -g / b[:, None]
    Aod = Ao + d[:, None, None] * eye
    M = np.zeros((N, 7, 7))
    y = np.zeros((N, 7))
    M[:, :4, :4] = Aod @ P + c[:, None, None] * eye + Oh[:, :, 1:]  # p column
    M[:, :4, 4] = np.einsum("nij,nj->ni", Aod, r)
    M[:, :4, 5] = g
    y[:, :4] = -Oh[:, :, 0]
    M[:, 4, 4], M[:, 4, 5], y[:, 4] = 2 * a, 2 * b, -D[:, 4, 4]  # (q, q)
    M[:, 5, :4], M[:, 5, 4], M[:, 5, 5], M[:, 5, 6] = h, c, a + d, b  # (q, p)
    y[:, 5] = -D[:, 4, 5]
    M[:, 6, :4] = 2 * np.einsum("ni,nij->nj", h, P)  # (p, p)
    M[:, 6, 4] = 2 * np.einsum("ni,ni->n", h, r)
    M[:, 6, 5], M[:, 6, 6], y[:, 6] = 2 * c, 2 * d, -D[:, 5, 5]
    x = np.linalg.solve(M, y[:, :, None])[:, :, 0]
    cq = x[:, :4]
    cp = np.einsum("nij,nj->ni", P, cq) + r * x[:, 4:5]
    o = X[:, :, 0] + np.einsum("nck,nk->nc", X[:, :, 1:], cq)
    V = np.empty((N, 6, 6))
    V[:, iu, ju] = o
    V[:, ju, iu] = o
    V[:, :4, 4] = V[:, 4, :4] = cq
    V[:, :4, 5] = V[:, 5, :4] = cp
    V[:, 4, 4], V[:, 5, 5] = x[:, 4], x[:, 6]
    V[:, 4, 5] = V[:, 5, 4] = x[:, 5]
    return V.reshape(batch + (6, 6))


def lyapunov_residual(A: np.ndarray, V: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Relative residual ``||A V + V A^T + D|| / ||D||`` (Frobenius), batched."""
    R = A @ V + V @ np.swapaxes(A, -1, -2) + D
    return np.linalg.norm(R, axis=(-2, -1)) / np.linalg.norm(D, axis=(-2, -1))


# ---- the linearised model over a grid ---------------------------------------------------------
@dataclass(frozen=True)
class GridSteadyState:
    """The linearised model over a grid of shape S (the common start of :func:`sweep`,
    :func:`~simulator.second_order.second_order` and :func:`~simulator.third_order.third_order`).

    Attributes
    ----------
    rates : Rates
    mean_field : MeanField
    A, D : ndarray, shape S + (6, 6)
        Drift and diffusion matrices (units of ``omega_m``).
    stable : ndarray of bool, shape S
        Routh-Hurwitz stability.
    covariance : ndarray, shape S + (6, 6)
        Lyapunov covariance, NaN where unstable.
    """

    rates: Rates
    mean_field: MeanField
    A: np.ndarray
    D: np.ndarray
    stable: np.ndarray
    covariance: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape ``S``."""
        return tuple(self.stable.shape)


def grid_steady_state(params: Params, **grid: Any) -> GridSteadyState:
    """Rates, mean field, ``A``, ``D``, stability and Lyapunov covariance of ``params`` with
    fields replaced by broadcastable arrays (SI units, :meth:`Rates.from_params`), batched."""
    rates = Rates.from_params(params, **grid)
    shape = rates.shape
    mf = mean_field(rates)
    A = np.broadcast_to(drift_matrix(rates, mf), shape + (6, 6))
    D = np.broadcast_to(diffusion_matrix(rates), shape + (6, 6))
    stable = np.asarray(routh_hurwitz_stable(A))
    V = np.full(shape + (6, 6), np.nan)
    if np.any(stable):
        V[stable] = solve_lyapunov(A[stable], D[stable])
    return GridSteadyState(rates, mf, A, D, stable, V)


# ---- steady-state result ----------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class LyapunovResult(ResultProtocol):
    """Linearised steady state of one parameter point.

    Attributes
    ----------
    params : Params
    rates : Rates
    mean_field : MeanField
    A, D : ndarray, shape (6, 6)
        Drift and diffusion matrices (units of ``omega_m``).
    eigenvalues : ndarray of complex, shape (6,)
        Eigenvalues of ``A`` (units of ``omega_m``), sorted by decreasing real part.
    stable : bool
        Every eigenvalue has a negative real part.
    covariance : ndarray, shape (6, 6) or None
        Stationary covariance (``None`` if unstable).
    residual : float or None
        Relative Lyapunov residual of ``covariance``.
    observables : dict
        Every covariance-based observable (:func:`simulator.observables.summary`).
    status : str
        ``"ok"``, ``"unstable"`` (no stationary state) or ``"unphysical"`` (the covariance violates
        ``V + i Omega/2 >= 0``; cannot happen in the model, so it flags a numerical problem); see
        :data:`simulator.errors.STATUSES`.
    message : str
        Why the status is not ``"ok"`` (empty if it is).
    """

    params: Params = saved("input", decode=Params)
    rates: Rates = saved(stored=False)
    mean_field: MeanField = saved(stored=False)
    A: np.ndarray = saved("record", dims=QUADRATURE_DIMS, units="omega_m")
    D: np.ndarray = saved("record", dims=QUADRATURE_DIMS, units="omega_m")
    eigenvalues: np.ndarray = saved("record", dims=("eigenvalue",), units="omega_m")
    stable: bool = saved("outcome")
    covariance: np.ndarray | None = saved("value", dims=QUADRATURE_DIMS, units="1")
    residual: float | None = saved("error")
    observables: dict[str, Any] = saved("value", default_factory=dict)
    status: str = saved("outcome", default="ok")
    message: str = saved("outcome", default="")

    @property
    def slowest_rate(self) -> float:
        """``-max Re(lambda)``: the relaxation rate of the slowest mode (units of ``omega_m``)."""
        return float(-self.eigenvalues.real.max())

    @property
    def unstable_eigenvalues(self) -> np.ndarray:
        """Eigenvalues with a non-negative real part."""
        return self.eigenvalues[self.eigenvalues.real >= 0.0]

    @property
    def log_negativity(self) -> dict[str, float] | None:
        """``E_N`` per pair ``{"r_m", "l_m", "r_l"}`` (``None`` if unstable)."""
        return self.observables.get("log_negativity")

    def __str__(self) -> str:
        head = f"LyapunovResult(status={self.status}"
        if self.log_negativity is not None:
            head += f", E_N r_m={self.log_negativity['r_m']:.5f}"
        head += f", slowest rate={self.slowest_rate:.4g} omega_m)"
        return head if self.status == "ok" else f"{head}: {self.message}"

    def _record(self) -> dict[str, Any]:
        """JSON-ready record of every number (see the README for the schema); ``to_dict()``
        adds ``provenance``."""
        mf, r = self.mean_field, self.rates
        photons = mf.photon_number
        out: dict[str, Any] = {
            "status": self.status,
            "message": self.message,
            "stable": self.stable,
            "eigenvalues": [[float(e.real), float(e.imag)] for e in self.eigenvalues],
            "quadratures": list(QUADRATURES),
            "covariance": None if self.covariance is None else self.covariance.tolist(),
            "lyapunov_residual": self.residual,
            "log_negativity": None,
            "steering": None,
            "phonon_number": None,
            "purity": None,
            "transmission": float(transmission(r)),
            "photon_number": {"r": float(photons["r"]), "l": float(photons["l"])},
            "coupling": {
                "r": float(coupling(r, abs(mf.alpha_r))),
                "l": float(coupling(r, abs(mf.alpha_l))),
            },
            "mean_field": {
                "alpha_r": [float(mf.alpha_r.real), float(mf.alpha_r.imag)],
                "alpha_l": [float(mf.alpha_l.real), float(mf.alpha_l.imag)],
                "q": float(mf.q),
                "effective_detuning_over_Gamma": float(r.delta / r.Gamma),
                "bare_detuning_over_Gamma": float(mf.bare_detuning / r.Gamma),
            },
            "units": "rates and eigenvalues in units of omega_m; detunings over Gamma",
            "params": self.params.to_dict(),
        }
        out.update(self.observables)
        return out

    # ---- result protocol (simulator.protocol) -------------------------------------------------
    _file_name = "lyapunov"

    @classmethod
    def _complete(cls, values: dict[str, Any]) -> dict[str, Any]:
        rates = Rates.from_params(values["params"])
        return {**values, "rates": rates, "mean_field": mean_field(rates)}

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stable": self.stable}
        if self.stable:
            out["E_N[r_m]"] = self.log_negativity["r_m"]
            out["phonon_number"] = self.observables["phonon_number"]
        out["slowest_rate"] = self.slowest_rate
        out["detuning/Gamma"] = float(self.rates.delta / self.rates.Gamma)
        if hasattr(self, "status"):
            out["status"] = self.status
        return out

    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """The covariance in thewalrus / Strawberry Fields form: order ``(x_r, x_l, x_m, p_r,
        p_l, p_m)``, vacuum ``hbar/2`` (:func:`simulator.conventions.covariance_xxpp`).

        Raises ``ValueError`` for an unstable point (no covariance)."""
        if self.covariance is None:
            raise ValueError("covariance_xxpp: the point is unstable, there is no covariance")
        return _covariance_xxpp(self.covariance, hbar)

    def to_estimate(self) -> Estimate:
        """The linearised solution as an :class:`~simulator.compare.Estimate` with zero error
        (it is the reference; ``info["residual"]`` is its relative Lyapunov residual)."""
        if self.covariance is None:
            raise ValueError("to_estimate: the point is unstable, there is no covariance")
        scalars = summary_scalars(self.observables)
        return Estimate("lyapunov", self.covariance, np.zeros((6, 6)), scalars,
                        {k: 0.0 for k in scalars}, "truncation", {"residual": self.residual})


def lyapunov(params: Params) -> LyapunovResult:
    """Linearised steady state of ``params`` at its effective detuning.

    Builds the mean field (Eq. 10), ``A`` and ``D``, checks stability, solves ``A V + V A^T = -D``
    and evaluates every observable. An unstable point is returned with ``stable=False``,
    ``status="unstable"`` and no covariance, never raised. A covariance that violates the
    uncertainty principle gets ``status="unphysical"`` and a :class:`PhysicalityWarning`.

    Examples
    --------
    >>> res = lyapunov(Params.paper())
    >>> res.stable, round(res.log_negativity["r_m"], 4)
    (True, 0.1597)
    """
    if not isinstance(params, Params):
        raise TypeError(f"params: expected Params (e.g. Params.paper()), got "
                        f"{type(params).__name__}")
    rates = Rates.from_params(params)
    mf = mean_field(rates)
    A, D = drift_matrix(rates, mf), diffusion_matrix(rates)
    eig = np.linalg.eigvals(A)
    eig = eig[np.argsort(-eig.real, kind="stable")]
    stable = bool(eig.real.max() < 0.0)
    V = residual = None
    obs: dict[str, Any] = {}
    status, message = "ok", ""
    if stable:
        V = solve_lyapunov(A, D)
        residual = float(lyapunov_residual(A, V, D))
        obs = summary(V)
        why = unphysical_message(V, what="Lyapunov covariance")
        if why is not None:
            status, message = "unphysical", why
            warnings.warn(why, PhysicalityWarning, stacklevel=2)
    else:
        bad = ", ".join(f"{e.real:+.4e}{e.imag:+.4e}i" for e in eig[eig.real >= 0.0])
        status = "unstable"
        message = (f"eigenvalue(s) of the drift matrix with non-negative real part: {bad} "
                   "(units of omega_m); no stationary state")
    return LyapunovResult(params, rates, mf, A, D, eig, stable, V, residual, obs, status, message)


# ---- transient covariance ---------------------------------------------------------------------
@dataclass(frozen=True)
class CovarianceTrajectory:
    """Mean field and covariance as functions of time (linearised transient).

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Times (units of ``1/omega_m``).
    mean : ndarray, shape (n_t, 6)
        Mean-field phase-space vector ``(X_r, Y_r, X_l, Y_l, q, p)``.
    covariance : ndarray, shape (n_t, 6, 6)
    """

    t: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray

    @property
    def photon_number(self) -> dict[str, np.ndarray]:
        """Mean-field photon numbers ``|alpha|^2 = (X^2 + Y^2)/2`` against time."""
        m = self.mean
        return {"r": 0.5 * (m[:, 0] ** 2 + m[:, 1] ** 2), "l": 0.5 * (m[:, 2] ** 2 + m[:, 3] ** 2)}


def covariance_evolution(
    rates: Rates,
    t_eval: np.ndarray,
    V0: np.ndarray,
    *,
    u0: np.ndarray | None = None,
    bare_detuning: float | None = None,
    drive_scale: Callable[[float], float] | None = None,
    mean_path: Callable[[float], np.ndarray] | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-9,
) -> CovarianceTrajectory:
    """Integrate ``dV/dt = A(t) V + V A(t)^T + D`` along a mean-field trajectory.

    By default the mean field is integrated together with ``V`` from the plain mean-field
    equations (:func:`~simulator.model.nonlinear_drift` without the Wigner correction), starting
    at ``u0`` (the fixed point if ``None``), at the given bare detuning (the fixed point's if
    ``None``), with the drive multiplied by ``drive_scale(t)`` (1 if ``None``). Alternatively
    ``mean_path(t) -> u`` gives the trajectory.

    Parameters
    ----------
    rates : Rates
        A single point (scalar fields).
    t_eval : ndarray, shape (n_t,)
        Output times (units of ``1/omega_m``), increasing; integration starts at ``t_eval[0]``.
    V0 : ndarray, shape (6, 6)
        Covariance at ``t_eval[0]``.
    """
    if rates.shape != ():
        raise ValueError(f"covariance_evolution needs a single point, got grid shape {rates.shape}")
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or len(t_eval) < 2 or np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be a strictly increasing 1-d array of at least 2 times")
    mf = mean_field(rates)
    delta_a = float(mf.bare_detuning) if bare_detuning is None else float(bare_detuning)
    D = diffusion_matrix(rates)

    point = PointModel(rates, delta_a)  # the model's functions in scalar arithmetic, same bits

    if mean_path is not None:

        def rhs(t: float, y: np.ndarray) -> np.ndarray:
            V = y.reshape(6, 6)
            A = point.drift_matrix(np.reshape(mean_path(t), 6))
            return (A @ V + V @ A.T + D).ravel()

        y0 = np.asarray(V0, dtype=float).ravel()
    else:
        u_start = mf.vector() if u0 is None else np.asarray(u0, dtype=float)

        def rhs(t: float, y: np.ndarray) -> np.ndarray:
            u, V = y[:6], y[6:].reshape(6, 6)
            scale = 1.0 if drive_scale is None else drive_scale(t)
            du = point.nonlinear_drift(u, drive_scale=scale, wigner_correction=False)
            A = point.drift_matrix(u)
            return np.concatenate([du, (A @ V + V @ A.T + D).ravel()])

        y0 = np.concatenate([u_start, np.asarray(V0, dtype=float).ravel()])
    from scipy.integrate import solve_ivp  # lazy: scipy.integrate is most of the import time

    scale = np.abs(y0) + 1.0
    sol = solve_ivp(rhs, (t_eval[0], t_eval[-1]), y0, method="DOP853", t_eval=t_eval,
                    rtol=rtol, atol=atol * scale)
    if not sol.success:
        raise RuntimeError(f"covariance_evolution: integrator failed: {sol.message}")
    if mean_path is not None:
        mean = np.array([mean_path(t) for t in sol.t], dtype=float)
        cov = sol.y.T.reshape(-1, 6, 6)
    else:
        mean, cov = sol.y[:6].T, sol.y[6:].T.reshape(-1, 6, 6)
    cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    return CovarianceTrajectory(t=sol.t, mean=mean, covariance=cov)
