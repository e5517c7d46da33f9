"""Observables of a Gaussian state from its covariance matrix (any engine's).

All functions take covariance matrices in the convention of :mod:`simulator.conventions`
(order ``(X_r, Y_r, X_l, Y_l, q, p)``, vacuum variance 1/2) and broadcast over leading axes:
``V`` has shape ``(..., 6, 6)`` (or ``(..., 4, 4)`` for a two-mode block).
"""

from __future__ import annotations

import numpy as np

from .conventions import MODES, PAIRS, VACUUM_VARIANCE, mode_indices, symplectic_form

__all__ = [
    "two_mode_block",
    "log_negativity",
    "log_negativity_block",
    "log_negativity_raw",
    "log_negativity_raw_block",
    "steering",
    "steering_block",
    "steering_raw",
    "steering_raw_block",
    "purity",
    "occupation",
    "symplectic_eigenvalues",
    "uncertainty_violation",
    "UNCERTAINTY_RTOL",
    "unphysical_message",
    "summary",
]


def two_mode_block(V: np.ndarray, mode_a: str, mode_b: str) -> np.ndarray:
    """The ``(..., 4, 4)`` covariance of modes ``mode_a`` and ``mode_b`` (``"r"``, ``"l"``, ``"m"``)."""
    idx = mode_indices(mode_a, mode_b)
    return np.asarray(V)[..., idx, :][..., :, idx]


def log_negativity_block(W: np.ndarray) -> np.ndarray:
    """Logarithmic negativity of a two-mode covariance ``W`` (paper Eq. 13).

    ``E_N = max(0, -ln(2 nu_-))`` with ``nu_-`` the smaller symplectic eigenvalue of the partial
    transpose: ``nu_-^2 = (S - sqrt(S^2 - 4 det W)) / 2``, ``S = det A + det B - 2 det C``.

    Parameters
    ----------
    W : ndarray, shape (..., 4, 4)

    Returns
    -------
    E_N : ndarray, shape (...)
    """
    return np.maximum(0.0, log_negativity_raw_block(W)) + 0.0  # + 0.0 turns -0.0 into 0.0


def log_negativity_raw_block(W: np.ndarray) -> np.ndarray:
    """``-ln(2 nu_-)`` of a two-mode covariance ``(..., 4, 4)``, *not* clipped at zero
    (:func:`log_negativity_block` is its ``max(0, .)``); ``nu_-`` is the smallest symplectic
    eigenvalue of the partial transpose. Shape ``(...)``."""
    W = np.asarray(W)
    a, b, c = W[..., :2, :2], W[..., 2:, 2:], W[..., :2, 2:]
    sigma = np.linalg.det(a) + np.linalg.det(b) - 2.0 * np.linalg.det(c)
    det_w = np.linalg.det(W)
    disc = np.clip(sigma**2 - 4.0 * det_w, 0.0, None)
    # nu_-^2 = (S - sqrt(S^2 - 4 det W)) / 2 = 2 det W / (S + sqrt(...)), without cancellation
    with np.errstate(divide="ignore", invalid="ignore"):
        nu_minus = np.sqrt(np.clip(2.0 * det_w / (sigma + np.sqrt(disc)), 0.0, None))
        return -np.log(2.0 * nu_minus)


def log_negativity(V: np.ndarray) -> dict[str, np.ndarray]:
    """``E_N`` for every pair of modes: ``{"r_m", "l_m", "r_l"}`` (see :data:`PAIRS`)."""
    return {key: log_negativity_block(two_mode_block(V, *pair)) for key, pair in PAIRS.items()}


def log_negativity_raw(V: np.ndarray) -> dict[str, np.ndarray]:
    """Unclipped ``-ln(2 nu_-)`` for every pair (keys as :func:`log_negativity`).

    ``E_N = max(0, raw)``; ``raw < 0`` means no entanglement, and how far below zero.
    ``V`` has shape ``(..., 6, 6)``; each value has shape ``(...)``.
    """
    return {k: log_negativity_raw_block(two_mode_block(V, *pair)) for k, pair in PAIRS.items()}


def steering_block(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian EPR steerability of a two-mode covariance in both directions.

    Kogias, Lee, Ragy, Adesso, PRL 114, 060403 (2015) (the paper's ref. [94]), written for the
    vacuum-1/2 convention: ``G^{A->B} = max(0, (1/2) ln(det A / (4 det W)))`` and the same with
    ``B`` for ``G^{B->A}``; ``A`` (``B``) is the first (second) mode's block.

    Returns
    -------
    (G_ab, G_ba) : tuple of ndarray, shape (...)
    """
    g_ab, g_ba = steering_raw_block(W)
    return np.maximum(0.0, g_ab), np.maximum(0.0, g_ba)


def steering_raw_block(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unclipped ``(1/2) ln(det A / (4 det W))`` and the same with ``B`` (:func:`steering_block`
    is their ``max(0, .)``), each of shape ``(...)``."""
    W = np.asarray(W)
    det_w = 4.0 * np.linalg.det(W)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (0.5 * np.log(np.linalg.det(W[..., :2, :2]) / det_w),
                0.5 * np.log(np.linalg.det(W[..., 2:, 2:]) / det_w))


def steering(V: np.ndarray) -> dict[str, np.ndarray]:
    """Steering both ways for each pair: keys ``"r->m"``, ``"m->r"``, ``"l->m"``, ... ."""
    out = {}
    for a, b in PAIRS.values():
        g_ab, g_ba = steering_block(two_mode_block(V, a, b))
        out[f"{a}->{b}"], out[f"{b}->{a}"] = g_ab, g_ba
    return out


def steering_raw(V: np.ndarray) -> dict[str, np.ndarray]:
    """Unclipped steering both ways for each pair (keys as :func:`steering`;
    ``steering = max(0, raw)``)."""
    out = {}
    for a, b in PAIRS.values():
        out[f"{a}->{b}"], out[f"{b}->{a}"] = steering_raw_block(two_mode_block(V, a, b))
    return out


def purity(V: np.ndarray) -> np.ndarray:
    """Purity ``Tr rho^2 = 1 / (2^N sqrt(det V))`` of an ``N``-mode Gaussian state (vacuum: 1)."""
    V = np.asarray(V)
    n_modes = V.shape[-1] // 2
    return 1.0 / (2.0**n_modes * np.sqrt(np.linalg.det(V)))


def occupation(V: np.ndarray) -> dict[str, np.ndarray]:
    """Mean quanta in the fluctuations of each mode, ``(V_xx + V_yy)/2 - 1/2``.

    For the mechanics this is the phonon number about the displaced steady state; for the optical
    modes it is the photon number in the fluctuations (add ``|alpha|^2`` for the total).
    """
    V = np.asarray(V)
    return {
        name: 0.5 * (V[..., i, i] + V[..., j, j]) - VACUUM_VARIANCE for name, (i, j) in MODES.items()
    }


def symplectic_eigenvalues(V: np.ndarray) -> np.ndarray:
    """Symplectic eigenvalues of ``V`` (each ``>= 1/2`` for a physical state), sorted ascending."""
    V = np.asarray(V)
    omega = symplectic_form(V.shape[-1] // 2)
    ev = np.abs(np.linalg.eigvals(1j * omega @ V))
    return np.sort(ev, axis=-1)[..., ::2]


def uncertainty_violation(V: np.ndarray) -> np.ndarray:
    """Smallest eigenvalue of ``V + i Omega / 2``; negative means ``V`` is not a quantum state."""
    V = np.asarray(V)
    omega = symplectic_form(V.shape[-1] // 2)
    return np.linalg.eigvalsh(V + 0.5j * omega)[..., 0]


#: Round-off allowance of the uncertainty check: ``min eig(V + i Omega/2) >= -rtol * max(1, ||V||)``.
UNCERTAINTY_RTOL = 1e-9


def unphysical_message(V: np.ndarray, *, rtol: float = UNCERTAINTY_RTOL, atol: float = 0.0,
                       what: str = "covariance") -> str | None:
    """``None`` if ``V`` (one ``(2n, 2n)`` covariance) obeys ``V + i Omega/2 >= 0``, else why not.

    The allowance ``max(atol, rtol * max(1, ||V||_2))`` absorbs round-off (``rtol``) and the
    error the covariance is known to carry (``atol``, e.g. a Fock-space truncation error); the
    message names the smallest eigenvalue of ``V + i Omega/2`` and the smallest symplectic
    eigenvalue (``>= 1/2`` allowed).
    """
    V = np.asarray(V, dtype=float)
    lam = float(uncertainty_violation(V))
    allowance = max(float(atol), rtol * max(1.0, float(np.linalg.norm(V, 2))))
    if lam >= -allowance:
        return None
    nu = float(symplectic_eigenvalues(V)[0])
    return (f"the {what} violates the uncertainty principle: smallest eigenvalue of "
            f"V + i Omega/2 is {lam:.3e} < -{allowance:.1e} (smallest symplectic eigenvalue "
            f"{nu:.6f} < 1/2); no quantum state has it")


def summary(V: np.ndarray) -> dict[str, object]:
    """Every covariance-based observable of one ``(6, 6)`` covariance, as plain floats."""
    V = np.asarray(V, dtype=float)
    if V.shape != (6, 6):
        raise ValueError(f"summary needs one (6, 6) covariance, got shape {V.shape}")
    occ = occupation(V)
    return {
        "log_negativity": {k: float(v) for k, v in log_negativity(V).items()},
        "steering": {k: float(v) for k, v in steering(V).items()},
        "phonon_number": float(occ["m"]),
        "fluctuation_photon_number": {"r": float(occ["r"]), "l": float(occ["l"])},
        "purity": float(purity(V)),
        "uncertainty_min_eigenvalue": float(uncertainty_violation(V)),
    }
