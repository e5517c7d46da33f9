"""Numbers with units, as written on the command line (``--set``) and in TOML strings.

A value is ``<number><unit>`` or ``<number> <unit>`` (``"30mW"``, ``"30 mW"``, ``"-1.15Gamma"``,
``"0.125pi"``, ``"1-0.05jGamma"``, ``"(1-0.05j) Gamma"``). The units of each dimension:

============  ==========================================================================
power         ``W mW uW nW``
temperature   ``K mK uK``
rate          ``/s`` (= ``s^-1`` = ``1/s``), ``Hz kHz MHz GHz THz`` (2 pi Hz: ``1 Hz`` is
              ``2 pi s^-1``), ``Gamma`` (``kappa_0 + kappa_ex``), ``omega_m``
mass          ``kg g mg ug ng``
length        ``m mm um nm``
angle         ``rad deg pi`` (``0.125pi`` is ``pi/8`` rad)
============  ==========================================================================

Angles in ``pi`` and ``deg`` are reduced by whole turns exactly before they are converted to
radians (``1e20pi`` is 0; ``2.125pi`` is ``0.125pi``), so no angle is lost to rounding.

``Gamma`` and ``omega_m`` are *relative* units: they are resolved against a parameter set
(:func:`parse_quantity` takes them as keywords; :meth:`simulator.params.Params.from_mapping`
resolves them against the parameters being built). A number without a unit is accepted only for
dimensionless keys (``m``), angles (radians) and zero; for every other key it is refused,
because the same text must mean the same thing everywhere.

This module is at the bottom of the package (it imports nothing from it).

Examples
--------
>>> parse_quantity("30 mW", "power")
0.03
>>> parse_quantity("-1.15Gamma", "detuning", Gamma=3.78e7)
-43470000.0
>>> round(parse_quantity("0.125pi", "beta"), 6)
0.392699
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "UnitError", "Quantity", "UNITS", "SI_UNITS", "KEY_DIMENSIONS", "COMPLEX_KEYS", "RELATIVE_UNITS",
    "dimension_of", "parse_text", "parse_quantity", "bare_hint",
]


class UnitError(ValueError):
    """A value whose unit is unknown, of the wrong dimension, or missing."""


_TWO_PI = 2.0 * math.pi

#: Units of each dimension: unit -> factor to SI. ``None`` marks a relative unit.
UNITS: dict[str, dict[str, float | None]] = {
    "power": {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "nW": 1e-9},
    "temperature": {"K": 1.0, "mK": 1e-3, "uK": 1e-6},
    "rate": {"/s": 1.0, "s^-1": 1.0, "1/s": 1.0, "Hz": _TWO_PI, "kHz": _TWO_PI * 1e3,
             "MHz": _TWO_PI * 1e6, "GHz": _TWO_PI * 1e9, "THz": _TWO_PI * 1e12,
             "Gamma": None, "omega_m": None},
    "mass": {"kg": 1.0, "g": 1e-3, "mg": 1e-6, "ug": 1e-9, "ng": 1e-12},
    "length": {"m": 1.0, "mm": 1e-3, "um": 1e-6, "nm": 1e-9},
    "angle": {"rad": 1.0, "deg": math.pi / 180.0, "pi": math.pi},
    "dimensionless": {},
}
#: One full turn in the angle units that can be reduced exactly before conversion to radians
#: (every angle enters the model through ``exp(2i m beta)``, periodic in ``pi``).
_TURN = {"pi": 2.0, "deg": 360.0}
#: The relative units: resolved against a parameter set.
RELATIVE_UNITS = ("Gamma", "omega_m")

#: Dimension of every key that takes a number (``--set`` keys, TOML keys, defect entries).
KEY_DIMENSIONS: dict[str, str] = {
    "mass": "mass", "radius": "length", "temperature": "temperature", "power": "power",
    "omega_m": "rate", "gamma_m": "rate", "omega_c": "rate", "kappa_0": "rate",
    "kappa_ex": "rate", "detuning": "rate", "eta": "rate", "eps": "rate", "g0": "rate",
    "G": "rate", "beta": "angle", "m": "dimensionless",
}
#: The SI unit of each dimension, spelt as CF conventions (UDUNITS) spell it.
SI_UNITS: dict[str, str] = {"power": "W", "temperature": "K", "rate": "s-1", "mass": "kg",
                            "length": "m", "angle": "rad", "dimensionless": "1"}
#: Keys that take complex values (lossy scatterers).
COMPLEX_KEYS = frozenset({"eta", "eps"})

_REAL = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = rf"[+-]?{_REAL}(?:[+-]{_REAL}[jJi]|[jJi])?"
_PATTERN = re.compile(
    rf"^\s*(?:\(\s*(?P<paren>{_NUMBER})\s*\)|(?P<num>{_NUMBER}))\s*\*?\s*(?P<unit>\S.*?)?\s*$"
)


@dataclass(frozen=True)
class Quantity:
    """A parsed value: ``number`` in ``unit`` (``unit`` is ``""`` for a bare number).

    Attributes
    ----------
    number : float or complex
        The number as written.
    unit : str
        The unit as written (``"µ"`` spelled ``"u"``), ``""`` if none.
    dimension : str
        Key of :data:`UNITS`.
    """

    number: float | complex
    unit: str
    dimension: str

    @property
    def relative(self) -> str | None:
        """``"Gamma"`` or ``"omega_m"`` for a relative unit, else ``None``."""
        return self.unit if self.unit in RELATIVE_UNITS else None

    def si(self, *, Gamma: float | None = None, omega_m: float | None = None) -> float | complex:
        """The value in SI units (s^-1, W, K, kg, m, rad); relative units need their reference."""
        if not self.unit:
            return self.number
        factor = UNITS[self.dimension][self.unit]
        if self.unit in _TURN and not isinstance(self.number, complex):
            # exact reduction by whole turns (fmod is exact): 1e20pi is 0, not 1e20 * 3.14...
            return math.fmod(self.number, _TURN[self.unit]) * factor
        if factor is None:
            factor = {"Gamma": Gamma, "omega_m": omega_m}[self.unit]
            if factor is None:
                raise UnitError(f"{self.number}{self.unit}: the value of {self.unit} is needed "
                                f"(pass {self.unit}=...)")
        return self.number * factor


def dimension_of(key: str) -> str:
    """The dimension of ``key`` (``defects[j].eps`` is a rate, ``defects[j].beta`` an angle)."""
    base = key.rsplit(".", 1)[-1]
    if base not in KEY_DIMENSIONS:
        raise UnitError(f"{key}: no such quantity; known: {sorted(KEY_DIMENSIONS)}")
    return KEY_DIMENSIONS[base]


def _allowed(dimension: str) -> str:
    units = [u for u in UNITS[dimension]]
    return " ".join(units) if units else "none (a plain number)"


def parse_text(text: str, key: str, *, complex_ok: bool | None = None) -> Quantity:
    """Parse ``text`` as a value of ``key`` (a name of :data:`KEY_DIMENSIONS`, or a dimension).

    Parameters
    ----------
    text : str
        ``<number><unit>`` or ``<number> <unit>``; a complex number may be parenthesised.
    key : str
        Parameter name (``"power"``, ``"defects[0].eps"``) or a dimension (``"rate"``).
    complex_ok : bool, optional
        Accept a complex number (default: for ``eta`` and ``eps``).

    Returns
    -------
    Quantity
        A bare number (``unit == ""``) is returned as such; refusing it is the caller's choice
        (:func:`parse_quantity` refuses it for dimensioned keys).

    Raises
    ------
    UnitError
        Not a number, an unknown unit or one of another dimension; the message names the key,
        the value and the allowed units.
    """
    dimension = key if key in UNITS else dimension_of(key)
    base = key.rsplit(".", 1)[-1]
    if complex_ok is None:
        complex_ok = base in COMPLEX_KEYS
    if isinstance(text, str):  # U+2212 MINUS SIGN, as pasted from a paper, is a minus
        text = text.replace("\u2212", "-")
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise UnitError(f"{key} = {text!r}: not a number with a unit; allowed units: "
                        f"{_allowed(dimension)}")
    num_text = (match["paren"] or match["num"]).replace("i", "j").replace("J", "j")
    number: float | complex = complex(num_text) if "j" in num_text else float(num_text)
    if isinstance(number, complex) and not complex_ok:
        raise UnitError(f"{key} = {text!r}: must be real")
    unit = (match["unit"] or "").replace("µ", "u").replace("μ", "u")
    if unit and unit not in UNITS[dimension]:
        other = [d for d, units in UNITS.items() if unit in units]
        why = f"'{unit}' is a unit of {other[0]}" if other else f"unknown unit '{unit}'"
        raise UnitError(f"{key} = {text!r}: {why}; {key} is a {dimension}, allowed units: "
                        f"{_allowed(dimension)}")
    if base == "omega_m" and unit in RELATIVE_UNITS:
        raise UnitError(f"{key} = {text!r}: omega_m cannot be given relative to {unit}; "
                        f"use /s or Hz")
    if base in ("kappa_0", "kappa_ex") and unit == "Gamma":
        raise UnitError(f"{key} = {text!r}: Gamma = kappa_0 + kappa_ex, so {base} cannot be "
                        f"given in units of Gamma; use omega_m, /s or Hz")
    return Quantity(number, unit, dimension)


def bare_hint(key: str, number: float | complex, *, Gamma: float, omega_m: float,
              prefix: str = "--set ") -> str:
    """The message refusing a bare number for a dimensioned key, showing both spellings.

    ``detuning``, ``eps``, ``eta``, ``g0`` are shown in units of Gamma (the command line's old
    meaning of a bare number for the first three), ``G`` in units of omega_m, other rates in
    s^-1; the hint gives the SI equivalent of the number read in the first unit.
    """
    dimension = dimension_of(key)
    base = key.rsplit(".", 1)[-1]
    x = number

    def fmt(v: float | complex) -> str:
        text = f"({v.real:.4g}{v.imag:+.4g}j)" if isinstance(v, complex) else f"{v:.4g}"
        return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text)

    if dimension == "rate" and base in ("detuning", "eps", "eta", "g0"):
        first, second = f"{fmt(x)}Gamma", f"{fmt(x * Gamma)}/s"
    elif dimension == "rate" and base == "G":
        first, second = f"{fmt(x)}omega_m", f"{fmt(x * omega_m)}/s"
    elif dimension == "rate" and base == "omega_m":
        first, second = f"{fmt(x)}/s", f"{fmt(x / _TWO_PI)}Hz"
    elif dimension == "rate":
        first, second = f"{fmt(x)}/s", f"{fmt(x / omega_m)}omega_m"
    else:
        si, small = {"power": ("W", "mW"), "temperature": ("K", "mK"), "mass": ("kg", "ng"),
                     "length": ("m", "mm")}[dimension]
        first, second = f"{fmt(x)}{si}", f"{fmt(x / UNITS[dimension][small])}{small}"
    return (f"{key} needs a unit: {prefix}{key}={first} or ={second} "
            f"(allowed units: {_allowed(dimension)})")


def parse_quantity(text: str, key: str, *, Gamma: float | None = None,
                   omega_m: float | None = None) -> float | complex:
    """``text`` in SI units (s^-1, W, K, kg, m, rad), for use with ``Params(...)``/``replace``.

    Parameters
    ----------
    text : str
        ``"30 mW"``, ``"-1.15Gamma"``, ``"1-0.05jGamma"``, ``"0.125pi"``, ...
    key : str
        A parameter name of :data:`KEY_DIMENSIONS` (``"power"``, ``"eta"``) or a dimension.
    Gamma, omega_m : float, optional
        References (s^-1) for the relative units, e.g. ``p.Gamma`` and ``p.omega_m``.

    Raises
    ------
    UnitError
        A bare non-zero number for a dimensioned key, or see :func:`parse_text`.

    Examples
    --------
    >>> parse_quantity("2 MHz", "rate") == 2 * 2 * math.pi * 1e6
    True
    """
    q = parse_text(text, key)
    if not q.unit and q.number != 0 and q.dimension not in ("angle", "dimensionless"):
        raise UnitError(f"{key} = {text!r}: a number needs a unit; allowed units: "
                        f"{_allowed(q.dimension)}")
    return q.si(Gamma=Gamma, omega_m=omega_m)

