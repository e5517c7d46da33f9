"""Shared pieces of the master-equation engine: moments of a state, cutoff estimates, checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checks import check_integer, check_real
from ..conventions import HBAR, K_B
from ..model import initial_covariance
from .operators import Space

__all__ = ["TruncationError", "moments", "MIN_CUTOFF", "fock_scope"]

#: Smallest Fock dimension given to any mode.
MIN_CUTOFF = 3


class TruncationError(ValueError):
    """The state does not fit in the largest allowed truncated Fock space."""


class BudgetSpent(TruncationError):
    """The time budget (``max_time``) ran out inside the first solve, before any steady state
    was found: there is no result to return. (A :class:`TruncationError`: the command line
    exits with status 3, as for a state that does not fit.)"""


def check_int(name: str, value: Any, low: int) -> int:
    """An integer ``>= low``, or ``ValueError`` naming the option."""
    return check_integer(name, value, low=low)


def check_pos(name: str, value: Any) -> float:
    """A finite real ``> 0``, or ``ValueError`` naming the option."""
    return check_real(name, value, low=0.0, strict=True)


def check_cutoffs(value: Any) -> tuple[int, ...] | None:
    """``None`` or a tuple of integers ``>= 2``, or ``ValueError`` naming ``cutoffs``."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"cutoffs = {value!r}: must be None or a sequence of integers >= 2")
    out = tuple(value)
    for c in out:
        check_int("cutoffs entry", c, 2)
    return tuple(int(c) for c in out)


def check_max_time(options: Any) -> None:
    """``options.max_time``: ``None`` or a finite real ``> 0`` (seconds), else ``ValueError``."""
    if options.max_time is not None:
        object.__setattr__(options, "max_time", check_pos("max_time", options.max_time))


def check_truncation_options(options: Any) -> None:
    """Checks shared by the steady-state and time-evolution options: ``tail`` in (0, 1),
    ``max_dim`` an integer >= 8, ``cutoffs`` normalised to a tuple (frozen dataclass)."""
    check_pos("tail", options.tail)
    if options.tail >= 1:
        raise ValueError(f"tail = {options.tail!r}: must be < 1")
    check_int("max_dim", options.max_dim, 8)
    object.__setattr__(options, "cutoffs", check_cutoffs(options.cutoffs))


# ---- moments ------------------------------------------------------------------------------------
def moments(space: Space, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and symmetrised covariance of the physical quadratures in a state.

    Parameters
    ----------
    space : Space
    rho : ndarray, shape (d, d)
        Density matrix (dense).

    Returns
    -------
    mean : ndarray, shape (6,)
    V : ndarray, shape (6, 6)
        ``Re Tr(rho x_i x_j) - <x_i><x_j>``; unrepresented modes are vacuum (``1/2``).
    """
    xs = [x.data.as_scipy() for x in space.x]
    k = len(xs)
    xr = [x @ rho for x in xs]  # x_j rho
    m = np.array([np.real(np.trace(y)) for y in xr])
    V = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            # Tr(rho x_i x_j) = Tr(x_i x_j rho) = sum_ab (x_i)_ab (x_j rho)_ba
            v = np.real(xs[i].multiply(xr[j].T).sum()) - m[i] * m[j]
            V[i, j] = V[j, i] = v
    idx = space.quadrature_index
    mean = np.zeros(6)
    mean[idx] = m
    V6 = initial_covariance(0.0)  # unrepresented modes: vacuum
    V6[np.ix_(idx, idx)] = V
    return mean, V6


def top_population(space: Space, rho: np.ndarray) -> tuple[float, ...]:
    pops = np.real(np.diagonal(rho)).reshape(space.cutoffs)
    out = []
    for k in range(len(space.cutoffs)):
        marginal = pops.sum(axis=tuple(i for i in range(pops.ndim) if i != k))
        out.append(float(marginal[-1]))
    return tuple(out)


def cutoff_for(n: float, tail: float) -> int:
    """Smallest ``N >= MIN_CUTOFF`` with ``(n/(n+1))^N < tail``."""
    if n <= 1e-12:
        return MIN_CUTOFF
    ratio = n / (n + 1.0)
    return max(MIN_CUTOFF, int(math.ceil(math.log(tail) / math.log(ratio))))


def temperature_for(n: float, omega_m: float) -> float:
    """Bath temperature (K) whose thermal occupation at ``omega_m`` (rad/s) is ``n``."""
    return HBAR * omega_m / (K_B * math.log1p(1.0 / n)) if n > 0 else 0.0


def fock_scope(cutoffs: tuple[int, ...], attractors: Any) -> dict[str, Any]:
    """Does a Fock space with ``cutoffs`` reach the classical attractor coexisting with the
    fixed point?

    The space is displaced to the fixed point, so it holds states of at most
    ``sum_k (N_k - 1)`` quanta in its basis modes; the smallest stable limit cycle lies
    ``quanta = max over the orbit of (dq^2 + dp^2)/2 + |d a_r|^2 + |d a_l|^2`` quanta away
    (in the physical modes; the normal-mode basis changes that count by a factor of order one,
    far less than the margins met in practice: ~2e3 quanta at ``G0/Gamma = 0.1`` and ~1.5e11 at
    the paper's point, against a few tens kept).

    Parameters
    ----------
    cutoffs : tuple of int
        Fock dimension of each basis mode.
    attractors : simulator.attractors.AttractorsResult

    Returns
    -------
    dict
        ``basin_only`` (True: the state describes the fixed point's basin only, another stable
        attractor lies outside the space), ``reaches_cycle`` (bool, ``None`` without a
        coexisting cycle), ``cycle_quanta``, ``fock_quanta``, ``cycle_q_max`` (Lyapunov
        ``sigma_q``), ``basin_radius`` (Mahalanobis, ``sigma``) and a ``message``.
    """
    capacity = int(sum(int(n) - 1 for n in cutoffs))
    cycle = getattr(attractors, "smallest_cycle", None)
    if attractors is None or not attractors.coexisting or cycle is None:
        return {"basin_only": False, "reaches_cycle": None, "cycle_quanta": None,
                "fock_quanta": capacity, "cycle_q_max": None, "basin_radius": None,
                "message": "no other stable attractor of the classical equations was found"}
    quanta = float(sum(cycle.quanta.values()))
    reaches = quanta <= capacity
    radius = None if attractors.basin is None else float(attractors.basin.radius)
    edge = "" if radius is None else f", basin edge at {radius:.3g} sigma"
    message = (f"a stable limit cycle coexists with the fixed point ({quanta:.3g} quanta away, "
               f"q_max {cycle.q_max:.4g} sigma_q{edge}); ")
    message += ("the Fock space reaches it" if reaches else
                f"the Fock space ({capacity} quanta) does not reach it: this steady state "
                "describes the fixed point's basin only")
    return {"basin_only": not reaches, "reaches_cycle": reaches, "cycle_quanta": quanta,
            "fock_quanta": capacity, "cycle_q_max": float(cycle.q_max), "basin_radius": radius,
            "message": message}
