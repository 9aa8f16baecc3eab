"""Derivative rules of the structural nodes, and the dispatch table.

- Contraction: the derivative with respect to one factor is the same network
  with that factor removed; its legs become free indices, joined to the old
  labels by deltas (which simplification then merges away). A variable
  occurring at several factors gets one contribution per occurrence. When
  several factors of a larger network are needed, the cotangent goes down a
  planned pairwise tree instead, so the partial products ("environments")
  are shared (:mod:`ricci.environments`).
- Sum: each term receives the cotangent times its coefficient.
- Primitive application: the primitive's own rule (:mod:`ricci.primitives`).

Cotangents may carry ``k`` leading outer axes (Jacobians and Hessians are
vector-Jacobian products with an identity seed), so every rule threads the
outer labels through unchanged.

>>> import numpy as np, ricci
>>> A, x = ricci.Tensor("A", (2, 2)), ricci.Tensor("x", (2,))
>>> g = ricci.grad(ricci.einsum("i,ij,j->", x, A, x), x)   # (A + Aᵀ) x
>>> g(A=np.array([[1., 2.], [3., 4.]]), x=np.array([1., 1.]))
array([ 7., 13.])
"""
from .environments import contract_cotangents
from .expr import Add, Apply, Contract, add, contract


def contract_vjp(node, cotangent, k, needed):
    # One needed factor: its whole environment as one network. Several: through a
    # planned pairwise tree sharing the partial products, where that is cheaper
    # (see ricci.environments).
    return contract_cotangents(node, cotangent, k, needed)


def contract_jvp(node, tangents):
    sizes = dict(enumerate(node.sizes))
    terms = []
    for pos, tangent in enumerate(tangents):
        if tangent is not None:
            factors = list(node.factors)
            factors[pos] = (tangent, factors[pos][1])
            terms.append((1.0, contract(node.out, factors, sizes)))
    return add(terms)


def add_vjp(node, cotangent, k, needed):
    for pos, (coef, child) in enumerate(node.terms):
        if child in needed:
            yield pos, add([(coef, cotangent)])


def add_jvp(node, tangents):
    return add([(coef, t) for (coef, _), t in zip(node.terms, tangents) if t is not None])


def apply_vjp(node, cotangent, k, needed):
    return node.primitive.vjp(node, cotangent, k, needed)


def apply_jvp(node, tangents):
    return node.primitive.jvp(node, tangents)


# node type -> (vector-Jacobian rule, Jacobian-vector rule); leaves have no rule.
RULES = {
    Contract: (contract_vjp, contract_jvp),
    Add: (add_vjp, add_jvp),
    Apply: (apply_vjp, apply_jvp),
}
