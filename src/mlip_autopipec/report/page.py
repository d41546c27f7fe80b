"""The HTML page: one file with every image embedded, a table of contents, and a self-check of its rendering.

Why one file with data URIs: the report is copied, mailed and opened offline; nothing it shows may depend on
a file next to it or on the network. The only links out are to files of the run (the Snakemake report, the
expanded config), relative to the page. The inline script at the end counts, once the browser has loaded the
page, the images it could not decode and writes the numbers into ``#render-check``, so a headless browser's
``--dump-dom`` (and a reader) can see that every figure rendered.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 1em 2em; color: #222; }
h1 { border-bottom: 2px solid #444; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
nav ul { columns: 2; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #eee; }
td.text, th.text { text-align: left; }
figure { margin: 0.5em 0 1.5em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
p.missing { background: #fff6d6; border-left: 4px solid #e0b000; padding: 0.4em 0.8em; }
.mark { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; color: white; }
.mark-pass { background: #2e7d32; }
.mark-warn { background: #ef8f00; }
.mark-fail { background: #c62828; }
.mark-info { background: #757575; }
.mark-incomplete { background: #8e24aa; }
#render-check { font-size: 0.8em; color: #777; margin-top: 3em; }
"""

RENDER_CHECK = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (image) { return !image.complete || image.naturalWidth === 0; });
  var check = document.getElementById("render-check");
  check.setAttribute("data-images", String(images.length));
  check.setAttribute("data-broken-images", String(broken.length));
  check.setAttribute("data-sections", String(document.querySelectorAll("section > h2[id]").length));
  check.textContent = "Rendering check: " + images.length + " images, " + broken.length + " not rendered.";
});
</script>
"""


@dataclass
class Section:
    """One ``<section>``: an ``<h2>`` with a stable id (the link target and what tests look for) and its body."""

    id: str
    title: str
    body: list[str] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    """Figure name -> PNG, also written next to the page for the Snakemake report."""

    def add(self, *parts: str) -> Section:
        self.body.extend(parts)
        return self

    def figure(self, name: str, png: bytes, caption: str) -> Section:
        """An embedded figure, kept under ``name`` as well."""
        self.figures[name] = png
        return self.add(image(png, caption, caption))

    def render(self) -> str:
        return f'<section>\n<h2 id="{self.id}">{html.escape(self.title)}</h2>\n' + "\n".join(self.body) + "\n</section>"


def text(value: object) -> str:
    return html.escape(str(value))


def paragraph(words: str) -> str:
    """A paragraph of plain text (escaped)."""
    return f"<p>{text(words)}</p>"


def missing(why: str) -> str:
    """What a section shows instead of its content when the run has not (or not readably) written its input."""
    return f'<p class="missing">{text(why)}</p>'


def image(png: bytes, alt: str, caption: str = "") -> str:
    """A figure with the PNG embedded as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    shown = f"<figcaption>{text(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{text(alt)}">{shown}</figure>'


def link(href: str, words: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}">{text(words)}</a>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], text_columns: Sequence[int] = (0,)) -> str:
    """A table; cells are escaped unless given as ``Raw`` (already HTML). ``text_columns`` are left-aligned."""

    def cell(tag: str, index: int, value: object) -> str:
        klass = ' class="text"' if index in text_columns else ""
        content = value.html if isinstance(value, Raw) else text(value)
        return f"<{tag}{klass}>{content}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "\n".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


@dataclass(frozen=True)
class Raw:
    """A table cell that is already HTML (a coloured mark, a link)."""

    html: str


def mark(value: str) -> Raw:
    """A validation mark as a coloured badge (pass green, warn orange, fail red, info grey, incomplete purple)."""
    return Raw(f'<span class="mark mark-{html.escape(value)}">{html.escape(value)}</span>')


def number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def render_page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole document: head with the style, title, contents, sections, the rendering check."""
    contents = "\n".join(f'<li><a href="#{s.id}">{text(s.title)}</a></li>' for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{text(title)}</h1>\n<p>{text(subtitle)}</p>\n"
        f"<nav><ul>\n{contents}\n</ul></nav>\n" + "\n".join(s.render() for s in sections) + "\n"
        '<p id="render-check">Rendering check: not run (JavaScript is off).</p>\n'
        f"{RENDER_CHECK}</body>\n</html>\n"
    )
