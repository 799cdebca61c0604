"""Sphinx configuration of the course website (copied into build/site-src by
scripts/course_web.py, which writes the pages and notebooks beside it).

Nothing is loaded from outside: MathJax is a local copy (npm), the theme ships
its fonts and scripts, notebooks are shown with their stored outputs.
"""

import os

project = "Deep learning from the ground up"
author = "The coursekit authors"
copyright = "the coursekit authors, MIT licence"
edition = os.environ.get("COURSEKIT_SITE_EDITION", "student")
if edition == "instructor":
    project += " (instructor edition, with solutions)"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
nb_execution_mode = "off"  # the stored outputs, as `make notebooks` wrote them
nb_ipywidgets_js = {}  # no widget manager from a CDN (the site's editions have no widget views)
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_merge_streams = True

# MathJax 3 from a local copy, not from a CDN.
mathjax_path = "mathjax/tex-chtml-full.js"

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
templates_path = ["_templates"]  # one theme component, fixed for screen readers
html_css_files = ["custom.css"]
html_sourcelink_suffix = ""  # the download button offers the .ipynb itself
html_last_updated_fmt = None
# [project.urls] Repository in pyproject.toml, passed on by scripts/course_web.py.
repository = os.environ["COURSEKIT_REPOSITORY"]
html_theme_options = {
    "repository_url": repository,
    "repository_branch": "main",
    "path_to_docs": "student",  # Colab opens the committed student edition
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    "navigation_with_keys": True,
}
html_context = {"default_mode": "light"}  # the theme logs an error for an unset mode
