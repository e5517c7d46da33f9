"""Time-domain engine: nonlinear truncated-Wigner Langevin equations (paper Eq. 3) as SDEs.

* :func:`simulate_sde` -> :class:`SDEResult`: stationary covariance, E_N and steering with error
  bars from an ensemble, compared with the Lyapunov solution.
* :class:`SDEOptions`: how the ensemble is run (method, step, times, chunks, initial state).
* :class:`LangevinSystem`, :func:`fluctuation_system`: the SDE ``dx = (A x + N(x)) dt + dW``
  (``A`` constant, or ``A(t)`` with ``drift_at``).
* :data:`METHODS` and the integrators (``euler``, ``exponential``, ``sra1``), for both.
* :func:`simulate_ringup` -> :class:`RingupResult`: the transient from an empty cavity against
  the linearised covariance equation, on the same integrators, chunk loop, seeding,
  checkpoints and estimators as :func:`simulate_sde` (a time-dependent system, time-resolved
  sums).
* :func:`estimate_run`, :func:`estimate_ringup`: the engine's plan of a run (schedule, workers,
  memory and time) before any work.

* :class:`EnsembleProblem` and :func:`run_ensemble`: the one driver under both (and under the
  step-size check and the ``dt="auto"`` pilot); the record (:class:`Moments`, :class:`Paths`,
  :class:`PairedMoments`, with a control-variate ``shadow``) says what each chunk keeps.

With ``control_variate`` both report the controlled estimate as the headline and keep the plain
one in ``plain``. The pipeline, one module per job: ``problem``, ``records``, ``chunk`` (the loop
and its :class:`~simulator.sde.chunk.Kernel`), ``parallel`` (the driver), ``scheduling``,
``checkpoints``, ``resources``, ``plan``, ``summary``, ``estimators``, ``control`` (see
:mod:`simulator.sde.ensemble`).

Both results follow the result protocol (:mod:`simulator.protocol`).
"""

from .engine import build_system, estimate_run, simulate_sde
from .checkpoints import ChunkResult
from .parallel import run_chunks, run_ensemble
from .problem import EnsembleProblem
from .records import Moments, PairedMoments, Paths
from .scheduling import schedule
from .integrators import METHODS, SRA1, EulerMaruyama, ExponentialEuler, Integrator, make_integrator
from .options import SDEOptions
from .result import SDEResult
from .ringup import RingupOptions, RingupResult, estimate_ringup, simulate_ringup
from .system import LangevinSystem, OptomechanicalRemainder, UnstableSystemError, fluctuation_system

__all__ = [
    "simulate_sde", "estimate_run", "estimate_ringup", "build_system", "SDEOptions", "SDEResult", "ChunkResult", "run_chunks",
    "schedule", "METHODS", "Integrator", "EulerMaruyama", "ExponentialEuler", "SRA1",
    "make_integrator", "LangevinSystem", "OptomechanicalRemainder", "UnstableSystemError",
    "fluctuation_system", "simulate_ringup", "RingupOptions", "RingupResult",
    "EnsembleProblem", "run_ensemble", "Moments", "Paths", "PairedMoments",
]
