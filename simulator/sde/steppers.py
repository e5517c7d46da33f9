"""Step loops over buffers kept between steps: the inner loop of the chunk kernel.

A stepper holds the state of ``n`` trajectories, lifted as the integrators write their drift,
``G = (x, F(x), 1)`` (:class:`~simulator.sde.integrators.Integrator`), and runs an integrator's
steps over a block of noise with no allocation and no lookup per step: the nonlinearity's
features are bound to views of ``G`` once (``bound_features``), each product is written into a
kept buffer. The numbers are those of ``Integrator.step`` one step at a time, bit for bit
(tests/test_sde_integrators.py). Measured for 4-8 trajectories at the paper's point: 7.3 -> 4.8
us per step (``exponential``).

Interface (what :class:`~simulator.sde.chunk.Kernel` uses)::

    s = integrator.stepper(n)
    s.load(x)                          # x (n, d)
    s.run(noise, start, stop, step0)   # steps start .. stop-1 of the block; step j at (step0+j) dt
    s.run(noise, start, stop, step0, samples)  # the same, the state after each step written to
                                       # samples[j - start] (samples (stop - start, n, d))
    s.state                            # the current state (n, d), a view: copy it to keep it

:class:`StepLoop` calls ``step`` (any integrator, a time-dependent drift too);
:class:`LiftedLoop` is the one-product step of ``euler`` and ``exponential`` for a stationary
system, :class:`PagedLiftedLoop` the same for a time-dependent one (the step matrices taken
from the integrator's pages a run at a time), :class:`SRA1Loop` the two-stage step of ``sra1``
for a stationary system.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["StepLoop", "LiftedLoop", "PagedLiftedLoop", "SRA1Loop"]


class StepLoop:
    """The plain loop over ``integ.step`` (time-dependent drifts, any integrator)."""

    def __init__(self, integ, n: int) -> None:
        self.integ = integ
        self.state = np.zeros((n, integ.system.dim))

    def load(self, x: np.ndarray) -> None:
        self.state = np.array(x, dtype=float)

    def run(self, noise: tuple[np.ndarray, ...], start: int, stop: int, step0: int = 0,
            samples: np.ndarray | None = None) -> None:
        integ, x = self.integ, self.state
        for j in range(start, stop):
            x = integ.step(x, tuple(a[j] for a in noise), (step0 + j) * integ.dt)
            if samples is not None:
                samples[j - start] = x
        self.state = x


def _lifted(integ, n: int):
    """A buffer ``G (n, d + f + 1)`` with its last column 1, the view of its ``x`` block and a
    function of no arguments that writes ``F(x)`` into it."""
    d = integ.system.dim
    G = np.empty((n, d + integ._C.shape[0] + 1))
    G[:, -1] = 1.0
    Gx, Gf, feat = G[:, :d], G[:, d:-1], integ._feat
    if feat is None:
        return G, Gx, (lambda: None)
    bound = getattr(integ.nonlinearity, "bound_features", None)
    return G, Gx, (bound(Gx, Gf) if bound is not None else (lambda: feat(Gx, out=Gf)))


class LiftedLoop:
    """``x' = G(x) W + noise`` (``euler``, ``exponential``; stationary system)."""

    def __init__(self, integ, n: int) -> None:
        self.G, self.state, self._relift = _lifted(integ, n)
        self._integ, self._y = integ, np.empty((n, integ.system.dim))

    def load(self, x: np.ndarray) -> None:
        np.copyto(self.state, x)
        self._relift()

    def _matrices(self, start: int, stop: int, step0: int):
        """The step matrix ``W`` of each step ``start .. stop - 1``: one for all here."""
        return itertools.repeat(self._integ._W, stop - start)

    def run(self, noise: tuple[np.ndarray, ...], start: int, stop: int, step0: int = 0,
            samples: np.ndarray | None = None) -> None:
        if stop <= start:
            return
        G, y, x, relift = self.G, self._y, self.state, self._relift
        (nz,) = noise
        for j, W in zip(range(start, stop), self._matrices(start, stop, step0)):
            np.matmul(G, W, out=y)
            y += nz[j]
            np.copyto(x, y)
            relift()
            if samples is not None:
                samples[j - start] = y


class PagedLiftedLoop(LiftedLoop):
    """:class:`LiftedLoop` of a time-dependent system: step ``j`` takes its own matrix ``W_j``
    from the integrator's pages (``Integrator._range``), the one ``step`` would take."""

    def _matrices(self, start: int, stop: int, step0: int):
        return self._integ._range("_W", (step0 + start) * self._integ.dt, stop - start)


class SRA1Loop:
    """Roessler's SRA1 step (:class:`~simulator.sde.integrators.SRA1`; stationary system):
    ``Y = G(x) W1``, ``H = Y_2 + (3 / 2 dt) dZ``, ``x' = G(H) W2 + Y_1 + dW``."""

    def __init__(self, integ, n: int) -> None:
        d = integ.system.dim
        self.G, self.state, self._relift = _lifted(integ, n)
        self._G2, self._H, self._relift2 = _lifted(integ, n)
        self._W1, self._W2, self._c = integ._W1, integ._W2, 1.5 / integ.dt
        self._Y, self._y, self._cz = np.empty((n, 2 * d)), np.empty((n, d)), np.empty((n, d))

    def load(self, x: np.ndarray) -> None:
        np.copyto(self.state, x)
        self._relift()

    def run(self, noise: tuple[np.ndarray, ...], start: int, stop: int, step0: int = 0,
            samples: np.ndarray | None = None) -> None:
        G1, G2, W1, W2, c = self.G, self._G2, self._W1, self._W2, self._c
        x, H2, Y, y, cz = self.state, self._H, self._Y, self._y, self._cz
        relift1, relift2 = self._relift, self._relift2
        d = x.shape[1]
        Yx, H = Y[:, :d], Y[:, d:]
        w, z = noise
        for j in range(start, stop):
            np.matmul(G1, W1, out=Y)
            np.multiply(c, z[j], out=cz)
            H += cz
            np.copyto(H2, H)
            relift2()
            np.matmul(G2, W2, out=y)
            y += Yx
            y += w[j]
            np.copyto(x, y)
            relift1()
            if samples is not None:
                samples[j - start] = y
