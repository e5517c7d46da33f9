"""Vectorised parameter sweeps of the linearised steady state (the paper's Figs. 1-5).

One call evaluates a whole grid: the model, stability (Routh-Hurwitz, optionally eigenvalues),
the batched Lyapunov solve and every observable are array operations over the grid, with no
Python loop over points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .linear import lyapunov_residual, routh_hurwitz_stable, solve_lyapunov
from .model import Rates, diffusion_matrix, drift_matrix, mean_field, transmission
from .observables import log_negativity, occupation, steering
from .params import Params

__all__ = ["SweepResult", "sweep"]


@dataclass(frozen=True)
class SweepResult:
    """Linearised steady state over a grid; every array has the grid shape ``S``.

    Attributes
    ----------
    params : Params
        Base point; ``grid`` holds the swept fields (SI units).
    grid : dict of str to ndarray
    stable : ndarray of bool, shape S
        Routh-Hurwitz stability.
    covariance : ndarray, shape S + (6, 6)
        NaN where unstable.
    log_negativity : dict of str to ndarray
        ``{"r_m", "l_m", "r_l"}``, NaN where unstable.
    steering : dict of str to ndarray
        ``"r->m"``, ``"m->r"``, ..., NaN where unstable.
    phonon_number : ndarray
    transmission, photon_number_r, photon_number_l, coupling_r, coupling_l : ndarray
        Mean-field quantities (defined whether or not the point is stable); couplings are
        ``|G_j| / omega_m``.
    residual : ndarray
        Relative Lyapunov residual per point (NaN where unstable).
    max_real_eigenvalue : ndarray or None
        Only when requested (``eigenvalues=True``).
    """

    params: Params
    grid: dict[str, np.ndarray]
    stable: np.ndarray
    covariance: np.ndarray
    log_negativity: dict[str, np.ndarray]
    steering: dict[str, np.ndarray]
    phonon_number: np.ndarray
    transmission: np.ndarray
    photon_number_r: np.ndarray
    photon_number_l: np.ndarray
    coupling_r: np.ndarray
    coupling_l: np.ndarray
    residual: np.ndarray
    max_real_eigenvalue: np.ndarray | None = None


def sweep(params: Params, *, eigenvalues: bool = False, **grid: Any) -> SweepResult:
    """Linearised steady state of ``params`` with fields replaced by broadcastable arrays.

    Parameters
    ----------
    params : Params
        Base point.
    eigenvalues : bool
        Also return the largest real part of the eigenvalues of ``A`` per point (costs a batched
        eigenvalue call, about as much as the Lyapunov solve).
    **grid : array_like
        Swept fields in SI units (see :meth:`Rates.from_params`), e.g.
        ``detuning=D, beta=B`` with ``D, B = np.meshgrid(...)``; ``eps`` sets the single defect.

    Examples
    --------
    >>> import numpy as np
    >>> p = Params.paper(defects=(), eta=0.0)
    >>> res = sweep(p, detuning=np.array([0.85]) * p.Gamma)
    >>> round(float(res.log_negativity["r_m"][0]), 4)
    0.1597
    """
    rates = Rates.from_params(params, **grid)
    shape = rates.shape
    mf = mean_field(rates)
    A = np.broadcast_to(drift_matrix(rates, mf), shape + (6, 6))
    D = np.broadcast_to(diffusion_matrix(rates), shape + (6, 6))
    stable = np.asarray(routh_hurwitz_stable(A))
    V = np.full(shape + (6, 6), np.nan)
    residual = np.full(shape, np.nan)
    if np.any(stable):
        V[stable] = solve_lyapunov(A[stable], D[stable])
        residual[stable] = lyapunov_residual(A[stable], V[stable], D[stable])
    with np.errstate(invalid="ignore"):
        en = log_negativity(V)
        st = steering(V)
    en = {k: np.where(stable, v, np.nan) for k, v in en.items()}
    st = {k: np.where(stable, v, np.nan) for k, v in st.items()}
    g = np.sqrt(2.0) * rates.g0
    max_re = np.linalg.eigvals(A).real.max(axis=-1) if eigenvalues else None
    return SweepResult(
        params=params,
        grid={k: np.asarray(v) for k, v in grid.items()},
        stable=stable,
        covariance=V,
        log_negativity=en,
        steering=st,
        phonon_number=occupation(V)["m"],
        transmission=np.broadcast_to(transmission(rates), shape),
        photon_number_r=np.broadcast_to(np.abs(mf.alpha_r) ** 2, shape),
        photon_number_l=np.broadcast_to(np.abs(mf.alpha_l) ** 2, shape),
        coupling_r=np.broadcast_to(g * np.abs(mf.alpha_r), shape),
        coupling_l=np.broadcast_to(g * np.abs(mf.alpha_l), shape),
        residual=residual,
        max_real_eigenvalue=max_re,
    )
