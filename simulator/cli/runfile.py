"""``--config RUN.toml`` on the command line: run-file tables under explicit flags.

Precedence, lowest first: the paper's defaults < ``--config`` ``[params]`` < ``--params FILE`` <
``--set KEY=VALUE``; for options, the defaults < the run file's table < flags given on the command
line. A flag counts as given when it appears on the command line, even with its default value.

Each subcommand maps its flags onto run-file keys in :data:`FLAGS`; table keys without a flag
(e.g. ``block_steps`` of ``[sde]``) go straight into the option object (:func:`build_options`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from ..config import ConfigError, RunFile

__all__ = ["FLAGS", "TABLES_USED", "add_config_argument", "merge_config", "build_options"]

_NOT: Callable[[Any], Any] = lambda v: not v  # noqa: E731

#: Per subcommand: flag destination -> (table, key, conversion from the file's value).
FLAGS: dict[str, dict[str, tuple]] = {
    "lyapunov": {},
    "sde": {
        **{k: ("sde", k) for k in ("n_traj", "t_burn", "t_avg", "dt", "method", "chunk_size",
                                   "batch_time", "sample_every", "initial", "bound",
                                   "allow_unstable", "error_check", "seed", "n_jobs",
                                   "backend", "precision", "escape_radius")},
        "no_wigner_correction": ("sde", "wigner_correction", _NOT),
    },
    "ringup": {k: ("ringup", k) for k in ("n_traj", "chunk_size", "dt", "t_final",
                                          "output_every", "ramp_time", "method", "seed",
                                          "n_jobs", "control_variate", "backend",
                                          "precision", "escape_radius")},
    "validate": {
        **{k: ("validate", k) for k in ("quick", "seed", "n_jobs", "master_max_dim",
                                        "control_variate", "backend")},
        "no_master": ("validate", "master", _NOT),
        "no_attractors": ("validate", "attractors", _NOT),
    },
    "me": {k: ("master", k) for k in ("nonlinear", "t_max", "n_times", "initial_phonons",
                                      "basis", "method", "tol", "cutoffs", "max_dim")},
}
#: Tables each subcommand reads (any other table of its run file is ignored, said in one line on
#: stderr; a file with none of them is refused).
TABLES_USED: dict[str, tuple[str, ...]] = {
    "lyapunov": ("params",), "sde": ("params", "sde"), "ringup": ("params", "ringup"),
    "validate": ("params", "validate", "sde"), "me": ("params", "master"),
}


class _Default:
    """A flag's default, marked so that a value from the run file may replace it."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:  # shown by %(default)s in the help
        return str(self.value)

    __repr__ = __str__

    def __float__(self) -> float:  # %(default)g
        return float(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def add_config_argument(parser: argparse.ArgumentParser, command: str) -> None:
    """Add ``--config RUN.toml``; call after every other argument of the subcommand."""
    parser.add_argument(
        "--config", metavar="RUN.toml",
        help=f"run file with tables {list(TABLES_USED[command])} (e.g. DIR/run.toml written by "
        "--out); flags given on the command line override it")
    for action in parser._actions:
        if action.dest in FLAGS[command]:
            action.default = _Default(action.default)
    parser.set_defaults(config_command=command)


def merge_config(args: argparse.Namespace) -> RunFile | None:
    """Fill every flag not given on the command line from the run file (or its default).

    Idempotent; stores the run file as ``args.run_file`` and returns it (``None`` without
    ``--config``).
    """
    if getattr(args, "config_merged", False):
        return getattr(args, "run_file", None)
    command = getattr(args, "config_command", None)
    run = RunFile.read(args.config) if getattr(args, "config", None) else None
    if run is not None:
        ignored = run.check_tables(command, TABLES_USED[command])
        if ignored and not getattr(args, "quiet", False):
            print(f"wgmsim {command}: {run.path}: ignoring " + ", ".join(
                f"[{t}] (read by {'/'.join(c for c, u in TABLES_USED.items() if t in u)})"
                for t in ignored), file=sys.stderr)
        if command == "validate":
            _validate_seed_from_sde(run)
    for dest, (table, key, *conv) in FLAGS.get(command, {}).items():
        value = getattr(args, dest, None)
        if not isinstance(value, _Default):
            continue
        if command == "validate" and dest == "seed" and run is not None \
                and "seed" not in run.table("validate") and "seed" in run.table("sde"):
            table = "sde"  # a run file of `wgmsim sde --out`: its seed is the SDE leg's
        if run is not None and key in run.table(table):
            file_value = run.table(table)[key]
            if conv:
                file_value = conv[0](file_value)
            elif dest == "cutoffs" and file_value is not None:
                file_value = tuple(file_value)
            setattr(args, dest, file_value)
        else:
            setattr(args, dest, value.value)
    args.run_file, args.config_merged = run, True
    return run


def _validate_seed_from_sde(run: RunFile) -> None:
    """``validate`` reads ``[sde] seed`` as its seed (the SDE leg's) where ``[validate]`` has
    none; two different seeds are refused."""
    a, b = run.table("validate").get("seed"), run.table("sde").get("seed")
    if a is not None and b is not None and a != b:
        raise ConfigError(f"{run.path}: [validate] seed = {a} and [sde] seed = {b}: validate "
                          "has one seed (that of its SDE leg); give one of them")


def build_options(args: argparse.Namespace, cls: type, table: str, **kwargs: Any) -> Any:
    """``cls(**kwargs)`` plus the keys of ``[table]`` that have no flag (fields of ``cls``).

    A key of the table that is neither a flag nor a field of ``cls`` is refused (e.g. an
    ``[master]`` evolution option in a steady-state run).
    """
    run = merge_config(args)
    command = args.config_command
    flagged = {key for t, key, *_ in FLAGS[command].values() if t == table}
    extras = {k: v for k, v in (run.table(table) if run else {}).items() if k not in flagged}
    if table == "validate" and run is not None and run.table("sde"):
        sde = {k: v for k, v in run.table("sde").items()}
        sde.pop("seed", None)  # the SDE leg's seed (see merge_config)
        sde.pop("n_jobs", None)  # does not change results; --n-jobs or [validate] n_jobs
        from ..sde import SDEOptions

        kwargs.setdefault("sde", SDEOptions.from_dict(sde))
    fields = set(cls.__dataclass_fields__)
    unused = sorted(set(extras) - fields)
    if unused:
        raise ConfigError(f"{run.path}: [{table}] {unused}: not options of {cls.__name__} "
                          f"(this run uses {sorted(fields)})")
    if cls.__name__ == "SDEOptions" and extras:
        return cls.from_dict({**kwargs, **extras})
    extras = {k: tuple(v) if isinstance(v, list) else v for k, v in extras.items()}
    return cls(**kwargs, **extras)
