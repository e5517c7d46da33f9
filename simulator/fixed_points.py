"""All mean-field fixed points at a given *bare* detuning (optical multistability).

At fixed laser detuning ``Delta_a`` the displacement solves ``q = g0 N(x)`` with
``x = Delta_a + Delta_J - g0 q`` the shifted detuning and ``N(x) = |alpha_r|^2 + |alpha_l|^2`` from
Eq. 10 (``q (1 + gamma_m^2/4) = g0 N`` with RWA damping). Writing ``q = (s - x)/g0`` with ``s = Delta_a + Delta_J`` turns it into the quintic

    (s - x) |(i x + Gamma)^2 + J1 J2|^2 - g0^2 E^2 (x^2 + Gamma^2 + |J2|^2) = 0,

whose real roots are the fixed points (one, three, or, with split doublets, five).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Polynomial

from .model import MeanField, Rates, drift_matrix, mean_field, static_stiffness
from .params import Params

__all__ = ["FixedPoints", "fixed_points"]


@dataclass(frozen=True)
class FixedPoints:
    """Every fixed point at one bare detuning, sorted by increasing ``q``.

    Attributes
    ----------
    bare_detuning : float
        ``Delta_a / omega_m``.
    points : tuple of MeanField
    stable : tuple of bool
        Linear stability of each point (eigenvalues of its drift matrix).
    max_real_eigenvalue : tuple of float
    """

    bare_detuning: float
    points: tuple[MeanField, ...]
    stable: tuple[bool, ...]
    max_real_eigenvalue: tuple[float, ...]

    @property
    def multiple(self) -> bool:
        """More than one fixed point (whatever their stability); see :attr:`multistable` for more
        than one *stable* point."""
        return len(self.points) > 1

    @property
    def bistable(self) -> bool:
        """Deprecated alias of :attr:`multiple` (it never meant "two stable points")."""
        warnings.warn("FixedPoints.bistable is deprecated: it means more than one fixed point; "
                      "use FixedPoints.multiple (or .multistable for more than one stable point)",
                      DeprecationWarning, stacklevel=2)
        return self.multiple

    @property
    def multistable(self) -> bool:
        """More than one linearly stable fixed point (bistability or more)."""
        return sum(self.stable) > 1

    @property
    def effective_detunings(self) -> np.ndarray:
        """``Delta / omega_m`` of each point."""
        return np.array([float(p.effective_detuning) for p in self.points])


def fixed_points(params: Params, bare_detuning: float, *, tol: float = 1e-7) -> FixedPoints:
    """Find all fixed points for laser detuning ``bare_detuning`` (``Delta_a``, units of omega_m).

    The drive amplitude is ``params.drive_amplitude`` (its dependence on the detuning through
    ``omega_d`` is a relative ``1e-8`` effect and is not iterated).

    Parameters
    ----------
    params : Params
        ``params.detuning`` is ignored except through the drive amplitude.
    bare_detuning : float
        ``Delta_a / omega_m``.
    tol : float
        Relative size of the imaginary part below which a root counts as real.
    """
    rates = Rates.from_params(params)
    s = float(bare_detuning) + float(rates.delta_J)
    gam, c = float(rates.Gamma + rates.gamma_J), complex(rates.j1 * rates.j2)
    g0, e = float(rates.g0), float(rates.drive)
    x = Polynomial([0.0, 1.0])
    re_part = gam**2 + c.real - x**2
    im_part = 2.0 * gam * x + c.imag
    den = re_part**2 + im_part**2
    num = x**2 + gam**2 + abs(complex(rates.j2)) ** 2
    stiffness = float(static_stiffness(rates))
    poly = (s - x) * den - (g0 * e) ** 2 / stiffness * num
    roots = poly.roots()
    scale = max(1.0, abs(s), gam)
    real = sorted({float(r.real) for r in roots if abs(r.imag) < tol * max(scale, abs(r))},
                  reverse=True)
    dpoly = poly.deriv()
    points, stable, max_re = [], [], []
    for xr in real:  # decreasing x is increasing q
        for _ in range(3):  # Newton polish
            d = dpoly(xr)
            if d != 0.0:
                xr -= poly(xr) / d
        r_pt = dataclasses.replace(rates, delta=np.asarray(xr - float(rates.delta_J)))
        mf = mean_field(r_pt)
        eig = np.linalg.eigvals(drift_matrix(r_pt, mf))
        points.append(mf)
        max_re.append(float(eig.real.max()))
        stable.append(bool(eig.real.max() < 0.0))
    return FixedPoints(float(bare_detuning), tuple(points), tuple(stable), tuple(max_re))
