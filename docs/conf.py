"""Sphinx configuration for the hybridqml documentation site.

Build, from the repository root:
``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
The API reference pages are generated at build time from each subpackage's ``__all__``
(``docs/_api.py``); the gallery is built by sphinx-gallery from ``examples/``, running every
example on its small settings.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(ROOT))

import _api  # noqa: E402  (docs/_api.py: the reference pages, generated from __all__)
from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

import hybridqml  # noqa: E402

project = "hybridqml"
author = "hybridqml developers"
copyright = "2026, hybridqml developers"
release = hybridqml.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**/*.zip"]
templates_path: list[str] = []

# -- API reference ---------------------------------------------------------------------------
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
_api.write_pages(DOCS / "api")

# -- Markdown ---------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Links to Qiskit, PyTorch, NumPy ----------------------------------------------------------
# The build machines of this project have no internet. An inventory is used when its host is
# reachable (or a copy sits in docs/_inventories/<name>.inv); otherwise names of that project stay
# plain text, and the build says so, instead of failing on an unreachable inventory.
_INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "torch": "https://docs.pytorch.org/docs/stable",
    "qiskit": "https://quantum.cloud.ibm.com/docs/api/qiskit",
}


def _reachable(url: str, timeout: float = 1.5) -> bool:
    if os.environ.get("HYBRIDQML_DOCS_OFFLINE"):
        return False
    host = urlsplit(url).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


intersphinx_mapping = {}
_unlinked = []
for _name, _url in _INVENTORIES.items():
    _local = DOCS / "_inventories" / f"{_name}.inv"
    if _local.is_file():
        intersphinx_mapping[_name] = (_url, (str(_local), None))
    elif _reachable(_url):
        intersphinx_mapping[_name] = (_url, None)
    else:
        _unlinked.append(_name)
if _unlinked:
    print(f"intersphinx: no inventory reachable for {', '.join(_unlinked)}: names not linked")

# -- Gallery ----------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/[a-z]",  # every example whose name starts with a letter runs
    "ignore_pattern": r"(^|/)_[^/]*$",  # examples/_data.py is a helper, not an example
    # the order a newcomer reads them in; an example missing here is an error, not silently last
    "within_subsection_order": ExplicitOrder(
        [
            "quickstart.py",
            "backend_tour.py",
            "own_qiskit_circuit.py",
            "textbook.py",
            "qnn.py",
            "noisy_mlp.py",
            "gan.py",
            "entropy_sources.py",
            "port_qiskit_ml.py",
            "port_pennylane.py",
            "lightning_qnn.py",
            "hardware_run.py",
        ]
    ),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "min_reported_time": 1,
}
os.environ.setdefault("MPLBACKEND", "agg")
logging.getLogger("qiskit").setLevel(logging.WARNING)  # no transpiler chatter in the build log
os.environ["HYBRIDQML_GALLERY"] = "1"  # examples pick their small settings

# -- HTML -------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"hybridqml {release}"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_show_sourcelink = False
