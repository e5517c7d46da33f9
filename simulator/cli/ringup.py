"""``wgmsim ringup``: the transient from an empty cavity, SDE ensemble against linearised theory."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..observables import log_negativity
from ..sde.integrators import METHODS
from ..sde.ringup import RingupOptions, RingupResult, estimate_ringup, simulate_ringup
from ..config import write_run_file
from .checks import (UsageError, cap_workers, check_memory, check_out_dir, check_plot_file,
                     integer, n_jobs_arg, one_line, real, wrap)
from .budget import add_budget_arguments, check_work
from .cluster import add_scheduler_argument, dask_backend
from .common import (add_backend_arguments, add_params_arguments, check_backend_available,
                     params_from_args, print_json, set_help, show_progress)
from .runfile import add_config_argument, build_options
from .sde import ESCAPE_HELP, escape_lines, escape_radius_arg

NAME = "ringup"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ringup`` subcommand."""
    p = sub.add_parser(
        NAME,
        help="transient from an empty cavity: SDE ensemble vs linearised covariance equation",
        description=wrap("Starts from an empty cavity and thermal mechanics, switches the drive on "
        "(optionally ramped) at the bare detuning of the requested fixed point, and integrates "
        "the nonlinear truncated-Wigner equations for an ensemble; compares the ensemble "
        "covariance with dV/dt = A(t) V + V A(t)^T + D along the mean-field path. "
        "Times in units of 1/omega_m."),
        epilog=set_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_arguments(p)
    d = RingupOptions()
    p.add_argument("--n-traj", type=integer(1), default=d.n_traj,
                   help="trajectories (default %(default)s; 1e5 is read as 100000)")
    p.add_argument("--chunk-size", type=integer(1), default=d.chunk_size,
                   help="trajectories per chunk (default %(default)s)")
    p.add_argument("--dt", type=real(), default=d.dt, help="time step (default %(default)s)")
    p.add_argument("--t-final", type=real(), default=d.t_final,
                   help="end time (default %(default)s)")
    p.add_argument("--output-every", type=real(), default=d.output_every,
                   help="time between outputs (default %(default)s)")
    p.add_argument("--ramp-time", type=real(0.0, strict=False), default=d.ramp_time,
                   help="linear ramp of the drive (default %(default)s: switched on)")
    p.add_argument("--method", choices=sorted(METHODS), default=d.method,
                   help="integrator of the ensemble (default %(default)s)")
    p.add_argument("--control-variate", action="store_true", help="also integrate the linearised "
                   "SDE on the same noise and report the nonlinear shift V_nl(t) - V_lin(t) and "
                   "dE_N(t) with their errors (about 3x the work)")
    p.add_argument("--seed", type=integer(0), default=0,
                   help="root seed of the ensemble (default %(default)s)")
    p.add_argument("--n-jobs", type=n_jobs_arg, default=1,
                   help="parallel workers (-1: all cores; capped at the chunks and cores)")
    add_backend_arguments(p)
    p.add_argument("--plot", metavar="FILE", help="save a figure (png/pdf) of the transient")
    p.add_argument("--out", metavar="DIR",
                   help="save the result (ringup.npz + ringup.json; RingupResult.load reads it)")
    add_budget_arguments(p)
    add_scheduler_argument(p)
    p.add_argument("--escape-radius", type=escape_radius_arg, default=None, help=ESCAPE_HELP)
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
        f"max |z| vs linearised = {res.max_abs_z:.2f}"
        + (" (plain estimate)" if getattr(res, "plain", None) else ""),
        "       t    photons_r   phonons   E_N(r_m)  E_N linear"
        + ("   (control variates: the controlled estimate)" if getattr(res, "plain", None)
           else ""),
    ]
    status = getattr(res, "status", "ok")
    if status != "ok":
        why = getattr(res, "message", "") or "(no message)"
        lines.insert(2, f"  STATUS {status.upper()}: {why}")
    idx = np.unique(np.linspace(0, len(res.t) - 1, 12).astype(int))
    for i in idx:
        lines.append(f"  {res.t[i]:7.1f}  {ph[i]:10.4e}  {res.phonon_number[i]:8.3f}  "
                     f"{en[i]:9.4f}  {lin_en[i]:9.4f}")
    if (ph[idx] < 0).any():
        lines.append("  (photon numbers are <a^dag a> = <|alpha|^2> - 1/2 over Wigner samples: in "
                     "the empty cavity at t = 0 the estimate scatters about zero, so a negative "
                     "value there is sampling noise)")
    lines += escape_lines(getattr(res, "escapes", None))
    shift = getattr(res, "shift", None)
    if shift is not None and "log_negativity" in shift:
        d_en, d_se = shift["log_negativity"]["r_m"], shift["log_negativity_stderr"]["r_m"]
        lines.append(f"  nonlinear shift dE_N(r_m) at t = {res.t[-1]:g} (control variates, "
                     f"order {shift['order']}): {d_en[-1]:+.2e} +- {d_se[-1]:.1e}")
    lines.append(f"  {res.timing['trajectory_steps']:.3g} trajectory-steps in "
                 f"{res.timing['wall_seconds']:.2f} s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the command; paths are checked before the run so that no result is lost."""
    params = params_from_args(args)
    check_out_dir(args.out, files=("ringup.json", "ringup.npz", "run.toml"))
    check_plot_file(args.plot)
    try:
        opts = build_options(args, RingupOptions, "ringup",
                             method=args.method, dt=args.dt, n_traj=args.n_traj,
                             chunk_size=args.chunk_size, t_final=args.t_final,
                             output_every=args.output_every, ramp_time=args.ramp_time,
                             control_variate=args.control_variate, backend=args.backend,
                             precision=args.precision, escape_radius=args.escape_radius)
        check_backend_available(opts.backend)
        plan = estimate_ringup(params, opts)  # the engine's own plan, one worker
        check_memory(f"--n-traj {opts.n_traj} --chunk-size {opts.chunk_size} "
                     f"--t-final {opts.t_final:g}",
                     plan["memory_bytes"], f"{plan['n_chunks']} chunks")
        n_jobs = (args.n_jobs if args.scheduler or opts.backend == "jax" else
                  cap_workers(args.n_jobs, opts.n_chunks, lambda m: print(m, file=sys.stderr)))
        # the rate is measured on the stationary system of the same point (same cost per step)
        from ..sde import build_system

        sde_opts = opts.sde_options()
        check_work(NAME, args, build_system(params, sde_opts), sde_opts,
                   opts.t_final / opts.dt, max(n_jobs, 1),
                   f"--n-traj {opts.n_traj} --t-final {opts.t_final:g} --dt {opts.dt:g}",
                   3.0 if opts.control_variate else 1.0)
        with dask_backend(args.scheduler):
            res = simulate_ringup(params, opts, seed=args.seed, n_jobs=n_jobs, out=args.out,
                                  progress=show_progress(args), max_time=args.max_time)
    except UsageError:
        raise
    except ValueError as exc:
        print(f"wgmsim ringup: {one_line(exc)}", file=sys.stderr)
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
