"""The tensor network of an expression as a networkx graph.

Nodes are the tensors of the flattened top-level contraction (kind
``input``, ``constant``, ``delta``, ``function``, ``add`` or ``contract``
for shared intermediates), plus ``open`` nodes for free indices,
``hyperedge`` nodes joining an index shared by three or more tensors and
``sum`` nodes for an index summed on one tensor alone. Each edge carries its
index letter and dimension.

>>> import ricci
>>> a, b, c = (ricci.Tensor(n, (3,)) for n in "abc")
>>> g = ricci.einsum("i,i,i->", a, b, c).network()
>>> sorted(d["kind"] for _, d in g.nodes(data=True))
['hyperedge', 'input', 'input', 'input']
"""
import networkx as nx

from .expr import Contract
from .plan import Network, flatten, uses_of
from .printing import short_name


def network(expr):
    """Return the networkx MultiGraph of ``expr``'s top-level network."""
    if isinstance(expr, Contract):
        net = flatten(expr, uses_of([expr])[1])
    else:
        labels = tuple(range(expr.ndim))
        net = Network(labels, [(expr, labels)], dict(enumerate(expr.shape)), 1.0)
    letters = net.letters()
    graph = nx.MultiGraph(scale=net.scale, shape=expr.shape)
    ends = {}
    for i, (node, labels) in enumerate(net.factors):
        graph.add_node(i, kind=node.kind, label=short_name(node), shape=node.shape, expr=node)
        for lab in labels:
            ends.setdefault(lab, []).append(i)
    for position, lab in enumerate(net.out):
        key = ("open", letters[lab])
        graph.add_node(key, kind="open", label=letters[lab], position=position)
        ends.setdefault(lab, []).append(key)
    for lab in sorted(ends, key=lambda lab: letters[lab]):
        points, letter = ends[lab], letters[lab]
        attrs = {"index": letter, "size": net.sizes[lab]}
        if len(points) == 2:
            graph.add_edge(points[0], points[1], **attrs)
            continue
        hub = ("hyperedge" if len(points) > 2 else "sum", letter)
        graph.add_node(hub, kind=hub[0], label=letter)
        for p in points:
            graph.add_edge(hub, p, **attrs)
    return graph
