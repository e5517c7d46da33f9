"""Vectorised parameter sweeps of the linearised steady state (the paper's Figs. 1-5).

One call evaluates a whole grid: the model, stability (Routh-Hurwitz, optionally eigenvalues),
the batched Lyapunov solve and every observable are array operations over the grid, with no
Python loop over points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .conventions import covariance_xxpp as _covariance_xxpp
from .linear import grid_steady_state, lyapunov_residual
from .model import coupling, transmission
from .observables import log_negativity, occupation, steering
from .params import Params
from .protocol import ResultProtocol
from .resultfields import saved
from .units import SI_UNITS, dimension_of

__all__ = ["SweepResult", "sweep"]


@dataclass(frozen=True, repr=False)
class SweepResult(ResultProtocol):
    """Linearised steady state over a grid; every array has the grid shape ``S``.

    Carries the result protocol (:mod:`simulator.protocol`): ``save``/``load``, ``to_dict``,
    ``to_xarray`` (an axis along which one swept field alone varies is named after it, e.g.
    ``detuning``; others are ``axis_k``), ``provenance``, a one-line repr.

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

    params: Params = saved("input", decode=Params)
    grid: dict[str, np.ndarray] = saved("input")
    stable: np.ndarray = saved("outcome", dims=("...",), units="1")
    covariance: np.ndarray = saved("value", dims=("...", "mode_i", "mode_j"), units="1")
    log_negativity: dict[str, np.ndarray] = saved("value", dims=("...", "pair"), units="1")
    steering: dict[str, np.ndarray] = saved("value", dims=("...", "direction"), units="1")
    phonon_number: np.ndarray = saved("value", dims=("...",), units="1")
    transmission: np.ndarray = saved("value", dims=("...",), units="1")
    photon_number_r: np.ndarray = saved("value", dims=("...",), units="1")
    photon_number_l: np.ndarray = saved("value", dims=("...",), units="1")
    coupling_r: np.ndarray = saved("value", dims=("...",), units="omega_m")
    coupling_l: np.ndarray = saved("value", dims=("...",), units="omega_m")
    residual: np.ndarray = saved("error", dims=("...",), units="1")
    max_real_eigenvalue: np.ndarray | None = saved("record", dims=("...",), units="omega_m",
                                                   default=None)

    _file_name = "sweep"

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape ``S``."""
        return tuple(self.stable.shape)

    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """Covariances in thewalrus / Strawberry Fields form, shape ``S + (6, 6)``
        (:func:`simulator.conventions.covariance_xxpp`)."""
        return _covariance_xxpp(self.covariance, hbar)

    def _provenance_inputs(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(),
                "options": {"swept": list(self.grid),
                            "eigenvalues": self.max_real_eigenvalue is not None},
                "seeds": None}

    def _axis_names(self) -> list[str]:
        """Name of each grid axis: the swept field that varies along it alone, else ``axis_k``."""
        names: list[str] = []
        for k, n in enumerate(self.shape):
            name = f"axis_{k}"
            for field_name, value in self.grid.items():
                v = np.broadcast_to(np.asarray(value), self.shape)
                if n > 1 and field_name not in names and _varies_only_along(v, k):
                    name = field_name
                    break
            names.append(name)
        return names

    def _grid_dims(self) -> tuple[str, ...]:
        return tuple(self._axis_names())

    def _xarray_coords(self) -> dict[str, Any]:
        coords = dict(super()._xarray_coords())
        dims = self._axis_names()
        for field_name, value in self.grid.items():
            v = np.broadcast_to(np.asarray(value), self.shape)
            if field_name in dims:
                k = dims.index(field_name)
                coords[field_name] = v[tuple(slice(None) if a == k else 0 for a in range(v.ndim))]
            else:
                coords[f"{field_name}_value"] = (tuple(dims), np.array(v))
        return coords

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        out = super()._xarray_attrs()
        for field_name in self.grid:  # swept fields are in SI units (Params)
            unit = SI_UNITS[dimension_of(field_name)]
            out[field_name] = out[f"{field_name}_value"] = {"units": unit}
        return out

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": self.shape}
        for k, v in self.grid.items():
            v = np.asarray(v)
            part = " (real part)" if np.iscomplexobj(v) else ""
            v = np.real(v).astype(float)
            out[k] = f"[{v.min():.4g} .. {v.max():.4g}]{part}"
        out["stable"] = f"{int(np.count_nonzero(self.stable))}/{self.stable.size}"
        en = self.log_negativity.get("r_m")
        if en is not None and np.isfinite(en).any():
            out["max E_N[r_m]"] = float(np.nanmax(en))
        return out


def _varies_only_along(v: np.ndarray, axis: int) -> bool:
    """``v`` is constant along every axis except ``axis``."""
    ref = v[tuple(slice(None) if a == axis else slice(0, 1) for a in range(v.ndim))]
    return bool(np.all(v == ref))


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
    gs = grid_steady_state(params, **grid)
    rates, shape, mf, A, D = gs.rates, gs.shape, gs.mean_field, gs.A, gs.D
    stable, V = gs.stable, gs.covariance
    residual = np.full(shape, np.nan)
    if np.any(stable):
        residual[stable] = lyapunov_residual(A[stable], V[stable], D[stable])
    with np.errstate(invalid="ignore"):
        en = log_negativity(V)
        st = steering(V)
    en = {k: np.where(stable, v, np.nan) for k, v in en.items()}
    st = {k: np.where(stable, v, np.nan) for k, v in st.items()}
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
        coupling_r=np.broadcast_to(coupling(rates, np.abs(mf.alpha_r)), shape),
        coupling_l=np.broadcast_to(coupling(rates, np.abs(mf.alpha_l)), shape),
        residual=residual,
        max_real_eigenvalue=max_re,
    )
