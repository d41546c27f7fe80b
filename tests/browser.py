"""A real headless browser for the report tests: Debian's chromium, its rendered DOM, a screenshot, the page's links.

Why a browser: an HTML file that parses is not a page that shows its figures; only a browser's own rendering says
whether every embedded image decoded (the page's inline check writes that into ``#render-check``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image


def chromium() -> str:
    """The chromium binary; installed with apt-get when missing and running as root (as envs/install.sh does)."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, capture_output=True, env=env, timeout=1800).returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=600)
            subprocess.run(install, capture_output=True, env=env, timeout=1800)
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed and could not be (not root?); run 'bash envs/install.sh'")
    return found


def headless(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium on ``page`` with a fresh profile and no network chatter; virtual time lets the load handlers run."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--disable-background-networking",
        "--disable-component-update",
        "--hide-scrollbars",
        "--virtual-time-budget=15000",
        *args,
        page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def rendered_dom(page: Path, profile: Path) -> str:
    """The DOM after the page loaded and its scripts ran (``--dump-dom``)."""
    return headless(page, profile, "--dump-dom").stdout


def screenshot(page: Path, target: Path, profile: Path, width: int = 1400, height: int = 6000) -> Path:
    headless(page, profile, f"--window-size={width},{height}", f"--screenshot={target}")
    assert target.is_file(), f"chromium wrote no screenshot to {target}"
    return target


def distinct_colours(png: Path) -> int:
    """How many different RGB values the image has: a blank or failed render has a handful."""
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    return len(colours or [])


class _Elements(HTMLParser):
    """Every ``href``/``src`` of the page and every ``id``."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.references.append(value)
            if name == "id" and value is not None:
                self.ids.add(value)


def page_elements(html: str) -> tuple[list[str], set[str]]:
    """(every href and src, every element id) of ``html``."""
    parser = _Elements()
    parser.feed(html)
    return parser.references, parser.ids


def broken_links(page: Path) -> list[str]:
    """References of ``page`` that lead nowhere: a local file that does not exist, an anchor with no such id, or
    anything on the network (the report must open offline)."""
    references, ids = page_elements(page.read_text())
    broken = []
    for reference in references:
        parsed = urlparse(reference)
        if parsed.scheme == "data":
            continue
        if parsed.scheme in ("http", "https", "ftp") or parsed.netloc:
            broken.append(f"{reference} (network)")
        elif reference.startswith("#"):
            if reference[1:] not in ids:
                broken.append(f"{reference} (no such id)")
        elif not (page.parent / unquote(parsed.path)).exists():
            broken.append(f"{reference} (no such file)")
    return broken
