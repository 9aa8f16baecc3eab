"""Dimensions: an ``int`` (a size) or a ``str`` (a symbolic size, bound at evaluation).

A symbolic dimension such as ``"batch"`` is the same size wherever it appears in
an expression; :mod:`ricci.symbolic` binds it from the input arrays. Derivation
never needs its value: where a heuristic (the planner choosing a pairwise tree
for a gradient, or simplification deciding whether factoring out a term pays)
compares sizes, a name counts as :data:`ASSUMED_SIZE` elements, so a derivative
is the same expression whatever sizes it is later evaluated at.

>>> assumed(7), assumed("batch")
(7, 1000)
>>> is_symbolic(("batch", 3)), is_symbolic((2, 3))
(True, False)
"""

ASSUMED_SIZE = 1000  # what a named dimension counts as in size-comparing heuristics (a typical batch)


def assumed(dim):
    """``dim`` as a number for heuristics: itself if an int, :data:`ASSUMED_SIZE` if a name."""
    return dim if type(dim) is int else ASSUMED_SIZE


def assumed_count(shape):
    """The number of elements of ``shape`` with names counted as :data:`ASSUMED_SIZE`.

    >>> assumed_count(("batch", 3))
    3000
    """
    n = 1
    for d in shape:
        n *= d if type(d) is int else ASSUMED_SIZE
    return n


def is_symbolic(shape):
    """Whether a shape (a tuple of dimensions) has a named dimension."""
    for d in shape:
        if type(d) is str:
            return True
    return False


def dim_text(dim):
    """How a dimension is written in messages and printouts: ``3`` or ``batch``."""
    return str(dim)
