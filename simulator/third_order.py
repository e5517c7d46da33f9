"""The model's stationary state from the third-order cumulant closure (beyond ``O(G0^2)``).

:mod:`simulator.second_order` gives the exact ``O(g0^2)`` correction to the linearised state.
This module solves the closed hierarchy of mean, covariance and third cumulants with the fourth
cumulant set to zero (:mod:`simulator.closure3`), for the same Wigner equation (quantum, with the
Moyal term, or truncated Wigner), by Newton's method from the second-order solution. It agrees
with the second-order result to ``O(g0^2)`` in the covariance and differs from it at
``O(g0^4)``; with ``cumulants=4`` (fourth cumulant kept, fifth zero) the covariance is exact to
``O(g0^4)``. The ``E_N`` it reports is that of the corrected covariance itself (not a
derivative). Comparison with the master equation: ``docs/second_order.md``, section 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .closure3 import third_order_moments
from .linear import grid_steady_state
from .model import nonlinear_tensors
from .observables import log_negativity
from .params import Params

__all__ = ["ThirdOrderResult", "third_order"]

#: The two versions: the full quantum Wigner equation and truncated Wigner (as in
#: :data:`simulator.second_order.KINDS`).
KINDS = ("quantum", "twa")


@dataclass(frozen=True)
class ThirdOrderResult:
    """Third-order cumulant closure of the model over a grid S (one kind: quantum or TWA).

    Attributes
    ----------
    params : Params
        Base point (``grid`` holds swept fields, SI units).
    grid : dict of str to ndarray
    kind : str
        ``"quantum"`` (with the Moyal term) or ``"twa"`` (truncated Wigner).
    cumulants : int
        Highest cumulant kept (3 or 4; :func:`simulator.closure3.third_order_moments`).
    status : ndarray of str, shape S
        ``"ok"``, ``"unstable"`` (linearised drift unstable: not solved, NaN) or
        ``"not_converged"`` (Newton found no solution near the second-order one; the fields hold
        its last iterate).
    g0_over_Gamma : ndarray, shape S
    mean_shift : ndarray, shape S + (6,)
        ``<u> - u_meanfield`` (quadrature units).
    covariance : ndarray, shape S + (6, 6)
        Covariance of the closure (vacuum variance 1/2).
    third_cumulant : ndarray, shape S + (6, 6, 6)
        ``<du_i du_j du_k>``.
    fourth_cumulant : ndarray, shape S + (6, 6, 6, 6), or None
        Only with ``cumulants=4``.
    linear_covariance : ndarray, shape S + (6, 6)
        Lyapunov covariance.
    log_negativity : dict of str to ndarray, shape S
        ``E_N`` of ``covariance`` for ``"r_m"``, ``"l_m"``, ``"r_l"``.
    log_negativity_shift : dict of str to ndarray, shape S
        ``E_N(covariance) - E_N(linear_covariance)``.
    residual : ndarray, shape S
        Newton's final ``max |F| / max |D|``.
    iterations : int
    """

    params: Params
    grid: dict[str, np.ndarray]
    kind: str
    cumulants: int
    status: np.ndarray
    g0_over_Gamma: np.ndarray
    mean_shift: np.ndarray
    covariance: np.ndarray
    third_cumulant: np.ndarray
    fourth_cumulant: np.ndarray | None
    linear_covariance: np.ndarray
    log_negativity: dict[str, np.ndarray]
    log_negativity_shift: dict[str, np.ndarray]
    residual: np.ndarray
    iterations: int

    @property
    def converged(self) -> np.ndarray:
        """``status == "ok"`` (shape S)."""
        return self.status == "ok"

    def __str__(self) -> str:
        ok = int(np.count_nonzero(self.converged))
        head = (f"ThirdOrderResult({self.kind}, {self.cumulants} cumulants, shape "
                f"{self.status.shape}, {ok}/{self.status.size} ok")
        if self.status.size != 1:
            return head + ")"
        one = {k: float(np.ravel(v)[0]) for k, v in (
            ("E_N", self.log_negativity["r_m"]), ("shift", self.log_negativity_shift["r_m"]),
            ("residual", self.residual))}
        return (f"{head}: E_N[r_m] = {one['E_N']:.6g}, shift {one['shift']:.4g}, "
                f"residual {one['residual']:.1e}, status {np.ravel(self.status)[0]})")

    def check(self) -> "ThirdOrderResult":
        """Return ``self`` if every stable point converged, else raise ``RuntimeError`` naming
        the points that did not."""
        bad = np.argwhere(self.status == "not_converged")
        if len(bad):
            raise RuntimeError(
                f"third-order closure: Newton did not converge at {len(bad)} of "
                f"{self.status.size} points (first {tuple(bad[0])}, residual "
                f"{float(self.residual[tuple(bad[0])]):.2e}); the closure has no stationary "
                "solution near the second-order one there (nonlinearity too strong)")
        return self


def third_order(params: Params, *, kind: str = "quantum", cumulants: int = 3,
                tol: float = 1e-10, max_iter: int = 12, **grid: Any) -> ThirdOrderResult:
    """Stationary state of the third-order cumulant closure, at a point or over a grid.

    Parameters
    ----------
    params : Params
        Base point (any scatterers; either damping model).
    kind : {"quantum", "twa"}
        With the Moyal third-order term (the full model) or without (truncated Wigner).
    cumulants : {3, 4}
        3: fourth cumulant zero (83 unknowns; covariance exact to ``O(g0^2)``, remainder about
        5x smaller than second order's at the immune point). 4: fifth cumulant zero (209
        unknowns; covariance exact to ``O(g0^4)``).
    tol, max_iter : float, int
        Newton's convergence (``max |F| <= tol max |D|``) and step limit.
    **grid : array_like
        Swept fields in SI units, as for :func:`simulator.second_order.second_order`.

    Returns
    -------
    ThirdOrderResult
        Points where Newton fails have status ``"not_converged"``; ``result.check()`` raises.

    Examples
    --------
    At the immune point with ``G0/Gamma = 0.1`` (fixed ``|G_r|``) the shift is close to the
    second-order ``-0.2314 (G0/Gamma)^2``:

    >>> p = Params.paper()
    >>> k = 0.1 * p.Gamma / p.G0
    >>> res = third_order(p.replace(mass=p.mass / k**2, power=p.power / k**2))
    >>> bool(res.converged), round(float(res.log_negativity_shift["r_m"]) / 0.01, 3)
    (True, -0.234)
    """
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r}: must be one of {KINDS}")
    if cumulants not in (3, 4):
        raise ValueError(f"cumulants = {cumulants!r}: must be 3 or 4")
    gs = grid_steady_state(params, **grid)
    rates, shape, A, D, stable, V0 = gs.rates, gs.shape, gs.A, gs.D, gs.stable, gs.covariance
    g0 = np.broadcast_to(np.asarray(rates.g0, float), shape)
    m = np.full(shape + (6,), np.nan)
    V = np.full(shape + (6, 6), np.nan)
    K = np.full(shape + (6, 6, 6), np.nan)
    L = np.full(shape + (6, 6, 6, 6), np.nan) if cumulants == 4 else None
    residual = np.full(shape, np.nan)
    status = np.where(stable, "ok", "unstable").astype("<U13")
    iterations = 0
    if np.any(stable):
        c, Q, T = nonlinear_tensors(g0[stable], quantum=(kind == "quantum"))
        mom = third_order_moments(A[stable], D[stable], c, Q, T, cumulants=cumulants, tol=tol,
                                  max_iter=max_iter)
        m[stable], V[stable], K[stable] = mom.mean, mom.covariance, mom.third_cumulant
        if L is not None:
            L[stable] = mom.fourth_cumulant
        residual[stable] = mom.residual
        status[stable] = np.where(mom.converged, "ok", "not_converged")
        iterations = mom.iterations
    with np.errstate(invalid="ignore"):
        en, en0 = log_negativity(V), log_negativity(V0)
    return ThirdOrderResult(
        params=params, grid={k: np.asarray(v) for k, v in grid.items()}, kind=kind,
        cumulants=cumulants, status=status, g0_over_Gamma=g0 / np.broadcast_to(rates.Gamma, shape),
        mean_shift=m, covariance=V, third_cumulant=K, fourth_cumulant=L, linear_covariance=V0,
        log_negativity=en, log_negativity_shift={k: en[k] - en0[k] for k in en},
        residual=residual, iterations=iterations)
