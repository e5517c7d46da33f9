"""Options of a ring-up run (:func:`simulator.sde.ringup.simulate_ringup`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .integrators import METHODS
from .options import (SDEOptions, _positive, backend_dict, check_backend, check_escape_radius,
                      check_steps)
from .scheduling import Schedule

__all__ = ["RingupOptions"]


@dataclass(frozen=True, kw_only=True)
class RingupOptions:
    """How a ring-up ensemble is run (times in ``1/omega_m``).

    Parameters
    ----------
    method : str
        Integrator, a key of :data:`~simulator.sde.integrators.METHODS` (the same table as the
        stationary engine).
    dt : float
    n_traj, chunk_size : int
        Trajectories, and trajectories per chunk (chunks fix the seeds and the error bars).
    t_final : float
        End of the run.
    output_every : float
        Time between outputs of the ensemble mean and covariance (a multiple of ``dt``).
    ramp_time : float
        Linear ramp of the drive from 0 to 1 over this time (0: switched on at ``t = 0``).
    bound : float
        Divergence bound on ``|x_k|``.
    wigner_correction : bool
    escape_radius : float, "off" or None
        Escapes from the fixed point's basin (:mod:`simulator.sde.escapes`), tested at every
        output block end from ``ramp_time + 8 / slowest rate`` on (the first test, with a
        quarter of the radius, tells settled trajectories from those not settled): ``None``
        the attractor search's basin radius, a number that Mahalanobis radius, ``"off"`` none.
        A captured trajectory is counted and left out from then on; the result reports the
        fractions captured and settled.
    control_variate : bool
        Also integrate the linearised SDE on the same noise and report the nonlinear shift
        ``V_nl(t) - V_lin(t)`` and ``dE_N(t)`` with their errors (:attr:`RingupResult.shift`);
        about 3x the work per step.
    backend : {"numpy", "jax"}
        Array library of the chunk loop, as :class:`~simulator.sde.options.SDEOptions`.
    precision : {"float64", "float32"}
        Only with ``backend="jax"``.
    """

    method: str = "exponential"
    dt: float = 0.05
    n_traj: int = 256
    chunk_size: int = 32
    t_final: float = 200.0
    output_every: float = 1.0
    ramp_time: float = 0.0
    bound: float = 1e6
    wigner_correction: bool = True
    control_variate: bool = False
    backend: str = "numpy"
    precision: str = "float64"
    escape_radius: float | str | None = None

    def __post_init__(self) -> None:
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        put("escape_radius", check_escape_radius(self.escape_radius))
        if self.method not in METHODS:
            raise ValueError(f"method = {self.method!r}: must be one of {sorted(METHODS)}")
        check_backend(self.backend, self.precision)
        for name in ("dt", "t_final", "output_every", "bound"):
            put(name, _positive(name, getattr(self, name)))
        put("ramp_time", _positive("ramp_time", self.ramp_time, allow_zero=True))
        for name in ("n_traj", "chunk_size"):
            put(name, _positive(name, getattr(self, name), integer=True))
        for name in ("wigner_correction", "control_variate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be a bool")
        for name in ("t_final", "output_every"):
            check_steps(name, getattr(self, name), self.dt)
        ratio = self.output_every / self.dt
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(f"output_every = {self.output_every!r}: must be a multiple of "
                             f"dt = {self.dt!r}")
        if self.n_outputs < 1:
            raise ValueError(f"t_final = {self.t_final!r}: shorter than output_every = "
                             f"{self.output_every!r}")

    @property
    def n_chunks(self) -> int:
        return -(-self.n_traj // self.chunk_size)

    @property
    def steps_per_output(self) -> int:
        return int(round(self.output_every / self.dt))

    @property
    def n_outputs(self) -> int:
        """Output times after ``t = 0`` (the last one at or before ``t_final``)."""
        return int(np.floor(self.t_final / self.output_every + 1e-9))

    def to_dict(self) -> dict[str, Any]:
        """Field values (``backend``/``precision`` left out at their defaults)."""
        return backend_dict(dataclasses.asdict(self))

    def sde_options(self, initial: str = "thermal") -> SDEOptions:
        """The same run in the stationary engine's terms (what the chunk loop reads)."""
        every = self.steps_per_output
        return SDEOptions(method=self.method, dt=self.dt, n_traj=self.n_traj,
                          chunk_size=self.chunk_size, t_burn=0.0,
                          t_avg=self.n_outputs * every * self.dt, batch_time=every * self.dt,
                          sample_every=every, initial=initial, bound=self.bound,
                          wigner_correction=self.wigner_correction, allow_unstable=True,
                          backend=self.backend, precision=self.precision)

    def schedule(self) -> Schedule:
        """Time-resolved schedule: the initial state and one sample every ``output_every``."""
        every = self.steps_per_output
        return Schedule(dt=self.dt, n_burn=0, n_batches=self.n_outputs, steps_per_batch=every,
                        samples_per_batch=1, sample_every=every, n_chunks=self.n_chunks,
                        bound=self.bound, correlation_time=None, record_initial=True)
