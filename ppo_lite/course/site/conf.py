"""Sphinx configuration of the course website (``python -m ppo_lite.course.site build`` passes this folder as the
configuration folder and a generated source folder, :func:`ppo_lite.course.site.sources.write_sources`, as the sources)."""

project = "ppo_lite"
html_title = "ppo_lite: PPO from first principles"
author = "the ppo_lite course"
extensions = [
    "myst_nb",  # notebooks and Markdown pages (MyST); nb_execution_mode below: nothing is executed
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "ppo_lite.course.site.ext",  # MathJax offline, links from API entries to notebooks
]
# The notebooks render as committed, outputs included.
nb_execution_mode = "off"
# myst-nb loads require.js and the widget manager from a CDN for pages with widget state; the committed notebooks
# hold none, and the site loads nothing from a CDN.
nb_ipywidgets_js = {}
# stderr outputs (warnings) are shown, as in JupyterLab, not reported as build warnings
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # notebooks open with "# NN — title" then "## 1." sections: fine

# MathJax 3 from the site itself (ppo_lite.course.site.ext copies it from the sphinx-mathjax-offline package).
mathjax_path = "mathjax/tex-chtml.js"

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

templates_path = []
html_static_path = ["static"]
html_css_files = ["site.css"]
html_js_files = ["clip_slider.js"]
html_theme = "sphinx_book_theme"
html_theme_options = {
    "use_download_button": False,  # the pages' notebooks carry the site's boxes; the repository has the originals
    "use_fullscreen_button": False,
    "show_navbar_depth": 1,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "light"}  # the theme's light/dark switch starts light (and logs no error)
html_favicon = "static/favicon.svg"  # else browsers ask for /favicon.ico, which is not there
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
exclude_patterns = ["_links.json", "**/.ipynb_checkpoints"]
