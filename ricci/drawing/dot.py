"""The diagram as Graphviz DOT text (no Graphviz needed to produce it): frames become clusters."""
from ..expr import Expr
from .diagram import _DOTS, _check, diagram

__all__ = ["to_dot"]


def _dot_quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "input": 'shape=circle, style=filled, fillcolor="#cfe2f3"',
    "constant": 'shape=square, style=filled, fillcolor="#e8e8e8"',
    "zeros": "shape=square",
    "delta": "shape=circle, width=0.3, fixedsize=true",
    "function": 'shape=box, style="rounded,filled", fillcolor="#fde2c4"',
    "add": 'shape=box, style="rounded,filled", fillcolor="#e2f0d9"',
    "contract": 'shape=box, style="rounded,filled", fillcolor="#ead1f5"',
    "hole": 'shape=circle, style=dashed, color="#c0392b", fontcolor="#999999"',
    "hyperedge": "shape=point, width=0.1",
    "sum": "shape=point, width=0.1",
    "broadcast": "shape=point, width=0.1",
    "open": "shape=plaintext",
    "number": "shape=plaintext",
}


def to_dot(expr, depth=None, holes=(), sizes=False):
    """Graphviz DOT text of the drawing (no Graphviz needed to produce it).

    Frames become clusters; render the text with ``dot -Tsvg``.

    >>> import ricci
    >>> x, y = ricci.Tensor("x", (3,)), ricci.Tensor("y", (3,))
    >>> [line.strip() for line in to_dot(ricci.einsum("i,i->", x, y)).splitlines() if " -- " in line]
    ['n0 -- n1 [label="a"];']
    """
    graph = diagram(expr, depth=depth, holes=holes) if isinstance(expr, Expr) else _check(expr)
    return _dot_from_diagram(graph, sizes)


def _dot_from_diagram(graph, sizes=False):
    ids = {}
    for key in graph.nodes:
        ids[key] = f"n{len(ids)}"
    lines = ["graph ricci {", '  graph [compound=true, fontname="Helvetica", nodesep=0.4];',
             '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    for info in graph.graph["boxes"]:
        members = [k for k, d in graph.nodes(data=True) if d.get("box") == info["id"] and d["kind"] != "frame"]
        indent = "  "
        if info["depth"] > 0:
            lines.append(f"  subgraph cluster_{info['id']} {{")
            lines.append(f"    label={_dot_quote(info['title'])}; style=\"rounded,dashed\"; color=\"#999999\";")
            indent = "    "
        for panel, sign in enumerate(info["panels"]):
            inner = [k for k in members if graph.nodes[k].get("panel") == panel]
            sub_indent = indent
            if len(info["panels"]) > 1:
                lines.append(f"{indent}subgraph cluster_{info['id']}_{panel} {{")
                lines.append(f"{indent}  label={_dot_quote(sign[0] or '+' if panel else sign[0])}; color=\"#dddddd\";")
                sub_indent = indent + "  "
            for k in inner:
                d = graph.nodes[k]
                label = "" if d["kind"] in _DOTS else d["label"]
                lines.append(f"{sub_indent}{ids[k]} [label={_dot_quote(label)}, {_DOT_SHAPES.get(d['kind'], 'shape=box')}];")
            if len(info["panels"]) > 1:
                lines.append(f"{indent}}}")
        if info["depth"] > 0:
            # an invisible anchor for links into the cluster
            lines.append(f"{indent}{ids[('box', info['id'])]} [shape=point, style=invis];")
            lines.append("  }")
    for u, v, d in graph.edges(data=True):
        if d.get("kind") == "argument":
            parent, frame = (u, v) if graph.nodes[v]["kind"] == "frame" else (v, u)
            cluster = f"cluster_{graph.nodes[frame]['box']}"
            lines.append(f"  {ids[parent]} -- {ids[frame]} [style=dashed, color=\"#999999\", lhead={cluster}];")
            continue
        label = d["index"] + (f" ({d['size']})" if sizes else "")
        hole = "hole" in (graph.nodes[u]["kind"], graph.nodes[v]["kind"])
        colour = ', color="#c0392b", fontcolor="#c0392b"' if hole else ""
        lines.append(f"  {ids[u]} -- {ids[v]} [label={_dot_quote(label)}{colour}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
