"""Control variates: the nonlinear correction to the stationary covariance as a measured quantity.

Alongside every nonlinear trajectory ``x`` (``dx = (A x + N(x)) dt + dW``) the linearised SDE
about the same fixed point, ``dy = A y dt + dW``, is integrated on the *same* noise from the *same*
initial sample. Then

    V_nl = V_Lyapunov + (cov x - cov y),

where ``cov`` is the time-and-ensemble sample covariance. ``y`` is exactly the linear process
(for the exponential integrator, exact in distribution at any step), so ``E[cov y] = V_Lyapunov``
up to the same finite-sample bias as ``cov x``, and the estimator is unbiased to that order.
Because ``x - y = O(N)``, its fluctuations vanish with the nonlinearity: the shift
``dV = V_nl - V_Lyapunov`` and ``dE_N = E_N(V_nl) - E_N(V_Lyapunov)`` are resolved where the plain
estimator (whose error does not shrink with ``N``) sees nothing.

How it runs. The chunk loop integrates an *augmented* system of ``2 d`` variables
``z = (x, w)`` with ``w = x - y`` the difference itself (not ``y``):

    dx = (A x + N(x)) dt + dW,        dw = (A w + N(x)) dt,

i.e. drift ``blockdiag(A, A)``, nonlinearity ``(N(x), N(x))`` and diffusion
``blockdiag(D, 0)``, initial covariance ``blockdiag(V0, 0)`` (``w(0) = 0``: the same sample).
``w`` carries no noise at all, so ``y = x - w`` sees exactly ``x``'s noise, bit for bit, with every
integrator (its step maps ``w -> E w + Phi N(x)``: the difference of the nonlinear and the linear
step on the same noise). The formulation ``z = (x, y)`` with diffusion ``[[D, D], [D, D]]`` is the
same in exact arithmetic, but its step covariance is singular and the eigen-decomposition square
root gives the two halves noise that differs by ~1e-8 relative (``sqrt`` of rounding-level
eigenvalues; measured 6e-9 at ``G0/Gamma = 0.1``), and the shift then comes from the cancellation
of two O(1) sums. With ``w`` nothing cancels and a linear system gives ``w = 0`` exactly.

The chunk loop accumulates ``sum z`` and ``sum z z^T`` per statistical unit (chunk x batch); the
pooled covariance of ``z`` holds ``cov x``, ``cov(x, w)`` and ``cov w``, and
``cov x - cov y = cov(x, w) + cov(w, x) - cov w`` (sample means included, so the mean corrections
are exact). Error bars: delete-one jackknife over the units of this *difference* (and of
``dE_N``), widened by the same Student-t factor as every other error.

Ring-up control variates (``V_nl(t) = V_lin(t) + <x x^T - y y^T>(t)``) are not here yet: they wait
for the ring-up engine to use the same chunk loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..observables import log_negativity
from .estimators import batch_means_stderr, jackknife, max_abs, pooled_covariance, z_scores
from .options import SDEOptions
from .system import LangevinSystem

__all__ = ["ControlRemainder", "control_system", "control_options", "shift_estimate",
           "difference_covariance"]


@dataclass(frozen=True, eq=False)
class ControlRemainder:
    """``N_aug(z) = (N(x), N(x))`` for ``z = (x, w)`` of shape ``(..., 2 d)``.

    Written in the integrators' feature form ``N_aug(z) = F(x) C_aug + c_aug`` with
    ``C_aug = (C | C)`` and ``c_aug = (c, c)`` from the base nonlinearity's ``features``,
    ``feature_matrix`` and ``constant``; a base nonlinearity without features is its own feature
    vector (``F = N``, ``C = I``, ``c = 0``).

    Attributes
    ----------
    base : callable
        ``N(x)`` of the ``d``-variable system.
    dim : int
        ``d``.
    """

    base: Callable[[np.ndarray], np.ndarray]
    dim: int

    def __post_init__(self) -> None:
        d = self.dim
        if hasattr(self.base, "features"):
            C = np.asarray(self.base.feature_matrix, dtype=float)
            c = np.asarray(self.base.constant, dtype=float)
            feat = self.base.features
        else:
            C, c = np.eye(d), np.zeros(d)

            def feat(x, out=None, nl=self.base):
                val = nl(x)
                if out is None:
                    return np.array(val, dtype=float)
                out[...] = val
                return out
        if C.shape[1] != d or c.shape != (d,):
            raise ValueError(f"nonlinearity: feature_matrix {C.shape} / constant {c.shape} do "
                             f"not match the system dimension {d}")
        CC = np.ascontiguousarray(np.hstack([C, C]))
        cc = np.concatenate([c, c])
        CC.flags.writeable = False
        cc.flags.writeable = False
        object.__setattr__(self, "feature_matrix", CC)
        object.__setattr__(self, "constant", cc)
        object.__setattr__(self, "n_features", C.shape[0])
        object.__setattr__(self, "_feat", feat)

    def features(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Features of the nonlinear half ``x = z[..., :d]``, shape ``(..., n_features)``."""
        return self._feat(z[..., : self.dim], out=out)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``(N(x), N(x))``, shape ``(..., 2 d)``."""
        out = self.features(z) @ self.feature_matrix
        out += self.constant
        return out

    def __repr__(self) -> str:
        return f"ControlRemainder({self.base!r})"


def control_system(system: LangevinSystem) -> LangevinSystem:
    """The augmented system of ``z = (x, w = x - y)`` (``2 d`` variables, see the module docstring).

    Examples
    --------
    >>> from simulator import Params
    >>> from simulator.sde import fluctuation_system
    >>> s = fluctuation_system(Params.paper())
    >>> aug = control_system(s)
    >>> aug.dim, bool(np.all(aug.D[6:] == 0))
    (12, True)
    >>> z = np.full((1, 12), 0.3)
    >>> bool(np.allclose(aug.drift(z)[0, 6:], s.drift(z[:, :6])[0]))   # w: A w + N(x), w = x
    True
    """
    d = system.dim
    Z = np.zeros((d, d))
    A = np.block([[system.A, Z], [Z, system.A]])
    D = np.block([[system.D, Z], [Z, Z]])
    nl = None if system.nonlinearity is None else ControlRemainder(system.nonlinearity, d)
    return LangevinSystem(A=A, D=D, nonlinearity=nl, mean=np.concatenate([system.mean, np.zeros(d)]),
                          rates=None, bare_detuning=system.bare_detuning)


def control_options(system: LangevinSystem, options: SDEOptions) -> SDEOptions:
    """Options for the chunk loop on :func:`control_system`: the initial state becomes the
    Gaussian ``(x0, 0)`` with ``x0`` drawn as ``options.initial`` prescribes (thermal, Lyapunov
    or Gaussian; these are Gaussian states) and the divergence bound that of the plain system."""
    from .ensemble import divergence_bound, initial_moments

    d = system.dim
    m0, V0 = initial_moments(system, options)
    cov = np.zeros((2 * d, 2 * d))
    cov[:d, :d] = V0
    mean = np.concatenate([m0, np.zeros(d)])
    return options.replace(
        initial="gaussian", initial_mean=tuple(mean.tolist()),
        initial_covariance=tuple(tuple(r) for r in cov.tolist()),
        bound=divergence_bound(system, options), control_variate=False)


def difference_covariance(Vz: np.ndarray, d: int) -> np.ndarray:
    """``cov x - cov y`` from covariances of ``z = (x, w)`` (shape ``(..., 2d, 2d)``):
    ``cov(x, w) + cov(w, x) - cov(w, w)``, shape ``(..., d, d)``."""
    xw = Vz[..., :d, d:]
    return xw + np.swapaxes(xw, -1, -2) - Vz[..., d:, d:]


def _en_vector(V: np.ndarray) -> np.ndarray:
    en = log_negativity(V)
    return np.stack([en["r_m"], en["l_m"], en["r_l"]], axis=-1)


def shift_estimate(system: LangevinSystem, V_lyapunov: np.ndarray, s1: np.ndarray,
                   s2: np.ndarray, counts: np.ndarray, t_factor: float = 1.0) -> dict[str, Any]:
    """The nonlinear shift from the unit sums of the augmented run.

    Parameters
    ----------
    system : LangevinSystem
        The plain (``d``-variable) system.
    V_lyapunov : ndarray, shape (d, d)
        Stationary covariance of the linearised system.
    s1, s2, counts : ndarray, shapes (n_units, 2d), (n_units, 2d, 2d), (n_units,)
        Unit sums of ``z = (x, w)`` as returned by the chunk loop.
    t_factor : float
        Student-t widening applied to every standard error.

    Returns
    -------
    dict
        ``covariance`` ``dV = V_nl - V_Lyapunov`` (d, d) and ``covariance_stderr``;
        ``controlled_covariance`` ``V_nl`` (d, d); ``mean`` ``<x> - <y>`` (d,) (``<y> = 0``
        exactly, so this is the control-variate mean) and ``mean_stderr``; ``z`` (d, d) and
        ``max_abs_z`` (shift over its error, upper triangle); for the optomechanical system also
        ``log_negativity`` (``E_N(V_nl) - E_N(V_Lyapunov)`` per pair) and
        ``log_negativity_stderr`` (jackknife).
    """
    d = system.dim
    VL = np.asarray(V_lyapunov, dtype=float)
    _, Vz = pooled_covariance(s1, s2, counts)
    iu = np.triu_indices(d)

    def f_cov(V):
        return difference_covariance(V, d)[..., iu[0], iu[1]]

    val, se = jackknife(s1, s2, counts, f_cov)
    dV = np.zeros((d, d))
    dV_se = np.zeros((d, d))
    dV[iu], dV_se[iu] = val, t_factor * se
    dV = dV + np.triu(dV, 1).T
    dV_se = dV_se + np.triu(dV_se, 1).T
    s1_tot = s1.sum(axis=0)
    mean = s1_tot[d:] / counts.sum()
    se_m, _ = batch_means_stderr(s1, s2, counts)
    z = z_scores(dV, dV_se, np.zeros((d, d)))
    out: dict[str, Any] = {
        "covariance": dV, "covariance_stderr": dV_se, "controlled_covariance": VL + dV,
        "mean": mean, "mean_stderr": t_factor * se_m[d:], "z": z,
        "max_abs_z": max_abs(z[iu]),
    }
    if d == 6 and system.rates is not None:
        en_L = _en_vector(VL)

        def f_en(V):
            return _en_vector(VL + difference_covariance(V, d)) - en_L

        en, en_se = jackknife(s1, s2, counts, f_en)
        keys = ("r_m", "l_m", "r_l")
        out["log_negativity"] = {k: float(v) for k, v in zip(keys, en)}
        out["log_negativity_stderr"] = {k: float(t_factor * v) for k, v in zip(keys, en_se)}
    return out
