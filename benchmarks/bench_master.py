"""Benchmark of the master-equation engine (issue 4).

Run:  python benchmarks/bench_master.py [--methods] [--plain]

Prints one JSON object:

* ``converged``: :func:`solve_master` with the defaults (normal-mode basis, Sylvester-preconditioned
  LGMRES, ``tol = 1e-3``) at the paper's immune point and at the defect point ``beta = 0.3``: wall
  time, the cutoff rounds, the final cutoffs, the truncation error and the differences from the
  Lyapunov solution (covariance and E_N(r_m));
* ``methods`` (``--methods``): one steady-state solve of the defect point at fixed normal-basis
  cutoffs (3, 4, 14) with each method of ``STEADY_METHODS`` (``direct`` takes minutes);
* ``plain`` (``--plain``, minutes): the baseline of the issue, a plain ``qutip.steadystate`` (sparse
  LU) of the ideal point (no scatterers, Delta = 0.85 Gamma) in the physical Fock basis with all
  three modes at cutoffs (5, 5, 14), against the Sylvester solver on the same matrix.

Timings depend on the machine's load (it is shared); each number is a single run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import qutip  # noqa: E402

from simulator import Params, lyapunov  # noqa: E402
from simulator.master import STEADY_METHODS, moments, solve_master  # noqa: E402
from simulator.master.operators import (  # noqa: E402
    build_space,
    gaussian_product_state,
    liouvillian,
    sylvester_preconditioner,
)
from simulator.observables import log_negativity  # noqa: E402

PAPER = Params.paper()
POINTS = {"immune": PAPER, "defect": PAPER.replace(beta=0.3)}
IDEAL = PAPER.replace(defects=(), eta=0.0, detuning=0.85 * PAPER.Gamma)


def converged() -> dict:
    out = {}
    for name, params in POINTS.items():
        t = time.perf_counter()
        res = solve_master(params)
        wall = time.perf_counter() - t
        en, en_ref = res.log_negativity["r_m"], res.lyapunov.log_negativity["r_m"]
        out[name] = {
            "seconds": wall,
            "converged": res.converged,
            "rounds": [(h["cutoffs"], h["change"], h["timing"]) for h in res.history],
            "cutoffs": res.cutoffs,
            "truncation_error": res.truncation_error,
            "max_abs_covariance_difference": res.lyapunov_difference,
            "E_N_r_m": en,
            "E_N_r_m_lyapunov": en_ref,
            "E_N_relative_difference": (en - en_ref) / en_ref,
        }
    return out


def _one_solve(params, modes, basis, cutoffs, method):
    ref = lyapunov(params)
    space = build_space(modes, basis, cutoffs, ref.covariance)
    t = time.perf_counter()
    L = liouvillian(space, ref.rates, ref.mean_field)
    build = time.perf_counter() - t
    t = time.perf_counter()
    kw = dict(atol=0.0, rtol=1e-10, maxiter=2000)
    if method == "direct":
        rho = qutip.steadystate(L, method="direct", solver="spsolve")
    elif method == "sylvester":
        M = sylvester_preconditioner(space, ref.rates, ref.mean_field)
        x0 = gaussian_product_state(space).full().ravel(order="F")
        rho = qutip.steadystate(L, method="direct", solver="lgmres", M=M, x0=x0, **kw)
    else:
        x0 = gaussian_product_state(space).full().ravel(order="F")
        rho = qutip.steadystate(L, method="direct", solver="lgmres", use_precond=True, x0=x0,
                                drop_tol=1e-3, fill_factor=10, **kw)
    solve = time.perf_counter() - t
    _, V = moments(space, rho.full())
    en, en_ref = float(log_negativity(V)["r_m"]), float(ref.log_negativity["r_m"])
    return {"build_seconds": build, "solve_seconds": solve, "dimension": space.dim,
            "max_abs_covariance_difference": float(np.abs(V - ref.covariance).max()),
            "E_N_r_m": en, "E_N_relative_difference": (en - en_ref) / en_ref}


def methods() -> dict:
    return {m: _one_solve(POINTS["defect"], ("r", "l", "m"), "normal", (3, 4, 14), m)
            for m in STEADY_METHODS}


def plain() -> dict:
    return {m: _one_solve(IDEAL, ("r", "l", "m"), "fock", (5, 5, 14), m)
            for m in ("direct", "sylvester")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", action="store_true", help="compare steady-state methods")
    ap.add_argument("--plain", action="store_true", help="plain qutip.steadystate baseline")
    args = ap.parse_args()
    out = {"qutip": qutip.__version__, "cpus": os.cpu_count(), "converged": converged()}
    if args.methods:
        out["methods"] = methods()
    if args.plain:
        out["plain"] = plain()
    json.dump(out, sys.stdout, indent=1, default=float)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
