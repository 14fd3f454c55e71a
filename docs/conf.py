"""Sphinx configuration: MyST pages, furo, autodoc with Google docstrings, doctests.

Two pages are generated at build time by the local extension in ``_ext/``: the NHS catalogue
(from ``bundles/manifest.toml``) and the command line reference (from ``build_parser()``).
"""

from __future__ import annotations

import sys
from importlib.metadata import version as _version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))
# For tests/pki.py (doc_fixtures makes its certificates with it); appended, so that the
# installed truststore_builder is the one documented.
sys.path.append(str(Path(__file__).resolve().parent.parent))

project = "truststore_builder"
author = "truststore_builder developers"
copyright = "truststore_builder developers"
release = _version("truststore-builder")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "tsb_docs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"truststore_builder {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Attributes as :ivar: fields, so an attrs slot is not described twice.
napoleon_use_ivar = True

# Doctests run with expiry warnings silenced: the prod G1 CAs expired on 2024-06-04 and the
# examples show that through ``store.expired``, not through stderr.
# The API page renders docstrings whose examples use the package's public names unqualified.
doctest_global_setup = """
import warnings
from truststore_builder import *
warnings.simplefilter("ignore", ExpiredCertificateWarning)
"""
