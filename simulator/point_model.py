"""The model at one point of a single-point :class:`~simulator.model.Rates`, in scalar arithmetic.

A mean-field path or a transient covariance (:func:`simulator.linear.covariance_evolution`, the
ring-up's mean field) asks for the drift ``10^4`` times at single phase-space points, where the
broadcasting functions of :mod:`simulator.model` spend their time on array overhead (about
17 us for :func:`~simulator.model.nonlinear_drift` and 21 us for
:func:`~simulator.model.drift_matrix_about` a call, measured). :class:`PointModel` evaluates the
same expressions, in the same order, on Python scalars: the same numbers bit for bit (tested
against the broadcasting functions on random points of every damping and scatterer kind) at a
fraction of the cost.
"""

from __future__ import annotations

import numpy as np

from .conventions import SQRT2
from .model import Rates, drift_matrix_along

__all__ = ["PointModel"]


class PointModel:
    """:func:`~simulator.model.nonlinear_drift` and :func:`~simulator.model.drift_matrix_about`
    of one point ``rates`` at the laser detuning ``bare_detuning`` (``Delta_a / omega_m``).

    Parameters
    ----------
    rates : Rates
        A single point (scalar fields).
    bare_detuning : float
    """

    def __init__(self, rates: Rates, bare_detuning: float) -> None:
        if rates.shape != ():
            raise ValueError(f"PointModel needs a single point, got grid shape {rates.shape}")
        self.rates = rates
        self.bare = bare_detuning
        # the broadcasting functions' operands, as the scalars numpy would have used
        self._dc = bare_detuning + rates.delta_J
        self._gam = rates.Gamma + rates.gamma_J
        self._g0, self._drive, self._gamma_m = rates.g0, rates.drive, rates.gamma_m
        self._ij1, self._ij2 = 1j * rates.j1, 1j * rates.j2
        self._brownian = rates.damping == "brownian"
        # the drift matrix's entries that do not depend on the point (the dtilde and G entries
        # are set per call); built by the broadcasting function itself at the origin
        self._A0 = np.array(drift_matrix_along(rates, 0j, 0j, 0.0), dtype=float)
        self._sg0 = SQRT2 * rates.g0

    def nonlinear_drift(self, u: np.ndarray, drive_scale: float = 1.0,
                        wigner_correction: bool = True) -> np.ndarray:
        """``du/dt``, shape ``(6,)``, of the full amplitudes ``u (6,)``: as
        :func:`~simulator.model.nonlinear_drift` bit for bit."""
        X_r, Y_r, X_l, Y_l, q, p = np.asarray(u, dtype=float)
        a_r, a_l = (X_r + 1j * Y_r) / SQRT2, (X_l + 1j * Y_l) / SQRT2
        rot = -1j * (self._dc - self._g0 * q) - self._gam
        da_r = rot * a_r - self._ij1 * a_l + drive_scale * self._drive
        da_l = rot * a_l - self._ij2 * a_r
        force = self._g0 * (np.abs(a_r) ** 2 + np.abs(a_l) ** 2
                            - (1.0 if wigner_correction else 0.0))
        if self._brownian:
            dq, dp = p, -q - self._gamma_m * p + force
        else:
            dq, dp = p - 0.5 * self._gamma_m * q, -q - 0.5 * self._gamma_m * p + force
        return np.array([SQRT2 * da_r.real, SQRT2 * da_r.imag, SQRT2 * da_l.real,
                         SQRT2 * da_l.imag, dq, dp])

    def drift_matrix(self, u: np.ndarray) -> np.ndarray:
        """``A``, shape ``(6, 6)``, about the full amplitudes ``u (6,)``: as
        :func:`~simulator.model.drift_matrix_about` bit for bit."""
        X_r, Y_r, X_l, Y_l, q = np.asarray(u, dtype=float)[:5]
        g_r = self._sg0 * ((X_r + 1j * Y_r) / SQRT2)
        g_l = self._sg0 * ((X_l + 1j * Y_l) / SQRT2)
        dtilde = self._dc - self._g0 * q  # (Delta_a + Delta_J) - g0 q, as numpy's order
        A = self._A0.copy()
        A[0, 1] = A[2, 3] = dtilde
        A[1, 0] = A[3, 2] = -dtilde
        A[0, 4], A[1, 4], A[2, 4], A[3, 4] = -g_r.imag, g_r.real, -g_l.imag, g_l.real
        A[5, 0], A[5, 1], A[5, 2], A[5, 3] = g_r.real, g_r.imag, g_l.real, g_l.imag
        return A
