"""mkdocs hook: serve benchmarks/README.md (and the plots it shows) as a page of the site.

The file stays where it is, and the README's link to it (``benchmarks/README.md``) works
unchanged from the docs' pages; its relative image links (``results/*.png``) resolve
because the plots are served beside it.
"""
from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
INCLUDED = ["benchmarks/README.md", "benchmarks/results/*.png"]


def on_files(files, config):
    for pattern in INCLUDED:
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            if files.get_file_from_path(rel) is None:
                files.append(File.generated(config, rel, abs_src_path=str(path)))
    return files
