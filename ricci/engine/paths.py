"""Contraction orders: which pair of factors to contract next.

A path is a list of pairs in opt_einsum's convention (each step removes two
operands and appends their product). Small networks are planned exactly
(all three orders of three factors; opt_einsum's dynamic programming up to
:data:`EXACT_LIMIT`), larger ones greedily, so planning time stays near
linear in the network's size. (opt_einsum's random-greedy is available by
name, but it reseeds Python's global ``random``, so "auto" never uses it.) Paths depend only on the network's structure
and sizes, so they are cached.

``optimize`` accepts ``"auto"``, any opt_einsum optimizer name (``"greedy"``,
``"optimal"``, ``"dp"``, ``"random-greedy"``, ...), an
``opt_einsum.paths.PathOptimizer``, and, where cotengra is installed,
``"cotengra"`` or a cotengra optimizer object.

>>> plan_path([("a", "b"), ("b", "c"), ("c", "d")], ("a", "d"), {"a": 100, "b": 2, "c": 100, "d": 2})
[(1, 2), (0, 1)]
"""
import functools

from opt_einsum import paths as _oe_paths

from ..errors import ArgumentError

EXACT_LIMIT = 12  # networks up to this many factors are planned by dynamic programming (~1 ms)


def check_optimize(optimize):
    """Validate an ``optimize=`` argument; returns a hashable key for caches."""
    if isinstance(optimize, str):
        if optimize == "auto" or optimize in _oe_paths._PATH_OPTIONS:
            return optimize
        if optimize == "cotengra":
            try:
                import cotengra  # noqa: F401
            except ImportError:
                raise ArgumentError(
                    'optimize="cotengra" needs cotengra: pip install cotengra (or "ricci[cotengra]")'
                ) from None
            return optimize
        names = ", ".join(sorted(["auto", "cotengra", *_oe_paths._PATH_OPTIONS]))
        raise ArgumentError(f"unknown optimize={optimize!r}; use one of {names}, or an optimizer object")
    if isinstance(optimize, _oe_paths.PathOptimizer) or callable(optimize) or hasattr(optimize, "search"):
        return optimize
    raise ArgumentError(
        f"optimize must be an optimizer name such as 'auto' or 'greedy', or an optimizer object; "
        f"got {type(optimize).__name__}"
    )


def pair_flops(a, b, keep, sizes):
    """opt_einsum's FLOP count of contracting operands with label sets ``a`` and ``b``."""
    union = set(a) | set(b)
    size = 1
    for lab in union:
        size *= sizes[lab]
    summed = any(lab not in keep for lab in union)
    return size * (2 if summed else 1)


def path_cost(inputs, output, sizes, path):
    """``(FLOPs, largest intermediate in elements)`` of ``path``, exact integers."""
    ops = [frozenset(labs) for labs in inputs]
    flops, largest = 0, 0
    for i, j in path:
        a, b = ops[i], ops[j]
        rest = [op for k, op in enumerate(ops) if k not in (i, j)]
        keep = set(output).union(*rest)
        flops += pair_flops(a, b, keep, sizes)
        new = frozenset(lab for lab in a | b if lab in keep)
        size = 1
        for lab in new:
            size *= sizes[lab]
        largest = max(largest, size)
        ops = rest + [new]
    return flops, largest


def _three(inputs, output, sizes):
    """The cheapest of the three orders of three factors."""
    best = None
    for first in ((0, 1), (0, 2), (1, 2)):
        path = [first, (0, 1)]
        cost = path_cost(inputs, output, sizes, path)
        if best is None or cost < best[0]:
            best = (cost, path)
    return best[1]


@functools.lru_cache(maxsize=4096)
def _cached(inputs, output, sizes, optimize):
    return _search(inputs, output, dict(sizes), optimize)


def _search(inputs, output, sizes, optimize):
    n = len(inputs)
    if n <= 1:
        return []
    if n == 2:
        return [(0, 1)]
    sets = [frozenset(labs) for labs in inputs]
    out = frozenset(output)
    if optimize == "auto":
        if n == 3:
            return _three(inputs, output, sizes)
        if n <= EXACT_LIMIT:
            path = [tuple(step) for step in _oe_paths.get_path_fn("dp")(sets, out, sizes, None)]
        else:
            path = [tuple(step) for step in _oe_paths.get_path_fn("greedy")(sets, out, sizes, None)]
        return _with_absorption(inputs, output, sizes, path)
    if optimize == "cotengra":
        import cotengra

        optimize = cotengra.HyperOptimizer(max_repeats=16, progbar=False)
    if isinstance(optimize, str):
        path = _oe_paths.get_path_fn(optimize)(sets, out, sizes, None)
    elif hasattr(optimize, "search") and not isinstance(optimize, _oe_paths.PathOptimizer):  # cotengra
        path = optimize.search(sets, out, sizes).get_path()
    else:
        path = optimize(sets, out, sizes, None)
    return [tuple(step) for step in path]


def _with_absorption(inputs, output, sizes, path):
    """``path``, or absorption steps then greedy, whichever is cheaper.

    Multiplying a factor into another that holds all its indices never makes
    anything bigger, and taking those steps first keeps hyperedges (an index
    on three or more factors) from luring the planner into outer products.
    """
    counts = {}
    for labs in inputs:
        for lab in set(labs):
            counts[lab] = counts.get(lab, 0) + 1
    if len(inputs) > 32 or max(counts.values(), default=0) < 3:
        return path
    from opt_einsum import get_symbol

    from ..plan import absorb_steps

    letter = {lab: get_symbol(i) for i, lab in enumerate(counts)}
    steps, rest = absorb_steps(["".join(letter[lab] for lab in set(labs)) for labs in inputs],
                               "".join(letter[lab] for lab in output))
    if not steps:
        return path
    by_letter = {letter[lab]: sizes[lab] for lab in counts}
    rest_sets = [frozenset(labs) for labs in rest]
    out_set = frozenset(letter[lab] for lab in output)
    tail = _oe_paths.get_path_fn("greedy")(rest_sets, out_set, by_letter, None) if len(rest) > 1 else []
    candidate = steps + [tuple(step) for step in tail]
    cost = lambda p: path_cost(inputs, output, sizes, p)  # noqa: E731
    return candidate if cost(candidate) < cost(path) else path


def plan_path(inputs, output, sizes, optimize="auto"):
    """A pairwise contraction path for factors with label tuples ``inputs`` onto ``output``.

    Labels may be any hashables; they are renamed canonically, so networks of
    the same structure and sizes share one cached plan.
    """
    if len(inputs) < 3:
        return [(0, 1)] if len(inputs) == 2 else []
    canon = {}
    for lab in [lab for labs in inputs for lab in labs] + list(output):
        canon.setdefault(lab, len(canon))
    c_inputs = tuple(tuple(sorted({canon[lab] for lab in labs})) for labs in inputs)
    c_output = tuple(canon[lab] for lab in output)
    c_sizes = tuple(sorted((canon[lab], dim) for lab, dim in sizes.items() if lab in canon))
    try:
        hash(optimize)
    except TypeError:
        return _search(c_inputs, c_output, dict(c_sizes), optimize)
    path = _cached(c_inputs, c_output, c_sizes, optimize)
    return list(path)
