"""The indexing primitives behind :mod:`ricci.indexing`: slice, embed, gather, scatter_add,
reshape and concatenate, with their kernels and the node builders that simplify them.

:mod:`ricci.indexing` turns ``x[key]``, ``reshape``, ``concatenate`` and ``stack`` into
contractions and these six primitives (its docstring tables what each computes and what its
derivative is). Here are

- the params: plain tuples (a literal in compiled programs) whose text is short
  (:class:`_Data`, and :class:`_Slices`, printed as numpy slices);
- the kernels: numpy first, then any array library through :func:`ricci.backends.array_namespace`
  (strided slices without negative steps, embeds without item assignment, scatter-add
  through the backend's ``add_at``); integers give float64, the engine's rule for primitives;
- the primitives, registered in :data:`ricci.primitives.PRIMITIVES`, each acting on the
  trailing axes its params describe, so Jacobians' leading axes pass through;
- the builders (``_slice``, ``_embed``, ``_gather``, ``_scatter_add``, ``_reshape``,
  ``_concatenate``), which simplify where it is free: a full slice is its operand, a slice of a
  slice or a reshape of a reshape is one node, zeros and constants are computed at once, a
  reshape that only adds or removes axes of size 1 is a contraction.

>>> import ricci
>>> x = ricci.Tensor("x_prims", (4, 3))
>>> _slice(x, [(0, 1, 4), (0, 1, 3)]) is x
True
>>> y = _slice(_slice(x, [(1, 1, 3), (0, 1, 3)]), [(1, 1, 2), (2, -1, 3)])  # x[1:][1:, ::-1]
>>> y.children[0] is x, str(y.params[0]), y.shape
(True, '[2:4, 2::-1]', (2, 3))
"""
import numpy as np

from .backends import array_namespace, numpy_dtype
from .errors import ShapeError
from .expr import Apply, Constant, Zeros, apply, contract
from .primitives import Primitive, register


# -- plain-data params: tuples (a literal in compiled programs), printed short ---------------
class _Data(tuple):
    """A tuple param whose text (``str``, ``format``) is short: printers show it, not 10⁴ ints."""

    __slots__ = ()

    def __str__(self):
        text = tuple.__repr__(self)
        return text if len(text) <= 40 else f"<{len(self)} ints>"

    def __format__(self, spec):
        return str(self)


class _Slices(_Data):
    """Per-axis ``(start, step, count)``, printed as numpy slices: ``[1:3, ::-1]``."""

    __slots__ = ()

    def __str__(self):
        parts = []
        for start, step, count in self:
            if type(count) is str:  # a named dimension, taken whole
                parts.append(":")
                continue
            s = _python_slice(start, step, count)
            text = f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"
            parts.append(text + (f":{s.step}" if s.step not in (None, 1) else ""))
        return "[" + ", ".join(parts) + "]"


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _python_slice(start, step, count):
    """The Python slice taking ``count`` elements ``start, start+step, ...``."""
    if count == 0:
        return slice(0, 0, 1)
    stop = start + step * count
    return slice(start, stop if stop >= 0 else None, step)


def _canonical(start, step, count):
    """One spelling per selection (so equal slices are one node)."""
    if count == 0:
        return (0, 1, 0)
    if count == 1:
        return (start, 1, 1)
    return (start, step, count)


def _bound(value, binding):
    """``value`` (params) with dimension names replaced by their sizes, tuple classes kept."""
    if type(value) is str:
        return binding[value]
    if isinstance(value, tuple):
        return type(value)(_bound(v, binding) for v in value)
    return value


class _ShapeParams(Primitive):
    """A primitive whose params may hold dimensions (named ones are bound for evaluation)."""

    def specialize_params(self, params, binding):
        return _bound(params, binding)


def _result_dtype(*arrays):
    """The engine's dtype rule for a primitive: numpy's promotion, integers made float64."""
    dtype = np.result_type(*[numpy_dtype(a) if hasattr(a, "dtype") else a for a in arrays])
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


_INDEX_CACHE = {}  # id(flat tuple) -> (the tuple, its arrays): programs reuse one literal


def _index_arrays(flat):
    """``flat`` as an intp array, with what scatter_add needs (cached per tuple object)."""
    hit = _INDEX_CACHE.get(id(flat))
    if hit is not None and hit[0] is flat:
        return hit[1]
    idx = np.array(flat, dtype=np.intp).reshape(-1)
    order = np.argsort(idx, kind="stable")
    ordered = idx[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if idx.size else idx
    unique = starts.size == idx.size
    arrays = (idx, unique, order, ordered[starts] if idx.size else idx, starts)
    if len(_INDEX_CACHE) > 512:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[id(flat)] = (flat, arrays)
    return arrays


def _backend_slice(xp, x, spec):
    """``x[..., slices]`` for libraries without negative steps (torch): positive steps, then flips."""
    lead = x.ndim - len(spec)
    index, flips = [Ellipsis], []
    for axis, (start, step, count) in enumerate(spec):
        if step < 0 and count > 0:
            index.append(slice(start + (count - 1) * step, start + 1, -step))
            flips.append(lead + axis)
        else:
            index.append(_python_slice(start, step, count))
    view = x[tuple(index)]
    return xp.flip(view, axis=tuple(flips)) if flips else view


def _backend_embed(xp, g, full, spec, dtype):
    """Zeros of ``full`` with ``g`` at a slice, out of place: each axis spread by its step, then padded."""
    lead = g.ndim - len(spec)
    out = xp.astype(g, dtype)
    for axis, (start, step, count) in enumerate(spec):
        a = lead + axis
        if count == 0:
            shape = list(out.shape)
            shape[a] = full[axis]
            return xp.zeros(tuple(shape), dtype=dtype)
        if step < 0:  # the elements land at start, start+step, ...: reverse them to increasing order
            out, start, step = xp.flip(out, axis=(a,)), start + (count - 1) * step, -step
        if step > 1:  # interleave step-1 zeros after each element, keep count·step-(step-1) of them
            shape = list(out.shape)
            spread = xp.zeros(tuple(shape[:a + 1]) + (step - 1,) + tuple(shape[a + 1:]), dtype=dtype)
            out = xp.concatenate([xp.expand_dims(out, a + 1), spread], axis=a + 1)
            shape[a] = count * step
            out = out.reshape(tuple(shape))
            index = [slice(None)] * out.ndim
            index[a] = slice(0, (count - 1) * step + 1)
            out = out[tuple(index)]
        before, after = start, full[axis] - start - out.shape[a]
        out = xp.concatenate([p for p in (_zeros_like_axis(xp, out, a, before, dtype), out,
                                          _zeros_like_axis(xp, out, a, after, dtype)) if p is not None], axis=a)
    return out


def _zeros_like_axis(xp, x, axis, n, dtype):
    if n <= 0:
        return None
    shape = list(x.shape)
    shape[axis] = n
    return xp.zeros(tuple(shape), dtype=dtype)


# -- primitives ------------------------------------------------------------------------------
class Slice(_ShapeParams):
    """``x[s₁, s₂, ...]`` on the trailing axes; params ``(spec,)``, spec per axis ``(start, step, count)``."""

    name = "slice"

    def output_shape(self, arg_shapes, params):
        (shape,), (spec,) = arg_shapes, params
        lead = len(shape) - len(spec)
        return shape[:lead] + tuple(count for _, _, count in spec)

    def evaluate(self, values, params):
        x = values[0]
        xp = array_namespace(x)
        if xp is not np:
            return xp.astype(_backend_slice(xp, x, params[0]), _result_dtype(x))
        view = x[(Ellipsis,) + tuple(_python_slice(*s) for s in params[0])]
        return np.array(view, dtype=_result_dtype(x))  # a copy: the program may write its values in place

    def vjp(self, node, cotangent, k, needed):
        spec = node.params[0]
        yield 0, _embed(cotangent, node.children[0].shape[node.ndim - len(spec):], spec)

    def jvp(self, node, tangents):
        return _slice(tangents[0], node.params[0])


class Embed(_ShapeParams):
    """Zeros of the trailing shape ``full`` with the argument written at a slice; params ``(full, spec)``."""

    name = "embed"

    def output_shape(self, arg_shapes, params):
        (shape,), (full, spec) = arg_shapes, params
        lead = len(shape) - len(spec)
        if shape[lead:] != tuple(count for _, _, count in spec):
            raise ShapeError(f"embed of shape {shape} does not fit the slice {spec} of {full}")
        return shape[:lead] + tuple(full)

    def evaluate(self, values, params):
        g, (full, spec) = values[0], params
        xp = array_namespace(g)
        if xp is not np:  # zeros padded around g, then the steps: no item assignment needed
            return _backend_embed(xp, g, full, spec, _result_dtype(g))
        out = np.zeros(g.shape[:g.ndim - len(spec)] + tuple(full), dtype=_result_dtype(g))
        out[(Ellipsis,) + tuple(_python_slice(*s) for s in spec)] = g
        return out

    def vjp(self, node, cotangent, k, needed):
        yield 0, _slice(cotangent, node.params[1])

    def jvp(self, node, tangents):
        return _embed(tangents[0], node.params[0], node.params[1])


def _gather_parts(shape, block, index_shape, after, source_block):
    lead = len(shape) - len(source_block) - after
    if lead < 0 or tuple(shape[lead:lead + len(source_block)]) != tuple(source_block):
        raise ShapeError(f"gather/scatter_add of shape {shape}: its axes do not hold the block {source_block}")
    return lead, tuple(shape[len(shape) - after:]) if after else ()


class Gather(_ShapeParams):
    """``x[idx]`` on a block of axes: params ``(block, index_shape, after, flat)``, where ``flat``
    are the indices raveled over the block, which ``after`` trailing axes follow."""

    name = "gather"

    def output_shape(self, arg_shapes, params):
        block, index_shape, after, _ = params
        lead, tail = _gather_parts(arg_shapes[0], block, index_shape, after, block)
        return tuple(arg_shapes[0][:lead]) + tuple(index_shape) + tail

    def evaluate(self, values, params):
        x, (block, index_shape, after, flat) = values[0], params
        lead, tail = _gather_parts(x.shape, block, index_shape, after, block)
        merged = x.reshape(tuple(x.shape[:lead]) + (_prod(block),) + tail)
        xp = array_namespace(x)
        if xp is not np:
            idx = xp.asarray(_index_arrays(flat)[0])
            out = xp.take(merged, idx, axis=lead)
            return xp.astype(out.reshape(tuple(x.shape[:lead]) + tuple(index_shape) + tail), _result_dtype(x))
        out = np.take(merged, _index_arrays(flat)[0].reshape(tuple(index_shape)), axis=lead)
        return out.astype(_result_dtype(x), copy=False)

    def vjp(self, node, cotangent, k, needed):
        yield 0, _scatter_add(cotangent, *node.params)

    def jvp(self, node, tangents):
        return _gather(tangents[0], *node.params)


class ScatterAdd(_ShapeParams):
    """The adjoint of :class:`Gather` (same params): zeros of the block's shape, the argument's
    entries added at the indices (repeated indices add up)."""

    name = "scatter_add"

    def output_shape(self, arg_shapes, params):
        block, index_shape, after, _ = params
        lead, tail = _gather_parts(arg_shapes[0], block, index_shape, after, index_shape)
        return tuple(arg_shapes[0][:lead]) + tuple(block) + tail

    def evaluate(self, values, params):
        g, (block, index_shape, after, flat) = values[0], params
        lead, tail = _gather_parts(g.shape, block, index_shape, after, index_shape)
        idx, unique, order, targets, starts = _index_arrays(flat)
        xp = array_namespace(g)
        if xp is not np:  # the backend's scatter-add (ricci.backends.<name>.add_at)
            dtype = _result_dtype(g)
            source = xp.moveaxis(g.reshape(tuple(g.shape[:lead]) + (idx.size,) + tail), lead, 0)
            out = xp.zeros((_prod(block),) + tuple(g.shape[:lead]) + tail, dtype=dtype)
            out = xp.add_at(out, (idx,), xp.astype(source, dtype))
            return xp.moveaxis(out, 0, lead).reshape(tuple(g.shape[:lead]) + tuple(block) + tail)
        out = np.zeros(g.shape[:lead] + (_prod(block),) + tail, dtype=_result_dtype(g))
        source = np.moveaxis(g.reshape(g.shape[:lead] + (idx.size,) + tail), lead, 0)
        target = np.moveaxis(out, lead, 0)  # a view: writes land in out
        if unique:
            target[idx] = source
        elif idx.size:  # sorted, then one sum per distinct index
            target[targets] = np.add.reduceat(source[order], starts, axis=0)
        return out.reshape(g.shape[:lead] + tuple(block) + tail)

    def vjp(self, node, cotangent, k, needed):
        yield 0, _gather(cotangent, *node.params)

    def jvp(self, node, tangents):
        return _scatter_add(tangents[0], *node.params)


class Reshape(_ShapeParams):
    """C-order reshape of the trailing axes: params ``(old, new)``."""

    name = "reshape"

    def output_shape(self, arg_shapes, params):
        (shape,), (old, new) = arg_shapes, params
        lead = len(shape) - len(old)
        if lead < 0 or tuple(shape[lead:]) != tuple(old):
            raise ShapeError(f"reshape node of {old} applied to shape {shape}")
        return tuple(shape[:lead]) + tuple(new)

    def evaluate(self, values, params):
        x, (old, new) = values[0], params
        xp = array_namespace(x)
        if xp is not np:
            return xp.astype(x.reshape(tuple(x.shape[:x.ndim - len(old)]) + tuple(new)), _result_dtype(x))
        return np.array(x.reshape(x.shape[:x.ndim - len(old)] + tuple(new)), dtype=_result_dtype(x))

    def vjp(self, node, cotangent, k, needed):
        old, new = node.params
        yield 0, _reshape(cotangent, new, old)

    def jvp(self, node, tangents):
        return _reshape(tangents[0], *node.params)


class Concatenate(Primitive):
    """``np.concatenate(args, axis)``: params ``(axis,)``."""

    name = "concatenate"

    def output_shape(self, arg_shapes, params):
        return _concatenated_shape(arg_shapes, params[0])

    def evaluate(self, values, params):
        xp = array_namespace(values[0])
        if xp is not np:
            return xp.astype(xp.concatenate(list(values), axis=params[0]), _result_dtype(*values))
        return np.concatenate(values, axis=params[0]).astype(_result_dtype(*values), copy=False)

    def vjp(self, node, cotangent, k, needed):
        axis, offset = node.params[0], 0
        for i, child in enumerate(node.children):
            size = child.shape[axis]
            if child in needed:
                spec = [(0, 1, d) for d in node.shape]
                spec[axis] = _canonical(offset, 1, size)
                yield i, _slice(cotangent, spec)
            offset += size

    def jvp(self, node, tangents):
        parts = [t if t is not None else Zeros(c.shape) for c, t in zip(node.children, tangents)]
        return _concatenate(parts, node.params[0])


SLICE, EMBED, GATHER, SCATTER_ADD, RESHAPE, CONCATENATE = (
    register(p()) for p in (Slice, Embed, Gather, ScatterAdd, Reshape, Concatenate))


# -- node builders, simplifying where it is free ---------------------------------------------
def _slice(x, spec):
    spec = tuple(_canonical(*s) for s in spec)
    dims = x.shape[x.ndim - len(spec):]
    if all(s == _canonical(0, 1, d) for s, d in zip(spec, dims)):
        return x
    if isinstance(x, Zeros):
        return Zeros(x.shape[:x.ndim - len(spec)] + tuple(c for _, _, c in spec))
    if isinstance(x, Constant):
        return Constant(x.value[(Ellipsis,) + tuple(_python_slice(*s) for s in spec)])
    if isinstance(x, Apply) and len(x.params) and x.primitive is SLICE and len(x.params[0]) == len(spec):
        inner = x.params[0]  # a slice of a slice is one slice
        return _slice(x.children[0], [(s1 + s2 * t1, t1 * t2, c2) for (s1, t1, _), (s2, t2, c2) in zip(inner, spec)])
    if isinstance(x, Apply) and x.primitive is EMBED and tuple(x.params[1]) == spec:
        return x.children[0]  # the slice an embed wrote
    return apply(SLICE, [x], (_Slices(spec),))


def _embed(g, full, spec):
    spec, full = tuple(_canonical(*s) for s in spec), tuple(full)
    if all(s == _canonical(0, 1, d) for s, d in zip(spec, full)):
        return g
    if isinstance(g, Zeros):
        return Zeros(g.shape[:g.ndim - len(spec)] + full)
    return apply(EMBED, [g], (_Data(full), _Slices(spec)))


def _gather(x, block, index_shape, after, flat):
    params = (_Data(block), _Data(index_shape), int(after), _Data(flat))
    if isinstance(x, Zeros):
        return Zeros(GATHER.output_shape([x.shape], params))
    if isinstance(x, Constant):
        return Constant(GATHER.evaluate([x.value], params).astype(x.value.dtype, copy=False))
    return apply(GATHER, [x], params)


def _scatter_add(g, block, index_shape, after, flat):
    params = (_Data(block), _Data(index_shape), int(after), _Data(flat))
    if isinstance(g, Zeros):
        return Zeros(SCATTER_ADD.output_shape([g.shape], params))
    return apply(SCATTER_ADD, [g], params)


def _reshape(x, old, new):
    """``x`` with its trailing axes ``old`` reshaped to ``new`` (C order)."""
    old, new = tuple(old), tuple(new)
    lead = x.ndim - len(old)
    if old == new:
        return x
    if isinstance(x, Zeros):
        return Zeros(x.shape[:lead] + new)
    if isinstance(x, Constant):
        return Constant(x.value.reshape(x.shape[:lead] + new))
    if isinstance(x, Apply) and x.primitive is RESHAPE and len(old) >= len(x.params[1]):
        inner_old, inner_new = x.params  # reshape of a reshape: one reshape from the inner shape
        pre = old[:len(old) - len(inner_new)]
        return _reshape(x.children[0], pre + tuple(inner_old), new)
    if [d for d in old if d != 1] == [d for d in new if d != 1]:
        return _ones_changed(x, lead, old, new)
    return apply(RESHAPE, [x], (_Data(old), _Data(new)))


def _ones_changed(x, lead, old, new):
    """A reshape that only adds or removes axes of size 1: a contraction (labels)."""
    labels, it = list(range(lead)), iter(range(lead, lead + len(old)))
    kept = []
    for pos, d in enumerate(old):
        lab = next(it)
        labels.append(lab if d != 1 else ("one", pos))
        if d != 1:
            kept.append(lab)
    out, sizes, it = list(range(lead)), {}, iter(kept)
    for pos, d in enumerate(new):
        if d == 1:
            out.append(("new", pos))
            sizes[("new", pos)] = 1
        else:
            out.append(next(it))
    return contract(tuple(out), [(x, tuple(labels))], sizes)


def _concatenated_shape(shapes, axis):
    first = shapes[0]
    for i, shape in enumerate(shapes[1:], 1):
        if len(shape) != len(first):
            raise ShapeError(
                f"all the input arrays must have same number of dimensions, but the array at index 0 has "
                f"{len(first)} dimension(s) and the array at index {i} has {len(shape)} dimension(s) "
                f"(shapes {tuple(first)} and {tuple(shape)})")
        for d, (a, b) in enumerate(zip(first, shape)):
            if d != axis and a != b:
                raise ShapeError(
                    f"all the input array dimensions except for the concatenation axis must match exactly, but "
                    f"along dimension {d}, the array at index 0 has size {a} and the array at index {i} has size "
                    f"{b} (shapes {tuple(first)} and {tuple(shape)}, concatenated along axis {axis})")
    if any(type(s[axis]) is str for s in shapes):
        raise ShapeError(f"cannot concatenate shapes {[tuple(s) for s in shapes]} along the named dimension of axis {axis}")
    return tuple(first[:axis]) + (sum(s[axis] for s in shapes),) + tuple(first[axis + 1:])


def _concatenate(xs, axis):
    shape = _concatenated_shape([x.shape for x in xs], axis)
    flat = []
    for x in xs:  # nested concatenations along the same axis are one
        if isinstance(x, Apply) and x.primitive is CONCATENATE and x.params[0] == axis:
            flat.extend(x.children)
        else:
            flat.append(x)
    kept = [x for x in flat if x.shape[axis] != 0]
    if not kept or all(isinstance(x, Zeros) for x in kept):
        return Zeros(shape)
    if len(kept) == 1:
        return kept[0]
    if all(isinstance(x, Constant) for x in kept):
        return Constant(np.concatenate([x.value for x in kept], axis=axis))
    return apply(CONCATENATE, kept, (axis,))
