"""Numbers with units: every unit, every key, the same Params from --set, TOML and Python."""

import math

import pytest

from simulator import Params
from simulator.cli import build_parser
from simulator.cli.common import params_from_args
from simulator.config import apply_changes, read_params
from simulator.params import ParameterError
from simulator.units import UNITS, UnitError, parse_quantity, parse_text

P = Params.paper()
GAMMA, OM = P.Gamma, P.omega_m
TWO_PI = 2 * math.pi


@pytest.mark.parametrize("text, key, expected", [
    ("1W", "power", 1.0), ("30mW", "power", 0.03), ("30 mW", "power", 0.03),
    ("5uW", "power", 5e-6), ("7nW", "power", 7e-9), ("2 µW", "power", 2e-6),
    ("1K", "temperature", 1.0), ("200mK", "temperature", 0.2), ("3uK", "temperature", 3e-6),
    ("-7.2e7/s", "detuning", -7.2e7), ("5 s^-1", "gamma_m", 5.0), ("5 1/s", "gamma_m", 5.0),
    ("10Hz", "omega_m", 10 * TWO_PI), ("10 MHz", "omega_m", 1e7 * TWO_PI),
    ("3kHz", "gamma_m", 3e3 * TWO_PI), ("2GHz", "kappa_0", 2e9 * TWO_PI),
    ("194THz", "omega_c", 194e12 * TWO_PI),
    ("-1.15Gamma", "detuning", -1.15 * GAMMA), ("0.3 omega_m", "kappa_0", 0.3 * OM),
    ("1e-5*omega_m", "gamma_m", 1e-5 * OM),
    ("1kg", "mass", 1.0), ("10g", "mass", 1e-2), ("2mg", "mass", 2e-6), ("3ug", "mass", 3e-9),
    ("10ng", "mass", 1e-11),
    ("1m", "radius", 1.0), ("1.1mm", "radius", 1.1e-3), ("50um", "radius", 5e-5),
    ("400nm", "radius", 4e-7),
    ("0.3rad", "beta", 0.3), ("0.3", "beta", 0.3), ("22.5deg", "beta", math.pi / 8),
    ("0.125pi", "beta", math.pi / 8), ("4", "m", 4.0),
    ("1-0.05jGamma", "eta", (1 - 0.05j) * GAMMA), ("(1-0.05j) Gamma", "eta", (1 - 0.05j) * GAMMA),
    ("(1-0.05j)*Gamma", "eps", (1 - 0.05j) * GAMMA), ("2jGamma", "eps", 2j * GAMMA),
    ("3.78e7-1e6j/s", "eta", 3.78e7 - 1e6j), (".5e-1 W", "power", 0.05), ("0", "power", 0.0),
])
def test_parse_quantity(text, key, expected):
    value = parse_quantity(text, key, Gamma=GAMMA, omega_m=OM)
    assert value == pytest.approx(expected, rel=1e-15, abs=0)


@pytest.mark.parametrize("text, key, message", [
    ("3K", "power", "power = '3K': 'K' is a unit of temperature; power is a power, allowed "
                    "units: W mW uW nW"),
    ("3 furlong", "radius", "unknown unit 'furlong'; radius is a length, allowed units: m mm"),
    ("1mW", "detuning", "'mW' is a unit of power"),
    ("0.03", "power", "power = '0.03': a number needs a unit; allowed units: W mW uW nW"),
    ("1+2jW", "power", "must be real"),
    ("lots", "power", "power = 'lots': not a number"),
    ("1omega_m", "omega_m", "omega_m cannot be given relative to omega_m"),
    ("0.5Gamma", "kappa_0", "kappa_0 cannot be given in units of Gamma"),
    ("3deg", "detuning", "'deg' is a unit of angle"),
    ("1 W", "m", "allowed units: none"),
])
def test_refused_units_name_key_value_and_allowed(text, key, message):
    with pytest.raises(UnitError) as info:
        parse_quantity(text, key, Gamma=GAMMA, omega_m=OM)
    assert message in str(info.value)


def test_relative_unit_needs_its_reference():
    with pytest.raises(UnitError, match="the value of Gamma is needed"):
        parse_quantity("1Gamma", "eta")
    assert parse_text("1Gamma", "eta").relative == "Gamma"


def test_every_unit_is_reachable():
    for dimension, units in UNITS.items():
        for unit in units:
            q = parse_text(f"2 {unit}", dimension)
            assert q.unit == unit and q.number == 2.0


# ---- the same Params from --set, a TOML string and Python ----------------------------------------
def from_cli(*settings):
    args = build_parser().parse_args(["lyapunov", *[a for s in settings for a in ("--set", s)]])
    return params_from_args(args)


def from_toml(tmp_path, **values):
    f = tmp_path / "p.toml"
    f.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()))
    return read_params(f)


CASES = [
    ("power", "10 mW"), ("temperature", "50mK"), ("detuning", "-1Gamma"),
    ("detuning", "-3.5e7/s"), ("detuning", "0.2omega_m"), ("eta", "1-0.05jGamma"),
    ("eta", "(0.5-0.1j) Gamma"), ("eps", "0.7Gamma"), ("beta", "0.25pi"), ("beta", "10deg"),
    ("beta", "0.3"), ("mass", "20ng"), ("radius", "0.5mm"), ("omega_m", "10MHz"),
    ("gamma_m", "1e-4omega_m"), ("omega_c", "1.2e15/s"), ("kappa_0", "0.2omega_m"),
    ("kappa_ex", "5MHz"), ("m", "3"), ("damping", "rwa"), ("g0", "0.01Gamma"),
    ("G", "0.5omega_m"),
]


def python_value(key, text):
    """What a Python user writes: parse_quantity against the base point, then replace."""
    if key == "damping":
        return P.replace(damping=text)
    if key == "m":
        return P.replace(m=int(text))
    value = parse_quantity(text, key, Gamma=P.Gamma, omega_m=P.omega_m)
    if key == "eps":
        return P.replace(defects=((value, P.defects[0][1]),))
    if key in ("g0", "G"):
        return apply_changes(P, {key: value})  # numbers are SI here
    return P.replace(**{key: value})


@pytest.mark.parametrize("key, text", CASES)
def test_same_params_everywhere(tmp_path, key, text):
    cli = from_cli(f"{key}={text}")
    assert cli == from_toml(tmp_path, **{key: text})
    assert cli == apply_changes(P, {key: text})
    assert cli != P
    assert _close(cli, python_value(key, text))


def _close(a: Params, b: Params) -> bool:
    da, db = a.to_dict(), b.to_dict()
    da.pop("derived"), db.pop("derived")
    flat = lambda d: [x for v in d.values() for x in (_flat(v))]  # noqa: E731
    return all(x == y if isinstance(x, str) else x == pytest.approx(y, rel=1e-14)
               for x, y in zip(flat(da), flat(db)))


def _flat(v):
    if isinstance(v, dict):
        return [x for w in v.values() for x in _flat(w)]
    if isinstance(v, list):
        return [x for w in v for x in _flat(w)]
    return [v]


def test_gamma_resolves_against_the_parameters_being_built(tmp_path):
    """kappa_0 set in the same command changes Gamma, whatever the order on the line."""
    for order in (("detuning=-1Gamma", "kappa_0=0.5omega_m"),
                  ("kappa_0=0.5omega_m", "detuning=-1Gamma")):
        p = from_cli(*order)
        assert p.kappa_0 == 0.5 * OM and p.detuning == pytest.approx(-0.8 * OM, rel=1e-15)
    q = from_cli("omega_m=50e6/s", "kappa_ex=0.3omega_m", "eta=2Gamma")
    assert q.kappa_ex == pytest.approx(0.3 * 50e6) and q.eta == pytest.approx(2 * q.Gamma)
    f = tmp_path / "p.toml"
    f.write_text('eta = "2Gamma"\nkappa_0 = "0.5omega_m"\n')
    assert read_params(f).eta == pytest.approx(2 * (0.5 + 0.3) * OM)


@pytest.mark.parametrize("setting, hint", [
    ("detuning=-1.15", "detuning needs a unit: --set detuning=-1.15Gamma or =-4.347e7/s"),
    ("eta=1-0.05j", "eta needs a unit: --set eta=(1-0.05j)Gamma or =(3.78e7-1.89e6j)/s"),
    ("power=0.03", "power needs a unit: --set power=0.03W or =30mW"),
    ("temperature=0.2", "--set temperature=0.2K or =200mK"),
    ("gamma_m=630", "--set gamma_m=630/s or =1e-5omega_m"),
    ("omega_m=6.3e7", "--set omega_m=6.3e7/s or =1.003e7Hz"),
    ("radius=1.1e-3", "--set radius=0.0011m or =1.1mm"),
    ("G=0.61", "--set G=0.61omega_m or =3.843e7/s"),
    ("g0=0.05", "--set g0=0.05Gamma or =1.89e6/s"),
])
def test_bare_number_on_the_command_line_is_refused_with_both_spellings(setting, hint):
    with pytest.raises(ParameterError) as info:
        from_cli(setting)
    assert hint in str(info.value)


def test_toml_numbers_are_si_and_strings_need_a_unit(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("detuning = -4.347e7\npower = 0.01\n")
    p = read_params(f)
    assert p.detuning == -4.347e7 and p.power == 0.01
    f.write_text('detuning = "-1.15"\n')
    with pytest.raises(ParameterError, match="detuning needs a unit.*TOML number without quotes "
                                             "is read in SI units"):
        read_params(f)
    f.write_text('power = "3K"\n')
    with pytest.raises(ParameterError, match=r"'K' is a unit of temperature.*\(in .*p.toml\)"):
        Params.from_toml(f)


def test_defects_with_units_in_toml(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[[defects]]\neps = "1Gamma"\nbeta = "0deg"\n'
                 '[[defects]]\neps = "0.2-0.01jGamma"\nbeta = "0.25pi"\n')
    p = Params.from_toml(f)
    assert p.defects == ((P.Gamma, 0.0), ((0.2 - 0.01j) * P.Gamma, math.pi / 4))


def test_conflicting_keys_refused():
    with pytest.raises(ParameterError, match="g0 and mass"):
        from_cli("g0=0.01Gamma", "mass=1ng")
    with pytest.raises(ParameterError, match="G and power"):
        from_cli("G=0.5omega_m", "power=1mW")
    with pytest.raises(ParameterError, match="G: .*needs the mean field"):
        Params.from_mapping({"G": "0.5omega_m"})


def test_angles_in_pi_and_deg_are_reduced_by_whole_turns_exactly():
    assert parse_quantity("1e20pi", "beta") == 0.0
    assert parse_quantity("2.125pi", "beta") == parse_quantity("0.125pi", "beta")
    assert parse_quantity("-360.5deg", "beta") == parse_quantity("-0.5deg", "beta")
    assert parse_quantity("1.5pi", "beta") == 1.5 * math.pi  # within a turn: unchanged


def test_params_refuse_an_angle_a_float_cannot_hold():
    Params(beta=1e5)  # rounding error of 2 m beta ~ 6e-11 rad: accepted
    with pytest.raises(ParameterError, match=r"beta = 1e\+20 rad: too large"):
        Params(beta=1e20)
    with pytest.raises(ParameterError, match=r"defects\[0\]\.beta"):
        Params(defects=((1e7, 1e16),))


def test_sweep_refuses_an_angle_a_float_cannot_hold():
    import numpy as np

    from simulator import sweep

    with pytest.raises(ParameterError, match=r"beta \(in a sweep\) = 1e\+20 rad"):
        sweep(Params.paper(), beta=np.array([0.1, 1e20]))
