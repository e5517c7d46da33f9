"""Fixed-step integrators for additive-noise SDEs ``dx = (A(t) x + N(x)) dt + dW``, ``<dW dW^T> = D dt``.

The drift matrix is constant for a stationary system and ``A(t)`` (``LangevinSystem.drift_at``) for
a transient such as the ring-up: one table of methods serves both.

Each integrator is built for one system and one step ``dt`` (precomputing its matrices), states its
strong order for additive noise, and separates the noise from the step so that tests can pass the
noise in and two step sizes can share one Brownian path:

* ``noise_from_normals(z)`` turns standard normals ``z`` of shape ``(..., n_normals, n, d)``
  into the integrator's noise for each step (a tuple of arrays of shape ``(..., n, d)``);
* ``step(x, noise, t)`` advances ``x`` of shape ``(n, d)`` by ``dt`` with one step's noise from
  time ``t`` (``t`` matters only for a time-dependent drift);
* ``coarsen(first, second)`` combines the noise of two consecutive steps of this integrator into
  the exactly corresponding noise of one step of size ``2 dt`` (same Brownian path).

:data:`METHODS` is the only place a method name becomes a class.

=================  ========================================================  ============
name               scheme                                                    strong order
=================  ========================================================  ============
``euler``          Euler-Maruyama                                            1.0 (additive)
``exponential``    exponential Euler: ``exp(A dt)`` and the exact noise      1.0 (exact if
                   covariance over a step, nonlinear remainder explicit      ``N = 0``)
``sra1``           Roessler's SRA1 (two stages, derivative free)             1.5 (additive)
=================  ========================================================  ============

Euler-Maruyama anti-damps a lightly damped oscillator by about ``omega^2 dt / 2``; at the paper's
point it overestimates the stationary covariance by several percent even at ``dt = 0.01``. The
exponential scheme has no step-size bias at all for linear dynamics and is the default.
"""

from __future__ import annotations

import weakref

import numpy as np

from .steppers import LiftedLoop, PagedLiftedLoop, SRA1Loop, StepLoop
from .system import LangevinSystem

__all__ = ["expm", "psd_sqrt", "integrate_path", "Integrator", "EulerMaruyama", "ExponentialEuler", "SRA1", "METHODS", "make_integrator"]


def expm(M: np.ndarray, *, order: int = 18) -> np.ndarray:
    """Matrix exponential of ``M`` (shape ``(..., n, n)``), batched: scaling and squaring with a
    Taylor polynomial of degree ``order`` after scaling the 1-norm below 1/4 (truncation error
    below ``0.25^19 / 19! ~ 1e-29`` relative).

    Used instead of :func:`scipy.linalg.expm` because it is batched and, for the small matrices
    here, not slowed down by multithreaded BLAS on a loaded machine (measured: 4-8 ms per 12x12
    call with scipy under load against ~10 us here). Tested against scipy.
    """
    M = np.asarray(M, dtype=float)
    norm = float(np.abs(M).sum(axis=-2).max()) if M.size else 0.0
    s = max(0, int(np.ceil(np.log2(norm / 0.25)))) if norm > 0 else 0
    X = M / 2.0**s
    eye = np.broadcast_to(np.eye(M.shape[-1]), M.shape)
    out = eye.copy()
    term = eye.copy()
    for k in range(1, order + 1):
        term = (term @ X) / k
        out += term
    for _ in range(s):
        out = out @ out
    return out


def psd_sqrt(C: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L L^T = C`` for symmetric positive semi-definite ``C`` (eigen-based,
    so that singular ``C`` -- e.g. no noise on ``q`` -- is fine)."""
    C = 0.5 * (C + C.T)
    w, U = np.linalg.eigh(C)
    return U * np.sqrt(np.clip(w, 0.0, None))


#: Step matrices of a system, shared by the integrators of one system in one process (the
#: chunks of a run, run one after another, compute them once), per system object (dropped with
#: it): the constant ones, and pages of those of a time-dependent system.
_SHARED_PAGES: "weakref.WeakKeyDictionary[LangevinSystem, dict]" = weakref.WeakKeyDictionary()
#: At most this many pages are shared per system (about 0.55 MB each for ``exponential``, d = 6,
#: i.e. 64 x 256 steps in 35 MB); later pages are recomputed by every integrator that needs them.
SHARED_PAGES_MAX = 64


class Integrator:
    """Base class: subclasses set :attr:`name`, :attr:`strong_order`, :attr:`n_normals`,
    :attr:`nodes` and write ``_matrices``, ``noise_from_normals``, ``step`` and ``coarsen``.

    Every drift evaluation is written as one matrix product on the lifted state
    ``G = (x, F(x), 1)``, shape ``(n, d + f + 1)``: ``F`` are the nonlinearity's features
    (``N(x) = F(x) C + c``; a nonlinearity without features has ``F = N``, ``C = I``), so that
    ``x L^T + N(x) P^T = G W`` with ``W = (L^T; C P^T; c P^T)``. This keeps the per-step work
    to a few vectorised passes over the trajectories.

    The step matrices come from ``_matrices(A_1, ..., A_m)``, one drift matrix per entry of
    :attr:`nodes` (the fractions of the step where the scheme evaluates ``A``), written for any
    leading batch shape. A stationary system computes them once, here, from the constant ``A``;
    a time-dependent one (``system.drift_at``) in pages of :attr:`PAGE` steps, batched, from
    ``A(t_n + node * dt)`` -- so the constant case does no work per step.

    Parameters
    ----------
    system : LangevinSystem
    dt : float
        Step (units of ``1/omega_m``), > 0.
    """

    name: str = ""
    strong_order: float = 0.0
    #: Standard normals per variable and step.
    n_normals: int = 1
    #: Where in the step ``A(t)`` is evaluated (fractions of ``dt``), one matrix per node.
    nodes: tuple[float, ...] = (0.0,)
    #: Steps whose matrices a time-dependent system computes at once.
    PAGE: int = 256

    def __init__(self, system: LangevinSystem, dt: float) -> None:
        dt = float(dt)
        if not (np.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt = {dt!r}: must be a finite step > 0 (units of 1/omega_m)")
        self.system = system
        self.dt = dt
        self.nonlinearity = nl = system.nonlinearity
        d = system.dim
        if nl is None:
            self._C, self._c, self._feat = np.zeros((0, d)), np.zeros(d), None
        elif hasattr(nl, "features"):
            self._C, self._c, self._feat = nl.feature_matrix, nl.constant, nl.features
        else:
            def feat(x, out, nl=nl):
                out[...] = nl(x)
                return out

            self._C, self._c, self._feat = np.eye(d), np.zeros(d), feat
        self._lift_cache: dict[int, np.ndarray] = {}
        self._steppers: dict[int, object] = {}
        self._buffers: dict[tuple[int, ...], tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}
        # constant matrices (of A(0) for a time-dependent system, unused by its steps), computed
        # once per system, method and step in a process (the chunks of a run share them)
        shared = _SHARED_PAGES.setdefault(system, {})
        key = (type(self).__name__, self.dt, "constant")
        if key not in shared:
            shared[key] = {k: np.ascontiguousarray(v) for k, v in
                           self._matrices(*(system.A for _ in self.nodes)).items()}
            for value in shared[key].values():
                value.flags.writeable = False
        for name, value in shared[key].items():
            setattr(self, name, value)
        #: Pages of step matrices of a time-dependent system, ``None`` for a stationary one.
        self._pages: dict[int, dict[str, np.ndarray]] | None = (
            {} if system.time_dependent else None)

    @property
    def time_dependent(self) -> bool:
        """The system's drift depends on time (steps need their start time ``t``)."""
        return self._pages is not None

    def _matrices(self, *A: np.ndarray) -> dict[str, np.ndarray]:
        """Step matrices from the drift at each node, ``A (..., d, d)``; the keys become
        attributes for a constant drift."""
        raise NotImplementedError

    def _page(self, p: int) -> dict[str, np.ndarray]:
        page = self._pages.get(p)
        if page is None:
            shared = _SHARED_PAGES.setdefault(self.system, {})
            key = (type(self).__name__, self.dt, self.PAGE, p)
            page = shared.get(key)
            if page is None:
                t = (p * self.PAGE + np.arange(self.PAGE)) * self.dt
                page = self._matrices(*(self.system.drift_matrices(t + f * self.dt)
                                        for f in self.nodes))
                if len(shared) < SHARED_PAGES_MAX:
                    shared[key] = page
            if len(self._pages) >= 2:  # steps advance monotonically: keep the last two pages
                self._pages.pop(min(self._pages))
            self._pages[p] = page
        return page

    def _index(self, t: float | None) -> int:
        if t is None:
            raise ValueError("t: the start time of the step is required for a time-dependent "
                             "drift A(t)")
        i = int(round(float(t) / self.dt))
        if i < 0:
            raise ValueError(f"t = {t!r}: must be >= 0 for a time-dependent drift")
        return i

    def _at(self, key: str, t: float | None) -> np.ndarray:
        """Matrix ``key`` of the step starting at ``t`` (time-dependent systems)."""
        p, r = divmod(self._index(t), self.PAGE)
        return self._page(p)[key][r]

    def _range(self, key: str, t0: float | None, k: int) -> np.ndarray:
        """Matrices ``key`` of the ``k`` steps from ``t0``, stacked ``(k, ...)``."""
        i0 = self._index(t0)
        parts, i = [], i0
        while i < i0 + k:
            p, r = divmod(i, self.PAGE)
            take = min(self.PAGE - r, i0 + k - i)
            parts.append(self._page(p)[key][r:r + take])
            i += take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _weights(self, L: np.ndarray, P: np.ndarray) -> np.ndarray:
        """``W`` with ``lift(x) @ W = x L^T + N(x) P^T``, shape ``(..., d + f + 1, d)``."""
        L = np.asarray(L)
        P = np.broadcast_to(P, L.shape)
        Pt = np.swapaxes(P, -1, -2)
        return np.concatenate([np.swapaxes(L, -1, -2), self._C @ Pt,
                               (self._c @ Pt)[..., None, :]], axis=-2)

    def _lift(self, x: np.ndarray) -> np.ndarray:
        """``G = (x, F(x), 1)`` in a buffer reused between steps (one per trajectory count)."""
        n, d = x.shape
        G = self._lift_cache.get(n)
        if G is None:
            G = np.empty((n, d + self._C.shape[0] + 1))
            G[:, -1] = 1.0
            self._lift_cache[n] = G
        G[:, :d] = x
        if self._feat is not None:
            self._feat(x, out=G[:, d:-1])
        return G

    def draw(self, rng: np.random.Generator, n_steps: int, n: int, *, reuse: bool = False,
             t0: float | None = None) -> tuple[np.ndarray, ...]:
        """Noise for ``n_steps`` steps of ``n`` trajectories, each array ``(n_steps, n, d)``;
        ``t0`` is the start time of the first step (needed for a time-dependent drift).

        With ``reuse=True`` the normals and the noise are written into buffers kept by the
        integrator (no allocation and page faults per block: about 40 % faster here); the
        returned arrays are then overwritten by the next ``draw(..., reuse=True)``. The numbers
        are the same either way.
        """
        shape = (n_steps, self.n_normals, n, self.system.dim)
        if not reuse:
            return self.noise_from_normals(rng.standard_normal(shape), t0=t0)
        bufs = self._buffers.get(shape)
        if bufs is None:
            bufs = (np.empty(shape),
                    tuple(np.empty((n_steps, n, self.system.dim)) for _ in range(self.n_normals)))
            self._buffers[shape] = bufs
        z, out = bufs
        rng.standard_normal(out=z)
        return self.noise_from_normals(z, out=out, t0=t0)

    def noise_from_normals(self, z: np.ndarray, out: tuple[np.ndarray, ...] | None = None,
                           t0: float | None = None) -> tuple[np.ndarray, ...]:
        """The integrator's noise from standard normals ``z (..., n_normals, n, d)``; written
        into ``out`` (arrays ``(..., n, d)``) if given. For a time-dependent drift whose noise
        depends on ``A`` (``exponential``) the leading axis of ``z`` is the step, from ``t0``."""
        raise NotImplementedError

    def step(self, x: np.ndarray, noise: tuple[np.ndarray, ...], t: float | None = None
             ) -> np.ndarray:
        """Advance ``x (n, d)`` by ``dt`` with one step's noise; ``t`` is the start time of the
        step (ignored for a stationary system, required for a time-dependent one)."""
        raise NotImplementedError

    def stepper(self, n: int):
        """The loop that runs this integrator's steps for ``n`` trajectories over buffers kept
        between steps (:mod:`simulator.sde.steppers`), one per ``n``, kept."""
        loop = self._steppers.get(n)
        if loop is None:
            loop = self._steppers[n] = self._stepper(n)
        return loop

    def _stepper(self, n: int):
        return StepLoop(self, n)

    def run(self, x: np.ndarray, noise: tuple[np.ndarray, ...], start: int, stop: int,
            step0: int = 0) -> np.ndarray:
        """Steps ``start .. stop - 1`` of a block of noise (arrays ``(k, n, d)``) from
        ``x (n, d)`` by :meth:`stepper`; step ``j`` starts at ``(step0 + j) * dt``. Returns a
        new array, the numbers of :meth:`step` one step at a time bit for bit (tested)."""
        loop = self.stepper(len(x))
        loop.load(x)
        loop.run(noise, start, stop, step0)
        return loop.state.copy()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_steppers": {}}  # bound views do not travel

    def coarsen(self, first: tuple[np.ndarray, ...], second: tuple[np.ndarray, ...]
                ) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def coarsen_path(self, noise: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """Pairwise :meth:`coarsen` of a block ``(2 m, n, d)`` into ``(m, n, d)`` for step ``2 dt``."""
        return self.coarsen(tuple(a[0::2] for a in noise), tuple(a[1::2] for a in noise))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dt={self.dt!r}, strong_order={self.strong_order})"


def _psd_sqrt_t(Q: np.ndarray) -> np.ndarray:
    """Batched ``L^T`` with ``L L^T = Q`` for symmetric PSD ``Q (..., d, d)`` (as :func:`psd_sqrt`)."""
    Q = 0.5 * (Q + np.swapaxes(Q, -1, -2))
    w, U = np.linalg.eigh(Q)
    return np.swapaxes(U * np.sqrt(np.clip(w, 0.0, None))[..., None, :], -1, -2)


class EulerMaruyama(Integrator):
    """``x' = x + (A x + N(x)) dt + B dW`` with ``B B^T = D``; strong order 1 for additive noise.
    A time-dependent drift is taken at the start of the step, ``A(t_n)``."""

    name = "euler"
    strong_order = 1.0

    def __init__(self, system: LangevinSystem, dt: float) -> None:
        super().__init__(system, dt)
        self._Bt = np.ascontiguousarray(psd_sqrt(system.D).T)

    def _matrices(self, A):
        d = A.shape[-1]
        return {"_W": self._weights(np.eye(d) + self.dt * A, self.dt * np.eye(d))}

    def noise_from_normals(self, z, out=None, t0=None):
        w = np.matmul(z[..., 0, :, :], self._Bt, out=None if out is None else out[0])
        w *= np.sqrt(self.dt)
        return (w,)

    def step(self, x, noise, t=None):
        y = self._lift(x) @ (self._W if self._pages is None else self._at("_W", t))
        y += noise[0]
        return y

    def _stepper(self, n):
        return PagedLiftedLoop(self, n) if self._pages is not None else LiftedLoop(self, n)

    def coarsen(self, first, second):
        return (first[0] + second[0],)


class ExponentialEuler(Integrator):
    """Linear part exact, nonlinear remainder explicit (exponential Euler / "linear-exact").

    ``x' = e^{A dt} x + Phi N(x) + xi`` with ``Phi = int_0^dt e^{A s} ds`` and ``xi`` Gaussian with
    the exact covariance ``Q = int_0^dt e^{A s} D e^{A^T s} ds`` (Van Loan's block exponential).
    For ``N = 0`` every step is exact in distribution, whatever ``dt``; strong order 1 otherwise.
    A time-dependent drift is frozen at the midpoint of each step, ``A(t_n + dt/2)`` (second
    order in its variation), with the exact ``e^{A dt}``, ``Phi`` and ``Q`` of that matrix.
    """

    name = "exponential"
    strong_order = 1.0
    nodes = (0.5,)

    def _matrices(self, A):
        dt, d = self.dt, A.shape[-1]
        D = self.system.D
        batch = A.shape[:-2]
        E = expm(A * dt)
        aug = np.zeros(batch + (2 * d, 2 * d))
        aug[..., :d, :d], aug[..., :d, d:] = A, np.eye(d)
        Phi = expm(aug * dt)[..., :d, d:]
        van_loan = np.zeros(batch + (2 * d, 2 * d))
        van_loan[..., :d, :d], van_loan[..., :d, d:] = -A, D
        van_loan[..., d:, d:] = np.swapaxes(A, -1, -2)
        F = expm(van_loan * dt)
        Q = np.swapaxes(F[..., d:, d:], -1, -2) @ F[..., :d, d:]
        Q = 0.5 * (Q + np.swapaxes(Q, -1, -2))
        return {"E": E, "Phi": Phi, "Q": Q, "_W": self._weights(E, Phi),
                "_Et": np.swapaxes(E, -1, -2), "_Lt": _psd_sqrt_t(Q)}

    def noise_from_normals(self, z, out=None, t0=None):
        if self._pages is None:
            Lt = self._Lt
        else:
            Lt = self._range("_Lt", t0, z.shape[0])
            Lt = Lt.reshape(Lt.shape[:1] + (1,) * (z.ndim - 4) + Lt.shape[1:])
        return (np.matmul(z[..., 0, :, :], Lt, out=None if out is None else out[0]),)

    def step(self, x, noise, t=None):
        y = self._lift(x) @ (self._W if self._pages is None else self._at("_W", t))
        y += noise[0]
        return y

    def _stepper(self, n):
        return PagedLiftedLoop(self, n) if self._pages is not None else LiftedLoop(self, n)

    def coarsen(self, first, second):
        if self._pages is not None:
            raise ValueError("coarsen: not available for a time-dependent drift (the step "
                             "matrices differ from step to step)")
        # xi over [0, 2dt] = e^{A dt} xi_1 + xi_2: the exact convolution of the same path.
        return (first[0] @ self._Et + second[0],)


class SRA1(Integrator):
    """Roessler's SRA1 for additive noise (SIAM J. Numer. Anal. 48, 922 (2010)), strong order 1.5.

    ``H = x + (3/4) f(t, x) dt + (3/2) B dZ / dt``,
    ``x' = x + (f(t, x)/3 + 2 f(t + 3 dt/4, H)/3) dt + B dW``, with ``f = A(t) x + N(x)``,
    ``dW = W(t + dt) - W(t)`` and ``dZ = int_t^{t+dt} (W(s) - W(t)) ds``. Deterministically it is
    Ralston's second-order Runge-Kutta method.
    """

    name = "sra1"
    strong_order = 1.5
    n_normals = 2
    nodes = (0.0, 0.75)

    def __init__(self, system: LangevinSystem, dt: float) -> None:
        super().__init__(system, dt)
        self._Bt = np.ascontiguousarray(psd_sqrt(system.D).T)

    def _matrices(self, A, A_stage):
        h, d = self.dt, A.shape[-1]
        eye = np.eye(d)
        # lift(x) @ W1 = (x + h f(x) / 3 | x + 3 h f(x) / 4); lift(H) @ W2 = 2 h f(H) / 3
        W1 = np.concatenate([self._weights(eye + h / 3.0 * A, h / 3.0 * eye),
                             self._weights(eye + 0.75 * h * A, 0.75 * h * eye)], axis=-1)
        return {"_W1": W1, "_W2": self._weights(2.0 * h / 3.0 * A_stage, 2.0 * h / 3.0 * eye)}

    def noise_from_normals(self, z, out=None, t0=None):
        h = self.dt
        w = np.matmul(z[..., 0, :, :], self._Bt, out=None if out is None else out[0])
        w *= np.sqrt(h)
        # B dZ = (h/2) (B dW + B dV / sqrt(3)), dV independent of dW, both N(0, h)
        v = np.matmul(z[..., 1, :, :], self._Bt, out=None if out is None else out[1])
        v *= 0.5 * h * np.sqrt(h) / np.sqrt(3.0)
        v += 0.5 * h * w
        return (w, v)

    def step(self, x, noise, t=None):
        d = x.shape[1]
        w, z = noise
        if self._pages is None:
            W1, W2 = self._W1, self._W2
        else:
            W1, W2 = self._at("_W1", t), self._at("_W2", t)
        Y = self._lift(x) @ W1
        H = Y[:, d:]
        H += (1.5 / self.dt) * z
        y = self._lift(H) @ W2
        y += Y[:, :d]
        y += w
        return y

    def _stepper(self, n):
        return StepLoop(self, n) if self._pages is not None else SRA1Loop(self, n)

    def coarsen(self, first, second):
        w1, z1 = first
        w2, z2 = second
        return (w1 + w2, z1 + z2 + self.dt * w1)


#: Method name -> integrator class; the only place a string becomes a method.
METHODS: dict[str, type[Integrator]] = {
    EulerMaruyama.name: EulerMaruyama,
    ExponentialEuler.name: ExponentialEuler,
    SRA1.name: SRA1,
}


def make_integrator(method: str, system: LangevinSystem, dt: float) -> Integrator:
    """The integrator named ``method`` (a key of :data:`METHODS`) for ``system`` and step ``dt``."""
    try:
        cls = METHODS[method]
    except KeyError:
        raise ValueError(f"method = {method!r}: must be one of {sorted(METHODS)}") from None
    return cls(system, dt)


def integrate_path(integrator: Integrator, x0: np.ndarray, noise: tuple[np.ndarray, ...],
                   t0: float = 0.0) -> np.ndarray:
    """Integrate ``x0`` (shape ``(n, d)``) through every step of ``noise`` (arrays ``(n_steps, n, d)``)
    from time ``t0``; returns the final state. For tests and step-size error checks."""
    x = np.array(x0, dtype=float)
    for k in range(noise[0].shape[0]):
        x = integrator.step(x, tuple(a[k] for a in noise), t0 + k * integrator.dt)
    return x
