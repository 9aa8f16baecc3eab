"""The README's Python examples run, and its printed formula is what ricci prints."""
import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    namespace, printed = {}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)  # our own documentation, not user text
    shown = [line[2:] for line in blocks[0].splitlines() if line.startswith("# ")]
    assert printed.getvalue().splitlines()[: len(shown)] == shown
