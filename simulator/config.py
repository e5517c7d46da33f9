"""Run files: one TOML file that describes a run, and the keys that need the mean field.

A run file has the tables ``[params]`` (the keys of :meth:`Params.from_mapping
<simulator.params.Params.from_mapping>` plus ``G``), ``[sde]`` (fields of
:class:`~simulator.sde.SDEOptions`, plus ``seed`` and ``n_jobs``), ``[ringup]`` (fields of
:class:`~simulator.sde.ringup.RingupOptions`, plus ``seed`` and ``n_jobs``), ``[master]``
(fields of :class:`~simulator.master.MasterOptions` and :class:`~simulator.master.EvolveOptions`,
plus ``t_max``, ``n_times``, ``initial_phonons`` of ``wgmsim me``) and ``[validate]`` (fields of
:class:`~simulator.validate.ValidateOptions`; its SDE options are the ``[sde]`` table). An unknown
table or key is refused, naming it and listing what is allowed. ``wgmsim sde|ringup|validate
--out DIR`` writes ``DIR/run.toml`` (:func:`write_run_file`), from which ``--config DIR/run.toml``
repeats the run bit for bit.

``G`` (the target ``|G_r| = sqrt(2) G0 |alpha_r|`` at the fixed point, a rate) sets the power:
at a fixed effective detuning ``|alpha_r|^2`` is proportional to the power, so the power is
rescaled in closed form (:func:`power_for_coupling`). It is applied after every other key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .model import Rates, coupling, mean_field
from .params import SHORTHAND_KEYS, ParameterError, Params
from .sde import SDEOptions
from .sde.ringup import RingupOptions
from .tomlio import read_toml, toml_table
from .units import UnitError, bare_hint, parse_text
from .validate import ValidateOptions

__all__ = [
    "TABLES", "RunFile", "ConfigError", "apply_changes", "power_for_coupling", "read_params",
    "read_run_file", "write_run_file", "table_keys", "RUN_FILE",
]

#: The tables of a run file.
TABLES = ("params", "sde", "ringup", "master", "validate")
#: Name of the run file written into every output folder.
RUN_FILE = "run.toml"
#: Keyword arguments of the engine calls accepted in the option tables besides the fields.
RUN_KEYS = ("seed", "n_jobs")
#: Arguments of ``wgmsim me`` accepted in ``[master]`` besides the option fields.
ME_KEYS = ("t_max", "n_times", "initial_phonons")


class ConfigError(ParameterError):
    """A run file with an unknown table or key, or a value of the wrong kind."""


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def table_keys(table: str) -> tuple[str, ...]:
    """The keys allowed in ``[table]`` of a run file."""
    if table == "params":
        return tuple(_fields(Params)) + SHORTHAND_KEYS + ("G",)
    if table == "sde":
        return tuple(_fields(SDEOptions)) + RUN_KEYS
    if table == "ringup":
        return tuple(_fields(RingupOptions)) + RUN_KEYS
    if table == "validate":
        return tuple(k for k in _fields(ValidateOptions) if k != "sde")
    if table == "master":
        from .master import EvolveOptions, MasterOptions

        keys = dict.fromkeys(_fields(MasterOptions) + _fields(EvolveOptions) + list(ME_KEYS))
        return tuple(keys)
    raise ConfigError(f"[{table}]: no such table; allowed: {list(TABLES)}")


# ---- parameters: G needs the mean field ---------------------------------------------------------
def power_for_coupling(params: Params, G: float) -> float:
    """Input power (W) giving ``|G_r| = sqrt(2) G0 |alpha_r| = G`` (s^-1) at the fixed point.

    At fixed effective detuning the mean field (paper Eq. 10) is linear in the drive
    ``E ~ sqrt(P)``, so ``|G_r|^2`` is proportional to ``P``; the power is found from ``|G_r|``
    at 1 W.
    """
    G = float(G)
    if not (math.isfinite(G) and G >= 0):
        raise ParameterError(f"G = {G!r}: must be a finite rate >= 0")
    rates = Rates.from_params(params.replace(power=1.0))
    per_watt = float(coupling(rates, abs(complex(mean_field(rates).alpha_r)))) \
        * params.omega_m
    if per_watt == 0.0:
        raise ParameterError(f"G = {G!r}: the CW mode is not driven at these parameters")
    return (G / per_watt) ** 2


def apply_changes(base: Params, changes: Mapping[str, Any], *, source: str | None = None
                  ) -> Params:
    """``base`` with ``changes`` applied: :meth:`Params.from_mapping` plus the key ``G``.

    Parameters
    ----------
    base : Params
    changes : mapping
        Keys of :meth:`Params.from_mapping` (numbers in SI units, strings with units) and ``G``,
        the target ``|G_r|`` (a rate, e.g. ``"0.61omega_m"``), which sets the power at the
        effective detuning after every other key is applied.
    source : str, optional
        ``"--set"`` or a file name, for messages.

    Examples
    --------
    >>> p = apply_changes(Params.paper(), {"g0": "0.05Gamma", "G": "0.61omega_m"})
    >>> round(p.G0 / p.Gamma, 12)
    0.05
    """
    changes = dict(changes)
    G = changes.pop("G", None)
    params = Params.from_mapping(changes, base=base, source=source)
    if G is None:
        return params
    if "power" in changes:
        raise ParameterError("G and power: give one of them (G sets the power)")
    if isinstance(G, str):
        try:
            q = parse_text(G, "G")
        except UnitError as exc:
            raise ParameterError(str(exc)) from None
        if not q.unit and q.number != 0:
            raise ParameterError(bare_hint("G", q.number, Gamma=params.Gamma,
                                           omega_m=params.omega_m,
                                           prefix="--set " if source == "--set" else ""))
        G = q.si(Gamma=params.Gamma, omega_m=params.omega_m)
    elif isinstance(G, bool) or not isinstance(G, (int, float)):
        raise ParameterError(f"G = {G!r}: must be a rate (s^-1, or a string with a unit)")
    return params.replace(power=power_for_coupling(params, G))


def read_params(path: str | Path, *, base: Params | None = None) -> Params:
    """A parameter file (top-level keys, or a run file's ``[params]`` table) applied to ``base``."""
    data = read_toml(path, ConfigError)
    if "params" in data and isinstance(data["params"], dict):
        data = RunFile.read(path).params
    return apply_changes(Params.paper() if base is None else base, data, source=str(path))


# ---- run files ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunFile:
    """The tables of a run file (raw TOML values; checked against :func:`table_keys`)."""

    path: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> "RunFile":
        """Read and check ``path``: unknown tables and keys are refused."""
        data = read_toml(path, ConfigError)
        tables: dict[str, dict[str, Any]] = {}
        for name, table in data.items():
            if name not in TABLES or not isinstance(table, dict):
                raise ConfigError(f"{path}: [{name}] is not a table of a run file; "
                                  f"allowed tables: {list(TABLES)}")
            allowed = table_keys(name)
            unknown = sorted(set(table) - set(allowed))
            if unknown:
                raise ConfigError(f"{path}: unknown key(s) {unknown} in [{name}]; "
                                  f"allowed: {list(allowed)}")
            tables[name] = dict(table)
        return cls(str(path), tables)

    def table(self, name: str) -> dict[str, Any]:
        """The table ``name`` (empty if absent)."""
        return self.tables.get(name, {})

    @property
    def params(self) -> dict[str, Any]:
        return self.table("params")

    def check_tables(self, command: str, used: tuple[str, ...]) -> list[str]:
        """The tables ``command`` does not read (to be ignored, and said so in one line).

        A run file written by one subcommand works with every other that shares a table with
        it (``[params]`` at least): ``wgmsim lyapunov --config DIR/run.toml`` on a folder of
        ``wgmsim sde --out DIR`` reads ``[params]`` and ignores ``[sde]``.

        Raises
        ------
        ConfigError
            The file has tables, but none that ``command`` reads.
        """
        extra = [t for t in self.tables if t not in used]
        if extra and len(extra) == len(self.tables):
            raise ConfigError(
                f"{self.path}: table(s) {['[' + t + ']' for t in extra]} not used by "
                f"`wgmsim {command}`, which reads {['[' + t + ']' for t in used]}; nothing "
                "left to read")
        return extra


def read_run_file(path: str | Path) -> RunFile:
    """:meth:`RunFile.read`."""
    return RunFile.read(path)


def _options_table(options: Any) -> dict[str, Any]:
    return {k: getattr(options, k) for k in _fields(type(options))}


def write_run_file(folder: str | Path, params: Params, *, command: str,
                   sde: SDEOptions | None = None, ringup: RingupOptions | None = None,
                   validate: ValidateOptions | None = None, seed: int | None = None) -> Path:
    """Write ``folder/run.toml``: the parameters, the options used and the seed.

    ``wgmsim COMMAND --config folder/run.toml`` repeats the run (bit for bit: floats are
    written exactly). ``n_jobs`` is not written: results do not depend on it.

    Returns
    -------
    Path
        The file written.
    """
    parts = [f"# wgmsim {command} run file: `wgmsim {command} --config run.toml` repeats the run.\n"
             "# Values in SI units (params) and units of 1/omega_m (times).\n"]
    parts.append(params.to_toml(table="params"))
    if validate is not None:
        table = _options_table(validate)
        table.pop("sde")
        table.pop("n_jobs")
        parts.append(toml_table("validate", table))
        sde = validate.sde_options()
        seed = None
    if sde is not None:
        table = _options_table(sde)
        if seed is not None:
            table["seed"] = seed
        parts.append(toml_table("sde", table))
    if ringup is not None:
        table = _options_table(ringup)
        if seed is not None:
            table["seed"] = seed
        parts.append(toml_table("ringup", table))
    path = Path(folder) / RUN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
