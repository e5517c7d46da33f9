"""Master-equation time evolution (``qutip.mesolve``) with estimated Fock cutoffs.

:func:`evolve_master` integrates the displaced-frame master equation from optical vacuum and a
thermal mechanics, in the physical Fock basis, and compares with the linearised covariance equation.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import qutip

from ..conventions import MODES
from ..conventions import covariance_xxpp as _covariance_xxpp
from ..errors import PhysicalityWarning
from ..linear import LyapunovResult, covariance_evolution, lyapunov
from ..observables import log_negativity, occupation, unphysical_message
from ..model import initial_covariance
from ..params import Params
from ..progress import ProgressArg, progress_callback
from ..protocol import QUADRATURE_DIMS, ResultProtocol
from ..resultfields import saved
from .common import (
    TruncationError,
    check_max_time,
    check_pos,
    check_truncation_options,
    cutoff_for,
    moments,
    temperature_for,
    top_population,
)
from .budget import SUBSTEP, check_evolution, substeps
from .operators import Space, build_space, kept_modes, liouvillian
from .states import DensityMatrices, destroy_operators, quadrature_operators
from .steady import blas_threads

__all__ = ["EvolveOptions", "MasterTrajectory", "evolve_master"]


# ---- time evolution -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class EvolveOptions:
    """Options of :func:`evolve_master`; a bad value raises ``ValueError`` naming the option.

    Parameters
    ----------
    nonlinear : bool
        Keep the cubic ``-g0 (n_r + n_l) q`` term.
    tail : float
        Cutoffs: per physical mode the smallest ``N`` with ``(n/(n+1))^N < tail``, ``n`` the largest
        Gaussian occupation along the linearised trajectory.
    cutoffs : tuple of int or None
        Fixed cutoffs (physical Fock basis) instead of the estimate.
    max_dim : int
        Largest Hilbert-space dimension allowed.
    check_truncation : bool
        Run again with every cutoff raised by about 25%; return that run, with the largest
        covariance change between the two as the truncation error.
    atol, rtol : float
        Tolerances of ``qutip.mesolve``.
    store_states : bool
        Keep the density matrix at every output time (``MasterTrajectory.states``, in the
        displaced physical Fock basis, :mod:`simulator.master.states`); costs ``n_t d^2``
        complex numbers.
    max_time : float or None
        Wall-clock budget (s), ``> 0``; ``None`` (default) for none. With a budget the solver is
        stepped from output time to output time and the clock checked after each: once spent,
        the run stops (the result holds the times reached), the truncation check is skipped, and
        the result has ``status="not_converged"`` with a message stating the time spent, the
        time and the cutoffs reached.
    """

    nonlinear: bool = False
    tail: float = 1e-5
    cutoffs: tuple[int, ...] | None = None
    max_dim: int = 400
    check_truncation: bool = True
    atol: float = 1e-10
    rtol: float = 1e-8
    store_states: bool = False
    max_time: float | None = None

    def __post_init__(self) -> None:
        check_max_time(self)
        for name in ("nonlinear", "check_truncation", "store_states"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be True or False")
        for name in ("atol", "rtol"):
            check_pos(name, getattr(self, name))
        check_truncation_options(self)


@dataclass(frozen=True, repr=False)
class MasterTrajectory(ResultProtocol):
    """Time evolution of the master equation from a Gaussian product state.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Times (units of ``1/omega_m``).
    covariance : ndarray, shape (n_t, 6, 6)
    mean : ndarray, shape (n_t, 6)
        Fluctuation means (zero for the linearised model).
    cutoffs : tuple of int
        Physical-basis Fock dimensions of ``modes``.
    modes : tuple of str
    truncation_error : float or None
        ``max_t max |Delta V|`` against the run with raised cutoffs (``None`` if not checked).
    linear_covariance : ndarray, shape (n_t, 6, 6)
        ``covariance_evolution`` of the same model from the same initial covariance (the
        reference; ``linear`` is its old name, kept for one release).
    timing : dict
    states : tuple of qutip.Qobj or None
        Density matrix at each time (``options.store_states=True``; of the run with raised
        cutoffs when ``check_truncation``): fluctuations about the mean field, the lab's
        displaced Fock basis, tensor order ``a_r``, ``a_l`` (if kept), ``b``, on which
        :attr:`operators` act (:mod:`simulator.master.states`).

    The result protocol (:mod:`simulator.protocol`): ``save``/``load``, ``to_dict``,
    ``to_xarray`` (dimension ``time``), ``provenance``.
    status : str
        ``"ok"``, ``"not_converged"`` (``max_time`` spent: fewer times, or no truncation check) or
        ``"unphysical"`` (a covariance violates ``V + i Omega/2 >= 0`` by more than the
        truncation error: numerical).
    message : str
    """

    params: Params = saved("input", decode=Params)
    options: EvolveOptions = saved("input", decode=EvolveOptions)
    t: np.ndarray = saved("input", coord="time", units="1/omega_m")
    covariance: np.ndarray = saved("value", dims=("time",) + QUADRATURE_DIMS, units="1")
    mean: np.ndarray = saved("value", dims=("time", "mode_i"), units="1")
    cutoffs: tuple[int, ...] = saved("record", decode=tuple)
    modes: tuple[str, ...] = saved("record", decode=tuple)
    initial_phonons: float = saved("input")
    truncation_error: float | None = saved("error")
    linear_covariance: np.ndarray = saved("reference", key="linear",
                                          dims=("time",) + QUADRATURE_DIMS, units="1")
    timing: dict = saved("record")
    states: tuple | None = saved("value", default=None,
                                 codec=DensityMatrices("state_dims", series=True))
    status: str = saved("outcome", default="ok")
    message: str = saved("outcome", default="")

    @property
    def linear(self) -> np.ndarray:
        """Old name of :attr:`linear_covariance` (kept for one release)."""
        return self.linear_covariance

    @property
    def log_negativity(self) -> dict[str, np.ndarray]:
        """``E_N`` per pair against time, each shape ``(n_t,)``."""
        return log_negativity(self.covariance)

    @property
    def occupation(self) -> dict[str, np.ndarray]:
        """Fluctuation photon numbers ``"r"``, ``"l"`` and phonon number ``"m"`` against time."""
        return occupation(self.covariance)

    @property
    def linear_difference(self) -> float:
        """``max_t max |V_ME(t) - V_lin(t)|``."""
        return float(np.abs(self.covariance - self.linear_covariance).max())

    def __str__(self) -> str:
        return (f"MasterTrajectory(status={self.status}, {len(self.t)} times to t={self.t[-1]:g}, "
                f"cutoffs={self.cutoffs}, "
                f"truncation_error={self.truncation_error}, "
                f"|V-V_lin|={self.linear_difference:.2e})")

    def _record(self) -> dict[str, Any]:
        """JSON-ready record (``to_dict()`` adds ``provenance``)."""
        occ = self.occupation
        return {
            "engine": "master-evolution",
            "status": self.status,
            "message": self.message,
            "model": "nonlinear" if self.options.nonlinear else "linearised",
            "t": self.t,
            "covariance": self.covariance,
            "mean": self.mean,
            "log_negativity": self.log_negativity,
            "photon_number": {"r": occ["r"], "l": occ["l"]},
            "phonon_number": occ["m"],
            "modes": list(self.modes),
            "cutoffs": list(self.cutoffs),
            "initial_phonons": self.initial_phonons,
            "truncation_error": self.truncation_error,
            "lyapunov": {"covariance": self.linear_covariance,
                         "max_abs_covariance_difference": self.linear_difference},
            "timing": self.timing,
            "params": self.params.to_dict(),
        }

    @property
    def operators(self) -> dict[str, qutip.Qobj]:
        """Annihilation operators ``"a_r"``, ``"a_l"`` (if kept), ``"b"`` on the space of
        :attr:`states` (the lab's displaced Fock basis, :mod:`simulator.master.states`)."""
        return destroy_operators(self.modes, self.cutoffs_of_states)

    @property
    def cutoffs_of_states(self) -> tuple[int, ...]:
        """Fock dimensions of :attr:`states` (those of the run with raised cutoffs when the
        truncation was checked; ``cutoffs`` when no states are kept)."""
        return tuple(self.states[0].dims[0]) if self.states else tuple(self.cutoffs)

    def quadrature_operators(self) -> dict[str, qutip.Qobj]:
        """Physical fluctuation quadratures of the kept modes on the space of :attr:`states`."""
        return quadrature_operators(build_space(self.modes, "fock", self.cutoffs_of_states,
                                                initial_covariance(0.0)))

    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """Covariances in thewalrus / Strawberry Fields form, shape ``(n_t, 6, 6)``
        (:func:`simulator.conventions.covariance_xxpp`)."""
        return _covariance_xxpp(self.covariance, hbar)

    # ---- result protocol (simulator.protocol) -------------------------------------------------
    _file_name = "master_trajectory"

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        out = super()._xarray_vars()
        if self.states is not None:
            out["states"] = (("time", "ket", "bra"), np.stack([s.full() for s in self.states]))
        return out

    def _summary(self) -> dict[str, Any]:
        out = {"n_t": len(self.t), "t_max": float(self.t[-1]), "cutoffs": tuple(self.cutoffs),
               "truncation_error": self.truncation_error,
               "|V-V_lin|": self.linear_difference, "states": self.states is not None}
        if hasattr(self, "status"):
            out["status"] = self.status
        return out


def _mesolve(space: Space, ref: LyapunovResult, t: np.ndarray, n0: float,
             options: EvolveOptions, deadline: float | None = None, report=None, offset: int = 0,
             total: int = 0) -> tuple[np.ndarray, np.ndarray, float, tuple]:
    """Covariances ``(n_k, 6, 6)``, means ``(n_k, 6)``, the largest tail estimate
    ``2 N p(N - 1)`` over modes and times (the truncation's breach of ``[x, p] = i``) and the
    states (``qutip.Qobj``, one per time reached).

    Without ``deadline`` one ``qutip.mesolve`` call (``n_k = n_t``). With ``deadline`` (a
    ``time.perf_counter()`` value) the solver is stepped from output time to output time and
    stops after the first one past the deadline, so ``n_k <= n_t``. With ``report`` (a
    ``progress(done, total)`` callback) the solver is stepped too, and ``report(offset + k,
    total)`` is called after output time ``k`` (stepping integrates exactly as ``mesolve`` does).
    """
    L = liouvillian(space, ref.rates, ref.mean_field, nonlinear=options.nonlinear)
    factors = [qutip.fock_dm(c, 0) for c in space.cutoffs[:-1]]
    rho0 = qutip.tensor(*factors, qutip.thermal_dm(space.cutoffs[-1], n0))
    solver_options = {"atol": options.atol, "rtol": options.rtol, "progress_bar": False}
    if deadline is None and report is None and np.diff(t).max() <= SUBSTEP:
        out = qutip.mesolve(L, rho0, t, options={"store_states": True, **solver_options})
        states = out.states
    else:
        solver = qutip.MESolver(L, options=solver_options)
        solver.start(rho0, t[0])
        states = [rho0]
        if report is not None:
            report(offset + 1, total)

        def late() -> bool:
            return deadline is not None and time.perf_counter() > deadline

        for prev, tk in zip(t[:-1], t[1:]):
            stopped = False
            for ts in substeps(prev, tk):  # the budget is checked at least every SUBSTEP
                solver.step(ts)
                if late():
                    stopped = True
                    break
            if stopped:
                break
            states.append(solver.step(tk))
            if report is not None:
                report(offset + len(states), total)
            if late():
                break
    means, covs, tails = [], [], [0.0]
    for state in states:
        R = state.full()
        m, V = moments(space, R)
        means.append(m)
        covs.append(V)
        tails += [2.0 * c * p for c, p in zip(space.cutoffs, top_population(space, R))]
    return np.array(covs), np.array(means), float(max(tails)), tuple(states)


def evolve_master(params: Params, t: np.ndarray, *, initial_phonons: float | None = None,
                  options: EvolveOptions | None = None,
                  progress: ProgressArg = None) -> MasterTrajectory:
    """Integrate the displaced-frame master equation (``qutip.mesolve``) in the Fock basis.

    Starts from the fixed point's fluctuations in the state optical vacuum (x) mechanical thermal
    state with ``initial_phonons`` quanta (default: the bath's ``n_m``), so that the linearised
    reference is :func:`~simulator.linear.covariance_evolution` with a constant ``A`` and
    ``V0 = diag(1/2, 1/2, 1/2, 1/2, n0 + 1/2, n0 + 1/2)``.

    Parameters
    ----------
    params : Params
    t : ndarray, shape (n_t,)
        Increasing output times (units of ``1/omega_m``), starting with the initial time.
    initial_phonons : float, optional
    options : EvolveOptions, optional
    progress : bool or callable, optional
        ``True``: a tqdm bar of the output times reached on stderr; a callable: called as
        ``progress(done, total)`` after each output time, ``total = n_t`` (``2 n_t`` with
        ``check_truncation``: the check reruns every time); ``None``/``False`` (default):
        nothing (:mod:`simulator.progress`).

    Raises
    ------
    TruncationError
        If the estimated cutoffs exceed ``max_dim`` (e.g. from the paper's ``n_m ~ 415`` thermal
        state); the message says which initial occupation or temperature would fit.
    """
    options = EvolveOptions() if options is None else options
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or len(t) < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("t must be a strictly increasing 1-d array of at least 2 times")
    with progress_callback(progress, "master evolution", "time") as report, blas_threads():
        return _evolve_master(params, t, initial_phonons, options, report)


def _evolve_master(params: Params, t: np.ndarray, initial_phonons: float | None,
                   options: EvolveOptions, report) -> MasterTrajectory:
    """:func:`evolve_master` with its progress callback (or ``None``) and threads limited."""
    t_start = time.perf_counter()
    runs = 2 if options.check_truncation else 1
    # before any work: the smallest space (dimension 2) bounds memory and time from below
    check_evolution(len(t), t[-1] - t[0], 2, runs=runs, max_time=options.max_time)
    ref = lyapunov(params)
    n0 = _initial_phonons(params, initial_phonons)
    modes = kept_modes(ref.rates)
    if ref.covariance is not None:
        # a long run reaches the stationary state: its cutoffs bound the space from below, so
        # an endless run is refused before the linearised pre-pass over its whole span
        stat = ref.covariance[None]
        dim = int(np.prod(_occupation_cutoffs(modes, stat, stat, 0.0, options.tail)[0]))
        check_evolution(len(t), t[-1] - t[0], dim, runs=runs, max_time=options.max_time)
    # dV/dt = A V + V A^T + D is affine in V0: V(t; n0) = V_cold(t) + n0 W(t)
    cold = covariance_evolution(ref.rates, t, initial_covariance(0.0)).covariance
    warm = covariance_evolution(ref.rates, t, initial_covariance(1.0)).covariance
    lin = cold + n0 * (warm - cold)
    cutoffs = _evolve_cutoffs(params, modes, cold, warm, n0, options)
    check_evolution(len(t), t[-1] - t[0], int(np.prod(cutoffs)), runs=runs,
                    max_time=options.max_time)
    space = build_space(modes, "fock", cutoffs, ref.covariance, dtype="dia")
    t0 = time.perf_counter()
    deadline = None if options.max_time is None else t_start + options.max_time
    n_total = len(t) * (2 if options.check_truncation else 1)
    run = _Run(*_mesolve(space, ref, t, n0, options, deadline, report, 0, n_total),
               cutoffs=tuple(cutoffs))
    timing = {"mesolve": time.perf_counter() - t0}
    error, status, message = None, "ok", ""
    out_of_time = _out_of_time(run, t, options, deadline, t_start)
    if out_of_time is not None:
        status, message = "not_converged", out_of_time
        t, lin = t[:len(run.covariance)], lin[:len(run.covariance)]
    elif options.check_truncation:
        t0 = time.perf_counter()
        run, error, status, message = _truncation_check(run, modes, ref, t, n0, options,
                                                        deadline, report, n_total, t_start)
        timing["check"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_start
    status, message = _check_physical(run, t, error, status, message)
    return MasterTrajectory(params=params, options=options, t=t, covariance=run.covariance,
                            mean=run.mean, cutoffs=run.cutoffs, modes=modes, initial_phonons=n0,
                            truncation_error=error, linear_covariance=lin, timing=timing,
                            states=run.states if options.store_states else None, status=status,
                            message=message)


# ---- the steps of _evolve_master ----------------------------------------------------------------
@dataclass(frozen=True)
class _Run:
    """One :func:`_mesolve` run: covariances ``(n_k, 6, 6)``, means ``(n_k, 6)``, the largest
    tail estimate, the states (one ``Qobj`` per time reached) and the cutoffs it used."""

    covariance: np.ndarray
    mean: np.ndarray
    tail: float
    states: tuple
    cutoffs: tuple[int, ...]


def _initial_phonons(params: Params, initial_phonons: float | None) -> float:
    """``initial_phonons`` (default the bath's ``n_m``); ``ValueError`` unless finite and >= 0."""
    n0 = float(params.n_m if initial_phonons is None else initial_phonons)
    if not (math.isfinite(n0) and n0 >= 0):
        raise ValueError(f"initial_phonons = {initial_phonons!r}: must be a finite number >= 0")
    return n0


def _occupation_cutoffs(modes: tuple[str, ...], cold: np.ndarray, warm: np.ndarray, n: float,
                        tail: float) -> tuple[tuple[int, ...], list[float]]:
    """Cutoffs (tail below ``tail``) and largest occupations of ``modes`` along the linearised
    trajectory from ``n`` initial phonons (``cold``, ``warm``: shape ``(n_t, 6, 6)`` from 0 and 1)."""
    traj = cold + n * (warm - cold)
    occ = []
    for m in modes:
        i = MODES[m][0]
        occ.append(float(np.linalg.eigvalsh(traj[:, i:i + 2, i:i + 2])[:, -1].max()) - 0.5)
    return tuple(cutoff_for(x, tail) for x in occ), occ


def _evolve_cutoffs(params: Params, modes: tuple[str, ...], cold: np.ndarray, warm: np.ndarray,
                    n0: float, options: EvolveOptions) -> tuple[int, ...]:
    """``options.cutoffs`` (checked) or the estimate; ``TruncationError`` above ``max_dim``,
    naming the largest start that would fit."""
    if options.cutoffs is not None:
        if len(options.cutoffs) != len(modes):
            raise ValueError(f"cutoffs = {options.cutoffs}: need {len(modes)} entries "
                             f"(physical modes kept: {modes})")
        return options.cutoffs
    cutoffs, occ = _occupation_cutoffs(modes, cold, warm, n0, options.tail)
    dim = int(np.prod(cutoffs))
    if dim > options.max_dim:
        fit = _fitting_start(params, modes, cold, warm, n0, options)
        raise TruncationError(
            f"time evolution from {n0:.4g} initial phonons needs Fock cutoffs {cutoffs} for "
            f"modes {modes} (dimension {dim}), above max_dim = {options.max_dim}: along the "
            f"linearised trajectory the modes reach {', '.join(f'{x:.3g}' for x in occ)} "
            f"quanta (tail below {options.tail:g}). {fit[0].upper() + fit[1:]}; "
            "or raise max_dim")
    return cutoffs


def _fitting_start(params: Params, modes: tuple[str, ...], cold: np.ndarray, warm: np.ndarray,
                   n0: float, options: EvolveOptions) -> str:
    """The clause of the :class:`TruncationError` naming the largest initial occupation (and
    bath temperature) whose cutoffs fit ``max_dim``, found by bisection."""
    def fits(n: float) -> bool:
        return np.prod(_occupation_cutoffs(modes, cold, warm, n, options.tail)[0]) \
            <= options.max_dim

    lo, hi = 0.0, n0  # largest initial occupation that fits, by bisection
    if not fits(0.0):
        return "not even a ground-state start fits"
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return (f"the largest space holds a start from about {lo:.3g} phonons: use "
            f"initial_phonons <= {lo:.3g} (for the default start, a bath temperature <= "
            f"{temperature_for(lo, params.omega_m):.3g} K)")


def _out_of_time(run: _Run, t: np.ndarray, options: EvolveOptions, deadline: float | None,
                 t_start: float) -> str | None:
    """The ``not_converged`` message if the first run stopped early, or the budget is spent
    before a requested truncation check; else ``None``."""
    spent = time.perf_counter() - t_start
    n = len(run.covariance)
    if not (n < len(t) or (options.check_truncation and deadline is not None
                           and spent > options.max_time)):
        return None
    return (f"not converged: time budget max_time = {options.max_time:g} s spent "
            f"({spent:.3g} s) at t = {t[n - 1]:g} of {t[-1]:g}, cutoffs "
            f"{run.cutoffs} (dimension {int(np.prod(run.cutoffs))}); "
            + ("the truncation check was skipped" if options.check_truncation
               else "no truncation check requested"))


def _truncation_check(run: _Run, modes: tuple[str, ...], ref: LyapunovResult, t: np.ndarray,
                      n0: float, options: EvolveOptions, deadline: float | None, report,
                      n_total: int, t_start: float) -> tuple[_Run, float | None, str, str]:
    """Rerun with every cutoff raised by about 25%: ``(run returned, truncation error, status,
    message)`` -- the raised run and ``max |Delta V|``, or, if the budget ran out during the
    check, ``run`` itself with no error and ``not_converged``."""
    bigger = tuple(c + max(1, math.ceil(c / 4)) for c in run.cutoffs)
    space = build_space(modes, "fock", bigger, ref.covariance, dtype="dia")
    check = _Run(*_mesolve(space, ref, t, n0, options, deadline, report, len(t), n_total),
                 cutoffs=bigger)
    if len(check.covariance) < len(t):
        return run, None, "not_converged", (
            f"not converged: time budget max_time = {options.max_time:g} s spent "
            f"({time.perf_counter() - t_start:.3g} s) in the truncation check at "
            f"cutoffs {bigger} (t = {t[len(check.covariance) - 1]:g} of {t[-1]:g}); returning "
            f"the run at cutoffs {run.cutoffs} without a truncation error")
    return check, float(np.abs(check.covariance - run.covariance).max()), "ok", ""


def _check_physical(run: _Run, t: np.ndarray, error: float | None, status: str,
                    message: str) -> tuple[str, str]:
    """``(status, message)``: ``"unphysical"`` (and a warning) at the first time whose covariance
    violates the uncertainty principle by more than the truncation error.

    Called from :func:`_evolve_master` only: ``stacklevel=4`` points the warning at the caller
    of :func:`evolve_master`.
    """
    # a truncated space breaks [x, p] = i at the top level: allow the truncation error
    allowance = max(run.tail, error or 0.0)
    for k, V in enumerate(run.covariance):
        why = unphysical_message(V, atol=allowance,
                                 what=f"master-equation covariance at t = {t[k]:g}")
        if why is not None:
            status, message = "unphysical", f"{why} (numerical: truncation or solver); {message}"
            warnings.warn(why, PhysicalityWarning, stacklevel=4)
            break
    return status, message
