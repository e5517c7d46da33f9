"""Figures of wgmsim results (the only module that imports matplotlib; files only).

Figures are drawn on a :class:`matplotlib.figure.Figure` with an explicit Agg canvas, never through
``pyplot``: importing this module neither changes the user's backend (no ``matplotlib.use``) nor
registers figures with pyplot's global state. Every figure's title names the parameter point it
shows (:func:`point_label`); E_N and steering are natural-log quantities (dimensionless, in nepers).
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
    from .params import Params
    from .validate import ValidationResult

__all__ = ["plot_ringup", "plot_validation", "point_label"]

#: Readable names of the mode pairs (E_N) and steering directions, as keyed in the comparisons.
PAIR_NAMES = {"r_m": "CW – mech", "l_m": "CCW – mech", "r_l": "CW – CCW"}
MODE_NAMES = {"r": "CW", "l": "CCW", "m": "mech"}
#: Marker and colour of each engine, so that every figure draws an engine the same way.
ENGINE_STYLE = {"lyapunov": ("k", "_"), "sde": ("tab:blue", "o"), "master": ("tab:red", "s")}


def _figure(**kwargs) -> Figure:
    """A figure on its own Agg canvas (no pyplot, no backend switch)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def point_label(params: "Params") -> str:
    """The parameter point in one line: ``Delta/Gamma = -1.150, beta = 0.3927, P = 30 mW``.

    ``Delta`` is the effective detuning (the paper's x-axis), ``beta`` the scatterer phase in rad,
    ``P`` the input power.
    """
    return (f"Δ/Γ = {params.detuning / params.Gamma:+.3f}, β = {params.beta:.4f} rad, "
            f"P = {params.power * 1e3:.3g} mW")


def _steering_name(key: str) -> str:
    a, b = key.split("->")
    return f"{MODE_NAMES.get(a, a)} → {MODE_NAMES.get(b, b)}"


def plot_ringup(res, path: str | Path) -> None:
    """Mean fields, photon and phonon numbers and E_N against time, ensemble vs linearised.

    Error bars are one standard error across chunks. The E_N panel draws a one-sigma band when the
    result carries ``log_negativity_stderr`` (a dict of arrays of shape ``(n_t,)`` keyed like
    ``log_negativity``); ring-up results without it are drawn as points only.
    """
    t = res.t
    lin = res.linear_covariance
    fig = _figure(figsize=(10, 7))
    ax = fig.subplots(2, 2, sharex=True)
    ax[0, 0].errorbar(t, res.mean[:, 4], yerr=res.mean_stderr[:, 4], fmt="o", ms=3, capsize=2,
                      label="ensemble ⟨q⟩ ± 1σ")
    ax[0, 0].plot(t, res.mean_field[:, 4], "-", label="mean field q")
    ax[0, 0].set_ylabel("displacement q (dimensionless quadrature)")
    photons = res.photon_number
    ax[0, 1].plot(t, photons["r"], "o", ms=3, label="CW, ensemble")
    ax[0, 1].plot(t, 0.5 * (res.mean_field[:, 0] ** 2 + res.mean_field[:, 1] ** 2), "-",
                  label="CW, mean field")
    ax[0, 1].plot(t, photons["l"], "s", ms=3, label="CCW, ensemble")
    ax[0, 1].set_ylabel("intracavity photon number")
    ph_lin = 0.5 * (lin[:, 4, 4] + lin[:, 5, 5]) - 0.5
    se_ph = 0.5 * np.hypot(res.covariance_stderr[:, 4, 4], res.covariance_stderr[:, 5, 5])
    ax[1, 0].errorbar(t, res.phonon_number, yerr=se_ph, fmt="o", ms=3, capsize=2,
                      label="ensemble ± 1σ")
    ax[1, 0].plot(t, ph_lin, "-", label="linearised")
    ax[1, 0].set_yscale("log")
    ax[1, 0].set_ylabel("phonons in the fluctuations")
    en_se = res.log_negativity_stderr  # jackknife over chunks (None: a format-2 result)
    ax[1, 1].errorbar(t, res.log_negativity["r_m"], yerr=None if en_se is None else en_se["r_m"],
                      fmt="o", ms=3, label="ensemble")
    ax[1, 1].plot(t, log_negativity(lin)["r_m"], "-", label="linearised")
    ax[1, 1].set_ylabel("E_N, CW – mech (ln units)")
    for a in ax.ravel():
        a.legend(fontsize=8)
    for a in ax[1]:
        a.set_xlabel("time t·ω_m (dimensionless)")
    fig.suptitle(f"ring-up at {point_label(res.params)}\n{res.options.n_traj} trajectories, "
                 f"max |z| of the covariance = {res.max_abs_z:.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _engine_points(ax, keys, result, offsets) -> None:
    """Lyapunov and every compared engine side by side at ``x = index + offset``."""
    x = np.arange(len(keys), dtype=float)
    colour, marker = ENGINE_STYLE["lyapunov"]
    ax.plot(x + offsets[0], [result.reference_scalars[k] for k in keys], marker, color=colour,
            ms=18, mew=2.5, ls="none", label="Lyapunov (linearised)")
    for n, comp in enumerate(result.comparisons):
        rows = {r.quantity: r for r in comp.rows}
        vals = [rows[k].value if k in rows else np.nan for k in keys]
        errs = [rows[k].error if k in rows else np.nan for k in keys]
        colour, marker = ENGINE_STYLE.get(comp.engine, (f"C{n + 2}", "D"))
        bar = "± 1σ (standard error)" if comp.error_kind == "stderr" else \
            "± truncation-error estimate"
        ax.errorbar(x + offsets[n + 1], vals, yerr=errs, fmt=marker, color=colour, ms=5,
                    capsize=4, label=f"{comp.engine} {bar}")
    ax.set_xticks(x)
    ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    ax.grid(axis="y", alpha=0.3)


def plot_validation(result: "ValidationResult", directory: str | Path) -> list[Path]:
    """Figures of a validation run: E_N and steering per engine, and per-element scores.

    ``observables.png`` has one panel for E_N of the three mode pairs and one for steering in
    both directions, the engines side by side with their error bars; ``covariance_scores.png``
    shows, per engine, each covariance element's difference from Lyapunov over its error.

    Returns the paths written (``observables.png``, ``covariance_scores.png``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    comps = result.comparisons
    where = point_label(result.params)
    en_keys = [k for k in result.reference_scalars if k.startswith("E_N")]
    st_keys = [k for k in result.reference_scalars if k.startswith("steering")]
    offsets = np.linspace(-0.2, 0.2, len(comps) + 1) if comps else np.zeros(1)
    fig = _figure(figsize=(11, 4.6))
    ax_en, ax_st = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.8]})
    _engine_points(ax_en, en_keys, result, offsets)
    ax_en.set_xticklabels([PAIR_NAMES.get(k[4:-1], k) for k in en_keys])
    ax_en.set_ylabel("logarithmic negativity E_N (ln units)")
    ax_en.set_title("entanglement of each mode pair", fontsize=10)
    _engine_points(ax_st, st_keys, result, offsets)
    ax_st.set_xticklabels([_steering_name(k[9:-1]) for k in st_keys], rotation=25, ha="right")
    ax_st.set_ylabel("Gaussian steering (ln units)")
    ax_st.set_title("steering, both directions (A → B: A steers B)", fontsize=10)
    ax_st.legend(fontsize=8, loc="best")
    fig.suptitle(f"nonlinear engines against the linearised prediction at {where}", fontsize=11)
    fig.tight_layout()
    paths.append(directory / "observables.png")
    fig.savefig(paths[-1], dpi=120)

    fig = _figure(figsize=(5.2 * max(1, len(comps)), 4.8))
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
        for (i, j), s in np.ndenumerate(S):
            if np.isfinite(s):
                txt = f"{s:+.1f}".replace("-0.0", "0.0").replace("+0.0", "0.0")
                ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                        color="white" if abs(s) > 0.6 * lim else "black")
        ax.set_xticks(range(6), QUADRATURES)
        ax.set_yticks(range(6), QUADRATURES)
        if comp.error_kind == "stderr":
            label = f"z-score: ({comp.engine} − Lyapunov) / standard error"
        else:
            label = f"({comp.engine} − Lyapunov) / truncation-error estimate"
        ax.set_title(f"covariance V: {comp.engine} against Lyapunov", fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046).set_label(label, fontsize=8)
    fig.suptitle(f"covariance scores at {where}", fontsize=11)
    fig.tight_layout()
    paths.append(directory / "covariance_scores.png")
    fig.savefig(paths[-1], dpi=120)
    return paths
