"""Turning an expression DAG into a list of steps: which nodes to compute, which to fuse.

A node used once by a contraction is inlined into it (a nested einsum, or a
scaled single term), so the planner sees one whole network; a node used
twice or more is computed once and shared. The result is a list of
:class:`Network` s and function steps in dependency order, used by the
evaluator, the cost model, the printer and the network view alike.

>>> import ricci
>>> A, B, C = (ricci.Tensor(n, (2, 2)) for n in "ABC")
>>> AB = ricci.einsum("ij,jk->ik", A, B)
>>> ABC = ricci.einsum("ik,kl->il", AB, C)
>>> net = flatten(ABC, uses_of([ABC])[1])
>>> [f.name for f, _ in net.factors]
['A', 'B', 'C']
"""
import itertools
from collections import Counter

from .expr import Add, Apply, Constant, Contract, apply, topological_order


class Network:
    """A flattened contraction: ``scale · einsum(factors -> out)``.

    ``factors`` is a list of ``(node, labels)`` whose nodes are computed by
    other steps; ``sizes`` maps every label to its dimension. Output labels
    that no factor carries are broadcast.
    """

    def __init__(self, out, factors, sizes, scale):
        self.out, self.factors, self.sizes, self.scale = out, factors, sizes, scale

    def carried(self):
        """The labels some factor carries."""
        return {lab for _, labs in self.factors for lab in labs}

    def letters(self):
        """One einsum letter per label, in order of first appearance (factors first)."""
        from opt_einsum import get_symbol

        order = {}
        for lab in itertools.chain((lab for _, labs in self.factors for lab in labs), self.out):
            order.setdefault(lab, get_symbol(len(order)))
        return order

    def subscripts(self):
        """``(einsum string over present output labels, present output labels)``."""
        letter = self.letters()
        carried = {lab for _, labs in self.factors for lab in labs}
        present = tuple(lab for lab in self.out if lab in carried)
        lhs = ",".join("".join(letter[lab] for lab in labs) for _, labs in self.factors)
        return f"{lhs}->{''.join(letter[lab] for lab in present)}", present


def uses_of(roots):
    """How many parents (and root slots) use each node."""
    order = topological_order(roots)
    uses = Counter(roots)
    for node in order:
        uses.update(node.children)
    return order, uses


def _inlinable(node, uses):
    if uses[node] != 1:
        return False
    if isinstance(node, Contract):
        return True
    return isinstance(node, Add) and node.offset == 0 and len(node.terms) == 1


# A flattened network holds at most this many factors: enough for the planner to find the
# good order within one layer of a model (and to fuse a generalized Jacobian away), few
# enough that it plans them well and fast. Beyond it, a single-use sub-network is its own step.
MAX_FACTORS = 8


def flatten(root, uses, max_factors=MAX_FACTORS):
    """The network of contraction ``root``, with single-use sub-networks inlined.

    Sub-networks are inlined depth first while the whole stays within
    ``max_factors`` factors; the rest stay factors (computed by their own
    steps). Iterative, so any depth is fine.
    """
    fresh = itertools.count(len(root.sizes))
    sizes = dict(enumerate(root.sizes))
    factors, routed = [], set()
    scale = 1.0
    budget = [max_factors - len(root.factors)]  # how many more factors inlining may add
    stack = [(child, labs) for child, labs in reversed(root.factors)]
    while stack:
        node, labels = stack.pop()
        routed.update(labels)
        if _inlinable(node, uses) and isinstance(node, Contract) and len(node.factors) - 1 <= budget[0]:
            budget[0] -= len(node.factors) - 1
            mapping = dict(zip(node.out, labels))
            for lab, dim in enumerate(node.sizes):
                if lab not in mapping:
                    mapping[lab] = next(fresh)
                    sizes[mapping[lab]] = dim
            for child, labs in reversed(node.factors):
                stack.append((child, tuple(mapping[lab] for lab in labs)))
        elif _inlinable(node, uses) and isinstance(node, Add):
            coef, term = node.terms[0]
            scale *= coef
            stack.append((term, labels))
        elif isinstance(node, Constant) and node.value.ndim == 0:
            scale *= node.value.item()
        else:
            factors.append((node, labels))
    carried = {lab for _, labs in factors for lab in labs} | set(root.out)
    for lab in routed - carried:  # summed over a broadcast index: a factor of its size
        scale *= sizes[lab]
    return Network(root.out, factors, sizes, scale)


def use_solve(net, uses):
    """Replace ``inv(X)`` contracted with one other factor by ``solve(X, ·)``.

    Only where the inverse is used nowhere else (so it is never formed) and
    one of its indices joins exactly one other factor once: ``X⁻¹ B`` becomes
    ``solve(X, B)`` and ``B X⁻¹`` becomes ``solve(Xᵀ, Bᵀ)``ᵀ — cheaper and more
    accurate than forming the inverse.
    """
    def single_use_inverse(node):
        return isinstance(node, Apply) and node.primitive.name == "inv" and uses[node] == 1

    if not any(single_use_inverse(node) for node, _ in net.factors):
        return net
    from .linalg import PRIMITIVES as _primitives

    factors = list(net.factors)
    changed, patient = True, True
    while changed or patient:
        if not changed:
            patient = False  # no rewrite left that avoids forming another inverse: allow those
        changed = False
        for i, (node, labels) in enumerate(factors):
            if not single_use_inverse(node):
                continue
            if labels[0] == labels[1]:
                continue
            for side, lab in ((0, labels[1]), (1, labels[0])):  # contract inv's column, else its row
                if lab in net.out:
                    continue
                partners = [j for j, (_, labs) in enumerate(factors) if j != i and lab in labs]
                if len(partners) != 1 or factors[partners[0]][1].count(lab) != 1:
                    continue
                if patient and single_use_inverse(factors[partners[0]][0]):
                    continue  # first solve against that inverse's own partner
                j = partners[0]
                rhs, rhs_labels = factors[j]
                axis = rhs_labels.index(lab)
                solved = apply(_primitives["solve"], [node.children[0], rhs], (axis, side == 1))
                kept = labels[side]
                new = (solved, (kept,) + rhs_labels[:axis] + rhs_labels[axis + 1:])
                factors = [f for k, f in enumerate(factors) if k not in (i, j)] + [new]
                changed = True
                break
            if changed:
                break
    return net if factors == net.factors else Network(net.out, factors, net.sizes, net.scale)


def schedule(roots, max_factors=MAX_FACTORS):
    """Steps to compute ``roots``: a list of ``(node, network or None, dependencies)``.

    Steps come in dependency order; ``network`` is set for contractions.
    """
    order, uses = uses_of(roots)
    known = set(order)
    wanted = set(roots)
    steps = []
    for node in reversed(order):
        if node not in wanted:
            continue
        if isinstance(node, Contract):
            net = use_solve(flatten(node, uses, max_factors), uses)
            pending = [(node, net, tuple(dict.fromkeys(f for f, _ in net.factors)))]
        else:
            pending = [(node, None, tuple(dict.fromkeys(node.children)))]
        while pending:  # nodes made by planning (solves) are scheduled right away
            step = pending.pop()
            wanted.update(step[2])
            steps.append(step)
            for dep in step[2]:
                if dep not in known:
                    known.add(dep)
                    pending.append((dep, None, tuple(dict.fromkeys(dep.children))))
    steps.reverse()
    return steps


def absorb_steps(inputs, output):
    """Pairwise steps that multiply a factor into another whose indices contain its own.

    Such a Hadamard-like step never makes anything bigger than the factor it
    lands in, and taking them first keeps hyperedges (an index on many
    factors) from misleading the planner into outer products. Returns
    ``(steps, remaining inputs)`` in opt_einsum's path convention: each step
    removes two operands and appends its result.

    >>> absorb_steps(["ab", "a", "a", "ca"], "cb")
    ([(1, 2), (0, 2)], ['ca', 'ab'])
    """
    ops = list(inputs)
    steps = []
    while True:
        best = None
        for i, small in enumerate(ops):
            for j, big in enumerate(ops):
                if i != j and set(small) <= set(big) and len(small) <= len(big):
                    key = (len(small), len(big), i, j)
                    best = min(best, key) if best else key
        if best is None:
            return steps, ops
        _, _, i, j = best
        merged = ops[j]
        others = [op for k, op in enumerate(ops) if k not in (i, j)]
        needed = set(output).union(*others) if others else set(output)
        merged = "".join(lab for lab in dict.fromkeys(merged) if lab in needed)
        steps.append((min(i, j), max(i, j)))
        ops = others + [merged]
