"""The density matrices the master-equation engine keeps: their basis, operators and transforms.

Basis of a kept state (``MasterResult.state``, ``MasterTrajectory.states``)
-----------------------------------------------------------------------------
``MasterResult.state`` and ``MasterTrajectory.states`` are in the *lab's displaced Fock basis*:
tensor factors ``a_r``, ``a_l`` (only where the CCW mode couples) and ``b``, in that order, the
Fock states of the physical fluctuation modes, so that the operators of
``MasterResult.operators`` (``qutip.destroy`` in each factor, :func:`destroy_operators`) act on it
as a QuTiP user expects: ``qutip.expect(b.dag() * b, res.state)`` is the phonon number of the
covariance, within the truncation error. The steady-state engine solves in the Fock basis of the
Williamson normal modes (below); that matrix is ``MasterResult.normal_mode_state``, and
``MasterResult.state`` is it re-expressed (:func:`to_lab_basis`).

* **Displaced frame.** The state is that of the *fluctuations* about the mean field
  (``a_j = alpha_j + delta a_j``, ``q = q_s + delta q``, ``p = p_s + delta p``,
  :func:`simulator.model.mean_field`), in the frame rotating at the drive. The mean field itself
  (``|alpha_r|^2 ~ 1e8`` photons at the paper's point) is not in the matrix: no truncated
  undisplaced Fock space could hold it. Its amplitudes are ``result.lyapunov.mean_field``.
* **Tensor order** r, l, m (CW optical, CCW optical, mechanics), the modes of ``result.modes``;
  the CCW factor is absent (exactly vacuum) when ``J1 = J2 = 0``. ``Qobj.dims`` gives the cutoffs.
* **Fock basis of the basis modes.** With ``basis="fock"`` the factors are the Fock states of the
  physical fluctuation modes (``delta a_r``, ``delta a_l``, ``delta b = (delta q + i delta p) /
  sqrt(2)``). With ``basis="normal"`` (the steady-state default) they are the Fock states of the
  Williamson normal modes of the Lyapunov covariance: the physical quadratures are
  ``u = S u'`` (``S`` symplectic, :class:`simulator.master.operators.Space`), so a state close to
  the Gaussian steady state is nearly a product of thermal states. :func:`quadrature_operators`
  gives the physical quadratures as operators in either basis, and :func:`to_fock_basis`
  re-expresses a normal-basis state in the displaced physical Fock basis.

Covariances follow :mod:`simulator.conventions`: ``V_kl = Re Tr(rho u_k u_l) - <u_k><u_l>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import qutip
import scipy.sparse.linalg

from ..conventions import QUADRATURES
from ..model import initial_covariance
from .operators import Space, build_space

__all__ = ["quadrature_operators", "destroy_operators", "to_fock_basis", "to_lab_basis",
           "qobj_to_arrays", "qobj_from_arrays", "LADDER_NAMES"]

#: Name of the annihilation operator of each physical mode (``MasterResult.operators``).
LADDER_NAMES = {"r": "a_r", "l": "a_l", "m": "b"}


def quadrature_operators(space: Space) -> dict[str, qutip.Qobj]:
    """Physical fluctuation quadratures of the kept modes as operators on ``space``.

    Returns
    -------
    dict of str to qutip.Qobj
        Keys from :data:`simulator.conventions.QUADRATURES` (``"X_r"``, ``"Y_r"``, ...,
        ``"q"``, ``"p"``), only for the modes in ``space.modes``.
    """
    return {QUADRATURES[i]: op for i, op in zip(space.quadrature_index, space.x)}


def destroy_operators(modes: tuple[str, ...], cutoffs: tuple[int, ...]) -> dict[str, qutip.Qobj]:
    """Annihilation operators of the physical fluctuation modes on the lab Fock space.

    Parameters
    ----------
    modes : tuple of str
        Kept modes in tensor order (``("r", "m")`` or ``("r", "l", "m")``).
    cutoffs : tuple of int
        Fock dimension of each, in the same order.

    Returns
    -------
    dict of str to qutip.Qobj
        ``"a_r"``, ``"a_l"`` (if kept), ``"b"``: ``qutip.destroy(N)`` in its tensor factor,
        identities elsewhere (dims ``[list(cutoffs), list(cutoffs)]``).
    """
    eye = [qutip.qeye(int(c)) for c in cutoffs]
    out = {}
    for k, mode in enumerate(modes):
        factors = list(eye)
        factors[k] = qutip.destroy(int(cutoffs[k]))
        out[LADDER_NAMES[mode]] = qutip.tensor(*factors)
    return out


def to_lab_basis(rho: qutip.Qobj, space: Space, *, tol: float,
                 max_rounds: int = 5) -> qutip.Qobj:
    """A normal-basis state in the lab's displaced Fock basis, cutoffs chosen for it.

    The physical cutoffs start at 1.5 times the normal-mode ones (rounded up) and grow by 1.3
    per round until the weight they miss, ``w = 1 - Tr rho_lab``, times the largest cutoff is
    at most ``tol``: a number operator ``a^dag a`` then loses at most about ``tol`` to the
    truncation (at the paper's point, normal cutoffs (4, 10): lab cutoffs (6, 15), ``w`` = 1e-5,
    phonon number 1.7e-5 from the covariance's; at ``beta = 0.3``, (3, 4, 22): (7, 8, 43),
    ``w`` = 1.3e-6, 1e-5). After ``max_rounds`` the last state is returned; its trace shows what
    it misses.

    Parameters
    ----------
    rho : qutip.Qobj
        State on ``space`` (any basis; a ``"fock"`` space returns ``rho`` itself).
    space : Space
    tol : float
        Bound on ``w * max(cutoffs)``.
    max_rounds : int

    Returns
    -------
    qutip.Qobj
    """
    if space.basis == "fock":
        return rho
    cutoffs = tuple(math.ceil(1.5 * c) for c in space.cutoffs)
    for _ in range(max_rounds):
        out = to_fock_basis(rho, space, cutoffs)
        if (1.0 - out.tr().real) * max(cutoffs) <= tol:
            break
        cutoffs = tuple(math.ceil(1.3 * c) for c in cutoffs)
    return out


def to_fock_basis(rho: qutip.Qobj, space: Space, cutoffs: tuple[int, ...]) -> qutip.Qobj:
    """A state of ``space`` re-expressed in the displaced *physical* Fock basis.

    For ``space.basis == "fock"`` the state already is in that basis and is returned unchanged
    (``cutoffs`` must then equal ``space.cutoffs``). For the normal-mode basis, each basis Fock
    state ``|n'>`` is built in the physical Fock space of ``cutoffs``: the normal-mode ladder
    operators are ``b'_k = (x'_{2k} + i x'_{2k+1}) / sqrt(2)`` with ``x' = S^-1 u`` (``u`` the
    physical quadratures), ``|0'>`` is the common null vector of the ``b'_k`` (lowest eigenvector
    of ``sum_k b'_k^dag b'_k``) and ``|n'> = prod_k (b'_k^dag)^{n_k} / sqrt(n_k!) |0'>``. Then
    ``rho_phys = W rho W^dag`` with ``W`` the matrix of columns ``|n'>``.

    Truncation: the physical cutoffs must hold every ``|n'>``; the weight they miss shows as
    ``1 - rho_phys.tr()`` (a few ``1e-6`` with generous cutoffs). Costs one sparse
    shift-invert eigen-solve of dimension ``prod(cutoffs)``.

    Parameters
    ----------
    rho : qutip.Qobj
        Density matrix on ``space`` (dims ``space.cutoffs``).
    space : Space
    cutoffs : tuple of int
        Physical Fock dimensions, one per mode of ``space.modes``.

    Returns
    -------
    qutip.Qobj
        Density matrix with dims ``[list(cutoffs), list(cutoffs)]``, tensor order r, l, m.
    """
    cutoffs = tuple(int(c) for c in cutoffs)
    if len(cutoffs) != len(space.modes):
        raise ValueError(f"cutoffs = {cutoffs}: need {len(space.modes)} entries, one per mode "
                         f"{space.modes}")
    if space.basis == "fock":
        if cutoffs != tuple(space.cutoffs):
            raise ValueError(f"cutoffs = {cutoffs}: the state is already in the physical Fock "
                             f"basis with cutoffs {space.cutoffs}")
        return rho
    phys = build_space(space.modes, "fock", cutoffs, initial_covariance(0.0))
    xs = [x.data.as_scipy() for x in phys.x]
    s_inv = np.linalg.inv(space.S)
    k = len(space.modes)
    prime = [sum(s_inv[j, i] * xs[i] for i in range(2 * k)) for j in range(2 * k)]
    lower = [(prime[2 * m] + 1j * prime[2 * m + 1]) / math.sqrt(2.0) for m in range(k)]
    raise_ = [b.conj().T.tocsr() for b in lower]
    number = sum(r @ b for r, b in zip(raise_, lower)).tocsc()
    # a fixed start vector: ARPACK's default is random, which made the same result's state
    # differ in the last digits from call to call
    v0 = np.full(number.shape[0], 1.0 / math.sqrt(number.shape[0]))
    _, vec = scipy.sparse.linalg.eigsh(number, k=1, sigma=-0.5, which="LM", v0=v0)
    vac = vec[:, 0]
    columns = {}
    for n in product(*(range(c) for c in space.cutoffs)):
        if not any(n):
            columns[n] = vac
            continue
        m = next(i for i in range(k - 1, -1, -1) if n[i])  # peel one quantum off the last mode
        prev = list(n)
        prev[m] -= 1
        columns[n] = raise_[m] @ columns[tuple(prev)] / math.sqrt(n[m])
    W = np.stack([columns[n] for n in product(*(range(c) for c in space.cutoffs))], axis=1)
    R = W @ rho.full() @ W.conj().T
    return qutip.Qobj(0.5 * (R + R.conj().T), dims=[list(cutoffs), list(cutoffs)])


def qobj_to_arrays(state: qutip.Qobj) -> tuple[np.ndarray, np.ndarray]:
    """``(dense matrix, dims)`` of a density matrix, for saving (``dims`` shape ``(2, k)``)."""
    return np.asarray(state.full()), np.asarray(state.dims, dtype=np.int64)


def qobj_from_arrays(matrix: np.ndarray, dims: np.ndarray) -> qutip.Qobj:
    """Inverse of :func:`qobj_to_arrays`."""
    return qutip.Qobj(np.asarray(matrix), dims=[[int(d) for d in row] for row in dims])


@dataclass(frozen=True)
class DensityMatrices:
    """How a result field holding a density matrix (``series=False``) or a tuple of them, one
    per time (``series=True``), is saved (:func:`simulator.resultfields.saved`'s ``codec``):
    the dense matrix (stacked along a first axis for a series) under the field's key, the QuTiP
    ``dims`` under ``dims_key``; ``old_key`` is read where a file has no ``key``."""

    dims_key: str
    series: bool = False
    old_key: str | None = None

    def encode(self, value: Any, key: str) -> tuple[None, dict[str, np.ndarray]]:
        if value is None:
            return None, {}
        first = value[0] if self.series else value
        matrix = np.stack([s.full() for s in value]) if self.series else first.full()
        return None, {key: np.asarray(matrix),
                      self.dims_key: np.asarray(first.dims, dtype=np.int64)}

    def decode(self, meta: Any, arrays: dict[str, np.ndarray], key: str) -> Any:
        if key not in arrays and self.old_key in arrays:
            key = self.old_key
        if key not in arrays:
            return None
        dims = arrays[self.dims_key if key != self.old_key else key + "_dims"]
        if self.series:
            return tuple(qobj_from_arrays(m, dims) for m in arrays[key])
        return qobj_from_arrays(arrays[key], dims)
