"""ValidationResult on the result protocol: the engines' results nested (arrays under prefixes),
saved and reloaded bit for bit, JSON, xarray, provenance."""

import json

import numpy as np
import pytest

from simulator.validate import ValidationResult


@pytest.fixture(scope="module")
def result(paper_validation):
    return paper_validation  # every leg (conftest)


def test_validation_result_round_trip(result, tmp_path):
    import qutip

    assert result.master is not None and result.sde is not None
    result.save(tmp_path)
    back = ValidationResult.load(tmp_path)
    a, b = result._arrays(), back._arrays()
    assert set(a) == set(b) and "sde.unit_s2" in a and "lyapunov.A" in a
    assert any(k.startswith("master.") for k in a)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert json.dumps(back._meta(), default=str) == json.dumps(result._meta(), default=str)
    assert back.provenance == result.provenance
    assert back.sde.provenance == result.sde.provenance
    assert back.verdicts == result.verdicts and back.options == result.options
    for c, d in zip(result.comparisons, back.comparisons):
        assert [r.quantity for r in c.rows] == [r.quantity for r in d.rows]
        np.testing.assert_array_equal([r.score for r in c.rows], [r.score for r in d.rows])
    np.testing.assert_array_equal(back.master.state.full(), result.master.state.full())
    prov = json.loads(json.dumps(result.to_dict(), allow_nan=False))["provenance"]
    assert prov["versions"]["qutip"] == qutip.__version__ and prov["seeds"] == result.sde.seeds
    r = repr(result)
    assert "\n" not in r and len(r) < 400 and r.startswith("ValidationResult(")
    assert "<table>" in result._repr_html_()


def test_validation_result_to_xarray(result):
    pytest.importorskip("xarray")
    ds = result.to_xarray()
    assert ds["sde_covariance"].dims == ("mode_i", "mode_j")
    np.testing.assert_array_equal(ds["sde_covariance"].values, result.sde.covariance)
    np.testing.assert_array_equal(ds["lyapunov_covariance"].values, result.lyapunov.covariance)
    assert ds["sde_unit_s2"].dims == ("sde_unit", "mode_i", "mode_j")
