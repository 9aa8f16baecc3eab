"""Environments: every cotangent of a contraction for the price of one backward pass.

The cotangent of one factor of a network is its *environment*: the whole
network minus that factor, with the cotangent attached. Planning each
environment separately costs about N forward passes for N needed factors.
Here the network is instead written as a planned tree of small contractions
(opt_einsum's path functions, on label sets), and the cotangent is pushed
down that tree: each step contracts the parent's cotangent with the
siblings, so the partial products are shared by every cotangent (reverse
mode through the tree costs at most about three forward passes, whatever N).

:func:`contract_cotangents` chooses between the two by planned FLOPs (exact
Python integers); :func:`tree_cotangents` and :func:`separate_cotangents`
are the two candidates. Everything is iterative and linear in the size of
the network.

>>> import ricci
>>> from ricci.expr import contract
>>> Ms = [ricci.Tensor(f"M{i}", (3, 3)) for i in range(8)]
>>> ring = contract((), [(M, (i, (i + 1) % 8)) for i, M in enumerate(Ms)])   # trace(M0 M1 ... M7)
>>> grads = ricci.grad(ring, Ms)
>>> ricci.cost(grads).flops <= 3 * ricci.cost(ring).flops
True
"""
from .dims import assumed
from .expr import Add, Constant, Contract, Delta, Zeros, contract
from .primitives import outer_labels

# Plan the separate environments too (to compare costs) only while that is cheap:
# up to this many (needed factors x factors); beyond it the tree is taken.
COMPARE_LIMIT = 256
# The tree must save at least this fraction of the separate networks' FLOPs:
# small networks keep their familiar printed form unless the gain is real.
MIN_SAVING = 0.25
# Largest network planned exactly (opt_einsum's "auto" up to 4 factors, dynamic programming
# up to this many — as the engine plans the forward, so the tree is no worse than it); greedy beyond.
AUTO_LIMIT = 12
# Smaller networks keep the separate environments (their printed forms are familiar).
MIN_FACTORS = 4


def plan_path(inputs, output, sizes):
    """A contraction path (opt_einsum's linear convention) for label sets.

    ``inputs`` is a list of label collections, ``output`` the output labels,
    ``sizes`` a dict label -> dimension; labels may be any hashable objects
    and there is no limit on their number. A named dimension counts as
    :data:`ricci.dims.ASSUMED_SIZE`, so a derivative does not depend on the sizes.

    >>> plan_path([{0, 1}, {1, 2}, {2, 3}], {0, 3}, {0: 2, 1: 9, 2: 9, 3: 2})
    [(0, 1), (0, 1)]
    """
    from .engine.paths import plan_path as planned  # the engine's planner: the tree is no worse than the forward

    if len(inputs) < 2:
        return [tuple(range(len(inputs)))] if inputs else []
    # label tuples in a deterministic order (a set of strings iterates by hash, which varies by process)
    labels = [tuple(sorted(labs, key=repr)) if isinstance(labs, (set, frozenset)) else tuple(labs) for labs in inputs]
    carried = {lab for labs in labels for lab in labs}
    present = tuple(lab for lab in (sorted(output, key=repr) if isinstance(output, (set, frozenset)) else output)
                    if lab in carried)
    return planned(labels, present, {lab: assumed(sizes[lab]) for lab in carried})


def step_flops(operand_labels, sizes, kept):
    """opt_einsum's FLOP count of one contraction step, as an exact integer.

    >>> step_flops([(0, 1), (1, 2)], {0: 2, 1: 3, 2: 4}, (0, 2))   # a 2x3 @ 3x4 product
    48
    """
    union = set()
    for labs in operand_labels:
        union.update(labs)
    size = 1
    for lab in union:
        size *= assumed(sizes[lab])
    factor = max(1, len(operand_labels) - 1) + (1 if union - set(kept) else 0)
    return size * factor


def network_flops(inputs, output, sizes):
    """Planned FLOPs of a whole network (label collections), exact integers.

    >>> network_flops([(0, 1), (1, 2), (2, 3)], (0, 3), {0: 2, 1: 9, 2: 9, 3: 2})
    396
    """
    ops = [tuple(dict.fromkeys(labs)) for labs in inputs]
    total = 0
    out = set(output)
    for step in plan_path(ops, output, sizes):
        chosen = [ops[i] for i in step]
        rest = [ops[i] for i in range(len(ops)) if i not in step]
        needed = out.union(*rest) if rest else out
        kept = tuple(lab for lab in dict.fromkeys(lab for labs in chosen for lab in labs) if lab in needed)
        total += step_flops(chosen, sizes, kept)
        ops = rest + [kept]
    return total


def expr_flops(expr):
    """Planned FLOPs of an expression's own top-level network (0 for non-contractions)."""
    if isinstance(expr, Add) and expr.offset == 0 and len(expr.terms) == 1:
        expr = expr.terms[0][1]
    if not isinstance(expr, Contract):
        return 0
    sizes = dict(enumerate(expr.sizes))
    return network_flops([labs for _, labs in expr.factors], expr.out, sizes)


class Tree:
    """A contraction's factors as a planned tree of small contractions.

    Leaves ``0 .. n-1`` are the factors; each later id is a step
    ``(operand ids, kept labels)``, the last one the root (whose labels are
    the contraction's output). ``labels[i]`` are the labels of id ``i``.
    """

    def __init__(self, node):
        self.node = node
        self.sizes = dict(enumerate(node.sizes))
        n = len(node.factors)
        self.labels = [labs for _, labs in node.factors]
        self.exprs = [child for child, _ in node.factors]
        self.steps = {}  # id -> operand ids
        # how many live operands carry each label, to know which labels a step keeps
        carriers = {}
        for labs in self.labels:
            for lab in set(labs):
                carriers[lab] = carriers.get(lab, 0) + 1
        out = set(node.out)
        live = list(range(n))
        path = plan_path(self.labels, node.out, self.sizes)
        for count, step in enumerate(path):
            ids = [live[i] for i in step]
            for i in sorted(step, reverse=True):  # in place: a memmove per step, not a Python loop over live
                del live[i]
            live.append(len(self.labels))
            gone = {}
            for i in ids:
                for lab in set(self.labels[i]):
                    gone[lab] = gone.get(lab, 0) + 1
            if count == len(path) - 1:
                kept = node.out
            else:
                seen = dict.fromkeys(lab for i in ids for lab in self.labels[i])
                kept = tuple(lab for lab in seen if carriers[lab] > gone[lab] or lab in out)
            for lab, g in gone.items():
                carriers[lab] -= g
            for lab in set(kept):
                carriers[lab] = carriers.get(lab, 0) + 1
            self.steps[len(self.labels)] = ids
            self.labels.append(kept)
            self.exprs.append(None)
        self.root = len(self.labels) - 1

    def sizes_of(self, i):
        """The sizes of id ``i``'s labels (what contract needs: not the whole network's, O(N) to copy)."""
        sizes = self.sizes
        return {lab: sizes[lab] for lab in self.labels[i]}

    def expr(self, i):
        """The partial product of id ``i`` (built once; iterative over the tree)."""
        stack = [i]
        while stack:
            j = stack[-1]
            if self.exprs[j] is not None:
                stack.pop()
                continue
            missing = [o for o in self.steps[j] if self.exprs[o] is None]
            if missing:
                stack.extend(missing)
                continue
            self.exprs[j] = contract(
                self.labels[j], [(self.exprs[o], self.labels[o]) for o in self.steps[j]], self.sizes_of(j)
            )
            stack.pop()
        return self.exprs[i]


def _delta_free(expr, depth=0):
    """Whether ``expr``, as a factor, brings contract() no delta: not a delta, and none
    reaches the network through a scaled term or a spliced product (a few levels deep)."""
    if expr._plain or isinstance(expr, (Zeros, Constant)):
        return True
    if depth > 3 or isinstance(expr, Delta):
        return False
    if isinstance(expr, Add):  # a scaled term: its coefficient is folded out
        return _delta_free(expr.terms[0][1], depth + 1)
    if isinstance(expr, Contract) and not expr._hoistable:  # a product: spliced in
        return all(_delta_free(c, depth + 1) for c in expr.children)
    return False


def _leaf_cotangent(outer, cot, cot_labels, others, labels, shape):
    """``contract_vjp``'s environment: legs joined to ``labels`` by deltas (traces, repeats).

    When ``labels`` are distinct and no factor brings a delta, merging those
    deltas only renames each label to its leg: the network is then built
    directly on ``labels`` (the same node, without the deltas' simplification).
    """
    if (len(set(labels)) == len(labels) and not set(labels).intersection(outer)
            and _delta_free(cot) and all(_delta_free(c) for c, _ in others)):
        return contract(outer + tuple(labels), [(cot, cot_labels)] + others, dict(zip(labels, shape)))
    legs = tuple(("leg", i) for i in range(len(shape)))
    deltas = [(Delta(n), (leg, lab)) for leg, lab, n in zip(legs, labels, shape)]
    return contract(outer + legs, [(cot, cot_labels)] + others + deltas)


def tree_cotangents(node, cotangent, k, positions):
    """Cotangents of the factors at ``positions``, pushed down a planned tree.

    Returns ``(list of (position, cotangent), the expressions built)``.
    """
    tree = Tree(node)
    n = len(node.factors)
    outer = outer_labels(k)
    wanted = set(positions)
    # which tree ids lie above a wanted leaf
    needs = [i in wanted for i in range(len(tree.labels))]
    for s in range(n, len(tree.labels)):
        needs[s] = any(needs[o] for o in tree.steps[s])
    cots = {tree.root: cotangent}
    built, result = [], []
    for s in range(tree.root, n - 1, -1):
        cot = cots.pop(s, None)
        if cot is None:
            continue
        cot_labels = outer + tuple(tree.labels[s])
        ops = tree.steps[s]
        for j in ops:
            if not needs[j]:
                continue
            others = [(tree.expr(o), tree.labels[o]) for o in ops if o != j]
            if j < n:
                grad = _leaf_cotangent(outer, cot, cot_labels, others, tree.labels[j], node.factors[j][0].shape)
                result.append((j, grad))
            else:
                grad = contract(outer + tuple(tree.labels[j]), [(cot, cot_labels)] + others, tree.sizes_of(j))
                cots[j] = grad
            built.append(grad)
    built.extend(e for e in tree.exprs[n:] if e is not None)
    result.sort(key=lambda pc: pc[0])
    return result, built


def separate_cotangents(node, cotangent, k, positions):
    """Today's rule: one whole network per needed factor, the cotangent attached."""
    outer = outer_labels(k)
    result = []
    for pos in positions:
        child, labels = node.factors[pos]
        others = [f for j, f in enumerate(node.factors) if j != pos]
        result.append((pos, _leaf_cotangent(outer, cotangent, outer + node.out, others, labels, child.shape)))
    return result


def _total_flops(exprs):
    seen, total = set(), 0
    for e in exprs:
        if id(e) not in seen:
            seen.add(id(e))
            total += expr_flops(e)
    return total


def contract_cotangents(node, cotangent, k, needed):
    """The cotangents of a contraction's needed factors: ``[(position, cotangent), ...]``.

    One needed factor, or fewer than ``MIN_FACTORS`` factors: the separate network
    (the planner contracts the small cotangent first). Otherwise the
    planned tree, unless planning the separate networks is affordable and
    shows them cheaper (the tree must save ``MIN_SAVING`` of their FLOPs).
    """
    positions = [pos for pos, child in enumerate(node.children) if child in needed]
    if len(positions) < 2 or len(node.factors) < MIN_FACTORS:
        return separate_cotangents(node, cotangent, k, positions)
    tree, built = tree_cotangents(node, cotangent, k, positions)
    if len(positions) * len(node.factors) > COMPARE_LIMIT:
        return tree
    separate = separate_cotangents(node, cotangent, k, positions)
    tree_cost = _total_flops(built)
    separate_cost = _total_flops(g for _, g in separate)
    if tree_cost < separate_cost * (1 - MIN_SAVING):
        return tree
    return separate
