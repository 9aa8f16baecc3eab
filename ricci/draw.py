"""Tensor-network drawings (matplotlib) and Graphviz DOT text of the same diagram.

Conventions: each tensor is a labelled node (inputs are circles, constants
squares, deltas small δ circles, functions and sums rounded boxes); each
contracted index is an edge labelled with its letter; each free index is a
dangling leg; an index shared by three or more tensors is a small black dot
(a copy tensor) joining them. The argument of a function, the terms of a sum
and a shared sub-network are drawn in their own frame, linked to their node
by a dashed line; a frame that several nodes use is drawn once, named
(``t0 = …``), and its uses show the name instead of a link. Levels are opened
while the drawing keeps at most ``max_nodes`` nodes and fits 24 inches;
deeper parts stay collapsed into one labelled box. Scalars are exact
(``1/6``, ``1/sqrt(5)``). The layout is deterministic.

matplotlib is needed only to draw (``pip install ricci[draw]``); the diagram
itself (:func:`diagram`, a networkx graph) and :func:`to_dot` need only
networkx.

>>> import ricci
>>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
>>> print(to_dot(ricci.einsum("ij,jk->ik", A, B)).splitlines()[0])
graph ricci {

The code is in :mod:`ricci.drawing`: what is drawn (:mod:`ricci.drawing.diagram`),
where (:mod:`ricci.drawing.layout`), Graphviz text (:mod:`ricci.drawing.dot`) and
matplotlib (:mod:`ricci.drawing.render`). Every name is importable from
``ricci.draw`` as before the split.
"""
from .drawing.diagram import (  # noqa: F401
    _DOTS,
    _ELEMENTWISE_BOX,
    _SUPER,
    DrawError,
    _chain,
    _check,
    _elementwise,
    _function_label,
    _node_label,
    _num,
    _openings,
    _skeleton,
    _terms,
    diagram,
)
from .drawing.dot import _DOT_SHAPES, _dot_from_diagram, _dot_quote, to_dot  # noqa: F401
from .drawing.layout import (  # noqa: F401
    _LEG,
    _SPACING,
    _chain_start,
    _edge_curve,
    _extent,
    _landscape,
    _layout,
    _layout_component,
    _layout_panel,
    _leg_angles,
    _place_legs,
)
from .drawing.render import (  # noqa: F401
    _STYLE,
    SVG,
    _figure_for,
    _matplotlib,
    _name,
    _render,
    _save,
    draw,
    draw_derivative,
    to_svg,
)

__all__ = ["DrawError", "diagram", "draw", "draw_derivative", "to_dot", "to_svg"]
