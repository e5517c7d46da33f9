"""Writers of the validation report: Markdown with figures, and a JSON of every number."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .jsonio import to_jsonable
from .report_html import write_html
from .validate import ValidationResult

__all__ = ["report_dict", "write_report", "summary_lines", "shift_rows", "second_order_md"]


def report_dict(res: ValidationResult) -> dict[str, Any]:
    """Every number of a validation run, JSON-ready."""
    lin = res.lyapunov
    out: dict[str, Any] = {
        "wgmsim_version": __version__,
        "params": res.params.to_dict(),
        "options": {"quick": res.options.quick, "seed": res.options.seed,
                    "n_jobs": res.options.n_jobs, "master": res.options.master,
                    "control_variate": res.options.control_variate,
                    "attractors": res.options.attractors},
        "lyapunov": lin.to_dict(),
        "sde": None if res.sde is None else res.sde.to_dict(),
        "master": None if res.master is None else res.master.to_dict(),
        "master_skipped": res.master_skipped,
        "sde_skipped": res.sde_skipped,
        "attractors": None if res.attractors is None else res.attractors.to_dict(),
        "attractors_skipped": res.attractors_skipped,
        "metastable": res.metastable,
        "escapes": None if res.sde is None else res.sde.escapes,
        "metastability": _escape_text(res) if res.metastable else None,
        "comparisons": [c.to_dict() for c in res.comparisons],
        "second_order": None if res.second_order is None
        else res.second_order.second_order_record(),
        "second_order_checks": [c.to_dict() for c in res.shift_checks],
        "second_order_verdict": res.shift_verdict,
        "verdicts": res.verdicts,
        "timing": res.timing,
    }
    return to_jsonable(out)


def summary_lines(res: ValidationResult) -> list[str]:
    """The short summary printed by ``wgmsim validate``."""
    p, lin = res.params, res.lyapunov
    lines = [
        "wgmsim validate: is the linearised picture right here?",
        f"  Delta/Gamma = {p.detuning / p.Gamma:+.3f}, beta = {p.beta:.4f}, "
        f"P = {p.power * 1e3:.3g} mW, T = {p.temperature * 1e3:.3g} mK, damping {p.damping}",
    ]
    if not lin.stable:
        bad = ", ".join(f"{e.real:+.3e}{e.imag:+.3e}i" for e in lin.unstable_eigenvalues)
        lines.append(f"  linearised system UNSTABLE (eigenvalues {bad}): no stationary state to "
                     "compare; nothing else was run")
        return lines
    en = lin.log_negativity
    lines.append(f"  Lyapunov: E_N(r_m) = {en['r_m']:.4f}, E_N(l_m) = {en['l_m']:.4f}, "
                 f"E_N(r_l) = {en['r_l']:.4f}")
    for comp in res.comparisons:
        rows = {r.quantity: r for r in comp.rows}
        r = rows.get("E_N[r_m]")
        if r is not None:
            lines.append(f"  {comp.engine:7s}: E_N(r_m) = "
                         f"{r.value_text(fmt='.4f', err_fmt='.4f', pm='+-')} ({r.verdict})")
        lines.append(f"  {comp.engine:7s}: {comp.verdict}")
        if any(r.below_resolution for r in comp.rows) or not comp.agrees:
            lines.append(f"  {comp.engine:7s}: covariance alone {comp.covariance_verdict}")
        if comp.engine == "sde":
            lines += _controlled_lines(res) + _shift_lines(res)
    if res.shift_verdict is not None:
        lines += _wrapped("  2nd ord: ", res.shift_verdict)
    if res.sde is not None and res.sde.n_units < 8:
        lines.append(f"  warning: the SDE error bars rest on only {res.sde.n_units} statistical "
                     "units (chunks x batches; slow relaxation here): treat its verdict with care")
    if res.sde is not None and res.sde.status not in ("ok", "few_units"):
        # e.g. not_stationary: a disagreement that is the run's, not the physics'
        lines.append(f"  warning: SDE status {res.sde.status}: {res.sde.message}")
    if res.sde_skipped:
        lines.append(f"  SDE ensemble not compared: {res.sde_skipped}")
    if res.master_skipped:
        lines.append(f"  master equation not compared: {res.master_skipped}")
    lines += _attractor_lines(res)
    lines.append("  timing: " + ", ".join(f"{k} {v:.1f} s" for k, v in res.timing.items()))
    return lines


def _escape_text(res: ValidationResult) -> str:
    """What the SDE leg measured of escapes (:func:`simulator.sde.escapes.describe`)."""
    from .sde.escapes import describe

    if res.sde is None:
        return "escape rate not measured (no SDE leg)"
    return describe(res.sde.escapes)


def _attractor_lines(res: ValidationResult) -> list[str]:
    """What the classical attractor search found, and what it means for the engines."""
    found = res.attractors
    if found is None:
        why = res.attractors_skipped
        return [] if why in (None, "not requested") else [f"  attractors: not searched: {why}"]
    if found.status != "ok":
        return [f"  {found.summary_line()}"]
    c = found.smallest_cycle
    if c is None:
        return [f"  {found.summary_line()}"]
    b = found.basin
    edge = "not searched" if b is None else f"{b.radius:.3g} sigma (Mahalanobis)"
    if b is not None and b.limited:
        edge += " (limited search: the fixed point relaxes slowly; may be too low)"
    lines = [f"  METASTABLE: a stable limit cycle of the classical equations coexists with the "
             f"fixed point: amplitude max|dq| {c.q_max:.4g} sigma_q, period "
             f"{c.period:.4f}/omega_m; basin edge {edge}",
             "  METASTABLE: the linearised steady state describes the fixed point's basin only; "
             "noise can carry the system to the cycle",
             "  METASTABLE: " + _escape_text(res)]
    scope = getattr(res.master, "scope", None) if res.master is not None else None
    if scope is not None and scope.get("basin_only"):
        lines.append(f"  master : Fock space ({scope['fock_quanta']} quanta) does not reach the "
                     f"cycle ({scope['cycle_quanta']:.3g} quanta): fixed point's basin only")
    return lines


def shift_rows(res: ValidationResult) -> list[dict[str, Any]]:
    """The measured nonlinear shift per entangled pair (Lyapunov ``E_N > 1e-10``): ``pair``,
    ``lyapunov`` ``E_N``, ``shift`` ``dE_N = E_N(V_nl) - E_N(V_Lyapunov)``, ``stderr``,
    ``relative`` ``dE_N / E_N``; empty without control variates. Pairs the Lyapunov solution
    does not entangle are left out: ``E_N`` is clipped at 0 there and its shift says nothing."""
    sh = res.shift
    if not sh or "log_negativity" not in sh:
        return []
    en = res.lyapunov.log_negativity
    return [{"pair": k, "lyapunov": float(en[k]), "shift": float(v),
             "stderr": float(sh["log_negativity_stderr"][k]), "relative": float(v / en[k])}
            for k, v in sh["log_negativity"].items() if en.get(k, 0.0) > 1e-10]


def _controlled_lines(res: ValidationResult) -> list[str]:
    """The SDE's headline E_N(r_m) when it is the controlled estimate (the comparison rows
    score the plain one, which does not rest on the Lyapunov solution)."""
    sde = res.sde
    if sde is None or sde.plain is None or not sde.log_negativity:
        return []
    return [f"  sde    : E_N(r_m) = {sde.log_negativity['r_m']:.6g} +- "
            f"{sde.log_negativity_stderr['r_m']:.2g} with control variates (the rows above "
            "score the plain estimate, which does not rest on Lyapunov)"]


def _shift_lines(res: ValidationResult) -> list[str]:
    sh = res.shift
    if not sh:
        return []
    iu = np.triu_indices(np.shape(sh["covariance"])[0])
    dV, se = np.asarray(sh["covariance"])[iu], np.asarray(sh["covariance_stderr"])[iu]
    k = int(np.argmax(np.abs(dV)))
    lines = [f"  shift  : nonlinear shift (control variates, order {sh.get('order', 1)}): "
             f"max |dV| = {abs(dV[k]):.2e} +- {se[k]:.1e}"]
    for r in shift_rows(res):
        lines.append(f"  shift  : dE_N({r['pair']}) = {r['shift']:+.2e} +- {r['stderr']:.1e} "
                     f"(dE_N/E_N = {r['relative']:+.1e})")
    return lines


def _wrapped(prefix: str, text: str) -> list[str]:
    """``text`` split at its ``; `` into lines, the first after ``prefix``, the rest indented."""
    parts = text.split("; ")
    return [prefix + parts[0]] + [" " * len(prefix) + p for p in parts[1:]]


def second_order_md(res: ValidationResult) -> list[str]:
    """The report.md section: exact second-order shifts beside the measured ones."""
    so = res.second_order
    if so is None:
        return []
    rec = so.second_order_record()
    md = ["## Exact second-order shift", "",
          "The linearised covariance is the zeroth order in G0; `wgmsim lyapunov --second-order` "
          "computes the first correction, O(G0^2), exactly: quantum (the full Wigner equation, "
          "with its third-order term) and truncated Wigner (what the SDE integrates; "
          "`docs/second_order.md`). Each engine's measured shift is scored against the "
          "prediction of the physics it integrates: the SDE against truncated Wigner (error "
          "plus a step-bias allowance of dt x |shift|), the master equation against the quantum "
          "one (truncation error plus an O(G0^4) allowance of 2 (G0/Gamma)^2 |shift|).", "",
          f"G0/Gamma = {rec['g0_over_Gamma']:.4g}.", "",
          "| pair | Lyapunov E_N | quantum dE_N | truncated Wigner dE_N | ratio |",
          "|---|---|---|---|---|"]
    for pair, q in rec["log_negativity_shift"].items():
        en, t = float(so.log_negativity[pair]), rec["twa"]["log_negativity_shift"][pair]
        if en > 1e-10:
            md.append(f"| {pair} | {en:.5g} | {q:+.4e} | {t:+.4e} | "
                      f"{t / q if q else float('nan'):.3g} |")
    checks = res.shift_checks
    if checks:
        md += ["", "| engine | pair | measured dE_N | error | allowance | predicted | z | "
               "verdict |", "|---|---|---|---|---|---|---|---|"]
        md += [f"| {c.engine} | {c.pair} | {c.measured:+.4e} | {c.error:.2e} | "
               f"{c.allowance:.2e} | {c.predicted:+.4e} ({c.prediction}) | {c.z:+.2f} | "
               f"{'agrees' if c.agrees else 'DISAGREES'} |" for c in checks]
    return md + ["", res.shift_verdict + ".", ""]


def _table(res: ValidationResult) -> list[str]:
    engines = [c.engine for c in res.comparisons]
    head = "| quantity | Lyapunov | " + " | ".join(
        f"{e} | {'z' if c.error_kind == 'stderr' else 'diff/err'} | verdict"
        for e, c in zip(engines, res.comparisons)) + " |"
    sep = "|" + "---|" * (2 + 3 * len(engines))
    lines = [head, sep]
    by_engine = [{r.quantity: r for r in c.rows} for c in res.comparisons]
    for row in res.comparisons[0].rows:
        cells = [row.quantity, f"{row.reference:.5g}"]
        for rows in by_engine:
            r = rows.get(row.quantity)
            if r is None:
                cells += ["-", "-", "-"]
            else:
                cells += [r.value_text(), f"{r.score:+.2f}", r.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(res: ValidationResult, directory: str | Path) -> Path:
    """Write ``report.md``, ``report.json``, ``report.html`` and the figures into ``directory``
    as one unit; return the path of report.md.

    The files are written into a staging folder inside ``directory`` and moved into place (each
    move atomic) only when all of them are written: a failure (a full disk) leaves the previous
    report whole, never half of each.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".report-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _write_report_files(res, staging)
        for f in sorted(staging.iterdir()):
            os.replace(f, directory / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory / "report.md"


def _write_report_files(res: ValidationResult, directory: Path) -> None:
    """The files of :func:`write_report`, written straight into ``directory``."""
    from .plotting import plot_validation

    d = report_dict(res)
    (directory / "report.json").write_text(json.dumps(d, indent=2) + "\n")
    md = ["# wgmsim validation report", "", "```", *summary_lines(res), "```", ""]
    md += ["Parameters (SI) are in `report.json` (`params`), with the seeds and options of every "
           "engine. Conventions: order (X_r, Y_r, X_l, Y_l, q, p), vacuum variance 1/2, "
           "time in 1/omega_m.", ""]
    if res.comparisons:
        figs = plot_validation(res, directory)
        md += ["## Lyapunov vs nonlinear engines", "",
               "Statistical engines (SDE) are scored by z = (value - Lyapunov) / standard error "
               "(batch means over chunks and time; jackknife for E_N and steering); a quantity "
               "agrees when |z| < 5. E_N and steering are clipped at zero, so the SDE scores "
               "their unclipped forms (-ln(2 nu_-), (1/2) ln(det A / 4 det W)) against the same "
               "functions of the Lyapunov covariance; where the estimate or a jackknife "
               "replicate is clipped the value is shown as an upper bound, \"below "
               "resolution\". Deterministic engines (master equation) are scored by the "
               "difference over their truncation error estimate.", ""]
        md += _table(res) + [""]
        rows = shift_rows(res)
        if rows:
            md += ["Nonlinear shift measured with control variates (the linearised SDE on the same "
                   "noise; `V_nl = V_Lyapunov + <x x^T - y y^T>`): dE_N = E_N(V_nl) - "
                   "E_N(V_Lyapunov) with its jackknife error.", "",
                   "| pair | Lyapunov E_N | dE_N | error | dE_N / E_N |", "|---|---|---|---|---|"]
            md += [f"| {r['pair']} | {r['lyapunov']:.5g} | {r['shift']:+.3e} | "
                   f"{r['stderr']:.2e} | {r['relative']:+.2e} |" for r in rows] + [""]
        md += second_order_md(res)
        md += [f"![{f.stem}]({f.name})" for f in figs] + [""]
        md += ["## Numerical error estimates", ""]
        for comp in res.comparisons:
            md.append(f"- **{comp.engine}**: "
                      + ", ".join(f"{k} = {_fmt(v)}" for k, v in comp.info.items()))
        md.append("")
    if res.sde_skipped:
        md += [f"SDE ensemble not compared: {res.sde_skipped}.", ""]
    if res.master_skipped:
        md += [f"Master equation not compared: {res.master_skipped}.", ""]
    path = directory / "report.md"
    path.write_text("\n".join(md))
    write_html(d, directory, figs if res.comparisons else ())


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{v:.3g}"
    return str(v)
