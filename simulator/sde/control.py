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

Second order. ``x - y`` is ``O(N)``, so the first-order estimator's error shrinks only like the
nonlinearity ``g`` while the shift it measures is ``O(g^2)`` (the ``O(g)`` term
``<y x1^T + x1 y^T>`` averages to zero): its relative error does not improve as ``g -> 0``. For an
*even* remainder (``N(-x) = N(x)``: quadratic plus constant, as the optomechanical one) that
``O(g)`` term is itself a control variate of known mean: with ``v`` the first-order path,
``dv = (A v + N(y)) dt``, ``v(0) = 0``, ``E[y v^T] = 0`` exactly at every time (``v`` is a
constant plus a quadratic functional of the zero-mean Gaussian path ``y``, whose odd moments
vanish). So

    V_nl = V_Lyapunov + cov x - cov y - cov(y, v) - cov(v, y)

is unbiased too, and what is left fluctuates like ``O(g^2)``: a relative error independent of
``g``. The chunk loop then integrates ``z = (x, w, u)`` with ``u = w - v = x - y - v`` (noise-free,
``du = (A u + N(x) - N(x - w)) dt``), 18 variables; the estimate is
``C_xu + C_ux + C_ww - C_wu - C_uw`` (``C`` the pooled covariance of ``z``). Measured at the
immune point (64 trajectories, t_avg 300, initial state Lyapunov): the error of ``dE_N(r_m)`` is
6.6e-4 (first order) against 3.9e-5 (second order) at ``G0/Gamma = 0.05``, 1.4e-3 against 1.6e-4
at 0.1; the plain estimator's is 1e-2. :func:`control_order` picks order 2 where it is unbiased
(even remainder, checked numerically by :func:`is_even`, and a zero-mean initial state), else 1.

Ring-up. The same construction with a time-dependent drift ``A(t)`` (``system.drift_at``): the
augmented drift is ``blockdiag(A(t), ..., A(t))`` (:class:`BlockDrift`), so ``y`` is the linearised
SDE about the same mean-field path, and ``V_nl(t) = V_lin(t) + <x x^T - y y^T>(t)`` with
``V_lin(t)`` from :func:`simulator.linear.covariance_evolution` (:func:`shift_estimate` per output
time, in :mod:`simulator.sde.ringup`). The second order stays unbiased along the path: ``y`` is
still a zero-mean Gaussian process (zero-mean initial state, linear SDE) and ``v`` a constant plus a
quadratic functional of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..observables import log_negativity
from ..statistics import max_abs, z_scores
from .estimators import batch_means_stderr, jackknife, pooled_covariance
from .options import SDEOptions
from .scheduling import divergence_bound, initial_moments
from .system import LangevinSystem

__all__ = ["BlockDrift", "ControlRemainder", "control_system", "control_options", "control_order",
           "shift_estimate", "difference_covariance", "is_even"]


def _feature_form(nl, d: int):
    """``(C, c, features)`` of a nonlinearity in the integrators' feature form; a nonlinearity
    without features is its own feature vector (``F = N``, ``C = I``, ``c = 0``)."""
    if hasattr(nl, "features"):
        C = np.asarray(nl.feature_matrix, dtype=float)
        c = np.asarray(nl.constant, dtype=float)
        feat = nl.features
    else:
        C, c = np.eye(d), np.zeros(d)

        def feat(x, out=None, nl=nl):
            val = nl(x)
            if out is None:
                return np.array(val, dtype=float)
            out[...] = val
            return out
    if C.ndim != 2 or C.shape[1] != d or c.shape != (d,):
        raise ValueError(f"nonlinearity: feature_matrix {C.shape} / constant {c.shape} do not "
                         f"match the system dimension {d}")
    return C, c, feat


def is_even(nl, d: int, *, seed: int = 0) -> bool:
    """``N(-x) == N(x)`` (to rounding) on random points: a quadratic-plus-constant remainder such
    as the optomechanical one. Only then is ``E[y v^T] = 0`` for the first-order path ``v``
    (odd moments of the zero-mean Gaussian ``y`` vanish) and the second-order control variate
    unbiased."""
    x = np.random.default_rng(seed).standard_normal((8, d))
    a, b = np.asarray(nl(x), dtype=float), np.asarray(nl(-x), dtype=float)
    return bool(np.allclose(a, b, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(a).max())))


@dataclass(frozen=True, eq=False)
class ControlRemainder:
    """Nonlinearity of the augmented system, in the integrators' feature form.

    ``order = 1``: ``z = (x, w)``, ``N_aug(z) = (N(x), N(x))``; features ``F(x)``,
    ``C_aug = (C | C)``, ``c_aug = (c, c)``.

    ``order = 2``: ``z = (x, w, u)``, ``N_aug(z) = (N(x), N(x), N(x) - N(x - w))``; features
    ``(F(x), F(x - w))``, ``C_aug = ((C | C | C), (0 | 0 | -C))``, ``c_aug = (c, c, 0)``.

    Attributes
    ----------
    base : callable
        ``N(x)`` of the ``d``-variable system.
    dim : int
        ``d``.
    order : int
        1 or 2.
    """

    base: Callable[[np.ndarray], np.ndarray]
    dim: int
    order: int = 1

    def __post_init__(self) -> None:
        d = self.dim
        C, c, feat = _feature_form(self.base, d)
        f = C.shape[0]
        if self.order == 1:
            CC = np.hstack([C, C])
            cc = np.concatenate([c, c])
        elif self.order == 2:
            Z = np.zeros_like(C)
            CC = np.block([[C, C, C], [Z, Z, -C]])
            cc = np.concatenate([c, c, np.zeros(d)])
        else:
            raise ValueError(f"order = {self.order!r}: must be 1 or 2")
        CC = np.ascontiguousarray(CC)
        CC.flags.writeable = False
        cc.flags.writeable = False
        object.__setattr__(self, "feature_matrix", CC)
        object.__setattr__(self, "constant", cc)
        object.__setattr__(self, "n_features", CC.shape[0])
        object.__setattr__(self, "_f", f)
        object.__setattr__(self, "_feat", feat)

    def features(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Features of ``z (..., (order + 1) d)``, shape ``(..., n_features)``."""
        d, f = self.dim, self._f
        x = z[..., :d]
        if out is None:
            out = np.empty(z.shape[:-1] + (self.n_features,))
        self._feat(x, out=out[..., :f])
        if self.order == 2:
            self._feat(x - z[..., d:2 * d], out=out[..., f:])
        return out

    def bound_features(self, z: np.ndarray, out: np.ndarray):
        """:meth:`features` of ``z`` into ``out`` as a function of no arguments, for arrays kept
        between steps (the base's ``bound_features`` where it has one). Same numbers."""
        d, f = self.dim, self._f
        x = z[..., :d]

        def bind(v, o):
            base = getattr(self.base, "bound_features", None)
            return base(v, o) if base is not None else (lambda: self._feat(v, out=o))
        first = bind(x, out[..., :f])
        if self.order == 1:
            return first
        diff, shadow = np.empty(x.shape), z[..., d:2 * d]
        second = bind(diff, out[..., f:])

        def both() -> None:
            first()
            np.subtract(x, shadow, out=diff)
            second()
        return both

    def array_features(self, z, xp=np):
        """:meth:`features` with array operators only (any ``xp`` with numpy's API); needs a
        base nonlinearity with ``array_features`` (the JAX backend)."""
        base = getattr(self.base, "array_features", None)
        if base is None:
            raise TypeError(f"{self.base!r}: has no array_features (needed off numpy)")
        d = self.dim
        x = z[..., :d]
        if self.order == 1:
            return base(x, xp)
        return xp.concatenate([base(x, xp), base(x - z[..., d:2 * d], xp)], axis=-1)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """``N_aug(z)``, shape ``(..., (order + 1) d)``."""
        out = self.features(z) @ self.feature_matrix
        out += self.constant
        return out

    def __repr__(self) -> str:
        return f"ControlRemainder({self.base!r}, order={self.order})"


class BlockDrift:
    """``blockdiag(A(t), ..., A(t))`` (``k`` blocks) of a time-dependent drift ``A(t)``: maps
    times ``t (n,)`` to ``(n, k d, k d)``; picklable (it travels to joblib workers).

    Examples
    --------
    >>> f = BlockDrift(lambda t: np.ones((len(t), 1, 1)) * np.reshape(t, (-1, 1, 1)), 2)
    >>> f(np.array([3.0]))[0].tolist()
    [[3.0, 0.0], [0.0, 3.0]]
    """

    def __init__(self, base: Callable[[np.ndarray], np.ndarray], k: int) -> None:
        self.base, self.k = base, int(k)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        A = np.asarray(self.base(t), dtype=float)
        n, d = A.shape[0], A.shape[-1]
        out = np.zeros((n, self.k * d, self.k * d))
        for j in range(self.k):
            out[:, j * d:(j + 1) * d, j * d:(j + 1) * d] = A
        return out

    def __repr__(self) -> str:
        return f"BlockDrift({self.base!r}, k={self.k})"


def control_order(system: LangevinSystem, options: SDEOptions) -> int:
    """2 where the second-order control variate is unbiased (even nonlinearity, zero-mean
    initial state), else 1; 1 for a linear system."""
    if system.nonlinearity is None:
        return 1
    m0, _ = initial_moments(system, options)
    if np.any(m0 != 0) or not is_even(system.nonlinearity, system.dim):
        return 1
    return 2


def control_system(system: LangevinSystem, order: int = 1) -> LangevinSystem:
    """The augmented system of ``z = (x, w = x - y)`` (``order = 1``) or
    ``z = (x, w, u = w - v)`` (``order = 2``), see the module docstring. A time-dependent
    ``system`` (``drift_at``) gives a time-dependent augmented one (:class:`BlockDrift`).

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
    d, k = system.dim, order + 1
    A = np.kron(np.eye(k), system.A)
    D = np.zeros((k * d, k * d))
    D[:d, :d] = system.D
    nl = (None if system.nonlinearity is None
          else ControlRemainder(system.nonlinearity, d, order))
    mean = np.concatenate([system.mean, np.zeros((k - 1) * d)])
    drift_at = None if system.drift_at is None else BlockDrift(system.drift_at, k)
    return LangevinSystem(A=A, D=D, nonlinearity=nl, mean=mean, rates=None,
                          bare_detuning=system.bare_detuning, drift_at=drift_at)


def control_options(system: LangevinSystem, options: SDEOptions, order: int = 1) -> SDEOptions:
    """Options for the chunk loop on :func:`control_system`: the initial state becomes the
    Gaussian ``(x0, 0, ...)`` with ``x0`` drawn as ``options.initial`` prescribes (thermal,
    Lyapunov or Gaussian; these are Gaussian states) and the divergence bound that of the plain
    system."""
    d, k = system.dim, order + 1
    m0, V0 = initial_moments(system, options)
    cov = np.zeros((k * d, k * d))
    cov[:d, :d] = V0
    mean = np.concatenate([m0, np.zeros((k - 1) * d)])
    return options.replace(
        initial="gaussian", initial_mean=tuple(mean.tolist()),
        initial_covariance=tuple(tuple(r) for r in cov.tolist()),
        bound=divergence_bound(system, options), control_variate=False)


def difference_covariance(Vz: np.ndarray, d: int, order: int = 1) -> np.ndarray:
    """The control-variate estimate of ``V_nl - V_Lyapunov`` from covariances of ``z``
    (shape ``(..., k d, k d)``), shape ``(..., d, d)``.

    ``order = 1``, ``z = (x, w)``: ``cov x - cov y = C_xw + C_wx - C_ww``.
    ``order = 2``, ``z = (x, w, u)``: ``cov x - cov y - cov(y, v) - cov(v, y)
    = C_xu + C_ux + C_ww - C_wu - C_uw`` (``y = x - w``, ``v = w - u``).
    """
    T = lambda M: np.swapaxes(M, -1, -2)  # noqa: E731
    x, w = slice(0, d), slice(d, 2 * d)
    if order == 1:
        xw = Vz[..., x, w]
        return xw + T(xw) - Vz[..., w, w]
    u = slice(2 * d, 3 * d)
    xu, wu = Vz[..., x, u], Vz[..., w, u]
    return xu + T(xu) + Vz[..., w, w] - wu - T(wu)


def _en_vector(V: np.ndarray) -> np.ndarray:
    en = log_negativity(V)
    return np.stack([en["r_m"], en["l_m"], en["r_l"]], axis=-1)


def shift_estimate(system: LangevinSystem, V_lyapunov: np.ndarray, s1: np.ndarray,
                   s2: np.ndarray, counts: np.ndarray, t_factor: float = 1.0, order: int = 1
                   ) -> dict[str, Any]:
    """The nonlinear shift from the unit sums of the augmented run.

    Parameters
    ----------
    system : LangevinSystem
        The plain (``d``-variable) system.
    V_lyapunov : ndarray, shape (d, d)
        Stationary covariance of the linearised system.
    s1, s2, counts : ndarray, shapes (n_units, k d), (n_units, k d, k d), (n_units,)
        Unit sums of ``z`` (``k = order + 1``) as returned by the chunk loop.
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
        return difference_covariance(V, d, order)[..., iu[0], iu[1]]

    val, se = jackknife(s1, s2, counts, f_cov)
    dV = np.zeros((d, d))
    dV_se = np.zeros((d, d))
    dV[iu], dV_se[iu] = val, t_factor * se
    dV = dV + np.triu(dV, 1).T
    dV_se = dV_se + np.triu(dV_se, 1).T
    s1_tot = s1.sum(axis=0)
    mean = s1_tot[d:2 * d] / counts.sum()
    se_m, _ = batch_means_stderr(s1, s2, counts)
    z = z_scores(dV, dV_se, np.zeros((d, d)))
    out: dict[str, Any] = {
        "covariance": dV, "covariance_stderr": dV_se, "controlled_covariance": VL + dV,
        "mean": mean, "mean_stderr": t_factor * se_m[d:2 * d], "z": z,
        "max_abs_z": max_abs(z[iu]), "order": order,
    }
    if d == 6 and system.rates is not None:
        en_L = _en_vector(VL)

        def f_en(V):
            return _en_vector(VL + difference_covariance(V, d, order)) - en_L

        en, en_se = jackknife(s1, s2, counts, f_en)
        keys = ("r_m", "l_m", "r_l")
        # E_N clipped at zero (linearised or nonlinear) has no error bar: NaN, and flagged
        clipped = (en_L <= 0.0) | (en + en_L <= 0.0)
        out["log_negativity"] = {k: float(v) for k, v in zip(keys, en)}
        out["log_negativity_stderr"] = {k: float("nan") if c else float(t_factor * v)
                                        for k, v, c in zip(keys, en_se, clipped)}
        out["log_negativity_below_resolution"] = {k: bool(c) for k, c in zip(keys, clipped)}
    return out
