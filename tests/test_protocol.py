"""The result protocol (simulator.protocol) on every result type that carries it: save/load bit
for bit with a checksum, JSON-safe to_dict, to_xarray with named dimensions, provenance, short
repr; the master-equation states; covariance_xxpp."""

import json
import math

import numpy as np
import pytest
import qutip

from simulator import Params, lyapunov, sweep
from simulator.compare import Estimate, compare
from simulator.conventions import covariance_xxpp
from simulator.errors import ResultFileError
from simulator.linear import LyapunovResult
from simulator.master import (EvolveOptions, MasterOptions, MasterResult, MasterTrajectory,
                              evolve_master, solve_master)
from simulator.master.common import moments
from simulator.master.operators import build_space
from simulator.protocol import complex_values
from simulator.sweep import SweepResult
from simulator.validate import master_estimate, reference_scalars

xr = pytest.importorskip("xarray")

PAPER = Params.paper()
COLD = PAPER.replace(temperature=1e-3, power=5e-3)
VERSION_KEYS = {"python", "wgmsim", "numpy", "scipy", "qutip", "joblib", "matplotlib"}


@pytest.fixture(scope="module")
def master(steady_state):
    return steady_state(PAPER)


@pytest.fixture(scope="module")
def master_defect(steady_state):
    """A misplaced nanoparticle: the CCW mode couples, three tensor factors. In the cold bath
    at 5 mW (test_netcdf's three-mode result, the same cached object and lab-basis state): a
    725 x 725 lab-basis state, 0.1 s, where the paper's 200 mK and 30 mW give 2408 x 2408, 1.2 s."""
    return steady_state(PAPER.replace(beta=0.3, temperature=1e-3, power=5e-3))


@pytest.fixture(scope="module")
def trajectory():
    return evolve_master(COLD, np.linspace(0.0, 1.0, 3),
                         options=EvolveOptions(store_states=True, check_truncation=False))


def assert_round_trip(res, tmp_path):
    """save/load gives the same arrays bit for bit, the same metadata and provenance."""
    res.save(tmp_path)
    back = type(res).load(tmp_path)
    a, b = res._arrays(), back._arrays()
    assert set(a) == set(b)
    for k in a:
        assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)
    assert json.dumps(back._meta(), default=str) == json.dumps(res._meta(), default=str)
    assert back.provenance == res.provenance
    return back


def assert_protocol(res, tmp_path):
    back = assert_round_trip(res, tmp_path)
    text = json.dumps(res.to_dict(), allow_nan=False)
    prov = json.loads(text)["provenance"]
    assert VERSION_KEYS <= set(prov["versions"])
    assert prov["versions"]["qutip"] == qutip.__version__
    assert prov["timestamp"] and prov["params"]["power"] == res.params.power
    assert {"options", "seeds", "platform"} <= set(prov)
    r = repr(res)
    assert "\n" not in r and len(r) < 400 and "array" not in r
    assert r.startswith(type(res).__name__ + "(")
    assert "<table>" in res._repr_html_()
    ds = res.to_xarray()
    assert ds.attrs["wgmsim_type"] == type(res).__name__
    json.loads(ds.attrs["wgmsim"])
    return back, ds


def test_tampered_or_foreign_folder_is_refused(tmp_path):
    res = lyapunov(PAPER)
    res.save(tmp_path)
    with pytest.raises(ResultFileError, match="sweep.json: missing"):
        SweepResult.load(tmp_path)
    for ext in ("json", "npz"):  # a valid folder of another type under the sweep's file names
        (tmp_path / f"sweep.{ext}").write_bytes((tmp_path / f"lyapunov.{ext}").read_bytes())
    with pytest.raises(ResultFileError, match="holds a 'LyapunovResult', not a SweepResult"):
        SweepResult.load(tmp_path)
    path = tmp_path / "lyapunov.npz"
    data = bytearray(path.read_bytes())
    data[-30] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ResultFileError, match="checksum mismatch"):
        LyapunovResult.load(tmp_path)


# ---- LyapunovResult -----------------------------------------------------------------------------
def test_lyapunov_protocol(tmp_path):
    res = lyapunov(PAPER)
    back, ds = assert_protocol(res, tmp_path)
    assert back.observables == res.observables and back.params == res.params
    assert back.log_negativity["r_m"] == res.log_negativity["r_m"]
    assert ds["covariance"].dims == ("mode_i", "mode_j")
    np.testing.assert_array_equal(ds["covariance"].sel(mode_i="q", mode_j="p").values,
                                  res.covariance[4, 5])
    np.testing.assert_array_equal(complex_values(ds["eigenvalues"]), res.eigenvalues)
    assert "E_N[r_m]=0.1597" in repr(res)


def test_unstable_lyapunov_round_trip(tmp_path):
    res = lyapunov(PAPER.replace(detuning=-3.0 * PAPER.Gamma))
    assert not res.stable
    back, _ = assert_protocol(res, tmp_path)
    assert back.covariance is None and not back.stable
    with pytest.raises(ValueError, match="unstable"):
        res.to_estimate()


def test_lyapunov_estimate_agrees_with_itself():
    res = lyapunov(PAPER)
    est = res.to_estimate()
    assert isinstance(est, Estimate)
    assert est.scalars == reference_scalars(res)
    comp = compare(res.covariance, reference_scalars(res), est)
    assert comp.agrees and comp.max_abs_score == 0.0


# ---- SweepResult --------------------------------------------------------------------------------
def test_sweep_repr_is_small_and_protocol_holds(tmp_path):
    res = sweep(PAPER, detuning=np.linspace(-3.0, 2.0, 400) * PAPER.Gamma)
    assert len(repr(res)) < 200  # was 106 kB (every array printed)
    assert "400" in repr(res) and "stable=" in repr(res)
    back, ds = assert_protocol(res, tmp_path)
    assert np.isnan(back.covariance).any()  # NaN (unstable) points survive bit for bit
    assert ds["covariance"].dims == ("detuning", "mode_i", "mode_j")
    np.testing.assert_array_equal(ds["detuning"].values, res.grid["detuning"])
    np.testing.assert_array_equal(ds["log_negativity"].sel(pair="r_m").values,
                                  res.log_negativity["r_m"])
    np.testing.assert_array_equal(ds["steering"].sel(direction="m->r").values,
                                  res.steering["m->r"])
    np.testing.assert_array_equal(ds["stable"].values, res.stable)


def test_sweep_meshgrid_axes_are_named_after_the_swept_fields(tmp_path):
    d, b = np.meshgrid(np.linspace(-2.0, 1.0, 5) * PAPER.Gamma, np.linspace(0.0, 1.0, 4),
                       indexing="ij")
    res = sweep(PAPER, eigenvalues=True, detuning=d, beta=b)
    back, ds = assert_protocol(res, tmp_path)
    assert ds["log_negativity"].dims == ("detuning", "beta", "pair")
    np.testing.assert_array_equal(ds["beta"].values, b[0])
    np.testing.assert_array_equal(ds["max_real_eigenvalue"].values, res.max_real_eigenvalue)
    assert res.covariance_xxpp().shape == (5, 4, 6, 6)
    # a field swept along no single axis keeps its own name on a 2-d coordinate
    res2 = sweep(PAPER, detuning=d + 1e5 * b)
    assert res2.to_xarray()["covariance"].dims == ("axis_0", "axis_1", "mode_i", "mode_j")


# ---- MasterResult -------------------------------------------------------------------------------
def test_master_normal_mode_state_reproduces_the_covariance(master):
    rho = master.normal_mode_state
    assert isinstance(rho, qutip.Qobj) and rho.isherm
    assert abs(rho.tr() - 1.0) < 1e-12
    assert rho.dims == [list(master.cutoffs), list(master.cutoffs)]
    ops = master.quadrature_operators(normal_modes=True)
    assert list(ops) == ["X_r", "Y_r", "q", "p"]  # no CCW factor without scatterers
    names = list(ops)
    idx = [("X_r", "Y_r", "X_l", "Y_l", "q", "p").index(n) for n in names]
    mean = np.array([qutip.expect(ops[n], rho) for n in names]).real
    for a, i in zip(names, idx):
        for b, j in zip(names, idx):
            v = qutip.expect(0.5 * (ops[a] * ops[b] + ops[b] * ops[a]), rho).real
            assert abs(v - mean[names.index(a)] * mean[names.index(b)]
                       - master.covariance[i, j]) < 1e-10
    np.testing.assert_allclose(master.covariance[2:4, 2:4], 0.5 * np.eye(2), atol=0)


@pytest.mark.parametrize("which", ["immune", "defect"])
def test_master_state_is_in_the_lab_fock_basis(which, master, master_defect):
    """A QuTiP user's b = destroy(N) on MasterResult.state gives the covariance's phonon number
    (issue 20: the normal-mode state gave 0.388 against 0.393)."""
    res = master if which == "immune" else master_defect
    rho, ops = res.state, res.operators
    assert list(ops) == (["a_r", "b"] if which == "immune" else ["a_r", "a_l", "b"])
    assert rho.dims[0] == [op.dims[0][k] for k, op in enumerate(ops.values())]
    assert (1.0 - rho.tr().real) * max(rho.dims[0]) <= 0.5 * res.truncation_error
    b = ops["b"]
    assert b.dims == rho.dims and b == qutip.tensor(
        *[qutip.qeye(n) for n in rho.dims[0][:-1]], qutip.destroy(rho.dims[0][-1]))
    V, mean = res.covariance, res.mean
    n_cov = 0.5 * (V[4, 4] + V[5, 5] - 1.0) + 0.5 * (mean[4] ** 2 + mean[5] ** 2)
    n_qutip = qutip.expect(b.dag() * b, rho)
    assert abs(n_qutip - n_cov) < res.truncation_error
    a = ops["a_r"]
    assert abs(qutip.expect(a.dag() * a, rho) - 0.5 * (V[0, 0] + V[1, 1] - 1.0)) \
        < res.truncation_error
    # the normal-mode state is not that: the 0.388 vs 0.393 at the paper's point
    normal_b = qutip.destroy(res.cutoffs[-1])
    n_normal = qutip.expect(normal_b.dag() * normal_b, res.normal_mode_state.ptrace(
        len(res.cutoffs) - 1))
    if which == "immune":
        assert abs(n_normal - n_cov) > 3 * res.truncation_error
    # the quadratures on the lab state reproduce the covariance within the truncation error
    quads = res.quadrature_operators()
    q, p = quads["q"], quads["p"]
    assert abs(qutip.expect(q * q, rho) - V[4, 4]) < res.truncation_error
    assert abs(qutip.expect(0.5 * (q * p + p * q), rho) - V[4, 5]) < res.truncation_error
    assert res.state is rho  # computed once


def test_master_state_in_the_physical_fock_basis(master):
    cut = (10, 16)
    rho = master.fock_state(cut)
    assert rho.dims == [list(cut), list(cut)]
    assert abs(rho.tr() - 1.0) < 1e-6
    _, V = moments(build_space(master.modes, "fock", cut, master.covariance), rho.full())
    # the same state up to the normal-basis truncation the engine reports
    assert np.abs(V - master.covariance).max() < master.truncation_error
    # its physical-mode marginals are those of the covariance: e.g. the mechanical phonon number
    n_m = qutip.expect(qutip.num(cut[1]), rho.ptrace(1))
    assert abs(n_m - (0.5 * (V[4, 4] + V[5, 5]) - 0.5)) < 1e-6  # top-level truncation of q^2


def test_master_fock_basis_state_needs_no_transform():
    res = solve_master(COLD, options=MasterOptions(basis="fock", cutoffs=(4, 6)))
    assert res.fock_state((4, 6)) is res.normal_mode_state is res.state
    with pytest.raises(ValueError, match="already in the physical Fock basis"):
        res.fock_state((5, 6))


def test_master_protocol(master, tmp_path):
    back, ds = assert_protocol(master, tmp_path)
    assert isinstance(back.state, qutip.Qobj) and back.state.dims == master.state.dims
    np.testing.assert_array_equal(back.normal_mode_state.full(), master.normal_mode_state.full())
    np.testing.assert_array_equal(back.state.full(), master.state.full())  # deterministic
    assert back.lyapunov.covariance is not None
    np.testing.assert_array_equal(back.lyapunov.covariance, master.lyapunov.covariance)
    np.testing.assert_array_equal(complex_values(ds["state"]), master.state.full())
    np.testing.assert_array_equal(complex_values(ds["normal_mode_state"]),
                                  master.normal_mode_state.full())
    assert json.loads(ds["state"].attrs["qutip_dims"]) == master.state.dims
    np.testing.assert_array_equal(ds["covariance"].values, master.covariance)
    assert back.history == master.history and back.options == master.options


def test_master_estimate_carries_the_truncation_error(master):
    est = master.to_estimate()
    assert est.engine == "master" and est.error_kind == "truncation"
    np.testing.assert_array_equal(est.covariance_err, np.full((6, 6), master.truncation_error))
    assert est.scalars["E_N[r_m]"] == pytest.approx(master.log_negativity["r_m"], abs=1e-15)
    # the E_N error is the first-order propagation of the element-wise bound on the covariance:
    # it bounds what the last cutoff round actually changed E_N by (|dV_ij| <= the bound there)
    hist = master.history
    assert len(hist) >= 2 and hist[-1]["change"] <= master.truncation_error
    last_change = abs(hist[-1]["log_negativity_r_m"] - hist[-2]["log_negativity_r_m"])
    assert 0 < last_change <= est.scalars_err["E_N[r_m]"], (last_change, est.scalars_err)
    comp = compare(master.lyapunov.covariance, reference_scalars(master.lyapunov), est)
    assert comp.agrees, comp.verdict
    assert master_estimate(master).scalars == est.scalars


# ---- MasterTrajectory ---------------------------------------------------------------------------
def test_trajectory_states_reproduce_the_covariances(trajectory, tmp_path):
    assert len(trajectory.states) == len(trajectory.t)
    space = build_space(trajectory.modes, "fock", trajectory.cutoffs, 0.5 * np.eye(6))
    for rho, V in zip(trajectory.states, trajectory.covariance):
        assert abs(rho.tr() - 1.0) < 1e-6
        assert np.abs(moments(space, rho.full())[1] - V).max() < 1e-10
    b = trajectory.operators["b"]
    assert list(trajectory.operators) == ["a_r", "b"] and b.dims == trajectory.states[0].dims
    n_t = [qutip.expect(b.dag() * b, rho) for rho in trajectory.states]
    # <b^dag b> = (V_qq + V_pp - 1)/2 + (<q>^2 + <p>^2)/2, but in a Fock space cut at N the
    # truncated (q^2 + p^2)/2 is b^dag b + 1/2 - (N/2)|N-1><N-1|: the covariance misses N/2 times
    # the top level's population (the truncation error of the quadratures)
    n_b = trajectory.cutoffs_of_states[-1]
    top = np.array([rho.ptrace(1).diag()[-1].real for rho in trajectory.states])
    mean = trajectory.mean
    n_cov = trajectory.occupation["m"] + 0.5 * (mean[:, 4] ** 2 + mean[:, 5] ** 2)
    np.testing.assert_allclose(n_t, n_cov + 0.5 * n_b * top, atol=1e-10)
    assert np.all(0.5 * n_b * top < 1e-4)
    back, ds = assert_protocol(trajectory, tmp_path)
    assert ds["covariance"].dims == ("time", "mode_i", "mode_j")
    np.testing.assert_array_equal(ds["time"].values, trajectory.t)
    np.testing.assert_array_equal(complex_values(ds["states"])[-1],
                                  trajectory.states[-1].full())
    assert back.states[1].dims == trajectory.states[1].dims


def test_trajectory_keeps_no_states_by_default(tmp_path):
    tr = evolve_master(COLD, np.linspace(0.0, 0.5, 2),
                       options=EvolveOptions(check_truncation=False))
    assert tr.states is None
    back, _ = assert_protocol(tr, tmp_path)
    assert back.states is None
    with pytest.raises(ValueError, match="store_states"):
        EvolveOptions(store_states=1)


# ---- covariance_xxpp ----------------------------------------------------------------------------
def test_covariance_xxpp_of_a_two_mode_squeezed_vacuum():
    """S2(r) = exp(r (a^dag b^dag - a b)) |00>: a -> a cosh r + b^dag sinh r, so in thewalrus'
    hbar = 2 convention V_xx = [[cosh 2r, sinh 2r], [sinh 2r, cosh 2r]] and V_pp the same with
    -sinh 2r (thewalrus.symplectic.two_mode_squeezing(r, 0) @ its transpose)."""
    n, r = 16, 0.3
    a = qutip.tensor(qutip.destroy(n), qutip.qeye(n))
    b = qutip.tensor(qutip.qeye(n), qutip.destroy(n))
    psi = (r * (a.dag() * b.dag() - a * b)).expm() * qutip.tensor(qutip.basis(n, 0),
                                                                   qutip.basis(n, 0))
    quads = [(a + a.dag()) / math.sqrt(2), 1j * (a.dag() - a) / math.sqrt(2),
             (b + b.dag()) / math.sqrt(2), 1j * (b.dag() - b) / math.sqrt(2)]
    V = np.array([[qutip.expect(0.5 * (x * y + y * x), psi).real for y in quads] for x in quads])
    c, s = math.cosh(2 * r), math.sinh(2 * r)
    expected = np.array([[c, s, 0, 0], [s, c, 0, 0], [0, 0, c, -s], [0, 0, -s, c]])
    np.testing.assert_allclose(covariance_xxpp(V), expected, atol=1e-10)
    np.testing.assert_allclose(covariance_xxpp(V, hbar=1.0), expected / 2, atol=1e-10)


def test_covariance_xxpp_orders_and_scales_every_element():
    V = np.random.default_rng(3).normal(size=(6, 6))
    W = covariance_xxpp(V, hbar=3.0)
    order = ["X_r", "X_l", "q", "Y_r", "Y_l", "p"]
    ours = ["X_r", "Y_r", "X_l", "Y_l", "q", "p"]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert W[i, j] == 3.0 * V[ours.index(a), ours.index(b)]
    with pytest.raises(ValueError, match="hbar"):
        covariance_xxpp(V, hbar=0.0)
    with pytest.raises(ValueError, match="shape"):
        covariance_xxpp(np.eye(5))


def test_gaussian_results_give_covariance_xxpp(master, trajectory):
    res = lyapunov(PAPER)
    np.testing.assert_array_equal(res.covariance_xxpp(), covariance_xxpp(res.covariance))
    np.testing.assert_array_equal(master.covariance_xxpp(1.0),
                                  covariance_xxpp(master.covariance, 1.0))
    assert trajectory.covariance_xxpp().shape == (3, 6, 6)
    # vacuum optics: hbar/2 on the x_l, p_l diagonal
    assert master.covariance_xxpp()[1, 1] == 1.0 and master.covariance_xxpp()[4, 4] == 1.0
