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
    """``(FLOPs, largest intermediate in elements)`` of ``path``, exact integers (linear time)."""
    live = {i: frozenset(labs) for i, labs in enumerate(inputs)}
    holders = {}
    for labs in live.values():
        for lab in labs:
            holders[lab] = holders.get(lab, 0) + 1
    out = set(output)
    flops, largest, next_id = 0, 0, len(live)
    for i, j in (_oe_paths.linear_to_ssa(path) if len(path) > 1 else path):
        a, b = live.pop(i), live.pop(j)
        keep = {lab for lab in a | b if lab in out or holders[lab] - (lab in a) - (lab in b) > 0}
        flops += pair_flops(a, b, keep, sizes)
        size = 1
        for lab in keep:
            size *= sizes[lab]
        largest = max(largest, size)
        for lab in a | b:
            holders[lab] -= (lab in a) + (lab in b)
        for lab in keep:
            holders[lab] += 1
        live[next_id] = frozenset(keep)
        next_id += 1
    return flops, largest


def _absorbed_greedy(inputs, output, sizes):
    """Absorb every factor whose indices another factor holds (smallest first), then greedy.

    Such a step never makes anything bigger. It is what keeps a tensor train's
    physical vectors going into their cores before greedy joins cores to each
    other. Linear-ish: a factor's partners are found among the holders of its
    rarest index. Returns a linear path, or None when nothing is absorbed.
    """
    import heapq

    live = {i: frozenset(labs) for i, labs in enumerate(inputs)}
    holders = {}
    for i, labs in live.items():
        for lab in labs:
            holders.setdefault(lab, set()).add(i)
    out = set(output)
    ssa, next_id = [], len(live)
    heap = [(len(labs), i) for i, labs in live.items()]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        small = live.get(i)
        if small is None or not small:
            continue
        rare = min(small, key=lambda lab: len(holders[lab]))
        partners = [j for j in holders[rare] if j != i and small <= live[j]]
        if not partners:
            continue
        j = min(partners, key=lambda k: (len(live[k]), k))
        big = live.pop(j)
        del live[i]
        for lab in small | big:
            holders[lab].discard(i)
            holders[lab].discard(j)
        new = frozenset(lab for lab in big if lab in out or holders[lab])
        for lab in new:
            holders[lab].add(next_id)
        live[next_id] = new
        ssa.append((i, j))
        heapq.heappush(heap, (len(new), next_id))
        next_id += 1
    if not ssa:
        return None
    ids = list(live)
    if len(ids) > 1:
        tail = _oe_paths.ssa_greedy_optimize([live[k] for k in ids], frozenset(output), sizes)
        for a, b in tail:
            pick = lambda k: ids[k] if k < len(ids) else next_id + (k - len(ids))
            ssa.append((pick(a), pick(b)))
    return [tuple(step) for step in _oe_paths.ssa_to_linear(ssa)]


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
        if any(len(step) != 2 for step in path):
            path = [(0, 1)] * (n - 1)
        return _with_absorption(inputs, output, sizes, path)
    if optimize == "cotengra":
        import cotengra

        # in this process: forking workers is unsafe once jax or torch threads run, and slower for
        # the small networks ricci plans
        optimize = cotengra.HyperOptimizer(max_repeats=16, progbar=False, parallel=False)
    if isinstance(optimize, str):
        path = _oe_paths.get_path_fn(optimize)(sets, out, sizes, None)
    elif hasattr(optimize, "search") and not isinstance(optimize, _oe_paths.PathOptimizer):  # cotengra
        path = optimize.search(sets, out, sizes).get_path()
    else:
        path = optimize(sets, out, sizes, None)
    path = [tuple(step) for step in path]
    if any(len(step) != 2 for step in path):  # a planner's one-operand step: use a plain pairwise order
        path = [tuple(step) for step in _oe_paths.greedy(sets, out, sizes)]
        if any(len(step) != 2 for step in path):
            path = [(0, 1)] * (n - 1)
    return path


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
        candidate = _absorbed_greedy(inputs, output, sizes) if len(inputs) > EXACT_LIMIT else None
        if candidate is None:
            return path
        cost = lambda p: path_cost(inputs, output, sizes, p)
        return candidate if cost(candidate) < cost(path) else path
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
    cost = lambda p: path_cost(inputs, output, sizes, p)
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
    c_output = tuple(canon[lab] for lab in output)
    held = {}
    for labs in inputs:
        for lab in set(labs):
            held[lab] = held.get(lab, 0) + 1
    # an index on one factor alone (and not kept) is summed within it before any pair: leave it out,
    # so no planner proposes one-operand steps
    c_inputs = tuple(tuple(sorted({canon[lab] for lab in labs if held[lab] > 1 or lab in output}))
                     for labs in inputs)
    c_sizes = tuple(sorted((canon[lab], dim) for lab, dim in sizes.items() if lab in canon))
    try:
        hash(optimize)
    except TypeError:
        return _search(c_inputs, c_output, dict(c_sizes), optimize)
    path = _cached(c_inputs, c_output, c_sizes, optimize)
    return list(path)
