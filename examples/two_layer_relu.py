"""Every node's gradient in a two-layer ReLU network, and the "identity" Jacobians.

Reproduces tutorial seed 004 (the question "Partial derivative of a matrix w.r.t.
another matrix"):

    H0 = X W1,  H1 = H0 + b1,  H2 = max(0, H1),  H3 = H2 W2,  Z = H3 + b2,  L = loss(Z)
    X: N×D, W1: D×H, b1: H, W2: H×C, b2: C   (the biases broadcast over the N rows)

The asker computes ∂L/∂b2, ∂L/∂H3, ∂L/∂W2, ∂L/∂H2, ∂L/∂H1, ∂L/∂H0, ∂L/∂W1, ∂L/∂X and
is stuck on two factors: ∂Z/∂H3 and ∂H1/∂H0. Both are identities on pairs of
indices, δ_ik δ_jl — "the identity matrix" of the 4-D world — so ∂L/∂H3 = ∂L/∂Z and
∂L/∂H0 = ∂L/∂H1. ricci returns them as exactly that: a core of ones times deltas.

The derivation holds for any loss: L = Σ Z ⊙ dL_dZ stands for "a loss whose
gradient at Z is dL_dZ", so the printed formulas read like the question's chain;
at the end the loss is softmax cross-entropy, where ∂L/∂Z = softmax(Z) − Y.
Each node's gradient is derived by standing a Tensor in for the node and
differentiating the rest of the network; each is checked against finite
differences and against the hand-written backward pass (with the transposes the
question leaves out: ∂L/∂W2 = H2ᵀ ∂L/∂H3, ∂L/∂H2 = ∂L/∂H3 W2ᵀ, ...).

Run: .venv/bin/python examples/two_layer_relu.py
"""
import numpy as np

from _check import check, check_true, fd_grad, finish, random_inputs, section, show
import ricci

N, D, H, C = 4, 3, 5, 2
X, W1, b1 = ricci.Tensor("X", (N, D)), ricci.Tensor("W1", (D, H)), ricci.Tensor("b1", (H,))
W2, b2 = ricci.Tensor("W2", (H, C)), ricci.Tensor("b2", (C,))
dL_dZ = ricci.Tensor("dL_dZ", (N, C))  # the gradient arriving at Z from whatever loss follows

# The network as a chain of layers: node name -> how it is computed from the previous node.
LAYERS = [
    ("H0", lambda X_: ricci.einsum("nd,dh->nh", X_, W1)),
    ("H1", lambda H0: H0 + ricci.einsum("h,n->nh", b1, np.ones(N))),
    ("H2", lambda H1: ricci.relu(H1)),
    ("H3", lambda H2: ricci.einsum("nh,hc->nc", H2, W2)),
    ("Z", lambda H3: H3 + ricci.einsum("c,n->nc", b2, np.ones(N))),
]


def any_loss(Z):
    """A loss whose gradient at Z is dL_dZ: the derivation holds for every loss of Z."""
    return ricci.einsum("nc,nc->", Z, dL_dZ)


def run(start, node, loss=any_loss):
    """The loss as a function of ``node``, the value of layer ``start`` (or of X when start is "X")."""
    names = ["X"] + [name for name, _ in LAYERS]
    for _, layer in LAYERS[names.index(start):]:
        node = layer(node)
    return loss(node)


def backward_by_hand(I, F, dZ):
    """The question's chain of gradients in numpy, with the transposes it leaves out."""
    g = {"Z": dZ}
    g["b2"] = g["Z"].sum(axis=0)           # ∂L/∂Z · 1: summed over the rows
    g["H3"] = g["Z"]                       # ∂Z/∂H3 is the identity
    g["W2"] = F["H2"].T @ g["H3"]
    g["H2"] = g["H3"] @ I["W2"].T
    g["H1"] = g["H2"] * (F["H1"] > 0)      # ⊙ 1(H1 > 0)
    g["b1"] = g["H1"].sum(axis=0)
    g["H0"] = g["H1"]                      # ∂H1/∂H0 is the identity
    g["W1"] = I["X"].T @ g["H0"]
    g["X"] = g["H0"] @ I["W1"].T
    return g


nodes, node = {}, X  # every node as an expression of X (built once, so names below match)
for name, layer in LAYERS:
    node = nodes[name] = layer(node)
L = any_loss(nodes["Z"])
inputs = random_inputs([X, W1, b1, W2, b2, dL_dZ], seed=0)
forward = dict(zip(nodes, ricci.evaluate(list(nodes.values()), inputs)))  # the value of every node
hand = backward_by_hand(inputs, forward, inputs["dL_dZ"])

# ---------------------------------------------------------------------------
section("Gradients of the parameters and the input: ricci.grad(L, [b2, W2, b1, W1, X])")
params = {"b2": b2, "W2": W2, "b1": b1, "W1": W1, "X": X}
grads = dict(zip(params, ricci.grad(L, list(params.values()))))
for name, g in grads.items():
    show(f"∂L/∂{name}", g, names=nodes)
for name, value in zip(grads, ricci.evaluate(list(grads.values()), inputs)):
    check(f"∂L/∂{name} = finite differences", value, fd_grad(L, inputs, name))
    check(f"∂L/∂{name} = hand-written backward pass", value, hand[name], rtol=1e-10, atol=1e-12)

# ---------------------------------------------------------------------------
section("Gradients of the intermediate nodes: a Tensor stands in for each node")
for name, _ in reversed(LAYERS):
    stand_in = ricci.Tensor(name, forward[name].shape)
    L_node = run(name, stand_in)
    g = ricci.grad(L_node, stand_in)
    show(f"∂L/∂{name}", g)
    at = {**inputs, name: forward[name]}
    value = g.evaluate(at)
    check(f"∂L/∂{name} = finite differences", value, fd_grad(L_node, at, name))
    check(f"∂L/∂{name} = hand-written backward pass", value, hand[name], rtol=1e-10, atol=1e-12)

# ---------------------------------------------------------------------------
section("The two '?' of the question: ∂Z/∂H3 and ∂H1/∂H0 are products of deltas")
for out_name, in_name, layer in [("Z", "H3", LAYERS[4][1]), ("H1", "H0", LAYERS[1][1])]:
    stand_in = ricci.Tensor(in_name, forward[in_name].shape)
    jac = ricci.jacobian(layer(stand_in), stand_in)  # shape (N, ·, N, ·)
    show(f"∂{out_name}/∂{in_name}", jac)
    at = {**inputs, in_name: forward[in_name]}
    factored = jac.evaluate(at, structured=True)
    print(f"  evaluate(..., structured=True): {factored!r}")
    n, k = forward[in_name].shape
    identity = np.eye(n * k).reshape(n, k, n, k)  # δ_ik δ_jl
    check_true(f"∂{out_name}/∂{in_name} is stored as ones times δ(0,2) δ(1,3)",
               isinstance(factored, ricci.Structured) and np.all(np.asarray(factored.core) == 1)
               and factored.deltas == ((0, 2), (1, 3)))
    check(f"∂{out_name}/∂{in_name} = δ_ik δ_jl (the identity on N×{k} matrices)", jac.evaluate(at), identity)
    check(f"∂{out_name}/∂{in_name} = finite differences", jac.evaluate(at),
          fd_grad(layer(stand_in), at, in_name))

section("For comparison: ∂Z/∂b2 (the 'vector of ones') and ∂H2/∂H1 (the ReLU mask)")
Z_of_b2 = LAYERS[4][1](ricci.Tensor("H3", (N, C)))
jac_b2 = ricci.jacobian(Z_of_b2, b2)
show("∂Z/∂b2", jac_b2)
at = {**inputs, "H3": forward["H3"]}
factored = jac_b2.evaluate(at, structured=True)
print(f"  evaluate(..., structured=True): {factored!r}")
check_true("∂Z/∂b2 is a column of ones times δ(1,2)", isinstance(factored, ricci.Structured)
           and np.all(np.asarray(factored.core) == 1) and factored.deltas == ((1, 2),))
check("∂Z/∂b2 = finite differences", jac_b2.evaluate(at), fd_grad(Z_of_b2, at, "b2"))

H1 = ricci.Tensor("H1", (N, H))
jac_relu = ricci.jacobian(ricci.relu(H1), H1)
show("∂H2/∂H1", jac_relu)
at = {**inputs, "H1": forward["H1"]}
factored = jac_relu.evaluate(at, structured=True)
print(f"  evaluate(..., structured=True): {factored!r}")
check_true("∂H2/∂H1 is the mask 1(H1 > 0) times δ(0,2) δ(1,3)", isinstance(factored, ricci.Structured)
           and factored.deltas == ((0, 2), (1, 3)) and np.array_equal(factored.core, forward["H1"] > 0))
check("∂H2/∂H1 = finite differences", jac_relu.evaluate(at), fd_grad(ricci.relu(H1), at, "H1"))

# ---------------------------------------------------------------------------
section("A concrete loss: softmax cross-entropy, where ∂L/∂Z = softmax(Z) − Y")
Y = np.eye(C)[np.arange(N) % C]  # one-hot labels
L_ce = run("X", X, loss=lambda Z: ricci.cross_entropy(Z, Y))
Z = ricci.Tensor("Z", (N, C))
g_Z = ricci.grad(ricci.cross_entropy(Z, Y), Z)
show("∂L/∂Z", g_Z)
Zc = forward["Z"] - forward["Z"].max(axis=1, keepdims=True)
softmax = np.exp(Zc) / np.exp(Zc).sum(axis=1, keepdims=True)
check("∂L/∂Z = softmax(Z) − Y", g_Z.evaluate({"Z": forward["Z"]}), softmax - Y, rtol=1e-10, atol=1e-12)
hand = backward_by_hand(inputs, forward, softmax - Y)
for name, value in zip(params, ricci.evaluate(ricci.grad(L_ce, list(params.values())), inputs)):
    check(f"∂L/∂{name} = finite differences", value, fd_grad(L_ce, inputs, name))
    check(f"∂L/∂{name} = hand-written backward pass", value, hand[name], rtol=1e-10, atol=1e-12)

finish()
