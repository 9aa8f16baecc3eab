"""Export into training code: ricci expressions as differentiable torch and jax functions.

``ricci.torch_function(y, args)`` and ``ricci.jax_function(y, args)`` return a callable
that takes one array per Tensor of ``args`` (in that order) and returns ``y``'s value (a
tuple for a list of expressions) as an array of the framework, on the inputs' device and
in their dtype. Its derivative is ricci's, not the framework's: the vector-Jacobian
product of ``y`` is derived once, symbolically, when the function is made
(``ricci.vjp(y, args, g)`` with a symbolic cotangent ``g``), compiled into a planned
program, and the framework's backward pass (``torch.autograd.Function.backward``,
``jax.custom_vjp``'s ``bwd``) runs that program on its own arrays.

Forward and backward share work: the values of ``y``'s sub-expressions that the VJP
needs (``tanh(u)`` for ``1 - tanh(u)**2``, a softmax for its own derivative) are computed
by the forward program and kept for the backward one, so the backward program starts
from them instead of recomputing the forward (``recompute=True`` recomputes instead,
saving memory).

Named dimensions (``ricci.Tensor("X", ("batch", 3))``) take any size at each call; a
program is compiled and cached per size, as for :func:`ricci.compile`.

Decisions:

- A Tensor of ``args`` that ``y`` does not use is allowed: its gradient is zero (torch
  and jax do the same for an unused argument). A Tensor that ``y`` uses but ``args``
  omits is an :class:`ricci.ArgumentError` naming it.
- Calling with the wrong number of arrays is an :class:`ricci.ArgumentError`, an array
  of the wrong shape an :class:`ricci.InputShapeError`, both naming the argument.
- The derivative is first order: torch's backward with ``create_graph=True`` raises
  :class:`SecondOrderError` (and the backward is ``once_differentiable``);
  under jax, differentiating ``bwd`` again differentiates the VJP program as jax operations
  (not ricci's derivative of it). For second derivatives derive them with ricci
  (``ricci.hessian``, ``ricci.hvp``) and export those.
- torch and jax are imported when a function is made, never by ``import ricci``; when one
  is missing the error (:class:`FrameworkImportError`, an ``ImportError``) gives the pip
  command.

Examples (they need torch and jax; ``tests/test_export.py`` runs them for real):

>>> import ricci
>>> import torch                                               # doctest: +SKIP
>>> W, x = ricci.Tensor("W_export_doc", (4, 3)), ricci.Tensor("x_export_doc", (3, "batch"))
>>> b = ricci.Tensor("b_export_doc", (4,))
>>> layer = ricci.torch_function(ricci.tanh(W @ x + b[:, None]), [W, x, b])   # doctest: +SKIP
>>> Wt = torch.randn(4, 3, requires_grad=True)                 # doctest: +SKIP
>>> out = layer(Wt, torch.randn(3, 8), torch.zeros(4))          # doctest: +SKIP
>>> out.sum().backward(); Wt.grad.shape                         # doctest: +SKIP
torch.Size([4, 3])
>>> import jax                                                  # doctest: +SKIP
>>> f = ricci.jax_function(ricci.sum(ricci.tanh(W @ x + b[:, None])), [W, x, b])   # doctest: +SKIP
>>> jax.jit(jax.grad(f))(jax.numpy.ones((4, 3)), jax.numpy.ones((3, 5)), jax.numpy.zeros(4)).shape  # doctest: +SKIP
(4, 3)
"""
import itertools
import threading

import numpy as np

from .errors import ArgumentError, InputShapeError, RicciError

__all__ = ["FrameworkImportError", "SecondOrderError", "jax_function", "torch_function"]


class FrameworkImportError(RicciError, ImportError):
    """torch or jax is needed and not installed; the message gives the pip command."""


class SecondOrderError(RicciError, RuntimeError):
    """A second derivative through an exported torch function (``create_graph=True``)."""


_counter = itertools.count()
_counter_lock = threading.Lock()


def _unique_name(prefix):
    from .expr import tensor_name_exists

    while True:
        with _counter_lock:
            name = f"_ricci_{prefix}_{next(_counter)}"
        if not tensor_name_exists(name):
            return name


def _import(framework):
    try:
        if framework == "torch":
            import torch

            return torch
        import jax

        return jax
    except ImportError as exc:
        raise FrameworkImportError(
            f"ricci.{framework}_function needs {framework}, which is not installed ({exc}); "
            f'install it with: pip install "ricci[{framework}]"'
        ) from None


def _substitute(roots, replace):
    """``roots`` with each node of ``replace`` (node -> expression) replaced, the nodes above
    them rebuilt (iterative, any depth)."""
    from .expr import Add, Apply, Contract, add, apply, contract, topological_order

    new = {}
    for node in topological_order(roots):
        if node in replace:
            new[node] = replace[node]
            continue
        children = [new[c] for c in node.children]
        if all(c is o for c, o in zip(children, node.children)):
            new[node] = node
            continue
        kind = type(node)
        if kind is Contract:
            out = contract(node.out, [(c, labs) for c, (_, labs) in zip(children, node.factors)],
                           dict(enumerate(node.sizes)))
        elif kind is Add:
            out = add([(coef, c) for c, (coef, _) in zip(children, node.terms)], node.offset)
        elif kind is Apply:
            out = apply(node.primitive, children, node.params)
        else:  # pragma: no cover - every node with children is one of the three
            raise ArgumentError(f"cannot rebuild a {node.kind} node")
        new[node] = out
    return [new[r] for r in roots]


class _Exported:
    """What both frameworks share: the expressions, the derived VJP, and their compiled
    functions (forward, forward with saved values, backward per subset of arguments)."""

    def __init__(self, y, args, framework, optimize, recompute, name):
        from . import derivatives
        from .engine.compiled import as_roots
        from .expr import (
            Constant,
            Delta,
            Expr,
            Tensor,
            Zeros,
            _merge_inputs,
            topological_order,
        )
        from .symbolic import Size

        if isinstance(y, Expr):
            self.ys, self.single = (y,), True
        elif isinstance(y, (list, tuple)) and y:
            self.ys, self.single = as_roots(list(y))[0], False
        else:
            raise ArgumentError(f"{framework}_function needs a ricci expression or a non-empty list of them, "
                                f"got {type(y).__name__ if not isinstance(y, (list, tuple)) else 'an empty list'}")
        if isinstance(args, Tensor) or not isinstance(args, (list, tuple)):
            raise ArgumentError(f"args must be a list of ricci.Tensor, got {type(args).__name__}"
                                + (" (wrap one Tensor in a list: [x])" if isinstance(args, Tensor) else ""))
        for i, a in enumerate(args):
            if not isinstance(a, Tensor):
                what = (f"a ricci expression of shape {a.shape}" if isinstance(a, Expr) else type(a).__name__)
                raise ArgumentError(f"args[{i}] is {what}, not a ricci.Tensor; the arguments of an exported "
                                    "function are Tensors (introduce the quantity as a Tensor)")
        names = [a.name for a in args]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ArgumentError(f"args name the Tensor(s) {dup} more than once")
        self.args, self.names = tuple(args), tuple(names)
        used = _merge_inputs(list(self.ys))
        missing = sorted(set(used) - set(names))
        if missing:
            listed = ", ".join(f"{n!r} of shape {used[n].shape}" for n in missing)
            raise ArgumentError(f"the expression uses Tensor(s) {listed} that are not in args {list(names)}; "
                                "add them to args (as inputs) or make them Constants")
        self.framework, self.optimize, self.recompute = framework, optimize, recompute
        self.name = name or "ricci_function"

        # -- derive once: the VJP of every argument for a symbolic cotangent of each output
        self.gs = tuple(Tensor(_unique_name("cotangent"), yi.shape) for yi in self.ys)
        if self.single:
            vjps = derivatives.vjp(self.ys[0], list(self.args), self.gs[0])
        else:
            from .einsum import sum as rsum

            total = None
            for yi, gi in zip(self.ys, self.gs):
                term = rsum(yi * gi)
                total = term if total is None else total + term
            vjps = derivatives.grad(total, list(self.args))
        self.zero = tuple(isinstance(v, Zeros) for v in vjps)

        # -- values the backward takes from the forward: nodes of y that the VJP uses
        self.saved_nodes, self.saved_tensors = (), ()
        live = [v for v, z in zip(vjps, self.zero) if not z]
        if not recompute and live:
            forward_nodes = set(topological_order(list(self.ys)))
            cheap = (Tensor, Constant, Zeros, Delta, Size)
            frontier = []
            seen = set()
            for node in topological_order(live):
                if node in forward_nodes:
                    continue
                for c in node.children:
                    if c in forward_nodes and c not in seen and type(c) not in cheap:
                        seen.add(c)
                        frontier.append(c)
            for v in live:
                if v in forward_nodes and v not in seen and type(v) not in cheap:
                    seen.add(v)
                    frontier.append(v)
            if frontier:
                tensors = {n: Tensor(_unique_name("saved"), n.shape) for n in frontier}
                live = _substitute(live, tensors)
                self.saved_nodes = tuple(frontier)
                self.saved_tensors = tuple(tensors[n] for n in frontier)
        it = iter(live)
        self.vjps = tuple(None if z else next(it) for z in self.zero)
        # saved values that are outputs are the outputs themselves
        self.saved_from = tuple(self.ys.index(n) if n in self.ys else None for n in self.saved_nodes)
        extra = [n for n, k in zip(self.saved_nodes, self.saved_from) if k is None]
        from .engine.compiled import compile as rcompile

        self.forward_fn = rcompile(list(self.ys), optimize=optimize)
        self.forward_saving_fn = rcompile(list(self.ys) + extra, optimize=optimize) if extra else self.forward_fn
        self._backward = {}
        self._programs = {}  # (function, sizes, dtypes, device) -> (Program, input names)
        self._lock = threading.Lock()
        self.backend = framework
        first = {}
        for i, a in enumerate(self.args):
            for axis, d in enumerate(a.shape):
                if type(d) is str and d not in first:
                    first[d] = (i, axis)
        self.dims = tuple(first)
        self.dim_at = tuple(first.values())
        self.concrete = tuple(not any(type(d) is str for d in a.shape) for a in self.args)
        self.calls = {"forward": 0, "backward": 0}
        self.signature = ", ".join(f"{a.name}: {_shape_text(a.shape)}" for a in self.args)
        out = ", ".join(_shape_text(yi.shape) for yi in self.ys)
        self.out_text = out if self.single else f"({out})"

    # -- checks --------------------------------------------------------------------------
    def sizes(self, arrays):
        """The sizes of the named dimensions (in ``dims`` order) from the argument arrays."""
        return tuple([arrays[i].shape[axis] for i, axis in self.dim_at])

    def check(self, arrays):
        """Refuse a wrong number or shape of arguments, naming the argument; returns the sizes."""
        if len(arrays) != len(self.args):
            raise ArgumentError(f"{self.name} takes {len(self.args)} argument(s) ({self.signature}), "
                                f"got {len(arrays)}")
        bound = {}
        for i, (a, value, concrete) in enumerate(zip(self.args, arrays, self.concrete)):
            shape = getattr(value, "shape", None)
            shape = tuple(np.shape(value) if shape is None else shape)
            if concrete and shape == a.shape:
                continue
            if len(shape) != len(a.shape):
                raise InputShapeError(f"argument {i} ({a.name!r}) has shape {shape} but its Tensor has shape "
                                      f"{_shape_text(a.shape)} ({len(a.shape)} axes)")
            for axis, (d, n) in enumerate(zip(a.shape, shape)):
                if type(d) is str:
                    if d in bound and bound[d][0] != n:
                        j, other = bound[d][1], self.args[bound[d][1]].name
                        raise InputShapeError(
                            f"argument {i} ({a.name!r}) has {d!r} = {n} (axis {axis}) but argument {j} "
                            f"({other!r}) has {d!r} = {bound[d][0]}")
                    bound.setdefault(d, (n, i))
                elif d != n:
                    raise InputShapeError(f"argument {i} ({a.name!r}) has shape {shape} but its Tensor has shape "
                                          f"{_shape_text(a.shape)}")
        return tuple(bound[d][0] for d in self.dims)

    def run(self, fn, values, sizes):
        """Run compiled function ``fn`` on ``values`` (name -> array of the framework) at these
        sizes of the named dimensions: its program is looked up once per sizes, dtypes and
        device, then called directly (the memory budget is still checked)."""
        from .backends import device_of, numpy_dtype
        from .engine.budget import check_budget, get_budget

        names = fn.names
        first = values[names[0]] if names else None
        dtypes = tuple([values[n].dtype for n in names])
        device = None if first is None else device_of(first)
        key = (id(fn), sizes, dtypes, device)
        hit = self._programs.get(key)
        if hit is None:
            concrete = fn
            if fn.dimensions:
                concrete = fn.at({d: n for d, n in zip(self.dims, sizes) if d in fn.dimensions})
            prog = concrete.program_for(tuple(numpy_dtype(values[n]) for n in names), (self.backend, device))
            with self._lock:
                hit = self._programs.setdefault(key, (prog, concrete.names))
        prog, order = hit
        budget = get_budget()
        if prog.largest[0] > budget:
            check_budget(prog, budget)
        return prog.fn(*[values[n] for n in order])

    # -- programs ------------------------------------------------------------------------
    def forward(self, arrays, saving, sizes=None):
        """The outputs (a list) and, when ``saving``, the values the backward needs."""
        self.calls["forward"] += 1
        fn = self.forward_saving_fn if saving else self.forward_fn
        sizes = self.sizes(arrays) if sizes is None else sizes
        results = list(self.run(fn, dict(zip(self.names, arrays)), sizes))
        outs = results[:len(self.ys)]
        if not saving:
            return outs, ()
        extra = iter(results[len(self.ys):])
        saved = tuple(outs[k] if k is not None else next(extra) for k in self.saved_from)
        return outs, saved

    def backward_fn(self, which):
        """The compiled VJP of the arguments at positions ``which`` (those with non-zero VJPs)."""
        fn = self._backward.get(which)
        if fn is None:
            from .engine.compiled import compile as rcompile

            fn = rcompile([self.vjps[i] for i in which], optimize=self.optimize)
            with self._lock:
                fn = self._backward.setdefault(which, fn)
        return fn

    def backward(self, arrays, saved, cotangents, needed):
        """Gradients (a list, None where not needed; ``"zero"`` where the VJP is zero)."""
        self.calls["backward"] += 1
        which = tuple(i for i in needed if not self.zero[i])
        out = [None] * len(self.args)
        for i in needed:
            if self.zero[i]:
                out[i] = "zero"
        if which:
            fn = self.backward_fn(which)
            values = dict(zip(self.names, arrays))
            values.update(zip((g.name for g in self.gs), cotangents))
            values.update(zip((t.name for t in self.saved_tensors), saved))
            for i, r in zip(which, self.run(fn, values, self.sizes(arrays))):
                out[i] = r
        return out

    def doc(self, framework):
        text = "; ".join(str(yi).replace("\n", "; ") for yi in self.ys)
        if len(text) > 400:
            text = text[:400] + " ..."
        return (f"{self.name}({self.signature}) -> {self.out_text}\n\n"
                f"A ricci expression exported as a {framework} function: takes {framework} arrays in the order "
                f"of its arguments ({', '.join(self.names)}) and returns {'its value' if self.single else 'a tuple'}"
                f" on their device, in their dtype. The backward pass runs ricci's derived, compiled "
                f"vector-Jacobian product.\n\nExpression: {text}\n")


def _shape_text(shape):
    return "(" + ", ".join(repr(d) if type(d) is str else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_framework_arrays(ex, arrays, is_array, framework):
    for i, (a, v) in enumerate(zip(ex.args, arrays)):
        if not is_array(v):
            raise ArgumentError(f"argument {i} ({a.name!r}) is a {type(v).__module__}.{type(v).__name__}; "
                                f"{ex.name} takes {framework} arrays")


def torch_function(y, args, *, name=None, optimize="auto", recompute=False):
    """``y`` (an expression or a list of them) as a differentiable torch function of ``args``.

    Returns ``f(*tensors)``: one torch tensor per Tensor of ``args``, in that order; returns
    ``y``'s value as a torch tensor (a tuple for a list) on the inputs' device and in their
    dtype. Implemented as a ``torch.autograd.Function``: forward runs ricci's compiled
    program on the (detached) torch tensors; backward runs the vector-Jacobian product that
    ricci derived once, when ``f`` was made, compiled per subset of inputs that need a
    gradient (``None`` for the others). ``f.calls`` counts forward and backward runs.

    >>> import ricci
    >>> import torch                                           # doctest: +SKIP
    >>> X = ricci.Tensor("X_torch_fn_doc", ("batch", 3)); w = ricci.Tensor("w_torch_fn_doc", (3,))
    >>> loss = ricci.torch_function(ricci.mean(ricci.softplus(X @ w)), [X, w])   # doctest: +SKIP
    >>> wt = torch.zeros(3, dtype=torch.float64, requires_grad=True)              # doctest: +SKIP
    >>> loss(torch.ones(5, 3, dtype=torch.float64), wt).backward(); wt.grad      # doctest: +SKIP
    tensor([0.5000, 0.5000, 0.5000], dtype=torch.float64)
    """
    torch = _import("torch")
    ex = _Exported(y, args, "torch", optimize, recompute, name)
    from torch.autograd.function import once_differentiable

    def forward(ctx, *arrays):
        saving = any(ctx.needs_input_grad)
        inputs = [a.detach() for a in arrays]
        outs, saved = ex.forward(inputs, saving)
        if saving:
            ctx.save_for_backward(*inputs, *saved)
        return tuple(outs)

    def backward(ctx, *cotangents):
        if torch.is_grad_enabled():  # create_graph=True: a second derivative is asked for
            raise SecondOrderError(
                f"{ex.name} is first-order: its backward is ricci's compiled VJP, which torch cannot "
                "differentiate again (create_graph=True); derive the second derivative with ricci "
                "(ricci.hvp, ricci.hessian) and export that")
        return _backward(ctx, *cotangents)

    @once_differentiable
    def _backward(ctx, *cotangents):
        stored = ctx.saved_tensors
        arrays, saved = stored[:len(ex.args)], stored[len(ex.args):]
        needed = tuple(i for i, need in enumerate(ctx.needs_input_grad) if need)
        grads = ex.backward(arrays, saved, cotangents, needed)
        return tuple(torch.zeros_like(arrays[i]) if isinstance(g, str) else
                     g if g is None or g.dtype == arrays[i].dtype else g.to(arrays[i].dtype)
                     for i, g in enumerate(grads))

    # a class of the function's name: its outputs' grad_fn is "<name>Backward"
    RicciFunction = type(_identifier(ex.name), (torch.autograd.Function,),
                         {"forward": staticmethod(forward), "backward": staticmethod(backward),
                          "__doc__": "ricci's forward program and derived VJP as a torch.autograd.Function"})

    def function(*arrays):
        ex.check(arrays)
        if not all(isinstance(a, torch.Tensor) for a in arrays):
            device = next((a.device for a in arrays if isinstance(a, torch.Tensor)), None)
            arrays = [a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a), device=device)
                      for a in arrays]
        if torch.is_grad_enabled() and any(a.requires_grad for a in arrays):
            outs = RicciFunction.apply(*arrays)
        else:
            outs, _ = ex.forward(arrays, False)
        return outs[0] if ex.single else tuple(outs)

    return _decorate(function, ex, "torch")


def jax_function(y, args, *, name=None, optimize="auto", recompute=False):
    """``y`` (an expression or a list of them) as a differentiable jax function of ``args``.

    Returns ``f(*arrays)`` built with ``jax.custom_vjp``: the primal runs ricci's compiled
    program on jax arrays (traced as jax operations, so it works under ``jax.jit`` and
    ``jax.vmap``), and ``bwd`` runs the vector-Jacobian product ricci derived once, when
    ``f`` was made. Integer arguments get ``float0`` cotangents, as jax requires.

    >>> import ricci
    >>> import jax                                             # doctest: +SKIP
    >>> X = ricci.Tensor("X_jax_fn_doc", ("batch", 3)); w = ricci.Tensor("w_jax_fn_doc", (3,))
    >>> loss = ricci.jax_function(ricci.mean(ricci.softplus(X @ w)), [X, w])     # doctest: +SKIP
    >>> jax.grad(loss, argnums=1)(jax.numpy.ones((5, 3), "float32"), jax.numpy.zeros(3, "float32"))  # doctest: +SKIP
    Array([0.5, 0.5, 0.5], dtype=float32)
    """
    jax = _import("jax")
    ex = _Exported(y, args, "jax", optimize, recompute, name)
    jnp = jax.numpy

    def _asarrays(arrays):
        return [a if isinstance(a, jax.Array) or hasattr(a, "aval") else jnp.asarray(a) for a in arrays]

    def _pack(outs):
        return outs[0] if ex.single else tuple(outs)

    @jax.custom_vjp
    def primal(*arrays):
        return _pack(ex.forward(_asarrays(arrays), False)[0])

    def fwd(*arrays):
        arrays = _asarrays(arrays)
        outs, saved = ex.forward(arrays, True)
        return _pack(outs), (tuple(arrays), tuple(saved))

    def bwd(residuals, cotangents):
        arrays, saved = residuals
        cotangents = (cotangents,) if ex.single else tuple(cotangents)
        floating = tuple(i for i, a in enumerate(arrays) if jnp.issubdtype(a.dtype, jnp.inexact))
        grads = ex.backward(arrays, saved, cotangents, floating)
        out = []
        for a, g in zip(arrays, grads):
            if g is None:
                out.append(np.zeros(a.shape, dtype=jax.dtypes.float0))
            elif isinstance(g, str):
                out.append(jnp.zeros_like(a))
            else:
                out.append(g.astype(a.dtype) if g.dtype != a.dtype else g)
        return tuple(out)

    primal.defvjp(fwd, bwd)

    def function(*arrays):
        ex.check(arrays)
        return primal(*arrays)

    return _decorate(function, ex, "jax")


def _identifier(name):
    text = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return text if text and not text[0].isdigit() else "f_" + text


def _decorate(function, ex, framework):
    function.__name__ = function.__qualname__ = _identifier(ex.name)
    function.__doc__ = ex.doc(framework)
    function.args = ex.args
    function.expressions = ex.ys if not ex.single else ex.ys[0]
    function.calls = ex.calls
    function.saved = ex.saved_nodes
    function.forward_function, function.backward_function = ex.forward_saving_fn, ex.backward_fn
    function.backward_programs = ex._backward  # subset of argument positions -> compiled VJP
    return function
