"""Every result's ``to_xarray()`` is netCDF: ``Dataset.to_netcdf`` writes it (netCDF3 through
SciPy, no extra library) and ``xarray.open_dataset`` reads back an identical dataset, with a
``units`` attribute on every numeric variable and coordinate, complex arrays as (real, imag)
pairs and attribute names netCDF accepts."""

import re
import warnings

import numpy as np
import pytest

from simulator import (Params, SDEOptions, find_attractors, lyapunov, second_order, simulate_sde,
                       sweep)
from simulator.config import apply_changes
from simulator.master import EvolveOptions, evolve_master
from simulator.protocol import COMPLEX_DIM, complex_values
from simulator.sde import RingupOptions, simulate_ringup

xr = pytest.importorskip("xarray")

PAPER = Params.paper()
TINY_SDE = SDEOptions(n_traj=16, chunk_size=8, dt=0.1, t_burn=20.0, t_avg=40.0, batch_time=10.0,
                      keep_trajectories=2, keep_every=50)


def _lossy_sweep():
    """A complex swept field (lossy nanoparticle) on an axis: a complex index coordinate."""
    return sweep(PAPER, eigenvalues=True, eta=(np.linspace(0.5, 1.5, 4) - 0.05j) * PAPER.Gamma)


BUILDERS = {
    "LyapunovResult": lambda: lyapunov(PAPER),
    "SweepResult": lambda: sweep(PAPER, eigenvalues=True,
                                 detuning=np.linspace(-3.0, 2.0, 7) * PAPER.Gamma),
    "SweepResult-complex": _lossy_sweep,
    "SDEResult": lambda: simulate_sde(PAPER, TINY_SDE, seed=2),
    "SDEResult-control": lambda: simulate_sde(
        PAPER, TINY_SDE.replace(keep_trajectories=0, control_variate=True), seed=2),
    "RingupResult": lambda: simulate_ringup(PAPER, RingupOptions(
        n_traj=16, chunk_size=8, dt=0.1, t_final=10.0, output_every=5.0), seed=1),
    "SecondOrderResult": lambda: second_order(PAPER,
                                              detuning=np.array([-1.15, -3.0]) * PAPER.Gamma),
    "AttractorsResult": lambda: find_attractors(apply_changes(
        PAPER, {"g0": "0.1Gamma", "G": "0.6096omega_m", "damping": "rwa"})),
    "MasterResult": None,  # a three-mode steady state (conftest.steady_state), below
    "MasterTrajectory": lambda: evolve_master(
        PAPER.replace(temperature=1e-3, power=5e-3), np.linspace(0.0, 1.0, 3),
        options=EvolveOptions(store_states=True, check_truncation=False)),
    "ValidationResult": None,  # the session's paper-point validation (conftest.paper_validation)
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def result(request, steady_state):
    if request.param == "MasterResult":
        # a misplaced nanoparticle: three tensor factors; in a cold bath at 5 mW its lab-basis
        # state is 725 x 725 (at the paper's 200 mK and 30 mW: 2408 x 2408, 3 s more to write)
        return steady_state(PAPER.replace(beta=0.3, temperature=1e-3, power=5e-3))
    if request.param == "ValidationResult":
        return request.getfixturevalue("paper_validation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny ensembles: few statistical units
        return BUILDERS[request.param]()


def test_every_result_type_is_covered():
    from simulator.protocol import ResultProtocol

    names = {k.split("-")[0] for k in BUILDERS}
    assert len(names) == 9  # the seven of issue 20, SecondOrderResult and AttractorsResult
    import simulator.master
    import simulator.sde
    import simulator.attractors
    import simulator.second_order
    import simulator.validate  # noqa: F401  (every result class defined)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    assert {c.__name__ for c in subclasses(ResultProtocol)
            if c.__module__.startswith("simulator.")} == names  # not the tests' own


@pytest.mark.parametrize("engine", ["scipy", None])
def test_netcdf_round_trip_is_identical(result, engine, tmp_path):
    ds = result.to_xarray()
    path = tmp_path / "result.nc"
    ds.to_netcdf(path, engine=engine)
    with xr.open_dataset(path, engine=engine) as back:
        back.load()
    xr.testing.assert_identical(ds, back)
    assert back.attrs["wgmsim_type"] == type(result).__name__


def test_every_numeric_variable_and_coordinate_has_units(result):
    ds = result.to_xarray()
    missing = [name for name, var in ds.variables.items()
               if var.dtype.kind in "biufc" and not var.attrs.get("units")]
    assert not missing, f"{type(result).__name__}: no units on {missing}"
    if type(result).__name__ != "AttractorsResult":  # the only result without a covariance
        assert ds["covariance" if "covariance" in ds else "lyapunov_covariance"].attrs["units"] \
            == "1"
    for name in ("time", "sample_time", "trajectory_times"):
        if name in ds.variables:
            assert ds[name].attrs["units"] == "1/omega_m"


def test_attribute_names_are_netcdf_names(result):
    ds = result.to_xarray()
    names = list(ds.attrs) + [a for v in ds.variables.values() for a in v.attrs]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", a) for a in names), names


def test_complex_arrays_are_real_imag_pairs(result):
    ds = result.to_xarray()
    encoded = [k for k, v in ds.variables.items() if COMPLEX_DIM in v.dims and k != COMPLEX_DIM]
    assert not any(np.iscomplexobj(v.values) for v in ds.variables.values())
    if type(result).__name__ in ("LyapunovResult", "MasterResult", "MasterTrajectory",
                                 "ValidationResult"):
        assert encoded  # eigenvalues or density matrices
    for k in encoded:
        assert "complex_encoding" in ds[k].attrs
    if type(result).__name__ == "LyapunovResult":
        np.testing.assert_array_equal(complex_values(ds["eigenvalues"]), result.eigenvalues)
    if "eta_value" in ds.coords:
        np.testing.assert_array_equal(complex_values(ds["eta_value"]), result.grid["eta"])
        assert ds["eta_value"].attrs["units"] == "s-1"


def test_complex_values_refuses_a_real_variable():
    ds = lyapunov(PAPER).to_xarray()
    with pytest.raises(ValueError, match="covariance.*last dimension 'complex'"):
        complex_values(ds["covariance"])


def test_summary_attribute_names():
    attrs = lyapunov(PAPER).to_xarray().attrs
    assert attrs["E_N_r_m"] == pytest.approx(0.1597, abs=1e-4)
    assert attrs["detuning_over_Gamma"] == pytest.approx(-1.15)
