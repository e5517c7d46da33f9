"""Parameters: paper values, derived quantities, validation, TOML loading."""

import math
import tomllib

import numpy as np
import pytest

from simulator import ParameterError, Params
from simulator.conventions import HBAR, K_B


def test_paper_derived_values(paper):
    # Numbers quoted in PHYSICS.md, computed independently here from the formulas.
    assert paper.G0 == pytest.approx(453.77, abs=0.01)
    assert paper.n_m == pytest.approx(415.12, abs=0.01)
    assert paper.Gamma == pytest.approx(0.6 * paper.omega_m)
    g0 = 1.22e15 / 1.1e-3 * math.sqrt(HBAR / (1e-11 * 63e6))
    assert paper.G0 == pytest.approx(g0, rel=1e-12)
    # k_B T >> hbar omega_m: n_m close to the classical k_B T / (hbar omega_m) - 1/2
    assert paper.n_m == pytest.approx(K_B * 0.2 / (HBAR * 63e6) - 0.5, rel=1e-4)
    e = math.sqrt(2 * paper.kappa_ex) * math.sqrt(0.03 / (HBAR * (1.22e15 - paper.detuning)))
    assert paper.drive_amplitude == pytest.approx(e, rel=1e-12)


def test_immune_angle_cancels_backscattering(paper):
    # J1 = eps + eta exp(-2 i m beta) vanishes at beta = pi/8 + n pi/4 for eta = eps, m = 4.
    for n in range(-2, 3):
        p = paper.replace(beta=math.pi / 8 + n * math.pi / 4)
        assert abs(p.J1) < 1e-9 * p.Gamma and abs(p.J2) < 1e-9 * p.Gamma
    p = paper.replace(beta=0.3)
    assert abs(p.J1) > 0.1 * p.Gamma
    # real scatterers: Hermitian coupling J2 = conj(J1)
    assert p.J2 == pytest.approx(p.J1.conjugate())
    assert paper.Delta_J == pytest.approx(2 * paper.Gamma)


def test_several_defects_and_lossy_scatterer():
    g = Params.paper().Gamma
    p = Params.paper(defects=((0.5 * g, 0.1), (1.5 * g - 0.1j * g, 0.7)), eta=0.3 * g - 0.05j * g)
    m, b = 4, p.beta
    j1 = 0.5 * g * np.exp(-2j * m * 0.1) + (1.5 * g - 0.1j * g) * np.exp(-2j * m * 0.7)
    j1 += (0.3 * g - 0.05j * g) * np.exp(-2j * m * b)
    assert p.J1 == pytest.approx(j1)
    assert p.Delta_J == pytest.approx(0.5 * g + 1.5 * g + 0.3 * g)
    assert p.J2 != pytest.approx(p.J1.conjugate())  # lossy: non-Hermitian


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("mass", -1.0, "mass = -1.0"),
        ("radius", 0.0, "> 0"),
        ("temperature", -0.1, ">= 0"),
        ("gamma_m", float("nan"), "gamma_m"),
        ("kappa_0", -3.0, "kappa_0"),
        ("kappa_ex", 0.0, "kappa_ex"),
        ("power", float("inf"), "power"),
        ("m", 0, "integer >= 1"),
        ("m", 2.5, "m = 2.5"),
        ("m", True, "m = True"),
        ("omega_m", "63e6", "omega_m = '63e6': a string needs a unit"),
        ("power", "3 K", "'K' is a unit of temperature"),
        ("detuning", None, "detuning"),
        ("eta", "big", "eta"),
        ("damping", "ohmic", "brownian"),
        ("defects", ((1.0,),), "defects[0]"),
        ("defects", ((1.0, float("nan")),), "defects[0].beta"),
    ],
)
def test_invalid_values_name_field_and_range(field, value, fragment):
    with pytest.raises(ParameterError) as exc:
        Params.paper(**{field: value})
    assert field.split("[")[0] in str(exc.value)
    assert fragment in str(exc.value)


def test_strings_with_units_in_python():
    """Params(...) and replace take the command line's unit strings; the fields hold SI."""
    p = Params(power="30 mW", detuning="-1.15Gamma")
    assert p == Params.paper() and p.power == 0.03 and isinstance(p.detuning, float)
    q = p.replace(temperature="50 mK", beta="0.125pi", eta="1-0.05jGamma", power="10mW")
    assert q.temperature == 0.05 and q.beta == pytest.approx(math.pi / 8)
    assert q.eta == pytest.approx((1 - 0.05j) * p.Gamma) and q.power == 0.01
    assert q == Params.from_mapping({"temperature": "50 mK", "beta": "0.125pi",
                                     "eta": "1-0.05jGamma", "power": "10mW"})
    # Gamma and omega_m are those of the set being built, whatever the keyword order
    r = p.replace(detuning="-1Gamma", kappa_0="0.1omega_m", omega_m="5 MHz")
    assert r.omega_m == pytest.approx(2 * math.pi * 5e6)
    assert r.kappa_0 == pytest.approx(0.1 * r.omega_m)
    assert r.detuning == pytest.approx(-(r.kappa_0 + r.kappa_ex))
    d = Params(defects=[("0.5Gamma", "0deg"), {"eps": "0.2Gamma", "beta": "40deg"}], m="4")
    assert d.defects[1] == pytest.approx((0.2 * d.Gamma, math.radians(40)))
    assert d.m == 4 and d.damping == "brownian"


@pytest.mark.parametrize("changes, fragment", [
    ({"detuning": "-1.15"}, "detuning = '-1.15': a string needs a unit"),
    ({"power": "30 K"}, "power = '30 K': 'K' is a unit of temperature; power is a power, "
                        "allowed units: W mW uW nW"),
    ({"omega_m": "1Gamma"}, "omega_m = '1Gamma': omega_m cannot be given relative"),
    ({"kappa_0": None, "detuning": "1Gamma"}, "Gamma needs kappa_0 and kappa_ex"),
])
def test_bad_unit_strings_name_the_field_and_the_units(changes, fragment):
    with pytest.raises(ParameterError) as exc:
        Params.paper().replace(**changes)
    assert fragment in str(exc.value)


def test_unknown_key_refused():
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) \['powr'\]"):
        Params.from_mapping({"powr": 1.0})
    with pytest.raises(TypeError):
        Params(powr=1.0)


def test_frozen(paper):
    with pytest.raises(AttributeError):
        paper.power = 1.0


def test_toml_roundtrip(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        "power = 0.01\ntemperature = 0.05\neta = [3.0e7, -1.0e6]\nbeta = 0.3\ndamping = 'rwa'\n"
        "[[defects]]\neps = 3.78e7\nbeta = 0.0\n[[defects]]\neps = [1.0e7, -2.0e5]\nbeta = 0.5\n"
    )
    p = Params.from_toml(path)
    assert p.power == 0.01 and p.temperature == 0.05 and p.damping == "rwa"
    assert p.eta == complex(3.0e7, -1.0e6)
    assert p.defects == ((3.78e7 + 0j, 0.0), (complex(1.0e7, -2.0e5), 0.5))
    bad = tmp_path / "bad.toml"
    bad.write_text("power = -1\n")
    with pytest.raises(ParameterError, match="power"):
        Params.from_toml(bad)
    bad.write_text("power = \n")
    with pytest.raises(ParameterError, match="not valid TOML"):
        Params.from_toml(bad)


def test_to_dict_is_json_ready(paper):
    import json

    d = json.loads(json.dumps(paper.to_dict()))
    assert d["m"] == 4 and d["derived"]["n_m"] == pytest.approx(paper.n_m)
    assert Params.from_mapping({k: v for k, v in d.items() if k not in ("derived", "defects")}
                               | {"defects": [(complex(*x["eps"]), x["beta"]) for x in d["defects"]]}
                               ) == paper
    assert Params.from_dict(d) == paper


# ---- TOML round trip (Params.to_toml) -------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    Params.paper(),
    Params.paper(defects=(), eta=0.0, temperature=0.0, damping="rwa"),
    Params.paper(defects=((3.1e7 - 2e5j, 0.1), (1e7, 0.7), (-2e6 - 1j, -1.3)),
                 eta=3.78e7 - 1e6j, beta=0.3, power=1.234567890123e-3, m=7,
                 detuning=-0.1 / 3 * 3.78e7, mass=1.0 / 3 * 1e-11),
])
def test_toml_round_trip(tmp_path, params):
    path = tmp_path / "p.toml"
    text = params.to_toml(path)
    assert Params.from_toml(path) == params
    assert text == path.read_text()
    run = tmp_path / "run.toml"
    run.write_text(params.to_toml(table="params"))
    assert tomllib.loads(run.read_text())["params"]["power"] == params.power


def test_from_mapping_changes_a_base():
    base = Params.paper(power=0.01, defects=((1e7, 0.4),))
    p = Params.from_mapping({"eps": "0.5Gamma", "temperature": "20 mK"}, base=base)
    assert p.power == 0.01 and p.temperature == pytest.approx(0.02)
    assert p.defects == ((0.5 * base.Gamma, 0.4),)
    q = Params.from_mapping({"g0": "1e-4Gamma"}, base=base)
    assert q.G0 == pytest.approx(1e-4 * base.Gamma, rel=1e-14) and q.power == 0.01
    with pytest.raises(ParameterError, match="eps: the parameters have 2 defects"):
        Params.from_mapping({"eps": 1e7}, base=Params.paper(defects=((1.0, 0.0), (2.0, 1.0))))
