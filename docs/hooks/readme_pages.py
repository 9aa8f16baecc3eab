"""mkdocs hook: the pages that are README sections are read from README.md at build time.

``docs/use.md`` and the other section pages hold only a pointer; their text is the
README's section of the same title, so the site and the README cannot drift apart. Links
are rewritten for the page's place: ``docs/x.png`` becomes ``x.png`` and an anchor to
another section (``#numpy-conventions``) becomes a link to that section's page.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# page -> the README section it shows ("## <title>")
PAGES = {
    "use.md": "Use",
    "numpy_conventions.md": "numpy conventions",
    "backends.md": "torch, jax, cupy and dask arrays; standalone code",
    "matrix_calculus.md": "Matrix calculus",
    "see_the_math.md": "See the math",
    "how_it_works.md": "How it works",
    "performance.md": "Benchmarks",
}


def _slug(title):
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).strip().replace(" ", "-")


def sections(text):
    """``{title: body}`` of the README's ``## `` sections."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def page_text(src_uri, readme=None):
    """The markdown of a section page, or None for a page that is not a README section."""
    title = PAGES.get(src_uri)
    if title is None:
        return None
    readme = (ROOT / "README.md").read_text(encoding="utf-8") if readme is None else readme
    body = sections(readme)[title]
    body = body.replace("](docs/", "](")
    anchors = {_slug(t): page for page, t in PAGES.items()}

    def anchor(m):
        page = anchors.get(m.group(1))
        return f"]({page})" if page else m.group(0)

    body = re.sub(r"\]\(#([a-z0-9-]+)\)", anchor, body)
    return f"# {title[0].upper() + title[1:]}\n{body}"


def on_page_read_source(page, config):
    return page_text(page.file.src_uri)
