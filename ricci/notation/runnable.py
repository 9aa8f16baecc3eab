"""What makes an einsum program's text run under numpy: imports, one-line definitions, bindings.

:func:`preamble` reads the names a program's text calls and returns the lines that bind
them: ``from numpy import ...`` for numpy's own functions, ``from numpy.linalg import
...``, and a one-line numpy definition for each of ricci's functions that numpy does not
have (``sigmoid``, ``softplus``, ``softmax``, ``logdet``, ...), written in their stable
forms. Constants without a value in the text become ``C0 = ...`` with a comment saying
what to bind.

>>> print(preamble('t0 = sigmoid(einsum("ab,b->a", W, x))\\nsolve(A, t0)'))
import numpy
from numpy import einsum, exp, logaddexp
from numpy.linalg import solve
def sigmoid(x): return exp(-logaddexp(0, -x))
"""
import re

import numpy as np

__all__ = ["DEFINITIONS", "bind_constants", "preamble"]

_LINALG = {"inv", "det", "solve", "slogdet"}

# ricci's functions numpy lacks: one numpy line each (their stable forms), and what they use
DEFINITIONS = {
    "sigmoid": ("def sigmoid(x): return exp(-logaddexp(0, -x))", ("exp", "logaddexp")),
    "softplus": ("def softplus(x): return logaddexp(0, x)", ("logaddexp",)),
    "log_sigmoid": ("def log_sigmoid(x): return -logaddexp(0, -x)", ("logaddexp",)),
    "relu": ("def relu(x): return maximum(x, 0)", ("maximum",)),
    "step": ("def step(x): return (x > 0).astype(float)", ()),
    "softmax": ("def softmax(x, axis): e = exp(x - x.max(axis, keepdims=True)); return e / e.sum(axis, keepdims=True)",
                ("exp",)),
    "log_softmax": ("def log_softmax(x, axis): m = x.max(axis, keepdims=True); "
                    "return x - m - log(exp(x - m).sum(axis, keepdims=True))", ("exp", "log")),
    "logsumexp": ("def logsumexp(x, axis): m = x.max(axis, keepdims=True); "
                  "return (m + log(exp(x - m).sum(axis, keepdims=True))).squeeze(axis)", ("exp", "log")),
    "logdet": ("def logdet(x): s, v = numpy.linalg.slogdet(x); return where(s > 0, v, nan)", ("where", "nan")),
    "erf": ("def erf(x): import math; return numpy.vectorize(math.erf)(x)", ()),
    "erfc": ("def erfc(x): import math; return numpy.vectorize(math.erfc)(x)", ()),
    "poly_gaussian": ("def poly_gaussian(x, a, *c): return numpy.polynomial.polynomial.polyval(x, c) * exp(-a * x * x)",
                      ("exp",)),
}

_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")
_WORD = re.compile(r"\b(inf|nan)\b")
_PLACEHOLDER = re.compile(r"^(\w+) = <constant (?:of shape )?(.*)>$", re.MULTILINE)


def bind_constants(text):
    """Placeholder lines ``C0 = <constant of shape (8, 10)>`` as ``C0 = ...`` saying what to bind."""
    def line(m):
        return (f"{m.group(1)} = ...  # bind {m.group(1)} to the constant of shape {m.group(2)} "
                f"(ricci.Constant(array, name=...) names it)")

    return _PLACEHOLDER.sub(line, text)


def preamble(text):
    """The lines that bind every name ``text`` calls (numpy imports and definitions)."""
    called = set(_CALL.findall(text)) - {"def"}
    defs, from_numpy, from_linalg, unknown = [], set(), set(), []
    for name in sorted(called):
        if name in DEFINITIONS:
            line, uses = DEFINITIONS[name]
            defs.append(line)
            from_numpy.update(uses)
        elif name in _LINALG:
            from_linalg.add(name)
        elif hasattr(np, name):
            from_numpy.add(name)
        else:
            unknown.append(name)
    from_numpy.update(_WORD.findall(text))
    lines = ["import numpy"]
    if from_numpy:
        lines.append(f"from numpy import {', '.join(sorted(from_numpy))}")
    if from_linalg:
        lines.append(f"from numpy.linalg import {', '.join(sorted(from_linalg))}")
    lines += defs
    lines += [f"# {name}: a ricci primitive with no numpy one-liner (see ricci.indexing / ricci.reductions)"
              for name in unknown]
    return "\n".join(lines)
