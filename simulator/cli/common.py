"""Shared command-line plumbing: building :class:`Params` from ``--params`` and ``--set``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..jsonio import to_jsonable
from ..params import ParameterError, Params
from .checks import read_params_file

#: ``--set`` keys given in units of Gamma (the rest are SI field names of Params).
GAMMA_UNITS = {
    "detuning": "effective detuning Delta/Gamma",
    "eps": "single-defect strength eps/Gamma (complex allowed, e.g. 1-0.05j)",
    "eta": "nanoparticle strength eta/Gamma (complex allowed)",
}
SI_KEYS = {
    "beta": "nanoparticle angle (rad)",
    "power": "input power (W)",
    "temperature": "bath temperature (K)",
    "damping": "mechanical damping model: brownian | rwa",
    "mass": "effective mass (kg)",
    "radius": "resonator radius (m)",
    "omega_m": "mechanical angular frequency (rad/s)",
    "gamma_m": "mechanical damping rate (s^-1)",
    "omega_c": "optical angular frequency (rad/s)",
    "kappa_0": "intrinsic optical decay (s^-1)",
    "kappa_ex": "external optical decay (s^-1)",
    "m": "azimuthal mode number (integer >= 1)",
}


def set_help() -> str:
    """Text listing every ``--set`` key with its unit."""
    rows = [f"  {k:12s} {v}" for k, v in {**GAMMA_UNITS, **SI_KEYS}.items()]
    return "keys for --set KEY=VALUE:\n" + "\n".join(rows)


def add_params_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--params FILE.toml`` and repeatable ``--set KEY=VALUE``."""
    parser.add_argument("--params", metavar="FILE.toml",
                        help="TOML file of Params fields in SI units (default: paper's immune point)")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                        help="override one parameter (repeatable); see the key list below")


def _parse_number(key: str, text: str) -> Any:
    if key == "damping":
        return text
    if key == "m":
        try:
            return int(text)
        except ValueError:
            raise ParameterError(f"--set m={text!r}: must be an integer >= 1") from None
    try:
        value = complex(text.replace("i", "j")) if "j" in text or "i" in text else float(text)
    except ValueError:
        raise ParameterError(f"--set {key}={text!r}: not a number") from None
    if key not in ("eps", "eta") and isinstance(value, complex):
        raise ParameterError(f"--set {key}={text!r}: must be real")
    return value


def params_from_args(args: argparse.Namespace) -> Params:
    """Base parameters (file or paper defaults) with every ``--set`` applied, validated."""
    params = read_params_file(args.params) if args.params is not None else Params.paper()
    si: dict[str, Any] = {}
    scaled: dict[str, Any] = {}
    for item in args.set:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ParameterError(f"--set {item!r}: expected KEY=VALUE")
        if key in GAMMA_UNITS:
            scaled[key] = _parse_number(key, text.strip())
        elif key in SI_KEYS:
            si[key] = _parse_number(key, text.strip())
        else:
            raise ParameterError(f"--set {key!r}: unknown key.\n{set_help()}")
    params = params.replace(**si)
    gamma = params.Gamma
    changes: dict[str, Any] = {}
    if "detuning" in scaled:
        changes["detuning"] = scaled["detuning"] * gamma
    if "eta" in scaled:
        changes["eta"] = scaled["eta"] * gamma
    if "eps" in scaled:
        if len(params.defects) > 1:
            raise ParameterError(
                f"--set eps: the parameters have {len(params.defects)} defects; "
                "edit them in the TOML file instead"
            )
        beta0 = params.defects[0][1] if params.defects else 0.0
        changes["defects"] = ((scaled["eps"] * gamma, beta0),)
    return params.replace(**changes)


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout (non-finite numbers become null)."""
    json.dump(to_jsonable(data), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


class ProgressBar:
    """A one-line text progress bar on stderr (chunks done of total)."""

    def __init__(self, label: str = "sde", stream=None, width: int = 30) -> None:
        self.label, self.width, self.start = label, width, time.perf_counter()
        self.stream = sys.stderr if stream is None else stream

    def __call__(self, done: int, total: int) -> None:
        frac = done / total if total else 1.0
        bar = "#" * int(round(frac * self.width))
        el = time.perf_counter() - self.start
        self.stream.write(f"\r  {self.label} [{bar:<{self.width}}] {done}/{total} chunks  {el:6.1f} s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
