"""The parts of :mod:`ricci.draw`, the tensor-network drawings (use :mod:`ricci.draw`; it re-exports them).

- :mod:`ricci.drawing.diagram` — what is drawn: the networkx graph of
  frames, panels, nodes, index edges and argument links, and the labels;
- :mod:`ricci.drawing.layout` — where: positions of nodes and free legs,
  frame boxes, the extent and the curves of parallel edges (no matplotlib);
- :mod:`ricci.drawing.dot` — the same diagram as Graphviz DOT text;
- :mod:`ricci.drawing.render` — matplotlib: shapes, colours, figures, files,
  :func:`~ricci.drawing.render.draw`, :func:`~ricci.drawing.render.draw_derivative`
  and :func:`~ricci.drawing.render.to_svg`.
"""
