"""report.html: a self-contained page with the verdict first, checked in a real browser.

A small validation (32 trajectories, quick master equation; a few seconds) is written with
:func:`simulator.report.write_report`, the same call ``wgmsim validate`` makes, and rendered by
headless Chromium: once to a screenshot (must be a non-blank PNG) and once with ``--dump-dom``,
whose DOM must hold the verdict and the marker the page's own script sets when every figure decoded.
"""

import base64
import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from simulator import Params
from simulator.report import report_dict, write_report
from simulator.report_html import FIGURES_ATTRIBUTE, html_report
from simulator.validate import ValidateOptions, validate

BROWSERS = ("chromium", "chromium-browser")


@pytest.fixture(scope="module")
def result(paper_validation):
    """Every section present: a stable point, an SDE leg with its step-size check, a master leg
    (``conftest.paper_validation``). Small on purpose: with 2 statistical units the SDE verdict
    may deviate, which the page must then say."""
    return paper_validation


@pytest.fixture(scope="module")
def report_dir(result, tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    write_report(result, directory)
    return directory


def test_page_is_self_contained_and_ordered(result, report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # no external resource of any kind: every image is a data URI, no links to style or script
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)', page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    # a value clipped at zero (E_N of an unentangled pair) is never shown with a zero error bar
    text = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"(?<![\d.])0 ± (0|–|≈0)(?![\d.])", text)
    assert "clipped at zero" in text or "below resolution" in text
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(imgs) == 2 == len(re.findall(r"<img", page))
    for name, data in zip(("observables.png", "covariance_scores.png"), imgs):
        assert base64.b64decode(data) == (report_dir / name).read_bytes()
    # the verdict comes first, then the point, the engines, the checks and provenance
    order = [page.index(s) for s in ('id="verdict"', "Parameter point",
                                     "Engines against the Lyapunov solution", "Figures",
                                     "Step-size check", "Truncation check", "Provenance")]
    assert order == sorted(order)
    # numbers are those of report.json (the same report_dict), not recomputed
    d = json.loads((report_dir / "report.json").read_text())
    en = {r["quantity"]: r for r in d["comparisons"][0]["rows"]}["E_N[r_m]"]
    assert f"{en['value']:.5g} ± {en['error']:.2g}" in page
    assert f"{d['master']['truncation_error']:.3g}" in page
    assert f"{d['sde']['error_check']['second_moment_relative_difference']:.3g}" in page
    for verdict in d["verdicts"].values():
        assert verdict.split(":")[0] in page
    assert "G0/Γ" in page and "|G_r|/ω_m" in page and "Δ/Γ" in page
    # the paper's point is metastable: a stable cycle ~5.5e5 sigma_q away (issue 17)
    cycle = next(a for a in d["attractors"]["attractors"] if a["kind"] == "limit_cycle"
                 and a["stable"])
    assert d["metastable"] is True and f"max |δq| {cycle['q_max']:.4g} σ_q" in text
    assert d["lyapunov"]["provenance"]["timestamp"] in page


def test_text_is_escaped(result):
    evil = dataclasses.replace(result, master_skipped='<img src=x onerror="alert(1)">')
    page = html_report(report_dict(evil))
    assert '<img src=x onerror="alert(1)">' not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_unstable_point_says_so_first():
    res = validate(Params.paper(detuning=-3.0 * Params.paper().Gamma),
                   ValidateOptions(master=False))  # unstable: returns before any engine runs
    assert not res.lyapunov.stable
    page = html_report(report_dict(res))
    verdict = page[page.index('id="verdict"'):page.index("Parameter point")]
    assert "unstable" in verdict and "nothing else was run" in verdict
    assert "<img" not in page and "Engines against" not in page


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser: none of {', '.join(BROWSERS)} on PATH "
                "(install the system package 'chromium' to run this check)")


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_browser_renders_verdict_and_every_figure(result, report_dir, tmp_path):
    browser = _browser()
    url = (report_dir / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    # one launch: the DOM after the page's script has run, and a screenshot
    dom = _chromium(browser, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom",
                    f"--screenshot={shot}", "--window-size=1200,3000", url)
    assert dom.returncode == 0 and shot.exists(), dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:2000]
    # set by the page's script after load: every <img> decoded (naturalWidth > 0)
    assert f'{FIGURES_ATTRIBUTE}="loaded"' in body.group(1), body.group(1)
    assert 'data-figures-count="2"' in body.group(1), body.group(1)
    verdict = re.search(r'<div class="verdict (\w+)" id="verdict">(.*?)</div>', dom.stdout, re.S)
    assert verdict, "no verdict in the rendered DOM"
    expected = "ok" if all(c.agrees for c in result.comparisons) else "bad"
    assert verdict.group(1) == expected
    for engine in ("sde", "master"):
        assert f"<b>{engine}</b>" in verdict.group(2)

    from PIL import Image  # pillow: a dependency of matplotlib

    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size == (1200, 3000)
        pixels = np.asarray(im.convert("L"), dtype=float)
    # non-blank: a good share of the page is ink (text, tables, the verdict box), not background
    assert pixels.std() > 20.0
    assert (pixels < 200).mean() > 0.02
