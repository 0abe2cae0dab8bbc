"""Sphinx configuration of isoinit's documentation (built in CI with warnings as errors)."""

from __future__ import annotations

from importlib import metadata

project = "isoinit"
author = "the isoinit developers"
release = metadata.version("isoinit")
version = release

extensions = [
    "myst_parser",  # the pages are Markdown, as on GitHub
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # numpydoc-style docstrings
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "figures/*.csv"]
root_doc = "index"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # class "Attributes" as fields: no duplicate of a documented property

html_theme = "alabaster"
html_title = f"isoinit {release}"
