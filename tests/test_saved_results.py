"""Folders written by an earlier wgmsim still load (issue 19): one small folder of every result
type, written by the code of commit 0032178 (``tests/data/make_saved_results.py``) before the
results' save/load were generated from their declared fields. Loading checks each checksum; the
loaded result's ``to_dict()`` equals the record the writing code gave (``expected.json``), and
saving it again and loading gives the same record."""

import json
from pathlib import Path

import pytest

from simulator.attractors import AttractorsResult
from simulator.linear import LyapunovResult
from simulator.master import MasterResult, MasterTrajectory
from simulator.sde import RingupResult, SDEResult
from simulator.second_order import SecondOrderResult
from simulator.sweep import SweepResult
from simulator.validate import ValidationResult

DATA = Path(__file__).parent / "data" / "saved_results"
TYPES = {cls.__name__: cls for cls in (LyapunovResult, SweepResult, SDEResult, RingupResult,
                                       SecondOrderResult, AttractorsResult, MasterResult,
                                       MasterTrajectory, ValidationResult)}
FOLDERS = sorted(p.name for p in DATA.iterdir() if p.is_dir())
#: Results whose ``to_dict()`` changed with the declared fields: a dict of arrays is nested
#: (``{"grid": {"detuning": [...]}}``) where it was flat (``"grid.detuning"``, with ``"grid"`` the
#: list of names).
NESTED_RECORD = {"SweepResult", "SecondOrderResult"}
#: Keys added to records and options after the folders were written, with the values an old
#: folder loads them with (issue 17's escapes and escape radius, issue 21's backend): they may
#: appear, at these values only, where the writing code had no such key.
ADDED_LATER = {"escapes": (None,), "escape_radius": (None,), "backend": (None, "numpy"),
               "precision": ("float64",)}


def _drop_added(record, expected):
    """``record`` without the :data:`ADDED_LATER` keys ``expected`` lacks (at any depth),
    asserting each holds a value an old folder may load it with."""
    if not (isinstance(record, dict) and isinstance(expected, dict)):
        return record
    out = {}
    for k, v in record.items():
        if k not in expected and k in ADDED_LATER:
            assert v in ADDED_LATER[k], (k, v)
            continue
        out[k] = _drop_added(v, expected.get(k))
    return out


def _record(res) -> dict:
    out = json.loads(json.dumps(res.to_dict(), sort_keys=True))
    out.pop("provenance")
    return out


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in record.items():
        if isinstance(v, dict) and v and prefix + k != "params":
            out.update(_flat(v, f"{prefix}{k}."))
        out[prefix + k] = v
    return out


def _assert_close(a, b, where: str) -> None:
    """``a == b`` with floats to 1e-9 relative (1e-14 absolute): values the loading code
    recomputes from stored ones (derived parameters, E_N, differences of close numbers) may
    change in the last bits with another numpy/scipy (the lowest versions CI tests); the stored
    arrays themselves load bit for bit."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}.{i}")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-14, nan_ok=True), where
    else:
        assert a == b, where


def _assert_same_record(name: str, record: dict, expected: dict) -> None:
    record = _drop_added(record, expected)
    if name.split("-")[0] not in NESTED_RECORD:
        _assert_close(record, expected, name)
        return
    flat = _flat(record)
    for k, v in expected.items():
        assert k in flat, k
        if isinstance(flat[k], dict) and not isinstance(v, dict):
            assert sorted(flat[k]) == sorted(v), k
        else:
            _assert_close(flat[k], v, k)


def test_every_result_type_has_a_saved_folder():
    assert {name.split("-")[0] for name in FOLDERS} == set(TYPES)


@pytest.mark.parametrize("name", FOLDERS)
def test_saved_folder_loads_to_the_same_record(name, tmp_path):
    cls = TYPES[name.split("-")[0]]
    res = cls.load(DATA / name)
    expected = json.loads((DATA / name / "expected.json").read_text())
    _assert_same_record(name, _record(res), expected)
    res.save(tmp_path)
    again = cls.load(tmp_path)
    _assert_same_record(name, _record(again), expected)
    assert again.provenance == res.provenance


# ---- one naming (issue 19) ----------------------------------------------------------------------
#: Errors that are bounds or diagnostics rather than the standard error of one value.
BOUNDS = {"truncation_error", "residual", "top_population", "error_check"}
#: Results of one run that can fail: each says so in ``status`` and ``message``.
RUNS = {"LyapunovResult", "SDEResult", "RingupResult", "MasterResult", "MasterTrajectory",
        "AttractorsResult"}


@pytest.mark.parametrize("cls", list(TYPES.values()), ids=list(TYPES))
def test_errors_and_outcomes_have_the_same_names_everywhere(cls):
    roles = cls.fields_by_role()
    for name in roles["error"]:
        assert name in BOUNDS or (name.endswith("_stderr")
                                  and name[:-len("_stderr")] in roles["value"]), name
    if cls.__name__ in RUNS:
        assert {"status", "message"} <= set(roles["outcome"])


@pytest.mark.parametrize("name", ["SDEResult", "SDEResult-control", "RingupResult",
                                  "MasterResult", "MasterTrajectory"])
def test_the_linear_reference_is_linear_covariance(name):
    res = TYPES[name.split("-")[0]].load(DATA / name)
    assert res.linear_covariance.shape == res.covariance.shape
    assert res.linear_covariance.shape[-2:] == (6, 6)
    if name == "MasterTrajectory":  # the old name, kept for one release
        assert res.linear is res.linear_covariance
