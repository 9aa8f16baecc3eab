"""The repository stands on its own: links resolve inside it, commands run as written, and
running a benchmark never rewrites the committed results.

- every relative link and image of the markdown files (README.md, examples/README.md,
  benchmarks/README.md, docs/**/*.md) names a file or folder that exists inside the
  repository (http(s)/mailto links and ``#anchors`` are not checked); on the docs pages a
  link may also name a file that docs/hooks/repo_files.py serves into the site;
- no line of a fenced code block runs a bare ``python``/``pip`` (which works only in an
  activated virtual environment): commands go through ``.venv/bin/``, as the README's
  set-up (``python3 -m venv .venv && .venv/bin/pip install ...``) creates it;
- the benchmarks write to the untracked benchmarks/out/ unless ``--save`` asks for the
  committed benchmarks/results/ (the path resolution is checked; nothing heavy runs);
- ``ricci.squared_norm`` is the main name of the squared Frobenius norm, ``ricci.norm2`` its alias.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import ricci

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def markdown_files():
    files = [ROOT / "README.md", ROOT / "examples" / "README.md", ROOT / "benchmarks" / "README.md"]
    files += sorted(DOCS.rglob("*.md"))
    return [f for f in files if f.is_file()]


MARKDOWN = markdown_files()
IDS = [f.relative_to(ROOT).as_posix() for f in MARKDOWN]

_FENCE = re.compile(r"^([ \t]*)(```+|~~~+)([^\n]*)\n(.*?)^\1\2[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
# [text](target "title") and ![alt](target); the text may hold `code` and nested [brackets]
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
                          r"\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
_REFERENCE_DEF = re.compile(r"^[ ]{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
_HTML_LINK = re.compile(r"<(?:a|img|source)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose(text):
    """The markdown without its fenced code blocks and code spans (links there are code)."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _CODE_SPAN.sub("", text)


def relative_links(path):
    """(line number, target) of every relative link and image in the markdown file."""
    text = path.read_text(encoding="utf-8")
    prose = _prose(text)
    found = []
    for pattern in (_INLINE_LINK, _REFERENCE_DEF, _HTML_LINK):
        for m in pattern.finditer(prose):
            target = m.group(1).strip("<>")
            if not target or target.startswith("#") or _SCHEME.match(target) or target.startswith("//"):
                continue
            found.append((prose.count("\n", 0, m.start()) + 1, target))
    return found


def _served_by_docs_hook():
    """The repository files docs/hooks/repo_files.py adds to the site (read without mkdocs)."""
    hook = DOCS / "hooks" / "repo_files.py"
    if not hook.is_file():
        return set()
    for node in ast.walk(ast.parse(hook.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "INCLUDED" for t in node.targets):
            patterns = ast.literal_eval(node.value)
            return {p.relative_to(ROOT).as_posix() for pattern in patterns for p in ROOT.glob(pattern)}
    return set()


SERVED = _served_by_docs_hook()


def _inside_repo(path):
    try:
        path.resolve().relative_to(ROOT)
    except ValueError:
        return False
    return True


def _link_resolves(page, target):
    """Whether ``target`` (relative to ``page``) is a file or folder inside the repository."""
    target = target.split("#", 1)[0].split("?", 1)[0]
    if not target:
        return True  # a same-page anchor with a query, or the page itself
    if target.startswith("/"):
        return False  # absolute paths mean nothing in a clone
    resolved = (page.parent / target).resolve()
    if _inside_repo(resolved) and resolved.exists():
        return True
    if _inside_repo(page) and page.resolve().is_relative_to(DOCS.resolve()):
        # a page of the site: the target may be a file the docs hook serves from the repo
        in_site = resolved.relative_to(DOCS.resolve()).as_posix() if resolved.is_relative_to(DOCS.resolve()) else None
        return in_site in SERVED
    return False


def test_the_markdown_files_are_found():
    names = set(IDS)
    assert {"README.md", "examples/README.md", "benchmarks/README.md", "docs/index.md"} <= names, names


def test_link_parser_finds_links():
    # the parser itself: a link with code in its text, an image, a title, an anchor, code spans
    sample = ROOT / "tests" / "_sample.md"
    text = ("see [`a.md`](a.md) and ![pic](img/p.png \"t\"), [x](#top), [w](https://x.org/y)\n"
            "`[not](a link)` and\n```bash\n[nor](this)\n```\n[ref]: ../outside.md\n")
    prose = _prose(text)
    targets = [m.group(1) for p in (_INLINE_LINK, _REFERENCE_DEF) for m in p.finditer(prose)]
    assert targets == ["a.md", "img/p.png", "#top", "https://x.org/y", "../outside.md"], targets
    assert not _link_resolves(sample, "../../outside.md")  # above the repository
    assert not _link_resolves(sample, "missing_file.md")
    assert _link_resolves(sample, "test_repo_hygiene.py#L1")


@pytest.mark.parametrize("page", MARKDOWN, ids=IDS)
def test_relative_links_resolve_inside_the_repo(page):
    broken = [f"{page.relative_to(ROOT)}:{line}: {target}"
              for line, target in relative_links(page) if not _link_resolves(page, target)]
    assert not broken, "links to files that are missing or outside the repository:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", MARKDOWN, ids=IDS)
def test_no_paths_outside_the_repo(page):
    # a path such as ../../shared/seeds/ written as code rather than as a link is broken too
    text = page.read_text(encoding="utf-8")
    depth = len(page.parent.relative_to(ROOT).parts)
    outside = re.compile(r"(?<![\w./])(?:\.\./){%d,}[\w.-]" % (depth + 1))
    hits = [f"{page.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for m in outside.finditer(text)]
    assert not hits, "paths above the repository root:\n" + "\n".join(hits)


_SHELL = {"bash", "sh", "shell", "console", "zsh", "shell-session"}
_BARE = re.compile(r"^(?:sudo\s+)?(python|python3|pip|pip3)(?:\s|$)")


def _bare_commands(line, shell):
    """The commands of one code-block line that call python or pip without .venv/bin/."""
    line = line.strip()
    if line.startswith("$ ") or line.startswith("> "):
        line = line[2:].strip()
    # in a shell block, every command of the line (its comment left off); elsewhere, only how
    # the line starts
    if shell:
        line = re.sub(r"(^|\s)#.*$", "", line)
    commands = re.split(r"&&|\|\||;|\|", line) if shell else [line]
    bad = []
    for command in commands:
        command = command.strip()
        if _BARE.match(command) and not re.match(r"^python3 -m venv\b", command):
            bad.append(command)
    return bad


@pytest.mark.parametrize("page", MARKDOWN, ids=IDS)
def test_code_blocks_use_the_venv(page):
    text = page.read_text(encoding="utf-8")
    bad = []
    for m in _FENCE.finditer(text):
        lang = m.group(3).strip().split()[0].lower() if m.group(3).strip() else ""
        first = text.count("\n", 0, m.start(4)) + 1
        for i, line in enumerate(m.group(4).splitlines()):
            for command in _bare_commands(line, lang in _SHELL):
                bad.append(f"{page.relative_to(ROOT)}:{first + i}: {command}")
    assert not bad, ("commands that need an activated venv (write .venv/bin/python, .venv/bin/pip):\n"
                     + "\n".join(bad))


def test_bare_command_check():
    assert _bare_commands("python examples/x.py   # any", True) == ["python examples/x.py"]
    assert _bare_commands("$ pip install .", True) == ["pip install ."]
    assert _bare_commands('python3 -m venv .venv && .venv/bin/pip install ".[dev]"', True) == []
    assert _bare_commands("python3 -m venv .venv && pip install .", True) == ["pip install ."]
    assert _bare_commands(".venv/bin/python -m pytest -q   # python -m pytest", True) == []
    assert _bare_commands("# python is 3.11", True) == []


# -- benchmarks: the untracked folder by default, the committed results with --save ----------
def test_benchmarks_write_to_an_untracked_folder_by_default():
    from benchmarks import _paths
    from benchmarks.run_all import resolve_out_dir

    out, results = ROOT / "benchmarks" / "out", ROOT / "benchmarks" / "results"
    assert _paths.OUT_DIR == out and _paths.RESULTS_DIR == results
    assert resolve_out_dir() == out
    assert resolve_out_dir(save=True) == results
    assert resolve_out_dir(Path("/tmp/x"), save=True) == Path("/tmp/x")
    assert _paths.output_path("engine.json") == out / "engine.json"
    assert _paths.output_path("engine.json", save=True) == results / "engine.json"
    assert _paths.output_path("engine.json", save=True, out="/tmp/e.json") == Path("/tmp/e.json")


def test_benchmark_out_folder_is_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    probe = "benchmarks/out/probe.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT)
    assert ignored.returncode == 0, f"{probe} is not ignored: add benchmarks/out/ to .gitignore"
    tracked = subprocess.run(["git", "ls-files", "benchmarks/out"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout.strip() == "", tracked.stdout


BENCHMARK_SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py")
                           if not p.name.startswith("_") and p.name not in ("__main__.py", "run_all.py"))


@pytest.mark.parametrize("script", BENCHMARK_SCRIPTS, ids=[p.stem for p in BENCHMARK_SCRIPTS])
def test_benchmark_scripts_resolve_output_through_paths(script):
    # every script takes --save and resolves its output via benchmarks/_paths.py; none names
    # benchmarks/results/ or a temporary folder itself
    source = script.read_text(encoding="utf-8")
    code = ast.parse(source)
    names = {a.name for n in ast.walk(code) if isinstance(n, ast.ImportFrom) and n.module == "benchmarks._paths"
             for a in n.names}
    assert "add_save_argument" in names, f"{script.name}: no --save (benchmarks._paths.add_save_argument)"
    assert names & {"output_path", "output_dir"}, f"{script.name}: output not resolved by benchmarks._paths"
    assert '/ "results"' not in source and "gettempdir" not in source, script.name


# -- the squared norm's name ------------------------------------------------------------------
def test_squared_norm_is_the_main_name_and_norm2_its_alias():
    assert "squared_norm" in ricci.__all__ and "norm2" in ricci.__all__
    assert ricci.norm2 is ricci.squared_norm
    assert ricci.squared_norm.__name__ == "squared_norm"
    assert ">>>" in ricci.squared_norm.__doc__ and "alias" in ricci.squared_norm.__doc__


def test_readme_and_examples_use_squared_norm():
    files = [ROOT / "README.md", *sorted((ROOT / "examples").glob("*.py")), ROOT / "examples" / "README.md"]
    hits = [f"{f.relative_to(ROOT)}" for f in files if "ricci.norm2(" in f.read_text(encoding="utf-8")]
    assert not hits, f"use ricci.squared_norm (norm2 is kept only as an alias): {hits}"
