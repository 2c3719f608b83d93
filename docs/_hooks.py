"""mkdocs hooks: the README as the home page; the course notebooks as pages, with their
outputs, figures and MathJax.

- `on_config`: the nav section that holds `course.md` gets one entry per
  `notebooks/NN_*.ipynb`, in file order, titled by the notebook's first heading, so a renamed
  or added notebook cannot break the nav.
- `on_files`: each notebook becomes a page from an executed copy. The notebooks run top to
  bottom at small sizes with static figures (`LRUX_NOTEBOOK_SMALL=1`,
  `LRUX_NOTEBOOK_STATIC=1`, as `tests/test_notebooks.py` runs them) into
  `build/docs-notebooks/KEY/notebooks/` (or `$LRUX_DOCS_CACHE/KEY/...`), KEY a hash of the
  notebooks and of lrux's sources, so a rebuild with nothing changed reuses them.
  `LRUX_DOCS_EXECUTE=0` renders them unexecuted instead (a quick build, no figures).
- `on_page_markdown`: a page's links to files outside docs/ (`../benchmarks/results/x.json`)
  become links to their `repo_url` page; `<!-- README -->` on a page becomes README.md, its
  links made links of the site (`docs/X.md` -> `X.md`; other files of the repository ->
  their `repo_url` page);
  `<!-- notebooks -->` becomes the list of notebook links; `<!-- layers -->` (the layers'
  API page) becomes one `::: module` per layer module, read from the registry
  (`layers_api`), so a newly registered layer is on the page.
- `on_page_content`: a notebook's link to another notebook (`02_why_rnns_forget.ipynb`, right
  in JupyterLab) becomes the link to that notebook's page.
- `on_post_build`: MathJax 2.7 (the copy in `jupyter-server-mathjax`, with its STIX-Web
  fonts) into `SITE/assets/mathjax/`, where the notebook pages load it from: the site needs
  no network.
"""

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority, get_plugin_logger
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
COURSE_PAGE = "course.md"
PLACEHOLDER = "<!-- notebooks -->"
README_PLACEHOLDER = "<!-- README -->"
LAYERS_PLACEHOLDER = "<!-- layers -->"
# a markdown link to a relative path: ](path) or ](path "title")
RELATIVE_LINK = re.compile(r'\]\((?!https?://|#|mailto:)([^)\s]+)((?:\s+"[^"]*")?)\)')
# a docs page's link that climbs out of docs/: `](../benchmarks/x.json "title")`
OUTSIDE_LINK = re.compile(r'\]\((?P<up>(?:\.\./)+)(?P<path>[^)\s]+)(?P<rest>(?:\s+"[^"]*")?)\)')
BUILD_ENV = {"LRUX_NOTEBOOK_SMALL": "1", "LRUX_NOTEBOOK_STATIC": "1", "JAX_PLATFORMS": "cpu"}
BANNER = ("*This page was executed when the site was built, at the notebooks' small sizes "
          "(`LRUX_NOTEBOOK_SMALL=1`) and with static figures (`LRUX_NOTEBOOK_STATIC=1`). Open "
          "`notebooks/{name}.ipynb` in JupyterLab for the full sizes and the sliders.*")
CELL_TIMEOUT = 300
# config=...,local/lrux in mkdocs.yml's custom_mathjax_url: the web fonts this copy of MathJax
# has (STIX-Web; it has no TeX fonts), never fonts installed on the reader's machine
MATHJAX_LOCAL_CONFIG = """MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  SVG: {font: "STIX-Web"}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/lrux.js");
"""
log = get_plugin_logger("lrux-docs")


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def title_of(path: Path) -> str:
    """The notebook's first markdown heading, without its `#`s."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


# --- the nav ----------------------------------------------------------------------------------
def _course_section(nav) -> list | None:
    """The list in the nav that holds course.md (at any depth)."""
    for item in nav if isinstance(nav, list) else []:
        if item == COURSE_PAGE or (isinstance(item, dict) and COURSE_PAGE in item.values()):
            return nav
        if isinstance(item, dict):
            for value in item.values():
                found = _course_section(value)
                if found is not None:
                    return found
    return None


def on_config(config):
    section = _course_section(config["nav"])
    if section is None:
        raise PluginError(f"docs/_hooks.py: no nav section holds {COURSE_PAGE}; the notebook "
                          "pages are listed after it")
    section += [{title_of(p): f"notebooks/{p.name}"} for p in notebook_paths()]
    return config


# --- executed notebooks -----------------------------------------------------------------------
def cache_key() -> str:
    """A hash of everything a notebook's outputs depend on in this repository."""
    h = hashlib.sha256(json.dumps([BUILD_ENV, BANNER], sort_keys=True).encode())
    sources = [*NOTEBOOKS.glob("*.ipynb"), *NOTEBOOKS.glob("*.py"), *NOTEBOOKS.glob("*.json"),
               *(ROOT / "lrux").rglob("*.py"), *(ROOT / "lrux").rglob("*.cc")]
    for path in sorted(sources):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _execute(src: Path, dest: Path) -> None:
    """Run one notebook in notebooks/ (as a student would) and write it with its outputs."""
    import nbclient
    import nbformat

    nb = nbformat.read(src, as_version=4)
    saved = {k: os.environ.get(k) for k in (*BUILD_ENV, "MPLBACKEND")}
    os.environ.update(BUILD_ENV)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend draws PNGs
    try:
        nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    except Exception as e:  # noqa: BLE001 - any failure of a notebook fails the build
        raise PluginError(f"notebooks/{src.name} failed when executed for the site: "
                          f"{type(e).__name__}: {str(e)[-2000:]}") from e
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    banner = nbformat.v4.new_markdown_cell(BANNER.format(name=src.stem))
    nb.cells.insert(1, banner)
    nbformat.write(nb, dest)


def executed_notebooks() -> Path:
    """The folder whose `notebooks/` holds every notebook executed (made if missing)."""
    cache = Path(os.environ.get("LRUX_DOCS_CACHE", ROOT / "build" / "docs-notebooks"))
    folder = cache / cache_key()
    if (folder / "complete").is_file():
        log.info(f"notebooks: executed copies reused from {folder}")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "notebooks").mkdir(parents=True)
    for src in notebook_paths():
        log.info(f"notebooks: executing {src.name} (small sizes, static figures)")
        _execute(src, folder / "notebooks" / src.name)
    (folder / "complete").write_text("")
    for old in cache.iterdir():  # keep only this key's copies
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return folder


@event_priority(100)  # before mkdocs-jupyter's on_files turns .ipynb files into pages
def on_files(files, config):
    execute = os.environ.get("LRUX_DOCS_EXECUTE", "1") != "0"
    src_dir = executed_notebooks() if execute else ROOT
    for nb in notebook_paths():
        files.append(File(f"notebooks/{nb.name}", src_dir=str(src_dir),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


# --- the README as the home page, the course page's list, MathJax ------------------------------
def readme_for_site(repo_url: str) -> str:
    """README.md with its links made links of the site (docs/ pages) or of the repository."""
    def site_link(m: re.Match) -> str:
        target, title = m[1], m[2]
        if target.startswith("docs/"):
            return f"]({target.removeprefix('docs/')}{title})"
        return f"]({repo_url.rstrip('/')}/blob/main/{target}{title})"

    return RELATIVE_LINK.sub(site_link, (ROOT / "README.md").read_text(encoding="utf-8"))


def layers_api() -> str:
    """mkdocstrings blocks for the mixer contract, the module of every registered layer (in
    registry order) and the bidirectional wrappers."""
    from lrux.registry import layer_modules

    modules = ["lrux.layers.base", *layer_modules(), "lrux.layers.bidirectional"]
    return "\n\n".join(f"::: {m}" for m in dict.fromkeys(modules))


def repository_links(markdown: str, depth: int, repo_url: str) -> str:
    """A docs page's links to files outside docs/ (`../benchmarks/results/x.json` from a page
    `depth` folders below docs/) made links to the repository's page of that file."""
    def link(m: re.Match) -> str:
        if len(m["up"]) // 3 != depth + 1:
            return m[0]
        return f"]({repo_url.rstrip('/')}/blob/main/{m['path']}{m['rest']})"

    return OUTSIDE_LINK.sub(link, markdown)


def on_page_markdown(markdown, page, config, files):
    if not page.file.src_uri.startswith("notebooks/"):
        markdown = repository_links(markdown, page.file.src_uri.count("/"), config["repo_url"])
    if README_PLACEHOLDER in markdown:
        if page.file.src_uri != "index.md":
            raise PluginError(f"{README_PLACEHOLDER} only works on index.md (its links)")
        markdown = markdown.replace(README_PLACEHOLDER, readme_for_site(config["repo_url"]))
    if PLACEHOLDER in markdown:
        up = "../" * page.file.src_uri.count("/")
        links = "\n".join(f"1. [{title_of(p)}]({up}notebooks/{p.name})"
                          for p in notebook_paths())
        markdown = markdown.replace(PLACEHOLDER, links)
    if LAYERS_PLACEHOLDER in markdown:
        markdown = markdown.replace(LAYERS_PLACEHOLDER, layers_api())
    return markdown


def on_page_content(html, page, config, files):
    if not page.file.src_uri.startswith("notebooks/"):
        return html
    names = "|".join(re.escape(p.stem) for p in notebook_paths())
    return re.sub(rf'href="(?:\./)?({names})\.ipynb(#[^"]*)?"',
                  lambda m: f'href="../{m[1]}/{m[2] or ""}"', html)


def on_post_build(config):
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    dest = Path(config["site_dir"]) / "assets" / "mathjax"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(static, dest)
    (dest / "config" / "local").mkdir(exist_ok=True)
    (dest / "config" / "local" / "lrux.js").write_text(MATHJAX_LOCAL_CONFIG)
