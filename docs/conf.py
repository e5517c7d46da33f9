"""Sphinx configuration of the wgmsim documentation.

Build (warnings are errors, as in CI)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W -b html docs docs/_build/html

The tutorial (``docs/tutorial_src/``) and every script of ``examples/`` are *executed* by the
build (sphinx-gallery), so their printed output and figures on the pages are those of the code
as it is, and a change that breaks them breaks the build.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document (and run) the checkout this file belongs to
# ... in worker processes too (examples/ensemble_parallel.py runs joblib workers)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("MPLBACKEND", "Agg")

import simulator  # noqa: E402

project = "wgmsim"
author = "wgmsim developers"
copyright = "2026, wgmsim developers"
release = simulator.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_examples", "tutorial_src", "gallery_figures", "**/README.md"]
templates_path = ["_templates"]
root_doc = "index"

# ---- API reference ---------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"           # the numpydoc "Parameters" sections carry the types
autodoc_preserve_defaults = True
numpydoc_show_class_members = False  # members come from autodoc, once
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
add_module_names = False


def _full_summaries() -> None:
    """Keep the summaries of the API tables whole: autosummary ends the first sentence at a
    period followed by a space unless the text so far ends in one of its few known
    abbreviations, so "Mean field (paper Eq. 10) ..." was cut at "(paper Eq.". Sphinx offers no
    option for this; its module-level tuple is extended instead."""
    import sphinx.ext.autosummary as autosummary

    extra = ("Eq.", "Eqs.", "Fig.", "Figs.", "Sec.", "Ref.", "Refs.", "Phys.", "Rev.", "Lett.",
             "Appl.", "vs.", "cf.", "approx.", "No.")
    autosummary.WELL_KNOWN_ABBREVIATIONS = tuple(autosummary.WELL_KNOWN_ABBREVIATIONS) + extra


_full_summaries()

# ---- Markdown ----------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# ---- Gallery and tutorial (executed at build time) -------------------------------------------
#: Companion figures: a cell appended to the build's copy of ``examples/NAME.py`` from
#: ``docs/gallery_figures/NAME.py`` (the examples themselves print numbers only).
EXAMPLES = ROOT / "examples"
GALLERY_SRC = DOCS / "_examples"


def _titled(name: str, text: str) -> str:
    """Give the script's docstring an reST title (the file name) for its gallery page; the
    docstring becomes the page's first paragraph, the code below it is untouched."""
    tree = ast.parse(text)
    doc = ast.get_docstring(tree, clean=False)
    if doc is None or not isinstance(tree.body[0], ast.Expr):
        raise ValueError(f"examples/{name}: needs a module docstring (the gallery's caption)")
    end = tree.body[0].end_lineno
    lines = text.splitlines(keepends=True)
    title = name.removesuffix(".py").replace("_", " ").capitalize()
    header = (f'"""\n{title}\n{"=" * len(title)}\n\n``examples/{name}``: {doc.strip()}\n\n'
              f'Run it from a checkout with ``python examples/{name}``.\n"""\n')
    hidden = ""
    if "__file__" in text:  # sphinx-gallery runs the code without __file__: run it as the original
        hidden = ("# sphinx_gallery_start_ignore\n"
                  f"__file__ = {str(EXAMPLES / name)!r}\n"
                  "# sphinx_gallery_end_ignore\n")
    return header + hidden + "".join(lines[end:])


def _copy_examples() -> None:
    """Copy ``examples/`` into ``docs/_examples`` for sphinx-gallery, adding the companion figure
    cells; the example code itself is copied unchanged."""
    if GALLERY_SRC.exists():
        shutil.rmtree(GALLERY_SRC)
    GALLERY_SRC.mkdir()
    shutil.copy(DOCS / "gallery_figures" / "GALLERY_HEADER.rst", GALLERY_SRC)
    for path in sorted(EXAMPLES.iterdir()):
        if path.suffix == ".py":
            text = _titled(path.name, path.read_text())
            extra = DOCS / "gallery_figures" / path.name
            if extra.exists():
                text = text.rstrip("\n") + "\n\n\n" + extra.read_text()
            (GALLERY_SRC / path.name).write_text(text)
        elif path.is_file():  # data files the examples read (custom_params.toml)
            shutil.copy(path, GALLERY_SRC / path.name)


_copy_examples()

sphinx_gallery_conf = {
    "examples_dirs": ["tutorial_src", "_examples"],
    "gallery_dirs": ["tutorial", "gallery"],
    "filename_pattern": r".*\.py$",      # execute every script, not only plot_*.py
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "capture_repr": (),                  # show what the scripts print, not bare expression reprs
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "promote_jupyter_magic": False,
    "min_reported_time": 1,
}

# ---- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"wgmsim {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


# ---- The command line: `wgmsim ... --help` as the parser has it at build time -----------------
def _cli_help_directive():
    import argparse

    from docutils import nodes
    from docutils.parsers.rst import Directive

    class WgmsimHelp(Directive):
        """``.. wgmsim-help::``: a section with the ``--help`` text of ``wgmsim`` and of every
        subcommand, taken from :func:`simulator.cli.build_parser` when the docs are built."""

        has_content = False

        def run(self):
            from simulator.cli import build_parser

            os.environ["COLUMNS"] = "72"  # argparse wraps to this width
            parser = build_parser()
            def block(text: str):
                node = nodes.literal_block(text=text)
                node["language"] = "text"
                return node

            out = [block(parser.format_help())]
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            for action in subs:
                for name, sub in action.choices.items():
                    section = nodes.section(ids=[f"wgmsim-{name}"])
                    section += nodes.title(text=f"wgmsim {name}")
                    section += block(sub.format_help())
                    out.append(section)
            return out

    return WgmsimHelp


def setup(app):
    app.add_directive("wgmsim-help", _cli_help_directive())
    return {"parallel_read_safe": True}
