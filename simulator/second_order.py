"""The exact leading-order nonlinear correction to the linearised steady state.

The linearised (Lyapunov) covariance is the zeroth order of an expansion in the single-photon
coupling ``g0 = G0 / omega_m``. The first correction is ``O(g0^2)``: it is what a nonlinear
simulation measures as the shift of ``E_N`` away from the linearised value. This module computes
it exactly, batched over grids, in two versions:

* **quantum**: the Wigner-function equation of the full model. For
  ``H_nl = -hbar G0 (a_r^dag a_r + a_l^dag a_l) q`` the Moyal bracket has, besides the drift,
  a third-order derivative term per optical mode, ``(g0/8) (d_X^2 + d_Y^2) d_p W``; optical loss,
  the lossy scatterers' channels and both mechanical damping models are exactly Fokker-Planck,
  so this is the only non-Gaussian term of the quantum dynamics;
* **twa**: truncated Wigner (what the SDE engine integrates), the same equation without it.

In the fluctuations ``u = (dX_r, dY_r, dX_l, dY_l, dq, dp)`` about the mean field the nonlinear
drift is exactly quadratic plus a constant (:func:`nonlinear_tensors`); the moment hierarchy
closed at ``O(g0^2)`` (:mod:`simulator.closure`) gives the mean shift (``O(g0)``), the third
cumulants (``O(g0)``) and the covariance shift (``O(g0^2)``). The shifts of ``E_N`` and steering
are their first-order changes along the covariance shift (the derivative times
``covariance_shift``), so that both are exact to ``O(g0^2)``. Derivation and checks:
``docs/second_order.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .closure import SecondOrderMoments, directional_derivative, second_order_moments
from .conventions import PAIRS
from .linear import grid_steady_state
from .model import nonlinear_tensors
from .observables import log_negativity, log_negativity_raw, steering, steering_raw
from .params import Params
from .protocol import ResultProtocol
from .resultfields import saved

__all__ = ["nonlinear_tensors", "SecondOrderShift", "SecondOrderResult", "second_order",
           "KINDS"]

#: The two versions of the correction: the full quantum one and truncated Wigner's.
KINDS = ("quantum", "twa")


def _pair_derivative(raw, clipped, V, dV) -> dict[str, np.ndarray]:
    """First-order change of each clipped quantity along ``dV``: the derivative of the raw one
    where it is positive, 0 where it is negative (clipped at zero, it stays there)."""
    keys = list(clipped(V))
    d = directional_derivative(lambda W: np.stack(list(raw(W).values()), axis=-1), V, dV)
    now = clipped(V)
    return {key: np.where(np.isnan(now[key]), np.nan, np.where(now[key] > 0.0, d[..., k], 0.0))
            + 0.0 for k, key in enumerate(keys)}


@dataclass(frozen=True)
class SecondOrderShift:
    """One version (quantum or truncated Wigner) of the ``O(g0^2)`` correction, grid shape S.

    Attributes
    ----------
    mean_shift : ndarray, shape S + (6,)
        ``<u> - u_meanfield`` to ``O(g0)`` (quadrature units; the same in both versions).
    third_cumulant : ndarray, shape S + (6, 6, 6)
        ``<du_i du_j du_k>`` to ``O(g0)``.
    covariance_shift : ndarray, shape S + (6, 6)
        ``V - V_Lyapunov`` to ``O(g0^2)``.
    log_negativity_shift : dict of str to ndarray, shape S
        ``{"r_m", "l_m", "r_l"}``: derivative of ``E_N`` times ``covariance_shift`` (0 where the
        pair is not entangled).
    steering_shift : dict of str to ndarray, shape S
        ``"r->m"``, ``"m->r"``, ...: the same for Gaussian steering.
    """

    mean_shift: np.ndarray
    third_cumulant: np.ndarray
    covariance_shift: np.ndarray
    log_negativity_shift: dict[str, np.ndarray]
    steering_shift: dict[str, np.ndarray]

    @classmethod
    def from_moments(cls, mom: SecondOrderMoments) -> "SecondOrderShift":
        V, dV = mom.covariance, mom.covariance_shift
        return cls(mom.mean_shift, mom.third_cumulant, dV,
                   _pair_derivative(log_negativity_raw, log_negativity, V, dV),
                   _pair_derivative(steering_raw, steering, V, dV))

    def record(self, index: tuple = ()) -> dict[str, Any]:
        """JSON record of one grid point: ``covariance_shift`` (6x6), ``log_negativity_shift``,
        ``steering_shift``, ``mean_shift`` (6)."""
        return {
            "covariance_shift": np.asarray(self.covariance_shift[index]).tolist(),
            "log_negativity_shift": {k: float(v[index])
                                     for k, v in self.log_negativity_shift.items()},
            "steering_shift": {k: float(v[index]) for k, v in self.steering_shift.items()},
            "mean_shift": np.asarray(self.mean_shift[index]).tolist(),
        }


@dataclass(frozen=True, repr=False)
class SecondOrderResult(ResultProtocol):
    """Linearised steady state and its exact ``O(g0^2)`` nonlinear correction over a grid S.

    ``V = covariance + quantum.covariance_shift + O(g0^4)`` (the full model) and
    ``V_TWA = covariance + twa.covariance_shift + O(g0^4)`` (what truncated Wigner converges to
    as ``dt -> 0``). Unstable points hold NaN.

    Attributes
    ----------
    params : Params
        Base point (``grid`` holds swept fields, SI units, as in :func:`simulator.sweep.sweep`).
    grid : dict of str to ndarray
    stable : ndarray of bool, shape S
    g0_over_Gamma : ndarray, shape S
        ``G0 / Gamma``: the shifts scale as its square.
    covariance : ndarray, shape S + (6, 6)
        Lyapunov covariance.
    log_negativity, steering : dict of str to ndarray, shape S
        Of ``covariance``.
    quantum, twa : SecondOrderShift
    """

    params: Params = saved("input", decode=Params)
    grid: dict[str, np.ndarray] = saved("input")
    stable: np.ndarray = saved("outcome")
    g0_over_Gamma: np.ndarray = saved("input")
    covariance: np.ndarray = saved("reference")
    log_negativity: dict[str, np.ndarray] = saved("reference")
    steering: dict[str, np.ndarray] = saved("reference")
    quantum: SecondOrderShift = saved("value", decode=SecondOrderShift)
    twa: SecondOrderShift = saved("value", decode=SecondOrderShift)

    _file_name = "second_order"

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape ``S``."""
        return tuple(self.stable.shape)

    def coefficient(self, kind: str = "quantum", pair: str = "r_m") -> np.ndarray:
        """``dE_N / (G0/Gamma)^2`` of ``pair``: the shift per squared coupling, independent of
        ``G0`` at this order (shape S)."""
        return getattr(self, _kind(kind)).log_negativity_shift[pair] / self.g0_over_Gamma**2

    def ratio(self, pair: str = "r_m") -> np.ndarray:
        """Truncated Wigner's shift of ``E_N[pair]`` over the quantum one (shape S)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.twa.log_negativity_shift[pair]
                    / self.quantum.log_negativity_shift[pair])

    def second_order_record(self, index: tuple = ()) -> dict[str, Any]:
        """The ``second_order`` JSON object of one point: the quantum shifts at the point's own
        ``G0`` and, under ``twa``, truncated Wigner's."""
        return {**self.quantum.record(index), "twa": self.twa.record(index),
                "g0_over_Gamma": float(self.g0_over_Gamma[index]),
                "log_negativity_coefficient": {
                    kind: {k: float(getattr(self, kind).log_negativity_shift[k][index]
                                    / self.g0_over_Gamma[index] ** 2) for k in PAIRS}
                    for kind in KINDS},
                "order": "V = V_Lyapunov + covariance_shift + O(G0^4); E_N and steering shifts "
                         "are the derivative along covariance_shift"}

    # ---- result protocol --------------------------------------------------------------------
    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        grid = tuple(f"axis_{k}" for k in range(len(self.shape)))
        dims = {"covariance": ("mode_i", "mode_j"), "mean_shift": ("mode_i",),
                "third_cumulant": ("mode_i", "mode_j", "mode_k")}
        out = {}
        for name, arr in self._arrays().items():
            if name.startswith("grid."):
                continue
            last = name.split(".")[-1] if "." in name else name
            tail = dims.get("covariance" if last == "covariance_shift" else last, ())
            out[name.replace(".", "_")] = (grid + tail, arr)
        return out

    def _xarray_coords(self) -> dict[str, Any]:
        from .conventions import QUADRATURES

        return {**super()._xarray_coords(), "mode_k": list(QUADRATURES)}

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        # quadrature moments, E_N, steering, G0/Gamma and flags are all dimensionless
        return {**super()._xarray_attrs(), **{k: {"units": "1"} for k in self._xarray_vars()}}

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": self.shape}
        out["stable"] = f"{int(np.count_nonzero(self.stable))}/{self.stable.size}"
        if self.stable.size == 1 and bool(self.stable.ravel()[0]):
            out["E_N[r_m]"] = float(self.log_negativity["r_m"].ravel()[0])
            for kind in KINDS:
                out[f"dE_N[r_m] {kind}"] = float(
                    getattr(self, kind).log_negativity_shift["r_m"].ravel()[0])
        return out

    def _provenance_inputs(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(), "options": {"swept": list(self.grid)},
                "seeds": None}


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r}: must be one of {KINDS}")
    return kind


def second_order(params: Params, **grid: Any) -> SecondOrderResult:
    """The ``O(G0^2)`` correction, quantum and truncated Wigner, at a point or over a grid.

    Parameters
    ----------
    params : Params
        Base point (any scatterers, lossy included; either damping model).
    **grid : array_like
        Swept fields in SI units, as for :func:`simulator.sweep.sweep` (``detuning``, ``power``,
        ``beta``, ``mass``, ...); broadcast together. None: a single point (shape ``()``).

    Returns
    -------
    SecondOrderResult

    Examples
    --------
    At the paper's immune point the correction is tiny (``G0/Gamma ~ 1.2e-5``), truncated Wigner
    overstates it about twofold:

    >>> res = second_order(Params.paper())
    >>> round(float(res.coefficient("quantum")), 3), round(float(res.coefficient("twa")), 3)
    (-0.231, -0.493)
    """
    gs = grid_steady_state(params, **grid)
    rates, shape, A, D, stable, V0 = gs.rates, gs.shape, gs.A, gs.D, gs.stable, gs.covariance
    g0 = np.broadcast_to(np.asarray(rates.g0, float), shape)
    fields = {"mean_shift": np.full((2,) + shape + (6,), np.nan),
              "third_cumulant": np.full((2,) + shape + (6, 6, 6), np.nan),
              "covariance_shift": np.full((2,) + shape + (6, 6), np.nan)}
    if np.any(stable):
        # both kinds in one batch: axis 0 is (quantum, twa); truncated Wigner has T = 0
        c, Q, T = nonlinear_tensors(g0[stable])
        mom = second_order_moments(A[stable], D[stable], c, Q, np.stack([T, 0.0 * T]),
                                   V0=V0[stable])
        for name in fields:
            fields[name][:, stable] = getattr(mom, name)
    with np.errstate(invalid="ignore"):
        both = SecondOrderShift.from_moments(SecondOrderMoments(
            V0, fields["mean_shift"], fields["third_cumulant"], fields["covariance_shift"]))
    shifts = {kind: SecondOrderShift(
        both.mean_shift[k], both.third_cumulant[k], both.covariance_shift[k],
        {key: v[k] for key, v in both.log_negativity_shift.items()},
        {key: v[k] for key, v in both.steering_shift.items()}) for k, kind in enumerate(KINDS)}
    with np.errstate(invalid="ignore"):
        en, st = log_negativity(V0), steering(V0)
    return SecondOrderResult(
        params=params, grid={k: np.asarray(v) for k, v in grid.items()}, stable=stable,
        g0_over_Gamma=g0 / np.broadcast_to(rates.Gamma, shape),
        covariance=V0, log_negativity={k: np.where(stable, v, np.nan) for k, v in en.items()},
        steering={k: np.where(stable, v, np.nan) for k, v in st.items()}, **shifts)
