"""The cutoff loop of the master-equation steady state: Fock spaces of increasing size, a
steady state and its moments in each, until the covariance changes by less than ``tol``.

:func:`cutoff_loop` is what :func:`simulator.master.steady.solve_master` runs: first cutoffs
from the Gaussian (Lyapunov) occupations (:func:`first_cutoffs`), one round per cutoff set
(space, the steady state by a method of :data:`STEADY_METHODS`, moments, top-level
populations), the next cutoffs from the tails, and the time budget checked around each solve.
Units: ``omega_m = 1``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import qutip

from ..linear import LyapunovResult, lyapunov
from ..observables import log_negativity
from .budget import direct_solve_seconds
from .common import (BudgetSpent, TruncationError, check_int, check_max_time, check_pos,
                     check_truncation_options, cutoff_for, moments, top_population)
from .operators import (BASES, Space, build_space, gaussian_product_state, liouvillian,
                        sylvester_preconditioner)

if TYPE_CHECKING:
    from ..params import Params

__all__ = ["MasterOptions", "STEADY_METHODS", "cutoff_loop", "first_cutoffs", "stable_reference",
           "tail_estimates"]

log = logging.getLogger("simulator.master")


def _solve_sylvester(L, space: Space, ref: LyapunovResult, options: "MasterOptions",
                     callback=None):
    """LGMRES preconditioned by the inverse of the no-jump (Sylvester) part of ``L``
    (:func:`~simulator.master.operators.sylvester_preconditioner`), started from the Gaussian
    reference state (:func:`lgmres_steady_state`). The default: seconds where the sparse LU
    takes minutes."""
    M = sylvester_preconditioner(space, ref.rates, ref.mean_field, nonlinear=options.nonlinear)
    x0 = gaussian_product_state(space).full().ravel(order="F")
    return lgmres_steady_state(L, M=M, x0=x0, rtol=options.solver_rtol, callback=callback)


def lgmres_steady_state(L, *, M, x0: np.ndarray, rtol: float, maxiter: int = 2000,
                        callback=None):
    """``L rho = 0`` with ``Tr rho = 1`` by LGMRES, as
    ``qutip.steadystate(L, method="direct", solver="lgmres", ...)`` solves it: the trace
    condition, weighted by the mean absolute entry of ``L`` above QuTiP's ``atol``, added to the
    first row, the solution made Hermitian. Written out because QuTiP switches its global
    data-type options around every such call (17.6 ms each, measured: 2.7 s of the test
    suite's solves).

    Parameters
    ----------
    L : qutip.Qobj
        Liouvillian (CSR), acting on column-stacked ``rho`` of dimension ``n``.
    M : scipy.sparse.linalg.LinearOperator
        Preconditioner.
    x0 : ndarray, shape (n * n,)
        Start vector (column-stacked).
    rtol : float
        LGMRES relative tolerance (``atol = 0``).
    maxiter : int
        Most LGMRES restarts; not converged by then raises ``RuntimeError``.
    callback : callable or None
        Called with the iterate after each iteration.

    Returns
    -------
    qutip.Qobj
        The steady state, dims those of ``L``'s operators.
    """
    import scipy.sparse
    import scipy.sparse.linalg

    A = L.data.as_scipy()
    N = A.shape[0]
    n = math.isqrt(N)
    entries = np.abs(A.data)
    weight = float(entries[entries > qutip.settings.core["atol"]].mean())
    trace_row = scipy.sparse.csr_matrix(
        (np.full(n, weight), (np.zeros(n, dtype=int), np.arange(n) * (n + 1))), shape=(N, N))
    b = np.zeros(N, dtype=complex)
    b[0] = weight
    x, info = scipy.sparse.linalg.lgmres(A + trace_row, b, M=M, x0=x0, atol=0.0, rtol=rtol,
                                         maxiter=maxiter, callback=callback)
    if info != 0:
        raise RuntimeError(f"scipy.sparse.linalg.lgmres: tolerance {rtol:g} not reached "
                           f"(error code {info})")
    rho = x.reshape(n, n, order="F")
    return qutip.Qobj(0.5 * (rho + rho.conj().T), dims=L.dims[0], isherm=True)


def _solve_direct(L, space: Space, ref: LyapunovResult, options: "MasterOptions",
                  callback=None):
    """Plain ``qutip.steadystate``: sparse LU (``scipy.sparse.linalg.spsolve``)."""
    return qutip.steadystate(L, method="direct", solver="spsolve")


def _solve_ilu(L, space: Space, ref: LyapunovResult, options: "MasterOptions", callback=None):
    """``qutip.steadystate`` with LGMRES and an incomplete-LU (``spilu``) preconditioner."""
    x0 = gaussian_product_state(space).full().ravel(order="F")
    return qutip.steadystate(L, method="direct", solver="lgmres", use_precond=True, x0=x0,
                             drop_tol=1e-3, fill_factor=10, atol=0.0, rtol=options.solver_rtol,
                             maxiter=2000, callback=callback)


#: Steady-state methods: the only place a method name becomes a solver. Each is called as
#: ``solve(L, space, ref, options, callback=None)``; an iterative one calls ``callback(x)`` after
#: each iteration (counted in the round's log line).
STEADY_METHODS = {"sylvester": _solve_sylvester, "direct": _solve_direct, "ilu": _solve_ilu}


@dataclass(frozen=True, kw_only=True)
class MasterOptions:
    """Options of :func:`solve_master`; a bad value raises ``ValueError`` naming the option.

    Parameters
    ----------
    nonlinear : bool
        Keep the cubic ``-g0 (n_r + n_l) q`` term (default: the linearised Hamiltonian).
    basis : {"normal", "fock"}
        Truncate in the Williamson normal modes of the linearised steady state (default; few
        levels, since the state is nearly a product of thermal states there) or in the physical
        Fock basis.
    method : str
        Key of :data:`STEADY_METHODS`.
    tol : float
        Convergence: ``max |V(cutoffs) - V(previous cutoffs)| < tol`` and, for every basis mode,
        the tail estimate ``2 N p(N - 1) < tol`` (top-level population ``p(N - 1)``).
    tail : float
        First cutoffs: per mode the smallest ``N`` with thermal tail ``(n/(n+1))^N < tail``, with
        ``n`` the mode's Gaussian occupation.
    cutoffs : tuple of int or None
        Fixed cutoffs (one per basis mode): a single solve, no convergence loop.
    max_dim : int
        Largest Hilbert-space dimension allowed.
    max_rounds : int
        Largest number of cutoff rounds.
    solver_rtol : float
        Relative residual of the iterative solvers.
    max_time : float or None
        Wall-clock budget (s), ``> 0``; ``None`` (default) for none. Checked after each cutoff
        round: once spent, the loop stops with ``status="not_converged"`` and a message stating
        the time spent and the cutoffs reached.
    """

    nonlinear: bool = False
    basis: str = "normal"
    method: str = "sylvester"
    tol: float = 1e-3
    tail: float = 1e-3
    cutoffs: tuple[int, ...] | None = None
    max_dim: int = 800
    max_rounds: int = 6
    solver_rtol: float = 1e-10
    max_time: float | None = None

    def __post_init__(self) -> None:
        check_max_time(self)
        if not isinstance(self.nonlinear, bool):
            raise ValueError(f"nonlinear = {self.nonlinear!r}: must be True or False")
        if self.basis not in BASES:
            raise ValueError(f"basis = {self.basis!r}: must be one of {BASES}")
        if self.method not in STEADY_METHODS:
            raise ValueError(f"method = {self.method!r}: must be one of {tuple(STEADY_METHODS)}")
        for name in ("tol", "solver_rtol"):
            check_pos(name, getattr(self, name))
        check_int("max_rounds", self.max_rounds, 1)
        check_truncation_options(self)


class _OutOfTime(Exception):
    """Raised by the iteration callback once the deadline has passed (caught in the loop)."""


def _steady_state(space: Space, ref: LyapunovResult, options: "MasterOptions",
                  deadline: float | None = None) -> tuple[Any, dict]:
    """Steady state in ``space`` and its timings; an iterative solve past ``deadline`` (a
    ``time.perf_counter()`` value) is abandoned with :class:`_OutOfTime` at its next
    iteration."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    L = liouvillian(space, ref.rates, ref.mean_field, nonlinear=options.nonlinear)
    times["build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    iterations = [0]

    def count(_x) -> None:
        iterations[0] += 1
        if deadline is not None and time.perf_counter() > deadline:
            raise _OutOfTime(f"{iterations[0]} solver iterations")

    log.info("master steady state: solving at cutoffs %s (dimension %d, %s)",
             tuple(space.cutoffs), space.dim, options.method)
    rho = STEADY_METHODS[options.method](L, space, ref, options, callback=count)
    times["solve"] = time.perf_counter() - t0
    log.debug("master steady state: %s at dimension %d solved in %.3g s (%d iterations)",
              options.method, space.dim, times["solve"], iterations[0])
    return rho, {**times, "iterations": iterations[0]}


def tail_estimates(cutoffs: tuple[int, ...], top: tuple[float, ...]) -> np.ndarray:
    """Per-mode estimate ``2 N p_{N-1}`` of the covariance error of cutting mode ``k`` at ``N``.

    The missing weight of a geometric tail is about the top-level population, and it carries a
    quadrature variance of about ``N``; the factor 2 makes it conservative (at the defect point it
    overestimates the measured change by about 1.5).
    """
    return 2.0 * np.asarray(cutoffs, dtype=float) * np.asarray(top, dtype=float)


def _next_cutoffs(cutoffs: tuple[int, ...], top: tuple[float, ...], tol: float) -> tuple[int, ...]:
    """Raise by ~25% every mode whose tail estimate exceeds ``tol / 10``, at least the worst."""
    tails = tail_estimates(cutoffs, top)
    worst = int(np.argmax(tails))
    return tuple(c + max(1, math.ceil(c / 4)) if (t > 0.1 * tol or k == worst) else c
                 for k, (c, t) in enumerate(zip(cutoffs, tails)))


# ---- the steps of _solve_master -----------------------------------------------------------------
@dataclass(frozen=True)
class _Round:
    """One cutoff round: the space, steady state ``rho`` (Qobj), its ``mean`` ``(6,)`` and
    ``covariance`` ``(6, 6)``, top-level populations per basis mode, timings (s) and the
    iterative solver's iteration count (0 for a direct solve)."""

    space: Space
    rho: Any
    mean: np.ndarray
    covariance: np.ndarray
    top: tuple[float, ...]
    times: dict[str, float]
    iterations: int


@dataclass(frozen=True)
class _Loop:
    """Outcome of :func:`cutoff_loop`: the last round, the history, the final ``cutoffs`` (after
    ``max_rounds`` runs out: the next ones, never solved), ``change`` (the reported truncation
    error), ``converged`` and ``message``."""

    last: _Round
    history: list[dict]
    cutoffs: tuple[int, ...]
    change: float | None
    converged: bool
    message: str


def stable_reference(params: Params) -> LyapunovResult:
    """The Lyapunov solution of ``params``; ``ValueError`` if the linearised point is unstable."""
    ref = lyapunov(params)
    if not ref.stable:
        raise ValueError("the linearised point is unstable (an eigenvalue of A has Re >= 0): "
                         "there is no steady state about this mean field")
    return ref


def first_cutoffs(modes: tuple[str, ...], ref: LyapunovResult,
                   options: MasterOptions) -> tuple[int, ...]:
    """``options.cutoffs`` (checked), or the thermal-tail estimate from the Gaussian occupations;
    ``TruncationError`` if their dimension exceeds ``max_dim``."""
    probe = build_space(modes, options.basis, (2,) * len(modes), ref.covariance)
    if options.cutoffs is not None:
        if len(options.cutoffs) != len(modes):
            raise ValueError(f"cutoffs = {options.cutoffs}: need {len(modes)} entries, one per "
                             f"basis mode (physical modes kept: {modes})")
        cutoffs = options.cutoffs
    else:
        cutoffs = tuple(cutoff_for(float(nu) - 0.5, options.tail) for nu in probe.nu)
    if int(np.prod(cutoffs)) > options.max_dim:
        occ = ", ".join(f"{nu - 0.5:.3g}" for nu in probe.nu)
        raise TruncationError(
            f"the steady state needs cutoffs {cutoffs} (dimension {int(np.prod(cutoffs))}) in the "
            f"{options.basis} basis (occupations {occ}), above max_dim = {options.max_dim}; "
            "raise max_dim, or use a colder or weaker-coupled point")
    return cutoffs


def cutoff_loop(modes: tuple[str, ...], cutoffs: tuple[int, ...], ref: LyapunovResult,
                 options: MasterOptions, report, t_start: float) -> _Loop:
    """Solve at growing cutoffs until converged, fixed cutoffs, or a limit stops the loop."""
    history: list[dict] = []
    prev_V = None
    change = None
    converged = False
    message = ""
    rounds = 1 if options.cutoffs is not None else options.max_rounds
    if report is not None:
        report(0, rounds)
    deadline = None if options.max_time is None else t_start + options.max_time
    rnd = None
    for _ in range(options.max_rounds):
        try:
            _check_direct(cutoffs, options, deadline)
            rnd_new = _solve_round(modes, cutoffs, ref, options, deadline)
        except _OutOfTime as exc:
            spent = time.perf_counter() - t_start
            dim = int(np.prod(cutoffs))
            where = (f"time budget max_time = {options.max_time:g} s spent ({spent:.3g} s) "
                     f"inside the solve at cutoffs {cutoffs} (dimension {dim}, {exc.args[0]})"
                     if len(exc.args) == 1 else
                     f"time budget max_time = {options.max_time:g} s would be overrun at "
                     f"cutoffs {cutoffs} (dimension {dim}): {exc.args[0]} ({spent:.3g} s "
                     "spent)")
            if rnd is None:
                raise BudgetSpent(f"{where}, before any steady state was found; raise max_time "
                                  "(--max-time) or lower the cutoffs") from None
            message = (f"not converged: {where}; returning cutoffs "
                       f"{tuple(history[-1]['cutoffs'])} (last change {change})")
            converged, cutoffs = False, tuple(history[-1]["cutoffs"])
            break
        rnd = rnd_new
        change = None if prev_V is None else float(np.abs(rnd.covariance - prev_V).max())
        history.append(_log_round(len(history) + 1, cutoffs, rnd, change))
        prev_V = rnd.covariance
        if report is not None:
            report(len(history), rounds)
        converged, change, message, nxt = _next_step(cutoffs, rnd, change, options, t_start)
        if nxt is None:
            break
        cutoffs = nxt
    else:
        message = f"not converged after max_rounds = {options.max_rounds} (last change {change})"
    if report is not None:
        report(len(history), len(history))
    return _Loop(rnd, history, cutoffs, change, converged, message)


def _check_direct(cutoffs: tuple[int, ...], options: MasterOptions,
                  deadline: float | None) -> None:
    """:class:`_OutOfTime` before a direct (sparse LU) solve, which cannot be interrupted, whose
    estimated time (:func:`~simulator.master.budget.direct_solve_seconds`) would overrun the
    deadline."""
    if options.method != "direct" or deadline is None:
        return
    est = direct_solve_seconds(int(np.prod(cutoffs)))
    if time.perf_counter() + est > deadline:
        raise _OutOfTime(f"the direct solve, which cannot be interrupted, would take about "
                         f"{est:.3g} s; not started", "estimated")


def _solve_round(modes: tuple[str, ...], cutoffs: tuple[int, ...], ref: LyapunovResult,
                 options: MasterOptions, deadline: float | None = None) -> _Round:
    """Build the space at ``cutoffs``, solve for the steady state and take its moments."""
    t0 = time.perf_counter()
    space = build_space(modes, options.basis, cutoffs, ref.covariance)
    t_ops = time.perf_counter() - t0
    rho, times = _steady_state(space, ref, options, deadline)
    t0 = time.perf_counter()
    R = rho.full()
    mean, V = moments(space, R)
    top = top_population(space, R)
    times["moments"] = time.perf_counter() - t0
    times["build"] += t_ops
    iterations = times.pop("iterations")
    return _Round(space, rho, mean, V, top, times, iterations)


def _log_round(number: int, cutoffs: tuple[int, ...], rnd: _Round,
               change: float | None) -> dict:
    """Log round ``number`` at INFO; return its :attr:`MasterResult.history` entry."""
    entry = {"cutoffs": list(cutoffs), "dim": rnd.space.dim, "change": change,
             "top_population": list(rnd.top),
             "log_negativity_r_m": float(log_negativity(rnd.covariance)["r_m"]),
             "timing": rnd.times}
    log.info("master steady state: round %d, cutoffs %s (dimension %d), change %s, "
             "solve %.3g s (%s)", number, tuple(cutoffs), rnd.space.dim,
             "-" if change is None else f"{change:.2e}", rnd.times["solve"],
             f"{rnd.iterations} solver iterations" if rnd.iterations else "direct solve")
    return entry


def _next_step(cutoffs: tuple[int, ...], rnd: _Round, change: float | None,
               options: MasterOptions, t_start: float
               ) -> tuple[bool, float | None, str, tuple[int, ...] | None]:
    """``(converged, change, message, next cutoffs or None to stop)`` after a round."""
    if options.cutoffs is not None:
        return False, change, ("fixed cutoffs: no truncation estimate beyond the top-level "
                               "population"), None
    tail = float(tail_estimates(cutoffs, rnd.top).max())
    if change is not None and max(change, tail) < options.tol:
        # the change measures the modes just raised, the tail estimate the others
        change = max(change, tail)
        return True, change, (f"converged: max |Delta V| and tail estimate {change:.2e} < "
                              f"tol = {options.tol:g}"), None
    spent = time.perf_counter() - t_start
    if options.max_time is not None and spent > options.max_time:
        return False, change, (f"not converged: time budget max_time = {options.max_time:g} s "
                               f"spent ({spent:.3g} s) at cutoffs {cutoffs} (dimension "
                               f"{rnd.space.dim}, last change {change})"), None
    nxt = _next_cutoffs(cutoffs, rnd.top, options.tol)
    if int(np.prod(nxt)) > options.max_dim:
        return False, change, (f"not converged: next cutoffs {nxt} exceed max_dim = "
                               f"{options.max_dim} (last change {change})"), None
    return False, change, "", nxt
