"""The conventions every engine and observable of wgmsim shares.

This module is the single place that states them; the README repeats them for users.

* Modes: CW optical ``a_r``, CCW optical ``a_l``, mechanical breathing mode ``(q, p)`` with
  ``[q, p] = i`` (dimensionless). Frame rotating at the drive frequency.
* Quadratures: ``X = (a + a^dag)/sqrt(2)``, ``Y = i (a^dag - a)/sqrt(2)``, so ``a = (X + iY)/sqrt(2)``.
* Ordering of the fluctuation vector: ``u = (X_r, Y_r, X_l, Y_l, q, p)`` (:data:`QUADRATURES`).
* Covariance ``V_kl = <u_k u_l + u_l u_k>/2 - <u_k><u_l>``; the vacuum has ``V = I/2``
  (:data:`VACUUM_VARIANCE`).
* Internally every rate is in units of the mechanical frequency ``omega_m`` and time in units of
  ``1/omega_m`` ("dimensionless units"); :class:`simulator.params.Params` holds SI inputs.
"""

from __future__ import annotations

import numpy as np

#: Reduced Planck constant (J s), CODATA 2018 exact value.
HBAR = 1.054571817e-34
#: Boltzmann constant (J/K), exact SI value.
K_B = 1.380649e-23

#: Names of the six phase-space coordinates, in the order used by every covariance matrix.
QUADRATURES = ("X_r", "Y_r", "X_l", "Y_l", "q", "p")
#: Mode names and the index pairs of their quadratures in :data:`QUADRATURES`.
MODES = {"r": (0, 1), "l": (2, 3), "m": (4, 5)}
#: Mode pairs reported for entanglement and steering, keyed as in the JSON output.
PAIRS = {"r_m": ("r", "m"), "l_m": ("l", "m"), "r_l": ("r", "l")}
#: Variance of each quadrature in the vacuum (and in a coherent state).
VACUUM_VARIANCE = 0.5
#: Mechanical damping models understood by every engine.
DAMPING_MODELS = ("brownian", "rwa")

#: ``sqrt(2)``, the factor between quadratures and amplitudes.
SQRT2 = np.sqrt(2.0)

#: Symplectic form for one mode, ``[u_k, u_l] = i Omega_kl``.
OMEGA_1 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def symplectic_form(n_modes: int) -> np.ndarray:
    """Return the ``(2n, 2n)`` symplectic form ``Omega = diag(OMEGA_1, ..., OMEGA_1)``."""
    return np.kron(np.eye(n_modes), OMEGA_1)


def amplitude(X, Y):
    """Complex amplitude ``a = (X + i Y)/sqrt(2)`` of the quadratures ``X, Y`` (arrays or
    operators, any shape)."""
    return (X + 1j * Y) / SQRT2


def quadratures(a) -> tuple:
    """Quadratures ``(X, Y) = sqrt(2) (Re a, Im a)`` of complex amplitudes ``a`` (arrays)."""
    return SQRT2 * a.real, SQRT2 * a.imag


def mode_indices(*modes: str) -> list[int]:
    """Indices in :data:`QUADRATURES` of the quadratures of ``modes`` (e.g. ``"r", "m"``)."""
    out: list[int] = []
    for name in modes:
        if name not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {name!r}")
        out.extend(MODES[name])
    return out


def xxpp_order(n_modes: int) -> list[int]:
    """Indices into ``(x_1, p_1, ..., x_n, p_n)`` (our order) that give ``(x_1..x_n, p_1..p_n)``."""
    return [2 * k for k in range(n_modes)] + [2 * k + 1 for k in range(n_modes)]


def covariance_xxpp(V: np.ndarray, hbar: float = 2.0) -> np.ndarray:
    """Covariance in the ordering and scaling of thewalrus and Strawberry Fields.

    Our covariance (this module) is over ``(X_r, Y_r, X_l, Y_l, q, p)`` with
    ``X = (a + a^dag)/sqrt(2)`` and vacuum ``V = I/2``. thewalrus / Strawberry Fields use
    ``x = sqrt(hbar/2) (a + a^dag)``, ``p = -i sqrt(hbar/2) (a - a^dag)`` ordered
    ``(x_1, ..., x_n, p_1, ..., p_n)``, vacuum ``(hbar/2) I``. So ``x = sqrt(hbar) X``,
    ``p = sqrt(hbar) Y`` (same sign) and

        V_xxpp = hbar * P V P^T,   P: (x_1, p_1, x_2, p_2, ...) -> (x_1, x_2, ..., p_1, p_2, ...).

    Mode ``k`` of the result is mode ``k`` of the input (for the full ``(6, 6)`` matrix: r, l, m).

    Parameters
    ----------
    V : ndarray, shape (..., 2n, 2n)
        Covariance in our convention (any number ``n`` of modes, batched over leading axes).
    hbar : float
        The target convention's ``hbar`` (2 is thewalrus' and Strawberry Fields' default).

    Returns
    -------
    ndarray, shape (..., 2n, 2n)

    Examples
    --------
    >>> covariance_xxpp(0.5 * np.eye(6)).diagonal().tolist()  # vacuum: hbar/2
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    V = np.asarray(V, dtype=float)
    if V.ndim < 2 or V.shape[-1] != V.shape[-2] or V.shape[-1] % 2:
        raise ValueError(f"V has shape {V.shape}: need (..., 2n, 2n)")
    if not (np.isfinite(hbar) and hbar > 0):
        raise ValueError(f"hbar = {hbar!r}: must be a finite number > 0")
    idx = xxpp_order(V.shape[-1] // 2)
    return hbar * V[..., idx, :][..., :, idx]
