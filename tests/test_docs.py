"""The docs site (mkdocs.yml, docs/): every public name has an API entry and an example.

- every name in ``ricci.__all__`` is rendered by some ``::: identifier`` block of docs/*.md:
  ``::: ricci.<name>`` itself, ``::: ricci.<module>.<name>``, or a module whose members
  (not turned off by ``members: false``) include it — a name added to ``__all__`` without a
  docs entry fails here;
- every public function and class has a docstring with a doctest example (``>>>``), except
  the frozen list below of those that lacked one when the docs were written — a new name
  without an example fails here; add one rather than growing the list;
- the site builds in strict mode (a broken reference, link or nav entry fails) when mkdocs
  and the docs extra are installed (``pip install ".[docs]"``); skipped otherwise.
"""
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import ricci

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Public functions and classes whose docstrings had no '>>>' example when the API reference
# was written. Shrink it as examples are added; never grow it.
WITHOUT_EXAMPLES = frozenset({
    "to_source",  # its example is in the module docstring (ricci.source)
    # errors: one-line class docstrings
    "RicciError", "SubscriptError", "OperandError", "OperandTypeError", "ShapeError",
    "InputError", "MissingInputError", "UnknownInputError", "InputShapeError",
    "NotScalarError", "WrtError", "MemoryBudgetError", "ArgumentError", "DtypeError",
    "SingularMatrixError", "SublistError", "BackendError", "IndexingError",
    "UnsupportedFunctionError",
})

_BLOCK = re.compile(r"^:::\s*(\S+)[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.M)


def _members_option(options):
    """None: all public members; a set: those; an empty set: none (``members: false``)."""
    lines = options.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"\s*members:\s*(.*?)\s*(#.*)?$", line)
        if not m:
            continue
        value = m.group(1)
        if value.lower() in ("false", "no", "off", "[]"):
            return set()
        if value.lower() in ("true", "yes", "on"):
            return None
        if value.startswith("["):
            return {v.strip(" '\"") for v in value.strip("[]").split(",") if v.strip()}
        listed = set()
        for item in lines[i + 1:]:
            mi = re.match(r"\s*-\s*(\S+)", item)
            if not mi:
                break
            listed.add(mi.group(1).strip("'\""))
        return listed
    return None


def _resolve(identifier):
    """The object mkdocstrings renders for ``identifier``: a submodule wins over an attribute
    of the same name (as in griffe: ``ricci.draw`` is the module, ``ricci.draw.draw`` the function)."""
    parts = identifier.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(identifier)


def doc_blocks():
    """(page, identifier, options text) for every ``::: identifier`` of docs/**/*.md."""
    blocks = []
    for page in sorted(DOCS.rglob("*.md")):
        for m in _BLOCK.finditer(page.read_text(encoding="utf-8")):
            blocks.append((page.relative_to(ROOT).as_posix(), m.group(1), m.group(2)))
    return blocks


def documented_objects():
    covered = {}
    for page, identifier, options in doc_blocks():
        obj = _resolve(identifier)
        covered[id(obj)] = page
        if inspect.ismodule(obj):
            members = _members_option(options)
            for name, value in vars(obj).items():
                if name.startswith("_") or getattr(value, "__module__", None) != obj.__name__:
                    continue
                if members is None or name in members:
                    covered.setdefault(id(value), page)
    return covered


def test_doc_identifiers_resolve():
    blocks = doc_blocks()
    assert len(blocks) > 50
    for page, identifier, _ in blocks:
        assert identifier.startswith("ricci"), (page, identifier)
        try:
            _resolve(identifier)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"{page}: '::: {identifier}' names nothing ({error})")


def test_every_public_name_is_documented():
    covered = documented_objects()
    missing = [name for name in ricci.__all__ if id(getattr(ricci, name)) not in covered]
    assert not missing, (
        f"names in ricci.__all__ with no API entry in docs/api/*.md: {missing}; "
        "add a '::: ricci.<name>' block to the page of their area")


def test_public_functions_and_classes_have_examples():
    lacking = set()
    for name in ricci.__all__:
        obj = getattr(ricci, name)
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        doc = obj.__doc__ or ""  # a class's own docstring: __doc__ is not inherited
        if ">>>" not in doc:
            lacking.add(name)
    new = sorted(lacking - WITHOUT_EXAMPLES)
    assert not new, f"public names whose docstring has no '>>>' example: {new}"
    fixed = sorted(WITHOUT_EXAMPLES & set(ricci.__all__) - lacking)
    if fixed:
        print(f"these now have examples; drop them from WITHOUT_EXAMPLES: {fixed}")


def test_docs_build_strict():
    def installed(module):
        try:
            return importlib.util.find_spec(module) is not None
        except ImportError:  # its parent package is missing
            return False

    missing = [m for m in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "material") if not installed(m)]
    if missing:
        reason = f"docs build not checked: {', '.join(missing)} not installed (pip install '.[docs]')"
        print(reason)
        pytest.skip(reason)
    with tempfile.TemporaryDirectory() as site:
        run = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"), "-d", site],
            cwd=ROOT, capture_output=True, text=True, timeout=180,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
        assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
        for page in ("index.html", "api/index.html", "api/derivatives/index.html", "benchmarks/index.html"):
            assert (Path(site) / page).is_file(), page
        html = (Path(site) / "api" / "derivatives" / "index.html").read_text(encoding="utf-8")
        assert 'id="ricci.grad"' in html
        assert "&gt;&gt;&gt;" in html and "<blockquote" not in html  # doctests as code, not quotes
