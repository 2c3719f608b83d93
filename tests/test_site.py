"""The documentation site: built as CI builds it (`.ci/docs`, `mkdocs build --strict`), then
crawled offline from its home page: every internal link and anchor resolves, every page is
reachable, every notebook page shows figures and typeset maths, every API page lists the
members of its modules. A scratch copy with one broken link must fail the build.

The notebooks run at build time (docs/_hooks.py; their executed copies are reused from
build/docs-notebooks/ while notebooks/ and lrux/ are unchanged, e.g. after CI's docs step).
"""

import ast
import functools
import http.server
import importlib
import inspect
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocs_jupyter")
pytest.importorskip("mkdocstrings")
pytestmark = pytest.mark.slow  # a site build: ~1 min with the notebooks' executed copies

ROOT = Path(__file__).resolve().parent.parent
SITE_ROOT = "http://site.invalid/"  # pages are addressed under this base while crawling


def _env(**extra) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "JAX_PLATFORMS": "cpu", **extra}


def build(root: Path, site: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(root / ".ci" / "docs"), "-d", str(site)], cwd=root,
                          env=_env(**env), capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    res = build(ROOT, out)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return out


# --- reading the built HTML -----------------------------------------------------------------
class Page(HTMLParser):
    """The ids, the link targets and the images of one HTML page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "link" and a.get("href") and a.get("rel") != "canonical":
            self.links.append(a["href"])
        elif tag == "img" and a.get("src"):
            self.images.append(a["src"])
            if not a["src"].startswith("data:"):
                self.links.append(a["src"])
        elif tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
            self.links.append(a["src"])


def file_of(site: Path, url: str) -> Path:
    """The built file behind a site URL (a directory URL is its index.html)."""
    rel = unquote(urlparse(url).path)[len(urlparse(SITE_ROOT).path):]
    path = site / rel
    return path / "index.html" if rel == "" or rel.endswith("/") or path.is_dir() else path


@functools.cache
def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def crawl(site: Path) -> dict:
    """Every page reachable from the home page; every internal link checked (file and anchor)."""
    seen, queue, broken, links, anchors, external = set(), [SITE_ROOT], [], 0, 0, set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        page = parse(file_of(site, url))
        for href in page.links:
            target = urljoin(url, href)
            if not target.startswith(SITE_ROOT):
                external.add(target)
                continue
            links += 1
            base, _, anchor = target.partition("#")
            path = file_of(site, base)
            if not path.is_file():
                broken.append(f"{url} -> {href} (no {path.relative_to(site)})")
                continue
            if path.suffix == ".html":
                anchors += bool(anchor)
                if anchor and unquote(anchor) not in parse(path).ids:
                    broken.append(f"{url} -> {href} (no id {anchor!r})")
                if base not in seen:
                    queue.append(base)
    return {"pages": seen, "links": links, "anchors": anchors, "broken": broken,
            "external": external}


def notebook_pages(site: Path) -> list[Path]:
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(names) >= 5, names
    return [site / "notebooks" / name / "index.html" for name in names]


# --- the tests ------------------------------------------------------------------------------
def test_every_internal_link_and_anchor_resolves_and_every_page_is_reachable(site):
    found = crawl(site)
    built = {file_of(site, SITE_ROOT).parent / p.relative_to(site)
             for p in site.rglob("index.html") if "assets" not in p.parts}
    reached = {file_of(site, url) for url in found["pages"]}
    print(f"site crawl: {len(reached)} pages, {found['links']} internal links checked "
          f"({found['anchors']} with an anchor), {len(found['broken'])} broken, "
          f"{len(found['external'])} external links not followed")
    assert not found["broken"], "\n".join(found["broken"][:20])
    # links to the repository's files (README's, and docs pages' links out of docs/) name files
    # that exist
    blob = "https://github.com/lrux-rnn/lrux-rnn/blob/main/"
    missing = sorted(u for u in found["external"] if u.startswith(blob)
                     and not (ROOT / unquote(u.removeprefix(blob)).partition("#")[0]).exists())
    assert not missing, missing
    assert sum(u.startswith(blob + "benchmarks/results/") for u in found["external"]) >= 5
    html_pages = {p for p in reached if p.suffix == ".html"}
    orphans = sorted(str(p.relative_to(site)) for p in built - html_pages)
    assert not orphans, f"pages no link reaches: {orphans}"
    assert len(html_pages) >= 25


def test_every_notebook_is_in_the_nav_with_figures_and_maths(site):
    home = parse(site / "index.html")
    for page in notebook_pages(site):
        rel = page.parent.relative_to(site).as_posix() + "/"
        assert rel in home.links, f"the nav does not link {rel}"
        html = parse(page)
        figures = [src for src in html.images if src.startswith("data:image/png;base64,")]
        assert figures, f"{rel}: no figure (were the notebooks executed?)"
        [mathjax] = [s for s in html.scripts if "MathJax.js" in s]
        assert (page.parent / mathjax.split("?")[0]).resolve().is_file(), mathjax
        text = page.read_text(encoding="utf-8")
        assert re.search(r"\$[^$\n]+\$", text), f"{rel}: no maths for MathJax to typeset"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (.ci/browser-deps.sh)")
def test_notebook_maths_is_typeset_in_a_browser(site):
    """In headless Chromium, with no network, MathJax (served by the site) typesets every
    notebook page's maths and every figure decodes."""
    sync_api = pytest.importorskip("playwright.sync_api")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                base) else route.abort())  # offline: nothing but the site itself
            for path in notebook_pages(site):
                url = base + path.parent.relative_to(site).as_posix() + "/"
                page.goto(url)
                page.wait_for_function("window.MathJax && MathJax.Hub && "
                                       "MathJax.Hub.queue.pending === 0 && "
                                       "document.querySelectorAll('.MathJax').length > 0",
                                       timeout=120_000)
                typeset = page.locator(".MathJax, .MathJax_Display").count()
                errors = page.locator(".MathJax .merror, .MathJax_Error").count()
                shown = page.evaluate("[...document.images].filter("
                                      "i => i.src.startsWith('data:image/png') && "
                                      "i.naturalWidth > 0).length")
                print(f"{url}: {typeset} typeset formulas, {shown} figures")
                assert typeset > 0 and errors == 0 and shown > 0, (url, typeset, errors, shown)
            browser.close()
    finally:
        server.shutdown()


def _expected_members(module: str, listed: list[str] | None) -> set[str]:
    """What an API page must show for `::: module`: the listed members, else `__all__`'s
    classes and functions, else the module's own public top-level classes and functions
    that have a docstring (mkdocstrings shows nothing without one)."""
    if listed:
        return set(listed)
    mod = importlib.import_module(module)
    if hasattr(mod, "__all__"):
        return {n for n in mod.__all__ if (inspect.isclass(getattr(mod, n))
                or inspect.isfunction(getattr(mod, n))) and getattr(mod, n).__doc__}
    tree = ast.parse(Path(inspect.getfile(mod)).read_text(encoding="utf-8"))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
            and not node.name.startswith("_") and ast.get_docstring(node)}


def test_every_api_page_lists_its_members(site):
    pages = sorted((ROOT / "docs" / "api").glob("*.md"))
    assert len(pages) >= 9
    total = 0
    for md in pages:
        text = md.read_text(encoding="utf-8")
        html = parse(site / "api" / md.stem / "index.html")
        for block in re.split(r"^(?=::: )", text, flags=re.M)[1:]:
            module = block.split()[1]
            listed = re.findall(r"^\s+- (\S+)$", block, re.M) if "members:" in block else None
            expected = _expected_members(module, listed)
            assert expected, f"{md.name}: no members expected for {module}?"
            missing = sorted(n for n in expected if f"{module}.{n}" not in html.ids)
            assert not missing, f"api/{md.stem}: {module} lacks {missing}"
            total += len(expected)
    print(f"API pages: {len(pages)}, {total} members found")


def test_signatures_are_formatted(site):
    """The docs extra brings ruff, so long signatures are one parameter a line."""
    text = (site / "api" / "layers" / "index.html").read_text(encoding="utf-8")
    assert "Formatting signatures requires" not in text
    signatures = re.findall(r'<div class="doc-signature[^"]*">(.*?)</div>', text, re.S)
    assert signatures and any("\n" in re.sub(r"<[^>]+>", "", s).strip() for s in signatures)


def test_a_broken_link_fails_the_docs_step(tmp_path):
    """CI's docs step (.ci/docs) on a scratch copy with one broken link fails, naming it."""
    copy = tmp_path / "repo"
    for name in ("lrux", "docs", "notebooks", ".ci"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("mkdocs.yml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, copy / name)
    course = copy / "docs" / "course.md"
    course.write_text(course.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    res = build(copy, copy / "site", LRUX_DOCS_EXECUTE="0", PYTHONPATH=str(copy))
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    assert "no-such-page.md" in out and "strict" in out, out[-3000:]
