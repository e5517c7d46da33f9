"""Master-equation engine (QuTiP): the only part of wgmsim that imports qutip.

* :func:`solve_master` -- steady state with automatic Fock cutoffs (:class:`MasterOptions`,
  :class:`MasterResult`).
* :func:`evolve_master` -- time evolution with ``qutip.mesolve`` (:class:`EvolveOptions`,
  :class:`MasterTrajectory`).
* :mod:`simulator.master.operators` -- the displaced-frame Hamiltonian, the Lindblad and
  Caldeira-Leggett dissipators, normal-mode bases and the Sylvester preconditioner.
"""

from .common import BudgetSpent, TruncationError, moments
from .evolve import EvolveOptions, MasterTrajectory, evolve_master
from .steady import STEADY_METHODS, MasterOptions, MasterResult, solve_master
from .operators import williamson

__all__ = [
    "STEADY_METHODS", "EvolveOptions", "MasterOptions", "MasterResult", "MasterTrajectory",
    "BudgetSpent", "TruncationError", "evolve_master", "moments", "solve_master", "williamson",
]
