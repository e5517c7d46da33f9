"""Shared command-line plumbing: building :class:`Params` from ``--params`` and ``--set``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..jsonio import to_jsonable
from ..config import apply_changes
from ..conventions import DAMPING_MODELS
from ..params import ParameterError, Params
from .checks import check_toml_file, read_params_file
from .runfile import merge_config

#: ``--set`` keys: name -> (meaning, example). Every value carries a unit except ``m``, angles
#: (radians when bare) and ``damping``; see :mod:`simulator.units`.
SET_KEYS = {
    "detuning": ("effective detuning Delta", "-1.15Gamma"),
    "eps": ("single-defect strength (complex allowed)", "1-0.05jGamma"),
    "eta": ("nanoparticle strength (complex allowed)", "1Gamma"),
    "beta": ("nanoparticle angle (rad when bare)", "0.125pi"),
    "power": ("input power", "30mW"),
    "temperature": ("bath temperature", "200mK"),
    "damping": (f"mechanical damping model: {' | '.join(DAMPING_MODELS)}", "rwa"),
    "mass": ("effective mass", "10ng"),
    "radius": ("resonator radius", "1.1mm"),
    "omega_m": ("mechanical angular frequency (Hz means 2 pi Hz)", "63e6/s"),
    "gamma_m": ("mechanical damping rate", "1e-5omega_m"),
    "omega_c": ("optical angular frequency", "1.22e15/s"),
    "kappa_0": ("intrinsic optical decay", "0.3omega_m"),
    "kappa_ex": ("external optical decay", "0.3omega_m"),
    "m": ("azimuthal mode number (integer >= 1)", "4"),
    "g0": ("single-photon coupling G0 (sets the mass)", "0.05Gamma"),
    "G": ("target |G_r| at the fixed point (sets the power)", "0.61omega_m"),
}


def set_help() -> str:
    """Text listing every ``--set`` key with an example, the units and the order of resolution."""
    rows = [f"  {k:12s} {v:50s} e.g. {k}={ex}" for k, (v, ex) in SET_KEYS.items()]
    return ("keys for --set KEY=VALUE (a number with its unit: <number><unit> or "
            "'<number> <unit>'):\n"
            + "\n".join(rows) + "\n"
            "units: power W mW uW nW; temperature K mK uK; rates /s Hz (2 pi Hz) kHz MHz GHz THz "
            "Gamma omega_m;\n  mass kg g mg ug ng; length m mm um nm; angles rad deg pi.\n"
            "Gamma (= kappa_0 + kappa_ex) and omega_m are those of the parameters being built "
            "(after the\n  other --set keys); g0 is applied after them, G last. Precedence: "
            "defaults < --config [params]\n  < --params FILE < --set.")


def add_params_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--params FILE.toml`` and repeatable ``--set KEY=VALUE``."""
    parser.add_argument("--params", metavar="FILE.toml",
                        help="TOML file of parameters (bare numbers SI, strings with units; "
                        "default: paper's immune point)")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                        help="override one parameter, with its unit (repeatable); see the key "
                        "list below")


def params_from_args(args: argparse.Namespace) -> Params:
    """Parameters from ``--config`` ``[params]``, ``--params`` and every ``--set``, validated.

    Also merges the run file's option tables into ``args`` (:func:`.runfile.merge_config`).
    """
    if getattr(args, "config", None) is not None:
        check_toml_file("--config", args.config)
    run = merge_config(args)
    params = Params.paper()
    if run is not None and run.params:
        params = apply_changes(params, run.params, source=f"{run.path} [params]")
    if getattr(args, "params", None) is not None:
        params = read_params_file(args.params, base=params)
    settings: dict[str, str] = {}
    for item in getattr(args, "set", []):
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ParameterError(f"--set {item!r}: expected KEY=VALUE")
        if key not in SET_KEYS:
            raise ParameterError(f"--set {key!r}: unknown key.\n{set_help()}")
        settings[key] = text.strip()
    return apply_changes(params, settings, source="--set")


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
