"""The model in dimensionless units: rates, mean field, drift and diffusion (paper Eqs. 3-11).

Everything here is in units of the mechanical frequency: rates are divided by ``omega_m`` and
time is measured in ``1/omega_m``. All functions broadcast over array-valued :class:`Rates`, so a
sweep over a grid of parameters is a single call (shapes ``(...)`` below are the grid shape).

Conventions are in :mod:`simulator.conventions`; the drift matrix is derived from the nonlinear
Langevin equations (Eq. 3), which fixes the sign of the ``J+`` entries that the printed Eq. 9 has
reversed (see the README, "Departures from the printed paper").
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .conventions import SQRT2, VACUUM_VARIANCE, amplitude, quadratures
from .params import (Params, ParameterError, check_angle, check_array, drive_amplitude,
                     scattering, single_photon_coupling, thermal_occupation, total_decay)

__all__ = [
    "Rates",
    "MeanField",
    "mean_field",
    "drift_matrix",
    "drift_matrix_along",
    "drift_matrix_about",
    "coupling",
    "static_stiffness",
    "initial_covariance",
    "diffusion_matrix",
    "loss_matrix",
    "nonlinear_drift",
    "nonlinear_tensors",
    "transmission",
]


@dataclass(frozen=True)
class Rates:
    """Model coefficients in units of ``omega_m``; each field broadcasts to a grid shape.

    Attributes
    ----------
    delta : ndarray
        Effective detuning ``Delta / omega_m`` (paper's ``Delta = Delta_a - G0 q_s``).
    delta_J : ndarray
        Common scatterer shift ``Re(sum eps_j + eta) / omega_m``.
    j1, j2 : ndarray of complex
        Backscattering rates ``J1 / omega_m``, ``J2 / omega_m`` (complex: the Hamiltonian
        coupling plus the off-diagonal part of the scatterers' loss matrix, see ``loss_12``).
    Gamma, kappa_ex, gamma_m, g0 : ndarray
        Total optical decay, external decay, mechanical damping, single-photon coupling,
        all divided by ``omega_m``.
    drive : ndarray
        Drive amplitude ``E / omega_m`` (the square root of a photon number per ``1/omega_m``).
    n_m : ndarray
        Thermal phonon number of the bath.
    damping : str
        ``"brownian"`` or ``"rwa"`` (one model for the whole grid).
    gamma_J : ndarray
        Extra optical loss of the scatterers on the diagonal, ``-Im(sum eps_j + eta) / omega_m``
        (>= 0; 0 for real scatterers). Each mode decays at ``Gamma + gamma_J``.
    loss_12 : ndarray of complex
        Off-diagonal element of the scatterers' loss matrix,
        ``L_12 = sum_j gamma_j exp(-2i m beta_j) / omega_m`` with ``gamma_j = -Im eps_j`` (the
        nanoparticle included); ``J1 = H_12 - i L_12`` and ``J2 = conj(H_12) - i conj(L_12)``.
        See :func:`loss_matrix` and ``docs/conventions.md``.
    """

    delta: np.ndarray
    delta_J: np.ndarray
    j1: np.ndarray
    j2: np.ndarray
    Gamma: np.ndarray
    kappa_ex: np.ndarray
    gamma_m: np.ndarray
    g0: np.ndarray
    drive: np.ndarray
    n_m: np.ndarray
    damping: str
    gamma_J: np.ndarray = 0.0
    loss_12: np.ndarray = 0.0

    @classmethod
    def from_params(cls, params: Params, **grid: Any) -> "Rates":
        """Rates of ``params``, with any real field replaced by an array (SI units) for sweeps.

        Parameters
        ----------
        params : Params
            Base point.
        **grid : array_like
            Field names of :class:`Params` (``detuning``, ``beta``, ``eta``, ``power``,
            ``temperature``, ``kappa_0``, ...) mapped to arrays that broadcast together. ``eps``
            replaces the strength of the single defect (an error if there is not exactly one).

        Examples
        --------
        >>> import numpy as np
        >>> p = Params.paper()
        >>> r = Rates.from_params(p, beta=np.linspace(0, np.pi / 4, 5))
        >>> r.j1.shape
        (5,)
        """
        names = {f.name for f in dataclasses.fields(Params)} - {"defects", "m", "damping"}
        unknown = sorted(set(grid) - names - {"eps"})
        if unknown:
            raise ParameterError(
                f"cannot sweep {unknown}; sweepable: {sorted(names | {'eps'})} (SI units)"
            )

        def get(name: str) -> np.ndarray:
            if name in grid:
                values = check_array(name, grid[name], complex_ok=(name == "eta"))
                if name == "beta":  # as Params: no angle a float cannot hold
                    worst = float(np.abs(values).max()) if values.size else 0.0
                    check_angle(f"{name} (in a sweep)", worst, params.m)
                return values
            return np.asarray(getattr(params, name))

        defects = [(np.asarray(e), np.asarray(b)) for e, b in params.defects]
        if "eps" in grid:
            if len(defects) != 1:
                raise ParameterError(
                    f"eps: sweeping the defect strength needs exactly one defect, "
                    f"the parameters have {len(defects)}"
                )
            defects = [(check_array("eps", grid["eps"], complex_ok=True), defects[0][1])]
        for name, strength in [("eps", e) for e, _ in defects] + [("eta", get("eta"))]:
            if np.any(np.imag(strength) > 0.0):
                bad = np.asarray(strength)[np.imag(strength) > 0.0].ravel()[0]
                raise ParameterError(
                    f"{name} = {bad!r} (in a sweep): Im > 0 is gain, which the model refuses; "
                    "a scatterer g - i gamma needs gamma >= 0 (its loss matrix "
                    "gamma [[1, e^(-2i m beta)], [e^(2i m beta), 1]] must be positive semidefinite)"
                )
        om = params.omega_m if "omega_m" not in grid else get("omega_m")
        sc = scattering(defects, get("eta"), get("beta"), params.m)
        kappa_0, kappa_ex = get("kappa_0"), get("kappa_ex")
        detuning, power, omega_c = get("detuning"), get("power"), get("omega_c")
        drive = drive_amplitude(kappa_ex, power, omega_c, detuning)
        g0 = single_photon_coupling(omega_c, get("radius"), get("mass"), om)
        n_m = thermal_occupation(get("temperature"), om)
        return cls(
            delta=detuning / om,
            delta_J=sc.delta_J / om,
            j1=sc.j1 / om,
            j2=sc.j2 / om,
            Gamma=total_decay(kappa_0, kappa_ex) / om,
            kappa_ex=kappa_ex / om,
            gamma_m=get("gamma_m") / om,
            g0=g0 / om,
            drive=drive / om,
            n_m=n_m,
            damping=params.damping,
            gamma_J=sc.gamma_J / om + 0.0,
            loss_12=sc.loss_12 / om,
        )

    @functools.cached_property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the grid (``()`` for a single point); computed once (the fields are
        frozen; a mean-field path asks for it at every step: 20 us a time, measured)."""
        return np.broadcast_shapes(*(np.shape(getattr(self, f.name))
                                     for f in dataclasses.fields(self) if f.name != "damping"))


@dataclass(frozen=True)
class MeanField:
    """Steady-state mean values (paper Eq. 10), dimensionless units, grid-shaped arrays.

    Attributes
    ----------
    alpha_r, alpha_l : ndarray of complex
        Mean intracavity amplitudes (``|alpha|^2`` is the photon number).
    q, p : ndarray
        Mean mechanical displacement ``q_s`` and momentum ``p_s`` (0 for Brownian damping).
    effective_detuning : ndarray
        ``Delta / omega_m``.
    bare_detuning : ndarray
        ``Delta_a / omega_m = Delta / omega_m + g0 q_s``: the laser detuning a time-domain run uses.
    """

    alpha_r: np.ndarray
    alpha_l: np.ndarray
    q: np.ndarray
    p: np.ndarray
    effective_detuning: np.ndarray
    bare_detuning: np.ndarray

    @property
    def photon_number(self) -> dict[str, np.ndarray]:
        """Mean-field photon numbers ``{"r": |alpha_r|^2, "l": |alpha_l|^2}``."""
        return {"r": np.abs(self.alpha_r) ** 2, "l": np.abs(self.alpha_l) ** 2}

    def vector(self) -> np.ndarray:
        """The mean as a phase-space vector ``(X_r, Y_r, X_l, Y_l, q, p)``, shape ``(..., 6)``."""
        return np.stack(
            np.broadcast_arrays(*quadratures(self.alpha_r), *quadratures(self.alpha_l),
                                self.q, self.p),
            axis=-1,
        )


def static_stiffness(rates: Rates):
    """Static mechanical stiffness ``k`` with ``q_s = g0 (|alpha_r|^2 + |alpha_l|^2) / k``:
    1 for Brownian damping, ``1 + gamma_m^2 / 4`` for RWA damping (which also damps ``q``)."""
    return 1.0 + 0.25 * rates.gamma_m**2 if rates.damping == "rwa" else 1.0


def mean_field(rates: Rates) -> MeanField:
    """Explicit mean field at the effective detuning (paper Eq. 10).

    ``alpha_r = (i Dt + Gamma) E / ((i Dt + Gamma)^2 + J1 J2)``,
    ``alpha_l = -i J2 E / (...)``, ``q_s = g0 (|alpha_r|^2 + |alpha_l|^2)``, ``p_s = 0``,
    ``Dt = Delta + Delta_J``; lossy scatterers add their diagonal loss, ``Gamma -> Gamma + gamma_J``
    (``J1``, ``J2`` already hold their off-diagonal loss). With RWA damping (which also damps ``q``) the mechanical fixed point
    is ``p_s = gamma_m q_s / 2`` with ``q_s (1 + gamma_m^2/4) = g0 (|alpha_r|^2 + |alpha_l|^2)``.
    """
    dtilde = rates.delta + rates.delta_J
    z = 1j * dtilde + (rates.Gamma + rates.gamma_J)
    den = z * z + rates.j1 * rates.j2
    alpha_r = z * rates.drive / den
    alpha_l = -1j * rates.j2 * rates.drive / den
    force = rates.g0 * (np.abs(alpha_r) ** 2 + np.abs(alpha_l) ** 2)
    q = force / static_stiffness(rates)
    # RWA damping also damps q: p_s = gamma_m q_s / 2
    p = np.zeros_like(force) if rates.damping == "brownian" else 0.5 * rates.gamma_m * q
    return MeanField(
        alpha_r=alpha_r,
        alpha_l=alpha_l,
        q=q,
        p=p,
        effective_detuning=np.asarray(rates.delta) + 0.0 * q,
        bare_detuning=rates.delta + rates.g0 * q,
    )


def drift_matrix_along(rates: Rates, alpha_r, alpha_l, dtilde) -> np.ndarray:
    """Drift matrix of the fluctuations about any mean-field point ``(alpha_r, alpha_l, q)``.

    Linearising Eq. 3 about a (possibly time-dependent) mean field gives ``du/dt = A u + noise``
    with the optical detuning ``dtilde = Delta_a + Delta_J - g0 q`` (units of ``omega_m``; not a
    time step) and couplings
    ``G_j = sqrt(2) g0 alpha_j``; each optical mode decays at ``Gamma + gamma_J`` (the scatterers'
    diagonal loss), and the complex ``J1``, ``J2`` hold the Hamiltonian and the off-diagonal loss.

    Returns
    -------
    A : ndarray, shape (..., 6, 6)
        In units of ``omega_m``; order ``(X_r, Y_r, X_l, Y_l, q, p)``.
    """
    alpha_r, alpha_l, dtilde = np.broadcast_arrays(alpha_r, alpha_l, dtilde)
    shape = np.broadcast_shapes(alpha_r.shape, rates.shape)
    A = np.zeros(shape + (6, 6))
    gam = rates.Gamma + rates.gamma_J
    g_r, g_l = coupling(rates, alpha_r), coupling(rates, alpha_l)
    j1, j2 = rates.j1, rates.j2
    # CW mode: (-i dtilde - Gamma) a_r - i J1 a_l + i g0 alpha_r q
    A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1] = -gam, dtilde, -dtilde, -gam
    A[..., 0, 2], A[..., 0, 3] = np.imag(j1), np.real(j1)
    A[..., 1, 2], A[..., 1, 3] = -np.real(j1), np.imag(j1)
    A[..., 0, 4], A[..., 1, 4] = -g_r.imag, g_r.real
    # CCW mode: (-i dtilde - Gamma) a_l - i J2 a_r + i g0 alpha_l q
    A[..., 2, 2], A[..., 2, 3], A[..., 3, 2], A[..., 3, 3] = -gam, dtilde, -dtilde, -gam
    A[..., 2, 0], A[..., 2, 1] = np.imag(j2), np.real(j2)
    A[..., 3, 0], A[..., 3, 1] = -np.real(j2), np.imag(j2)
    A[..., 2, 4], A[..., 3, 4] = -g_l.imag, g_l.real
    # Mechanics: dq = p, dp = -q + g0 (|a_r|^2 + |a_l|^2) - damping
    A[..., 4, 5], A[..., 5, 4] = 1.0, -1.0
    A[..., 5, 0], A[..., 5, 1], A[..., 5, 2], A[..., 5, 3] = g_r.real, g_r.imag, g_l.real, g_l.imag
    if rates.damping == "brownian":
        A[..., 5, 5] = -rates.gamma_m
    else:
        A[..., 4, 4] = A[..., 5, 5] = -0.5 * rates.gamma_m
    return A


def drift_matrix_about(rates: Rates, u, bare_detuning) -> np.ndarray:
    """:func:`drift_matrix_along` about full phase-space amplitudes ``u``, shape ``(..., 6)``
    (a point of a mean-field path), at the laser detuning ``bare_detuning = Delta_a / omega_m``:
    ``alpha_j = (X_j + i Y_j)/sqrt(2)`` and optical detuning ``Delta_a + Delta_J - g0 q``."""
    u = np.asarray(u)
    return drift_matrix_along(rates, amplitude(u[..., 0], u[..., 1]),
                              amplitude(u[..., 2], u[..., 3]),
                              bare_detuning + rates.delta_J - rates.g0 * u[..., 4])


def coupling(rates: Rates, alpha):
    """Optomechanical coupling ``G = sqrt(2) g0 alpha`` (units of ``omega_m``) of a mean
    amplitude ``alpha`` (complex; pass ``|alpha|`` for ``|G|``)."""
    return SQRT2 * rates.g0 * alpha


def initial_covariance(n_m=0.0) -> np.ndarray:
    """Covariance of the optical vacuum and a thermal mechanics with ``n_m`` quanta.

    ``diag(1/2, 1/2, 1/2, 1/2, n_m + 1/2, n_m + 1/2)`` (the vacuum for ``n_m = 0``), shape
    ``(6, 6)``; the state every time-domain run (SDE, ring-up, master equation) starts from.
    """
    v = VACUUM_VARIANCE
    return np.diag([v, v, v, v, n_m + v, n_m + v])


def drift_matrix(rates: Rates, mf: MeanField | None = None) -> np.ndarray:
    """Drift matrix ``A`` at the steady state (the consistent form of paper Eq. 9).

    Returns
    -------
    A : ndarray, shape (..., 6, 6)
        In units of ``omega_m``.
    """
    mf = mean_field(rates) if mf is None else mf
    return drift_matrix_along(rates, mf.alpha_r, mf.alpha_l, rates.delta + rates.delta_J)


def diffusion_matrix(rates: Rates) -> np.ndarray:
    """Diffusion matrix ``D`` with ``<v_k(t) v_l(t') + v_l v_k>/2 = D_kl delta(t - t')``.

    ``D = diag(Gamma, Gamma, Gamma, Gamma, 0, gamma_m (2 n_m + 1))`` for Brownian damping (the
    paper prints ``(n_m + 1/2) gamma_m``, a factor 2 short of its own Eq. 5), and
    ``diag(Gamma, Gamma, Gamma, Gamma, gamma_m (n_m + 1/2), gamma_m (n_m + 1/2))`` for the RWA bath.

    Lossy scatterers are vacuum loss channels with loss matrix ``L`` (:func:`loss_matrix`), so the
    optical block gains the real form of ``L`` (fluctuation-dissipation: the vacuum ``I/2`` stays
    a solution of the optical Lyapunov equation):
    ``D[X_i, X_j] = D[Y_i, Y_j] += Re L_ij``, ``D[X_i, Y_j] += -Im L_ij`` (``i, j`` in ``r, l``).

    Returns
    -------
    D : ndarray, shape (..., 6, 6)
    """
    D = np.zeros(rates.shape + (6, 6))
    for k in range(4):
        D[..., k, k] = rates.Gamma + rates.gamma_J
    re12, im12 = np.real(rates.loss_12), np.imag(rates.loss_12)
    D[..., 0, 2] = D[..., 2, 0] = D[..., 1, 3] = D[..., 3, 1] = re12
    D[..., 0, 3] = D[..., 3, 0] = -im12
    D[..., 1, 2] = D[..., 2, 1] = im12
    if rates.damping == "brownian":
        D[..., 5, 5] = rates.gamma_m * (2.0 * rates.n_m + 1.0)
    else:
        D[..., 4, 4] = D[..., 5, 5] = rates.gamma_m * (rates.n_m + 0.5)
    return D


def loss_matrix(rates: Rates) -> np.ndarray:
    """Loss matrix of the scattering channels in the mode basis ``(a_r, a_l)``.

    ``L = sum_j gamma_j [[1, e^{-2i m beta_j}], [e^{2i m beta_j}, 1]]`` (nanoparticle included),
    ``gamma_j = -Im eps_j``: Hermitian and positive semidefinite. The optical amplitudes obey
    ``da/dt = -i (Dt + H_s) a - (Gamma + L) a + ...`` with ``H_s`` the Hermitian part of the
    scatterers' coupling; ``L`` is the anti-Hermitian part (``M = H_s - i L``).

    Returns
    -------
    L : ndarray of complex, shape (..., 2, 2)
        Units of ``omega_m``.
    """
    shape = np.broadcast_shapes(np.shape(rates.gamma_J), np.shape(rates.loss_12))
    L = np.zeros(shape + (2, 2), dtype=complex)
    L[..., 0, 0] = L[..., 1, 1] = rates.gamma_J
    L[..., 0, 1] = rates.loss_12
    L[..., 1, 0] = np.conj(rates.loss_12)
    return L


def nonlinear_drift(
    rates: Rates,
    u: np.ndarray,
    bare_detuning,
    *,
    drive_scale=1.0,
    wigner_correction: bool = True,
) -> np.ndarray:
    """Deterministic part of the nonlinear Langevin equations (Eq. 3) in phase-space form.

    ``da_r/dt = (-i Delta_c - Gamma) a_r - i J1 a_l + i g0 a_r q + E``,
    ``da_l/dt = (-i Delta_c - Gamma) a_l - i J2 a_r + i g0 a_l q``, ``dq/dt = p`` and
    (``Gamma + gamma_J`` in place of ``Gamma`` with lossy scatterers)
    ``dp/dt = -q - gamma_m p + g0 (|a_r|^2 + |a_l|^2 - c)`` (Brownian; RWA damps q and p by
    ``gamma_m/2`` each), where ``Delta_c = Delta_a + Delta_J`` and ``c = 1`` with the symmetric-order
    (truncated Wigner) correction, ``c = 0`` for the plain mean-field equations.

    Parameters
    ----------
    rates : Rates
    u : ndarray, shape (..., 6)
        Full (not fluctuation) phase-space amplitudes ``(X_r, Y_r, X_l, Y_l, q, p)``.
    bare_detuning : float or ndarray
        ``Delta_a / omega_m``.
    drive_scale : float or ndarray
        Factor multiplying ``E`` (a ramp envelope for ring-up runs).
    wigner_correction : bool

    Returns
    -------
    du/dt : ndarray, shape (..., 6)
    """
    u = np.asarray(u, dtype=float)
    a_r, a_l = amplitude(u[..., 0], u[..., 1]), amplitude(u[..., 2], u[..., 3])
    q, p = u[..., 4], u[..., 5]
    dc = bare_detuning + rates.delta_J
    rot = -1j * (dc - rates.g0 * q) - (rates.Gamma + rates.gamma_J)
    da_r = rot * a_r - 1j * rates.j1 * a_l + drive_scale * rates.drive
    da_l = rot * a_l - 1j * rates.j2 * a_r
    force = rates.g0 * (np.abs(a_r) ** 2 + np.abs(a_l) ** 2 - (1.0 if wigner_correction else 0.0))
    if rates.damping == "brownian":
        dq, dp = p, -q - rates.gamma_m * p + force
    else:
        dq, dp = p - 0.5 * rates.gamma_m * q, -q - 0.5 * rates.gamma_m * p + force
    return np.stack(
        np.broadcast_arrays(*quadratures(da_r), *quadratures(da_l), dq, dp),
        axis=-1,
    )


def _unit_tensors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``c, Q, T`` of the model per unit ``g0`` (order ``(X_r, Y_r, X_l, Y_l, q, p)``)."""
    c = np.zeros(6)
    Q = np.zeros((6, 6, 6))
    T = np.zeros((6, 6, 6))
    c[5] = -1.0  # g0 (|a_r|^2 + |a_l|^2 - 1): each a^dag a -> |a|^2 - 1/2 (Weyl symbol)
    for x, y in ((0, 1), (2, 3)):
        # da/dt ⊃ i g0 a q: dX/dt ⊃ -g0 Y q, dY/dt ⊃ +g0 X q
        Q[x, y, 4] = Q[x, 4, y] = -0.5
        Q[y, x, 4] = Q[y, 4, x] = 0.5
        for k in (x, y):
            Q[5, k, k] = 0.5  # dp/dt ⊃ g0 (X^2 + Y^2) / 2
            # (g0/8) d_k d_k d_p W: the symmetric tensor has 3 placements, each g0/24
            T[k, k, 5] = T[k, 5, k] = T[5, k, k] = 1.0 / 24.0
    return c, Q, T


_C, _Q, _T = _unit_tensors()


def nonlinear_tensors(g0, *, quantum: bool = True
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Constant, quadratic and third-order terms of the Wigner equation about the mean field.

    ``d_t W = -d_i[(c_i + A_ij u_j + Q_ijk u_j u_k) W] + (1/2) D_ij d_i d_j W
    + T_ijk d_i d_j d_k W`` (:mod:`simulator.closure`), with, per optical mode ``(X, Y)``,
    ``dX/dt ⊃ -g0 Y q``, ``dY/dt ⊃ g0 X q``, ``dp/dt ⊃ g0 (X^2 + Y^2)/2``, the constant
    ``dp/dt ⊃ -g0`` (symmetric ordering of both ``a^dag a``) and the Moyal term
    ``(g0/8)(d_X^2 + d_Y^2) d_p W``.

    Parameters
    ----------
    g0 : float or ndarray, shape S
        ``G0 / omega_m``.
    quantum : bool
        Include ``T`` (``False``: truncated Wigner, ``T`` is ``None``).

    Returns
    -------
    c : ndarray, shape S + (6,)
    Q : ndarray, shape S + (6, 6, 6)
    T : ndarray, shape S + (6, 6, 6), or None
    """
    g = np.asarray(g0, float)[..., None]
    return (g * _C, g[..., None, None] * _Q,
            g[..., None, None] * _T if quantum else None)


def transmission(rates: Rates) -> np.ndarray:
    """Normalised transmission (paper Eq. 14), from ``a_out = a_in - sqrt(2 kappa_ex) alpha_r``.

    ``T = |1 - 2 kappa_ex (i Dt + Gamma) / ((i Dt + Gamma)^2 + J1 J2)|^2``, independent of power;
    lossy scatterers add ``gamma_J`` to ``Gamma``.
    """
    z = 1j * (rates.delta + rates.delta_J) + (rates.Gamma + rates.gamma_J)
    return np.abs(1.0 - 2.0 * rates.kappa_ex * z / (z * z + rates.j1 * rates.j2)) ** 2
