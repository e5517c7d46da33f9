"""wgmsim: time-domain stochastic and linearised simulator for WGM cavity optomechanics.

Public API (see the README for conventions and units):

* :class:`Params` -- SI parameters, paper defaults (``Params.paper()``), TOML loading.
* :class:`Rates`, :func:`mean_field`, :func:`drift_matrix`, :func:`diffusion_matrix`,
  :func:`nonlinear_drift`, :func:`transmission` -- the model in units of ``omega_m``.
* :func:`fixed_points` -- every mean-field fixed point at a bare detuning (multistability).
* :func:`lyapunov`, :func:`solve_lyapunov`, :func:`covariance_evolution` -- linearised engine.
* :func:`find_attractors` -- limit cycles of the classical equations coexisting with the fixed
  point, and the fixed point's basin edge (:mod:`simulator.attractors`).
* :func:`sweep` -- vectorised grids of the linearised steady state.
* :func:`second_order` -- the exact ``O(G0^2)`` nonlinear correction, quantum and truncated
  Wigner, batched over grids.
* :func:`simulate_sde`, :func:`simulate_ringup` -- truncated-Wigner SDE ensembles of the
  nonlinear Langevin equations (stationary statistics and ring-up transients).
* :mod:`simulator.observables` -- log-negativity, steering, purity, occupations.
* :func:`solve_master`, :func:`evolve_master` -- QuTiP master-equation engine
  (:mod:`simulator.master`, imported on first use so that ``import simulator`` stays light).
"""

from .attractors import AttractorOptions, AttractorsResult, find_attractors
from .conventions import MODES, PAIRS, QUADRATURES, VACUUM_VARIANCE
from .fixed_points import FixedPoints, fixed_points
from .linear import (
    CovarianceTrajectory,
    LyapunovResult,
    covariance_evolution,
    is_stable,
    lyapunov,
    lyapunov_residual,
    routh_hurwitz_stable,
    solve_lyapunov,
)
from .model import (
    MeanField,
    Rates,
    diffusion_matrix,
    drift_matrix,
    drift_matrix_along,
    mean_field,
    nonlinear_drift,
    transmission,
)
from .observables import log_negativity, steering
from .params import ParameterError, Params
from .sde import (
    LangevinSystem,
    RingupOptions,
    RingupResult,
    SDEOptions,
    SDEResult,
    UnstableSystemError,
    simulate_ringup,
    simulate_sde,
)
from .second_order import SecondOrderResult, SecondOrderShift, second_order
from .sweep import SweepResult, sweep

__version__ = "0.1.0"

_MASTER_EXPORTS = (
    "EvolveOptions", "MasterOptions", "MasterResult", "MasterTrajectory", "TruncationError",
    "evolve_master", "solve_master",
)


def __getattr__(name: str):
    """Lazy access to the master-equation engine (the only module importing qutip)."""
    if name in _MASTER_EXPORTS:
        from . import master

        return getattr(master, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


__all__ = [
    "MODES", "PAIRS", "QUADRATURES", "VACUUM_VARIANCE",
    "FixedPoints", "fixed_points",
    "AttractorOptions", "AttractorsResult", "find_attractors",
    "CovarianceTrajectory", "LyapunovResult", "covariance_evolution", "is_stable", "lyapunov",
    "lyapunov_residual", "routh_hurwitz_stable", "solve_lyapunov",
    "MeanField", "Rates", "diffusion_matrix", "drift_matrix", "drift_matrix_along", "mean_field",
    "nonlinear_drift", "transmission",
    "log_negativity", "steering",
    "ParameterError", "Params",
    "SweepResult", "sweep",
    "SecondOrderResult", "SecondOrderShift", "second_order",
    "LangevinSystem", "RingupOptions", "RingupResult", "SDEOptions", "SDEResult",
    "UnstableSystemError", "simulate_ringup", "simulate_sde",
    "__version__",
    *_MASTER_EXPORTS,
]

