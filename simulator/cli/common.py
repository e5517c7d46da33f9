"""Shared command-line plumbing: building :class:`Params` from ``--params`` and ``--set``."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
from typing import Any

from ..jsonio import to_jsonable
from ..config import apply_changes
from ..conventions import DAMPING_MODELS
from ..params import ParameterError, Params
from .checks import UsageError, check_toml_file, read_params_file
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
            close = difflib.get_close_matches(key, list(SET_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(f"--set {key!r}: unknown key{hint}; the keys are "
                                 f"{', '.join(SET_KEYS)} (units and examples: --help)")
        settings[key] = text.strip()
    return apply_changes(params, settings, source="--set")


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout (non-finite numbers become null)."""
    json.dump(to_jsonable(data), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def add_output_arguments(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Add ``--quiet``, ``-v/--verbose`` and ``--progress`` (on the top-level parser with their
    defaults; on a subcommand, ``top=False``, without defaults so that they are accepted after the
    command too and a flag given before it is kept)."""
    def default(value):
        return {"default": value if top else argparse.SUPPRESS}

    parser.add_argument("-q", "--quiet", action="store_true", **default(False),
                        help="no progress bar and no INFO messages (warnings and errors only)")
    parser.add_argument("-v", "--verbose", action="count", **default(0),
                        help="log what the engines do, one line each (INFO; -vv: DEBUG)")
    parser.add_argument("--progress", action="store_true", **default(False),
                        help="draw progress bars even when stderr is not a terminal (batch logs)")


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: stderr a terminal (or ``--progress``), unless ``--quiet``."""
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


class StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is when a message comes, so that a
    stream redirected or captured after :func:`configure_logging` is never a stale one."""

    @property
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


#: Format of a log line: ``12:03:04 INFO simulator.validate: validate: sde leg started (...)``.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(args: argparse.Namespace) -> None:
    """Send the ``simulator`` loggers to stderr, one line each: WARNING by default, INFO with
    ``--verbose``, DEBUG with ``-vv``, ERROR with ``--quiet``. Replaces the handler of an earlier
    call (``main`` may run many times in one process)."""
    verbose = int(getattr(args, "verbose", 0) or 0)
    if getattr(args, "quiet", False):
        level = logging.ERROR
    else:
        level = (logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG
    logger = logging.getLogger("simulator")
    for h in list(logger.handlers):
        if getattr(h, "_wgmsim_cli", False):
            logger.removeHandler(h)
    handler = StderrHandler()
    handler._wgmsim_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level)


def add_backend_arguments(parser: argparse.ArgumentParser, *, precision: bool = True,
                          default: str | None = "numpy") -> None:
    """Add ``--backend`` (and ``--precision``): the array library of the SDE chunk loop;
    ``default=None`` leaves it to the options (``validate``: its SDE leg's)."""
    from ..sde.options import BACKENDS, PRECISIONS

    parser.add_argument("--backend", choices=BACKENDS, default=default,
                        help="array library of the ensemble: numpy (default) or jax (optional "
                        "extra wgmsim[jax]; runs on a GPU where JAX finds one; use large "
                        "--chunk-size there)")
    if precision:
        parser.add_argument("--precision", choices=PRECISIONS, default="float64",
                            help="with --backend jax: float64 (default) or float32 (faster on "
                            "a GPU, less accurate)")


def check_backend_available(backend: str) -> None:
    """``UsageError`` (one line, exit 2) when ``backend`` is ``"jax"`` and JAX is missing."""
    if backend == "jax":
        from ..sde.jax_backend import jax_modules

        try:
            jax_modules()
        except ImportError as exc:
            raise UsageError(f"--backend jax: {exc}") from None
