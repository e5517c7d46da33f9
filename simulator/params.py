"""Physical parameters of the whispering-gallery optomechanical system, in SI units.

:class:`Params` is a frozen, keyword-only dataclass holding everything in Sec. III of the paper
(Zhao, Wei, Guo, Phys. Rev. Applied 23, 024061 (2025)) plus the effective detuning and the
mechanical damping model. Every field is validated on construction; a bad value raises
:class:`ParameterError` naming the field, the value and what is allowed.

Rates (``gamma_m``, ``kappa_0``, ``kappa_ex``, scatterer strengths, ``detuning``) are angular
frequencies in s^-1; ``omega_m`` and ``omega_c`` are angular frequencies (rad/s), as the paper uses
them. ``Params(...)``, :meth:`Params.replace`, :meth:`Params.from_mapping` and
:meth:`Params.from_toml` also read strings with units (:mod:`simulator.units`: ``"30 mW"``,
``"-1.15Gamma"``), the same texts as the command line; :meth:`Params.to_toml` writes a file that
reads back to an equal ``Params``.

Examples
--------
>>> Params(power="30 mW", detuning="-1.15Gamma") == Params.paper()
True
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .checks import check_integer, check_real
from .conventions import DAMPING_MODELS, HBAR
from .tomlio import read_toml, toml_value
from .units import UNITS, UnitError, bare_hint, parse_text
# the formulas and ParameterError, re-exported here where the package has always imported them
from .derived import (drive_amplitude, input_amplitude, scattering,  # noqa: F401
                      single_photon_coupling, thermal_occupation, total_decay)
from .derived import check_derived as _check_derived
from .derived import no_gain as _no_gain
from .errors import ParameterError

__all__ = ["Params", "ParameterError", "check_angle", "check_array"]


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
#: Largest rounding error (rad) of the phase ``2 m beta`` through which an angle enters the
#: model: beyond ``|beta| ~ 8e6 / m`` rad (2e6 at ``m = 4``) half a unit in the last place of a
#: float moves it by more, and at ``1e15`` rad a float holds no angle at all. Such angles are refused (``'<n>pi'``
#: and ``'<n>deg'`` texts are reduced exactly, :mod:`simulator.units`).
ANGLE_PHASE_TOLERANCE = 1e-9


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

    Every field also takes a string with a unit, as on the command line and in TOML
    (:mod:`simulator.units`): ``Params(power="30 mW", detuning="-1.15Gamma")``. The fields hold
    SI numbers; ``Gamma`` and ``omega_m`` in a string are this parameter set's (``omega_m``
    first, which must be absolute, then ``kappa_0`` and ``kappa_ex``, then the rest). A string
    without a unit is refused for a dimensioned field (a bare number is SI).

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
        Defects ``(eps_j, beta_j)``: backscattering strength (s^-1) and angle (rad). A lossy
        scatterer is ``eps_j = g_j - i gamma_j`` with ``gamma_j >= 0`` (light scattered out of the
        resonator); ``Im eps_j > 0`` (gain) is refused. Paper: one defect ``(Gamma, 0)``; Fig. 5
        uses several.
    eta : complex
        Nanoparticle backscattering strength (s^-1), ``Im eta <= 0`` as for ``eps_j``.
        Paper: ``Gamma``.
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

        self._resolve_units(put)
        for name, (low, strict) in BOUNDS.items():
            put(name, _real(name, getattr(self, name), low=low, strict=strict))
        for name in UNBOUNDED:
            put(name, _real(name, getattr(self, name)))
        put("eta", _no_gain("eta", _complex("eta", self.eta)))
        put("m", check_integer("m", self.m, low=1, error=ParameterError))
        put("defects", self._check_defects(self.defects))
        check_angle("beta", self.beta, self.m)
        for j, (_, beta) in enumerate(self.defects):
            check_angle(f"defects[{j}].beta", beta, self.m)
        if self.damping not in DAMPING_MODELS:
            raise ParameterError(f"damping = {self.damping!r}: must be one of {DAMPING_MODELS}")
        _check_derived(self)

    def _resolve_units(self, put: Any) -> None:
        """Replace strings with units (``"30 mW"``, ``"-1.15Gamma"``) by SI numbers.

        ``Gamma`` and ``omega_m`` are this parameter set's: ``omega_m`` is read first (it must be
        absolute), then ``kappa_0`` and ``kappa_ex`` (absolute or in ``omega_m``), then the
        rest, as in :meth:`from_mapping`.
        """
        def is_text(name: str, value: Any) -> bool:
            if name == "defects" and isinstance(value, (list, tuple)):
                return any(isinstance(x, str) for item in value
                           for x in (item.values() if isinstance(item, Mapping) else
                                     item if isinstance(item, (list, tuple)) else ()))
            return name != "damping" and isinstance(value, str)

        texts = [f.name for f in dataclasses.fields(self) if is_text(f.name, getattr(self, f.name))]
        if not texts:
            return
        reader = _Reader(None, None, "Params")

        def number(name: str) -> float | None:
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            return float(value) if ok and math.isfinite(value) else None

        for group in (("omega_m",), ("kappa_0", "kappa_ex"), tuple(texts)):
            for name in group:
                if name in texts and isinstance(getattr(self, name), (str, list, tuple)):
                    value = getattr(self, name)
                    put(name, reader.defects(value) if name == "defects"
                        else reader.value(name, value))
            reader.omega_m = number("omega_m")
            k0, kex = number("kappa_0"), number("kappa_ex")
            reader.Gamma = None if k0 is None or kex is None else k0 + kex

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
            eps = _no_gain(f"defects[{j}].eps", _complex(f"defects[{j}].eps", eps))
            out.append((eps, _real(f"defects[{j}].beta", beta)))
        return tuple(out)

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def paper(cls, **changes: Any) -> "Params":
        """The paper's Sec. III parameters at the immune point, with optional field changes."""
        return cls(**changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: "Params | None" = None,
                     source: str | None = None) -> "Params":
        """Apply a mapping of keys to ``base`` (default: the paper's values), refusing unknown keys.

        Parameters
        ----------
        data : mapping
            Field names, plus ``eps`` (strength of the single defect, keeping its angle) and
            ``g0`` (single-photon coupling G0: sets the mass). A number is in SI units; a string
            carries a unit (:mod:`simulator.units`: ``"30 mW"``, ``"-1.15Gamma"``,
            ``"1-0.05jGamma"``, ``"0.125pi"``); a string without a unit is refused except for
            angles (radians) and ``m``. Complex values may be ``[re, im]`` (SI); defects a list of
            ``[eps, beta]`` pairs or of tables with keys ``eps`` and ``beta``. ``G`` (target
            coupling) needs the mean field: see :func:`simulator.config.apply_changes`.
        base : Params, optional
            The parameters the mapping changes.
        source : str, optional
            Where the values come from (``"--set"`` or a file name), for messages.

        Notes
        -----
        ``Gamma`` and ``omega_m`` in a value are those of the parameter set being built: the
        mapping's own ``omega_m`` (which must be absolute), then its ``kappa_0``/``kappa_ex``
        (absolute or in ``omega_m``, not ``Gamma``), else ``base``'s. Then ``g0`` sets the mass
        from the final ``omega_c``, ``radius`` and ``omega_m``.

        Examples
        --------
        >>> p = Params.from_mapping({"power": "10 mW", "detuning": "-1Gamma"})
        >>> p.power, p.detuning == -p.Gamma
        (0.01, True)
        """
        return _apply(cls() if base is None else base, data, source)

    @classmethod
    def from_toml(cls, path: str | Path, *, base: "Params | None" = None) -> "Params":
        """Load from a TOML file whose top-level keys are those of :meth:`from_mapping`.

        Examples
        --------
        A file holding ``power = 0.01`` (W) or ``power = "10 mW"``, and ``[[defects]]`` tables
        ``eps = 3.78e7, beta = 0.0`` or ``eps = "1Gamma", beta = "0deg"``.
        """
        path = Path(path)
        return cls.from_mapping(read_toml(path, ParameterError), base=base, source=str(path))

    def to_toml(self, path: str | Path | None = None, *, table: str | None = None) -> str:
        """Write the fields as TOML (SI numbers, exact), which :meth:`from_toml` reads back equal.

        Parameters
        ----------
        path : path, optional
            File to write; ``None``: only return the text.
        table : str, optional
            Put the fields in this table (``"params"`` for a run file).

        Returns
        -------
        str
            The TOML text.
        """
        text = "\n".join(self._toml_lines(table)) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _toml_lines(self, table: str | None) -> list[str]:
        comments = {"mass": "kg", "radius": "m", "temperature": "K", "omega_m": "rad/s",
                    "gamma_m": "s^-1", "omega_c": "rad/s", "kappa_0": "s^-1",
                    "kappa_ex": "s^-1", "power": "W", "eta": "s^-1, [re, im]", "beta": "rad",
                    "detuning": "s^-1, effective"}
        lines = [f"[{table}]"] if table else []
        lines.append(f"# SI units; Gamma = {self.Gamma!r} s^-1, "
                     f"detuning = {self.detuning / self.Gamma:.6g} Gamma")
        for f in dataclasses.fields(self):
            if f.name == "defects":
                continue
            value = getattr(self, f.name)
            note = f"  # {comments[f.name]}" if f.name in comments else ""
            lines.append(f"{f.name} = {toml_value(value)}{note}")
        if not self.defects:
            lines.append("defects = []")
        for eps, beta in self.defects:
            lines += ["", f"[[{table + '.' if table else ''}defects]]",
                      f"eps = {toml_value(eps)}  # s^-1, [re, im]",
                      f"beta = {toml_value(beta)}  # rad"]
        return lines

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
        """A copy with ``changes`` applied (validated), like :func:`dataclasses.replace`.

        Values may be strings with units, as in the constructor; ``Gamma`` and ``omega_m`` in
        them are those of the new parameter set.

        Examples
        --------
        >>> p = Params.paper().replace(power="10 mW", kappa_0="0.1omega_m", detuning="-1Gamma")
        >>> p.power, p.detuning == -p.Gamma == -0.4 * p.omega_m
        (0.01, True)
        """
        return dataclasses.replace(self, **changes)

    # ---- derived quantities --------------------------------------------------------------------
    @property
    def Gamma(self) -> float:
        """Total optical amplitude decay rate ``kappa_0 + kappa_ex`` (s^-1)."""
        return float(total_decay(self.kappa_0, self.kappa_ex))

    @property
    def G0(self) -> float:
        """Single-photon coupling ``(omega_c / R) sqrt(hbar / (mu omega_m))`` (s^-1)."""
        return float(single_photon_coupling(self.omega_c, self.radius, self.mass, self.omega_m))

    @property
    def n_m(self) -> float:
        """Thermal phonon number ``1/(exp(hbar omega_m / k_B T) - 1)`` (0 at T = 0)."""
        return float(thermal_occupation(self.temperature, self.omega_m))

    @property
    def a_in(self) -> float:
        """Input amplitude ``sqrt(P / (hbar omega_d))`` (s^-1/2), ``omega_d = omega_c - detuning``.

        As in the paper, the drive frequency uses the effective detuning (``omega_d >> G0 q_s``).
        """
        return float(input_amplitude(self.power, self.omega_c, self.detuning))

    @property
    def drive_amplitude(self) -> float:
        """Drive ``E = sqrt(2 kappa_ex) a_in`` (s^-1), the paper's script epsilon in Eq. 3."""
        return float(drive_amplitude(self.kappa_ex, self.power, self.omega_c, self.detuning))

    @property
    def J1(self) -> complex:
        """``J1 = sum_j eps_j exp(-2i m beta_j) + eta exp(-2i m beta)`` (s^-1)."""
        return complex(scattering(self.defects, self.eta, self.beta, self.m).j1)

    @property
    def J2(self) -> complex:
        """``J2 = sum_j eps_j exp(+2i m beta_j) + eta exp(+2i m beta)`` (s^-1)."""
        return complex(scattering(self.defects, self.eta, self.beta, self.m).j2)

    @property
    def Delta_J(self) -> float:
        """Common frequency shift ``Re(sum_j eps_j + eta)`` (s^-1)."""
        return float(scattering(self.defects, self.eta, self.beta, self.m).delta_J)


def check_angle(name: str, beta: float, m: int) -> None:
    """Refuse an angle too large for a float to hold to :data:`ANGLE_PHASE_TOLERANCE` in the
    phase ``2 m beta`` (the model's period in ``beta`` is ``pi / m``)."""
    err = m * math.ulp(abs(beta))
    if err > ANGLE_PHASE_TOLERANCE:
        raise ParameterError(
            f"{name} = {beta!r} rad: too large for a float to hold the angle (rounding error of "
            f"the phase 2 m beta: {err:.2g} rad, allowed {ANGLE_PHASE_TOLERANCE:g}); reduce it "
            f"modulo pi/m = {math.pi / m:.6g} rad first, or write it as '<n>pi' or '<n>deg', "
            "which are reduced exactly")


def _complex_from_pair(name: str, pair: Any) -> complex:
    if len(pair) != 2:
        raise ParameterError(f"{name} = {pair!r}: a complex number is written [re, im]")
    re, im = pair
    return complex(_real(f"{name}[re]", re), _real(f"{name}[im]", im))


# ---- applying a mapping of values with units -----------------------------------------------------
#: Keys a mapping may hold besides the fields of :class:`Params`.
SHORTHAND_KEYS = ("eps", "g0")


def _apply(base: Params, data: Mapping[str, Any], source: str | None) -> Params:
    """``base`` with ``data`` applied in the order documented in :meth:`Params.from_mapping`."""
    names = [f.name for f in dataclasses.fields(Params)]
    where = f" ({source})" if source and source != "--set" else ""
    if not isinstance(data, Mapping):
        raise ParameterError(f"parameters{where}: expected a table of keys, got {data!r}")
    if "G" in data:
        raise ParameterError(
            f"G{where}: the target coupling |G_r| needs the mean field; use "
            "simulator.config.apply_changes (or wgmsim --set/--params/--config), which "
            "handle G")
    unknown = sorted(set(data) - set(names) - set(SHORTHAND_KEYS))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}{where}; allowed: "
                             f"{sorted(names) + list(SHORTHAND_KEYS)}")
    for a, b in (("eps", "defects"), ("g0", "mass")):
        if a in data and b in data:
            raise ParameterError(f"{a} and {b}{where}: give one of them ({a} sets {b})")
    reader = _Reader(base.Gamma, base.omega_m, source)
    changes: dict[str, Any] = {}
    if "omega_m" in data:
        changes["omega_m"] = reader.value("omega_m", data["omega_m"])
    reader.omega_m = changes.get("omega_m", base.omega_m)
    for key in ("kappa_0", "kappa_ex"):
        if key in data:
            changes[key] = reader.value(key, data[key])
    reader.Gamma = (changes.get("kappa_0", base.kappa_0) + changes.get("kappa_ex", base.kappa_ex))
    for key, raw in data.items():
        if key in changes or key == "g0":
            continue
        if key == "defects":
            changes["defects"] = reader.defects(raw)
        elif key == "eps":
            if len(base.defects) > 1:
                raise ParameterError(f"eps{where}: the parameters have {len(base.defects)} "
                                     "defects; give them all as defects instead")
            beta0 = base.defects[0][1] if base.defects else 0.0
            changes["defects"] = ((reader.value("eps", raw), beta0),)
        else:
            changes[key] = reader.value(key, raw)
    params = dataclasses.replace(base, **changes)
    if "g0" in data:
        g0 = _real("g0", reader.value("g0", data["g0"]), low=0.0, strict=True)
        mass = HBAR * params.omega_c**2 / (params.radius**2 * g0**2 * params.omega_m)
        params = params.replace(mass=mass)
    return params


#: A unit of each dimension to show in a message.
_EXAMPLE_UNIT = {"power": "mW", "temperature": "mK", "rate": "Gamma", "mass": "ng",
                 "length": "mm"}


class _Reader:
    """Converts one raw value (number, ``[re, im]``, or string with a unit) to SI."""

    def __init__(self, Gamma: float | None, omega_m: float | None, source: str | None) -> None:
        self.source, self.Gamma, self.omega_m = source, Gamma, omega_m

    def value(self, key: str, raw: Any) -> Any:
        name = key.rsplit(".", 1)[-1]
        if name == "damping":
            return raw
        if isinstance(raw, (list, tuple)) and name in ("eta", "eps"):
            return _complex_from_pair(key, raw)
        if not isinstance(raw, str):
            return raw  # a number: SI units (validated by Params)
        if name == "m":
            try:
                return int(raw)
            except ValueError:
                raise ParameterError(f"m = {raw!r}: must be an integer >= 1") from None
        try:
            q = parse_text(raw, key)
        except UnitError as exc:
            raise ParameterError(str(exc) + self._where()) from None
        if not q.unit and q.number != 0 and q.dimension not in ("angle", "dimensionless"):
            if self.source == "Params":
                raise ParameterError(
                    f"{key} = {raw!r}: a string needs a unit (allowed: "
                    f"{' '.join(u for u in UNITS[q.dimension])}, e.g. {key}=\"{raw} "
                    f"{_EXAMPLE_UNIT[q.dimension]}\"), or give a number in SI units "
                    f"({key}={q.number!r})")
            prefix = "--set " if self.source == "--set" else ""
            msg = bare_hint(key, q.number, Gamma=self.Gamma or math.nan,
                            omega_m=self.omega_m or math.nan, prefix=prefix)
            if self.source != "--set":
                msg += f"{self._where()}; a TOML number without quotes is read in SI units"
            raise ParameterError(msg)
        try:
            return q.si(Gamma=self.Gamma, omega_m=self.omega_m)
        except UnitError:  # Gamma or omega_m of this parameter set is not a number
            needs = "kappa_0 and kappa_ex" if q.unit == "Gamma" else "omega_m"
            raise ParameterError(f"{key} = {raw!r}: {q.unit} needs {needs} of these parameters "
                                 "as finite numbers (or strings with units)") from None

    def defects(self, raw: Any) -> Any:
        if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
            return raw  # refused by Params._check_defects
        out = []
        for j, item in enumerate(raw):
            if isinstance(item, Mapping) and set(item) == {"eps", "beta"}:
                item = {"eps": self.value(f"defects[{j}].eps", item["eps"]),
                        "beta": self.value(f"defects[{j}].beta", item["beta"])}
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                item = (self.value(f"defects[{j}].eps", item[0]),
                        self.value(f"defects[{j}].beta", item[1]))
            out.append(item)
        return out

    def _where(self) -> str:
        return f" (in {self.source})" if self.source and self.source != "--set" else ""
