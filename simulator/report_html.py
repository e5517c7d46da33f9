"""The validation report as one self-contained HTML page (``report.html``).

Every number comes from the dict :func:`simulator.report.report_dict` makes (the one
``report.json`` holds), handed in by the caller, so the page, the Markdown report and the JSON
never disagree; nothing is recomputed here, and this module imports neither ``report`` nor
``validate``.
Figures are embedded as base64 PNG data URIs and the style sheet is inline, so the page needs no
other file and no network. All text is escaped with :func:`html.escape`.

Order of the page: the verdict; the parameter point; each engine's numbers with error bars; the
figures; the error budget (Lyapunov residual, SDE standard errors and statistical units, the SDE
step-size check, the master-equation truncation and cutoffs); provenance.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from .compare import ComparisonRow
from .errors import MIN_UNITS

__all__ = ["html_report", "write_html"]

#: Inputs shown in the parameter table: (key in ``params``, label, unit).
PARAM_ROWS = (
    ("power", "input power P", "W"),
    ("detuning", "effective detuning Δ", "s⁻¹"),
    ("beta", "nanoparticle angle β", "rad"),
    ("eta", "nanoparticle backscattering η", "s⁻¹"),
    ("defects", "defects (ε_j, β_j)", "s⁻¹, rad"),
    ("temperature", "bath temperature T", "K"),
    ("omega_m", "mechanical frequency ω_m", "rad s⁻¹"),
    ("gamma_m", "mechanical damping γ_m", "s⁻¹"),
    ("omega_c", "optical frequency ω_c", "rad s⁻¹"),
    ("kappa_0", "intrinsic loss κ_0", "s⁻¹"),
    ("kappa_ex", "external coupling κ_ex", "s⁻¹"),
    ("mass", "effective mass μ", "kg"),
    ("radius", "radius R", "m"),
    ("m", "azimuthal mode number m", ""),
    ("damping", "mechanical damping model", ""),
)

#: Magnitude below which a number is shown as ``≈0`` (round-off of an exact zero, e.g. the
#: E_N of an unentangled pair; the exact value stays in ``report.json``).
ROUNDOFF = 1e-12

#: Marker set on ``<body>`` by the page's own script once every figure has decoded
#: (``data-figures="loaded"``; ``"broken"`` if any image failed). Read by the browser test.
FIGURES_ATTRIBUTE = "data-figures"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 1.5em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
.verdict { padding: 0.8em 1em; border-radius: 6px; border: 2px solid; margin: 0.8em 0; }
.verdict.ok { background: #e9f7ec; border-color: #2e8b57; }
.verdict.bad { background: #fdecea; border-color: #c0392b; }
.verdict.warn { background: #fff6e0; border-color: #d4a017; }
.verdict p.headline { font-size: 1.2em; font-weight: 600; margin: 0 0 0.4em 0; }
.verdict ul { margin: 0.2em 0 0 1.2em; padding: 0; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.fail td { background: #fdecea; }
span.ok { color: #2e8b57; font-weight: 600; }
span.bad { color: #c0392b; font-weight: 600; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
details summary { cursor: pointer; color: #444; }
code, pre { font-size: 0.85em; background: #f7f7f7; }
pre { padding: 0.5em; overflow-x: auto; }
.note { font-size: 0.9em; color: #555; }
"""

# Sets FIGURES_ATTRIBUTE on <body> once every <img> has either decoded or failed.
_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (im) { return im.complete && im.naturalWidth > 0; });
  document.body.setAttribute("%s", ok ? "loaded" : "broken");
  document.body.setAttribute("data-figures-count", String(imgs.length));
});
""" % FIGURES_ATTRIBUTE


def _e(value: Any) -> str:
    """Escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 4) -> str:
    """A number (or a JSON list/complex pair/None) as short text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0.0:
            return "0"
        if abs(value) < ROUNDOFF:
            return "≈0"
        return f"{value:.{digits}g}"
    if isinstance(value, list):
        return "[" + ", ".join(_num(v, digits) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_num(v, digits)}" for k, v in value.items())
    return str(value)


def _complex(value: Any) -> str:
    """``[re, im]`` (how :mod:`simulator.jsonio` writes complex numbers) as ``re + im i``."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
        re, im = value
        return _num(re) if im == 0 else f"{_num(re)} {'+' if im >= 0 else '−'} {_num(abs(im))}i"
    return _num(value)


def _table(head: Sequence[str] | None, rows: Iterable[Sequence[str]], *,
           classes: Sequence[str] = (), raw: bool = False) -> str:
    """An HTML table (no header row when ``head`` is None); cells are escaped unless ``raw``
    (then the caller escaped them)."""
    cell = (lambda c: c) if raw else _e
    out = ["<table>"]
    if head is not None:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>")
    for n, row in enumerate(rows):
        cls = f' class="{classes[n]}"' if n < len(classes) and classes[n] else ""
        out.append(f"<tr{cls}>" + "".join(
            f'<td class="num">{cell(c)}</td>' if _looks_numeric(c) else f"<td>{cell(c)}</td>"
            for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _looks_numeric(text: str) -> bool:
    """Right-align a cell whose first word is a number (``0.15 ± 0.004``, ``+1.2``, ``–``)."""
    if "<" in text or not text:
        return False
    word = text.split()[0].replace("−", "-")
    if word in ("–", "≈0"):
        return True
    try:
        float(word)
    except ValueError:
        return False
    return True


def _kv_table(pairs: Iterable[tuple[str, str]]) -> str:
    return _table(None, pairs)


# ----------------------------------------------------------------------------------- sections

def _verdict(d: dict[str, Any]) -> str:
    lin = d["lyapunov"]
    if not lin["stable"]:
        bad = ", ".join(_complex(e) for e in lin["eigenvalues"] if e[0] > 0)
        return (f'<div class="verdict warn" id="verdict"><p class="headline">Linearised system '
                f"unstable: no stationary state to compare; nothing else was run.</p>"
                f"<p>Eigenvalues with positive real part (units of ω_m): {_e(bad)}</p></div>")
    comps = d["comparisons"]
    failing = [c["engine"] for c in comps if not c["agrees"]]
    if failing:
        cls = "bad"
        headline = ("The linearised (Lyapunov) picture is NOT confirmed here: "
                    f"{', '.join(failing)} deviate{'s' if len(failing) == 1 else ''}.")
    else:
        cls = "ok"
        headline = ("The linearised (Lyapunov) picture holds here: every nonlinear engine "
                    "agrees within its error bars.")
    items = [f'<li><b>{_e(c["engine"])}</b>: <span class="{"ok" if c["agrees"] else "bad"}">'
             f'{_e(c["verdict"])}</span></li>' for c in comps]
    sde = d["sde"]
    if sde is not None and sde["n_units"] < MIN_UNITS:
        items.append(f'<li><span class="bad">warning</span>: the SDE error bars rest on only '
                     f'{sde["n_units"]} statistical units (fewer than {MIN_UNITS}); treat its '
                     "verdict with care.</li>")
    if d["master_skipped"]:
        items.append(f"<li>master equation not compared: {_e(d['master_skipped'])}</li>")
    if d.get("metastable"):
        cycle = next(a for a in d["attractors"]["attractors"]
                     if a["kind"] == "limit_cycle" and a["stable"])
        basin = d["attractors"]["basin"]
        edge = ("" if basin is None or basin["radius"] is None else
                f", basin edge at {basin['radius']:.3g} σ (Mahalanobis"
                + (", limited search)" if basin.get("limited") else ")"))
        items.append(f'<li><span class="bad">metastable</span>: a stable limit cycle of the '
                     f"classical equations coexists with the fixed point (max |δq| "
                     f"{cycle['q_max']:.4g} σ_q{edge}); the linearised steady state describes "
                     "the fixed point's basin only"
                     + (f"; {_e(d['metastability'])}" if d.get("metastability") else "")
                     + ".</li>")
    return (f'<div class="verdict {cls}" id="verdict"><p class="headline">{_e(headline)}</p>'
            f"<ul>{''.join(items)}</ul></div>")


def _point(d: dict[str, Any]) -> str:
    p, lin = d["params"], d["lyapunov"]
    der = p["derived"]
    gamma = der["Gamma"]
    key = [
        ("Δ/Γ (effective detuning, the paper's x-axis)", _num(p["detuning"] / gamma)),
        ("β (nanoparticle angle)", f"{_num(p['beta'])} rad"),
        ("P (input power)", f"{_num(p['power'] * 1e3)} mW"),
        ("T (bath temperature)", f"{_num(p['temperature'] * 1e3)} mK"),
        ("Γ = κ_0 + κ_ex (total optical decay)",
         f"{_num(gamma)} s⁻¹ = {_num(gamma / p['omega_m'])} ω_m"),
        ("G0 (single-photon coupling)", f"{_num(der['G0'])} s⁻¹"),
        ("G0/Γ", _num(der["G0"] / gamma)),
        ("n_m (thermal phonons)", _num(der["n_m"])),
    ]
    if lin.get("coupling") is not None:
        key += [("|G_r|/ω_m (linearised CW coupling)", _num(lin["coupling"]["r"])),
                ("|G_l|/ω_m (linearised CCW coupling)", _num(lin["coupling"]["l"]))]
    mf = lin.get("mean_field")
    if mf is not None:
        key.append(("bare detuning Δ_a/Γ", _num(mf["bare_detuning_over_Gamma"])))
    if lin.get("photon_number") is not None:
        key.append(("intracavity photons (CW, CCW)",
                    f"{_num(lin['photon_number']['r'])}, {_num(lin['photon_number']['l'])}"))
    inputs = []
    for name, label, unit in PARAM_ROWS:
        v = p.get(name)
        if name == "defects":
            text = "; ".join(f"({_complex(x['eps'])}, {_num(x['beta'])})" for x in v) or "none"
        elif name == "eta":
            text = _complex(v)
        else:
            text = _num(v)
        inputs.append((label, f"{text} {unit}".strip()))
    return ("<h2>Parameter point</h2>\n<h3>Key numbers</h3>\n" + _kv_table(key)
            + "\n<details><summary>All inputs (SI units)</summary>\n" + _kv_table(inputs)
            + "\n</details>")


def _engines(d: dict[str, Any]) -> str:
    comps = d["comparisons"]
    if not comps:
        return ""
    head = ["quantity", "Lyapunov"]
    for c in comps:
        score = "z" if c["error_kind"] == "stderr" else "diff / err"
        bar = "± 1σ" if c["error_kind"] == "stderr" else "± trunc. err."
        head += [f"{c['engine']} {bar}", score, "verdict"]
    by_engine = [{r["quantity"]: r for r in c["rows"]} for c in comps]
    order = [r["quantity"] for r in comps[0]["rows"]]
    scalars = [q for q in order if not q.startswith("V[")]
    elements = [q for q in order if q.startswith("V[")]

    def rows(quantities):
        out, classes = [], []
        for q in quantities:
            ref = by_engine[0][q]["reference"]
            cells = [_e(q), _e(_num(ref, 5))]
            ok = True
            for rows_ in by_engine:
                r = rows_.get(q)
                if r is None:
                    cells += ["–", "–", "–"]
                    continue
                ok &= bool(r["agrees"])
                mark = "ok" if r["agrees"] else "bad"
                cells += [_e(_value_text(r)),
                          _e(f"{r['score']:+.2f}"),
                          f'<span class="{mark}">{_e(r["verdict"])}</span>']
            out.append(cells)
            classes.append("" if ok else "fail")
        return out, classes

    s_rows, s_cls = rows(scalars)
    e_rows, e_cls = rows(elements)
    n_bad = e_cls.count("fail")
    return ("<h2>Engines against the Lyapunov solution</h2>\n"
            '<p class="note">Statistical engines (SDE) are scored by z = (value − Lyapunov) / '
            "standard error (batch means over chunks and time; jackknife for E_N and steering); "
            "a quantity agrees when |z| &lt; 5. Deterministic engines (master equation) are "
            "scored by the difference over their truncation-error estimate. E_N and steering are "
            "in natural-log units; covariance elements V in units of the vacuum variance 1/2 per "
            "quadrature, order (X_r, Y_r, X_l, Y_l, q, p).</p>\n"
            "<h3>Entanglement and steering</h3>\n"
            + _table(head, s_rows, classes=s_cls, raw=True)
            + f"\n<details{' open' if n_bad else ''}><summary>Covariance elements "
            f"({len(elements)}; {n_bad} outside the band)</summary>\n"
            + _table(head, e_rows, classes=e_cls, raw=True) + "\n</details>")


def _budget(d: dict[str, Any]) -> str:
    lin, sde = d["lyapunov"], d["sde"]
    parts = ["<h2>Error budget and numerical checks</h2>", "<h3>Lyapunov (linearised)</h3>"]
    eig = lin.get("eigenvalues") or []
    pairs = [("stable", _num(lin["stable"])),
             ("Lyapunov equation residual ‖AV + VAᵀ + D‖ / ‖D‖",
              _num(lin.get("lyapunov_residual"), 3)),
             ("slowest decay rate, max Re λ (ω_m)",
              _num(max(e[0] for e in eig), 3) if eig else "–")]
    if lin.get("uncertainty_min_eigenvalue") is not None:
        pairs.append(("smallest eigenvalue of V + iΩ/2 (≥ 0 for a physical state)",
                      _num(lin["uncertainty_min_eigenvalue"], 3)))
    parts.append(_kv_table(pairs))
    if sde is not None:
        parts += _sde_budget(sde)
        parts.append(_second_order(d))
    parts += _master_budget(d)
    return "\n".join(parts)


def _sde_budget(sde: dict[str, Any]) -> list[str]:
    parts = []
    opt, sch = sde["options"], sde.get("schedule") or {}
    parts.append("<h3>SDE ensemble (truncated Wigner)</h3>")
    pairs = [("status", f"{sde['status']} {sde.get('message') or ''}".strip()),
             ("method, dt (1/ω_m)", f"{opt['method']}, {_num(opt['dt'])}"),
             ("trajectories (chunk size)", f"{opt['n_traj']} ({opt['chunk_size']})"),
             ("burn-in, averaging time (1/ω_m)",
              f"{_num(sch.get('t_burn'))}, {_num(sch.get('t_avg', opt['t_avg']))}"),
             ("batches in time", _num(sch.get("n_batches"))),
             ("statistical units (chunks × batches)", _num(sde["n_units"])),
             ("diverged trajectories", _num(sde["diverged"]))]
    plain = (sde.get("plain") or {}).get("observables")
    how = " (control variates)" if plain else ""
    pairs += [(f"standard error of E_N[{k}]{how}", _num(v, 3))
              for k, v in sde["log_negativity_stderr"].items()]
    pairs += [(f"standard error of E_N[{k}] (plain estimate, scored above)", _num(v, 3))
              for k, v in ((plain or {}).get("log_negativity_stderr") or {}).items()]
    shift = sde.get("shift") or {}
    below = shift.get("log_negativity_below_resolution") or {}
    pairs += [(f"nonlinear shift dE_N[{k}] (control variates)",
               "– (E_N clipped at zero: no shift measured)" if below.get(k) else
               f"{v:.3g} ± {shift['log_negativity_stderr'][k]:.2g}")
              for k, v in (shift.get("log_negativity") or {}).items()]
    parts.append(_kv_table(pairs))
    parts.append("<h3>Step-size check (SDE: dt against dt/2 on the same noise)</h3>")
    ec = sde.get("error_check")
    if ec:
        parts.append(_kv_table([
            ("trajectories in the check", _num(ec.get("n_traj"))),
            ("relative change of ⟨x xᵀ⟩ (max element)",
             _num(ec.get("second_moment_relative_difference"), 3)),
            ("max absolute change of ⟨x xᵀ⟩",
             _num(ec.get("second_moment_max_abs_difference"), 3)),
            ("rms change of the final state", _num(ec.get("final_state_rms_difference"), 3)),
        ]))
        parts.append('<p class="note">The time-step bias is negligible when this change is '
                     "well below the relative standard errors in the table above.</p>")
    else:
        parts.append('<p class="note">Not run (SDE option error_check = False).</p>')
    return parts


def _master_budget(d: dict[str, Any]) -> list[str]:
    master = d["master"]
    parts = []
    parts.append("<h3>Truncation check (master equation)</h3>")
    if master is None:
        parts.append(f"<p>Not run: {_e(d['master_skipped'] or 'not requested')}.</p>")
    else:
        mo = master.get("options", {})
        parts.append(_kv_table([
            ("model, basis", f"{master.get('model')}, {master.get('basis')}"),
            ("modes kept", ", ".join(master.get("modes", []))),
            ("final cutoffs (Fock levels per mode)", _num(master.get("cutoffs"))),
            ("Hilbert-space dimension", _num(master.get("dimension"))),
            ("truncation-error estimate (max |ΔV| and tail)",
             _num(master.get("truncation_error"), 3)),
            ("tolerance, tail threshold", f"{_num(mo.get('tol'))}, {_num(mo.get('tail'))}"),
            ("top-level populations", _num(master.get("top_population"), 3)),
            ("converged", _num(master.get("converged"))),
            ("message", str(master.get("message", ""))),
        ]))
        hist = master.get("history") or []
        if hist:
            parts.append(_table(
                ("cutoffs", "dimension", "max |ΔV| from previous", "top populations",
                 "E_N[r_m]"),
                [(_num(h.get("cutoffs")), _num(h.get("dim")), _num(h.get("change"), 3),
                  _num(h.get("top_population"), 3), _num(h.get("log_negativity_r_m"), 6))
                 for h in hist]))
    return parts


def _second_order(d: dict[str, Any]) -> str:
    """The exact O(G0^2) shifts beside the measured ones (``report_dict``'s ``second_order``)."""
    so = d.get("second_order")
    if not so:
        return ""
    en = d["lyapunov"].get("log_negativity") or {}
    rows = [(k, _num(en.get(k), 5), f"{q:+.4e}", f"{so['twa']['log_negativity_shift'][k]:+.4e}")
            for k, q in so["log_negativity_shift"].items() if (en.get(k) or 0.0) > 1e-10]
    parts = ["<h3>Exact second-order shift (quantum and truncated Wigner)</h3>",
             _table(("pair", "Lyapunov E_N", "quantum dE_N", "truncated Wigner dE_N"), rows)]
    checks = d.get("second_order_checks") or []
    if checks:
        parts.append(_table(("engine", "pair", "measured dE_N", "predicted", "z", "verdict"), [
            (c["engine"], c["pair"], f"{c['measured']:+.4e} ± {c['error']:.2g}",
             f"{c['predicted']:+.4e} ({c['prediction']})", f"{c['z']:+.2f}",
             "agrees" if c["agrees"] else "DISAGREES") for c in checks]))
    parts.append(f'<p class="note">{_e(d.get("second_order_verdict") or "")}.</p>')
    return "".join(parts)


def _figures(figures: Sequence[Path], point: str) -> str:
    if not figures:
        return ""
    captions = {
        "observables": "E_N of each mode pair and steering in both directions: Lyapunov "
                       "(black bars) and every nonlinear engine with its error bar.",
        "covariance_scores": "Each covariance element's difference from Lyapunov over its error "
                             "(SDE: z-score; master equation: over the truncation-error "
                             "estimate).",
    }
    out = ["<h2>Figures</h2>"]
    for path in figures:
        path = Path(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        cap = captions.get(path.stem, path.stem)
        out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(path.stem)}">'
                   f"<figcaption>{_e(path.name)}: {_e(cap)} Point: {_e(point)}.</figcaption>"
                   "</figure>")
    return "\n".join(out)


def _provenance(d: dict[str, Any]) -> str:
    lin, sde, master = d["lyapunov"], d["sde"], d["master"]
    prov = lin.get("provenance") or {}
    versions = dict(prov.get("versions") or {})
    if sde is not None:
        versions.update({k: v for k, v in (sde.get("versions") or {}).items() if k not in versions})
    pairs = [("wgmsim", d["wgmsim_version"]),
             ("timestamp (Lyapunov leg)", prov.get("timestamp", "–")),
             ("platform", prov.get("platform", "–")),
             ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
             ("validate options", _num(d["options"]))]
    if sde is not None:
        pairs += [("SDE root seed", _num(sde["seed"])),
                  ("SDE chunk seeds (SeedSequence entropy, spawn_key)",
                   "; ".join(f"({s['entropy']}, {s['spawn_key']})" for s in sde["seeds"][:8])
                   + (f"; … {len(sde['seeds'])} in all" if len(sde["seeds"]) > 8 else ""))]
    if master is not None:
        pairs.append(("master options", _num(master.get("options"))))
        mprov = master.get("provenance") or {}
        if mprov.get("timestamp"):
            pairs.append(("timestamp (master leg)", mprov["timestamp"]))
    pairs.append(("wall time per engine (s)", _num(d["timing"], 3)))
    out = ["<h2>Provenance</h2>", _kv_table(pairs)]
    if sde is not None:
        out.append("<details><summary>SDE options</summary><pre>"
                   + _e(json.dumps(sde["options"], indent=1)) + "</pre></details>")
    out.append('<p class="note">Every number on this page is in <code>report.json</code> beside '
               "it (same source).</p>")
    return "\n".join(out)


# ----------------------------------------------------------------------------------- page

def html_report(d: dict[str, Any], figures: Sequence[str | Path] = ()) -> str:
    """The report page as a string.

    Parameters
    ----------
    d : dict
        :func:`simulator.report.report_dict` of a validation.
    figures : sequence of path
        PNG files to embed (as base64 data URIs), in order.

    Returns
    -------
    str
        A complete HTML5 document with no external resources.
    """
    p = d["params"]
    point = (f"Δ/Γ = {p['detuning'] / p['derived']['Gamma']:+.3f}, β = {p['beta']:.4f} rad, "
             f"P = {p['power'] * 1e3:.3g} mW")
    body = ["<h1>wgmsim validation report</h1>",
            f'<p class="note">Is the linearised picture right at {_e(point)}? '
            f"wgmsim {_e(d['wgmsim_version'])}.</p>",
            _verdict(d), _point(d), _engines(d), _figures([Path(f) for f in figures], point)]
    if d["lyapunov"]["stable"]:
        body.append(_budget(d))
    body.append(_provenance(d))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>wgmsim validation: {_e(point)}</title>\n<style>{_STYLE}</style>\n"
            f"<script>{_SCRIPT}</script>\n</head>\n<body>\n"
            + "\n".join(b for b in body if b) + "\n</body>\n</html>\n")


def write_html(d: dict[str, Any], directory: str | Path,
               figures: Sequence[str | Path] = ()) -> Path:
    """Write ``report.html`` of the report dict ``d`` into ``directory`` (figures embedded);
    return its path."""
    path = Path(directory) / "report.html"
    path.write_text(html_report(d, figures), encoding="utf-8")
    return path


def _value_text(row: dict) -> str:
    """``value ± error`` of a comparison row as ``report.md`` writes it: a clipped value never
    as ``0 ± 0`` (:meth:`simulator.compare.ComparisonRow.value_text`)."""
    fields = {f.name for f in dataclasses.fields(ComparisonRow)}
    r = ComparisonRow(**{k: v for k, v in row.items() if k in fields})
    if r.below_resolution or (r.value == 0.0 and r.error == 0.0):
        return r.value_text(pm="±")
    return f"{_num(r.value, 5)} ± {_num(r.error, 2)}"
