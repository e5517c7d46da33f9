"""Command line: wgmsim lyapunov text and JSON output, errors, unstable points."""

import json
import subprocess
import sys

import numpy as np
import pytest

from simulator.cli import main


def run_json(capsys, *args):
    assert main(["lyapunov", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_at_immune_point(capsys):
    d = run_json(capsys)
    assert d["stable"] is True
    assert d["log_negativity"]["r_m"] == pytest.approx(0.1597, abs=5e-5)
    assert d["log_negativity"]["l_m"] == pytest.approx(0.0, abs=1e-9)
    assert len(d["covariance"]) == 6 and all(len(row) == 6 for row in d["covariance"])
    assert d["photon_number"]["r"] == pytest.approx(3.58e9, rel=0.01)
    assert d["coupling"]["r"] == pytest.approx(0.61, abs=0.005)
    assert set(d["steering"]) == {"r->m", "m->r", "l->m", "m->l", "r->l", "l->r"}
    assert len(d["eigenvalues"]) == 6 and all(len(e) == 2 for e in d["eigenvalues"])
    assert d["params"]["beta"] == pytest.approx(0.39269908)
    for key in ("transmission", "phonon_number", "purity"):
        assert isinstance(d[key], float)


def test_set_keys_with_units(capsys):
    ideal = run_json(capsys, "--set", "eps=0", "--set", "eta=0", "--set", "detuning=0.85Gamma")
    assert ideal["log_negativity"]["r_m"] == pytest.approx(0.1597, abs=5e-5)
    d = run_json(capsys, "--set", "beta=0.3", "--set", "power=10mW", "--set", "temperature=0.1 K",
                 "--set", "damping=rwa", "--set", "eta=1.0-0.05jGamma")
    assert d["params"]["power"] == 0.01 and d["params"]["damping"] == "rwa"
    assert d["params"]["eta"][1] == pytest.approx(-0.05 * 0.6 * 63e6)


def test_unstable_point_is_a_result(capsys):
    d = run_json(capsys, "--set", "detuning=-3Gamma")
    assert d["stable"] is False and d["covariance"] is None and d["log_negativity"] is None
    assert max(e[0] for e in d["eigenvalues"]) > 0
    assert main(["lyapunov", "--set", "detuning=-3Gamma"]) == 0
    out = capsys.readouterr().out
    assert "UNSTABLE" in out and "+7.1254e-02" in out


def test_params_file(tmp_path, capsys):
    f = tmp_path / "p.toml"
    f.write_text("power = 0.01\n")
    d = run_json(capsys, "--params", str(f))
    assert d["params"]["power"] == 0.01


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "mass=-1kg"], "mass = -1.0"),
        (["--set", "mass=-1"], "mass needs a unit: --set mass=-1kg or =-1e12ng"),
        (["--set", "detuning=-1.15"],
         "detuning needs a unit: --set detuning=-1.15Gamma or =-4.347e7/s"),
        (["--set", "power=3K"], "power = '3K': 'K' is a unit of temperature"),
        (["--set", "power=3 parsec"], "unknown unit 'parsec'; power is a power, allowed units: W"),
        (["--set", "colour=3"], "unknown key"),
        (["--set", "power"], "expected KEY=VALUE"),
        (["--set", "m=2.5"], "integer"),
        (["--set", "damping=ohmic"], "brownian"),
        (["--set", "power=1+2jW"], "must be real"),
    ],
)
def test_bad_input_exits_2_with_message(capsys, args, message):
    assert main(["lyapunov", *args]) == 2
    assert message in capsys.readouterr().err


def test_readable_output(capsys):
    assert main(["lyapunov"]) == 0
    out = capsys.readouterr().out
    assert "E_N: CW-mech 0.1597" in out and "stable" in out


def test_console_entry_point_module():
    out = subprocess.run([sys.executable, "-m", "simulator", "lyapunov", "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["stable"] is True


def test_lyapunov_second_order_text_and_json(capsys):
    assert main(["lyapunov", "--second-order", "--set", "g0=0.1Gamma",
                 "--set", "G=0.6096omega_m"]) == 0
    out = capsys.readouterr().out
    assert "= -0.231" in out and "= -0.493" in out
    assert "2.13x the quantum shift" in out
    assert "E_N CCW-mech" not in out.split("second order")[1]  # the dark mode: no shift
    assert main(["lyapunov", "--second-order", "--json"]) == 0
    so = json.loads(capsys.readouterr().out)["second_order"]
    assert np.array(so["covariance_shift"]).shape == (6, 6)
    assert so["log_negativity_shift"]["r_m"] / so["g0_over_Gamma"] ** 2 == pytest.approx(
        -0.2314, rel=1e-3)
    assert set(so["twa"]) == {"covariance_shift", "log_negativity_shift", "steering_shift",
                              "mean_shift"}
    assert main(["lyapunov", "--second-order", "--json", "--set", "detuning=-3Gamma"]) == 0
    assert json.loads(capsys.readouterr().out)["second_order"] is None


def test_attractors_json_finds_the_coexisting_cycle(capsys):
    """Issue 17's done-when: the smallest stable cycle within 25 % of the measured 66.6 sigma_q
    (G0/Gamma = 0.1, |G_r| = 0.6096 omega_m, rwa, Dt = 0.85 Gamma)."""
    d = run_json(capsys, "--attractors", "--set", "g0=0.1Gamma", "--set", "G=0.6096omega_m",
                 "--set", "damping=rwa")
    items = d["attractors"]
    assert items[0]["kind"] == "fixed_point" and items[0]["stable"] is True
    assert items[0]["photons"]["r"] == pytest.approx(d["photon_number"]["r"])
    stable = [a for a in items[1:] if a["kind"] == "limit_cycle" and a["stable"]]
    assert stable and stable[0]["q_max"] == pytest.approx(66.6, rel=0.25)
    assert stable[0]["period"] == pytest.approx(6.29, abs=0.01)
    assert 35.0 < d["basin"]["radius"] < stable[0]["q_max"]
    assert d["attractor_search"]["coexisting"] is True


def test_attractors_text_and_unstable_point(capsys):
    assert main(["lyapunov", "--attractors", "--set", "detuning=-3Gamma"]) == 0
    out = capsys.readouterr().out
    assert "UNSTABLE" in out and "no attractor search" in out
    d = run_json(capsys, "--attractors", "--set", "detuning=-3Gamma")
    assert d["attractors"][0] == {"kind": "fixed_point", "stable": False, "q_max": 0.0,
                                  "period": None, "photons": d["photon_number"]}
    assert d["basin"] is None
