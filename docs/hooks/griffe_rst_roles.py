"""Griffe extension for the docs build: ricci's docstrings, written for the terminal, as markdown.

The docstrings are prose with doctest examples and Sphinx-style roles. Two rewrites, applied to
each docstring before mkdocstrings parses it (the docstrings in ``ricci/`` are untouched):

- a run of doctest lines (``>>>`` with its continuation and output lines, up to a blank line)
  becomes a fenced ``pycon`` code block, without ``# doctest:`` flags — otherwise markdown reads
  ``>>>`` as nested block quotes;
- ``:class:`ricci.Tensor``` (and ``:func:``, ``:meth:``, ``:mod:``, ...) becomes an *optional*
  cross-reference: a link where the target is documented on some page, plain code otherwise,
  never a strict-mode warning.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`<>]+?)`")
_DOCTEST_FLAGS = re.compile(r"\s*#\s*doctest:\s*[+\-]\w+(?:[\s,]+[+\-]\w+)*\s*$")


def _fence_doctests(text: str) -> str:
    out, block, in_fence = [], None, False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if block is not None:
            if stripped:
                block.append(_DOCTEST_FLAGS.sub("", line))
                continue
            out.extend(block + [block_indent + "```"])
            block = None
        if stripped.startswith("```"):
            in_fence = not in_fence
        if not in_fence and stripped.startswith(">>>"):
            block_indent = line[: len(line) - len(stripped)]
            block = [block_indent + "```pycon", _DOCTEST_FLAGS.sub("", line)]
            continue
        out.append(line)
    if block is not None:
        out.extend(block + [block_indent + "```"])
    return "\n".join(out)


class RstRoles(griffe.Extension):
    """Rewrite each docstring once, when the package has been loaded."""

    def __init__(self) -> None:
        super().__init__()
        self._done: set[int] = set()

    def _resolve(self, name: str, obj, loader) -> str:
        candidates = [name]
        if not name.startswith("ricci"):
            scope = obj if obj.is_class else obj.parent
            while scope is not None:
                candidates.append(f"{scope.path}.{name}")
                scope = scope.parent
            candidates.append(f"ricci.{name}")
        for path in candidates:
            try:
                loader.modules_collection.get_member(path)
            except (KeyError, ValueError, AttributeError):
                continue
            return path
        return candidates[-1]

    def _rewrite(self, obj, loader) -> None:
        if id(obj) in self._done or obj.docstring is None:
            return
        self._done.add(id(obj))

        def role(match: re.Match) -> str:
            short, name = match.group(1), match.group(2).strip()
            shown = name.rsplit(".", 1)[-1] if short else name
            ident = self._resolve(name, obj, loader)
            return f'<autoref identifier="{ident}" optional><code>{shown}</code></autoref>'

        obj.docstring.value = _ROLE.sub(role, _fence_doctests(obj.docstring.value))

    def on_object(self, *, obj, loader, **kwargs) -> None:
        self._rewrite(obj, loader)

    def on_module(self, *, mod, loader, **kwargs) -> None:
        self._rewrite(mod, loader)
