"""Expression nodes: the tensor network DAG.

Every expression is an immutable, interned node, so building the same
expression twice gives the same object: shared subexpressions are shared
nodes, and identical terms of a sum are merged. The node kinds are

- :class:`Tensor` (a named input), :class:`Constant` (an array),
  :class:`Zeros` and :class:`Delta` (the identity matrix δ),
- :class:`Contract` (one einsum over child expressions; its labels are
  canonical integers),
- :class:`Add` (a linear combination of same-shape terms plus a constant),
- :class:`Apply` (a primitive function from :mod:`ricci.primitives`).

Simplification happens at construction, in :func:`contract` (Kronecker deltas
are eliminated by merging index labels, scalar constants fold into
coefficients, products are spliced in: :mod:`ricci.contraction`) and
:func:`add` (zero terms vanish, identical terms are merged, common factors
come out: :mod:`ricci.sums`); both are importable from here.

>>> import ricci
>>> x = ricci.Tensor("x", (3,))
>>> (x + x) is (2 * x)
True
"""
import hashlib
from hashlib import blake2b
import itertools
import numbers
import threading
import weakref
from _weakref import _remove_dead_weakref  # what WeakValueDictionary uses: drops a key only if its ref is dead

import numpy as np

from .dims import is_symbolic
from .errors import ArgumentError, OperandTypeError, ShapeError
from .operators import NumpyOperators, _is_scalar, _scalar  # noqa: F401 (re-exported)

_serial = itertools.count()
# key -> weak reference to the one node of that key (a WeakValueDictionary without its
# Python-level overhead: a dead node's callback removes its key, only while it is dead)
_interned_refs = {}
_lock = threading.RLock()  # guards interning and the name registry (construction from many threads)
_declared_names = set()  # every Tensor name ever declared: typo checks never depend on the GC
_NO_INPUTS = {}
_LAZY = None  # Expr._inputs of a big node: its inputs are collected on demand
_EAGER_LIMIT = 64  # nodes with more inputs than this collect them lazily (linear-size construction)


def _conflict(name, have, tensor):
    return ShapeError(
        f"two different Tensors named {name!r} meet in one expression, "
        f"with shapes {have.shape} and {tensor.shape}; give them different names"
    )


def _eager_inputs(children):
    """The merged input dicts of ``children``, or ``_LAZY`` when they are big or not at hand.

    Small expressions keep their inputs eagerly, so two Tensors of one name
    meeting in them are refused at construction; big ones defer the union
    (and the check) to :attr:`Expr.inputs`, so building stays O(1) per node.
    """
    dicts = []
    for child in children:
        d = child._inputs
        if d is _LAZY:
            return _LAZY
        if d:
            dicts.append(d)
    if not dicts:
        return _NO_INPUTS
    if len(dicts) == 1:
        return dicts[0] if len(dicts[0]) <= _EAGER_LIMIT else _LAZY
    if sum(map(len, dicts)) > _EAGER_LIMIT:
        return _LAZY
    return _union(dicts)


def _union(dicts):
    big = max(dicts, key=len)
    merged = None
    for d in dicts:
        if d is big:
            continue
        for name, tensor in d.items():
            have = (big if merged is None else merged).get(name)
            if have is None:
                if merged is None:
                    merged = dict(big)
                merged[name] = tensor
            elif have is not tensor:
                raise _conflict(name, have, tensor)
    return big if merged is None else merged


def _collect_inputs(roots):
    """Every input Tensor under ``roots`` by name (iterative; refuses two Tensors of one name)."""
    found, seen = {}, set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        d = node._inputs
        if d is _LAZY:
            cached = node.__dict__.get("_inputs_cache")
            if cached is None:
                stack.extend(node.children)
                continue
            d = cached
        for name, tensor in d.items():
            have = found.setdefault(name, tensor)
            if have is not tensor:
                raise _conflict(name, have, tensor)
    return found


def _merge_inputs(children):
    """Union of the input Tensors (name -> Tensor) of ``children``, refusing two Tensors of one name.

    >>> import ricci
    >>> a, b = ricci.Tensor("a", (2,)), ricci.Tensor("b", (2,))
    >>> sorted(_merge_inputs([a + b, a]))
    ['a', 'b']
    """
    dicts = [c._inputs for c in children]
    if any(d is _LAZY for d in dicts):
        return _collect_inputs(children)
    dicts = [d for d in dicts if d]
    return _union(dicts) if dicts else _NO_INPUTS


def _stable_text(part):
    """Deterministic text of a key (``repr`` keeps ``2`` and ``2.0`` apart)."""
    if type(part) is tuple:
        return _tuple_text(part)
    if isinstance(part, Expr):
        return part.fingerprint
    return repr(part)


def _tuple_text(part):
    """``_stable_text`` of a tuple: ``(a,b)``, with no recursion for the leaves (ints, strings, nodes)."""
    texts = []
    for p in part:
        kind = type(p)
        if kind is int or kind is str:
            texts.append(repr(p))
        elif kind is tuple:
            texts.append(_tuple_text(p))
        elif isinstance(p, Expr):
            texts.append(p.fingerprint)
        else:
            texts.append(repr(p))
    return "(" + ",".join(texts) + ")"


def _ints_text(values):
    """``_stable_text`` of a flat tuple of non-tuple, non-node values (labels, sizes)."""
    return "(" + ",".join(map(repr, values)) + ")"


def _typed(value):
    """A number (or a tuple of them) as an interning key: 2, 2.0 and True are different keys."""
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return (type(value).__name__, value)


def _fingerprint(key):
    """A content hash of a node, the same in every process (orders factors canonically)."""
    return _hash_text(_stable_text(key))


def _hash_text(text):
    return blake2b(text.encode(), digest_size=8).hexdigest()


def _find(key):
    """The live interned node of ``key``, or None."""
    ref = _interned_refs.get(key)
    return None if ref is None else ref()


class _Ref(weakref.ref):
    """A weak reference that knows its key (one GC-tracked object per node, no closure)."""

    __slots__ = ("key",)


def _forget(ref):
    """The callback of a dead node: drop its key (unless a new node took it meanwhile)."""
    _remove_dead_weakref(_interned_refs, ref.key)


def _intern(cls, key, children, shape, fingerprint_key=None, own_name=None, text=None, **attrs):
    """The one node of ``key``: looked up, or made complete and then published (thread-safe).

    ``own_name`` makes the node its own input (a Tensor); ``text``, when given, is
    ``_stable_text`` of the fingerprint key (callable: made only for a new node).
    """
    ref = _interned_refs.get(key)
    if ref is not None:
        node = ref()
        if node is not None:
            return node
    node = object.__new__(cls)
    node.shape = shape
    node.children = children
    if text is not None:
        node.fingerprint = _hash_text(text())
    else:
        node.fingerprint = _fingerprint(key if fingerprint_key is None else fingerprint_key)
    node._inputs = {own_name: node} if own_name is not None else (
        _eager_inputs(children) if children else _NO_INPUTS)
    for name, value in attrs.items():  # (setattr keeps them inline: no __dict__ object, one GC object less)
        setattr(node, name, value)
    with _lock:  # publish only complete nodes, and only one per key
        ref = _interned_refs.get(key)
        if ref is not None:
            existing = ref()
            if existing is not None:
                return existing
        node.serial = next(_serial)
        ref = _Ref(node, _forget)
        ref.key = key
        _interned_refs[key] = ref
        if own_name is not None:
            _declared_names.add(own_name)
    return node


class Expr(NumpyOperators):
    """A symbolic tensor expression: a node of the tensor-network DAG.

    Build expressions with :class:`Tensor`, :func:`ricci.einsum`, element-wise
    functions and arithmetic; derive with :func:`ricci.grad` and friends;
    evaluate with :meth:`evaluate` or by calling the expression.

    >>> import numpy as np, ricci
    >>> A = ricci.Tensor("A", (2, 2))
    >>> e = ricci.einsum("ij,ij->", A, A)
    >>> float(e(A=np.eye(2)))
    2.0
    """

    __slots__ = ("shape", "children", "serial", "fingerprint", "_inputs", "__weakref__", "__dict__")
    kind = "expr"
    # As a factor of a contraction, no simplification pass of contract() changes it
    # (not a delta, zeros, 0-d constant, scaled term, product or hoistable contraction):
    # contract() skips its passes when every factor is plain.
    _plain = True

    @property
    def inputs(self):
        """The input Tensors of the expression, by name (a dict; do not modify it).

        >>> import ricci
        >>> sorted(ricci.einsum("i,i->", ricci.Tensor("a", (2,)), ricci.Tensor("b", (2,))).inputs)
        ['a', 'b']
        """
        d = self._inputs
        if d is not _LAZY:
            return d
        cached = self.__dict__.get("_inputs_cache")
        if cached is None:
            cached = _collect_inputs(self.children)
            self.__dict__["_inputs_cache"] = cached
        return cached

    @property
    def ndim(self):
        """Number of dimensions (free indices)."""
        return len(self.shape)

    @property
    def size(self):
        """Number of elements of the value (a :class:`ricci.ShapeError` for a symbolic shape).

        >>> import ricci
        >>> ricci.Tensor("size_doc", (2, 3)).size
        6
        """
        if is_symbolic(self.shape):
            raise ShapeError(
                f"an expression of shape {self.shape} has no number of elements until its named "
                "dimensions are bound (at evaluation); use ricci.symbolic.count(shape) for it as an expression"
            )
        return int(np.prod(self.shape, dtype=np.int64))

    # -- evaluation -----------------------------------------------------
    def evaluate(self, inputs=None, *, optimize="auto", memory_budget=None, structured=False, sizes=None,
                 **named_inputs):
        """Evaluate to a numpy array.

        ``inputs`` maps Tensor names to arrays (keywords work too);
        ``optimize`` is any opt_einsum path optimizer name; ``structured=True``
        returns Jacobians/Hessians with delta structure factored
        (:class:`ricci.Structured`); ``sizes`` gives sizes of named dimensions
        that no input has (:mod:`ricci.symbolic`).

        >>> import numpy as np, ricci
        >>> x = ricci.Tensor("x", (3,))
        >>> ricci.einsum("i,i->", x, x).evaluate({"x": np.arange(3.0)})
        array(5.)
        """
        from .evaluate import evaluate

        return evaluate(
            self, inputs, optimize=optimize, memory_budget=memory_budget, structured=structured, sizes=sizes,
            **named_inputs
        )

    def __call__(self, inputs=None, **named_inputs):
        return self.evaluate(inputs, **named_inputs)

    def cost(self, inputs=None, *, optimize="auto", sizes=None):
        """The planned cost of evaluating: FLOPs and the largest intermediate.

        ``inputs`` may map names to arrays or shapes (checked against the
        declared shapes; arrays also set the dtype, float64 otherwise).

        >>> import ricci
        >>> A, B = ricci.Tensor("A", (10, 20)), ricci.Tensor("B", (20, 30))
        >>> ricci.einsum("ij,jk->ik", A, B).cost().largest_intermediate
        300
        """
        from .evaluate import cost

        return cost([self], inputs, optimize=optimize, sizes=sizes)

    # -- views ----------------------------------------------------------
    def network(self):
        """The top-level tensor network as a ``networkx.MultiGraph``.

        >>> import ricci
        >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
        >>> sorted(d["kind"] for _, d in ricci.einsum("ij,jk->ik", A, B).network().nodes(data=True))
        ['input', 'input', 'open', 'open']
        """
        from .network import network

        return network(self)

    def to_einsum(self, name=None, imports=True):
        """The expression as a short program of einsum calls that runs under numpy
        (:func:`ricci.notation.to_einsum`; ``imports=False``: the bare program ``str`` shows)."""
        from .notation import to_einsum

        return to_einsum(self, name=name, imports=imports)

    def to_latex(self, name="out"):
        """Index notation with the summation convention, as LaTeX, the free indices on ``name``
        (:func:`ricci.notation.to_latex`)."""
        from .notation import to_latex

        return to_latex(self, name=name)

    def to_matrix(self, names=None, strict=False, latex=False):
        r"""Conventional matrix notation where possible; ``names`` names intermediates, ``latex``
        writes LaTeX (:func:`ricci.notation.to_matrix`).

        >>> import ricci
        >>> A, B = ricci.Tensor("Atmdoc", (2, 3)), ricci.Tensor("Btmdoc", (3, 4))
        >>> print((A @ B).to_matrix(), "|", (A @ B).to_matrix(latex=True))
        Atmdoc Btmdoc | \mathrm{Atmdoc} \mathrm{Btmdoc}
        """
        from .notation import to_matrix

        return to_matrix(self, names=names, strict=strict, latex=latex)

    def to_dot(self):
        """Graphviz DOT text of the tensor-network drawing (see :mod:`ricci.draw`)."""
        from .draw import to_dot

        return to_dot(self)

    def _repr_latex_(self):
        from .notation import to_latex

        return f"$${to_latex(self)}$$"

    def __str__(self):
        from .printing import to_text

        return to_text([self])

    def __repr__(self):
        """One line, as numpy's reprs are: ``<ricci.Contract shape=(4, 3): einsum("ab,bc->ac", A, B)>``;
        a long or multi-line text is cut (``str(expr)`` prints it whole)."""
        text = str(self)
        if "\n" in text or len(text) > 120:
            lines = text.splitlines()
            head = lines[-1] if len(lines[-1]) <= 100 else lines[-1][:97] + "..."
            more = f" (+{len(lines) - 1} line{'s' if len(lines) > 2 else ''}; print() shows all)" if len(lines) > 1 else ""
            text = head + more
        return f"<ricci.{type(self).__name__} shape={self.shape}: {text}>"

    def __bool__(self):
        raise TypeError("the truth value of a ricci expression is undefined; evaluate it first")


def as_expr(value, what="operand"):
    """Return ``value`` as an expression: Exprs pass, arrays and numbers become Constants."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, (np.ndarray, numbers.Number, list, tuple)) and not isinstance(value, (bool, np.bool_)):
        return Constant(value, what)
    raise OperandTypeError(
        f"{what} is a {type(value).__name__}; expected a ricci expression, a numpy array or a number"
    )


# -- leaves ---------------------------------------------------------------
def _check_shape(shape, what):
    """A shape as a tuple of dimensions: non-negative Python ints (not bools) or names.

    A name (a string that is a Python identifier, such as ``"batch"``) is a symbolic
    dimension, bound at evaluation (see :mod:`ricci.symbolic`).

    >>> _check_shape((2, np.int64(3)), "x"), _check_shape(("batch", 3), "x")
    ((2, 3), ('batch', 3))
    >>> try:
    ...     _check_shape((2.5,), "x")
    ... except ShapeError as error:
    ...     print(error)
    shape of x has a non-integer entry 2.5 (of type float) at position 0; dimensions are non-negative ints or names such as 'batch'
    """
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"shape of {what} must be a tuple of integers such as (3,) or (2, 3), "
                         f"got {type(shape).__name__} {shape!r}")
    dims = []
    for pos, d in enumerate(shape):
        if isinstance(d, str):
            if not d.isidentifier():
                raise ShapeError(f"shape of {what} has the dimension name {d!r} at position {pos}; a named "
                                 "dimension must be a Python identifier such as 'batch'")
            dims.append(d)
            continue
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ShapeError(f"shape of {what} has a non-integer entry {d!r} (of type {type(d).__name__}) "
                             f"at position {pos}; dimensions are non-negative ints or names such as 'batch'")
        if d < 0:
            raise ShapeError(f"shape of {what} has a negative dimension {int(d)} at position {pos}: {tuple(shape)}")
        dims.append(int(d))
    return tuple(dims)


class Tensor(Expr):
    """A named symbolic input of a fixed shape.

    The name is a non-empty string, the shape a tuple of non-negative ints and
    dimension names (``("batch", 10)``: a symbolic dimension, the same size
    wherever the name appears, bound from the input arrays at evaluation).

    >>> import ricci
    >>> W = ricci.Tensor("W", (4, 3))
    >>> W.shape, W.name
    ((4, 3), 'W')
    """

    kind = "input"

    def __new__(cls, name, shape):
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"a Tensor name must be a non-empty string, got {name!r}")
        shape = _check_shape(shape, f"Tensor {name!r}")
        return _intern(cls, ("tensor", name, shape), (), shape, own_name=name, name=name)


def tensor_name_exists(name):
    """Whether a Tensor of this name was ever declared (in this process; never forgotten).

    >>> import ricci
    >>> _ = ricci.Tensor("declared_once", (1,))
    >>> tensor_name_exists("declared_once"), tensor_name_exists("never_declared_anywhere")
    (True, False)
    """
    return name in _declared_names


def declared_names():
    """A snapshot of every Tensor name declared so far (for did-you-mean suggestions)."""
    with _lock:
        return frozenset(_declared_names)


class Constant(Expr):
    """A constant array (copied at construction, so later edits do not leak in).

    ``name``, a non-empty string, is how printers and drawings show the constant
    (``Y`` instead of ``C0``); it is part of the node's identity: equal values with
    different names, or with and without a name, are different nodes (equal values
    with the same name, or both unnamed, are one). ``what`` describes the value in
    error messages. A named 0-d constant that is a factor of a product, or the only
    term of a sum, is folded into the coefficient like any number (its name is gone).
    Ragged lists and non-numeric arrays are refused with :class:`ricci.OperandTypeError`.

    >>> import numpy as np, ricci
    >>> Y = ricci.Constant(np.ones((2, 3)), name="Y")
    >>> Y.name, Y is ricci.Constant(np.ones((2, 3)), name="Y"), Y is ricci.Constant(np.ones((2, 3)))
    ('Y', True, False)
    >>> print(ricci.einsum("ij,ij->", ricci.Tensor("X", (2, 3)), Y))
    Y = <constant (2, 3) float64>
    einsum("ab,ab->", X, Y)
    """

    kind = "constant"

    def __new__(cls, value, what="constant", *, name=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentError(f"a Constant name must be a non-empty string, got {name!r}")
        if name is not None and what == "constant":
            what = f"constant {name!r}"
        try:
            array = np.array(value)
        except (ValueError, TypeError) as error:  # ragged nesting, unconvertible objects
            raise OperandTypeError(f"{what} is not a rectangular numeric array: {error}") from None
        if array.dtype.kind not in "biufc":
            raise OperandTypeError(f"{what} has dtype {array.dtype}; constants must be numeric arrays")
        if array.dtype.kind == "b":
            array = array.astype(np.float64)
        array.setflags(write=False)
        # Equal values are one node, so an expression built twice with np.ones(m) shares its work;
        # a name is part of the key (two names are two nodes, so neither name is lost).
        content = ("constant", array.shape, array.dtype.str, hashlib.blake2b(array.tobytes()).hexdigest())
        if name is not None:
            content += (name,)
        existing = _find(content)
        if existing is not None and not np.array_equal(existing.value, array):  # a hash collision
            content = ("constant", id(array)) + (() if name is None else (name,))
        return _intern(cls, content, (), array.shape, value=array, name=name, _plain=array.ndim != 0)


class Zeros(Expr):
    """The all-zero tensor of a shape (what a derivative of a constant is)."""

    kind = "zeros"
    _plain = False

    def __new__(cls, shape):
        shape = tuple(shape)
        return _intern(cls, ("zeros", shape), (), shape)


class Delta(Expr):
    """The identity matrix δ_ij of size n; it renames an index and simplification removes it."""

    kind = "delta"
    _plain = False

    def __new__(cls, n):
        node = _deltas.get(n)
        if node is None:
            node = _deltas[n] = _intern(cls, ("delta", n), (), (n, n), n=n)
        return node


_deltas = {}  # n -> Delta(n), kept alive: every derivative uses and drops a few (one per size)


# -- contraction ----------------------------------------------------------
class Contract(Expr):
    """One einsum over child expressions.

    ``factors`` is a tuple of ``(child, labels)`` and ``out`` the output
    labels; labels are integers numbered in order of first appearance (output
    first), so two contractions that differ only by index names are one node.
    ``sizes[label]`` is the dimension of each label.
    """

    kind = "contract"


# -- sums -----------------------------------------------------------------
class Add(Expr):
    """``offset + Σ coef·term`` over same-shape terms."""

    kind = "add"


# -- primitive applications -------------------------------------------------
class Apply(Expr):
    """A primitive function (see :mod:`ricci.primitives`) applied to arguments."""

    kind = "function"


def apply(primitive, args, params=()):
    """Apply ``primitive`` to argument expressions with constant ``params``."""
    args = tuple(args)
    shape = primitive.output_shape([a.shape for a in args], params)
    key = ("apply", primitive.name, args, _typed(params))
    return _intern(Apply, key, args, shape, primitive=primitive, params=params)


def topological_order(roots):
    """All nodes under ``roots``, children before parents (iterative: deep DAGs are fine)."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.children))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.children)))
                    break
            else:
                order.append(node)
                stack.pop()
    return order


# The builders of contractions and sums need the node classes above: imported last.
from .contraction import contract, hadamard, matmul  # noqa: F401 (re-exported)
from .sums import add  # noqa: F401 (re-exported)
