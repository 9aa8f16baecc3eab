"""How primitives print: numpy's spelling of each call, as one table.

The program text of an expression (:func:`ricci.printing.to_text`) writes a primitive as
``name(args, params)`` unless :data:`CALLS` has a row for it, which writes what a numpy
user would: ``solve(X, b)`` rather than ``solve(X, b, 0, False)``, ``softmax(Z, axis=1)``,
``x[1:, ::-1]``. Each row takes the argument texts, the node and a number formatter and
returns the text (or None for the generic form).

>>> import ricci
>>> X, b = ricci.Tensor("X_calls_doc", (3, 3)), ricci.Tensor("b_calls_doc", (3,))
>>> print(ricci.solve(X.T, b))
solve(X_calls_doc.T, b_calls_doc)
>>> print(ricci.softmax(ricci.Tensor("Z_calls_doc", (2, 4)), axis=1)[:, ::2])
softmax(Z_calls_doc, axis=1)[:, ::2]
"""

__all__ = ["CALLS", "call_text"]


def _axes(axes):
    axes = tuple(axes)
    return str(axes[0]) if len(axes) == 1 else str(axes)


def _solve(args, node, number):
    axis, transposed = node.params
    a = f"{args[0]}.T" if transposed else args[0]
    if axis == 0:
        return f"solve({a}, {args[1]})"
    return f"moveaxis(solve({a}, moveaxis({args[1]}, {axis}, 0)), 0, {axis})"


def _axis_call(name):
    return lambda args, node, number: f"{name}({args[0]}, axis={node.params[0]})"


def _reduce(name):
    return lambda args, node, number: f"{name}({args[0]}, axis={_axes(node.params[0])})"


def _slice_text(start, step, count, n):
    """Python's slice text for the elements start, start+step, ... (count of them) of n."""
    if count == 0:
        return "0:0"
    stop = start + step * count
    if step > 0:
        lo = "" if start == 0 else str(start)
        hi = "" if stop >= n else str(stop)
        return f"{lo}:{hi}" + ("" if step == 1 else f":{step}")
    lo = "" if start == n - 1 else str(start)
    hi = "" if stop < 0 else str(stop)
    return f"{lo}:{hi}:{step}"


def _slice(args, node, number):
    (spec,) = node.params
    shape = node.children[0].shape
    lead = len(shape) - len(spec)
    keys = [":"] * lead + [_slice_text(*s, shape[lead + i]) for i, s in enumerate(spec)]
    while keys and keys[-1] == ":":
        keys.pop()
    return f"{_atom(args[0])}[{', '.join(keys) or ':'}]"


def _gather(args, node, number):
    block, index_shape, after, flat = node.params
    shape = node.children[0].shape
    if len(block) != 1 or len(index_shape) != 1 or len(flat) > 20:
        return None
    lead = len(shape) - len(block) - after
    keys = [":"] * lead + [str(list(flat))]
    return f"{_atom(args[0])}[{', '.join(keys)}]"


def _reshape(args, node, number):
    return f"reshape({args[0]}, {tuple(node.shape)})"


def _concatenate(args, node, number):
    return f"concatenate([{', '.join(args)}], axis={node.params[0]})"


def _atom(text):
    return text if text.replace("_", "a").isalnum() or text.endswith((")", "]")) and _balanced(text) else f"({text})"


def _balanced(text):
    """Whether ``text`` is one call or index expression (its outer brackets close at its end)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0 and i != len(text) - 1 and text[i + 1] not in "([":
                return False
        elif depth == 0 and ch in " +-*/":
            return False
    return True


# primitive name -> text of the call (args: the argument texts)
CALLS = {
    "solve": _solve,
    "softmax": _axis_call("softmax"),
    "log_softmax": _axis_call("log_softmax"),
    "logsumexp": _axis_call("logsumexp"),
    "max": _reduce("max"),
    "min": _reduce("min"),
    "slice": _slice,
    "gather": _gather,
    "reshape": _reshape,
    "concatenate": _concatenate,
}


def call_text(node, args, number):
    """The text of an :class:`ricci.expr.Apply` node from its argument texts, or None."""
    row = CALLS.get(node.primitive.name)
    return None if row is None else row(args, node, number)
