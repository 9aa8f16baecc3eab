"""The numpy text of the kernels :func:`ricci.to_source` writes into a generated module.

``KERNELS`` maps each primitive that the compiled engine calls through a bound
function to ``(source, helpers)``: the source defines ``_<name>`` (element-wise
kernels take ``(x, *params)``, the others ``(values, params)``, as the engine
calls them) and ``helpers`` names the shared ``_ricci_*`` functions of
``HELPERS`` it uses, which the module defines once, before the kernels. The
text is numpy code of our own, so stable forms (sigmoid, softplus, logsumexp)
stay stable without ricci installed.

>>> text, helpers = KERNELS["slice"]
>>> print(text.splitlines()[0], helpers)
def _slice(values, params): ('float', 'slice')
>>> print(HELPERS["float"].splitlines()[0])
def _ricci_float(*values):
"""

__all__ = ["HELPERS", "KERNELS"]

_FLOAT = '''def _ricci_float(*values):
    dtype = np.result_type(*[np.asarray(v).dtype for v in values])
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)'''
_SLICE = '''def _ricci_slice(start, step, count):
    if count == 0:
        return slice(0, 0, 1)
    stop = start + step * count
    return slice(start, stop if stop >= 0 else None, step)'''
_PARTS = '''def _ricci_parts(shape, block, after, source_block):
    lead = len(shape) - len(source_block) - after
    n = 1
    for d in block:
        n *= d
    return lead, (tuple(shape[len(shape) - after:]) if after else ()), n'''
_ARGEXT = '''def _ricci_first_mask(x, axes, arg):
    rest = tuple(a for a in range(x.ndim) if a not in axes)
    moved = np.transpose(x, rest + axes)
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    onehot = np.arange(flat.shape[-1]) == arg(flat, axis=-1)[..., None]
    return np.transpose(onehot.reshape(moved.shape).astype(_ricci_float(x)), np.argsort(rest + axes))'''
HELPERS = {"float": _FLOAT, "slice": _SLICE, "parts": _PARTS, "argext": _ARGEXT}


def _compare(ufunc):
    return (f'''def _{ufunc}(values, params):
    other = values[1] if len(values) == 2 else params[0]
    with np.errstate(invalid="ignore"):
        return np.{ufunc}(values[0], other).astype(_ricci_float(*values))''', ("float",))


# name -> (source defining _<name>, helpers it uses). Element-wise kernels take (x, *params), the
# others (values, params), as the engine calls them.
KERNELS = {
    "sigmoid": ('''def _sigmoid(x):
    if np.iscomplexobj(x):
        return 0.5 * (np.tanh(0.5 * x) + 1.0)
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0, e) / (1.0 + e)''', ()),
    "relu": ("def _relu(x):\n    return np.maximum(x, 0)", ()),
    "step": ("def _step(x):\n    return (x > 0).astype(np.result_type(x, np.float32))", ()),
    "power": ("def _power(x, p):\n    return x ** p", ()),
    "softplus": ("def _softplus(x):\n    return np.logaddexp(0, x)  # log(1 + e^x) without overflow", ()),
    "log_sigmoid": ("def _log_sigmoid(x):\n    return -np.logaddexp(0, -x)", ()),
    "erf": ("def _erf(x):\n    return np.vectorize(math.erf, otypes=[np.float64])(x)", ()),
    "erfc": ("def _erfc(x):\n    return np.vectorize(math.erfc, otypes=[np.float64])(x)", ()),
    "poly_gaussian": ('''def _poly_gaussian(x, a, *coefficients):
    x = np.asarray(x)
    dtype = np.result_type(x.dtype, np.float16)
    with np.errstate(over="ignore", invalid="ignore"):
        inside = a * x * x < 1400.0  # beyond, exp(-a x^2) is 0: no inf * 0
    xs = np.where(inside, x, 0).astype(dtype)
    p = np.zeros_like(xs) + coefficients[-1]
    for c in reversed(coefficients[:-1]):
        p = p * xs + c
    return np.where(inside, p * np.exp(-a * xs * xs), 0).astype(dtype)''', ()),
    "logaddexp": ("def _logaddexp(values, params):\n    return np.logaddexp(values[0], values[1])", ()),
    "inv": ("def _inv(values, params):\n    return np.linalg.inv(values[0])", ()),
    "det": ("def _det(values, params):\n    return np.asarray(np.linalg.det(values[0]))", ()),
    "logdet": ('''def _logdet(values, params):
    sign, logabs = np.linalg.slogdet(values[0])
    return np.asarray(np.where(sign > 0, logabs, np.nan))''', ()),
    "solve": ('''def _solve(values, params):
    (a, b), (axis, transposed) = values, params
    rhs = np.moveaxis(b, axis, 0)
    flat = rhs.reshape(rhs.shape[0], -1)
    return np.linalg.solve(a.T if transposed else a, flat).reshape(rhs.shape)''', ()),
    "softmax": ('''def _softmax(values, params):
    (x,), (axis,) = values, params
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)''', ()),
    "logsumexp": ('''def _logsumexp(values, params):
    (x,), (axis,) = values, params
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    return np.squeeze(np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top, axis=axis)''', ()),
    "max": ('''def _max(values, params):
    return np.asarray(np.max(values[0], axis=tuple(params[0])), dtype=_ricci_float(values[0]))''', ("float",)),
    "min": ('''def _min(values, params):
    return np.asarray(np.min(values[0], axis=tuple(params[0])), dtype=_ricci_float(values[0]))''', ("float",)),
    "argmax_mask": ('''def _argmax_mask(values, params):
    return _ricci_first_mask(values[0], tuple(params[0]), np.argmax)''', ("float", "argext")),
    "argmin_mask": ('''def _argmin_mask(values, params):
    return _ricci_first_mask(values[0], tuple(params[0]), np.argmin)''', ("float", "argext")),
    "maximum": ('''def _maximum(values, params):
    other = values[1] if len(values) == 2 else params[0]
    return np.maximum(values[0], other).astype(_ricci_float(*values), copy=False)''', ("float",)),
    "minimum": ('''def _minimum(values, params):
    other = values[1] if len(values) == 2 else params[0]
    return np.minimum(values[0], other).astype(_ricci_float(*values), copy=False)''', ("float",)),
    "where": ('''def _where(values, params):
    branches = list(values[1:]) + list(params)
    return np.where(values[0] != 0, branches[0], branches[1]).astype(_ricci_float(*values), copy=False)''',
              ("float",)),
    **{name: _compare(name) for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")},
    "slice": ('''def _slice(values, params):
    view = values[0][(Ellipsis,) + tuple(_ricci_slice(*s) for s in params[0])]
    return np.array(view, dtype=_ricci_float(values[0]))''', ("float", "slice")),
    "embed": ('''def _embed(values, params):
    g, (full, spec) = values[0], params
    out = np.zeros(g.shape[:g.ndim - len(spec)] + tuple(full), dtype=_ricci_float(g))
    out[(Ellipsis,) + tuple(_ricci_slice(*s) for s in spec)] = g
    return out''', ("float", "slice")),
    "reshape": ('''def _reshape(values, params):
    x, (old, new) = values[0], params
    return np.array(x.reshape(x.shape[:x.ndim - len(old)] + tuple(new)), dtype=_ricci_float(x))''', ("float",)),
    "concatenate": ('''def _concatenate(values, params):
    return np.concatenate(values, axis=params[0]).astype(_ricci_float(*values), copy=False)''', ("float",)),
    "gather": ('''def _gather(values, params):
    x, (block, index_shape, after, flat) = values[0], params
    lead, tail, n = _ricci_parts(x.shape, block, after, block)
    merged = x.reshape(x.shape[:lead] + (n,) + tail)
    index = np.array(flat, dtype=np.intp).reshape(tuple(index_shape))
    return np.take(merged, index, axis=lead).astype(_ricci_float(x), copy=False)''', ("float", "parts")),
    "scatter_add": ('''def _scatter_add(values, params):
    g, (block, index_shape, after, flat) = values[0], params
    lead, tail, n = _ricci_parts(g.shape, block, after, index_shape)
    index = np.array(flat, dtype=np.intp).reshape(-1)
    out = np.zeros(g.shape[:lead] + (n,) + tail, dtype=_ricci_float(g))
    source = g.reshape(g.shape[:lead] + (index.size,) + tail)
    np.add.at(np.moveaxis(out, lead, 0), index, np.moveaxis(source, lead, 0))
    return out.reshape(g.shape[:lead] + tuple(block) + tail)''', ("float", "parts")),
}
