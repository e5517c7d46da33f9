"""The ``wgmsim`` command line. Each subcommand lives in its own module with ``register``.

Exit statuses: 0 done (whatever the physics verdict), 1 internal error (a bug: please report),
2 bad input or a refused run (one line on stderr naming the value or file), 3 the master
equation did not fit or did not converge, 130 interrupted (Ctrl-C; finished chunks are kept),
141 the reader of stdout went away (``wgmsim lyapunov | head -1``; nothing is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from ..errors import (CheckpointError, ResultFileError, RunInterrupted, TimeBudgetSpent,
                      WgmsimWarning)
from ..params import ParameterError
from . import lyapunov, me, ringup, sde, validate
from .checks import OnelineParser, UsageError, one_line, wrap
from .common import add_output_arguments, configure_logging

#: Subcommand modules, in the order shown by ``wgmsim --help``.
COMMANDS = (validate, lyapunov, sde, ringup, me)

#: Commands that checkpoint finished chunks in ``--out`` (a rerun resumes from them).
CHECKPOINTING = ("sde", "ringup", "validate")

#: Exit statuses (see the module docstring).
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_NOT_CONVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: Closed output pipe: what a shell reports for a tool killed by SIGPIPE (128 + 13).
EXIT_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    from .. import __version__

    parser = OnelineParser(
        prog="wgmsim",
        description=wrap(
            "Cavity optomechanics in a whispering-gallery resonator with backscattering: "
            "linearised, stochastic (SDE) and master-equation engines."),
        epilog="exit status: 0 done, 1 internal error, 2 bad input or refused run, "
        "3 master equation not converged, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"wgmsim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an internal error (also: "
                        "WGMSIM_DEBUG=1)")
    add_output_arguments(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    for subparser in sub.choices.values():  # also accepted after the command
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help="show the Python traceback of an internal error")
        add_output_arguments(subparser)
    return parser


def _print_warnings(name: str, caught: list) -> None:
    """Each distinct warning of a finished run as one line, ``NAME: warning: ...``."""
    seen = set()
    for w in caught:
        text = one_line(w.message)
        if not issubclass(w.category, WgmsimWarning):
            text = f"{w.category.__name__}: {text}"
        if text not in seen:
            seen.add(text)
            print(f"{name}: warning: {text}", file=sys.stderr)


def interrupted_message(exc: KeyboardInterrupt, out: str | None = None) -> str:
    """The one line printed on Ctrl-C: chunks saved, where, and how to resume."""
    if isinstance(exc, RunInterrupted):
        if exc.folder is not None:
            return (f"interrupted: {exc.done} of {exc.total} chunks saved in {exc.folder}; "
                    "rerun the same command to resume")
        return f"interrupted after {exc.done} of {exc.total} chunks (nothing saved)"
    if out:
        return (f"interrupted; finished chunks are saved in {out}; rerun the same command "
                "to resume")
    return "interrupted"


#: The flags that size each command's run, named when it runs out of memory.
_SIZE_FLAGS = {
    "sde": "--n-traj, --chunk-size, --t-avg",
    "ringup": "--n-traj, --chunk-size, --t-final, --output-every",
    "validate": "--quick, --master-max-dim",
    "me": "--max-dim, --cutoffs, --n-times, --initial-phonons",
}


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wgmsim`` console script; returns the exit status."""
    name = "wgmsim"
    debug = os.environ.get("WGMSIM_DEBUG", "") not in ("", "0")
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:
            if exc.code in (0, None):  # --help, --version: exit as argparse does
                raise
            return EXIT_USAGE  # a one-line usage error, already printed
        name = f"wgmsim {args.command}"
        debug = debug or args.debug
        configure_logging(args)
        # warnings are shown once the command has finished, one line each; a command that
        # fails shows only its error line
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            status = int(args.func(args) or 0)
        sys.stdout.flush()
        _print_warnings(name, caught)
        return status
    except BrokenPipeError:
        # the reader went away (``wgmsim lyapunov | head -1``): stop quietly, as CLI tools do
        _silence_stdout()
        return EXIT_PIPE
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - the last line of defence
        return _failure(exc, args, name, debug)


def _failure(exc: BaseException, args: argparse.Namespace | None, name: str,
             debug: bool) -> int:
    """The one error line of a command that failed with ``exc`` (called inside the ``except``
    of :func:`main`), and its exit status."""
    def fail(message: str) -> None:
        print(f"{name}: {one_line(message)}", file=sys.stderr)

    command = getattr(args, "command", None)
    if isinstance(exc, KeyboardInterrupt):
        # sde, ringup and validate checkpoint their finished chunks in --out
        out = getattr(args, "out", None) if command in CHECKPOINTING else None
        message = interrupted_message(exc, out)
        if command in ("sde", "ringup") and not out:
            message += "; give --out DIR to keep finished chunks"
        fail(message)
        return EXIT_INTERRUPTED
    if isinstance(exc, TimeBudgetSpent):
        fix = ("rerun the same command to resume" if exc.folder is not None
               else "give --out DIR to keep finished chunks")
        fail(f"--max-time {exc.max_time:g}: {exc}; {fix}")
        return EXIT_NOT_CONVERGED
    if isinstance(exc, ParameterError):
        fail(f"invalid parameter: {exc}")
    elif isinstance(exc, (UsageError, CheckpointError, ResultFileError)):
        fail(str(exc))
    elif isinstance(exc, MemoryError):
        flags = _SIZE_FLAGS.get(command, "")
        fail("out of memory: make the run smaller" + (f" ({flags})" if flags else ""))
    elif isinstance(exc, OSError):
        # a write that fails after its file was opened (a full disk) carries no file name: name
        # the output folder then
        where = exc.filename or getattr(args, "out", None) or getattr(args, "plot", None)
        fail(f"cannot access{f' {where}' if where else ''}: {exc.strerror or exc}")
    else:
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; rerun with --debug for the traceback"
        fail(f"internal error: {type(exc).__name__}: {exc} (please report{hint})")
        return EXIT_INTERNAL
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
