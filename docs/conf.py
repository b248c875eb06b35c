"""Sphinx configuration for the Stack Club documentation site (``make docs``).

The committed notebooks are rendered from their stored outputs (they are never re-executed
here: ``make notebooks`` and nbval own that).  The API pages are MyST-NB text notebooks whose
example cells *do* run at build time, offline, so each helper's page shows its real output.
The build must pass with ``-W`` on a fresh clone with no network (see ``intersphinx`` below).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import stackclub

# Example cells run `pipetask` and `stackclub`: find the commands installed next to this
# interpreter (the project's .venv) even when Sphinx is not started through `make docs`.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))  # transfers_table: the "what transfers" page's tables

project = "Stack Club"
author = "Stack Club developers"
copyright = "2018-2026, Stack Club developers"
version = release = stackclub.__version__

GITHUB = "LSSTScienceCollaborations/StackClub"
BRANCH = "main"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "transfers_table",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", ".gitignore"]
root_doc = "index"

# -- The notebooks: copied from ../notebooks, with a "Binder / download" cell, never executed ---

NOTEBOOK_SRC = ROOT / "notebooks"
NOTEBOOK_DST = HERE / "notebooks"


def binder_url(name: str) -> str:
    """Return the mybinder.org address that opens notebook ``name`` in JupyterLab.

    Parameters
    ----------
    name
        The notebook's file name.

    Returns
    -------
    url : str
        The address.
    """
    return f"https://mybinder.org/v2/gh/{GITHUB}/{BRANCH}?labpath=notebooks%2F{name}"


def _links_cell(name: str) -> dict:
    text = (
        f"[Open on Binder]({binder_url(name)}) "
        f"· {{download}}`Download this notebook <{name}>` "
        f"· [View on GitHub](https://github.com/{GITHUB}/blob/{BRANCH}/notebooks/{name})"
    )
    return {
        "cell_type": "markdown",
        "id": "stackclub-links",
        "metadata": {"tags": ["stackclub-links"]},
        "source": text,
    }


def copy_notebooks() -> list[str]:
    """Copy ``notebooks/NN_*.ipynb`` into ``docs/notebooks`` with a links cell after the title.

    Links from a notebook to a page of this site (``../docs/transfers.md``, which works on GitHub
    and in JupyterLab) are rewritten to the page's place here (``../transfers.md``).

    Returns
    -------
    names : list of str
        The copied notebooks' file names, sorted.
    """
    if NOTEBOOK_DST.exists():
        shutil.rmtree(NOTEBOOK_DST)
    NOTEBOOK_DST.mkdir()
    names = []
    for src in sorted(NOTEBOOK_SRC.glob("[0-9][0-9]*_*.ipynb")):  # 02a_..., 02b_... too
        nb = json.loads(src.read_text())
        cells = nb["cells"]
        first = cells[0] if cells else None
        at = (
            1
            if first
            and first["cell_type"] == "markdown"
            and "".join(first["source"]).lstrip().startswith("# ")
            else 0
        )
        for cell in cells:  # a link to a docs page from notebooks/ (../docs/x.md) is ../x.md here
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cell["source"] = text.replace("](../docs/", "](../")
        cells.insert(at, _links_cell(src.name))
        (NOTEBOOK_DST / src.name).write_text(json.dumps(nb, indent=1))
        names.append(src.name)
    return names


NOTEBOOKS = copy_notebooks()

# -- MyST-NB ------------------------------------------------------------------------------------

nb_execution_mode = "off"  # notebooks: the committed outputs; API pages opt in per file
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_execution_show_tb = True
nb_merge_streams = True
# A `%%writefile` cell holds another language (06 writes a pipeline YAML that way): Pygments then
# cannot lex it as Python, retries in relaxed mode and says so; the page is right either way.
suppress_warnings = ["misc.highlighting_failure"]

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_render_markdown_format = "myst"
# A widget (stackclub.explore_task's live panel) needs a running kernel: show the static picture
# stored beside it instead, and load no widget JavaScript from a CDN.
nb_mime_priority_overrides = [("*", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js: dict[str, dict[str, str]] = {}

# -- API reference: autodoc + numpydoc ----------------------------------------------------------

autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc shows the parameters; the signature keeps the annotations
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- intersphinx: configured, but offline-safe ------------------------------------------------
# Inventories cannot be fetched on the build machines (no network).  An inventory is used when
# its file is in docs/_intersphinx/NAME.inv, or fetched when STACKCLUB_DOCS_ONLINE=1 is set
# (e.g. on Read the Docs); otherwise the mapping is left out, so no lookup is tried and -W holds.

INTERSPHINX_TARGETS = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "astropy": "https://docs.astropy.org/en/stable",
    "matplotlib": "https://matplotlib.org/stable",
    "lsst": "https://pipelines.lsst.io",
}
_online = os.environ.get("STACKCLUB_DOCS_ONLINE") == "1"
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
for _name, _url in INTERSPHINX_TARGETS.items():
    _local = HERE / "_intersphinx" / f"{_name}.inv"
    if _local.is_file():
        intersphinx_mapping[_name] = (_url, str(_local))
    elif _online:
        intersphinx_mapping[_name] = (_url, None)
intersphinx_timeout = 10

# -- HTML ---------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"Stack Club {release}"
html_static_path = ["_static"]
html_css_files = ["stackclub.css"]
html_theme_options = {
    "github_url": f"https://github.com/{GITHUB}",
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
