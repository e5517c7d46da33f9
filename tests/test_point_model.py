"""``PointModel``: the model's drift at one point in scalar arithmetic, bit for bit the
broadcasting functions of ``simulator.model`` (a mean-field path calls it 10^4 times)."""

import numpy as np
import pytest

from simulator import Params
from simulator.model import Rates, drift_matrix_about, mean_field, nonlinear_drift
from simulator.point_model import PointModel

PAPER = Params.paper()
G = PAPER.Gamma
POINTS = {
    "paper": PAPER,
    "rwa": PAPER.replace(damping="rwa"),
    "lossy": PAPER.replace(defects=(((1 - 0.1j) * G, 0.2), ((0.3 - 0.05j) * G, 1.1)),
                           eta=(0.8 - 0.2j) * G, beta=-0.1),
}


@pytest.mark.parametrize("name", sorted(POINTS))
def test_same_bits_as_the_broadcasting_functions(name):
    rates = Rates.from_params(POINTS[name])
    assert (name == "lossy") == (rates.gamma_J > 0 and rates.loss_12 != 0)
    bare = float(mean_field(rates).bare_detuning)
    point = PointModel(rates, bare)
    rng = np.random.default_rng(5)
    for _ in range(300):
        u = rng.normal(size=6) * 10.0 ** rng.uniform(-3, 3)
        scale = float(rng.uniform())
        for wigner in (True, False):
            expected = nonlinear_drift(rates, u, bare, drive_scale=scale, wigner_correction=wigner)
            got = point.nonlinear_drift(u, drive_scale=scale, wigner_correction=wigner)
            assert got.shape == (6,) and got.tobytes() == expected.tobytes()
        assert point.drift_matrix(u).tobytes() == drift_matrix_about(rates, u, bare).tobytes()


def test_refuses_a_grid():
    rates = Rates.from_params(PAPER, power=np.array([0.01, 0.02]))
    with pytest.raises(ValueError, match="single point"):
        PointModel(rates, 0.0)
