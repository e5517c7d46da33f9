"""The chunk loop on JAX: ``backend="jax"`` (optional extra ``wgmsim[jax]``).

What runs where. Everything that is physics is built by the numpy code, once per chunk: the
integrator's step matrices (:mod:`simulator.sde.integrators`: ``exp(A dt)``, ``Phi`` and the
noise factor of the exponential scheme, per step for a time-dependent drift), the nonlinearity's
features (its ``array_features``, the same expression numpy evaluates), the initial sample (drawn
by the chunk's numpy generator exactly as the numpy loop draws it) and the divergence bound. JAX
runs the array kernel only, compiled once per shape (``jax.jit`` over ``lax.scan``): per step the
noise from standard normals and one product of the lifted state ``G = (x, F(x), 1)`` with the step
matrix; per sample the sums ``sum x`` and ``sum x x^T`` (accumulated in float64) over the
trajectories still alive. :data:`STEP_FORMS` holds the one-line step of each scheme; it is tested
against the numpy integrators' ``step`` on the same normals.

Noise. Step ``s`` of a chunk draws its normals from ``fold_in(key, s)`` with JAX's threefry
generator, ``key`` taken from the chunk's :class:`numpy.random.SeedSequence`. So a result depends
on the seed and the chunking only: not on the block length, not on which device runs it, and a
resumed run equals an uninterrupted one. The numbers differ from the numpy backend's (another
generator), statistically equal; transcendental functions may differ in the last bit between a
CPU and a GPU, so the two agree statistically, not bit for bit.

Divergence and escapes. As in numpy: at the end of every block a trajectory whose sampled states
or end state are non-finite or beyond the bound is counted as diverged, and one whose end state
left the fixed point's basin (the Mahalanobis test of :mod:`simulator.sde.escapes`, computed on
the device) as escaped; either is dropped from that block on. The block is then computed again
from its start without them (the noise is keyed by step, so the second pass is the same path),
so nothing of the excursion enters the sums.

Precision. ``precision="float64"`` (default) integrates in double precision like numpy;
``"float32"`` halves the memory traffic on a GPU; the sums stay float64 (``docs/jax.md`` gives the
accuracy cost measured). The backend turns on ``jax_enable_x64`` for the process (float64 arrays
need it).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

import numpy as np

from .checkpoints import ChunkResult
from .chunk import _fold_block, initial_state
from .escapes import EscapeRecord, EscapeTest
from .integrators import make_integrator
from .options import SDEOptions
from .scheduling import Schedule
from .system import LangevinSystem

__all__ = ["jax_modules", "device_description", "run_chunk", "STEP_FORMS", "DEFAULT_BLOCK",
           "device_memory_estimate", "check_device_memory"]

log = logging.getLogger(__name__)

#: Steps per compiled call (the divergence check runs at the end of each); ``block_steps``
#: overrides it. The numbers do not depend on it (noise is keyed by step) unless trajectories
#: diverge.
DEFAULT_BLOCK = 256

_NOTED: set[str] = set()

#: How the kernel forms its small products, for benchmarks (``benchmarks/bench_jax.py``):
#: ``WGMSIM_JAX_PRODUCT`` = ``"dot"`` (``jnp.dot`` of the lifted state with the step matrix) or
#: ``"sum"`` (broadcast multiply and sum, left to XLA to fuse); ``WGMSIM_JAX_MOMENTS`` =
#: ``"dot"`` (``sum x x^T`` as one contraction over the trajectories) or ``"sum"``. The numbers
#: agree to rounding; the speed depends on the device and the size. Defaults, measured
#: (``docs/jax.md``): ``product`` ``"sum"`` on a GPU for a small step matrix (at most
#: :data:`SUM_PRODUCT_MAX` entries: the 6-variable system's 15 x 6, 2.52e9 against 2.15e9
#: trajectory-steps/s on an H200) and ``"dot"`` otherwise (the 18-variable control-variate
#: system's 35 x 18: 7.6e8 with ``"dot"`` against 3.3e8 with ``"sum"``; on a CPU ``"dot"`` is
#: about 2x faster at any size); ``moments`` ``"dot"``. Every
#: product runs at full precision (``Precision.HIGHEST``: no TF32 on a GPU, which at float32
#: moved the stationary covariance by hundreds of standard errors).
KERNEL_VARIANTS = {"product": ("dot", "sum"), "moments": ("dot", "sum")}
#: Largest step matrix (entries) for which a GPU forms the step product as ``"sum"``.
SUM_PRODUCT_MAX = 100


def _variant(name: str, platform: str, entries: int = 0) -> str:
    small = entries <= SUM_PRODUCT_MAX
    default = "sum" if name == "product" and platform != "cpu" and small else "dot"
    value = os.environ.get(f"WGMSIM_JAX_{name.upper()}", default)
    if value not in KERNEL_VARIANTS[name]:
        raise ValueError(f"WGMSIM_JAX_{name.upper()} = {value!r}: must be one of "
                         f"{KERNEL_VARIANTS[name]}")
    return value


def jax_modules():
    """``(jax, jax.numpy)`` with float64 enabled.

    Raises
    ------
    ImportError
        One line saying how to install JAX, when it is missing.
    """
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise ImportError("backend='jax' needs JAX: pip install 'wgmsim[jax]' (CPU), or JAX with "
                          "CUDA for a GPU (https://docs.jax.dev/en/latest/installation.html)"
                          ) from None
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return jax, jnp


def device_description() -> str:
    """``"gpu (NVIDIA H200)"``, ``"cpu"``, ...: where JAX runs the kernel. Notes once per
    process (``logging`` warning) when no accelerator is found."""
    jax, _ = jax_modules()
    dev = jax.devices()[0]
    text = dev.platform if dev.platform == "cpu" else f"{dev.platform} ({dev.device_kind})"
    if dev.platform == "cpu" and "cpu" not in _NOTED:
        _NOTED.add("cpu")
        log.warning("backend='jax': no GPU found, JAX runs on the CPU (slower than the numpy "
                    "backend there: use it for testing)")
    return text


# --- the step of each scheme, on arrays of any library -----------------------------------------

def _exponential(x, z, m, lift, prod, dt, d):
    return prod(lift(x), m["_W"]) + prod(z[0], m["_Lt"])


def _euler(x, z, m, lift, prod, dt, d):
    return prod(lift(x), m["_W"]) + (dt ** 0.5) * prod(z[0], m["_Bt"])


def _sra1(x, z, m, lift, prod, dt, d):
    w = (dt ** 0.5) * prod(z[0], m["_Bt"])
    v = (0.5 * dt * dt ** 0.5 / 3 ** 0.5) * prod(z[1], m["_Bt"]) + 0.5 * dt * w
    Y = prod(lift(x), m["_W1"])
    H = Y[:, d:] + (1.5 / dt) * v
    return prod(lift(H), m["_W2"]) + Y[:, :d] + w


#: Scheme name -> ``(step, matrices per step of a time-dependent drift, constant matrices)``;
#: ``step(x, z, m, lift, prod, dt, d)`` advances ``x (n, d)`` with normals ``z (n_normals, n, d)``
#: and the integrator's matrices ``m`` (by attribute name), ``prod(a, M) = a @ M``.
STEP_FORMS: dict[str, tuple[Callable, tuple[str, ...], tuple[str, ...]]] = {
    "exponential": (_exponential, ("_W", "_Lt"), ()),
    "euler": (_euler, ("_W",), ("_Bt",)),
    "sra1": (_sra1, ("_W1", "_W2"), ("_Bt",)),
}


def _feature_key(nl) -> Any:
    """A hashable key under which ``nl.array_features`` is the same function (compiled once)."""
    from .control import ControlRemainder
    from .system import OptomechanicalRemainder

    if nl is None:
        return None
    if isinstance(nl, OptomechanicalRemainder):
        return ("optomechanical",)
    if isinstance(nl, ControlRemainder):
        return ("control", nl.order, nl.dim, _feature_key(nl.base))
    return ("object", id(nl))


def _check_features(nl) -> None:
    if nl is None:
        return
    if not hasattr(nl, "feature_matrix") or not callable(getattr(nl, "array_features", None)):
        raise ValueError(f"backend='jax': the nonlinearity {nl!r} has no array_features "
                         "(features written with array operators, see "
                         "OptomechanicalRemainder.array_features); use backend='numpy'")
    if isinstance(nl, _control_remainder()) and not hasattr(nl.base, "array_features"):
        raise ValueError(f"backend='jax': the nonlinearity {nl.base!r} has no array_features; "
                         "use backend='numpy'")


def _control_remainder():
    from .control import ControlRemainder

    return ControlRemainder


# --- compiled kernels ---------------------------------------------------------------------------

_COMPILED: dict[Any, Any] = {}


def _array_ops(jax, jnp, feat, product: str, moments: str):
    """``(lift, prod, second_moments)`` of the kernel: ``lift(x) = (x, F(x), 1)``,
    ``prod(a, M) = a @ M`` and ``second_moments(x) = x^T x`` (float64), at full precision, in
    the form ``product``/``moments`` (:data:`KERNEL_VARIANTS`)."""
    full = jax.lax.Precision.HIGHEST

    def lift(x):
        ones = jnp.ones(x.shape[:-1] + (1,), x.dtype)
        parts = [x] if feat is None else [x, feat(x, jnp)]
        return jnp.concatenate(parts + [ones], axis=-1)

    def prod(a, M):
        if product == "dot":
            return jnp.dot(a, M, precision=full)
        return (a[..., :, None] * M).sum(axis=-2)

    def second_moments(xm):
        if moments == "dot":
            return jnp.einsum("ni,nj->ij", xm, xm, precision=full,
                              preferred_element_type=jnp.float64)
        xm = xm.astype(jnp.float64)
        return (xm[:, :, None] * xm[:, None, :]).sum(axis=0)

    return lift, prod, second_moments


def _kernels(method: str, nl, dtype_name: str, dim: int):
    """``(burn, sample)`` jitted for a scheme, a feature form and a precision (cached):

    ``burn(x, s0, key, mats, consts, dt, k)``: ``k`` steps from step number ``s0``; returns the
    state. ``sample(x, alive, s0, key, mats, consts, dt, m, every)``: ``m`` samples, one every
    ``every`` steps; returns the state, ``max |x|`` per trajectory over the samples, and the
    per-sample sums ``(m, d)``, ``(m, d, d)`` over the trajectories in ``alive``. ``mats`` hold
    per-step matrices ``(steps, ...)`` (time-dependent drift) or are empty.
    """
    jax, jnp = jax_modules()
    platform = jax.devices()[0].platform
    n_features = 0 if nl is None else int(np.shape(nl.feature_matrix)[0])
    product = _variant("product", platform, (dim + n_features + 1) * dim)
    moments = _variant("moments", platform)
    fkey = (method, _feature_key(nl), dtype_name, product, moments)
    hit = _COMPILED.get(fkey)
    if hit is not None:
        return hit[0]
    step_form = STEP_FORMS[method][0]
    n_normals = 2 if method == "sra1" else 1
    dtype = jnp.dtype(dtype_name)
    lift, prod, second_moments = _array_ops(jax, jnp, None if nl is None else nl.array_features,
                                            product, moments)

    def run(x, s0, key, mats, consts, dt, k):
        def body(x, xs):
            s, m = xs
            z = jax.random.normal(jax.random.fold_in(key, s), (n_normals,) + x.shape, dtype)
            return step_form(x, z, {**consts, **m}, lift, prod, dt, x.shape[1]), None

        return jax.lax.scan(body, x, (s0 + jnp.arange(k), mats))[0]

    def sample(x, alive, s0, key, mats, consts, dt, m, every):
        mats = jax.tree_util.tree_map(lambda a: a.reshape((m, every) + a.shape[1:]), mats)

        def group(carry, xs):
            x, worst = carry
            j, mj = xs
            x = run(x, s0 + j * every, key, mj, consts, dt, every)
            worst = jnp.maximum(worst, jnp.abs(x).max(axis=1))
            xm = jnp.where(alive[:, None], x, 0.0)
            return (x, worst), (jnp.sum(xm, axis=0, dtype=jnp.float64), second_moments(xm))

        worst0 = jnp.zeros(x.shape[0], x.dtype)
        (x, worst), (s1, s2) = jax.lax.scan(group, (x, worst0), (jnp.arange(m), mats))
        return x, worst, s1, s2

    out = (jax.jit(run, static_argnames=("k",)),
           jax.jit(sample, static_argnames=("m", "every")))
    _COMPILED[fkey] = (out, nl)  # keeps nl alive while its id is a key
    return out


# --- memory ---------------------------------------------------------------------------------------

def device_memory_estimate(system: LangevinSystem, n: int, precision: str = "float64") -> float:
    """Bytes of device memory one chunk of ``n`` trajectories needs: the state, its lift, the
    normals and a few temporaries of the step (a generous count: 8 arrays of the lift's width)."""
    nl = system.nonlinearity
    f = 0 if nl is None else int(np.shape(nl.feature_matrix)[0])
    width = system.dim + f + 1
    return float(8 * n * width * (4 if precision == "float32" else 8))


def check_device_memory(system: LangevinSystem, options: SDEOptions) -> dict[str, Any]:
    """``ValueError`` naming ``chunk_size`` when a chunk would need more than 80 % of the
    device's memory (where JAX reports it); returns ``{"device", "memory_bytes",
    "device_memory_bytes"}``."""
    jax, _ = jax_modules()
    n = min(options.chunk_size, options.n_traj)
    need = device_memory_estimate(system, n, options.precision)
    stats = {}
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 -- not every platform reports memory
        stats = {}
    limit = stats.get("bytes_limit")
    if limit and need > 0.8 * limit:
        raise ValueError(f"chunk_size = {options.chunk_size}: a chunk of {n} trajectories needs "
                         f"about {need / 2**30:.3g} GiB on the device, more than 80 % of its "
                         f"{limit / 2**30:.3g} GiB; lower chunk_size")
    return {"device": device_description(), "memory_bytes": need,
            "device_memory_bytes": None if limit is None else float(limit)}


# --- the chunk --------------------------------------------------------------------------------------

def _chunk_key(jax, seed_seq: np.random.SeedSequence):
    data = np.asarray(seed_seq.generate_state(2, dtype=np.uint32))
    return jax.random.wrap_key_data(data, impl="threefry2x32")


class _Matrices:
    """The integrator's matrices as device arrays: constants once, per-step ones per call."""

    def __init__(self, integ, method: str, jnp, dtype) -> None:
        self.integ, self.jnp, self.dtype = integ, jnp, dtype
        _, self.per_step, const = STEP_FORMS[method]
        self.td = integ.time_dependent
        keys = const if self.td else const + self.per_step
        self.consts = {k: jnp.asarray(getattr(integ, k), dtype) for k in keys}

    def steps(self, s0: int, k: int) -> dict[str, Any]:
        if not self.td:
            return {}
        t0 = s0 * self.integ.dt
        return {key: self.jnp.asarray(self.integ._range(key, t0, k), self.dtype)
                for key in self.per_step}


def run_chunk(system: LangevinSystem, options: SDEOptions, sched: Schedule,
              seed_seq: np.random.SeedSequence, index: int, n: int,
              escapes: EscapeTest | None = None) -> ChunkResult:
    """One chunk of ``n`` trajectories on JAX; the same :class:`ChunkResult` as the numpy
    loop's with a :class:`~simulator.sde.records.Moments` record (sums per bin, escapes from
    the fixed point's basin tested with ``escapes`` as there)."""
    start = time.perf_counter()
    _check_features(system.nonlinearity)
    chunk = _Chunk(system, options, sched, seed_seq, n, escapes)
    while chunk.step < sched.n_burn:  # burn-in, in blocks, checked at each block's end
        chunk.burn(min(chunk.block, sched.n_burn - chunk.step))
    chunk.window()
    times, initial, exposure = chunk.esc.arrays()
    return ChunkResult(index=index, n_traj=n, s1=chunk.s1, s2=chunk.s2, counts=chunk.counts,
                       diverged=int((~chunk.alive).sum()) - len(times),
                       final_state=np.asarray(chunk.x, dtype=float),
                       seconds=time.perf_counter() - start, kept=None,
                       escape_times=times if escapes is not None else None,
                       escape_initial=initial, exposure=exposure)


class _Chunk:
    """The state of one chunk on the device (``x``) and on the host (``alive``, step count,
    sums, escapes), stepped by the compiled kernels."""

    def __init__(self, system, options, sched, seed_seq, n, escapes) -> None:
        jax, self.jnp = jax_modules()
        jnp = self.jnp
        dtype = jnp.dtype(options.precision)
        self.run, self.sample = _kernels(options.method, system.nonlinearity, options.precision,
                                         system.dim)
        self.mats = _Matrices(make_integrator(options.method, system, options.dt), options.method,
                              jnp, dtype)
        self.sched, self.dt, self.step = sched, float(options.dt), 0
        self.block = options.block_steps or DEFAULT_BLOCK
        self.esc = EscapeRecord(escapes)
        self.W = None if escapes is None else jnp.asarray(escapes.W, dtype)
        rng = np.random.default_rng(seed_seq)
        with np.errstate(over="ignore", invalid="ignore"):
            x0 = initial_state(system, options, rng, n)
        self.key = _chunk_key(jax, seed_seq)
        self.alive = np.ones(n, dtype=bool)
        d = system.dim
        self.s1, self.s2 = np.zeros((sched.n_bins, d)), np.zeros((sched.n_bins, d, d))
        self.counts = np.zeros(sched.n_bins, dtype=np.int64)
        if sched.record_initial:
            with np.errstate(over="ignore", invalid="ignore"):
                b1, b2, c = _fold_block(x0[None], x0.copy(), sched.bound, self.alive, np.ones(n))
            self.s1[0], self.s2[0], self.counts[0] = b1, b2, c
        self.x = jnp.asarray(np.where(self.alive[:, None], x0, 0.0), dtype)

    def _escaped(self, x, t: float) -> np.ndarray:
        """The escape test at the block end ``t`` (:meth:`EscapeRecord.flag` on radii computed
        on the device); the escaped trajectories, cleared from ``alive``."""
        if not self.esc.due(t):
            return np.zeros_like(self.alive)
        jnp = self.jnp
        r2 = np.asarray(((x @ self.W) ** 2).sum(axis=1))
        worst = np.asarray(jnp.abs(x).max(axis=1))
        with np.errstate(invalid="ignore"):
            return self.esc.flag(r2, worst, self.alive, self.sched.bound, t)

    def burn(self, k: int) -> None:
        """``k`` burn-in steps; divergence, then escapes, checked at the end (as numpy)."""
        jnp = self.jnp
        x = self.run(self.x, self.step, self.key, self.mats.steps(self.step, k),
                     self.mats.consts, self.dt, k=k)
        self.step += k
        ok = np.asarray(jnp.abs(x).max(axis=1)) <= self.sched.bound  # NaN fails
        changed = not ok[self.alive].all()
        self.alive &= ok
        changed |= bool(self._escaped(x, self.step * self.dt).any())
        self.x = jnp.where(jnp.asarray(self.alive)[:, None], x, 0.0) if changed else x

    def window(self) -> None:
        """The averaging window (or the output times): all samples in calls of up to
        ``block`` steps, each sample's sums added to its bin. A call in which a trajectory
        escapes (tested on the end state first, as numpy tests before its fold) or diverges
        is computed again without it, so nothing of its excursion enters the sums."""
        sched, jnp = self.sched, self.jnp
        every, per_bin = sched.sample_every, sched.samples_per_batch
        total, per_call, j = sched.n_batches * per_bin, max(1, self.block // every), 0
        while j < total:
            m = min(per_call, total - j)
            mj = self.mats.steps(self.step, m * every)
            args = (self.step, self.key, mj, self.mats.consts, self.dt)
            x1, worst, g1, g2 = self.sample(self.x, jnp.asarray(self.alive), *args, m=m,
                                            every=every)
            t = (self.step + m * every) * self.dt
            n_esc = int(self._escaped(x1, t).sum())
            ok = np.asarray(worst) <= sched.bound
            if n_esc or not ok[self.alive].all():  # drop them, compute the call again
                self.alive &= ok
                x1, _, g1, g2 = self.sample(self.x, jnp.asarray(self.alive), *args, m=m,
                                            every=every)
                x1 = jnp.where(jnp.asarray(self.alive)[:, None], x1, 0.0)
            bins = int(sched.record_initial) + (j + np.arange(m)) // per_bin
            np.add.at(self.s1, bins, np.asarray(g1))
            np.add.at(self.s2, bins, np.asarray(g2))
            np.add.at(self.counts, bins, int(self.alive.sum()))
            self.esc.expose(self.alive, n_esc, m * every * self.dt)
            self.x, self.step, j = x1, self.step + m * every, j + m
