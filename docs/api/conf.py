"""Sphinx configuration of the API reference (``make docs``): the public modules' docstrings."""

from __future__ import annotations

import airflow_provider_fullsms

project = "airflow-provider-fullsms"
release = airflow_provider_fullsms.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
html_theme = "alabaster"
exclude_patterns = ["_build"]
