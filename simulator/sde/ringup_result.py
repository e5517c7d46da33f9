"""The result of a ring-up ensemble (:func:`simulator.sde.ringup.simulate_ringup`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..conventions import covariance_xxpp as _covariance_xxpp
from ..observables import log_negativity
from ..params import Params
from ..protocol import ResultProtocol
from ..resultfields import encode_value, saved
from ..statistics import max_abs
from .ringup_options import RingupOptions
from .scheduling import seed_records

__all__ = ["RingupResult", "RINGUP_FORMAT"]

#: Version of the files written by the ring-up before the result protocol (still read).
RINGUP_FORMAT = 2


_TV = ("time", "mode_i", "mode_j")


@dataclass(frozen=True, repr=False)
class RingupResult(ResultProtocol):
    """Ensemble statistics against time (saved as ``DIR/ringup.npz`` + ``DIR/ringup.json``).

    Attributes
    ----------
    params : Params or None
        ``None`` for a run of an explicit :class:`LangevinSystem`.
    seed : int
    seeds : list of dict
        Entropy and spawn key of each chunk's stream (``SeedSequence(seed).spawn(n_chunks)``).
    t : ndarray, shape (n_t,)
        Output times (``1/omega_m``), ``t[0] = 0``.
    mean_field : ndarray, shape (n_t, d)
        The deterministic path ``ubar(t)``.
    mean, mean_stderr : ndarray, shape (n_t, d)
        Ensemble mean of the full amplitudes ``ubar + <x>`` and its error (across chunks).
    covariance, covariance_stderr : ndarray, shape (n_t, d, d)
        The best estimate the run has: the plain one, or with control variates the controlled
        one (``plain`` then holds the plain estimate).
    linear_covariance : ndarray, shape (n_t, d, d)
        :func:`~simulator.linear.covariance_evolution` from the same initial state.
    z : ndarray, shape (n_t, d, d)
        ``(covariance - linear_covariance) / covariance_stderr`` of the plain estimate
        (:func:`~simulator.statistics.z_scores`: 0 or inf where the error is 0).
    observables : dict
        ``log_negativity`` and ``log_negativity_stderr`` (jackknife over chunks), each a dict of
        pair -> ndarray (n_t,); empty unless ``d = 6``.
    unit_s1, unit_s2, unit_counts : ndarray
        Per-chunk sums at the output times: ``(n_chunks, n_t, d)``, ``(n_chunks, n_t, d, d)``,
        ``(n_chunks, n_t)``.
    diverged : int
    status, flags, message
        ``"ok"``, or the most severe of ``"diverged"``, ``"few_units"`` (all in ``flags``).
    stderr_t_factor : float
        Student-t widening already applied to every error (as in the stationary engine).
    plain : dict or None
        With control variates, the plain estimate: ``mean``, ``mean_stderr``, ``covariance``,
        ``covariance_stderr`` and ``observables`` as above (the headline fields then hold the
        controlled estimate ``V_lin(t) + dV(t)``, ``E_N(V_lin + dV)``, with the shift's
        errors); ``None`` without.
    shift : dict or None
        With control variates: ``covariance`` and ``covariance_stderr`` ``(n_t, d, d)``, the
        nonlinear shift ``V_nl(t) - V_lin(t)`` and its jackknife error; ``mean`` and
        ``mean_stderr`` ``(n_t, d)``, ``<x> - <y>``; ``log_negativity`` and
        ``log_negativity_stderr``, pair -> ``(n_t,)``, ``E_N(V_lin + dV) - E_N(V_lin)`` (only for
        the optomechanical system); ``order`` (1 or 2, see :mod:`simulator.sde.control`).
        ``None`` without.
    escapes : dict or None
        Escapes from the fixed point's basin (:func:`simulator.sde.escapes.fates`): those of
        the stationary engine's record plus ``captured`` (by another attractor, or not settled
        by ``t_start``) and ``settled``, fractions of ``n_traj`` with 95 % Clopper-Pearson
        intervals; ``None`` for a result from before the test.
    """

    params: Params | None = saved("input", decode=Params)
    options: RingupOptions = saved("input", decode=RingupOptions)
    seed: int = saved("input")
    seeds: list[dict[str, Any]] = saved("input")
    schedule: dict[str, Any] = saved("record")
    t: np.ndarray = saved("input", coord="time", units="1/omega_m")
    mean_field: np.ndarray = saved("reference", dims=("time", "mode"), units="1")
    mean: np.ndarray = saved("value", dims=("time", "mode"), units="1")
    mean_stderr: np.ndarray = saved("error", dims=("time", "mode"), units="1")
    covariance: np.ndarray = saved("value", dims=_TV, units="1")
    covariance_stderr: np.ndarray = saved("error", dims=_TV, units="1")
    linear_covariance: np.ndarray = saved("reference", dims=_TV, units="1")
    z: np.ndarray = saved("outcome", dims=_TV, units="1")
    observables: dict[str, dict[str, np.ndarray]] = saved("value", dims=("time", "pair"),
                                                          units="1")
    unit_s1: np.ndarray = saved("record", dims=("chunk", "time", "mode"), units="1")
    unit_s2: np.ndarray = saved("record", dims=("chunk",) + _TV, units="1")
    unit_counts: np.ndarray = saved("record", dims=("chunk", "time"), units="1")
    chunk_seconds: np.ndarray = saved("record", dims=("chunk",), units="s")
    diverged: int = saved("outcome")
    timing: dict[str, float] = saved("record")
    status: str = saved("outcome", default="ok")
    flags: tuple[str, ...] = saved("outcome", default=(), decode=tuple)
    message: str = saved("outcome", default="")
    stderr_t_factor: float = saved("record", default=1.0)
    shift: dict[str, Any] | None = saved("value", default=None)
    plain: dict[str, Any] | None = saved("value", default=None)
    escapes: dict[str, Any] | None = saved("outcome", default=None)

    # ---- physics ---------------------------------------------------------------------------
    @property
    def photon_number(self) -> dict[str, np.ndarray]:
        """``<a^dag a> = (<X>^2 + <Y>^2 + V_XX + V_YY)/2 - 1/2`` per optical mode, shape (n_t,)."""
        m, V = self.mean, self.covariance
        return {k: 0.5 * (m[:, i] ** 2 + m[:, i + 1] ** 2 + V[:, i, i] + V[:, i + 1, i + 1]) - 0.5
                for k, i in (("r", 0), ("l", 2))}

    @property
    def phonon_number(self) -> np.ndarray:
        """Phonons in the fluctuations, ``(V_qq + V_pp)/2 - 1/2``, shape (n_t,)."""
        V = self.covariance
        return 0.5 * (V[:, 4, 4] + V[:, 5, 5]) - 0.5

    @property
    def log_negativity(self) -> dict[str, np.ndarray]:
        """``E_N(t)`` of the ensemble covariance, per pair, shape (n_t,)."""
        return self.observables.get("log_negativity") or log_negativity(self.covariance)

    @property
    def log_negativity_stderr(self) -> dict[str, np.ndarray] | None:
        """Jackknife error (over chunks) of ``E_N(t)``, per pair."""
        return self.observables.get("log_negativity_stderr")

    @property
    def max_abs_z(self) -> float:
        iu = np.triu_indices(self.z.shape[-1])
        return max_abs(self.z[:, iu[0], iu[1]])

    @property
    def n_units(self) -> int:
        """Chunks with samples at every output time (the units of the error bars)."""
        return int((self.unit_counts > 0).all(axis=1).sum()) if self.unit_counts.size else 0

    @property
    def versions(self) -> dict[str, str]:
        """Versions of Python, wgmsim and its dependencies (from :attr:`provenance`)."""
        return self.provenance["versions"]

    @property
    def timestamp(self) -> str:
        """UTC time the result was made (ISO 8601)."""
        return self.provenance["timestamp"]

    def covariance_xxpp(self, hbar: float = 2.0) -> np.ndarray:
        """The covariance at every output time in thewalrus / Strawberry Fields form, shape
        ``(n_t, 6, 6)`` (:func:`simulator.conventions.covariance_xxpp`)."""
        return _covariance_xxpp(self.covariance, hbar)

    # ---- result protocol ---------------------------------------------------------------------
    _file_name = "ringup"
    _legacy_format = RINGUP_FORMAT  # ringup.json/npz of wgmsim before the result protocol
    #: The array fields: the headline and reference eight, then the per-chunk sums.
    _ARRAYS = ("t", "mean_field", "mean", "mean_stderr", "covariance", "covariance_stderr",
               "linear_covariance", "z", "unit_s1", "unit_s2", "unit_counts", "chunk_seconds")
    _RECORD = ("params", "options", "seed", "seeds", "schedule", "diverged", "timing",
               "status", "flags", "message", "stderr_t_factor", "escapes")

    @classmethod
    def _upgrade(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Files of wgmsim before the declared fields: the observables at the root
        (``log_negativity.r_m``), the plain estimate's at ``plain.log_negativity.r_m``, the
        shift's order in ``shift_order``."""
        if "observables" in meta:
            return meta, arrays
        out = {}
        for key, v in arrays.items():
            head = key.split(".")[0]
            if head == "plain" and key.count(".") == 2:
                key = "plain.observables." + key[len("plain."):]
            elif "." in key and head not in ("shift", "plain"):
                key = "observables." + key
            out[key] = v
        order = meta.pop("shift_order", None)
        return {**meta, "observables": {}, "shift": None if order is None else
                {"order": order}}, out

    @classmethod
    def _from_legacy(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "RingupResult":
        """A format-2 folder: no per-chunk sums (empty), no E_N errors, seeds re-derived."""
        options = RingupOptions(**meta["options"])
        n_t, d = arrays["mean"].shape
        out = cls(params=Params.from_dict(meta["params"]), options=options,
                  seed=int(meta["seed"]), seeds=seed_records(int(meta["seed"]), options.n_chunks),
                  schedule={}, observables={}, unit_s1=np.zeros((0, n_t, d)),
                  unit_s2=np.zeros((0, n_t, d, d)), unit_counts=np.zeros((0, n_t)),
                  chunk_seconds=np.zeros(0), diverged=int(meta["diverged"]),
                  timing=meta["timing"], status=meta["status"],
                  flags=() if meta["status"] == "ok" else (meta["status"],),
                  message=meta["message"], **{k: arrays[k] for k in cls._ARRAYS[:8]})
        stamp = dict(out.provenance)
        stamp.update(versions=meta.get("versions") or {}, timestamp=meta.get("timestamp"))
        object.__setattr__(out, "_stamp", {k: stamp[k] for k in
                                           ("versions", "timestamp", "platform")})
        return out

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_traj": self.options.n_traj, "t_final": float(self.t[-1]),
                               "n_t": len(self.t), "method": self.options.method}
        if self.observables:
            en, se = self.observables["log_negativity"], self.observables["log_negativity_stderr"]
            out["E_N[r_m](t_final)"] = float(en["r_m"][-1])
            out["stderr"] = float(se["r_m"][-1])
        out["max_abs_z"] = self.max_abs_z
        if self.shift is not None and "log_negativity" in self.shift:
            out["dE_N[r_m](t_final)"] = float(self.shift["log_negativity"]["r_m"][-1])
            out["dE_N stderr"] = float(self.shift["log_negativity_stderr"]["r_m"][-1])
        out["diverged"] = self.diverged
        if self.escapes and self.escapes.get("tested"):
            out["captured"] = self.escapes["captured"]["value"]
            out["settled"] = self.escapes["settled"]["value"]
        out["status"] = self.status
        return out

    def _record(self) -> dict[str, Any]:
        out = {**{k: encode_value(getattr(self, k)) for k in self._RECORD},
               "shift_order": None if self.shift is None else self.shift["order"],
               **{k: getattr(self, k) for k in self._ARRAYS[:8]},
               "photon_number": self.photon_number, "phonon_number": self.phonon_number,
               "log_negativity": self.log_negativity,
               "log_negativity_stderr": self.log_negativity_stderr,
               "linear_log_negativity": log_negativity(self.linear_covariance),
               "max_abs_z": self.max_abs_z, "n_units": self.n_units, "shift": self.shift,
               "plain": self.plain,
               "versions": self.versions, "timestamp": self.timestamp}
        if self.covariance.shape[-1] != 6:
            for k in ("photon_number", "phonon_number", "log_negativity",
                      "linear_log_negativity"):
                out.pop(k)
        return out
