"""Check the built site as a reader would: in headless Chromium, over HTTP on 127.0.0.1.

Serves ``docs/_build/html`` on a free loopback port, opens the home page, one API page and one
gallery page in Chromium (Debian's ``chromium`` package, driven by Playwright), saves a screenshot
of each into ``docs/_screenshots/`` and fails if a page logs a console error, raises a JavaScript
error, requests anything that fails or returns an HTTP error, or shows an image that did not load.
Also checks every internal link and anchor of every built page, offline.

Usage (after the Sphinx build)::

    python docs/check_site.py [--site docs/_build/html] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from check_links import broken_links

DOCS = Path(__file__).resolve().parent
PAGES = ("index.html", "api/nn.html", "auto_examples/backend_tour.html")
# the flags Chromium needs on a machine without a network (no background connections)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_IMAGES_BROKEN = """() => Array.from(document.images)
    .filter(img => !img.complete || img.naturalWidth === 0)
    .map(img => img.getAttribute('src'))"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(site: Path) -> ThreadingHTTPServer:
    """Serve ``site`` on a free port of 127.0.0.1 in a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_pages(base_url: str, chromium: str, shots: Path) -> list[str]:
    """Open :data:`PAGES`; return one message per problem found."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for page_path in PAGES:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                found: list[str] = []
                page.on(
                    "console",
                    lambda m, found=found: (
                        found.append(f"console {m.type}: {m.text}") if m.type == "error" else None
                    ),
                )
                page.on("pageerror", lambda e, found=found: found.append(f"page error: {e}"))
                page.on(
                    "requestfailed",
                    lambda r, found=found: found.append(f"request failed: {r.url} ({r.failure})"),
                )
                page.on(
                    "response",
                    lambda r, found=found: (
                        found.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
                    ),
                )
                response = page.goto(f"{base_url}/{page_path}", wait_until="networkidle")
                if response is None or response.status != 200:
                    found.append(f"status {None if response is None else response.status}")
                page.wait_for_load_state("load")
                found += [f"image not loaded: {src}" for src in page.evaluate(_IMAGES_BROKEN)]
                if page_path.startswith("auto_examples/") and not page.evaluate(
                    "() => document.querySelectorAll('img.sphx-glr-single-img, "
                    "img.sphx-glr-multi-img').length"
                ):
                    found.append("gallery page shows no figure")
                name = page_path.replace("/", "_").removesuffix(".html")
                page.screenshot(path=str(shots / f"{name}.png"), full_page=False)
                problems += [f"{page_path}: {p}" for p in found]
                page.close()
        finally:
            browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the link check and the browser check; print what failed; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshots", type=Path, default=DOCS / "_screenshots")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"no built site at {args.site}: build it first (see README)", file=sys.stderr)
        return 2
    if not Path(args.chromium).is_file():
        print(f"Chromium not found at {args.chromium}: apt-get install chromium", file=sys.stderr)
        return 2
    problems = [f"link: {p}" for p in broken_links(args.site)]
    server = serve(args.site)
    try:
        base_url = f"http://127.0.0.1:{server.server_port}"
        problems += check_pages(base_url, args.chromium, args.screenshots)
    finally:
        server.shutdown()
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"checked {len(PAGES)} pages in Chromium and every internal link: {len(problems)} problems"
    )
    print(f"screenshots: {args.screenshots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
