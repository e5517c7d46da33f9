"""The ensemble problem: what the one driver runs.

``EnsembleProblem(system, options, record, schedule)`` is everything a chunk needs: the system
``dx = (A(t) x + N(x)) dt + dW`` (:class:`~simulator.sde.system.LangevinSystem`), the options
(integrator, step, trajectories and chunks, the initial state ``options.initial``), what each
chunk keeps (:mod:`simulator.sde.records`) and the step counts and bins
(:class:`~simulator.sde.scheduling.Schedule`; default: :func:`~simulator.sde.scheduling.schedule`
of the stationary run). The stationary run, the ring-up, the step-size check, the ``dt="auto"``
pilot and control variates are problems that differ only in these fields, handed to the same
driver (:func:`simulator.sde.parallel.run_ensemble`) and the same chunk loop
(:func:`simulator.sde.chunk.run_chunk`).

With a control-variate shadow (``record.shadow``) the loop integrates the augmented system of
:mod:`simulator.sde.control` (``run_system``, ``run_options``); otherwise ``system`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .options import SDEOptions
from .records import Moments, Record
from .scheduling import Schedule, initial_moments, schedule as make_schedule
from .system import LangevinSystem

__all__ = ["EnsembleProblem"]


@dataclass(frozen=True)
class EnsembleProblem:
    """An ensemble to run: system, options, record and schedule (see the module docstring).

    Attributes
    ----------
    system : LangevinSystem
        The ``d``-variable system (the plain one with a control-variate shadow).
    options : SDEOptions
        Integrator, ``dt``, ``n_traj``, ``chunk_size``, noise blocks, initial state, kept
        trajectories.
    record : Record
        What each chunk keeps; default :class:`~simulator.sde.records.Moments`.
    schedule : Schedule, optional
        Step counts, bins and divergence bound; default: that of the stationary run of the
        integrated system.
    run_system, run_options : derived
        What the chunk loop integrates: the augmented system and its options with a shadow,
        else ``system`` and ``options``.

    Examples
    --------
    >>> from simulator import Params
    >>> from simulator.sde import fluctuation_system
    >>> from simulator.sde.records import Moments
    >>> prob = EnsembleProblem(fluctuation_system(Params.paper()), SDEOptions(n_traj=16),
    ...                        Moments(shadow=2))
    >>> prob.run_system.dim, prob.schedule.n_bins == prob.schedule.n_batches
    (18, True)
    """

    system: LangevinSystem
    options: SDEOptions = field(default_factory=SDEOptions)
    record: Record = field(default_factory=Moments)
    schedule: Schedule | None = None
    run_system: LangevinSystem = field(init=False, repr=False)
    run_options: SDEOptions = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.system, LangevinSystem):
            raise TypeError(f"system: expected LangevinSystem, got {type(self.system).__name__}")
        if not isinstance(self.options, SDEOptions):
            raise TypeError(f"options: expected SDEOptions, got {type(self.options).__name__}")
        if not isinstance(self.record, Record):
            raise TypeError(f"record: expected a Record, got {type(self.record).__name__}")
        run_system, run_options = self.system, self.options
        if self.record.shadow:
            from .control import control_options, control_system

            run_system = control_system(self.system, self.record.shadow)
            run_options = control_options(self.system, self.options, self.record.shadow)
        object.__setattr__(self, "run_system", run_system)
        object.__setattr__(self, "run_options", run_options)
        if self.schedule is None:
            object.__setattr__(self, "schedule", make_schedule(run_system, run_options))

    @property
    def initial(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``(D,)`` and covariance ``(D, D)`` of the integrated initial state (``D`` the
        dimension of ``run_system``)."""
        return initial_moments(self.run_system, self.run_options)
