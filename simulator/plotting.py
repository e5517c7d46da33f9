"""Figures of wgmsim results (the only module that imports matplotlib; files only).

Figures are drawn on a :class:`matplotlib.figure.Figure` with an explicit Agg canvas, never through
``pyplot``: importing this module neither changes the user's backend (no ``matplotlib.use``) nor
registers figures with pyplot's global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .conventions import QUADRATURES
from .observables import log_negativity

if TYPE_CHECKING:
    from .validate import ValidationResult

__all__ = ["plot_ringup", "plot_validation"]


def _figure(**kwargs) -> Figure:
    """A figure on its own Agg canvas (no pyplot, no backend switch)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def plot_ringup(res, path: str | Path) -> None:
    """Mean fields, photon and phonon numbers and E_N against time, ensemble vs linearised."""
    t = res.t
    lin = res.linear_covariance
    fig = _figure(figsize=(10, 7))
    ax = fig.subplots(2, 2, sharex=True)
    ax[0, 0].plot(t, res.mean[:, 4], "o", ms=3, label="ensemble <q>")
    ax[0, 0].plot(t, res.mean_field[:, 4], "-", label="mean field q")
    ax[0, 0].set_ylabel("q")
    photons = res.photon_number
    ax[0, 1].plot(t, photons["r"], "o", ms=3, label="CW, ensemble")
    ax[0, 1].plot(t, 0.5 * (res.mean_field[:, 0] ** 2 + res.mean_field[:, 1] ** 2), "-",
                  label="CW, mean field")
    ax[0, 1].plot(t, photons["l"], "s", ms=3, label="CCW, ensemble")
    ax[0, 1].set_ylabel("photon number")
    ph_lin = 0.5 * (lin[:, 4, 4] + lin[:, 5, 5]) - 0.5
    se_ph = 0.5 * np.hypot(res.covariance_stderr[:, 4, 4], res.covariance_stderr[:, 5, 5])
    ax[1, 0].errorbar(t, res.phonon_number, yerr=se_ph, fmt="o", ms=3, label="ensemble")
    ax[1, 0].plot(t, ph_lin, "-", label="linearised")
    ax[1, 0].set_yscale("log")
    ax[1, 0].set_ylabel("phonons in fluctuations")
    en_se = res.log_negativity_stderr  # jackknife over chunks (None: a format-2 result)
    ax[1, 1].errorbar(t, res.log_negativity["r_m"], yerr=None if en_se is None else en_se["r_m"],
                      fmt="o", ms=3, label="ensemble")
    ax[1, 1].plot(t, log_negativity(lin)["r_m"], "-", label="linearised")
    ax[1, 1].set_ylabel("E_N (CW-mechanics)")
    for a in ax.ravel():
        a.legend(fontsize=8)
    for a in ax[1]:
        a.set_xlabel("t omega_m")
    fig.suptitle(f"ring-up, {res.options.n_traj} trajectories, max |z| = {res.max_abs_z:.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_validation(result: "ValidationResult", directory: str | Path) -> list[Path]:
    """Figures of a validation run: E_N and steering per engine, and per-element scores.

    Returns the paths written (``observables.png``, ``covariance_scores.png``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    comps = result.comparisons
    keys = [k for k in result.reference_scalars if k.startswith("E_N")] + \
           [k for k in result.reference_scalars if k.startswith("steering")]
    fig = _figure(figsize=(10, 4))
    ax = fig.subplots()
    x = np.arange(len(keys))
    ax.plot(x, [result.reference_scalars[k] for k in keys], "k_", ms=22, mew=2,
            label="Lyapunov (linearised)")
    for n, comp in enumerate(comps):
        rows = {r.quantity: r for r in comp.rows}
        vals = [rows[k].value if k in rows else np.nan for k in keys]
        errs = [rows[k].error if k in rows else np.nan for k in keys]
        ax.errorbar(x + 0.15 * (n + 1), vals, yerr=errs, fmt="o", ms=4, capsize=3,
                    label=f"{comp.engine} ({'1 sigma' if comp.error_kind == 'stderr' else 'error estimate'})")
    ax.set_xticks(x + 0.15)
    ax.set_xticklabels(keys, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("value")
    ax.set_title("entanglement and steering: nonlinear engines against the linearised prediction")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(directory / "observables.png")
    fig.savefig(paths[-1], dpi=120)

    fig = _figure(figsize=(5 * max(1, len(comps)), 4.2))
    axes = fig.subplots(1, max(1, len(comps)), squeeze=False)
    for ax, comp in zip(axes[0], comps):
        S = np.full((6, 6), np.nan)
        for r in comp.rows:
            if r.quantity.startswith("V["):
                a, b = r.quantity[2:-1].split(",")
                i, j = QUADRATURES.index(a), QUADRATURES.index(b)
                S[i, j] = S[j, i] = r.score
        lim = max(5.0, np.nanmax(np.abs(S)) if np.isfinite(S).any() else 5.0)
        im = ax.imshow(S, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(6), QUADRATURES)
        ax.set_yticks(range(6), QUADRATURES)
        unit = "z = diff / stderr" if comp.error_kind == "stderr" else "diff / error estimate"
        ax.set_title(f"{comp.engine} - Lyapunov: {unit}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    paths.append(directory / "covariance_scores.png")
    fig.savefig(paths[-1], dpi=120)
    return paths
