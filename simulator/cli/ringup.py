"""``wgmsim ringup``: the transient from an empty cavity, SDE ensemble against linearised theory."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..observables import log_negativity
from ..sde.integrators import METHODS
from ..sde.ringup import RingupOptions, RingupResult, simulate_ringup
from ..config import write_run_file
from .common import ProgressBar, add_params_arguments, params_from_args, print_json, set_help
from .runfile import add_config_argument, build_options

NAME = "ringup"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ringup`` subcommand."""
    p = sub.add_parser(
        NAME,
        help="transient from an empty cavity: SDE ensemble vs linearised covariance equation",
        description="Starts from an empty cavity and thermal mechanics, switches the drive on "
        "(optionally ramped) at the bare detuning of the requested fixed point, and integrates "
        "the nonlinear truncated-Wigner equations for an ensemble; compares the ensemble "
        "covariance with dV/dt = A(t) V + V A(t)^T + D along the mean-field path. "
        "Times in units of 1/omega_m.",
        epilog=set_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_arguments(p)
    d = RingupOptions()
    p.add_argument("--n-traj", type=int, default=d.n_traj, help="trajectories (default %(default)s)")
    p.add_argument("--chunk-size", type=int, default=d.chunk_size,
                   help="trajectories per chunk (default %(default)s)")
    p.add_argument("--dt", type=float, default=d.dt, help="time step (default %(default)s)")
    p.add_argument("--t-final", type=float, default=d.t_final, help="end time (default %(default)s)")
    p.add_argument("--output-every", type=float, default=d.output_every,
                   help="time between outputs (default %(default)s)")
    p.add_argument("--ramp-time", type=float, default=d.ramp_time,
                   help="linear ramp of the drive (default %(default)s: switched on)")
    p.add_argument("--method", choices=sorted(METHODS), default=d.method)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--plot", metavar="FILE", help="save a figure (png/pdf) of the transient")
    p.add_argument("--out", metavar="DIR",
                   help="save the result (ringup.npz + ringup.json; RingupResult.load reads it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_argument(p, NAME)
    p.set_defaults(func=run)


def format_result(res: RingupResult) -> str:
    lin_en = log_negativity(res.linear_covariance)["r_m"]
    en = res.log_negativity["r_m"]
    ph = res.photon_number["r"]
    lines = [
        "wgmsim ringup: transient from an empty cavity (units: omega_m, time 1/omega_m)",
        f"  {res.options.n_traj} trajectories, method {res.options.method}, dt {res.options.dt}, "
        f"ramp {res.options.ramp_time}; diverged {res.diverged}; "
        f"max |z| vs linearised = {res.max_abs_z:.2f}",
        "       t    photons_r   phonons   E_N(r_m)  E_N linear",
    ]
    idx = np.unique(np.linspace(0, len(res.t) - 1, 12).astype(int))
    for i in idx:
        lines.append(f"  {res.t[i]:7.1f}  {ph[i]:10.4e}  {res.phonon_number[i]:8.3f}  "
                     f"{en[i]:9.4f}  {lin_en[i]:9.4f}")
    lines.append(f"  {res.timing['trajectory_steps']:.3g} trajectory-steps in "
                 f"{res.timing['wall_seconds']:.2f} s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    try:
        opts = build_options(args, RingupOptions, "ringup",
                             method=args.method, dt=args.dt, n_traj=args.n_traj,
                             chunk_size=args.chunk_size, t_final=args.t_final,
                             output_every=args.output_every, ramp_time=args.ramp_time)
        show = not args.quiet and sys.stderr.isatty()
        res = simulate_ringup(params, opts, seed=args.seed, n_jobs=args.n_jobs, out=args.out,
                              progress=ProgressBar("ringup") if show else None)
    except ValueError as exc:
        print(f"wgmsim ringup: {exc}", file=sys.stderr)
        return 2
    if args.out:
        res.save(args.out)
        write_run_file(args.out, params, command=NAME, ringup=opts, seed=args.seed)
    if args.plot:
        from ..plotting import plot_ringup

        plot_ringup(res, args.plot)
    if args.json:
        print_json(res.to_dict())
    else:
        print(format_result(res))
    return 0
