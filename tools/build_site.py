"""The series as a website, built with Jupyter Book 2 (MyST) from the stored outputs, and checked.

Usage: python tools/build_site.py assemble DEST [--offline]   copy site/, notebooks, solution pages to DEST
       python tools/build_site.py check DEST      check DEST/_build: every notebook a page, in series order,
                                                  every figure present, a Binder button, no broken internal
                                                  link, solutions reachable but not on lesson pages

Nothing is executed: the pages show the outputs stored by `make execute`. `make site` runs both around
`jupyter-book build --html` (static HTML; the HTML links are checked too), `make test-site` around
`jupyter-book build --site` (the pages' content, which needs no theme download: what CI can build offline).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "solutions"
EXTERNAL = ("http://", "https://", "mailto:")


OFFLINE_TEMPLATE = "jtex: v1\ntitle: Offline content check\ndescription: page content only\nversion: 1.0.0\n"


def assemble(dest: Path, *, offline: bool = False) -> None:
    """Lay out the book's sources in ``dest``: config, index, notebooks, one page per solution.

    ``offline`` swaps the HTML theme (downloaded from the MyST template service on first use) for a local
    stub, so that ``jupyter-book build --site`` builds every page's content without a network.
    """
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "solutions").mkdir(parents=True)
    for name in ("myst.yml", "index.md"):
        shutil.copy(ROOT / "site" / name, dest / name)
    if offline:
        (dest / "_offline").mkdir()
        (dest / "_offline" / "template.yml").write_text(OFFLINE_TEMPLATE)
        config = (dest / "myst.yml").read_text()
        assert "  template: book-theme\n" in config, "site/myst.yml must name its template"
        (dest / "myst.yml").write_text(config.replace("  template: book-theme\n", "  template: ./_offline\n"))
    for path in NOTEBOOKS:
        shutil.copy(path, dest / path.name)
    listing = ["# Solutions", "", "Worked solutions of each notebook's *Your turn* exercise. Try first.", ""]
    for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.py")):
        shutil.copy(path, dest / "solutions" / path.name)  # what the lesson pages link to
        title = f"{path.stem[:2]} · solution"
        code = path.read_text().rstrip()
        page = f"# {title}\n\nFrom [`solutions/{path.name}`]({path.name}).\n\n```python\n{code}\n```\n"
        (dest / "solutions" / f"{path.stem}.md").write_text(page)
        listing.append(f"- [{path.stem}]({path.stem}.md)")
    (dest / "solutions" / "index.md").write_text("\n".join(listing) + "\n")


def nodes(tree: object) -> Iterator[dict]:
    """Every node of a MyST AST, depth first."""
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from nodes(value)


def pages(build: Path) -> dict[str, dict]:
    """The built pages' content, by source file name."""
    found = {}
    for path in sorted((build / "site" / "content").glob("*.json")):
        page = json.loads(path.read_text())
        found[page["location"].lstrip("/")] = page
    return found


def problems(dest: Path) -> list[str]:
    """Everything wrong with the built site under ``dest/_build`` (empty when it is good)."""
    build, found = dest / "_build", []
    built = pages(build)
    public = {path.name for path in (build / "site" / "public").glob("*")}
    order = [path.name for path in NOTEBOOKS]
    missing = [name for name in order if name not in built]
    found += [f"no page for {name}" for name in missing]
    slugs = {page["slug"] for page in built.values()}
    for name, page in built.items():
        for node in nodes(page["mdast"]):
            found += link_problems(name, node, slugs, public)
            if node.get("type") == "image" or (node.get("type") == "output" and "image/png" in str(node)):
                found += image_problems(name, node, public)
    for name in order:
        if name in built:
            found += solution_leaks(name, built[name])
            if not str(built[name]["frontmatter"].get("binder", "")).startswith("https://mybinder.org/"):
                found.append(f"{name}: no launch-on-Binder button (project.binder in site/myst.yml)")
    solution_pages = [name for name in built if name.startswith("solutions/0")]
    if len(solution_pages) != len(list(SOLUTIONS.glob("[0-9][0-9]_*.py"))):
        found.append(f"solution pages: {sorted(solution_pages)}")
    found += order_problems(build, built, order)
    html = build / "html"
    if html.is_dir():
        found += html_link_problems(html)
    return found


def link_problems(page: str, node: dict, slugs: set[str], public: set[str]) -> list[str]:
    """A link that is neither external, nor a resolved page, nor a file copied into the site."""
    if node.get("type") != "link":
        return []
    url = str(node.get("url", ""))
    if url.startswith(EXTERNAL) or url.startswith("#"):
        return []
    if node.get("internal") and str(node.get("dataUrl", "")).lstrip("/").removesuffix(".json") in slugs:
        return []  # a page of the site (dataUrl names its content file)
    if node.get("static") and Path(urlsplit(url).path).name in public:
        return []
    return [f"{page}: broken internal link {node.get('urlSource', url)!r}"]


def image_problems(page: str, node: dict, public: set[str]) -> list[str]:
    """A figure whose picture was not written into the site."""
    paths = re.findall(r"['\"]([^'\"]+\.(?:png|jpg|jpeg|svg|webp|gif))['\"]", json.dumps(node))
    lost = [path for path in paths if not path.startswith(EXTERNAL) and Path(path).name not in public]
    return [f"{page}: figure {path} missing from the site" for path in lost]


def solution_leaks(name: str, page: dict) -> list[str]:
    """A lesson page that shows its exercise's solution (the stub must be what it shows)."""
    solution = SOLUTIONS / (Path(name).stem + ".py")
    if not solution.exists():
        return []
    code = "\n".join(str(node.get("value", "")) for node in nodes(page["mdast"]) if node.get("type") == "code")
    body = [line.strip() for line in solution.read_text().splitlines() if len(line.strip()) > 30]
    body = [line for line in body if not line.startswith("#")]
    shown = [line for line in body if line in code]
    return [f"{name}: shows solution lines, e.g. {shown[0]!r}"] if len(shown) > len(body) // 2 else []


def order_problems(build: Path, built: dict[str, dict], order: list[str]) -> list[str]:
    """The navigation (the site's config.json) must list the notebooks first, in series order."""
    config = build / "site" / "config.json"
    if not config.exists():
        return [f"no {config}: the build did not finish"]
    navigation = [page.get("slug") for page in json.loads(config.read_text())["projects"][0]["pages"]]
    wanted = [built[name]["slug"] for name in order if name in built]
    shown = navigation[: len(wanted)]
    return [] if shown == wanted else [f"navigation starts {shown}, not the series order {wanted}"]


def html_link_problems(html: Path) -> list[str]:
    """Links and pictures in the static HTML that point to nothing in it."""
    found = []
    for page in html.rglob("*.html"):
        for target in re.findall(r"(?:href|src)=\"(/[^\"#?]*)", page.read_text(errors="replace")):
            candidates = [html / target.lstrip("/"), html / target.lstrip("/") / "index.html"]
            candidates.append(html / (target.lstrip("/") + ".html"))
            if target != "/" and not any(path.exists() for path in candidates):
                found.append(f"{page.relative_to(html)}: broken link {target}")
    return sorted(set(found))


def main(argv: list[str]) -> int:
    """Command line: assemble DEST | check DEST."""
    offline = "--offline" in argv
    argv = [arg for arg in argv if arg != "--offline"]
    if len(argv) != 2 or argv[0] not in {"assemble", "check"}:
        print(__doc__, file=sys.stderr)
        return 2
    dest = Path(argv[1])
    if argv[0] == "assemble":
        assemble(dest, offline=offline)
        print(f"site sources in {dest}")
        return 0
    found = problems(dest)
    for problem in found:
        print(f"site: {problem}")
    print(f"site: {len(pages(dest / '_build'))} pages checked, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
