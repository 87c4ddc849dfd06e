"""Offline check of every internal link and anchor in a built HTML site.

``broken_links(site)`` parses every ``.html`` file under ``site`` and returns one message per
``href``/``src`` that points inside the site to a missing file or a missing ``#anchor``.
External links (with a scheme such as ``https:``) are not followed: the check runs offline.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup


@cache
def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _anchors(path: Path) -> set[str]:
    soup = _soup(path)
    return {tag["id"] for tag in soup.find_all(id=True)} | {
        tag["name"] for tag in soup.find_all("a", attrs={"name": True})
    }


def broken_links(site: Path) -> list[str]:
    """Messages for internal links of ``site`` whose file or anchor does not exist."""
    site = site.resolve()
    problems = []
    for page in sorted(site.rglob("*.html")):
        for tag in _soup(page).find_all(["a", "img", "link", "script"]):
            target = tag.get("href") or tag.get("src")
            if not target or target.startswith(("mailto:", "javascript:", "data:")):
                continue
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                continue  # external: not checked offline
            file = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if file.is_dir():
                file = file / "index.html"
            where = f"{page.relative_to(site)} -> {target}"
            if not file.is_relative_to(site) or not file.exists():
                problems.append(f"{where}: no such file")
            elif (
                parts.fragment
                and file.suffix == ".html"
                and unquote(parts.fragment) not in _anchors(file)
            ):
                problems.append(f"{where}: no anchor #{parts.fragment}")
    return problems


if __name__ == "__main__":
    site = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "_build" / "html"
    found = broken_links(site)
    print("\n".join(found) or f"every internal link of {site} resolves")
    sys.exit(1 if found else 0)
