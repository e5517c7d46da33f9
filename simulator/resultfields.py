"""Results declared as fields: how each dataclass field of a result is saved (issue 19).

A result class (:class:`simulator.protocol.ResultProtocol`) is a frozen dataclass; each field
is saved by one rule, so ``save``/``load``/``to_dict``/``to_xarray`` are written once, in the
protocol, and a new field is one line::

    escapes: dict | None = saved("outcome", default=None)

What a field's value becomes in the two files (:func:`split`, :func:`join`):

* an ``ndarray`` is stored bit for bit in ``NAME.npz`` under the field's key;
* a ``dict`` is split by leaf: ``ndarray`` leaves and numpy or non-finite floats (which JSON
  cannot hold exactly) go to ``NAME.npz`` under the dotted path (``lyapunov.covariance``,
  ``log_negativity.r_m``), everything else to ``NAME.json`` under the key, so a dict of
  arrays, a dict of scalars and a mix all round-trip; a numpy scalar (``np.float64``, ...) or
  a non-finite float is stored as a 0-d array and leaves ``null`` in its place in the JSON,
  and is read back as a numpy scalar (bit for bit);
* a nested result is its own ``_meta()`` under the key and its arrays under ``key.``;
* anything else (numbers, strings, lists, ``None``) is JSON; an options or parameters dataclass
  is its ``to_dict()`` (or its fields), rebuilt by the declared ``decode`` (a class: its
  ``from_dict`` or keyword construction; ``tuple``; any callable).

:func:`saved` declares the rest in the field's metadata: ``role`` (one of :data:`ROLES`: the
run's ``input``, a ``value``, its ``error``, a ``reference`` it is scored against, the run's
``outcome``, or a ``record`` of how it went), ``dims`` and ``units`` for ``to_xarray``, ``key``
(the name in the files, when a field was renamed and old files keep the old one) and
``codec`` (an object with ``encode(value, key) -> (json, arrays)`` and ``decode(meta, arrays,
key)``, for values no rule above covers, e.g. a ``qutip.Qobj``).

The same names in every result (issue 19): values ``covariance``, ``mean``, ``observables``;
errors ``<value>_stderr`` (statistical) or ``truncation_error`` (a bound); the linearised
reference ``linear_covariance`` (with ``z`` the scores against it); outcomes ``status``,
``message`` and, where several apply, ``flags``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

__all__ = ["ROLES", "Saved", "saved", "saved_fields", "split", "join", "encode_value",
           "decode_value", "ABSENT"]

#: What a field is to the result (``saved(role=...)``).
ROLES = ("input", "value", "error", "reference", "outcome", "record")
#: A field or leaf with nothing in ``NAME.json``.
ABSENT = object()


@dataclasses.dataclass(frozen=True)
class Saved:
    """How one field is saved; declared with :func:`saved` (module docstring)."""

    role: str = "record"
    dims: tuple[str, ...] | None = None
    units: str | None = None
    key: str | None = None
    decode: Callable[[Any], Any] | None = None
    codec: Any = None
    stored: bool = True
    coord: str | None = None


def saved(role: str = "record", *, dims: tuple[str, ...] | None = None, units: str | None = None,
          key: str | None = None, decode: Callable[[Any], Any] | None = None, codec: Any = None,
          stored: bool = True, coord: str | None = None, **field_kwargs: Any) -> Any:
    """A dataclass ``field`` of a result with its saving rule in ``metadata["saved"]``.

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.
    dims : tuple of str, optional
        Dimension names of the array (or of each array of a dict) in ``to_xarray``; a dict of
        arrays is stacked along a last dimension ``dims[-1]`` labelled by its keys.
    units : str, optional
        ``units`` attribute in ``to_xarray`` (CF spelling, ``omega_m``, ``1/omega_m``, ``1``).
    key : str, optional
        Name in the files (default: the field's name).
    decode : callable, optional
        Rebuilds the value from its JSON/array form (``None`` stays ``None``).
    codec : object, optional
        ``encode(value, key) -> (json, arrays)`` and ``decode(meta, arrays, key)``.
    stored : bool
        ``False`` for a field rebuilt from the others on load (``_complete``).
    coord : str, optional
        The ``to_xarray`` coordinate this field's values give (``t`` gives ``time``).
    **field_kwargs
        Passed to :func:`dataclasses.field` (``default``, ``default_factory``, ``repr``).
    """
    if role not in ROLES:
        raise ValueError(f"saved: role {role!r} is not one of {ROLES}")
    spec = Saved(role, None if dims is None else tuple(dims), units, key, decode, codec, stored,
                 coord)
    return dataclasses.field(metadata={"saved": spec}, **field_kwargs)


def saved_fields(cls: type) -> list[tuple[str, Saved]]:
    """``(field name, rule)`` of every stored field of the dataclass ``cls``, in order (a field
    without a declared rule is saved by the default one)."""
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("saved", Saved())
        if spec.stored:
            out.append((f.name, spec))
    return out


def encode_value(value: Any) -> Any:
    """An options or parameters dataclass as its ``to_dict()`` (or its fields); else ``value``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return list(value)
    return value


def decode_value(decode: Callable[[Any], Any] | None, value: Any) -> Any:
    """``value`` rebuilt by ``decode``: a dataclass type from a dict (its ``from_dict``, or its
    fields with lists made tuples), any other callable applied; ``None`` stays ``None``."""
    if decode is None or value is None:
        return value
    if isinstance(decode, type) and dataclasses.is_dataclass(decode):
        if hasattr(decode, "from_dict"):
            return decode.from_dict(value)
        return decode(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
    return decode(value)


def split(value: Any, key: str) -> tuple[Any, dict[str, np.ndarray]]:
    """``(json part or ABSENT, {dotted key: array})`` of a field's value (module docstring)."""
    if isinstance(value, np.ndarray):
        return ABSENT, {key: value}
    if isinstance(value, np.generic) or (isinstance(value, float) and not math.isfinite(value)):
        return None, {key: np.asarray(value)}  # null in JSON marks a scalar
    if isinstance(value, dict):
        meta: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for k, v in value.items():
            m, a = split(v, f"{key}.{k}")
            if a and "." in str(k):
                raise ValueError(f"split: key {k!r} of {key!r} holds arrays and has a '.', "
                                 "which the saved paths use as separator")
            arrays.update(a)
            if m is not ABSENT:
                meta[k] = m
        return meta, arrays
    return value, {}


def _leaf(meta: Any, arr: np.ndarray) -> Any:
    """A stored array, or the scalar it holds where the JSON side has ``null`` in its place."""
    return arr[()] if meta is None and arr.ndim == 0 else arr


def join(meta: Any, arrays: dict[str, np.ndarray], key: str) -> Any:
    """The inverse of :func:`split`: ``meta`` (the JSON part, or ``ABSENT``) with the arrays under
    ``key`` put back at their dotted paths; ``ABSENT`` when there is neither."""
    if key in arrays:
        return _leaf(meta, arrays[key])
    head = key + "."
    sub = {k[len(head):]: v for k, v in arrays.items() if k.startswith(head)}
    if not sub:
        return meta
    out = dict(meta) if isinstance(meta, dict) else {}
    for path, arr in sub.items():
        *parents, leaf = path.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _leaf(node.get(leaf, ABSENT), arr)
    return out
