"""Results declared as fields (simulator.resultfields): one rule per field gives save/load bit for
bit, to_dict and to_xarray; a new field is one line, and folders saved without it still load."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from simulator.linear import LyapunovResult, lyapunov
from simulator.params import Params
from simulator.protocol import NestedResult, ResultProtocol
from simulator.resultfields import ABSENT, join, saved, split
from simulator.resultio import read_result

PAPER = Params.paper()


@dataclass(frozen=True, repr=False)
class Toy(ResultProtocol):
    """Every kind of value a result holds."""

    params: Params = saved("input", decode=Params)
    covariance: np.ndarray = saved("value", dims=("mode_i", "mode_j"), units="1")
    covariance_stderr: np.ndarray = saved("error", dims=("mode_i", "mode_j"), units="1")
    observables: dict = saved("value", dims=("time", "pair"), units="1")
    scores: dict = saved("outcome")
    flags: tuple = saved("outcome", decode=tuple)
    reference: LyapunovResult = saved("reference", decode=LyapunovResult)
    nested: ResultProtocol | None = saved("reference", default=None, codec=NestedResult(
        lambda: {"LyapunovResult": LyapunovResult}))
    status: str = saved("outcome", default="ok")
    message: str = saved("outcome", default="")

    _file_name = "toy"


@dataclass(frozen=True, repr=False)
class ToyWithEscapes(Toy):
    """The same result with one more field: the one line a new field costs."""

    escapes: dict | None = saved("outcome", default=None)


def _toy(cls=Toy, **extra):
    rng = np.random.default_rng(5)
    ref = lyapunov(PAPER)
    return cls(params=PAPER, covariance=rng.normal(size=(6, 6)),
               covariance_stderr=np.full((6, 6), np.inf),
               observables={"log_negativity": {"r_m": rng.normal(size=3),
                                               "l_m": np.zeros(3)}},
               scores={"max_abs_z": np.float64(np.inf), "n": 3, "z": float("nan"),
                       "ok": np.bool_(True), "verdict": "agrees"},
               flags=("few_units",), reference=ref, nested=ref, **extra)


def test_split_and_join_are_inverse():
    value = {"a": np.arange(3.0), "b": {"c": 1.5, "d": np.float64(2.0), "e": float("inf")},
             "f": None, "g": [1, 2]}
    meta, arrays = split(value, "k")
    assert set(arrays) == {"k.a", "k.b.d", "k.b.e"}
    json.dumps(meta, allow_nan=False)  # the JSON side holds only JSON
    back = join(meta, arrays, "k")
    assert back["b"]["c"] == 1.5 and type(back["b"]["d"]) is np.float64
    assert back["b"]["e"] == np.inf and back["f"] is None and back["g"] == [1, 2]
    np.testing.assert_array_equal(back["a"], value["a"])
    assert join(ABSENT, {}, "k") is ABSENT
    with pytest.raises(ValueError, match="key 'x.y' of 'k' holds arrays"):
        split({"x.y": np.zeros(2)}, "k")


def test_every_kind_of_value_round_trips_bit_for_bit(tmp_path):
    res = _toy()
    back = Toy.load(res.save(tmp_path))
    np.testing.assert_array_equal(back.covariance, res.covariance)
    assert np.isinf(back.covariance_stderr).all()
    np.testing.assert_array_equal(back.observables["log_negativity"]["r_m"],
                                  res.observables["log_negativity"]["r_m"])
    assert back.scores["max_abs_z"] == np.inf and np.isnan(back.scores["z"])
    assert type(back.scores["ok"]) is np.bool_ and back.scores["n"] == 3
    assert back.flags == ("few_units",) and back.params == PAPER
    assert isinstance(back.reference, LyapunovResult)
    np.testing.assert_array_equal(back.reference.covariance, res.reference.covariance)
    assert back.nested.provenance == res.nested.provenance
    assert back.to_dict() == res.to_dict()
    assert Toy.fields_by_role()["error"] == ("covariance_stderr",)


def test_to_xarray_follows_the_declared_dims_and_units():
    pytest.importorskip("xarray")
    ds = _toy().to_xarray()
    assert ds["covariance"].dims == ("mode_i", "mode_j")
    assert ds["covariance_stderr"].attrs["units"] == "1"
    assert ds["log_negativity"].dims == ("time", "pair")
    assert list(ds["pair"].values) == ["r_m", "l_m"]


def test_a_new_field_is_one_line_and_old_folders_still_load(tmp_path):
    meta, arrays = read_result(_toy().save(tmp_path / "old"), "toy")  # before the field existed
    back = ToyWithEscapes._from_saved(meta, arrays)
    assert back.escapes is None and back.flags == ("few_units",)
    new = _toy(ToyWithEscapes, escapes={"count": 3, "times": np.array([1.0, 2.5])})
    again = ToyWithEscapes.load(new.save(tmp_path / "new"))
    assert again.escapes["count"] == 3
    np.testing.assert_array_equal(again.escapes["times"], [1.0, 2.5])


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="role 'answer' is not one of"):
        saved("answer")
