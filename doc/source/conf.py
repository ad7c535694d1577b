"""Sphinx configuration for the Cumulo documentation."""

project = "Cumulo"
copyright = "2026, the Cumulo authors"
extensions = ["oslo_config.sphinxext", "oslo_policy.sphinxext", "cliff.sphinxext", "sphinx.ext.autodoc"]
templates_path: list[str] = []
exclude_patterns: list[str] = []
html_theme = "alabaster"
autodoc_member_order = "bysource"
