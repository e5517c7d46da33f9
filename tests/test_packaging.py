"""Packaging: the sdist carries what its own test suite needs (MANIFEST.in), and the classifiers
say what the code does."""

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked() -> list[str]:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout (e.g. an unpacked sdist): nothing to compare with")
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def _manifest_files(monkeypatch) -> set[str]:
    """The files MANIFEST.in adds to an sdist, by setuptools' own rules."""
    pytest.importorskip("setuptools", reason="setuptools (the build backend) is not installed "
                        "here (e.g. a uv virtual environment); the main CI job checks this")
    from setuptools.command.egg_info import FileList

    monkeypatch.chdir(ROOT)
    files = FileList()
    files.findall(".")
    for line in (ROOT / "MANIFEST.in").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            files.process_template_line(line)
    return set(files.files)


def test_sdist_carries_what_the_tests_need(monkeypatch):
    """tests/ whole (conftest.py, reference_stack.py, data/), the examples that
    test_examples runs, the validation scripts and tables that tests read, CHANGELOG and
    CITATION; README, LICENSE, pyproject.toml and simulator/ are in every sdist anyway."""
    tracked = _tracked()
    needed = [f for f in tracked if f.startswith(("tests/", "examples/"))
              or (f.startswith("validation/") and f.endswith((".py", ".md", ".json")))
              or f in ("CHANGELOG.md", "CITATION.cff")]
    assert "tests/conftest.py" in needed and "tests/reference_stack.py" in needed
    assert any(f.startswith("tests/data/") for f in needed)
    missing = sorted(set(needed) - _manifest_files(monkeypatch))
    assert not missing, f"MANIFEST.in leaves out {missing}"


def test_classifiers_match_the_lock():
    """'OS Independent' holds only with a cross-platform checkpoint lock (filelock)."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "Operating System :: OS Independent" in meta["classifiers"]
    assert any(d.startswith("filelock") for d in meta["dependencies"])
    source = (ROOT / "simulator" / "sde" / "ensemble.py").read_text()
    assert "fcntl" not in source
