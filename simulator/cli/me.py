"""``wgmsim me``: master-equation (QuTiP) steady state or time evolution of one point."""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from ..conventions import QUADRATURES
from .checks import UsageError, integer, one_line, real, wrap
from .common import add_params_arguments, params_from_args, print_json, set_help, show_progress
from .runfile import add_config_argument, build_options

NAME = "me"


def _cutoffs(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(c) for c in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers >= 1 like 4,12")
    return values


def _with_budget(cls, max_time: float | None, **kwargs):
    """``cls(**kwargs)`` plus ``max_time`` when given; refused if ``cls`` has no such option."""
    if max_time is not None:
        if "max_time" not in {f.name for f in dataclasses.fields(cls)}:
            raise UsageError(f"--max-time {max_time:g}: {cls.__name__} of this version has no "
                             "time budget (max_time)")
        kwargs["max_time"] = max_time
    return cls(**kwargs)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``me`` subcommand."""
    p = sub.add_parser(
        NAME,
        help="master-equation steady state (or time evolution) in a truncated Fock space",
        description=wrap("Fluctuations about the mean field as a QuTiP master equation "
        "(Caldeira-Leggett for damping=brownian, Lindblad thermal bath for damping=rwa), with "
        "automatic Fock cutoffs, compared with the Lyapunov solution of the same model. "
        "Units of omega_m. Exit status 3 when the state does not fit the truncation or "
        "the cutoffs do not converge (the result is still printed)."),
        epilog=set_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_arguments(p)
    p.add_argument("--nonlinear", action="store_true",
                   help="keep the cubic -g0 (n_r + n_l) q term (default: linearised Hamiltonian)")
    p.add_argument("--t-max", type=real(), metavar="T",
                   help="time evolution up to T (1/omega_m) from optical vacuum and a thermal "
                   "mechanics (qutip.mesolve) instead of the steady state")
    p.add_argument("--n-times", type=integer(2), default=51, metavar="K",
                   help="number of output times with --t-max (default 51)")
    p.add_argument("--initial-phonons", type=real(0.0, strict=False), metavar="N",
                   help="initial phonon number with --t-max (default: the bath's n_m)")
    p.add_argument("--basis", choices=("normal", "fock"),
                   help="steady-state truncation basis (default normal modes)")
    p.add_argument("--method", choices=("sylvester", "direct", "ilu"),
                   help="steady-state solver (default sylvester)")
    p.add_argument("--tol", type=real(),
                   help="steady state: stop when max |Delta V| between cutoffs < TOL "
                   "(default 1e-3)")
    p.add_argument("--cutoffs", type=_cutoffs, metavar="N1,N2[,N3]",
                   help="fixed Fock cutoffs per basis mode (no convergence loop)")
    p.add_argument("--max-dim", type=integer(8), metavar="D",
                   help="largest Hilbert-space dimension (>= 8)")
    p.add_argument("--max-time", type=real(), metavar="SECONDS",
                   help="time budget of the solver; a run that exceeds it stops as not "
                   "converged (exit status 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_config_argument(p, NAME)
    p.set_defaults(func=run)


def _format_steady(res) -> str:
    d = res.to_dict()
    en, ref = d["log_negativity"], d["lyapunov"]
    lines = [
        f"wgmsim me: master-equation steady state ({d['model']}, damping = {d['damping']}, "
        f"{d['basis']} basis; units omega_m)",
        f"  modes {','.join(d['modes'])}, cutoffs {tuple(d['cutoffs'])} (dimension "
        f"{d['dimension']}), top-level populations "
        + ", ".join(f"{x:.1e}" for x in d["top_population"]),
        f"  {d['message']}",
        f"  E_N: CW-mech {en['r_m']:.5f}, CCW-mech {en['l_m']:.5f}, CW-CCW {en['r_l']:.5f}",
        f"  Lyapunov (same model) E_N: CW-mech {ref['log_negativity']['r_m']:.5f}; "
        f"max |V - V_lyap| = {ref['max_abs_covariance_difference']:.2e}",
        f"  phonons {d['observables']['phonon_number']:.4f}; time {d['timing']['total']:.2f} s",
        "  covariance (" + ", ".join(QUADRATURES) + "):",
    ]
    with np.printoptions(precision=5, suppress=True, linewidth=120):
        lines += ["    " + row for row in str(res.covariance).splitlines()]
    return "\n".join(lines)


def _format_evolution(tr) -> str:
    en, occ = tr.log_negativity["r_m"], tr.occupation
    lines = [
        f"wgmsim me: master-equation time evolution from {tr.initial_phonons:.4g} phonons "
        f"(modes {','.join(tr.modes)}, cutoffs {tr.cutoffs}; units omega_m)",
        *([f"  STATUS {tr.status.upper()}: {tr.message}"] if tr.status != "ok" else []),
        f"  truncation error {tr.truncation_error}, max |V - V_lin| = {tr.linear_difference:.2e}, "
        f"time {tr.timing['total']:.2f} s",
        "        t    E_N(r,m)   phonons    photons_r  photons_l",
    ]
    for k in range(len(tr.t)):
        lines.append(f"  {tr.t[k]:8.3f}  {en[k]:9.5f}  {occ['m'][k]:9.5f}  {occ['r'][k]:9.5f}  "
                     f"{occ['l'][k]:9.5f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the command; a state too big for the truncated space, or cutoffs that did not converge
    (``max_dim``, ``max_rounds`` or ``--max-time`` reached), exit with status 3 after the result
    is printed."""
    from ..master import TruncationError

    params = params_from_args(args)
    common = {} if args.max_dim is None else {"max_dim": args.max_dim}
    budget = {} if args.max_time is None else {"max_time": args.max_time}
    if args.cutoffs is not None:
        common["cutoffs"] = args.cutoffs
    try:
        steady_only = {"--basis": args.basis, "--method": args.method, "--tol": args.tol}
        if args.t_max is not None:
            unused = [k for k, v in steady_only.items() if v is not None]
            if unused:
                raise ValueError(
                    f"{', '.join(unused)}: steady-state options, not used with --t-max")
            out, text = _evolve(args, params, {**budget, **common})
        else:
            if args.initial_phonons is not None:
                raise ValueError("--initial-phonons: used only with --t-max")
            given = {k.lstrip("-"): v for k, v in steady_only.items() if v is not None}
            out, text = _steady(args, params, {**given, **budget, **common})
    except TruncationError as exc:
        print(f"wgmsim me: refused: {one_line(exc)}", file=sys.stderr)
        return 3
    except UsageError:
        raise
    except ValueError as exc:
        print(f"wgmsim me: {one_line(exc)}", file=sys.stderr)
        return 2
    if args.json:
        print_json(out.to_dict())
    else:
        print(text)
    return _exit_status(args, out)


def _evolve(args: argparse.Namespace, params, options: dict) -> tuple:
    """``(MasterTrajectory, text)`` of ``--t-max``: the time evolution."""
    from ..master import EvolveOptions, evolve_master
    from ..master.budget import check_evolution

    if not args.t_max > 0 or args.n_times < 2:
        raise ValueError("--t-max must be > 0 and --n-times >= 2")
    # before the output times are even allocated (--n-times 1e9 is 8 GB of times)
    check_evolution(args.n_times, args.t_max, 2, max_time=args.max_time)
    t = np.linspace(0.0, args.t_max, args.n_times)
    out = evolve_master(params, t, initial_phonons=args.initial_phonons,
                        options=build_options(args, EvolveOptions, "master",
                                              nonlinear=args.nonlinear, **options),
                        progress=show_progress(args))
    return out, _format_evolution(out)


def _steady(args: argparse.Namespace, params, options: dict) -> tuple:
    """``(MasterResult, text)``: the steady state with automatic (or fixed) cutoffs."""
    from ..master import MasterOptions, solve_master

    out = solve_master(params, options=build_options(args, MasterOptions, "master",
                                                     nonlinear=args.nonlinear, **options),
                       progress=show_progress(args))
    return out, _format_steady(out)


def _exit_status(args: argparse.Namespace, out) -> int:
    """3 (after a line on stderr) when the cutoff loop or the time evolution stopped early."""
    status = getattr(out, "status", None)
    looped = args.t_max is None and args.cutoffs is None  # fixed cutoffs: no convergence loop
    # a time evolution that stopped early (--max-time) is as incomplete as an unconverged loop
    stopped = args.t_max is not None and status == "not_converged"
    if stopped or looped and (getattr(out, "converged", True) is False
                              or status not in (None, "ok")):
        sys.stdout.flush()
        why = one_line(getattr(out, "message", "") or status)
        if not why.startswith("not converged"):
            why = f"not converged: {why}"
        print(f"wgmsim me: {why}", file=sys.stderr)
        return 3
    return 0
