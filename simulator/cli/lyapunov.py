"""``wgmsim lyapunov``: the linearised steady state of one parameter point."""

from __future__ import annotations

import argparse

import numpy as np

from ..attractors import AttractorsResult, find_attractors
from ..conventions import QUADRATURES
from ..linear import LyapunovResult, lyapunov
from ..second_order import SecondOrderResult, second_order
from .checks import UsageError, nonfinite_entries, wrap
from .common import add_params_arguments, params_from_args, print_json, set_help
from .runfile import add_config_argument

NAME = "lyapunov"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``lyapunov`` subcommand."""
    p = sub.add_parser(
        NAME,
        help="linearised steady state (Lyapunov equation) of one point",
        description=wrap("Mean field, stability, stationary covariance and observables of the "
                         "linearised model (paper Eqs. 8-14). Times and rates in units of "
                         "omega_m."),
        epilog=set_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--second-order", action="store_true",
                   help="also the exact O(G0^2) nonlinear correction, quantum and truncated "
                        "Wigner (JSON: a 'second_order' object)")
    p.add_argument("--attractors", action="store_true",
                   help="also search the attractors of the classical (noise-free) equations: "
                        "limit cycles coexisting with the fixed point and the fixed point's "
                        "basin edge (a few seconds); JSON adds 'attractors' and 'basin'")
    add_config_argument(p, NAME)
    p.set_defaults(func=run)


def format_result(res: LyapunovResult) -> str:
    """Readable summary of a :class:`LyapunovResult`."""
    p, d = res.params, res.to_dict()
    lines = [
        "wgmsim lyapunov: linearised steady state (units: omega_m; detunings over Gamma)",
        f"  Delta/Gamma = {p.detuning / p.Gamma:+.4f} (effective), "
        f"Delta_J/Gamma = {p.Delta_J / p.Gamma:+.4f}, "
        f"Dt/Gamma = {(p.detuning + p.Delta_J) / p.Gamma:+.4f}",
        f"  beta = {p.beta:.6f} rad, |J1|/Gamma = {abs(p.J1) / p.Gamma:.3e}, "
        f"|J2|/Gamma = {abs(p.J2) / p.Gamma:.3e}, damping = {p.damping}",
        f"  G0 = {p.G0:.2f} s^-1, n_m = {p.n_m:.2f}, P = {p.power * 1e3:.3g} mW, "
        f"T_e = {p.temperature * 1e3:.3g} mK",
        f"  photons |alpha_r|^2 = {d['photon_number']['r']:.4e}, "
        f"|alpha_l|^2 = {d['photon_number']['l']:.4e}; "
        f"|G_r| = {d['coupling']['r']:.4f}, |G_l| = {d['coupling']['l']:.4f}",
        f"  transmission T = {d['transmission']:.6f}",
    ]
    if not res.stable:
        bad = ", ".join(f"{e.real:+.4e}{e.imag:+.4e}i" for e in res.unstable_eigenvalues)
        lines.append(f"  UNSTABLE: eigenvalue(s) of A with non-negative real part: {bad}")
        lines.append("  (no stationary covariance; the linearised state grows without bound)")
        return "\n".join(lines)
    en, st = d["log_negativity"], d["steering"]
    lines += [
        f"  stable: slowest decay rate {res.slowest_rate:.4f} "
        f"(relaxation time {1 / res.slowest_rate:.1f} / omega_m)",
        f"  E_N: CW-mech {en['r_m']:.4f}, CCW-mech {en['l_m']:.4f}, CW-CCW {en['r_l']:.4f}",
        "  steering: " + ", ".join(f"{k} {v:.4f}" for k, v in st.items()),
        f"  phonons {d['phonon_number']:.4f}, purity {d['purity']:.4f}, "
        f"Lyapunov residual {res.residual:.1e}",
        "  covariance (" + ", ".join(QUADRATURES) + "):",
    ]
    with np.printoptions(precision=4, suppress=True, linewidth=120):
        lines += ["    " + row for row in str(res.covariance).splitlines()]
    return "\n".join(lines)


def format_second_order(so: SecondOrderResult) -> str:
    """Text block of the ``O(G0^2)`` correction of one point (quantum and truncated Wigner)."""
    rec = so.second_order_record()
    en, q, t = so.log_negativity, rec["log_negativity_shift"], rec["twa"]["log_negativity_shift"]
    g = rec["g0_over_Gamma"]
    lines = [f"  second order in G0 (G0/Gamma = {g:.4g}; shifts exact to O(G0^2), "
             "next order O(G0^4)):"]
    for pair, label in (("r_m", "CW-mech"), ("l_m", "CCW-mech"), ("r_l", "CW-CCW")):
        lin = float(en[pair])
        if lin < 1e-12:  # not entangled (a dark mode: round-off): the shift is 0 at this order
            continue
        lines.append(f"    E_N {label}: {lin:.6f} -> {lin + q[pair]:.6f} (quantum shift "
                     f"{q[pair]:+.4e} = {q[pair] / g**2:+.4f} (G0/Gamma)^2; truncated Wigner "
                     f"{t[pair]:+.4e} = {t[pair] / g**2:+.4f} (G0/Gamma)^2)")
    if q["r_m"] != 0.0 and abs(t["r_m"] / q["r_m"] - 1.0) > 0.05:
        lines.append(f"    truncated Wigner (the SDE engine) gives {t['r_m'] / q['r_m']:.2f}x the "
                     "quantum shift of E_N CW-mech: it drops the third-order term of the "
                     "Wigner equation")
    if g > 0.15:
        lines.append(f"    at G0/Gamma = {g:.3g} the next order is no longer small (measured at the "
                     "immune point: second order is 1.2 % x (10 G0/Gamma)^2 off the master "
                     "equation); simulator.third_order refines it")
    return "\n".join(lines)


def format_attractors(res: AttractorsResult) -> str:
    """Readable list of the classical attractors (units: Lyapunov standard deviations)."""
    lines = ["attractors of the classical equations (q_max: max |dq| on the orbit in Lyapunov "
             "sigma_q; period in 1/omega_m):"]
    if res.status != "ok":
        return "\n".join(lines + [f"  {res.message}"])
    for item, c in zip(res.attractors(), (None,) + res.cycles):
        kind = "stable" if item["stable"] else "unstable"
        ph = item["photons"]
        if c is None:
            lines.append(f"  fixed point, {kind}: photons r {ph['r']:.4g}, l {ph['l']:.4g}")
        else:
            mu = max(abs(m) for m in c.multipliers if abs(m - 1.0) > 1e-6) \
                if len(c.multipliers) > 1 else float("nan")
            lines.append(f"  limit cycle, {kind}: q_max {c.q_max:.4g}, period {c.period:.4f}, "
                         f"mean photons r {ph['r']:.4g}, l {ph['l']:.4g}, excursion "
                         f"{c.quanta['m']:.3g} phonons, largest nontrivial |Floquet multiplier| "
                         f"{mu:.4f}")
    if not res.cycles:
        lines.append(f"  no limit cycle with q_max up to "
                     f"{res.options.max_amplitude / res.coupling_ratio:.4g} sigma_q")
    b = res.basin
    if b is not None:
        lines.append(f"  basin edge of the fixed point: Mahalanobis radius {b.radius:.4g} sigma "
                     f"(smallest over {len(b.radii)} sampled directions"
                     + ("; limited search: slow relaxation, may be too low)" if b.limited
                        else ")"))
    lines.append("  " + ("METASTABLE: another stable attractor coexists; noise can carry the "
                         "system across the basin edge" if res.coexisting else
                         "no other stable attractor found"))
    lines.append(f"  ({res.elapsed:.1f} s)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the command; an unstable point is a result (exit 0), a NaN is not (exit 2)."""
    res = lyapunov(params_from_args(args))
    # the raw record: to_dict() has already turned NaN into null
    bad = nonfinite_entries(res._record()) if res.stable else []
    if bad:
        raise UsageError(f"numerical failure: {', '.join(bad[:4])} not finite at this point "
                         f"(Lyapunov residual {res.residual:.2g}); the parameters are beyond the "
                         "double-precision range of the linearised solver")
    so = second_order(res.params) if args.second_order and res.stable else None
    found = find_attractors(res.params) if args.attractors else None
    if args.json:
        d = res.to_dict()
        if args.second_order:
            d["second_order"] = None if so is None else so.second_order_record()
        if found is not None:
            rec = found.to_dict()
            d["attractors"], d["basin"] = rec["attractors"], rec["basin"]
            d["attractor_search"] = {k: rec[k] for k in ("status", "message", "coexisting",
                                                         "units", "elapsed_s", "options")}
        print_json(d)
    else:
        print(format_result(res))
        if args.second_order:
            print(format_second_order(so) if so is not None
                  else "  second order: none (no stationary state)")
        if found is not None:
            print(format_attractors(found))
    return 0
