"""Fixed points at a given bare detuning: consistency with Eq. 10, multistability."""

import numpy as np
import pytest

from simulator import Params, Rates, fixed_points, lyapunov, nonlinear_drift


@pytest.mark.parametrize("damping", ["brownian", "rwa"])
def test_bare_detuning_of_explicit_solution_is_recovered(paper, damping):
    p = paper.replace(damping=damping, beta=0.3)
    res = lyapunov(p)
    fp = fixed_points(p, float(res.mean_field.bare_detuning))
    assert len(fp.points) == 1 and not fp.multiple and fp.stable == (True,)
    assert fp.effective_detunings[0] == pytest.approx(p.detuning / p.omega_m, abs=1e-9)


def test_high_power_has_three_fixed_points_each_a_zero_of_the_drift():
    p = Params.paper(defects=(), eta=0.0, power=0.3)
    fp = fixed_points(p, 2.5)
    assert fp.multiple and len(fp.points) == 3
    # the middle branch of the S-curve is always unstable
    assert fp.stable[1] is False
    r = Rates.from_params(p)
    for mf in fp.points:
        f = nonlinear_drift(r, mf.vector(), 2.5, wigner_correction=False)
        assert np.max(np.abs(f)) < 1e-8 * np.max(np.abs(mf.vector()))
        assert float(mf.bare_detuning) == pytest.approx(2.5, abs=1e-8)
    qs = [float(mf.q) for mf in fp.points]
    assert qs == sorted(qs)


def test_low_power_single_root(paper):
    fp = fixed_points(paper.replace(power=1e-6), 0.3)
    assert len(fp.points) == 1


def test_bistable_is_a_deprecated_alias_of_multiple():
    fp = fixed_points(Params.paper(defects=(), eta=0.0, power=0.3), bare_detuning=2.5)
    with pytest.warns(DeprecationWarning, match="multiple"):
        assert fp.bistable is fp.multiple is True
