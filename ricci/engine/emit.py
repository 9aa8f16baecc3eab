"""Code emission: straight-line Python source for a program, compiled once.

A :class:`Builder` collects assignments ``name = kernel(...)`` together with
what the engine knows statically about each value (shape, dtype, and who
owns its memory). :meth:`Builder.compile` inserts ``del`` after each
temporary's last use, so dead intermediates are released as early as in
hand-written code, and compiles the text with the kernels and constants it
refers to bound as globals. Only text generated here is ever compiled.

>>> import numpy as np
>>> b = Builder(["x0"])
>>> x = b.input("x0", (2, 3), np.dtype("float64"))
>>> y = b.assign(f"{x.name}.T @ {x.name}", [x], (3, 3), x.dtype, comment="ji,jk->ik")
>>> fn, source = b.compile([y])
>>> print(source)
def program(x0):
    t0 = x0.T @ x0  # ji,jk->ik
    return [t0]
>>> fn(np.ones((2, 3)))[0].shape
(3, 3)
"""
import re

import numpy as np

# Above this many lines, compiling one Python function costs more than the kernels save
# (CPython compiles ~7 µs a line): the program runs instead as a list of steps, each a
# small compiled template shared by every line of the same shape.
STRAIGHT_LINE_LIMIT = 20000
_NAME = re.compile(r"\b[tx]\d+\b")
_INPLACE = re.compile(r"^(\w+) (\*\*|//|[-+*/@]) ?= (.*)$", re.DOTALL)


class Value:
    """A value of the program: its variable name and what is known about it before running.

    ``owner`` says whose memory it is: ``None`` for a fresh array the program
    owns, the :class:`Value` it is a view of, or ``"extern"`` for memory the
    program must not write or return (inputs, constants, broadcast views).
    """

    __slots__ = ("dtype", "name", "owner", "shape")

    def __init__(self, name, shape, dtype, owner=None):
        self.name, self.shape, self.dtype, self.owner = name, tuple(shape), np.dtype(dtype), owner

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def base(self):
        """The value owning the memory (itself if fresh), or ``"extern"``."""
        v = self
        while isinstance(v.owner, Value):
            v = v.owner
        return v.owner if v.owner == "extern" else v

    def __repr__(self):
        return f"Value({self.name}, {self.shape}, {self.dtype})"


class Builder:
    """Collects the lines of one program."""

    def __init__(self, params, xp=np):
        self.params = list(params)
        self.lines = []  # (target name or None, text, names used, comment)
        self.xp = xp  # numpy, or a ricci.backends.Namespace: what ``np`` means in the program
        self.numpy = xp is np
        self.permute = getattr(xp, "permute_method", "transpose")  # the array method taking a permutation
        self.namespace = {"np": xp}
        self._bound = {}  # id(object) -> global name
        self._counts = {}
        self._keep = []  # objects bound, kept alive with the program
        self.header = []  # lines of the docstring: the inputs ...
        self.constants = []  # ... and the constants

    def fresh(self, prefix="t"):
        n = self._counts.get(prefix, 0)
        self._counts[prefix] = n + 1
        return f"{prefix}{n}"

    def bind(self, obj, prefix):
        """A global name for a kernel or constant object (the same object, the same name)."""
        name = self._bound.get(id(obj))
        if name is None:
            name = self._bound[id(obj)] = self.fresh(prefix)
            self.namespace[name] = obj if self.numpy else self._native(obj)
            self._keep.append(obj)
        return name

    def _native(self, obj):
        """A numpy constant or dtype as the backend's (converted once, when the program is built)."""
        if isinstance(obj, np.ndarray):
            return self.xp.convert(obj)
        if isinstance(obj, np.dtype):
            return self.xp.native_dtype(obj)
        return obj

    def input(self, name, shape, dtype):
        return Value(name, shape, dtype, "extern")

    def constant(self, array, comment=None):
        array = np.asarray(array)
        known = id(array) in self._bound
        name = self.bind(array, "c")
        if not known:
            self.constants.append(f"{name}: constant {array.shape} {array.dtype.name}")
        return Value(name, array.shape, array.dtype, "extern")

    def assign(self, text, uses, shape, dtype, owner=None, comment=None):
        """Emit ``name = text`` and return the new value."""
        value = Value(self.fresh(), shape, dtype, owner)
        self.lines.append((value.name, text, tuple(u.name for u in uses), comment))
        return value

    def inplace(self, text, uses, comment=None):
        """Emit a statement that updates an existing value (``t3 *= 2``).

        Other backends' arrays may be immutable (jax), lazy (dask) or tracked by autograd
        (torch): there the update is written as a new binding of the name (``t3 = t3 * 2``).
        """
        if not self.numpy:
            m = _INPLACE.match(text)
            text = f"{m.group(1)} = {m.group(1)} {m.group(2)} ({m.group(3)})"
        self.lines.append((None, text, tuple(u.name for u in uses), comment))

    def source(self, outputs, name="program"):
        """The program's text, with ``del`` after each temporary's last use."""
        returned = {v.name for v in outputs}
        params = set(self.params)
        last = {}
        for i, (_, _, uses, _) in enumerate(self.lines):
            for u in uses:
                last[u] = i
        body = []
        for i, (target, text, uses, comment) in enumerate(self.lines):
            line = f"{target} = {text}" if target is not None else text
            body.append(f"    {line}" + (f"  # {comment}" if comment else ""))
            dead = [u for u in dict.fromkeys(uses) if last.get(u) == i and u not in returned
                    and u not in params and u not in self.namespace]
            if dead:
                body.append(f"    del {', '.join(dead)}")
        body.append(f"    return [{', '.join(v.name for v in outputs)}]")
        doc = [f"    # {h}" for h in self.header + self.constants]
        return f"def {name}({', '.join(self.params)}):\n" + "\n".join(doc + body)

    def compile(self, outputs, name="program"):
        """``(function, source)``: the program returning ``[outputs...]`` as a list.

        ``source`` is the text, or for a program run as steps a function that
        makes the text when asked (it is long, and rarely read).
        """
        wrap = getattr(self.xp, "wrap_program", None)  # jax: the whole program is one jax.jit
        if len(self.lines) > STRAIGHT_LINE_LIMIT:
            fn = self._stepper(outputs)
            return (wrap(fn) if wrap else fn), lambda: self.source(outputs, name)
        source = self.source(outputs, name)
        namespace = dict(self.namespace)
        exec(compile(source, f"<ricci {name}>", "exec"), namespace)  # noqa: S102 (our own generated code)
        return (wrap(namespace[name]) if wrap else namespace[name]), source

    def _stepper(self, outputs):
        """Run the lines as steps over a list of slots, one compiled template per distinct line shape."""
        slot = {p: i for i, p in enumerate(self.params)}
        templates, steps, sources = {}, [], []
        last = {}
        for i, (target, _, uses, _) in enumerate(self.lines):
            for u in uses:
                last[u] = i
        keep = set(self.params) | {v.name for v in outputs}
        for i, (target, text, uses, _) in enumerate(self.lines):
            order = list(dict.fromkeys(uses))
            arg = {u: f"a{k}" for k, u in enumerate(order)}
            body = _NAME.sub(lambda m: arg.get(m.group(0), m.group(0)), text)
            shape = (body, len(order), target is None)
            if shape not in templates:
                fn = f"s{len(templates)}"
                templates[shape] = fn
                params = ", ".join(arg[u] for u in order)
                if target is None:  # an in-place statement on its first operand
                    sources.append(f"def {fn}({params}):\n    {body}\n    return a0")
                else:
                    sources.append(f"def {fn}({params}):\n    return {body}")
            out = target if target is not None else order[0]
            if out not in slot:
                slot[out] = len(slot)
            dead = tuple(slot[u] for u in order if last.get(u) == i and u not in keep)
            steps.append((templates[shape], slot[out], tuple(slot[u] for u in order), dead))
        namespace = dict(self.namespace)
        exec(compile("\n".join(sources), "<ricci steps>", "exec"), namespace)  # noqa: S102 (our own code)
        plan = [(namespace[fn], out, ins, dead) for fn, out, ins, dead in steps]
        n_slots, n_params = len(slot), len(self.params)
        results = [slot[v.name] for v in outputs]

        def program(*args):
            values = list(args) + [None] * (n_slots - n_params)
            for fn, out, ins, dead in plan:
                values[out] = fn(*[values[i] for i in ins])
                for i in dead:
                    values[i] = None
            return [values[i] for i in results]

        return program
