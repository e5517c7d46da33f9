"""Up-front memory and work estimates of master-equation time evolution, and its sub-steps
(simulator/master/budget.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import Params
from simulator.master import EvolveOptions, evolve_master
from simulator.master.budget import (PREPASS_GRACE_SECONDS, SUBSTEP, WORK_LIMIT_SECONDS,
                                     check_evolution, evolution_seconds, prepass_seconds,
                                     substeps)


def test_substeps_are_at_most_substep_apart_and_exclude_the_ends():
    assert list(substeps(0.0, SUBSTEP)) == []
    inner = list(substeps(1.0, 1.0 + 5 * SUBSTEP + 0.1))
    grid = np.array([1.0, *inner, 1.0 + 5 * SUBSTEP + 0.1])
    assert len(inner) == 5 and np.diff(grid).max() <= SUBSTEP
    assert next(substeps(0.0, 1e308)) > 0  # a generator: no array of 5e307 times


def test_memory_refused_with_the_numbers():
    with pytest.raises(ValueError, match=r"n_times = 1000000000 \(--n-times\).*GB"):
        check_evolution(10**9, 10.0, 2)


@pytest.mark.parametrize("max_time", [None, 5.0])
def test_endless_span_refused(max_time):
    with pytest.raises(ValueError, match=r"t_max = 1e\+308 \(--t-max\)"):
        check_evolution(3, 1e308, 2, max_time=max_time)


def test_work_limits_at_their_edges():
    # without a budget: the whole estimate against WORK_LIMIT_SECONDS
    span = WORK_LIMIT_SECONDS / evolution_seconds(1.0, 2)
    check_evolution(3, 0.99 * span, 2)
    with pytest.raises(ValueError, match="more than 86400 s"):
        check_evolution(3, 1.01 * span, 2)
    # with one: the pre-pass (before the first output time) against the budget, never below
    # PREPASS_GRACE_SECONDS
    pre = max(20.0, PREPASS_GRACE_SECONDS) / prepass_seconds(1.0)
    check_evolution(3, 0.99 * pre, 2, max_time=20.0)
    with pytest.raises(ValueError, match="pre-pass"):
        check_evolution(3, 1.01 * pre, 2, max_time=20.0)
    check_evolution(3, 0.5, 2, max_time=1e-9)  # a tiny run with a tiny budget: stops, not refused


def test_output_interval_longer_than_the_solver_can_take_in_one_call():
    """Output times 60 apart used to end in qutip's 'Excess work done' (an internal error):
    the solver is now advanced in sub-steps, and lands where fine output times land."""
    p = Params.paper()
    opts = EvolveOptions(cutoffs=(3, 3), check_truncation=False)
    coarse = evolve_master(p, np.array([0.0, 60.0]), initial_phonons=0.0, options=opts)
    fine = evolve_master(p, np.arange(0.0, 61.0, 2.0), initial_phonons=0.0, options=opts)
    assert np.abs(coarse.covariance[-1] - fine.covariance[-1]).max() < 1e-6


def test_budget_checked_inside_a_long_output_interval():
    p = Params.paper()
    opts = EvolveOptions(cutoffs=(10, 12), check_truncation=False, max_time=0.1)
    # the whole interval takes about 10 s at this size (0.05 s per 1/omega_m); the budget is
    # checked every SUBSTEP (about 0.1 s of solving), so the solver stops soon after 0.1 s (a
    # budget of 0.1 s tests the same check as 0.5 s, for 0.4 s less of CPU)
    res = evolve_master(p, np.array([0.0, 200.0]), initial_phonons=0.0, options=opts)
    assert res.timing["mesolve"] < 3.0
    assert res.status == "not_converged" and len(res.t) == 1


def test_direct_solve_that_would_overrun_the_budget_is_not_started():
    """A sparse-LU solve cannot be interrupted: estimated (dim^4; 133 s measured at dimension
    240) and refused before it starts when it would overrun max_time."""
    import time

    from simulator.master import BudgetSpent, MasterOptions, solve_master

    t0 = time.perf_counter()
    with pytest.raises(BudgetSpent, match=r"would be overrun at cutoffs \(8, 30\).*not started"):
        solve_master(Params.paper(), options=MasterOptions(method="direct", cutoffs=(8, 30),
                                                           max_time=10.0))
    assert time.perf_counter() - t0 < 5
