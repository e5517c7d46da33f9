"""``wgmsim sde``: stationary statistics of the nonlinear Langevin equations from an SDE ensemble."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..conventions import QUADRATURES
from ..sde import METHODS, SDEOptions, SDEResult, UnstableSystemError, estimate_run, simulate_sde
from ..statistics import format_log_negativity
from ..sde.options import INITIAL_STATES
from ..config import write_run_file
from .checks import (UsageError, cap_workers, check_memory, check_out_dir, integer, n_jobs_arg,
                     one_line, real, wrap)
from .budget import add_budget_arguments, check_work
from .cluster import add_scheduler_argument, dask_backend
from .common import (add_backend_arguments, add_params_arguments, check_backend_available,
                     params_from_args, print_json, set_help, show_progress)
from .runfile import add_config_argument, build_options

NAME = "sde"


def _dt_arg(text: str) -> float | str:
    """``--dt``: a finite step > 0, or ``auto``."""
    return text if text == "auto" else real()(text)


def escape_radius_arg(text: str) -> float | str:
    """``--escape-radius``: ``off`` or a Mahalanobis radius > 0."""
    if text.strip().lower() == "off":
        return "off"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: 'off' or a number > 0") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: 'off' or a number > 0")
    return value


ESCAPE_HELP = ("Mahalanobis radius (Lyapunov standard deviations) beyond which a trajectory has "
               "escaped from the fixed point's basin: counted, dropped, status metastable "
               "(default: the basin radius of the attractor search, for G0/Gamma >= 1e-3; "
               "'off': no test)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sde`` subcommand."""
    p = sub.add_parser(
        NAME,
        help="nonlinear stochastic (truncated-Wigner) ensemble: stationary covariance, E_N",
        description=wrap(
            "Integrates the nonlinear Langevin equations (paper Eq. 3, truncated Wigner) "
            "about the mean-field fixed point for an ensemble of trajectories, averages the "
            "covariance over time after a burn-in, and compares it with the Lyapunov solution. "
            "Times in units of 1/omega_m. With --out DIR finished chunks are checkpointed in DIR "
            "and the same command resumes a killed run; the result is saved there too."),
        epilog=set_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_arguments(p)
    d = SDEOptions()
    p.add_argument("--n-traj", type=integer(1), default=d.n_traj,
                   help="trajectories (default %(default)s; 1e5 is read as 100000)")
    p.add_argument("--t-burn", type=real(0.0, strict=False), default=None,
                   help="burn-in time (default 8 / slowest decay rate of A)")
    p.add_argument("--t-avg", type=real(), default=d.t_avg,
                   help="averaging time (default %(default)s)")
    p.add_argument("--dt", type=_dt_arg, default=d.dt,
                   help="time step, or 'auto' (sized by the nonlinearity; default %(default)s)")
    p.add_argument("--method", choices=sorted(METHODS), default=d.method,
                   help="integrator (default %(default)s)")
    p.add_argument("--seed", type=integer(0), default=0,
                   help="root seed (default %(default)s)")
    p.add_argument("--n-jobs", type=n_jobs_arg, default=1,
                   help="parallel workers (-1: all cores; capped at the chunks and cores)")
    p.add_argument("--chunk-size", type=integer(1), default=d.chunk_size,
                   help="trajectories per chunk (fixes the result; default %(default)s)")
    p.add_argument("--batch-time", type=real(), default=None,
                   help="batch length for batch-means errors (default 20 / slowest rate)")
    p.add_argument("--sample-every", type=integer(1), default=d.sample_every,
                   help="accumulate every N steps (default %(default)s)")
    p.add_argument("--initial", choices=INITIAL_STATES[:2], default=d.initial,
                   help="initial fluctuations (default %(default)s)")
    p.add_argument("--bound", type=real(), default=d.bound,
                   help="|x| beyond which a trajectory is diverged (default 1000 standard "
                   "deviations of the stationary state)")
    p.add_argument("--escape-radius", type=escape_radius_arg, default=None, help=ESCAPE_HELP)
    p.add_argument("--no-wigner-correction", action="store_true",
                   help="drop the -G0 symmetric-ordering term of the force")
    p.add_argument("--allow-unstable", action="store_true",
                   help="integrate even if A has an eigenvalue with Re >= 0")
    p.add_argument("--error-check", action="store_true",
                   help="also run 64 trajectories at dt and dt/2 on the same noise")
    p.add_argument("--control-variate", action="store_true", help="also integrate the linearised "
                   "SDE on the same noise: JSON gains 'shift' (nonlinear shift of V and E_N)")
    add_backend_arguments(p)
    p.add_argument("--out", metavar="DIR", help="checkpoint and result directory")
    add_budget_arguments(p)
    add_scheduler_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_argument(p, NAME)
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> SDEOptions:
    """:class:`SDEOptions` from the parsed arguments (validated)."""
    return build_options(
        args, SDEOptions, "sde",
        method=args.method, dt=args.dt, n_traj=args.n_traj, chunk_size=args.chunk_size,
        t_burn=args.t_burn, t_avg=args.t_avg, batch_time=args.batch_time,
        sample_every=args.sample_every, initial=args.initial, bound=args.bound,
        wigner_correction=not args.no_wigner_correction, allow_unstable=args.allow_unstable,
        error_check=args.error_check, control_variate=args.control_variate,
        backend=args.backend, precision=args.precision, escape_radius=args.escape_radius,
    )


def json_record(res: SDEResult) -> dict:
    """The JSON printed by ``--json`` (also ``result.json`` in ``--out``)."""
    return res.to_dict()


def _value_pm(value: float, err: float, key: str) -> str:
    """``key value +- err``; an estimate clipped at zero has no error bar and says so."""
    if value == 0 and not err:
        return f"{key} 0 (clipped at zero: no entanglement resolved, no error bar)"
    return f"{key} {value:.4f} +- {err:.4f}"


def format_result(res: SDEResult) -> str:
    """Readable summary of an :class:`SDEResult`."""
    s, o = res.schedule, res.options
    dt = f"{s['dt']:.4g}" + (" (dt auto)" if "auto_dt" in s else "")
    lines = [
        "wgmsim sde: nonlinear truncated-Wigner ensemble (units: omega_m, time 1/omega_m)",
        f"  method {o.method}, dt {dt}, {o.n_traj} trajectories in {o.n_chunks} chunks, "
        f"burn-in {s['t_burn']:.1f}, averaging {s['t_avg']:.1f} in {s['n_batches']} batch(es) "
        f"per chunk ({res.n_units} units)"
        + (f", backend jax ({o.precision}, {res.timing.get('device', '?')})"
           if o.backend == "jax" else ""),
        f"  status {res.status}; diverged trajectories: {res.diverged}",
    ]
    if res.status != "ok":
        lines.append(f"  STATUS {res.status.upper()}: {res.message or '(no message)'}")
    elif res.message:
        lines.append(f"  {res.message}")
    lines += escape_lines(res.escapes)
    controlled = (f" (control variates, order {res.shift.get('order', 1)})" if res.plain
                  else "")
    if res.escapes and res.escapes["count"]:
        controlled += " [statistics of the fixed point's basin]"
    if res.log_negativity:
        lines.append(f"  E_N{controlled}: " + format_log_negativity(res.observables))
        if res.plain:
            lines.append("  E_N plain estimate (no control variate): "
                         + format_log_negativity(res.plain["observables"]))
    if res.lyapunov:
        L = res.lyapunov
        if "log_negativity" in L:
            lines.append("  Lyapunov E_N: " + ", ".join(
                f"{k} {v:.4f} (z {L['log_negativity_z'][k]:+.2f})"
                for k, v in L["log_negativity"].items()))
        which = "plain estimate" if res.plain else "covariance"
        lines.append(f"  {which} vs Lyapunov: max |z| = {L['max_abs_z']:.2f} -> {L['verdict']}")
    lines.append(f"  covariance{controlled} (" + ", ".join(QUADRATURES[: len(res.mean)]) + "):")
    with np.printoptions(precision=4, suppress=True, linewidth=120):
        lines += ["    " + r for r in str(res.covariance).splitlines()]
        lines.append("  standard errors:")
    # a controlled estimate's errors may be far below 1e-4: shown in full
    with np.printoptions(precision=2 if res.plain else 4, suppress=not res.plain, linewidth=120):
        lines += ["    " + r for r in str(res.covariance_stderr).splitlines()]
    if "auto_dt" in s:
        a = s["auto_dt"]
        lines.append(f"  dt auto: {a['dt']:.4g} (cap {a['cap']:.4g}), step-halving change of the "
                     f"second moments {a['step_halving_change']:.2e} <= rtol {a['rtol']:g}")
    if res.error_check:
        e = res.error_check
        lines.append(f"  step-size check (dt vs dt/2, same noise, {e['n_traj']} traj): "
                     f"final-state rms {e['final_state_rms_difference']:.2e}, second moments "
                     f"{e['second_moment_relative_difference']:.2e} relative")
    if res.shift and "log_negativity" in res.shift:
        sh = res.shift
        lines.append("  nonlinear shift dE_N (control variates): " + ", ".join(
            f"{k} {v:+.2e} +- {sh['log_negativity_stderr'][k]:.1e}"
            for k, v in sh["log_negativity"].items()))
    t = res.timing
    lines.append(f"  {t['trajectory_steps']:.3g} trajectory-steps in {t['wall_seconds']:.2f} s "
                 f"({t['trajectory_steps_per_second']:.3g} /s, n_jobs {t['n_jobs']})")
    return "\n".join(lines)


def _interval(f: dict) -> str:
    return f"{f['value']:.3g} (95 %: {f['low']:.3g}..{f['high']:.3g})"


def escape_lines(esc: dict | None) -> list[str]:
    """What the escape test found (:mod:`simulator.sde.escapes`), for the text output."""
    if not esc:
        return []
    if not esc["tested"]:
        return [f"  escapes: not tested ({esc['radius_info'].get('source', '')})"]
    r = esc["rate"]
    if r["value"] is None:
        rate = "no exposure after the first test"
    elif r["upper_bound"]:
        rate = f"< {r['high']:.3g} per 1/omega_m (95 %)"
    else:
        rate = f"{r['value']:.3g} per 1/omega_m (95 %: {r['low']:.3g}..{r['high']:.3g})"
    life = esc.get("lifetime")
    if life and life["value"] is not None:
        rate += f"; lifetime {life['value']:.3g} s"
    elif life and life["low"] is not None:
        rate += f"; lifetime > {life['low']:.3g} s"
    out = [f"  escapes from the fixed point's basin (Mahalanobis radius > {esc['radius']:.3g}, "
           f"first test > {esc['initial_radius']:.3g}): {esc['count']} of {esc['n_traj']}, "
           f"fraction {_interval(esc['fraction'])}; captured from the initial state "
           f"{esc['initial']['count']}, stationary {esc['stationary']['count']}",
           f"  stationary escape rate {rate}"]
    if "captured" in esc:
        out.append(f"  ring-up fates: captured by another attractor {_interval(esc['captured'])}, "
                   f"settled {_interval(esc['settled'])}")
    return out


def run(args: argparse.Namespace) -> int:
    """Run the command. Exit 2 for bad input, unstable parameters or a run too big to fit."""
    params = params_from_args(args)
    check_out_dir(args.out, files=("result.json", "result.npz", "run.toml"))
    try:
        options = options_from_args(args)
        check_backend_available(options.backend)
        plan = estimate_run(params, options)  # the engine's own plan, one worker
        flags = (f"--n-traj {options.n_traj} --chunk-size {options.chunk_size} "
                 f"--t-avg {'default' if options.t_avg is None else format(options.t_avg, 'g')}")
        check_memory(flags, plan["memory_bytes"],
                     f"{plan['n_chunks']} chunks, {plan['trajectory_steps']:.3g} trajectory-steps")
        n_jobs = (args.n_jobs if args.scheduler or options.backend == "jax" else
                  cap_workers(args.n_jobs, plan["n_chunks"], lambda m: print(m, file=sys.stderr)))
        sized = plan["options"]
        check_work(NAME, args, plan["system"], sized, plan["trajectory_steps"] / options.n_traj,
                   max(n_jobs, 1), f"{flags} --dt {sized.dt:g}",
                   3.0 if options.control_variate else 1.0)
        with dask_backend(args.scheduler):
            res = simulate_sde(params, options, seed=args.seed, n_jobs=n_jobs, out=args.out,
                               progress=show_progress(args), max_time=args.max_time)
    except UnstableSystemError as exc:
        print(f"wgmsim sde: unstable parameters: {one_line(exc)}", file=sys.stderr)
        return 2
    except UsageError:
        raise
    except ValueError as exc:
        print(f"wgmsim sde: {one_line(exc)}", file=sys.stderr)
        return 2
    if args.out:
        res.save(args.out)
        write_run_file(args.out, params, command=NAME, sde=options, seed=args.seed)
    if args.json:
        print_json(json_record(res))
    else:
        print(format_result(res))
    return 0
