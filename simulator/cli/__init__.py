"""The ``wgmsim`` command line. Each subcommand lives in its own module with ``register``."""

from __future__ import annotations

import argparse
import sys

from ..params import ParameterError
from . import lyapunov, me, ringup, sde, validate

#: Subcommand modules, in the order shown by ``wgmsim --help``.
COMMANDS = (validate, lyapunov, sde, ringup, me)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="wgmsim",
        description="Cavity optomechanics in a whispering-gallery resonator with backscattering: "
        "linearised, stochastic (SDE) and master-equation engines.",
    )
    parser.add_argument("--version", action="version", version=f"wgmsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wgmsim`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ParameterError as exc:
        print(f"wgmsim {args.command}: invalid parameter: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
