"""The main job: is the linearised (Lyapunov) picture of a configuration right?

:func:`validate` runs the Lyapunov analysis, an SDE ensemble of the nonlinear truncated-Wigner
equations and, where its truncation fits, the master equation, and compares every covariance
element, E_N and steering with the Lyapunov solution of the same damping model
(:mod:`simulator.compare`). Engines never print; the command line and :mod:`simulator.report`
do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from .attractors import AttractorsResult, find_attractors
from .checks import check_integer
from .compare import Comparison, Estimate, compare
from .errors import CheckpointError, ResultFileError
from .jsonio import to_jsonable
from .linear import LyapunovResult, lyapunov
from .params import Params
from .progress import ProgressArg, check_progress, progress_callback
from .protocol import NestedResult, ResultProtocol
from .resultfields import saved
from .sde import SDEOptions, SDEResult, simulate_sde
from .sde.options import BACKENDS
from .second_order import SecondOrderResult, second_order
from .shift_check import ShiftCheck, check_shifts, shift_verdict

__all__ = [
    "ValidateOptions", "ValidationResult", "validate", "sde_estimate", "master_estimate",
    "reference_scalars",
]

log = logging.getLogger("simulator.validate")

#: Largest Fock-space dimension the validation's master-equation leg may use. The steady-state
#: cost grows steeply with it (dimension 264: ~3 s; 606: ~7 min here), so larger states are
#: reported as not compared rather than left running.
MASTER_MAX_DIM = 400

#: Truncation tolerance of the master-equation leg with ``quick`` (``MasterOptions.tol``; the
#: full run keeps the default 1e-3). Each cutoff round costs more than all before it, and the
#: last round, which only pushes the truncation error from a few 1e-3 below 1e-3, was half of the
#: quick run (``validate --set beta=0.3 --quick``: 13 of 27 s). 3e-3 is still four times below
#: the quick SDE ensemble's covariance standard errors (about 1e-2), so the master equation stays
#: the sharper of the two checks.
QUICK_MASTER_TOL = 3e-3


@dataclass(frozen=True, kw_only=True)
class ValidateOptions:
    """How much work :func:`validate` does.

    Parameters
    ----------
    quick : bool
        Small ensemble (meaningful verdict in well under two minutes on two cores) and a looser
        master-equation truncation tolerance (:data:`QUICK_MASTER_TOL`).
    seed : int
        Root seed of the SDE ensemble.
    n_jobs : int
        Joblib workers for the SDE chunks.
    master : bool
        Also run the master-equation engine (when its truncation fits).
    master_max_dim : int
        Largest Fock-space dimension for the master equation (default :data:`MASTER_MAX_DIM`).
    sde : SDEOptions or None
        Override the SDE options chosen from ``quick``.
    control_variate : bool
        Run the SDE leg with control variates (:mod:`simulator.sde.control`; this flag sets
        ``SDEOptions.control_variate``, also of a given ``sde``). On by default: the plain
        statistics the comparison scores are unchanged (``x`` is the same nonlinear ensemble),
        and the leg also measures the nonlinear shift ``dE_N = E_N(V_nl) - E_N(V_Lyapunov)``
        with an error that shrinks with the nonlinearity (at the paper's point
        ``-7.6e-11 +- 9e-13`` where the plain error is ``2.6e-3``), i.e. it turns "no
        disagreement within the noise" into a measured correction. Cost: the chunk loop
        integrates 18 instead of 6 variables: the ``quick`` SDE leg measured 1.0 s without
        and 2.0 s with (in-process, warm); ``wgmsim validate --quick --no-master`` 2.0-2.6 s
        without and 2.1-3.4 s with, on a shared two-core machine.
    attractors : bool
        Search the attractors of the classical equations (:func:`simulator.attractors.
        find_attractors`, a few seconds): where a stable limit cycle coexists with the fixed
        point, the summary says so, with the basin edge and the cycle's amplitude, and the
        master-equation result says whether its Fock space reaches the cycle. On by default.
    backend : {"numpy", "jax"} or None
        Array library of the SDE leg (sets ``SDEOptions.backend``, also of a given ``sde``);
        ``"jax"`` runs its chunks one after another on JAX's device (``docs/jax.md``).
        ``None``: as the SDE options say (numpy unless a given ``sde`` says otherwise).
    """

    quick: bool = False
    seed: int = 0
    n_jobs: int = 1
    master: bool = True
    master_max_dim: int = MASTER_MAX_DIM
    sde: SDEOptions | None = None
    control_variate: bool = True
    attractors: bool = True
    backend: str | None = None

    def __post_init__(self) -> None:
        if self.backend is not None and self.backend not in BACKENDS:
            raise ValueError(f"backend = {self.backend!r}: must be one of {BACKENDS} or None")
        for name in ("quick", "master", "control_variate", "attractors"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be True or False")
        check_integer("seed", self.seed, low=0)
        check_integer("master_max_dim", self.master_max_dim, low=8)
        if check_integer("n_jobs", self.n_jobs, low=-(2**31)) == 0:
            raise ValueError("n_jobs = 0: must be a non-zero integer (-1: all cores)")
        if self.sde is not None and not isinstance(self.sde, SDEOptions):
            raise ValueError(f"sde = {self.sde!r}: must be SDEOptions or None")

    def sde_options(self) -> SDEOptions:
        """SDE options: given, or chosen for the E_N error bar (full: <= 0.002, about 0.001);
        ``control_variate`` as this object's."""
        if self.sde is not None:
            base = self.sde
        elif self.quick:
            base = SDEOptions(n_traj=256, chunk_size=64, t_avg=1000.0, error_check=True)
        else:
            base = SDEOptions(n_traj=1024, chunk_size=128, t_avg=3000.0, error_check=True)
        backend = base.backend if self.backend is None else self.backend
        if base.control_variate == self.control_variate and base.backend == backend:
            return base
        precision = base.precision if backend == "jax" else "float64"
        return base.replace(control_variate=self.control_variate, backend=backend,
                            precision=precision)

    def master_options(self):
        """:class:`~simulator.master.MasterOptions` of the master-equation leg: the nonlinear
        model, Fock dimension at most ``master_max_dim``, truncation tolerance
        :data:`QUICK_MASTER_TOL` with ``quick`` (else the default 1e-3)."""
        from .master import MasterOptions

        extra = {"tol": QUICK_MASTER_TOL} if self.quick else {}
        return MasterOptions(nonlinear=True, max_dim=self.master_max_dim, **extra)


def _result_types() -> dict[str, type]:
    from .master import MasterResult

    return {"LyapunovResult": LyapunovResult, "SDEResult": SDEResult,
            "MasterResult": MasterResult, "SecondOrderResult": SecondOrderResult,
            "AttractorsResult": AttractorsResult}


_NESTED_RESULT = NestedResult(_result_types)
#: Dimensions the engines' datasets share in a validation's ``to_xarray``.
_SHARED_DIMS = ("mode", "mode_i", "mode_j")


def _validate_options(record: dict[str, Any]) -> ValidateOptions:
    opts = dict(record)
    if opts.get("sde") is not None:
        opts["sde"] = SDEOptions.from_dict(opts["sde"])
    opts.setdefault("attractors", False)  # saved before the attractor search: it was not run
    return ValidateOptions(**opts)


def _comparisons(record: list[dict[str, Any]]) -> tuple[Comparison, ...]:
    from .compare import ComparisonRow

    nan = lambda v: float("nan") if v is None else v  # noqa: E731
    return tuple(Comparison(c["engine"], c["error_kind"],
                            tuple(ComparisonRow(**{k: nan(v) for k, v in r.items()})
                                  for r in c["rows"]), c["info"]) for c in record)


@dataclass(frozen=True, repr=False)
class ValidationResult(ResultProtocol):
    """Everything a validation run produced.

    Attributes
    ----------
    params : Params
    options : ValidateOptions
    lyapunov : LyapunovResult
    sde : SDEResult or None
        ``None`` if the point is linearly unstable (nothing stationary to compare).
    master : Any or None
        Master-equation result, or ``None`` when skipped (``master_skipped`` says why).
    master_skipped : str or None
    comparisons : tuple of Comparison
        One per nonlinear engine, against the Lyapunov solution.
    reference_scalars : dict
        Lyapunov E_N and steering keyed as in the comparison rows.
    timing : dict
        Wall seconds per engine.
    sde_skipped : str or None
        Why the SDE ensemble was not compared (it raised), or ``None``.
    second_order : SecondOrderResult or None
        The exact ``O(G0^2)`` nonlinear correction, quantum and truncated Wigner
        (:mod:`simulator.second_order`); ``None`` if unstable.
    attractors : AttractorsResult or None
        The classical attractors (``None`` when not searched: ``attractors_skipped`` says why).
    attractors_skipped : str or None
    """

    params: Params = saved("input", decode=Params)
    options: ValidateOptions = saved("input", decode=_validate_options)
    lyapunov: LyapunovResult = saved("reference", codec=_NESTED_RESULT)
    sde: SDEResult | None = saved("value", codec=_NESTED_RESULT)
    master: Any = saved("value", codec=_NESTED_RESULT)
    master_skipped: str | None = saved("outcome")
    comparisons: tuple[Comparison, ...] = saved("outcome", decode=_comparisons)
    reference_scalars: dict[str, float] = saved("reference")
    timing: dict[str, float] = saved("record", default_factory=dict)
    sde_skipped: str | None = saved("outcome", default=None)
    second_order: SecondOrderResult | None = saved("reference", default=None,
                                                    codec=_NESTED_RESULT)
    attractors: AttractorsResult | None = saved("value", default=None, codec=_NESTED_RESULT)
    attractors_skipped: str | None = saved("outcome", default=None)

    @property
    def metastable(self) -> bool:
        """Another stable attractor of the classical equations coexists with the fixed point:
        the linearised steady state is only metastable."""
        return self.attractors is not None and self.attractors.coexisting

    @property
    def shift(self) -> dict[str, Any] | None:
        """The SDE leg's control-variate nonlinear shift (``SDEResult.shift``: ``covariance``,
        ``covariance_stderr``, ``log_negativity``, ``log_negativity_stderr``, ...), or ``None``."""
        return None if self.sde is None else self.sde.shift

    @property
    def shift_checks(self) -> list[ShiftCheck]:
        """Each engine's measured ``dE_N`` against the exact second-order prediction of the
        physics it integrates (:func:`simulator.shift_check.check_shifts`): the SDE's
        control-variate shift against truncated Wigner's, the master equation's against the
        quantum one."""
        if self.second_order is None:
            return []
        master = None
        if self.master is not None and self.master_skipped is None:
            rows = {r.quantity: r for c in self.comparisons if c.engine == "master"
                    for r in c.rows}
            master = {k[4:-1]: (r.value - r.reference, r.error) for k, r in rows.items()
                      if k.startswith("E_N[")}
        return check_shifts(self.second_order, sde_shift=self.shift,
                            sde_dt=None if self.sde is None else float(self.sde.options.dt),
                            master_shift=master)

    @property
    def shift_verdict(self) -> str | None:
        """The second-order verdict on ``E_N[r_m]`` in words, or ``None`` if unstable."""
        if self.second_order is None:
            return None
        return shift_verdict(self.second_order, self.shift_checks)

    @property
    def verdicts(self) -> dict[str, str]:
        """One line per engine."""
        return {c.engine: c.verdict for c in self.comparisons}

    # ---- result protocol (simulator.protocol): the engines' results nested under prefixes ----
    _file_name = "validation"
    _NESTED = ("lyapunov", "sde", "master", "second_order", "attractors")

    @classmethod
    def _upgrade(cls, meta: dict[str, Any], arrays: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Folders saved before the declared fields kept the engines' results under
        ``nested``."""
        return {**meta, **meta.pop("nested", {})}, arrays

    def _provenance_inputs(self) -> dict[str, Any]:
        out = super()._provenance_inputs()
        out["seeds"] = None if self.sde is None else self.sde.seeds
        return out

    def _nested(self, part: str, rename: Any) -> dict[str, Any]:
        """The engines' ``part`` (``"_xarray_vars"``, ...) under ``ENGINE_name``; the
        quadrature dimensions shared."""
        return {(k if k in _SHARED_DIMS and part != "_xarray_vars" else f"{name}_{k}"):
                rename(name, v)
                for name in self._NESTED if getattr(self, name) is not None
                for k, v in getattr(getattr(self, name), part)().items()}

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], Any]]:
        return self._nested("_xarray_vars", lambda name, dv: (
            tuple(d if d in _SHARED_DIMS else f"{name}_{d}" for d in dv[0]), dv[1]))

    def _xarray_coords(self) -> dict[str, Any]:
        return self._nested("_xarray_coords", lambda name, v: v)

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        return self._nested("_xarray_attrs", lambda name, v: v)

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stable": self.lyapunov.stable}
        for c in self.comparisons:
            out[c.engine] = "agrees" if c.agrees else "deviates"
        if self.master_skipped:
            out["master"] = "skipped"
        if self.attractors is not None:
            out["metastable"] = self.metastable
        return out

    def _record(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(), "options": self._meta()["options"],
                "lyapunov": self.lyapunov.to_dict(),
                "sde": None if self.sde is None else self.sde.to_dict(),
                "master": None if self.master is None else self.master.to_dict(),
                "master_skipped": self.master_skipped,
                "comparisons": [c.to_dict() for c in self.comparisons],
                "second_order": None if self.second_order is None
                else self.second_order.second_order_record(),
                "second_order_checks": [c.to_dict() for c in self.shift_checks],
                "second_order_verdict": self.shift_verdict,
                "verdicts": self.verdicts, "timing": self.timing,
                "attractors": None if self.attractors is None else self.attractors.to_dict(),
                "attractors_skipped": self.attractors_skipped,
                "metastable": self.metastable}


def reference_scalars(res: LyapunovResult) -> dict[str, float]:
    """E_N and steering of the Lyapunov solution, keyed ``E_N[r_m]``, ``steering[r->m]``, ..."""
    if not res.stable:
        return {}
    out = {f"E_N[{k}]": v for k, v in res.observables["log_negativity"].items()}
    out.update({f"steering[{k}]": v for k, v in res.observables["steering"].items()})
    return out


def sde_estimate(res: SDEResult) -> Estimate:
    """The SDE result as an :class:`Estimate` (standard errors from batch means / jackknife)."""
    return res.to_estimate()


def validate(
    params: Params,
    options: ValidateOptions | None = None,
    *,
    out: str | Path | None = None,
    progress: ProgressArg = None,
) -> ValidationResult:
    """Run every engine on ``params`` and compare them with the Lyapunov solution.

    Parameters
    ----------
    params : Params
    options : ValidateOptions, optional
    out : path, optional
        Directory for the SDE checkpoint (``out/checkpoints/sde-<hash>``): an interrupted
        validation resumes when run again with the same arguments.
    progress : bool or callable, optional
        ``True``: a tqdm bar on stderr for each long leg (SDE chunks, master-equation cutoff
        rounds); a callable: called as ``progress(stage, done, total)`` with ``stage`` ``"sde"``
        or ``"master"``; ``None``/``False`` (default): nothing. Each leg's start and end (with
        its wall time) is logged at INFO on the ``simulator.validate`` logger.

    Returns
    -------
    ValidationResult
        An unstable point gives a result with ``sde = None`` and no comparisons.
    """
    options = ValidateOptions() if options is None else options
    check_progress(progress)
    timing: dict[str, float] = {}
    t0 = _leg_start("lyapunov", "linearised steady state and its exact O(G0^2) correction")
    lin = lyapunov(params)
    so = second_order(params) if lin.stable else None
    timing["lyapunov"] = _leg_end("lyapunov", t0, "stable" if lin.stable else "unstable")
    refs = reference_scalars(lin)
    if not lin.stable:
        return ValidationResult(params, options, lin, None, None,
                                "linearised system unstable", (), refs, timing)
    found, found_skipped = _attractor_leg(params, options, timing)
    comparisons: list[Comparison] = []
    sde_res, sde_skipped = _sde_leg(params, options, lin, refs, out, progress, comparisons,
                                    timing)
    master_res, skipped = None, "not requested"
    if options.master:
        master_res, skipped = _master_leg(params, options, lin, refs, progress, comparisons,
                                          timing)
        if master_res is not None and found is not None:
            master_res = master_res.with_attractors(found)
    return ValidationResult(params, options, lin, sde_res, master_res, skipped,
                            tuple(comparisons), refs, timing, sde_skipped=sde_skipped,
                            second_order=so, attractors=found,
                            attractors_skipped=found_skipped)


def _attractor_leg(params: Params, options: ValidateOptions, timing: dict[str, float]
                   ) -> tuple[AttractorsResult | None, str | None]:
    """The classical attractor search: ``(result, None)`` or ``(None, why not)``; its wall time
    goes to ``timing["attractors"]``."""
    if not options.attractors:
        return None, "not requested"
    t0 = _leg_start("attractors", "limit cycles and basin edge of the classical equations")
    found, why = None, None
    try:
        found = find_attractors(params)
    except Exception as exc:  # noqa: BLE001 - a failed search is reported, never a crash
        why = _failure("the attractor search", exc)
    timing["attractors"] = _leg_end("attractors", t0, why or found.summary_line())
    return found, why


def _sde_leg(params: Params, options: ValidateOptions, lin: LyapunovResult,
             refs: dict[str, float], out: str | Path | None, progress: ProgressArg,
             comparisons: list[Comparison],
             timing: dict[str, float]) -> tuple[SDEResult | None, str | None]:
    """The SDE leg: ``(result, None)`` with its comparison appended to ``comparisons``, or
    ``(None, why it failed)``; its wall time goes to ``timing["sde"]``. A checkpoint or result
    file error is raised (the user must act)."""
    sde_opts = options.sde_options()
    t0 = _leg_start("sde", f"{sde_opts.n_traj} trajectories in {sde_opts.n_chunks} chunks")
    sde_res, sde_skipped = None, None
    try:
        with _leg_progress(progress, "sde", "chunk") as sde_progress:
            sde_res = simulate_sde(params, sde_opts, seed=options.seed, n_jobs=options.n_jobs,
                                   out=None if out is None else _checkpoint_dir(
                                       out, params, sde_opts, options.seed),
                                   progress=sde_progress)
        comparisons.append(compare(lin.covariance, refs, sde_estimate(sde_res)))
    except (CheckpointError, ResultFileError):
        raise  # a locked, foreign or damaged checkpoint: the user must act; not a result
    except Exception as exc:  # noqa: BLE001 - any engine failure is reported, never a crash
        sde_res, sde_skipped = None, _failure("the SDE ensemble", exc)
    timing["sde"] = _leg_end("sde", t0, sde_skipped or f"status {sde_res.status}")
    return sde_res, sde_skipped


def _master_leg(params: Params, options: ValidateOptions, lin: LyapunovResult,
                refs: dict[str, float], progress: ProgressArg, comparisons: list[Comparison],
                timing: dict[str, float]) -> tuple[Any, str | None]:
    """The master-equation leg: ``(result, None)`` with its comparison appended to
    ``comparisons``, or ``(result or None, why it was skipped or failed)``; its wall time goes
    to ``timing["master"]``."""
    t0 = _leg_start("master", f"steady state, nonlinear, dimension <= "
                    f"{options.master_max_dim}, tol {options.master_options().tol:g}")
    try:
        with _leg_progress(progress, "master", "round") as master_progress:
            master_res, estimate, skipped = _run_master(params, options, master_progress)
        if estimate is not None:
            comparisons.append(compare(lin.covariance, refs, estimate))
    except Exception as exc:  # noqa: BLE001 - any engine failure is reported, never a crash
        master_res, skipped = None, _failure("the master equation", exc)
    timing["master"] = _leg_end("master", t0, skipped or f"status {master_res.status}")
    return master_res, skipped


def _leg_start(leg: str, what: str) -> float:
    """Log the start of a leg at INFO; return its start time."""
    log.info("validate: %s leg started (%s)", leg, what)
    return time.perf_counter()


def _leg_end(leg: str, t0: float, outcome: str) -> float:
    """Log the end of a leg with its wall time at INFO; return the wall time (s)."""
    wall = time.perf_counter() - t0
    log.info("validate: %s leg done in %.1f s (%s)", leg, wall, outcome)
    return wall


def _leg_progress(progress: ProgressArg, stage: str, unit: str):
    """The ``progress(done, total)`` callback of one leg (a context manager)."""
    if progress is None or isinstance(progress, bool):
        return progress_callback(progress, f"validate {stage}", unit)
    return contextlib.nullcontext(lambda done, total: progress(stage, done, total))


def _failure(leg: str, exc: BaseException) -> str:
    """One line saying why a leg of the validation failed."""
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{leg} failed: {type(exc).__name__}: {text}"


def _checkpoint_dir(out: str | Path, params: Params, sde: SDEOptions, seed: int) -> Path:
    """``out/checkpoints/sde-<hash>``: one directory per (parameters, options, seed), so that a
    rerun of the same command resumes and a different run never collides with it."""
    key = json.dumps(to_jsonable([params.to_dict(), sde.to_dict(), seed]), sort_keys=True)
    return Path(out) / "checkpoints" / f"sde-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def master_estimate(res: Any) -> Estimate:
    """A :class:`~simulator.master.MasterResult` as an :class:`Estimate` (truncation errors):
    :meth:`~simulator.master.MasterResult.to_estimate`."""
    return res.to_estimate()


def _run_master(params: Params, options: ValidateOptions, progress=None):
    """Master equation with the nonlinear term: (result, estimate, None) or (None, None, why)."""
    from .master import TruncationError, solve_master

    lossy = [e for e, _ in params.defects if e.imag != 0] + ([params.eta] if params.eta.imag else [])
    if lossy:
        return None, None, "lossy (complex) scatterers are not modelled by the master equation"
    try:
        res = solve_master(params, options=options.master_options(), progress=progress)
    except TruncationError as exc:
        return None, None, f"the Fock truncation does not fit: {exc}"
    except RuntimeError as exc:  # e.g. the iterative steady-state solver did not converge
        return None, None, f"the steady-state solver failed: {exc}"
    if not res.converged:
        return res, None, f"cutoffs did not converge ({res.message})"
    return res, master_estimate(res), None
