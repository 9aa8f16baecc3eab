"""ricci.torch_function / ricci.jax_function: ricci expressions as differentiable torch and jax
functions whose backward is ricci's derived, compiled VJP.

The torch tests skip with the reason when torch is missing, the jax tests when jax is
(``pip install "ricci[torch]"``, ``"ricci[jax]"``); the CUDA test skips without a GPU.
"""
import doctest
import subprocess
import sys

import numpy as np
import pytest
from conftest import fresh_name, rand

import ricci
import ricci.export


def _torch():
    return pytest.importorskip("torch", reason="torch is not installed: pip install 'ricci[torch]'")


def _jax():
    jax = pytest.importorskip("jax", reason="jax is not installed: pip install 'ricci[jax]'")
    jax.config.update("jax_enable_x64", True)
    return jax


def T(prefix, shape):
    return ricci.Tensor(fresh_name(prefix), shape)


# -- models: ricci expression, its args, the same model in torch / jnp, argument values ---------
def mlp():
    W1, b1, W2, X = T("W1", (6, 4)), T("b1", (6,)), T("W2", (3, 6)), T("X", (4, "batch"))
    y = W2 @ ricci.tanh(W1 @ X + b1[:, None])

    def ref(xp, W1, b1, W2, X):
        return W2 @ xp.tanh(W1 @ X + b1[:, None])

    return y, [W1, b1, W2, X], ref, {"batch": 5}


def attention():
    Q, K, V = T("Q", ("batch", 5, 4)), T("K", ("batch", 5, 4)), T("V", ("batch", 5, 4))
    mask = np.tril(np.ones((5, 5), bool))
    s = ricci.einsum("btd,bsd->bts", Q, K) / 2.0
    A = ricci.softmax(ricci.where(mask, s, -np.inf), axis=-1)
    y = ricci.einsum("bts,bsd->btd", A, V)

    def ref(xp, Q, K, V):
        s = Q @ xp.swapaxes(K, -1, -2) / 2.0 if xp.__name__ != "torch" else Q @ K.transpose(-1, -2) / 2.0
        m = xp.asarray(mask) if xp.__name__ != "torch" else xp.as_tensor(mask)
        s = xp.where(m, s, -np.inf)
        e = xp.exp(s - s.max(-1, keepdims=True)) if xp.__name__ != "torch" else xp.exp(s - s.amax(-1, keepdim=True))
        A = e / (e.sum(-1, keepdims=True) if xp.__name__ != "torch" else e.sum(-1, keepdim=True))
        return A @ V

    return y, [Q, K, V], ref, {"batch": 2}


def layer_norm():
    X, gamma, beta = T("X", ("batch", 6)), T("gamma", (6,)), T("beta", (6,))
    xc = X - X.mean(axis=1, keepdims=True)
    y = xc / ricci.sqrt((xc ** 2).mean(axis=1, keepdims=True) + 1e-5) * gamma + beta

    def ref(xp, X, gamma, beta):
        if xp.__name__ == "torch":
            return xp.nn.functional.layer_norm(X, (6,), gamma, beta, eps=1e-5)
        xc = X - X.mean(axis=1, keepdims=True)
        return xc / xp.sqrt((xc ** 2).mean(axis=1, keepdims=True) + 1e-5) * gamma + beta

    return y, [X, gamma, beta], ref, {"batch": 4}


def logistic():
    X, w, t = T("X", ("batch", 3)), T("w", (3,)), T("t", ("batch",))
    z = X @ w
    y = ricci.mean(ricci.softplus(z) - t * z)

    def ref(xp, X, w, t):
        z = X @ w
        sp = xp.nn.functional.softplus(z) if xp.__name__ == "torch" else xp.logaddexp(0.0, z)
        return (sp - t * z).mean()

    return y, [X, w, t], ref, {"batch": 7}


MODELS = [pytest.param(m, id=m.__name__) for m in (mlp, attention, layer_norm, logistic)]


def _values(args, sizes, rng, dtype=np.float64):
    return [rand(tuple(sizes[d] if type(d) is str else d for d in a.shape), rng).astype(dtype) for a in args]


# -- torch ------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_torch_gradcheck_and_matches_torch_autograd(model, rng):
    torch = _torch()
    y, args, ref, sizes = model()
    f = ricci.torch_function(y, args)
    xs = [torch.tensor(v, requires_grad=True) for v in _values(args, sizes, rng)]
    assert torch.autograd.gradcheck(f, xs)
    out = f(*xs)
    expected = ref(torch, *xs)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    G = torch.tensor(rand(tuple(out.shape), rng))
    got = torch.autograd.grad(out, xs, G)
    want = torch.autograd.grad(expected, xs, G)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-11)


def test_torch_backward_runs_ricci_vjp_not_autograd_of_the_forward(rng):
    torch = _torch()
    y, args, _ref, sizes = mlp()
    f = ricci.torch_function(y, args, name="mlp_layer")
    xs = [torch.tensor(v, requires_grad=True) for v in _values(args, sizes, rng)]
    out = f(*xs)
    # one node of ricci's: its inputs are the leaves directly, nothing of the program is recorded
    assert type(out.grad_fn).__name__ == "mlp_layerBackward"
    assert [type(n).__name__ for n, _ in out.grad_fn.next_functions] == ["AccumulateGrad"] * 4
    assert f.calls == {"forward": 1, "backward": 0}
    out.sum().backward()
    assert f.calls == {"forward": 1, "backward": 1}
    assert f.saved  # tanh(W1 X + b1) is kept from the forward, not recomputed
    with torch.no_grad():  # no autograd: a plain forward, nothing saved
        assert f(*xs).grad_fn is None


def test_torch_name_and_doc():
    _torch()
    y, args, _, _ = mlp()
    f = ricci.torch_function(y, args, name="mlp_layer")
    assert f.__name__ == "mlp_layer"
    assert f"{args[3].name}: (4, 'batch')" in f.__doc__ and "-> (3, 'batch')" in f.__doc__
    assert "torch" in f.__doc__


def test_torch_float32_in_float32_out(rng):
    torch = _torch()
    y, args, ref, sizes = layer_norm()
    f = ricci.torch_function(y, args)
    xs = [torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in _values(args, sizes, rng)]
    out = f(*xs)
    assert out.dtype == torch.float32
    out.pow(2).sum().backward()
    for x in xs:
        assert x.grad.dtype == torch.float32
    x64 = [torch.tensor(x.detach().numpy().astype(np.float64), requires_grad=True) for x in xs]
    ref(torch, *x64).pow(2).sum().backward()
    for a, b in zip(xs, x64):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_torch_requires_grad_on_some_inputs_only(rng):
    torch = _torch()
    y, args, ref, sizes = logistic()
    f = ricci.torch_function(y, args)
    X, w, t = [torch.tensor(v) for v in _values(args, sizes, rng)]
    w.requires_grad_(True)
    (gw,) = torch.autograd.grad(f(X, w, t), [w])
    w2 = w.detach().clone().requires_grad_(True)
    (want,) = torch.autograd.grad(ref(torch, X, w2, t), [w2])
    np.testing.assert_allclose(gw.numpy(), want.numpy(), rtol=1e-10)
    assert set(f.backward_programs) == {(1,)}  # only w's VJP was compiled and run
    assert X.grad is None and t.grad is None


def test_torch_training_step_matches_torch_autograd(rng):
    torch = _torch()
    W1, b1, W2, X, Y = T("W1", (8, 4)), T("b1", (8,)), T("W2", (2, 8)), T("X", (4, "batch")), T("Y", (2, "batch"))
    pred = W2 @ ricci.tanh(W1 @ X + b1[:, None])
    loss_fn = ricci.torch_function(ricci.mean((pred - Y) ** 2), [W1, b1, W2, X, Y])
    init = [rand(s, rng) for s in ((8, 4), (8,), (2, 8))]
    ours = [torch.nn.Parameter(torch.tensor(v)) for v in init]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in init]
    opt_a, opt_b = torch.optim.SGD(ours, lr=0.1, momentum=0.9), torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    for step, batch in enumerate((16, 16, 9)):  # the last batch is smaller: the same function
        Xb, Yb = torch.tensor(rand((4, batch), rng)), torch.tensor(rand((2, batch), rng))
        opt_a.zero_grad()
        loss_a = loss_fn(*ours, Xb, Yb)
        loss_a.backward()
        opt_a.step()
        opt_b.zero_grad()
        a1, c1, a2 = theirs
        loss_b = ((a2 @ torch.tanh(a1 @ Xb + c1[:, None]) - Yb) ** 2).mean()
        loss_b.backward()
        opt_b.step()
        assert abs(loss_a.item() - loss_b.item()) < 1e-12
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_torch_symbolic_batch_at_two_sizes(rng):
    torch = _torch()
    y, args, _ref, _ = attention()
    f = ricci.torch_function(y, args)
    for batch in (1, 3):
        xs = [torch.tensor(v, requires_grad=True) for v in _values(args, {"batch": batch}, rng)]
        assert f(*xs).shape == (batch, 5, 4)
        assert torch.autograd.gradcheck(f, xs)


def test_torch_list_of_outputs_is_a_tuple(rng):
    torch = _torch()
    x, W = T("x", (3, "batch")), T("W", (2, 3))
    h = W @ x
    f = ricci.torch_function([ricci.tanh(h), ricci.sum(h * h)], [W, x])
    xs = [torch.tensor(rand((2, 3), rng), requires_grad=True), torch.tensor(rand((3, 4), rng), requires_grad=True)]
    a, s = f(*xs)
    assert a.shape == (2, 4) and s.shape == ()
    assert torch.autograd.gradcheck(f, xs)


def test_torch_unused_argument_gets_a_zero_gradient(rng):
    torch = _torch()
    x, unused = T("x", (3,)), T("unused", (2, "n"))
    f = ricci.torch_function(ricci.sum(ricci.sin(x)), [x, unused])
    xt, ut = torch.ones(3, dtype=torch.float64, requires_grad=True), torch.ones(2, 4, dtype=torch.float64,
                                                                                requires_grad=True)
    f(xt, ut).backward()
    assert ut.grad.shape == (2, 4) and not ut.grad.any()
    np.testing.assert_allclose(xt.grad.numpy(), np.cos(np.ones(3)))


def test_torch_recompute_gives_the_same_gradients_and_numpy_inputs_are_converted(rng):
    torch = _torch()
    y, args, _ref, sizes = attention()
    saving, recomputing = ricci.torch_function(y, args), ricci.torch_function(y, args, recompute=True)
    assert saving.saved and not recomputing.saved
    values = _values(args, sizes, rng)
    xs = [torch.tensor(v, requires_grad=True) for v in values]
    G = torch.tensor(rand((2, 5, 4), rng))
    a = torch.autograd.grad(saving(*xs), xs, G)
    b = torch.autograd.grad(recomputing(*xs), xs, G)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-12, atol=1e-14)
    out = saving(values[0], xs[1], xs[2])  # a numpy array goes in as a constant torch tensor
    assert isinstance(out, torch.Tensor) and out.requires_grad


def test_torch_double_backward_is_a_clear_error(rng):
    torch = _torch()
    x = T("x", (3,))
    f = ricci.torch_function(ricci.sum(ricci.tanh(x) ** 3), [x])
    xt = torch.tensor(rand((3,), rng), requires_grad=True)
    with pytest.raises(RuntimeError, match="first-order") as info:
        torch.autograd.grad(f(xt), [xt], create_graph=True)
    assert isinstance(info.value, ricci.export.SecondOrderError) and isinstance(info.value, ricci.RicciError)
    (g,) = torch.autograd.grad(f(xt), [xt])  # first order is fine
    assert g.shape == (3,)


def test_torch_cuda_when_present(rng):
    torch = _torch()
    if not torch.cuda.is_available():
        print("skipped: no CUDA device, the exported function's GPU path is not tested here")
        pytest.skip("no CUDA device: the exported function's GPU path is not tested here")
    y, args, _ref, sizes = mlp()
    f = ricci.torch_function(y, args)
    for dtype in (torch.float64, torch.float32):
        xs = [torch.tensor(v, device="cuda", dtype=dtype, requires_grad=True) for v in _values(args, sizes, rng)]
        out = f(*xs)
        assert out.device.type == "cuda" and out.dtype == dtype
        out.sum().backward()
        assert all(x.grad.device.type == "cuda" and x.grad.dtype == dtype for x in xs)
    xs = [torch.tensor(v, device="cuda", requires_grad=True) for v in _values(args, sizes, rng)]
    assert torch.autograd.gradcheck(f, xs)


# -- errors -------------------------------------------------------------------------------------
def test_errors_when_making_a_function():
    _torch()
    x, b = T("x", (3,)), T("b", (3,))
    with pytest.raises(ricci.ArgumentError, match=r"args\[1\] is a ricci expression"):
        ricci.torch_function(ricci.sum(x), [x, ricci.tanh(x)])
    with pytest.raises(ricci.ArgumentError, match="wrap one Tensor in a list"):
        ricci.torch_function(ricci.sum(x), x)
    with pytest.raises(ricci.ArgumentError, match=f"{b.name!r} of shape \\(3,\\) that are not in args"):
        ricci.torch_function(ricci.sum(x * b), [x])
    with pytest.raises(ricci.ArgumentError, match="more than once"):
        ricci.torch_function(ricci.sum(x), [x, x])
    with pytest.raises(ricci.ArgumentError, match="a ricci expression or a non-empty list"):
        ricci.torch_function(np.ones(3), [x])


def test_errors_when_calling():
    torch = _torch()
    X, w = T("X", ("batch", 3)), T("w", (3,))
    Z = T("Z", ("batch",))
    f = ricci.torch_function(ricci.sum(X @ w + Z), [X, w, Z])
    with pytest.raises(ricci.ArgumentError, match=r"takes 3 argument\(s\) .* got 2"):
        f(torch.ones(4, 3), torch.ones(3))
    with pytest.raises(ricci.InputShapeError, match=f"argument 1 \\({w.name!r}\\) has shape \\(4,\\)"):
        f(torch.ones(4, 3), torch.ones(4), torch.ones(4))
    with pytest.raises(ricci.InputShapeError, match=f"argument 0 \\({X.name!r}\\) has shape \\(4,\\)"):
        f(torch.ones(4), torch.ones(3), torch.ones(4))
    with pytest.raises(ricci.InputShapeError, match="'batch' = 5"):
        f(torch.ones(4, 3), torch.ones(3), torch.ones(5))


def test_missing_framework_gives_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    x = T("x", (2,))
    with pytest.raises(ImportError, match=r'pip install "ricci\[torch\]"') as info:
        ricci.torch_function(ricci.sum(x), [x])
    assert isinstance(info.value, ricci.RicciError)
    with pytest.raises(ricci.export.FrameworkImportError, match=r'pip install "ricci\[jax\]"'):
        ricci.jax_function(ricci.sum(x), [x])


def test_importing_ricci_imports_no_framework():
    code = ("import sys, ricci, ricci.export\n"
            "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# -- jax ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_jax_check_grads_and_matches_jax(model, rng):
    jax = _jax()
    from jax.test_util import check_grads

    y, args, ref, sizes = model()
    f = ricci.jax_function(y, args)
    xs = [jax.numpy.asarray(v) for v in _values(args, sizes, rng)]
    check_grads(f, xs, order=1, modes=["rev"])
    np.testing.assert_allclose(np.asarray(f(*xs)), np.asarray(ref(jax.numpy, *xs)), rtol=1e-10, atol=1e-12)


def test_jax_grad_of_a_composed_scalar_under_jit_equals_jax_grad(rng):
    jax = _jax()
    jnp = jax.numpy
    y, args, ref, sizes = layer_norm()
    f = ricci.jax_function(y, args)

    def loss(g, X, gamma, beta):
        return jnp.sum(jnp.sin(f(X * g, gamma, beta)) ** 2) + jnp.sum(gamma ** 2)

    def loss_ref(g, X, gamma, beta):
        return jnp.sum(jnp.sin(ref(jnp, X * g, gamma, beta)) ** 2) + jnp.sum(gamma ** 2)

    xs = [jnp.asarray(1.3)] + [jnp.asarray(v) for v in _values(args, sizes, rng)]
    got = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(*xs)
    want = jax.grad(loss_ref, argnums=(0, 1, 2, 3))(*xs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-11)
    assert f.calls["backward"] >= 1  # ricci's bwd ran (traced once under jit)


def test_jax_vmap_forward_and_gradient(rng):
    jax = _jax()
    jnp = jax.numpy
    y, args, ref, sizes = logistic()
    f = ricci.jax_function(y, args)
    X, _w, t = [jnp.asarray(v) for v in _values(args, sizes, rng)]
    ws = jnp.asarray(rand((4, 3), rng))
    values = jax.vmap(f, in_axes=(None, 0, None))(X, ws, t)
    grads = jax.jit(jax.vmap(jax.grad(f, argnums=1), in_axes=(None, 0, None)))(X, ws, t)
    for i in range(4):
        np.testing.assert_allclose(float(values[i]), float(ref(jnp, X, ws[i], t)), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(grads[i]), np.asarray(jax.grad(lambda v: ref(jnp, X, v, t))(ws[i])),
                                   rtol=1e-10, atol=1e-12)


def test_jax_symbolic_batch_float32_and_tuple_outputs(rng):
    jax = _jax()
    jnp = jax.numpy
    x, W = T("x", (3, "batch")), T("W", (2, 3))
    h = W @ x
    f = ricci.jax_function([ricci.tanh(h), ricci.sum(h * h)], [W, x])
    for batch in (2, 6):
        xs = [jnp.asarray(rand((2, 3), rng)), jnp.asarray(rand((3, batch), rng))]
        a, s = f(*xs)
        assert a.shape == (2, batch) and s.shape == ()
        from jax.test_util import check_grads

        check_grads(f, xs, order=1, modes=["rev"])
    xs32 = [jnp.asarray(rand((2, 3), rng), jnp.float32), jnp.asarray(rand((3, 4), rng), jnp.float32)]
    a, s = f(*xs32)
    assert a.dtype == jnp.float32 and s.dtype == jnp.float32
    g = jax.grad(lambda *v: f(*v)[1])(*xs32)
    assert g.dtype == jnp.float32


def test_jax_scalar_argument_under_jit(rng):
    jax = _jax()
    x, s = T("x", (3,)), T("s", ())
    f = ricci.jax_function(ricci.sum(ricci.tanh(x * s)), [x, s])
    xv = jax.numpy.asarray(rand((3,), rng))
    gs = jax.jit(jax.grad(f, argnums=1))(xv, 0.5)
    want = jax.grad(lambda v: jax.numpy.sum(jax.numpy.tanh(xv * v)))(0.5)
    np.testing.assert_allclose(float(gs), float(want), rtol=1e-12)


def test_jax_errors_name_the_argument():
    jax = _jax()
    X, w = T("X", ("batch", 3)), T("w", (3,))
    f = ricci.jax_function(ricci.sum(X @ w), [X, w])
    with pytest.raises(ricci.InputShapeError, match=f"argument 1 \\({w.name!r}\\)"):
        jax.jit(f)(jax.numpy.ones((4, 3)), jax.numpy.ones(2))
    with pytest.raises(ricci.ArgumentError, match="takes 2 argument"):
        f(jax.numpy.ones((4, 3)))


# -- the docstrings' examples, run for real ----------------------------------------------------
def test_docstring_examples_run_when_torch_and_jax_are_installed():
    _torch()
    _jax()
    import ricci.export as module

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0
    for test in finder.find(module):
        for example in test.examples:
            example.options.pop(doctest.SKIP, None)
        ran += len(test.examples)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert ran >= 15 and result.failed == 0
