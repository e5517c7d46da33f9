"""``wgmsim validate``: Lyapunov vs SDE ensemble vs master equation, with a written report."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ..report import summary_lines, write_report
from ..sde import UnstableSystemError
from ..sde.ensemble import checkpoint_lock
from ..validate import MASTER_MAX_DIM, ValidateOptions, validate
from ..config import write_run_file
from .checks import (UsageError, cap_workers, check_out_dir, integer, n_jobs_arg, one_line,
                     wrap)
from .cluster import add_scheduler_argument, dask_backend
from .common import (add_backend_arguments, add_params_arguments, check_backend_available,
                     params_from_args, print_json, set_help, show_progress)
from .runfile import add_config_argument, build_options

NAME = "validate"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand."""
    p = sub.add_parser(
        NAME,
        help="is the linearised picture right? Lyapunov vs SDE vs master equation, with a report",
        description=wrap(
            "Runs the Lyapunov analysis, an SDE ensemble of the nonlinear equations and "
            "the master equation (where its Fock truncation fits) on one configuration (default: "
            "the paper's immune point at its optimal detuning), compares covariance, E_N and "
            "steering, and writes report.md, report.json and figures to --out. Exits 0 whenever it "
            "ran, whatever the verdict; an engine that fails is reported as not compared, with "
            "the reason."),
        epilog=set_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_arguments(p)
    p.add_argument("--quick", action="store_true",
                   help="small ensemble: a meaningful verdict in well under 2 minutes")
    p.add_argument("--out", metavar="DIR", default="wgmsim-report",
                   help="report directory (default %(default)s); holds the SDE checkpoint too")
    p.add_argument("--seed", type=integer(0), default=0, help="root seed of the SDE ensemble")
    p.add_argument("--n-jobs", type=n_jobs_arg, default=1,
                   help="parallel workers for the SDE ensemble (-1: all cores; capped at the "
                   "chunks and cores)")
    p.add_argument("--no-master", action="store_true", help="skip the master equation")
    p.add_argument("--no-attractors", action="store_true",
                   help="skip the search for classical attractors coexisting with the fixed "
                        "point (limit cycles, basin edge; a few seconds)")
    p.add_argument("--control-variate", action=argparse.BooleanOptionalAction, default=True,
                   help="SDE leg with control variates: also measures the nonlinear shift dE_N "
                   "with its error (default on; about 2x the SDE leg's time)")
    p.add_argument("--master-max-dim", type=integer(8), default=MASTER_MAX_DIM,
                   help="largest Fock-space dimension for the master equation (default "
                   "%(default)s; the cost grows steeply: ~3 s at 264, minutes at 600)")
    add_backend_arguments(p, precision=False, default=None)
    add_scheduler_argument(p)
    p.add_argument("--json", action="store_true", help="print the report JSON instead of text")
    add_config_argument(p, NAME)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the validation; exit 0 when it ran, 2 on bad input."""
    params = params_from_args(args)
    check_out_dir(args.out, files=("report.md", "report.json", "report.html", "observables.png",
                                  "covariance_scores.png", "run.toml"))
    try:
        options = build_options(args, ValidateOptions, "validate",
                                quick=args.quick, seed=args.seed, n_jobs=args.n_jobs,
                                master=not args.no_master, master_max_dim=args.master_max_dim,
                                attractors=not args.no_attractors,
                                control_variate=args.control_variate,
                                backend=args.backend)
        check_backend_available(options.sde_options().backend)
        if not args.scheduler and options.sde_options().backend != "jax":
            n_jobs = cap_workers(options.n_jobs, options.sde_options().n_chunks,
                                 lambda m: print(m, file=sys.stderr))
            if n_jobs != options.n_jobs:
                options = dataclasses.replace(options, n_jobs=n_jobs)
        # the whole folder is one run's: a second validate into it is refused while this one
        # runs (the checkpoint subfolder has its own lock), so the report files written at the
        # end are this run's, all of them
        with checkpoint_lock(Path(args.out)):
            with dask_backend(args.scheduler):
                res = validate(params, options, out=args.out, progress=show_progress(args))
            path = write_report(res, args.out)
            write_run_file(args.out, params, command=NAME, validate=options)
    except UsageError:
        raise
    except (UnstableSystemError, ValueError) as exc:
        print(f"wgmsim validate: {one_line(exc)}", file=sys.stderr)
        return 2
    if args.json:
        from ..report import report_dict

        print_json(report_dict(res))
    else:
        print("\n".join(summary_lines(res)))
        print(f"  report: {path}")
    return 0
