"""Sphinx configuration of isoinit's documentation.

CI builds it with warnings as errors and every cross-reference checked
(``python -m sphinx -W -n --keep-going -b html docs OUT``), without network: the links to
the Python, NumPy, pandas, PyTorch and Matplotlib documentation come from inventories that
``_ext/offline_inventories.py`` writes, and MathJax comes from the ``sphinx-mathjax-offline``
package.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "isoinit"
author = "the isoinit developers"
copyright = "2026, the isoinit developers (MIT License)"
release = metadata.version("isoinit")
version = release

#: The paper the package implements, linked from the navigation bar and the index page.
PAPER = "https://arxiv.org/abs/2305.18399"

extensions = [
    "myst_parser",  # the pages are Markdown, as on GitHub
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",  # the API's summary tables and one page per object
    "numpydoc",  # the docstrings' sections, with their types linked
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself, not from a CDN
    "sphinx.ext.viewcode",  # the highlighted source of every documented object
    "offline_inventories",  # _ext/: the other projects' objects we link to
    "api_aliases",  # _ext/: isoinit.networks.mlp.MLP and the other long paths -> isoinit.MLP
    "dataclass_fields",  # _ext/: a dataclass's fields once, as its parameters
    "image_links",  # _ext/: a click on a figure opens it at full size
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}  # .rst: autosummary's generated pages
root_doc = "index"
exclude_patterns = ["_build", "_templates", "figures/*.csv"]
templates_path = ["_templates"]
nitpicky = True  # every cross-reference must resolve (CI builds with -n -W)

# MyST: $...$ and $$...$$ math, amsmath environments, {.class} on blocks, {{ version }},
# anchors for ### headings
myst_enable_extensions = ["dollarmath", "amsmath", "attrs_inline", "attrs_block", "substitution"]
myst_substitutions = {"version": release}
# the numbers the gallery quotes, from the figures' own data (figures/NAME.json, written by
# `isoinit figure NAME`): {{ key }} in figures.md
for _numbers in sorted((Path(__file__).parent / "figures").glob("*.json")):
    from isoinit.figures._headlines import formatted

    myst_substitutions.update(
        {k: formatted(v) for k, v in json.loads(_numbers.read_text())["headlines"].items()}
    )
myst_heading_anchors = 3

# API: autosummary writes one page per object (docs/generated/, not committed) from the lists
# in api.md; numpydoc renders the sections and links the types named in them.
autosummary_generate = True
autosummary_imported_members = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # types are in the numpydoc sections; signatures stay short
numpydoc_show_class_members = True  # a class page opens with tables of its attributes and methods
numpydoc_class_members_toctree = False  # ... linking to the members documented below them
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"  # words such as "shape", "n" or "optional" stay text
# short names of other projects' types; api_aliases adds isoinit's, offline_inventories the full names
numpydoc_xref_aliases: dict[str, str] = {}
numpydoc_xref_aliases.update(
    {
        "ndarray": "numpy.ndarray",
        "array_like": "numpy.typing.ArrayLike",
        "ArrayLike": "numpy.typing.ArrayLike",
        "Generator": "numpy.random.Generator",
        "DataFrame": "pandas.DataFrame",
        "Series": "pandas.Series",
        "Path": "pathlib.Path",
        "path-like": "os.PathLike",
        "bool": "bool",
        "callable": "collections.abc.Callable",
        "sequence": "collections.abc.Sequence",
        "iterable": "collections.abc.Iterable",
        "mapping": "collections.abc.Mapping",
        "Axes": "matplotlib.axes.Axes",
        "Module": "torch.nn.Module",
        "Tensor": "torch.Tensor",
    }
)

# intersphinx_mapping is set by offline_inventories (the online documentation + a local inventory)

html_theme = "pydata_sphinx_theme"
html_title = f"isoinit {release}"
html_static_path = ["_static"]
html_css_files = ["isoinit.css"]
html_context = {"paper": PAPER}
html_sidebars = {"**": []}  # no left column: the pages are listed in the top bar, content gets the width
html_show_sourcelink = False
html_theme_options = {
    "logo": {"text": f"isoinit {release}"},
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "navbar_end": ["paper-link", "theme-switcher"],  # _templates/paper-link.html
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
    "show_prev_next": True,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
