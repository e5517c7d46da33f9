"""Result folders: checksums over arrays and metadata together, atomic writes, provenance."""

import json

import numpy as np
import pytest

from simulator.errors import ResultFileError
from simulator.resultio import read_result, versions, write_result


def test_round_trip_is_bit_equal(tmp_path):
    x = np.random.default_rng(1).normal(size=(4, 6, 6))
    write_result(tmp_path, "r", {"a": 1.5, "nested": {"b": [1, 2]}}, {"x": x, "skip": None})
    meta, arrays = read_result(tmp_path, "r")
    assert meta["a"] == 1.5 and meta["nested"] == {"b": [1, 2]}
    assert set(arrays) == {"x"}
    np.testing.assert_array_equal(arrays["x"], x)
    assert not list(tmp_path.glob(".*.tmp"))


def test_changed_metadata_is_refused(tmp_path):
    write_result(tmp_path, "r", {"a": 1.5}, {"x": np.zeros(3)})
    path = tmp_path / "r.json"
    meta = json.loads(path.read_text())
    meta["a"] = 1.6
    path.write_text(json.dumps(meta))
    with pytest.raises(ResultFileError, match="r.json.*checksum mismatch"):
        read_result(tmp_path, "r")


def test_arrays_from_another_save_are_refused(tmp_path):
    write_result(tmp_path / "one", "r", {"a": 1}, {"x": np.zeros(3)})
    write_result(tmp_path / "two", "r", {"a": 1}, {"x": np.ones(3)})
    (tmp_path / "one" / "r.npz").write_bytes((tmp_path / "two" / "r.npz").read_bytes())
    with pytest.raises(ResultFileError, match="checksum mismatch"):
        read_result(tmp_path / "one", "r")


@pytest.mark.parametrize("damage", ["missing_npz", "empty_json", "binary_json", "no_checksum"])
def test_damaged_folders_are_refused_naming_the_file(tmp_path, damage):
    write_result(tmp_path, "r", {"a": 1}, {"x": np.zeros(3)})
    if damage == "missing_npz":
        (tmp_path / "r.npz").unlink()
    elif damage == "empty_json":
        (tmp_path / "r.json").write_text("")
    elif damage == "binary_json":
        (tmp_path / "r.json").write_bytes(b"\x00\xff\xfe")
    else:
        (tmp_path / "r.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(ResultFileError, match=r"r\.(json|npz)"):
        read_result(tmp_path, "r")


def test_versions_name_every_dependency():
    v = versions()
    for dist in ("python", "wgmsim", "numpy", "scipy", "qutip", "joblib", "matplotlib"):
        assert v[dist] and v[dist] != "not installed"


def test_versions_read_once_and_a_fresh_dict_each_call():
    """The package metadata is read once per process (every result asks for it); a caller
    that edits its copy changes no later result's record."""
    from importlib import metadata

    first = versions()
    assert first["numpy"] == metadata.version("numpy") and first["python"]
    first["numpy"] = "edited"
    assert versions()["numpy"] == metadata.version("numpy")
