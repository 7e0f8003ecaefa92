"""tools/build_site.py: the site's pages build (offline, from the stored outputs) and the checker finds faults."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import build_site
import pytest

JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One offline build of the site's content, shared by the tests (each mutates a copy)."""
    dest = tmp_path_factory.mktemp("site") / "src"
    build_site.assemble(dest, offline=True)
    done = subprocess.run(
        [str(JUPYTER_BOOK), "build", "--site", "--ci"], cwd=dest, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return dest


@pytest.fixture
def site(built, tmp_path) -> Path:
    copy = tmp_path / "src"
    shutil.copytree(built, copy)
    return copy


def content(site: Path, slug: str) -> tuple[Path, dict]:
    path = site / "_build" / "site" / "content" / f"{slug}.json"
    return path, json.loads(path.read_text())


def test_the_built_site_has_no_problems(built):
    assert build_site.problems(built) == []
    pages = build_site.pages(built / "_build")
    assert {path.name for path in build_site.NOTEBOOKS} <= set(pages)
    assert sum(name.startswith("solutions/0") for name in pages) == len(build_site.NOTEBOOKS)


def test_a_missing_notebook_page_is_found(site):
    (site / "_build" / "site" / "content" / "eviction.json").unlink()
    assert "no page for 04_eviction.ipynb" in build_site.problems(site)


def test_a_broken_internal_link_is_found(site):
    path, page = content(site, "first-cache")
    link = next(node for node in build_site.nodes(page["mdast"]) if node.get("internal"))
    link["dataUrl"] = "/no-such-page.json"
    path.write_text(json.dumps(page))
    assert any("broken internal link" in problem for problem in build_site.problems(site))


def test_a_missing_figure_is_found(site):
    _, page = content(site, "first-cache")
    figure = next(node for node in build_site.nodes(page["mdast"]) if node.get("content_type") == "image/png")
    (site / "_build" / "site" / "public" / Path(figure["path"]).name).unlink()
    assert any("missing from the site" in problem for problem in build_site.problems(site))


def test_a_solution_on_a_lesson_page_is_found(site):
    path, page = content(site, "first-cache")
    solution = (build_site.SOLUTIONS / "00_first_cache.py").read_text()
    page["mdast"]["children"].append({"type": "code", "value": solution})
    path.write_text(json.dumps(page))
    assert any("shows solution lines" in problem for problem in build_site.problems(site))


def test_the_navigation_order_is_checked(site):
    config = site / "_build" / "site" / "config.json"
    data = json.loads(config.read_text())
    pages = data["projects"][0]["pages"]
    pages[0], pages[1] = pages[1], pages[0]
    config.write_text(json.dumps(data))
    assert any("series order" in problem for problem in build_site.problems(site))


def test_html_links_are_checked(site):
    html = site / "_build" / "html"
    (html / "first-cache").mkdir(parents=True)
    (html / "index.html").write_text('<a href="/first-cache">00</a> <img src="/build/lost.png">')
    assert build_site.html_link_problems(html) == ["index.html: broken link /build/lost.png"]
