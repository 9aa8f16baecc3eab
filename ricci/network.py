"""The tensor network of an expression as a networkx graph.

Nodes are the tensors of the flattened top-level contraction (kind
``input``, ``constant``, ``delta``, ``zeros``, ``function``, ``add`` or
``contract`` for shared intermediates), plus ``open`` nodes for free
indices, ``hyperedge`` nodes joining an index shared by three or more
tensors, ``sum`` nodes for an index summed on one tensor alone and
``broadcast`` nodes for a free index that no tensor carries (the last three
are copy tensors: dots in a drawing). Each edge carries its index letter and
dimension; each tensor node its ``legs`` (index letters in axis order).

>>> import ricci
>>> a, b, c = (ricci.Tensor(n, (3,)) for n in "abc")
>>> g = ricci.einsum("i,i,i->", a, b, c).network()
>>> sorted(d["kind"] for _, d in g.nodes(data=True))
['hyperedge', 'input', 'input', 'input']
"""
import networkx as nx
from opt_einsum import get_symbol

from .expr import Contract
from .plan import Network, flatten, uses_of
from .printing import short_name


def assign_letters(net, letters=None, prefer=None, avoid=()):
    """One index letter per label of ``net``: ``letters`` for its output, then preferred or fresh ones.

    ``prefer`` maps a factor node to the letters its axes should get when
    they are free (e.g. the letters a user wrote for that operand); a
    letter is never given to two labels. Fresh letters avoid ``avoid``.

    >>> import ricci
    >>> from ricci.plan import flatten, uses_of
    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> e = ricci.einsum("ij,jk->ik", A, B)
    >>> net = flatten(e, uses_of([e])[1])
    >>> sorted(assign_letters(net, "ik", {A: "ij"}).values())
    ['i', 'j', 'k']
    """
    if letters is None and not prefer:
        return net.letters()
    names, taken = {}, set()
    wanted = list(zip(net.out, letters or ()))
    for node, labs in net.factors:
        wanted += list(zip(labs, (prefer or {}).get(node, ())))
    for lab, letter in wanted:
        if lab not in names and letter not in taken:
            names[lab] = letter
            taken.add(letter)
    symbols = (get_symbol(k) for k in range(10**6))
    taken |= set(avoid)
    for lab in [lab for _, labs in net.factors for lab in labs] + list(net.out):
        if lab not in names:
            names[lab] = next(x for x in symbols if x not in taken)
            taken.add(names[lab])
    return names


def network(expr, letters=None, avoid=(), uses=None, prefer=None):
    """Return the networkx MultiGraph of ``expr``'s top-level network.

    ``letters`` names the free indices (one letter per axis of ``expr``);
    ``prefer`` maps factor nodes to letters for their axes (see
    :func:`assign_letters`); other indices get letters not in ``avoid``. ``uses`` (node -> number of
    parents, e.g. of a whole expression being drawn) decides which
    sub-networks are inlined; by default it is counted from ``expr`` alone.
    """
    if isinstance(expr, Contract):
        net = flatten(expr, uses if uses is not None else uses_of([expr])[1])
    else:
        labels = tuple(range(expr.ndim))
        net = Network(labels, [(expr, labels)], dict(enumerate(expr.shape)), 1.0)
    letter = assign_letters(net, letters, prefer, avoid)
    graph = nx.MultiGraph(scale=net.scale, shape=expr.shape)
    ends = {}
    for i, (node, labels) in enumerate(net.factors):
        graph.add_node(i, kind=node.kind, label=short_name(node), shape=node.shape, expr=node,
                       legs=tuple(letter[lab] for lab in labels))
        for lab in labels:
            ends.setdefault(lab, []).append(i)
    for position, lab in enumerate(net.out):
        key = ("open", letter[lab])
        graph.add_node(key, kind="open", label=letter[lab], position=position)
        ends.setdefault(lab, []).append(key)
    for lab in sorted(ends, key=lambda lab: letter[lab]):
        points, name = ends[lab], letter[lab]
        attrs = {"index": name, "size": net.sizes[lab]}
        if len(points) == 2:
            graph.add_edge(points[0], points[1], **attrs)
            continue
        if len(points) > 2:
            kind = "hyperedge"
        else:
            kind = "broadcast" if points[0] == ("open", name) else "sum"
        hub = (kind, name)
        graph.add_node(hub, kind=kind, label=name)
        for p in points:
            graph.add_edge(hub, p, **attrs)
    return graph
