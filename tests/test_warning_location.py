"""Warnings from the engines' drivers point at the user's call (their ``stacklevel``).

The drivers are split into private steps, and the warnings are emitted a few frames below the
public function: a wrong ``stacklevel`` would name a module of the package instead of this file.
"""

import warnings

import numpy as np
import pytest

from simulator import Params
from simulator.errors import PhysicalityWarning, StabilityWarning, StatisticsWarning
from simulator.master import EvolveOptions, evolve_master, solve_master
from simulator.sde import SDEOptions, simulate_sde
from simulator.sde.system import LangevinSystem

P = Params.paper()
GROW = LangevinSystem(A=[[0.3]], D=[[1.0]])
GROW_OPTS = SDEOptions(n_traj=64, chunk_size=8, dt=0.1, t_burn=0.0, t_avg=4.0, batch_time=0.5,
                       block_steps=5, initial="gaussian", initial_covariance=((1.0,),),
                       allow_unstable=True)
TINY = SDEOptions(n_traj=8, chunk_size=2, dt=0.1, t_burn=5.0, t_avg=20.0, batch_time=10.0)


def _caught(call):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        result = call()
    return result, rec


@pytest.mark.parametrize("problem, options, category", [
    (GROW, GROW_OPTS, StabilityWarning),  # unstable
    (P, TINY, StatisticsWarning),  # few_units
])
def test_sde_warnings_name_the_callers_file(problem, options, category):
    res, rec = _caught(lambda: simulate_sde(problem, options, seed=0))
    assert res.status != "ok"
    ours = [w for w in rec if issubclass(w.category, category)]
    assert ours and all(w.filename == __file__ for w in ours), [w.filename for w in ours]


def _fake_violation(V, atol, what):
    return f"fake violation of {what}"


def test_master_steady_state_warning_names_the_callers_file(monkeypatch):
    import simulator.master.steady as steady

    monkeypatch.setattr(steady, "unphysical_message", _fake_violation)
    res, rec = _caught(lambda: solve_master(P))
    assert res.status == "unphysical" and res.message.startswith("fake violation")
    ours = [w for w in rec if issubclass(w.category, PhysicalityWarning)]
    assert len(ours) == 1 and ours[0].filename == __file__, ours[0].filename


def test_master_evolution_warning_names_the_callers_file(monkeypatch):
    import simulator.master.evolve as evolve

    monkeypatch.setattr(evolve, "unphysical_message", _fake_violation)
    cold = P.replace(temperature=1e-3, power=5e-3)
    res, rec = _caught(lambda: evolve_master(cold, np.array([0.0, 0.5]),
                                             options=EvolveOptions(cutoffs=(3, 4))))
    assert res.status == "unphysical" and "t = 0" in res.message
    ours = [w for w in rec if issubclass(w.category, PhysicalityWarning)]
    assert len(ours) == 1 and ours[0].filename == __file__, ours[0].filename
