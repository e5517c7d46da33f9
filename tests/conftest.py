"""Shared fixtures: parameter points used across the test modules."""

import numpy as np
import pytest

from simulator import Params


@pytest.fixture
def paper() -> Params:
    """The paper's immune point (eps = eta = Gamma, beta = pi/8, Dt = 0.85 Gamma)."""
    return Params.paper()


@pytest.fixture
def ideal() -> Params:
    """No scatterers, at the paper's optimal detuning Delta = 0.85 Gamma."""
    p = Params.paper(defects=(), eta=0.0)
    return p.replace(detuning=0.85 * p.Gamma)


@pytest.fixture
def defect() -> Params:
    """A defect and a misplaced nanoparticle (beta = 0.3), where CW and CCW couple."""
    return Params.paper(beta=0.3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
