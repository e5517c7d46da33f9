"""Derived quantities of the SI parameters: the one place each formula is written.

SI units in and out; every function broadcasts over arrays (``Rates.from_params`` passes sweep
grids, the :class:`~simulator.params.Params` properties pass scalars). Re-exported by
:mod:`simulator.params`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import math

import numpy as np

from .conventions import HBAR, K_B
from .errors import ParameterError

__all__ = ["total_decay", "single_photon_coupling", "thermal_occupation", "input_amplitude",
           "drive_amplitude", "Scattering", "scattering", "no_gain", "check_derived",
           "DERIVED_LIMIT"]


def total_decay(kappa_0, kappa_ex):
    """``Gamma = kappa_0 + kappa_ex`` (s^-1)."""
    return kappa_0 + kappa_ex


def single_photon_coupling(omega_c, radius, mass, omega_m):
    """``G0 = (omega_c / R) sqrt(hbar / (mu omega_m))`` (s^-1)."""
    return omega_c / radius * np.sqrt(HBAR / (mass * omega_m))


def thermal_occupation(temperature, omega_m):
    """``n_m = 1/(exp(hbar omega_m / k_B T) - 1)``, 0 where ``T = 0``."""
    temperature = np.asarray(temperature)
    with np.errstate(divide="ignore"):
        return np.where(
            temperature > 0,
            1.0 / np.expm1(HBAR * omega_m / (K_B * np.where(temperature > 0, temperature, 1.0))),
            0.0,
        )


def input_amplitude(power, omega_c, detuning):
    """``a_in = sqrt(P / (hbar (omega_c - detuning)))`` (s^-1/2)."""
    return np.sqrt(power / (HBAR * (omega_c - detuning)))


def drive_amplitude(kappa_ex, power, omega_c, detuning):
    """``E = sqrt(2 kappa_ex) a_in`` (s^-1), the paper's script epsilon in Eq. 3."""
    return np.sqrt(2.0 * kappa_ex) * input_amplitude(power, omega_c, detuning)


class Scattering(NamedTuple):
    """Scatterer sums (s^-1): see :class:`simulator.model.Rates` for each field's meaning."""

    j1: Any
    j2: Any
    delta_J: Any
    gamma_J: Any
    loss_12: Any


def scattering(defects, eta, beta, m: int) -> Scattering:
    """Backscattering of the defects ``(eps_j, beta_j)`` and the nanoparticle ``(eta, beta)``.

    ``J1 = sum_j eps_j e^{-2i m beta_j} + eta e^{-2i m beta}``, ``J2`` with ``e^{+2i m beta}``,
    ``Delta_J = Re(sum_j eps_j + eta)``, the diagonal loss ``gamma_J = -Im(sum_j eps_j + eta)``
    and the off-diagonal loss ``L_12 = sum_j gamma_j e^{-2i m beta_j}`` (``gamma_j = -Im eps_j``,
    nanoparticle included). Strengths and angles may be arrays that broadcast together.
    """
    j1 = sum(e * np.exp(-2j * m * b) for e, b in defects) + eta * np.exp(-2j * m * beta)
    j2 = sum(e * np.exp(+2j * m * b) for e, b in defects) + eta * np.exp(+2j * m * beta)
    delta_J = sum(np.real(e) for e, _ in defects) + np.real(eta)
    gamma_J = -(sum(np.imag(e) for e, _ in defects) + np.imag(eta))
    loss_12 = (sum(-np.imag(e) * np.exp(-2j * m * b) for e, b in defects)
               - np.imag(eta) * np.exp(-2j * m * beta))
    return Scattering(j1, j2, delta_J, gamma_J, loss_12)


def no_gain(name: str, value: complex) -> complex:
    """Refuse a scatterer with gain: ``eps = g - i gamma`` needs ``gamma >= 0``.

    The scatterer's loss matrix ``gamma [[1, e^{-2i m beta}], [e^{2i m beta}, 1]]`` has the
    eigenvalues 0 and ``2 gamma``; with ``gamma < 0`` it is not positive semidefinite (an amplifying
    channel, whose noise the model does not have).
    """
    if value.imag > 0.0:
        raise ParameterError(
            f"{name} = {value!r}: Im > 0 is gain, which the model refuses; a scatterer g - i gamma "
            f"needs gamma = -Im >= 0 (its loss matrix gamma [[1, e^(-2i m beta)], "
            f"[e^(2i m beta), 1]] has eigenvalue 2 gamma = {-2.0 * value.imag:.4g} < 0: not "
            "positive semidefinite)"
        )
    return value


#: Largest allowed size of a derived rate in units of omega_m, and of the thermal phonon number.
#: The paper's point has drive/omega_m ~ 5e4, n_m ~ 40; beyond this the double-precision
#: mean field and covariance overflow or lose every digit (seen: LinAlgError, NaN, 1e298).
DERIVED_LIMIT = 1e15


def check_derived(p: Any) -> None:
    """Refuse fields whose derived quantities are non-finite or absurd for the model.

    Every value is finite on its own, but e.g. ``power = 1e300`` gives a drive of 1e150
    omega_m, ``omega_m = 1e-300`` rates of 1e307 omega_m, ``temperature = 1e300`` an infinite
    phonon number, and a detuning above ``omega_c`` a negative drive frequency.
    """
    if not p.omega_c - p.detuning > 0:
        raise ParameterError(
            f"detuning = {p.detuning!r} s^-1: the drive frequency omega_c - detuning must be > 0, "
            f"i.e. detuning < omega_c = {p.omega_c!r}")
    if p.temperature > 0 and HBAR * p.omega_m / (K_B * p.temperature) > 700:
        raise ParameterError(
            f"temperature = {p.temperature!r}, omega_m = {p.omega_m!r}: hbar omega_m / k_B T = "
            f"{HBAR * p.omega_m / (K_B * p.temperature):.3g} must be <= 700 (n_m underflows); "
            "the bath is at zero temperature for this mode: set temperature = 0")
    lim = DERIVED_LIMIT
    checks = (  # (derived name, fields it comes from, function of p giving its size)
        ("Gamma/omega_m", ("kappa_0", "kappa_ex", "omega_m"), lambda: p.Gamma / p.omega_m),
        ("gamma_m/omega_m", ("gamma_m", "omega_m"), lambda: p.gamma_m / p.omega_m),
        ("G0/omega_m", ("omega_c", "radius", "mass", "omega_m"), lambda: p.G0 / p.omega_m),
        ("drive/omega_m", ("power", "kappa_ex", "omega_c", "detuning", "omega_m"),
         lambda: p.drive_amplitude / p.omega_m),
        ("|detuning|/omega_m", ("detuning", "omega_m"), lambda: abs(p.detuning) / p.omega_m),
        ("|J1|/omega_m", ("defects", "eta", "omega_m"), lambda: abs(p.J1) / p.omega_m),
        ("|J2|/omega_m", ("defects", "eta", "omega_m"), lambda: abs(p.J2) / p.omega_m),
        ("n_m (thermal phonons)", ("temperature", "omega_m"), lambda: p.n_m),
    )
    for name, fields, size in checks:
        try:
            # underflow is harmless (tiny values become 0): only overflow and NaN count
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                value = float(size())
        except (OverflowError, ZeroDivisionError, FloatingPointError, ValueError):
            value = math.inf
        if not (math.isfinite(value) and value <= lim):
            given = ", ".join(f"{f} = {getattr(p, f)!r}" for f in fields if f != "defects")
            raise ParameterError(
                f"{given}: derived {name} = {value:.3g} must be finite and <= {lim:g}; "
                "beyond it the model's double-precision numbers overflow or lose every digit")
