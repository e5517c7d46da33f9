"""Options of the SDE engine: one frozen, validated dataclass (errors name the field)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..checks import check_integer, check_real
from .integrators import METHODS

__all__ = ["SDEOptions", "INITIAL_STATES", "BACKENDS", "PRECISIONS", "MAX_STEPS", "check_steps",
           "check_backend", "backend_dict", "check_escape_radius"]

#: Initial states of the fluctuations about the fixed point.
INITIAL_STATES = ("thermal", "lyapunov", "gaussian")

#: Array libraries the chunk loop runs on (:mod:`simulator.sde.jax_backend` for ``"jax"``).
BACKENDS = ("numpy", "jax")
#: Floating-point precisions of the JAX backend (numpy always runs in float64).
PRECISIONS = ("float64", "float32")


def check_backend(backend: Any, precision: Any) -> None:
    """``ValueError`` naming ``backend`` (one of :data:`BACKENDS`) or ``precision`` (one of
    :data:`PRECISIONS`; ``"float32"`` only with ``backend="jax"``)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r}: must be one of {BACKENDS}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision = {precision!r}: must be one of {PRECISIONS}")
    if precision != "float64" and backend != "jax":
        raise ValueError(f"precision = {precision!r}: only with backend='jax' (numpy runs in "
                         "float64)")


def backend_dict(out: dict[str, Any]) -> dict[str, Any]:
    """``out`` (an options dict) without ``backend``/``precision`` at their defaults, so that a
    numpy run's recorded options and checkpoint identity are what they were before the JAX
    backend existed."""
    if out.get("backend") == "numpy" and out.get("precision") == "float64":
        out.pop("backend", None)
        out.pop("precision", None)
    return out


#: Most steps a time may take (integers up to 2^53 are exact in a float).
MAX_STEPS = 2.0**53


def check_steps(name: str, value: float | None, dt: float) -> None:
    """``ValueError`` naming ``name`` if ``value / dt`` steps are more than :data:`MAX_STEPS`
    (``t_avg = 1e308`` would overflow the step counts)."""
    if value is not None and not value / dt <= MAX_STEPS:
        raise ValueError(f"{name} = {value!r}: {value / dt:.3g} steps of dt = {dt!r}, more than "
                         f"{MAX_STEPS:.3g}")


def check_escape_radius(value: Any) -> float | str | None:
    """``None`` (automatic), ``"off"`` or a finite number > 0 (``ValueError`` naming
    ``escape_radius``)."""
    if value is None or value == "off":
        return value
    if isinstance(value, str):
        raise ValueError(f"escape_radius = {value!r}: must be None (from the attractor search), "
                         "'off' or a number > 0 (Mahalanobis radius in standard deviations)")
    return check_real("escape_radius", value, low=0.0, strict=True)


def _positive(name: str, value: Any, *, allow_zero: bool = False, integer: bool = False) -> Any:
    """A number ``> 0`` (``>= 0`` with ``allow_zero``), integer if asked; ``ValueError`` names it."""
    if integer:
        return check_integer(name, value, low=0 if allow_zero else 1)
    return check_real(name, value, low=0.0, strict=not allow_zero)


@dataclass(frozen=True, kw_only=True)
class SDEOptions:
    """How an SDE ensemble is run. Times in units of ``1/omega_m``.

    Parameters
    ----------
    method : str
        Integrator, a key of :data:`~simulator.sde.integrators.METHODS`
        (``"exponential"``, ``"sra1"``, ``"euler"``).
    dt : float or "auto"
        Time step, > 0. ``"auto"``: the largest step (halving down from a cap set by the
        sampling, see :mod:`simulator.sde.stepsize`) whose step-halving change of the
        time-averaged second moments on the same noise is below ``rtol``; the choice and its
        estimated error are reported in ``schedule["auto_dt"]`` of the result.
    rtol : float or None
        Only with ``dt="auto"``: tolerance of the step-halving check (relative to the largest
        second moment); ``None``: 0.01.
    n_traj : int
        Number of trajectories, >= 1.
    chunk_size : int
        Trajectories per chunk. Chunks are the unit of seeding, parallelism and checkpointing; their
        number ``ceil(n_traj / chunk_size)`` (not ``n_jobs``) fixes the result.
    t_burn : float or None
        Burn-in discarded before averaging; ``None``: ``8 / slowest_rate`` of ``A``.
    t_avg : float or None
        Averaging window after the burn-in, > 0 (rounded down to whole batches and steps).
        ``None``: 600, lengthened where needed so that the chunks hold ``MIN_UNITS`` batches of
        at least ``10 / slowest_rate`` (required for an unstable system).
    batch_time : float or None
        Length of one batch for batch-means error bars; ``None``: ``20 / slowest_rate`` (at most
        ``t_avg``), shortened down to ``10 / slowest_rate`` where that is needed for
        ``MIN_UNITS`` units. Each (chunk, batch) pair is one statistical unit; a result with
        fewer than ``MIN_UNITS`` units or batches shorter than ``10 / slowest_rate`` has status
        ``"few_units"``.
    sample_every : int
        Accumulate the state every this many steps.
    block_steps : int or None
        Steps whose noise is drawn at once (memory ``block_steps * chunk_size * 6`` doubles per
        array); trajectories are checked for divergence at the end of every block. ``None``:
        ``16384 // chunk size`` clipped to 4..256, which keeps the buffers in cache. The random
        numbers and the trajectories do not depend on it (unless trajectories diverge); the
        sums do, through floating-point rounding only.
    initial : {"thermal", "lyapunov", "gaussian"}
        Initial fluctuations: ``"thermal"`` is a coherent optical state (vacuum fluctuations,
        Wigner variance 1/2) and a thermal mechanical state (``n_m + 1/2``) at the fixed point;
        ``"lyapunov"`` samples the linearised stationary state; ``"gaussian"`` uses
        ``initial_mean`` and ``initial_covariance``.
    initial_mean, initial_covariance : tuple or None
        Only with ``initial="gaussian"``: mean (d,) and covariance (d, d) of the fluctuations.
    bound : float or None
        A trajectory with a non-finite value or ``|x_k| > bound`` is diverged: counted, reported
        and left out from the block where it happened on. ``None``: scales with the system,
        :data:`~simulator.sde.ensemble.BOUND_SIGMAS` (1000) times the largest standard deviation
        of the stationary or, if larger, the initial state (unstable: the initial state plus
        one unit of time of diffusion); the value used is ``schedule["bound"]`` of the result.
    wigner_correction : bool
        Keep the symmetric-ordering ``-G0`` term of the force.
    allow_unstable : bool
        Integrate even if ``A`` has an eigenvalue with non-negative real part.
    keep_trajectories : int
        Number of trajectories of chunk 0 stored (thinned by ``keep_every`` steps) for plots.
    keep_every : int
    escape_radius : float, "off" or None
        Mahalanobis radius (standard deviations of the Lyapunov covariance) beyond which a
        trajectory has escaped from the fixed point's basin (tested at every block end from
        the end of the burn-in; counted, dropped, ``status="metastable"``:
        :mod:`simulator.sde.escapes`). ``None``: the basin radius of the attractor search
        (parameters only, ``G0/Gamma >= 1e-3``; an explicit system is not tested); a number
        > 0: that radius; ``"off"``: no test (escapes end as ``diverged`` at ``bound``).
    control_variate : bool
        Also integrate, on the same noise and from the same initial sample, the linearised SDE
        and report the nonlinear shift ``V_nl - V_Lyapunov`` and ``dE_N`` with error bars that
        vanish with the nonlinearity (``shift`` of the result; :mod:`simulator.sde.control`).
        Doubles the variables integrated.
    backend : {"numpy", "jax"}
        Array library of the chunk loop. ``"jax"`` (optional extra ``wgmsim[jax]``) compiles the
        step and the sums with ``lax.scan`` and runs them on a GPU where JAX finds one
        (:mod:`simulator.sde.jax_backend`); its noise comes from JAX's counter-based generator
        keyed by each chunk's seed, so its numbers differ from numpy's (statistically equal) and
        depend on the seed and chunking only. The step-size pilot (``dt="auto"``) and
        ``error_check`` run on numpy. Chunks run one after another (``n_jobs`` is not used):
        give a large ``chunk_size`` (1e5-1e6 on a GPU).
    precision : {"float64", "float32"}
        Only with ``backend="jax"``: the state's floating-point type (the sums are float64
        either way). float32 is faster on a GPU and costs accuracy (``docs/jax.md``).
    error_check : bool
        Also integrate ``min(n_traj, 64)`` extra trajectories at ``dt`` and ``dt / 2`` on the same
        Brownian path and report the difference (as XMDS2's error check).
    """

    method: str = "exponential"
    dt: float | str = 0.1
    n_traj: int = 256
    chunk_size: int = 32
    t_burn: float | None = None
    t_avg: float | None = None
    batch_time: float | None = None
    sample_every: int = 1
    block_steps: int | None = None
    initial: str = "thermal"
    initial_mean: tuple[float, ...] | None = None
    initial_covariance: tuple[tuple[float, ...], ...] | None = None
    bound: float | None = None
    wigner_correction: bool = True
    allow_unstable: bool = False
    keep_trajectories: int = 0
    keep_every: int = 10
    error_check: bool = False
    control_variate: bool = False
    rtol: float | None = None
    backend: str = "numpy"
    precision: str = "float64"
    escape_radius: float | str | None = None

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if self.method not in METHODS:
            raise ValueError(f"method = {self.method!r}: must be one of {sorted(METHODS)}")
        check_backend(self.backend, self.precision)
        if self.backend == "jax" and self.keep_trajectories:
            raise ValueError(f"keep_trajectories = {self.keep_trajectories!r}: not kept by "
                             "backend='jax' (use the numpy backend for trajectory plots)")
        if isinstance(self.dt, str):
            if self.dt != "auto":
                raise ValueError(f"dt = {self.dt!r}: must be a finite step > 0 or 'auto'")
        else:
            put("dt", _positive("dt", self.dt))
        if self.rtol is not None:
            if self.dt != "auto":
                raise ValueError(f"rtol = {self.rtol!r}: only used with dt='auto' (dt = "
                                 f"{self.dt!r})")
            put("rtol", check_real("rtol", self.rtol, low=0.0, strict=True))
        if self.t_avg is not None:
            put("t_avg", _positive("t_avg", self.t_avg))
        if self.bound is not None:
            put("bound", _positive("bound", self.bound))
        put("escape_radius", check_escape_radius(self.escape_radius))
        for name in ("t_burn", "batch_time"):
            if getattr(self, name) is not None:
                put(name, _positive(name, getattr(self, name), allow_zero=(name == "t_burn")))
        if self.block_steps is not None:
            put("block_steps", _positive("block_steps", self.block_steps, integer=True))
        for name in ("n_traj", "chunk_size", "sample_every", "keep_every"):
            put(name, _positive(name, getattr(self, name), integer=True))
        put("keep_trajectories",
            _positive("keep_trajectories", self.keep_trajectories, allow_zero=True, integer=True))
        if self.initial not in INITIAL_STATES:
            raise ValueError(f"initial = {self.initial!r}: must be one of {INITIAL_STATES}")
        given = self.initial_mean is not None or self.initial_covariance is not None
        if given and self.initial != "gaussian":
            raise ValueError("initial_mean/initial_covariance: only used with initial='gaussian'")
        if self.initial == "gaussian" and self.initial_covariance is None:
            raise ValueError("initial_covariance: required with initial='gaussian'")
        if self.initial_covariance is not None:
            put("initial_covariance", tuple(tuple(float(v) for v in row)
                                            for row in self.initial_covariance))
        if self.initial_mean is not None:
            put("initial_mean", tuple(float(v) for v in self.initial_mean))
        for name in ("wigner_correction", "allow_unstable", "error_check", "control_variate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be True or False")
        if (self.dt != "auto" and self.t_avg is not None
                and self.t_avg < self.dt * self.sample_every):
            raise ValueError(f"t_avg = {self.t_avg!r}: shorter than one sample "
                             f"(dt * sample_every = {self.dt * self.sample_every!r})")

    def block_for(self, n: int) -> int:
        """Steps per noise block for a chunk of ``n`` trajectories."""
        if self.block_steps is not None:
            return self.block_steps
        return max(4, min(256, 16384 // max(n, 1)))

    @property
    def n_chunks(self) -> int:
        """Number of chunks, ``ceil(n_traj / chunk_size)``."""
        return -(-self.n_traj // self.chunk_size)

    def chunk_sizes(self) -> list[int]:
        """Trajectories in each chunk (as equal as possible, larger ones first)."""
        base, extra = divmod(self.n_traj, self.n_chunks)
        return [base + (1 if i < extra else 0) for i in range(self.n_chunks)]

    def replace(self, **changes: Any) -> "SDEOptions":
        """A validated copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready field values (``backend``/``precision`` left out at their defaults,
        :func:`backend_dict`)."""
        out = dataclasses.asdict(self)
        for k in ("initial_mean", "initial_covariance"):
            if out[k] is not None:
                out[k] = [list(r) if isinstance(r, tuple) else r for r in out[k]]
        return backend_dict(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SDEOptions":
        """Inverse of :meth:`to_dict`, refusing unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown SDE option(s) {unknown}; allowed: {sorted(names)}")
        data = dict(data)
        if data.get("initial_covariance") is not None:
            data["initial_covariance"] = tuple(tuple(r) for r in data["initial_covariance"])
        if data.get("initial_mean") is not None:
            data["initial_mean"] = tuple(data["initial_mean"])
        return cls(**data)
