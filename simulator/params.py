"""Physical parameters of the whispering-gallery optomechanical system, in SI units.

:class:`Params` is a frozen, keyword-only dataclass holding everything in Sec. III of the paper
(Zhao, Wei, Guo, Phys. Rev. Applied 23, 024061 (2025)) plus the effective detuning and the
mechanical damping model. Every field is validated on construction; a bad value raises
:class:`ParameterError` naming the field, the value and what is allowed.

Rates (``gamma_m``, ``kappa_0``, ``kappa_ex``, scatterer strengths, ``detuning``) are angular
frequencies in s^-1; ``omega_m`` and ``omega_c`` are angular frequencies (rad/s), as the paper uses
them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .checks import check_integer, check_real
from .conventions import DAMPING_MODELS, HBAR, K_B

__all__ = ["Params", "ParameterError", "check_array"]


class ParameterError(ValueError):
    """A parameter value outside its allowed range, of the wrong type, or unknown."""


_PAPER_OMEGA_M = 63e6
_PAPER_GAMMA = 0.6 * _PAPER_OMEGA_M


def _real(name: str, value: Any, *, low: float | None = None, strict: bool = False) -> float:
    """Validate a finite real number, optionally ``> low`` (strict) or ``>= low``."""
    return check_real(name, value, low=low, strict=strict, error=ParameterError)


def _complex(name: str, value: Any) -> complex:
    """Validate a finite complex number (a real number is accepted)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Complex):
        raise ParameterError(
            f"{name} = {value!r} ({type(value).__name__}): must be a finite real or complex number"
        )
    value = complex(value)
    if not (math.isfinite(value.real) and math.isfinite(value.imag)):
        raise ParameterError(f"{name} = {value!r}: must be a finite real or complex number")
    return value


#: Lower bounds of the real fields: name -> (bound, strict). Fields absent here are unbounded.
BOUNDS: dict[str, tuple[float, bool]] = {
    "mass": (0.0, True),
    "radius": (0.0, True),
    "omega_m": (0.0, True),
    "omega_c": (0.0, True),
    "kappa_ex": (0.0, True),
    "temperature": (0.0, False),
    "gamma_m": (0.0, False),
    "kappa_0": (0.0, False),
    "power": (0.0, False),
}
#: Real fields that may take any finite value.
UNBOUNDED = ("beta", "detuning")


def check_array(name: str, values: Any, *, complex_ok: bool = False) -> np.ndarray:
    """Validate an array of values for field ``name`` (used by sweeps); return it as ndarray."""
    arr = np.asarray(values)
    kind = "real or complex" if complex_ok else "real"
    if arr.dtype.kind not in ("iuf" + ("c" if complex_ok else "")):
        raise ParameterError(f"{name}: values must be {kind} numbers, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr)
    allowed = f"finite {kind} numbers"
    if name in BOUNDS:
        low, strict = BOUNDS[name]
        bad |= (arr <= low) if strict else (arr < low)
        allowed += f" {'>' if strict else '>='} {low:g}"
    if np.any(bad):
        first = arr[bad].ravel()[0]
        raise ParameterError(f"{name} = {first!r} (in a sweep): must be {allowed}")
    return arr.astype(complex if arr.dtype.kind == "c" else float)


@dataclass(frozen=True, kw_only=True)
class Params:
    """Inputs of the model, SI units; defaults are the paper's immune point.

    Parameters
    ----------
    mass : float
        Effective mass ``mu`` of the breathing mode (kg), > 0. Paper: 10 ng.
    radius : float
        Resonator radius ``R`` (m), > 0. Paper: 1.1 mm.
    temperature : float
        Bath temperature ``T_e`` (K), >= 0. Paper: 200 mK.
    omega_m : float
        Mechanical angular frequency (rad/s), > 0. Paper: 63e6.
    gamma_m : float
        Mechanical energy damping rate (s^-1), >= 0. Paper: 1e-5 omega_m.
    omega_c : float
        Optical angular frequency (rad/s), > 0. Paper: 1.22e15.
    kappa_0, kappa_ex : float
        Intrinsic and external (fibre) amplitude decay rates (s^-1); ``kappa_0 >= 0``,
        ``kappa_ex > 0``. Paper: 0.3 omega_m each, so ``Gamma = 0.6 omega_m``.
    power : float
        Input laser power ``P`` (W), >= 0. Paper: 30 mW.
    m : int
        Azimuthal mode number, >= 1. Paper: 4.
    defects : tuple of (complex, float)
        Defects ``(eps_j, beta_j)``: backscattering strength (s^-1, complex for a lossy scatterer)
        and angle (rad). Paper: one defect ``(Gamma, 0)``; Fig. 5 uses several.
    eta : complex
        Nanoparticle backscattering strength (s^-1). Paper: ``Gamma``.
    beta : float
        Nanoparticle angle relative to the defect frame (rad). Paper's immune point: pi/8.
    detuning : float
        Effective detuning ``Delta = Delta_a - G0 q_s`` (s^-1), the paper's x-axis. The default is
        the optimal point at immunity, ``Delta + Delta_J = 0.85 Gamma``, i.e. ``Delta = -1.15 Gamma``.
    damping : {"brownian", "rwa"}
        Mechanical damping model; see :mod:`simulator.conventions` and the README.
    """

    mass: float = 10e-12
    radius: float = 1.1e-3
    temperature: float = 0.2
    omega_m: float = _PAPER_OMEGA_M
    gamma_m: float = 1e-5 * _PAPER_OMEGA_M
    omega_c: float = 1.22e15
    kappa_0: float = 0.3 * _PAPER_OMEGA_M
    kappa_ex: float = 0.3 * _PAPER_OMEGA_M
    power: float = 30e-3
    m: int = 4
    defects: tuple[tuple[complex, float], ...] = field(default=((_PAPER_GAMMA, 0.0),))
    eta: complex = _PAPER_GAMMA
    beta: float = math.pi / 8
    detuning: float = (0.85 - 2.0) * _PAPER_GAMMA
    damping: str = "brownian"

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name, (low, strict) in BOUNDS.items():
            put(name, _real(name, getattr(self, name), low=low, strict=strict))
        for name in UNBOUNDED:
            put(name, _real(name, getattr(self, name)))
        put("eta", _complex("eta", self.eta))
        put("m", check_integer("m", self.m, low=1, error=ParameterError))
        put("defects", self._check_defects(self.defects))
        if self.damping not in DAMPING_MODELS:
            raise ParameterError(f"damping = {self.damping!r}: must be one of {DAMPING_MODELS}")
        _check_derived(self)

    @staticmethod
    def _check_defects(defects: Any) -> tuple[tuple[complex, float], ...]:
        if isinstance(defects, (str, bytes)) or not hasattr(defects, "__iter__"):
            raise ParameterError(
                f"defects = {defects!r}: must be a sequence of (eps, beta) pairs (may be empty)"
            )
        out = []
        for j, item in enumerate(defects):
            if isinstance(item, Mapping):
                unknown = set(item) - {"eps", "beta"}
                if unknown or "eps" not in item or "beta" not in item:
                    raise ParameterError(
                        f"defects[{j}] = {dict(item)!r}: must have exactly the keys 'eps' and 'beta'"
                    )
                item = (item["eps"], item["beta"])
            if isinstance(item, (str, bytes)) or len(item) != 2:
                raise ParameterError(f"defects[{j}] = {item!r}: must be a pair (eps, beta)")
            eps, beta = item
            if isinstance(eps, (list, tuple)):
                eps = _complex_from_pair(f"defects[{j}].eps", eps)
            out.append((_complex(f"defects[{j}].eps", eps), _real(f"defects[{j}].beta", beta)))
        return tuple(out)

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def paper(cls, **changes: Any) -> "Params":
        """The paper's Sec. III parameters at the immune point, with optional field changes."""
        return cls(**changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Params":
        """Build from a mapping of field names (SI units), refusing unknown keys.

        Complex values may be given as ``[re, im]``; defects as a list of ``[eps, beta]`` pairs or
        of tables with keys ``eps`` and ``beta``.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ParameterError(f"unknown parameter(s) {unknown}; allowed: {sorted(names)}")
        data = dict(data)
        if isinstance(data.get("eta"), (list, tuple)):
            data["eta"] = _complex_from_pair("eta", data["eta"])
        return cls(**data)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Params":
        """Load from a TOML file whose top-level keys are field names (SI units).

        Examples
        --------
        A file holding ``power = 0.01`` and ``[[defects]]`` tables ``eps = 3.78e7, beta = 0.0``.
        """
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ParameterError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_mapping(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready field values (complex numbers as ``[re, im]``) plus derived quantities."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "defects":
                value = [{"eps": [e.real, e.imag], "beta": b} for e, b in value]
            elif isinstance(value, complex):
                value = [value.real, value.imag]
            out[f.name] = value
        out["derived"] = {
            "Gamma": self.Gamma,
            "G0": self.G0,
            "n_m": self.n_m,
            "drive_amplitude": self.drive_amplitude,
            "Delta_J": self.Delta_J,
            "J1": [self.J1.real, self.J1.imag],
            "J2": [self.J2.real, self.J2.imag],
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Params":
        """Inverse of :meth:`to_dict` (the ``derived`` block is recomputed, not read)."""
        return cls.from_mapping({k: v for k, v in data.items() if k != "derived"})

    def replace(self, **changes: Any) -> "Params":
        """A copy with ``changes`` applied (validated), like :func:`dataclasses.replace`."""
        return dataclasses.replace(self, **changes)

    # ---- derived quantities --------------------------------------------------------------------
    @property
    def Gamma(self) -> float:
        """Total optical amplitude decay rate ``kappa_0 + kappa_ex`` (s^-1)."""
        return self.kappa_0 + self.kappa_ex

    @property
    def G0(self) -> float:
        """Single-photon coupling ``(omega_c / R) sqrt(hbar / (mu omega_m))`` (s^-1)."""
        return self.omega_c / self.radius * math.sqrt(HBAR / (self.mass * self.omega_m))

    @property
    def n_m(self) -> float:
        """Thermal phonon number ``1/(exp(hbar omega_m / k_B T) - 1)`` (0 at T = 0)."""
        if self.temperature == 0.0:
            return 0.0
        return 1.0 / math.expm1(HBAR * self.omega_m / (K_B * self.temperature))

    @property
    def a_in(self) -> float:
        """Input amplitude ``sqrt(P / (hbar omega_d))`` (s^-1/2), ``omega_d = omega_c - detuning``.

        As in the paper, the drive frequency uses the effective detuning (``omega_d >> G0 q_s``).
        """
        return math.sqrt(self.power / (HBAR * (self.omega_c - self.detuning)))

    @property
    def drive_amplitude(self) -> float:
        """Drive ``E = sqrt(2 kappa_ex) a_in`` (s^-1), the paper's script epsilon in Eq. 3."""
        return math.sqrt(2.0 * self.kappa_ex) * self.a_in

    @property
    def J1(self) -> complex:
        """``J1 = sum_j eps_j exp(-2i m beta_j) + eta exp(-2i m beta)`` (s^-1)."""
        return _backscatter(self, -1)

    @property
    def J2(self) -> complex:
        """``J2 = sum_j eps_j exp(+2i m beta_j) + eta exp(+2i m beta)`` (s^-1)."""
        return _backscatter(self, +1)

    @property
    def Delta_J(self) -> float:
        """Common frequency shift ``Re(sum_j eps_j + eta)`` (s^-1)."""
        return float(sum(e for e, _ in self.defects).real + self.eta.real)


#: Largest allowed size of a derived rate in units of omega_m, and of the thermal phonon number.
#: The paper's point has drive/omega_m ~ 5e4, n_m ~ 40; beyond this the double-precision
#: mean field and covariance overflow or lose every digit (seen: LinAlgError, NaN, 1e298).
DERIVED_LIMIT = 1e15


def _check_derived(p: Params) -> None:
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
            with np.errstate(all="raise"):
                value = float(size())
        except (OverflowError, ZeroDivisionError, FloatingPointError, ValueError):
            value = math.inf
        if not (math.isfinite(value) and value <= lim):
            given = ", ".join(f"{f} = {getattr(p, f)!r}" for f in fields if f != "defects")
            raise ParameterError(
                f"{given}: derived {name} = {value:.3g} must be finite and <= {lim:g}; "
                "beyond it the model's double-precision numbers overflow or lose every digit")


def _backscatter(p: Params, sign: int) -> complex:
    total = sum(e * np.exp(sign * 2j * p.m * b) for e, b in p.defects)
    return complex(total + p.eta * np.exp(sign * 2j * p.m * p.beta))


def _complex_from_pair(name: str, pair: Any) -> complex:
    if len(pair) != 2:
        raise ParameterError(f"{name} = {pair!r}: a complex number is written [re, im]")
    re, im = pair
    return complex(_real(f"{name}[re]", re), _real(f"{name}[im]", im))
