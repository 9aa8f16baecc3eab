"""The engine: from a planned expression DAG to a compiled straight-line program.

``paths`` chooses contraction orders, ``lower`` turns each pairwise step into a
matmul or broadcast kernel, ``emit`` writes and compiles the program text,
``program`` ties them together for one input signature, ``budget`` guards
every allocation, and ``compiled`` is the callable users get from
:func:`ricci.compile`.
"""
from .compiled import Function, compile

__all__ = ["Function", "compile"]
