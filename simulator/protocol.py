"""One protocol for every result: save/load with a checksum, JSON, xarray, provenance, repr.

A result class is a frozen dataclass that inherits :class:`ResultProtocol` (declared with
``@dataclass(frozen=True, repr=False)`` so that the protocol's short ``__repr__`` is kept) and
declares its fields with :func:`simulator.resultfields.saved` (role, ``dims``, ``units``, how
to rebuild the value): ``save``/``load``/``to_dict``/``to_xarray`` follow from the declaration,
written once here (issue 19). Adding a field is one line, e.g.
``escapes: dict | None = saved("outcome", default=None)``. What a class may still override:

``_arrays()``, ``_meta()``, ``_from_saved(meta, arrays)``
    Generated from the fields (``NAME.npz`` holds every array bit for bit, ``NAME.json`` the
    rest); a class overrides them only to add readable copies.
``_upgrade(meta, arrays)`` (classmethod)
    An older layout of this wgmsim's files in the declared one (renamed or moved entries).
``_complete(values)`` (classmethod)
    Fields declared ``saved(stored=False)`` rebuilt from the loaded ones.
``_legacy_format`` and ``_from_legacy(meta, arrays)`` (optional)
    Files an earlier wgmsim wrote before this protocol (no ``type`` entry), read by the same
    :meth:`ResultProtocol.load` (one read, one checksum check).
``_xarray_vars()``, ``_xarray_coords()``, ``_grid_dims()``
    The arrays with named dimensions: by default every field declared with ``dims`` (``"..."``
    in ``dims`` stands for the grid axes, :meth:`ResultProtocol._grid_dims`), a dict of arrays
    stacked along its last dimension with the keys as labels (``pair``, ``direction``).
``_xarray_attrs() -> dict[str, dict]``
    Attributes of each variable and coordinate, ``units`` above all: the declared ``units``
    and the names the results share (:data:`XARRAY_UNITS`).
``_summary() -> dict[str, object]``
    A handful of scalars for ``__repr__`` and ``_repr_html_``.
``_record() -> dict``
    The class's JSON record (``to_dict`` adds ``provenance`` and makes it JSON-safe); by
    default every stored field under its name.

and gets:

* ``save(directory)`` / ``load(directory)``: ``DIR/NAME.npz`` + ``DIR/NAME.json`` written with
  :func:`simulator.resultio.write_result` (SHA-256 over arrays and metadata, atomic); ``load``
  refuses a tampered folder or one holding another result type
  (:class:`~simulator.errors.ResultFileError`);
* ``to_dict()``: JSON-safe (``json.dumps`` works; non-finite numbers become ``null``);
* ``to_xarray()``: an ``xarray.Dataset`` (xarray is the optional extra ``wgmsim[xarray]``,
  imported only here) that ``Dataset.to_netcdf(path)`` writes with any backend, netCDF3 through
  SciPy included, and ``xarray.open_dataset(path)`` reads back equal (:func:`netcdf_safe`):

  - a ``units`` attribute on every numeric variable and coordinate (``_xarray_attrs``), CF
    spelling where one applies (``s-1``, ``W``, ``K``, ``kg``, ``m``, ``rad``, ``s``, ``1`` for
    dimensionless numbers such as quadrature covariances, vacuum 1/2), and ``omega_m`` or
    ``1/omega_m`` for rates and times in the engines' units, which no CF unit expresses;
    text labels (``mode_i = "X_r", ...``) carry no unit, as in CF;
  - complex arrays (eigenvalues, density matrices, complex sweep fields) as real and imaginary
    parts along a trailing dimension ``complex`` = ``("real", "imag")`` (attribute
    ``complex_encoding``); :func:`complex_values` rebuilds the complex array;
  - attribute names with letters, digits and ``_`` only (``E_N[r_m]`` -> ``E_N_r_m``,
    ``detuning/Gamma`` -> ``detuning_over_Gamma``); ``attrs["wgmsim"]`` holds the full JSON
    record;
* ``provenance``: versions of Python, wgmsim and its dependencies (qutip included, from package
  metadata), the UTC time the result was made, the platform, and the params, options and seeds
  that made it; stamped when the result is constructed and restored by ``load``;
* a one-line ``__repr__`` (never an array) and a small HTML table for notebooks.

Results of one stationary point also give ``to_estimate()`` (an
:class:`~simulator.estimate.Estimate` for :func:`simulator.compare.compare`) and Gaussian ones
``covariance_xxpp(hbar=2)``; those are methods of the classes, not of the mixin.

Adopting the protocol: inherit ``ResultProtocol``, declare ``repr=False`` in the dataclass
decorator, set ``_file_name`` and declare the fields with ``saved``. A class with its own
``__post_init__`` calls ``super().__post_init__()`` to be stamped (otherwise ``provenance`` is
stamped when first read).

This module sits in the bottom layer (it imports only :mod:`simulator.resultio`,
:mod:`simulator.resultfields` and :mod:`simulator.jsonio`), so that every engine's results can
inherit it.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import platform
import re
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from .errors import ResultFileError
from .jsonio import to_jsonable
from .resultfields import ABSENT, ROLES, decode_value, encode_value, join, saved_fields, split
from .resultio import read_result, versions, write_result

__all__ = ["ResultProtocol", "NestedResult", "FORMAT_VERSION", "require_xarray",
           "QUADRATURE_DIMS", "XARRAY_UNITS", "COMPLEX_DIM", "complex_values", "netcdf_safe"]

#: Version of the folder layout written by :meth:`ResultProtocol.save`.
FORMAT_VERSION = 1
#: Dimension names of a covariance matrix's two axes.
QUADRATURE_DIMS = ("mode_i", "mode_j")
#: Trailing dimension holding the real and imaginary parts of a complex array in ``to_xarray``.
COMPLEX_DIM = "complex"
#: Units of the variable and coordinate names that no declared field gives (``to_xarray``; a
#: field's own are declared with it, :func:`simulator.resultfields.saved`): quadrature moments
#: are dimensionless (vacuum variance 1/2).
XARRAY_UNITS: dict[str, str] = {
    **dict.fromkeys(("covariance", "mean", "lyapunov_covariance", "plain_mean",
                     "plain_mean_stderr", "plain_covariance", "plain_covariance_stderr",
                     "states"), "1"),
}


def _stamp() -> dict[str, Any]:
    """Versions (read once per process), UTC timestamp and platform."""
    return {
        "versions": versions(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
    }


def require_xarray():
    """Import xarray or say how to install it."""
    try:
        import xarray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_xarray() needs xarray, an optional dependency of wgmsim: install it with "
            "`pip install \"wgmsim[xarray]\"` (or `pip install xarray`)") from exc
    return xarray


def _attr_name(key: str) -> str:
    """A netCDF-valid attribute name: letters, digits and ``_`` (``E_N[r_m]`` -> ``E_N_r_m``,
    ``detuning/Gamma`` -> ``detuning_over_Gamma``, ``|V-V_lyap|`` -> ``V_minus_V_lyap``)."""
    key = key.replace("/", "_over_").replace("-", "_minus_")
    return re.sub(r"[^0-9A-Za-z_]+", "_", key).strip("_") or "attr"


def _split_complex(values: np.ndarray) -> np.ndarray:
    return np.stack([values.real, values.imag], axis=-1)


def netcdf_safe(ds, attrs: dict[str, dict[str, Any]] | None = None):
    """``ds`` in a form every netCDF backend writes and reads back equal.

    Complex variables and coordinates get a trailing dimension :data:`COMPLEX_DIM` (coordinate
    ``("real", "imag")``) and the attribute ``complex_encoding``; a complex *index* coordinate
    ``NAME`` (a swept complex scatterer strength) becomes the non-index coordinate
    ``NAME_value`` of shape ``(n, 2)``. ``attrs`` (name -> attributes, e.g. ``{"units": "1"}``)
    are set on the variables and coordinates of those names, before the encoding.

    Parameters
    ----------
    ds : xarray.Dataset
    attrs : dict of str to dict, optional

    Returns
    -------
    xarray.Dataset
    """
    xr = require_xarray()
    attrs = attrs or {}
    for name in list(ds.variables):
        if name in attrs:
            ds[name].attrs.update(attrs[name])
    complex_names = [k for k, v in ds.variables.items() if np.iscomplexobj(v.values)]
    if not complex_names:
        return ds
    note = ("complex values as real and imaginary parts along the last dimension "
            f"'{COMPLEX_DIM}'; simulator.protocol.complex_values(da) rebuilds them")
    variables, coords = {}, {}
    for name, var in ds.variables.items():
        target = coords if name in ds.coords else variables
        if np.iscomplexobj(var.values):
            var = xr.Variable(var.dims + (COMPLEX_DIM,), _split_complex(var.values),
                              {**var.attrs, "complex_encoding": note})
            if name in ds.dims:  # an index coordinate cannot be two-dimensional
                name = f"{name}_value"
        target[name] = var
    coords[COMPLEX_DIM] = xr.Variable((COMPLEX_DIM,), np.array(["real", "imag"]))
    return xr.Dataset(variables, coords=coords, attrs=ds.attrs)


def complex_values(da) -> np.ndarray:
    """The complex array that ``to_xarray`` stored as real and imaginary parts.

    Parameters
    ----------
    da : xarray.DataArray
        A variable with the trailing dimension :data:`COMPLEX_DIM`, shape ``S + (2,)``.

    Returns
    -------
    ndarray, complex, shape ``S``
    """
    if not da.dims or da.dims[-1] != COMPLEX_DIM:
        raise ValueError(f"complex_values: {da.name!r} has dimensions {da.dims}, not a last "
                         f"dimension {COMPLEX_DIM!r} (real, imag)")
    values = np.asarray(da.values, dtype=float)
    return values[..., 0] + 1j * values[..., 1]


def _short(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
        return str(tuple(int(v) for v in value))
    if isinstance(value, (tuple, list)) and len(value) <= 8:
        return "(" + ", ".join(_short(v) for v in value) + ")"
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    return str(value)


def _required(cls: type, name: str) -> bool:
    f = cls.__dataclass_fields__[name]
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _stacked(name: str, value: Any, dims: tuple[str, ...]
             ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """``{name: (dims, array)}``; a dict of arrays stacked along ``dims[-1]``, a dict of dicts one
    variable per outer key."""
    if not isinstance(value, dict):
        return {name: (dims, np.asarray(value))}
    if value and isinstance(next(iter(value.values())), dict):
        return {k: v for key, inner in value.items() for k, v in _stacked(key, inner, dims).items()}
    if not value:
        return {}
    return {name: (dims, np.stack([np.asarray(v) for v in value.values()], axis=-1))}


def _restamped(result: "ResultProtocol", provenance: dict[str, Any] | None) -> "ResultProtocol":
    """``result`` with the versions, timestamp and platform of a saved ``provenance``."""
    prov = provenance or {}
    object.__setattr__(result, "_stamp", {k: prov.get(k) for k in
                                          ("versions", "timestamp", "platform")})
    return result


class NestedResult:
    """How a field holding another result of any protocol type (or ``None``) is saved
    (:func:`simulator.resultfields.saved`'s ``codec``): ``{"type", "meta", "provenance"}``
    under the key, its arrays under ``key.``; ``types()`` maps type names to classes (called
    when loading, so that an optional engine is imported only then)."""

    def __init__(self, types: Callable[[], dict[str, type]]) -> None:
        self.types = types

    def encode(self, value: "ResultProtocol | None", key: str
               ) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
        if value is None:
            return None, {}
        return ({"type": type(value).__name__, "meta": value._meta(),
                 "provenance": value.provenance},
                {f"{key}.{k}": v for k, v in value._arrays().items()})

    def decode(self, meta: Any, arrays: dict[str, np.ndarray], key: str) -> Any:
        if not isinstance(meta, dict):  # None, or absent from a folder saved before it
            return None
        head = key + "."
        sub = self.types()[meta["type"]]._from_saved(
            meta["meta"], {k[len(head):]: v for k, v in arrays.items() if k.startswith(head)})
        return _restamped(sub, meta["provenance"])


class ResultProtocol:
    """Mixin giving a frozen result dataclass the common result protocol (module docstring)."""

    #: File stem of the saved folder (``DIR/NAME.npz``, ``DIR/NAME.json``).
    _file_name: ClassVar[str] = "result"
    #: ``format`` of the files an earlier wgmsim wrote before this protocol (no ``type`` entry),
    #: read by :meth:`_from_legacy`; ``None`` if there is no such format.
    _legacy_format: ClassVar[int | None] = None

    # ---- the declared fields (simulator.resultfields) ---------------------------------------
    def _split_fields(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(meta, arrays)``: every stored field by its declared rule."""
        meta: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for name, spec in saved_fields(type(self)):
            key, value = spec.key or name, getattr(self, name)
            if spec.codec is not None:
                m, a = spec.codec.encode(value, key)
            elif isinstance(value, ResultProtocol):
                m, a = value._meta(), {f"{key}.{k}": v for k, v in value._arrays().items()}
            else:
                m, a = split(encode_value(value), key)
            arrays.update(a)
            if m is not ABSENT:
                meta[key] = to_jsonable(m)
        return meta, arrays

    def _arrays(self) -> dict[str, np.ndarray]:
        """Every array of the result (``NAME.npz``), by the declared fields."""
        return self._split_fields()[1]

    def _meta(self) -> dict[str, Any]:
        """Everything else, JSON-able (``NAME.json``), by the declared fields."""
        return self._split_fields()[0]

    @classmethod
    def _from_saved(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        """The result from :meth:`_meta` and :meth:`_arrays` (or an older layout that
        :meth:`_upgrade` converts); a field in neither takes its default."""
        meta, arrays = cls._upgrade(dict(meta), dict(arrays))
        kwargs: dict[str, Any] = {}
        for name, spec in saved_fields(cls):
            key = spec.key or name
            if spec.codec is not None:
                value = spec.codec.decode(meta.get(key, ABSENT), arrays, key)
            elif isinstance(spec.decode, type) and issubclass(spec.decode, ResultProtocol):
                head = key + "."
                value = ABSENT if meta.get(key) is None else spec.decode._from_saved(
                    meta[key], {k[len(head):]: v for k, v in arrays.items() if k.startswith(head)})
            else:
                value = join(meta.get(key, ABSENT), arrays, key)
                if value is not ABSENT:
                    value = decode_value(spec.decode, value)
            if value is not ABSENT:
                kwargs[name] = value
            elif _required(cls, name):  # a None that an older file left out
                kwargs[name] = None
        return cls(**cls._complete(kwargs))

    @classmethod
    def fields_by_role(cls) -> dict[str, tuple[str, ...]]:
        """The stored fields of each role (:data:`simulator.resultfields.ROLES`): the run's
        ``input``, its ``value`` s, their ``error`` s, the ``reference`` they are scored
        against, the ``outcome`` and the ``record`` of how it went."""
        return {role: tuple(n for n, spec in saved_fields(cls) if spec.role == role)
                for role in ROLES}

    # ---- hooks (override) ------------------------------------------------------------------
    @classmethod
    def _upgrade(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """An older wgmsim's file layout in the declared one (default: unchanged)."""
        return meta, arrays

    @classmethod
    def _complete(cls, values: dict[str, Any]) -> dict[str, Any]:
        """The constructor's keywords from the loaded fields: fields declared
        ``saved(stored=False)`` are rebuilt here (default: nothing to rebuild)."""
        return values

    @classmethod
    def _from_legacy(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        """The result from files of :attr:`_legacy_format` (only where that is set)."""
        raise NotImplementedError

    def _provenance_inputs(self) -> dict[str, Any]:
        """``params``, ``options``, ``seeds`` of the run (``None`` where not applicable)."""
        params = getattr(self, "params", None)
        options = getattr(self, "options", None)
        if options is not None and hasattr(options, "__dataclass_fields__"):
            options = {k: getattr(options, k) for k in options.__dataclass_fields__}
        return {"params": None if params is None else params.to_dict(),
                "options": options, "seeds": getattr(self, "seeds", None)}

    def _xarray_vars(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Every field declared with ``dims`` (a dict of arrays stacked along ``dims[-1]``)."""
        out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for name, spec in saved_fields(type(self)):
            value = getattr(self, name)
            if spec.dims is not None and value is not None:
                out.update(_stacked(name, value, self._dims(spec.dims)))
        return out

    def _dims(self, dims: tuple[str, ...]) -> tuple[str, ...]:
        """Declared ``dims`` with ``"..."`` replaced by the grid's axis names
        (:meth:`_grid_dims`)."""
        return tuple(d for name in dims
                     for d in (self._grid_dims() if name == "..." else (name,)))

    def _grid_dims(self) -> tuple[str, ...]:
        """Names of the grid axes of a result over a parameter grid (``"..."`` in ``dims``)."""
        shape = np.shape(getattr(self, "stable", ()))
        return tuple(f"axis_{k}" for k in range(len(shape)))

    def _xarray_coords(self) -> dict[str, Any]:
        """``mode``, ``mode_i``, ``mode_j`` (the covariance's width), the fields declared as
        coordinates (``coord``) and the labels of every stacked dict (``pair``, ...)."""
        from .conventions import QUADRATURES

        d = np.shape(getattr(self, "covariance", None))[-1:] or (6,)
        names = list(QUADRATURES) if d[0] == 6 else [f"x{k}" for k in range(d[0])]
        out: dict[str, Any] = {"mode": names, "mode_i": names, "mode_j": names}
        for name, spec in saved_fields(type(self)):
            value = getattr(self, name)
            if spec.coord is not None and value is not None:
                out[spec.coord] = np.asarray(value)
            if spec.dims is not None and isinstance(value, dict) and value:
                inner = next(iter(value.values()))
                out[self._dims(spec.dims)[-1]] = list(inner if isinstance(inner, dict)
                                                      else value)
        return out

    def _xarray_attrs(self) -> dict[str, dict[str, Any]]:
        out = {k: {"units": u} for k, u in XARRAY_UNITS.items()}
        for name, spec in saved_fields(type(self)):
            value = getattr(self, name)
            if spec.units is not None and spec.dims is not None and value is not None:
                out.update({k: {"units": spec.units} for k in _stacked(name, value, ())})
            if spec.units is not None and spec.coord is not None:
                out[spec.coord] = {"units": spec.units}
        return out

    def _summary(self) -> dict[str, Any]:
        return {}

    def _record(self) -> dict[str, Any]:
        """Every stored field under its name (nested results as their own record)."""
        return {name: (value._record() if isinstance(value, ResultProtocol)
                       else encode_value(value))
                for name, value in ((n, getattr(self, n)) for n, _ in saved_fields(type(self)))}

    # ---- provenance ----------------------------------------------------------------------
    def __post_init__(self) -> None:
        object.__setattr__(self, "_stamp", _stamp())

    @property
    def provenance(self) -> dict[str, Any]:
        """Versions (wgmsim, Python, numpy, scipy, qutip, joblib, matplotlib), UTC timestamp,
        platform, and the params, options and seeds of the run; JSON-safe."""
        stamp = getattr(self, "_stamp", None) or _stamp()
        return to_jsonable({**stamp, **self._provenance_inputs()})

    # ---- protocol ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of every number, with ``provenance`` (``json.dumps`` works)."""
        out = to_jsonable(self._record())
        out["provenance"] = self.provenance
        return out

    def save(self, directory: str | Path) -> Path:
        """Write ``DIR/NAME.npz`` (arrays, bit for bit) and ``DIR/NAME.json`` (metadata,
        provenance, SHA-256 checksum over both); returns the folder."""
        meta = {"type": type(self).__name__, "format": FORMAT_VERSION,
                "provenance": self.provenance, **self._meta()}
        return write_result(directory, self._file_name, meta, self._arrays())

    @classmethod
    def load(cls, directory: str | Path):
        """Read a folder written by :meth:`save`, verifying its checksum and type.

        Raises
        ------
        ResultFileError
            Missing or tampered files, or a folder holding another result type.
        """
        meta, arrays = read_result(directory, cls._file_name)
        path = Path(directory) / (cls._file_name + ".json")
        if "type" not in meta and cls._legacy_format is not None:
            if meta.get("format") != cls._legacy_format:
                raise ResultFileError(f"{path}: format {meta.get('format')!r}, expected "
                                      f"{cls._legacy_format} (or this wgmsim's own)")
            try:
                return cls._from_legacy(meta, arrays)
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, ResultFileError):
                    raise
                raise ResultFileError(f"{path}: inconsistent record "
                                      f"({type(exc).__name__}: {exc})") from None
        if meta.get("type") != cls.__name__:
            raise ResultFileError(f"{path}: holds a {meta.get('type')!r}, not a {cls.__name__}")
        if meta.get("format") != FORMAT_VERSION:
            raise ResultFileError(f"{path}: format {meta.get('format')!r}, this wgmsim reads "
                                  f"{FORMAT_VERSION}")
        return _restamped(cls._from_saved(meta, arrays), meta.get("provenance"))

    def to_xarray(self):
        """The arrays as an ``xarray.Dataset`` with named dimensions; scalars and provenance in
        ``attrs`` (``attrs["wgmsim"]`` is the JSON metadata). Needs ``wgmsim[xarray]``."""
        xr = require_xarray()
        variables = {k: (dims, np.asarray(v)) for k, (dims, v) in self._xarray_vars().items()}
        used = {d for dims, _ in variables.values() for d in dims}
        coords = {k: v for k, v in self._xarray_coords().items()
                  if (k in used) or (isinstance(v, tuple) and set(v[0]) <= used)}
        attrs = {"wgmsim_type": type(self).__name__,
                 "wgmsim": json.dumps(to_jsonable({**self._meta(),
                                                   "provenance": self.provenance}))}
        for k, v in self._summary().items():
            if isinstance(v, (bool, int, float, str, np.floating, np.integer)):
                attrs[_attr_name(k)] = v if not isinstance(v, bool) else int(v)
        ds = xr.Dataset(variables, coords=coords, attrs=attrs)
        return netcdf_safe(ds, self._xarray_attrs())

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={_short(v)}" for k, v in self._summary().items())
        return f"{type(self).__name__}({body})"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'>{html.escape(_short(v))}</td></tr>"
                       for k, v in self._summary().items())
        stamp = getattr(self, "_stamp", None) or {}
        ver = (stamp.get("versions") or {}).get("wgmsim", "?")
        return (f"<table><caption>{type(self).__name__} (wgmsim {html.escape(str(ver))}, "
                f"{html.escape(str(stamp.get('timestamp')))})</caption>{rows}</table>")
