"""Master-equation steady states with automatic Fock cutoffs (:func:`solve_master`).

The steady state of the displaced-frame master equation (:mod:`simulator.master.operators`) is
found (QuTiP's formulation of ``L rho = 0``, a preconditioned LGMRES by default) in truncated
Fock spaces of increasing size until the covariance changes by less than ``tol`` between
successive cutoffs. Covariances are in the project convention (order ``(X_r, Y_r, X_l, Y_l, q,
p)``, symmetrised, vacuum 1/2, means subtracted) and come with the Lyapunov solution of the
*same* damping model. Units: ``omega_m = 1``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import qutip

from ..conventions import PAIRS
from ..conventions import covariance_xxpp as _covariance_xxpp
from ..errors import PhysicalityWarning
from ..estimate import Estimate, propagate_bound
from ..linear import LyapunovResult
from ..observables import log_negativity, log_negativity_block, steering_block, summary, \
    two_mode_block, unphysical_message
from ..params import Params
from ..progress import ProgressArg, progress_callback
from ..protocol import ResultProtocol
from ..resultfields import saved
from .common import fock_scope
from .cutoffs import (STEADY_METHODS, MasterOptions, _Loop, cutoff_loop, first_cutoffs,
                      stable_reference, tail_estimates)
from .operators import Space, build_space, kept_modes
from .states import (LADDER_NAMES, DensityMatrices, destroy_operators,
                     quadrature_operators, to_fock_basis, to_lab_basis)

__all__ = ["MasterOptions", "MasterResult", "solve_master", "STEADY_METHODS", "BLAS_THREADS",
           "blas_threads"]

log = logging.getLogger("simulator.master")

#: BLAS/OpenMP threads inside a master-equation solve. The sparse solves and the many small dense
#: products gain nothing from threads, and on a shared machine extra threads oversubscribe the
#: cores: ``wgmsim validate --set beta=0.3 --quick`` spent 204 s in its master leg with the default
#: OpenBLAS threads against 37 s with one thread on a loaded machine.
BLAS_THREADS = 1


@contextlib.contextmanager
def blas_threads() -> Iterator[None]:
    """Limit the BLAS/OpenMP thread pools of numpy and scipy to :data:`BLAS_THREADS` threads in
    the block (``threadpoolctl.threadpool_limits``; ``BLAS_THREADS = None`` leaves them)."""
    limit = BLAS_THREADS
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit):
        yield


@dataclass(frozen=True, repr=False)
class MasterResult(ResultProtocol):
    """Steady state of the master equation at one parameter point.

    Attributes
    ----------
    params : Params
    options : MasterOptions
    covariance : ndarray, shape (6, 6)
        Symmetrised covariance about the state's own means (vacuum 1/2). A CCW mode without a
        tensor factor (``J1 = J2 = 0``) is exactly in vacuum.
    mean : ndarray, shape (6,)
        Means of the fluctuations ``<delta u>`` (zero for the linearised model; the cubic term's
        shift of the mean field otherwise).
    modes : tuple of str
        Physical modes with a tensor factor.
    basis : str
    cutoffs : tuple of int
        Fock dimension of each basis mode in the final solve.
    top_population : tuple of float
        Population of the highest kept level of each basis mode (final solve).
    truncation_error : float or None
        ``max |Delta V|`` between the last two cutoff rounds; once converged, the larger of that
        and the tail estimate ``max_k 2 N_k p_k(N_k - 1)`` of the modes not raised in the last
        round (``None`` with fixed cutoffs).
    converged : bool
        ``truncation_error < options.tol``.
    message : str
    history : tuple of dict
        Per round: cutoffs, dim, change, log-negativity, timings (s).
    lyapunov : LyapunovResult
        Linearised steady state of the same damping model.
    timing : dict
        Wall-clock seconds: ``total`` and the sums of ``build``, ``solve``, ``moments``.
    normal_mode_state : qutip.Qobj
        The steady-state density matrix as the engine solved for it (trace 1): the
        fluctuations about the mean field, tensor order r, l, m (``modes``), in the Fock basis
        of the ``basis`` modes: the Williamson normal modes by default (with ``basis="fock"``
        the physical modes, and then the same matrix as :attr:`state`).
    state : qutip.Qobj (property)
        The same state in the lab's displaced Fock basis, tensor order ``a_r``, ``a_l`` (if
        kept), ``b``: :attr:`operators` act on it, ``qutip.expect(b.dag() * b, res.state)`` is
        the covariance's phonon number within the truncation error. Computed on first use
        (cutoffs raised until the weight they miss costs a number operator at most half the
        truncation error; :func:`simulator.master.states.to_lab_basis`), then kept.
    operators : dict of str to qutip.Qobj (property)
        ``"a_r"``, ``"a_l"`` (if kept), ``"b"``: the annihilation operators on :attr:`state`.

    :mod:`simulator.master.states` documents the bases. The result protocol
    (:mod:`simulator.protocol`): ``save``/``load`` (the normal-mode state as its dense matrix
    and dims), ``to_dict``, ``to_xarray`` (both states), ``provenance``, ``to_estimate``.
    status : str
        ``"ok"``; ``"not_converged"`` (truncation not converged: ``max_dim``, ``max_rounds`` or
        ``max_time`` stopped the loop); ``"unphysical"`` (the covariance violates
        ``V + i Omega/2 >= 0`` by more than its truncation error: a density matrix cannot, so this
        flags a numerical problem, e.g. the solver, or the Caldeira-Leggett generator's lack of
        Lindblad form). See
        :data:`simulator.errors.STATUSES`.
    scope : dict or None
        Whether the Fock space reaches a classical attractor coexisting with the fixed point
        (:func:`simulator.master.common.fock_scope`: ``basin_only`` True when it does not, and
        the state then describes the fixed point's basin only); ``None`` when no attractor
        search was given (:meth:`with_attractors`, ``solve_master(..., attractors=...)``).
    """

    params: Params = saved("input", decode=Params)
    options: MasterOptions = saved("input", decode=MasterOptions)
    covariance: np.ndarray = saved("value")
    mean: np.ndarray = saved("value")
    modes: tuple[str, ...] = saved("record", decode=tuple)
    basis: str = saved("record")
    cutoffs: tuple[int, ...] = saved("record", decode=tuple)
    top_population: tuple[float, ...] = saved("error", decode=tuple)
    truncation_error: float | None = saved("error")
    converged: bool = saved("outcome")
    message: str = saved("outcome")
    history: tuple[dict, ...] = saved("record", decode=tuple)
    lyapunov: LyapunovResult = saved("reference", decode=LyapunovResult)
    timing: dict = saved("record", default_factory=dict)
    normal_mode_state: Any = saved("value", default=None, codec=DensityMatrices(
        "normal_mode_state_dims", old_key="state"))
    status: str = saved("outcome", default="ok")
    scope: dict | None = saved("record", default=None)

    def with_attractors(self, attractors) -> "MasterResult":
        """This result with :attr:`scope` set from an
        :class:`~simulator.attractors.AttractorsResult` of the same point."""
        return dataclasses.replace(self, scope=fock_scope(self.cutoffs, attractors))

    @property
    def log_negativity(self) -> dict[str, float]:
        """``E_N`` per pair ``{"r_m", "l_m", "r_l"}``."""
        return {k: float(v) for k, v in log_negativity(self.covariance).items()}

    @functools.cached_property
    def state(self) -> qutip.Qobj | None:
        """The steady state in the lab's displaced Fock basis (order ``a_r``, ``a_l`` if kept,
        ``b``); ``None`` if the result holds no state. See the class docstring."""
        if self.normal_mode_state is None:
            return None
        err = self.truncation_error
        tol = self.options.tol if err is None else min(err, self.options.tol)
        return to_lab_basis(self.normal_mode_state, self.space(), tol=0.5 * tol)

    @property
    def operators(self) -> dict[str, qutip.Qobj]:
        """Annihilation operators ``"a_r"``, ``"a_l"`` (if kept), ``"b"`` on :attr:`state`.

        Examples
        --------
        >>> import qutip
        >>> res = solve_master(Params.paper())
        >>> b = res.operators["b"]
        >>> n = qutip.expect(b.dag() * b, res.state)
        >>> V = res.covariance  # phonon number of the covariance: (V_qq + V_pp - 1) / 2
        >>> bool(abs(n - (V[4, 4] + V[5, 5] - 1) / 2) < res.truncation_error)
        True
        """
        return destroy_operators(self.modes, tuple(self.state.dims[0]))

    @property
    def lyapunov_difference(self) -> float:
        """``max |V_ME - V_Lyapunov|`` (same damping model)."""
        return float(np.abs(self.covariance - self.linear_covariance).max())

    @property
    def linear_covariance(self) -> np.ndarray:
        """The linearised reference covariance (``lyapunov.covariance``), shape (6, 6): the name
        every result gives its reference."""
        return self.lyapunov.covariance

    def _record(self) -> dict[str, Any]:
        """JSON-ready record (the ``wgmsim me --json`` schema; ``to_dict()`` adds
        ``provenance``)."""
        ref = self.lyapunov
        en_ref = ref.log_negativity
        en = self.log_negativity
        return {
            "engine": "master",
            "status": self.status,
            "model": "nonlinear" if self.options.nonlinear else "linearised",
            "damping": self.params.damping,
            "covariance": self.covariance,
            "mean": self.mean,
            "log_negativity": en,
            "observables": summary(self.covariance),
            "modes": list(self.modes),
            "basis": self.basis,
            "cutoffs": list(self.cutoffs),
            "dimension": int(np.prod(self.cutoffs)),
            "top_population": list(self.top_population),
            "truncation_error": self.truncation_error,
            "converged": self.converged,
            "message": self.message,
            "history": list(self.history),
            "lyapunov": {
                "covariance": ref.covariance,
                "log_negativity": en_ref,
                "max_abs_covariance_difference": self.lyapunov_difference,
                "log_negativity_difference": {k: en[k] - en_ref[k] for k in en},
            },
            "timing": self.timing,
            "scope": self.scope,
            "options": {k: getattr(self.options, k) for k in self.options.__dataclass_fields__},
            "params": self.params.to_dict(),
        }

    def __str__(self) -> str:
        en = self.log_negativity
        return (f"MasterResult(status={self.status}, E_N r_m={en['r_m']:.5f}, "
                f"cutoffs={self.cutoffs}, "
                f"truncation_error={self.truncation_error}, "
                f"|V-V_lyap|={self.lyapunov_difference:.2e})")

    # ---- states -----------------------------------------------------------------------------
    def space(self) -> Space:
        """The truncated space of :attr:`state` (basis, cutoffs, symplectic ``S``, operators)."""
        return build_space(self.modes, self.basis, self.cutoffs, self.lyapunov.covariance)

    def quadrature_operators(self, *, normal_modes: bool = False) -> dict[str, qutip.Qobj]:
        """Physical fluctuation quadratures (``"X_r"``, ..., ``"p"``) of the kept modes as
        operators on :attr:`state` (``normal_modes=True``: on :attr:`normal_mode_state`):
        ``qutip.expect(ops["q"], res.state)`` is ``<dq>``."""
        if normal_modes:
            return quadrature_operators(self.space())
        cut = tuple(self.state.dims[0])
        return quadrature_operators(build_space(self.modes, "fock", cut, self.covariance))

    def fock_state(self, cutoffs: tuple[int, ...]) -> qutip.Qobj:
        """:attr:`normal_mode_state` in the displaced physical Fock basis with the given cutoffs
        (one per mode of ``modes``); see :func:`simulator.master.states.to_fock_basis`
        (:attr:`state` chooses the cutoffs itself)."""
        return to_fock_basis(self.normal_mode_state, self.space(), cutoffs)

    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """The covariance in thewalrus / Strawberry Fields form, order ``(x_r, x_l, x_m, p_r,
        p_l, p_m)``, vacuum ``hbar/2`` (:func:`simulator.conventions.covariance_xxpp`)."""
        return _covariance_xxpp(self.covariance, hbar)

    def to_estimate(self) -> Estimate:
        """The result as an :class:`~simulator.compare.Estimate` (truncation errors).

        The covariance error is the reported truncation error (element-wise bound); E_N and
        steering errors are its first-order propagation
        (:func:`~simulator.compare.propagate_bound`).
        """
        V = self.covariance
        err = float(self.truncation_error) if self.truncation_error is not None else float("nan")
        scalars, errs = {}, {}
        for key, (a, b) in PAIRS.items():
            W = two_mode_block(V, a, b)
            scalars[f"E_N[{key}]"] = float(log_negativity_block(W))
            errs[f"E_N[{key}]"] = propagate_bound(
                lambda X, a=a, b=b: log_negativity_block(two_mode_block(X, a, b)), V, err)
            for first, second, pick in ((a, b, 0), (b, a, 1)):
                name = f"steering[{first}->{second}]"
                scalars[name] = float(steering_block(W)[pick])
                errs[name] = propagate_bound(
                    lambda X, a=a, b=b, pick=pick: steering_block(two_mode_block(X, a, b))[pick],
                    V, err)
        info = {"model": "nonlinear" if self.options.nonlinear else "linearised",
                "basis": self.basis, "cutoffs": tuple(self.cutoffs), "truncation error": err,
                "top-level populations": tuple(float(x) for x in self.top_population),
                "converged": self.converged}
        return Estimate("master", V, np.full((6, 6), err), scalars, errs, "truncation", info)

    # ---- result protocol (simulator.protocol) -------------------------------------------------
    _file_name = "master"

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        out = {"covariance": (("mode_i", "mode_j"), self.covariance),
               "mean": (("mode_i",), self.mean),
               "lyapunov_covariance": (("mode_i", "mode_j"), self.lyapunov.covariance)}
        if self.normal_mode_state is not None:
            out["state"] = (("ket", "bra"), self.state.full())
            out["normal_mode_state"] = (("normal_ket", "normal_bra"),
                                        self.normal_mode_state.full())
        return out

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        out = super()._xarray_attrs()
        if self.normal_mode_state is not None:
            ladder = ", ".join(LADDER_NAMES[m] for m in self.modes)
            out["state"] = {"units": "1", "qutip_dims": json.dumps(self.state.dims),
                            "basis": f"lab displaced Fock basis, tensor order {ladder}"}
            out["normal_mode_state"] = {
                "units": "1", "qutip_dims": json.dumps(self.normal_mode_state.dims),
                "basis": f"Fock basis of the {self.basis} modes, tensor order {self.modes}"}
        return out

    def _summary(self) -> dict[str, Any]:
        out = {"E_N[r_m]": self.log_negativity["r_m"], "basis": self.basis,
               "cutoffs": tuple(self.cutoffs), "truncation_error": self.truncation_error,
               "converged": self.converged, "|V-V_lyap|": self.lyapunov_difference}
        if hasattr(self, "status"):
            out["status"] = self.status
        return out




def solve_master(params: Params, *, options: MasterOptions | None = None,
                 progress: ProgressArg = None, attractors=None) -> MasterResult:
    """Steady state of the displaced-frame master equation with automatic Fock cutoffs.

    Solves ``L rho = 0`` (method from :data:`STEADY_METHODS`, as ``qutip.steadystate``) in truncated
    Fock spaces of increasing size until ``max |V_new - V_old| < tol``. The first cutoffs come from
    the Gaussian (Lyapunov) occupations; each round raises the modes whose top level is populated.

    Parameters
    ----------
    params : Params
        Parameter point (its ``damping`` selects Caldeira-Leggett or the Lindblad thermal bath).
    options : MasterOptions, optional
    progress : bool or callable, optional
        ``True``: a tqdm bar of the cutoff rounds on stderr; a callable: called as
        ``progress(rounds done, max_rounds)`` after each round and ``progress(n, n)`` at the end;
        ``None``/``False`` (default): nothing (:mod:`simulator.progress`). Each round is also
        logged at INFO on the ``simulator.master`` logger (cutoffs, dimension, change, seconds).
    attractors : AttractorsResult, optional
        The classical attractors of the same point (:func:`simulator.attractors.find_attractors`):
        the result's ``scope`` then says whether the Fock space reaches a coexisting one.

    Returns
    -------
    MasterResult
        ``converged=False`` and ``status="not_converged"`` (with a message) if ``max_dim``,
        ``max_rounds`` or ``max_time`` stopped the loop; ``status="unphysical"`` (and a
        :class:`~simulator.errors.PhysicalityWarning`) if the covariance violates the uncertainty
        principle.

    Raises
    ------
    TruncationError
        If even the first cutoffs exceed ``max_dim``.
    ValueError
        If the linearised point is unstable (no steady state).

    Examples
    --------
    >>> res = solve_master(Params.paper())
    >>> res.converged, abs(res.log_negativity["r_m"] - 0.1597) < 1e-3
    (True, True)
    """
    options = MasterOptions() if options is None else options
    with progress_callback(progress, "master steady state", "round") as report, blas_threads():
        res = _solve_master(params, options, report)
    return res if attractors is None else res.with_attractors(attractors)


def _solve_master(params: Params, options: MasterOptions, report) -> MasterResult:
    """:func:`solve_master` with its progress callback (or ``None``) and threads limited."""
    t_start = time.perf_counter()
    ref = stable_reference(params)
    modes = kept_modes(ref.rates)
    first = first_cutoffs(modes, ref, options)
    loop = cutoff_loop(modes, first, ref, options, report, t_start)
    total = {k: sum(h["timing"][k] for h in loop.history) for k in ("build", "solve", "moments")}
    total["total"] = time.perf_counter() - t_start
    status = "ok" if loop.converged or options.cutoffs is not None else "not_converged"
    status, message = _check_physical(loop, status)
    last = loop.last
    return MasterResult(
        params=params, options=options, covariance=last.covariance, mean=last.mean,
        modes=modes, basis=options.basis, cutoffs=tuple(loop.cutoffs), top_population=last.top,
        truncation_error=loop.change, converged=loop.converged, message=message,
        history=tuple(loop.history), lyapunov=ref, timing=total, normal_mode_state=last.rho,
        status=status,
    )




def _check_physical(loop: _Loop, status: str) -> tuple[str, str]:
    """``(status, message)``: ``"unphysical"`` (and a warning) if the covariance violates the
    uncertainty principle by more than the truncation error.

    Called from :func:`_solve_master` only: ``stacklevel=4`` points the warning at the caller of
    :func:`solve_master`.
    """
    message = loop.message
    # a truncated space breaks [x, p] = i at the top level: allow the truncation error
    allowance = float(tail_estimates(loop.cutoffs, loop.last.top).max())
    if loop.change is not None:
        allowance = max(allowance, loop.change)
    why = unphysical_message(loop.last.covariance, atol=allowance,
                             what="master-equation covariance")
    if why is not None:
        status, message = "unphysical", f"{why} (numerical: truncation or solver); {message}"
        warnings.warn(why, PhysicalityWarning, stacklevel=4)
    return status, message
