"""The stochastic system integrated by the SDE engine: fluctuations about the mean field.

Writing ``a_j = alpha_j + delta a_j`` and ``q = q_s + delta q`` in the truncated-Wigner form of
paper Eq. 3 is an exact change of variables. The mean-field terms cancel at the fixed point and the
fluctuation vector ``x = u - u_s`` (order ``(X_r, Y_r, X_l, Y_l, q, p)``, dimensionless units,
time in ``1/omega_m``) obeys

    dx = (A x + N(x)) dt + dW,      <dW dW^T> = D dt,

with ``A`` the drift matrix at the fixed point (or, for a time-dependent system such as the
ring-up, ``A(t)`` along a mean-field path: ``LangevinSystem(drift_at=...)``) (:func:`simulator.model.drift_matrix`), ``D`` the
diffusion matrix (:func:`simulator.model.diffusion_matrix`; not diagonal with lossy scatterers,
whose shared vacuum channels correlate the CW and CCW noise: the integrators draw ``dW`` through a
matrix square root of ``D``, see ``docs/conventions.md``) and the nonlinear remainder, every term
of Eq. 3 kept,

    N(x) = g0 * (-dq dY_r, dq dX_r, -dq dY_l, dq dX_l, 0,
                 (dX_r^2 + dY_r^2 + dX_l^2 + dY_l^2)/2 - c),

where ``c = 1`` is the symmetric-ordering (Wigner) correction of the radiation-pressure force
(``a^dag a -> |a|^2 - 1/2`` per mode) and ``c = 0`` the plain c-number equations. Every term is
O(1) near the steady state, so nothing is lost under the O(1e4-1e5) mean amplitudes.

:class:`LangevinSystem` is dimension-generic (``d`` variables): the integrators only use ``A``,
``D`` and the callable nonlinearity, so exactly solvable test systems (an Ornstein-Uhlenbeck
process, a thermal oscillator) run through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..model import Rates, diffusion_matrix, drift_matrix, mean_field
from ..params import Params

__all__ = ["OptomechanicalRemainder", "LangevinSystem", "UnstableSystemError", "fluctuation_system"]


class UnstableSystemError(ValueError):
    """The drift matrix has an eigenvalue with non-negative real part (no stationary state)."""


@dataclass(frozen=True)
class OptomechanicalRemainder:
    """The nonlinear remainder ``N(x)`` of the fluctuation equations (see the module docstring).

    Attributes
    ----------
    g0 : float
        Single-photon coupling ``G0 / omega_m``.
    offset : float
        ``c``: 1 with the truncated-Wigner correction of the force, 0 without.
    """

    g0: float
    offset: float = 1.0

    #: Number of quadratic features (see :meth:`features`).
    n_features = 8

    def __post_init__(self) -> None:
        # N(x) = features(x) @ feature_matrix + constant,
        # features = (q X_r, q Y_r, q X_l, q Y_l, X_r^2, Y_r^2, X_l^2, Y_l^2).
        C = np.zeros((8, 6))
        g = self.g0
        C[1, 0], C[0, 1], C[3, 2], C[2, 3] = -g, g, -g, g  # -q Y_r, q X_r, -q Y_l, q X_l
        C[4:8, 5] = 0.5 * g  # (X_r^2 + Y_r^2 + X_l^2 + Y_l^2) / 2 -> force
        C.flags.writeable = False
        const = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -g * self.offset])
        const.flags.writeable = False
        object.__setattr__(self, "feature_matrix", C)
        object.__setattr__(self, "constant", const)

    @classmethod
    def of(cls, rates: Rates, *, wigner_correction: bool = True) -> "OptomechanicalRemainder":
        """The remainder of the model ``rates`` (a single point), with or without the
        truncated-Wigner offset ``c = 1``."""
        return cls(g0=float(rates.g0), offset=1.0 if wigner_correction else 0.0)

    def features(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Quadratic features ``(q X_r, q Y_r, q X_l, q Y_l, X_r^2, Y_r^2, X_l^2, Y_l^2)`` of
        ``x (..., 6)``, shape ``(..., 8)``."""
        if out is None:
            out = np.empty(x.shape[:-1] + (8,))
        opt = x[..., :4]
        np.multiply(opt, x[..., 4:5], out=out[..., :4])
        np.multiply(opt, opt, out=out[..., 4:])
        return out

    def bound_features(self, x: np.ndarray, out: np.ndarray):
        """A function of no arguments that writes :meth:`features` of ``x (n, 6)`` into
        ``out (n, 8)``, for arrays kept between steps (the views are made once: measured 3.6 ->
        1.2 us a call for a few trajectories). Same numbers as :meth:`features`."""
        opt, q, bilinear, squares = x[..., :4], x[..., 4:5], out[..., :4], out[..., 4:]
        multiply = np.multiply

        def features() -> None:
            multiply(opt, q, out=bilinear)
            multiply(opt, opt, out=squares)
        return features

    def array_features(self, x, xp=np):
        """:meth:`features` written with array operators only, for any array library ``xp``
        with numpy's API (``jax.numpy`` for the JAX backend, :mod:`simulator.sde.jax_backend`):
        ``x (..., 6)`` to ``(..., 8)``. The numbers equal :meth:`features` (tested)."""
        opt = x[..., :4]
        return xp.concatenate([opt * x[..., 4:5], opt * opt], axis=-1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``N(x)``; ``x`` and the result have shape ``(..., 6)``."""
        out = self.features(x) @ self.feature_matrix
        out += self.constant
        return out


@dataclass(frozen=True, eq=False)
class LangevinSystem:
    """``dx = (A x + N(x)) dt + dW`` with ``<dW dW^T> = D dt``, in ``d`` variables.

    Attributes
    ----------
    A : ndarray, shape (d, d)
        Linear drift (units of ``omega_m``).
    D : ndarray, shape (d, d)
        Symmetric positive semi-definite diffusion matrix (units of ``omega_m``).
    nonlinearity : callable or None
        ``N(x)`` for ``x`` of shape ``(n, d)``; ``None`` for a linear system.
    mean : ndarray, shape (d,)
        The point the fluctuations are measured from (the mean-field fixed point ``u_s`` for the
        optomechanical system, zeros otherwise); full amplitudes are ``mean + x``.
    rates : Rates or None
        The model coefficients, when built from parameters.
    bare_detuning : float or None
        Laser detuning ``Delta_a / omega_m`` of the fixed point.
    drift_at : callable or None
        Time-dependent drift ``A(t)``: maps times ``t (k,)`` (``1/omega_m``) to matrices
        ``(k, d, d)``, vectorised and picklable (it travels to joblib workers). ``None``: the
        constant ``A`` (a stationary system). With ``drift_at`` given, ``A`` is ``A(0)`` and
        ``eigenvalues``/``stable`` describe that matrix only; the integrators evaluate
        ``A(t)`` at their own nodes (see :mod:`simulator.sde.integrators`).
    """

    A: np.ndarray
    D: np.ndarray
    nonlinearity: Callable[[np.ndarray], np.ndarray] | None = None
    mean: np.ndarray | None = None
    rates: Rates | None = None
    bare_detuning: float | None = None
    drift_at: Callable[[np.ndarray], np.ndarray] | None = None
    eigenvalues: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        A = np.array(self.A, dtype=float)
        D = np.array(self.D, dtype=float)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A: must be a square matrix, got shape {A.shape}")
        if D.shape != A.shape:
            raise ValueError(f"D: must have the shape of A {A.shape}, got {D.shape}")
        if not np.allclose(D, D.T, rtol=0, atol=1e-12 * max(1.0, np.abs(D).max())):
            raise ValueError("D: must be symmetric")
        if np.linalg.eigvalsh(D).min() < -1e-12 * max(1.0, np.abs(D).max()):
            raise ValueError("D: must be positive semi-definite")
        A.flags.writeable = False
        D.flags.writeable = False
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "D", D)
        mean = np.zeros(A.shape[0]) if self.mean is None else np.array(self.mean, dtype=float)
        object.__setattr__(self, "mean", mean)
        eig = np.linalg.eigvals(A)
        object.__setattr__(self, "eigenvalues", eig[np.argsort(-eig.real, kind="stable")])

    @property
    def dim(self) -> int:
        """Number of variables ``d``."""
        return self.A.shape[0]

    @property
    def time_dependent(self) -> bool:
        """``A`` depends on time (``drift_at`` given)."""
        return self.drift_at is not None

    def drift_matrices(self, t: np.ndarray) -> np.ndarray:
        """``A(t)`` at times ``t (k,)``, shape ``(k, d, d)`` (the constant ``A`` repeated for a
        stationary system).

        Raises
        ------
        ValueError
            ``drift_at`` returned another shape or non-finite entries.
        """
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if self.drift_at is None:
            return np.broadcast_to(self.A, (len(t),) + self.A.shape)
        A = np.asarray(self.drift_at(t), dtype=float)
        if A.shape != (len(t),) + self.A.shape:
            raise ValueError(f"drift_at: returned shape {A.shape} for {len(t)} time(s); "
                             f"expected {(len(t),) + self.A.shape}")
        if not np.isfinite(A).all():
            raise ValueError("drift_at: non-finite drift matrix A(t)")
        return A

    @property
    def stable(self) -> bool:
        """Every eigenvalue of ``A`` has a negative real part."""
        return bool(self.eigenvalues.real.max() < 0.0)

    @property
    def slowest_rate(self) -> float:
        """``-max Re(lambda)`` of ``A`` (units of ``omega_m``)."""
        return float(-self.eigenvalues.real.max())

    def drift(self, x: np.ndarray) -> np.ndarray:
        """``A x + N(x)`` for ``x`` of shape ``(..., d)``."""
        out = x @ self.A.T
        if self.nonlinearity is not None:
            out += self.nonlinearity(x)
        return out

    def check_stable(self) -> None:
        """Raise :class:`UnstableSystemError` naming the offending eigenvalue(s)."""
        if not self.stable:
            bad = self.eigenvalues[self.eigenvalues.real >= 0.0]
            text = ", ".join(f"{e.real:+.6e}{e.imag:+.6e}i" for e in bad)
            raise UnstableSystemError(
                f"the drift matrix A has eigenvalue(s) with non-negative real part: {text} "
                "(units of omega_m); there is no stationary state. Pass allow_unstable=True "
                "(--allow-unstable) to integrate anyway."
            )


def fluctuation_system(params: Params, *, wigner_correction: bool = True) -> LangevinSystem:
    """The fluctuation equations of ``params`` about its mean-field fixed point.

    Parameters
    ----------
    params : Params
        The fixed point is the one at ``params.detuning`` (effective detuning, Eq. 10).
    wigner_correction : bool
        Keep the ``-G0`` symmetric-ordering term of the force (truncated Wigner). Without it the
        equations are the plain c-number Langevin equations.

    Returns
    -------
    LangevinSystem
        With ``mean`` the fixed point ``(X_r, Y_r, X_l, Y_l, q_s, 0)`` and ``bare_detuning``
        ``Delta_a / omega_m = Delta / omega_m + g0 q_s``.

    Examples
    --------
    >>> from simulator import Params
    >>> import numpy as np
    >>> s = fluctuation_system(Params.paper())
    >>> s.dim, bool(s.stable)
    (6, True)
    >>> x = np.full((1, 6), 0.3)          # drift of u_s + x equals A x + N(x)
    >>> from simulator.model import nonlinear_drift
    >>> full = nonlinear_drift(s.rates, s.mean + x, s.bare_detuning)
    >>> bool(np.allclose(full, s.drift(x), atol=1e-6))
    True
    """
    rates = Rates.from_params(params)
    mf = mean_field(rates)
    A = drift_matrix(rates, mf)
    D = diffusion_matrix(rates)
    remainder = OptomechanicalRemainder.of(rates, wigner_correction=wigner_correction)
    return LangevinSystem(
        A=A, D=D, nonlinearity=remainder, mean=mf.vector(), rates=rates,
        bare_detuning=float(mf.bare_detuning),
    )
