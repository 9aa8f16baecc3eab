"""ricci's compiled programs on jax arrays against ``jax.jit(jax.grad(...))``, side by side.

Run:  ``.venv/bin/python -m benchmarks.jax_backend [--small] [--save]``

On jax inputs a compiled ricci program is traced once into one ``jax.jit`` (XLA fuses
it), so what is compared is ricci's derived, planned gradient program against JAX's own
reverse-mode program of the same loss, both compiled by XLA, per call after warm-up, on
one BLAS/XLA thread. Reported: the median of paired per-repetition ratios ricci / jax.

Targets (issue 10): RNN-cell gradient <= 1.2x at every size; 256-layer MLP and 100-step
RNN gradients <= 1.2x per call; attention (8, 256, 64) <= 1.0x.

Results go to ``benchmarks/out/jax_backend[_small].json`` (untracked) unless ``--save`` writes
``benchmarks/results/jax_backend[_small].json``; ``--out PATH`` writes them there.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._paired import pin_blas_threads  # noqa: E402  (before numpy and jax)

pin_blas_threads(1)

import numpy as np  # noqa: E402

from benchmarks import _paired as P  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

SIZES = {"all": {"rnn_cell": [(64, 32, 8), (256, 128, 32), (1024, 512, 64)], "mlp": (256, 32, 8),
                 "rnn": 100, "attention": (8, 256, 64)},
         "small": {"rnn_cell": [(64, 32, 8)], "mlp": (32, 32, 8), "rnn": 20, "attention": (2, 64, 16)}}
TARGETS = {"rnn_cell": 1.2, "mlp": 1.2, "rnn": 1.2, "attention": 1.0}


def _ricci_call(grads, inputs, jnp):
    import ricci

    f = ricci.compile(grads)
    jin = {k: jnp.asarray(v) for k, v in inputs.items()}
    return lambda: f(jin)


def rnn_cell(size, jax, jnp):
    import ricci

    nc, nx, m = size
    Wc, Wx, b = ricci.Tensor("Wc", (nc, nc)), ricci.Tensor("Wx", (nc, nx)), ricci.Tensor("b", (nc,))
    cp, x, G = ricci.Tensor("cp", (nc, m)), ricci.Tensor("x", (nx, m)), ricci.Tensor("G", (nc, m))
    L = ricci.sum(ricci.tanh(Wc @ cp + Wx @ x + b[:, None]) * G)
    rng = np.random.default_rng(0)
    shapes = {"Wc": (nc, nc), "Wx": (nc, nx), "b": (nc,), "cp": (nc, m), "x": (nx, m), "G": (nc, m)}
    inputs = {k: rng.standard_normal(s) / np.sqrt(s[-1]) for k, s in shapes.items()}

    def loss(Wx_, Wc_, b_, cp_, x_, G_):
        return jnp.sum(jnp.tanh(Wc_ @ cp_ + Wx_ @ x_ + b_[:, None]) * G_)

    jg = jax.jit(jax.grad(loss))
    args = [jnp.asarray(inputs[k]) for k in ("Wx", "Wc", "b", "cp", "x", "G")]
    return [ricci.grad(L, Wx)], inputs, (lambda: jg(*args)), (lambda: [jg(*args)])


def mlp(size, jax, jnp):
    import ricci

    layers, width, batch = size
    rng = np.random.default_rng(0)
    Ws = [ricci.Tensor(f"W{i}", (width, width)) for i in range(layers)]
    h = ricci.Tensor("h0", (width, batch))
    for W in Ws:
        h = ricci.tanh(W @ h)
    L = ricci.sum(h * h)
    inputs = {f"W{i}": rng.standard_normal((width, width)) / np.sqrt(width) for i in range(layers)}
    inputs["h0"] = rng.standard_normal((width, batch))

    def loss(Ws_, h0):
        hh = h0
        for W in Ws_:
            hh = jnp.tanh(W @ hh)
        return jnp.sum(hh * hh)

    jg = jax.jit(jax.grad(loss))
    Wj, hj = [jnp.asarray(inputs[f"W{i}"]) for i in range(layers)], jnp.asarray(inputs["h0"])
    return ricci.grad(L, Ws), inputs, (lambda: jg(Wj, hj)), (lambda: jg(Wj, hj))


def rnn(T, jax, jnp):
    import ricci

    H, B, I = 32, 8, 16
    W, U, h = ricci.Tensor("W", (H, H)), ricci.Tensor("U", (H, I)), ricci.Tensor("h0", (H, B))
    for t in range(T):
        h = ricci.tanh(W @ h + U @ ricci.Tensor(f"x{t}", (I, B)))
    L = ricci.sum(h * h)
    rng = np.random.default_rng(0)
    inputs = {"W": rng.standard_normal((H, H)) / np.sqrt(H), "U": rng.standard_normal((H, I)) / np.sqrt(I),
              "h0": np.tanh(rng.standard_normal((H, B)))}
    inputs.update({f"x{t}": rng.standard_normal((I, B)) for t in range(T)})

    def loss(W_, U_, h0, xs):
        def step(hh, x):
            return jnp.tanh(W_ @ hh + U_ @ x), None

        hh, _ = jax.lax.scan(step, h0, xs)
        return jnp.sum(hh * hh)

    jg = jax.jit(jax.grad(loss, argnums=(0, 1)))
    args = [jnp.asarray(inputs[k]) for k in ("W", "U", "h0")]
    args.append(jnp.asarray(np.stack([inputs[f"x{t}"] for t in range(T)])))
    return ricci.grad(L, [W, U]), inputs, (lambda: jg(*args)), (lambda: jg(*args))


def attention(size, jax, jnp):
    import ricci

    Bn, S, d = size
    Q, K, V, G = (ricci.Tensor(n, (Bn, S, d)) for n in ("Q", "K", "V", "G"))
    A = ricci.softmax(ricci.einsum("bqd,bkd->bqk", Q, K) / np.sqrt(d), axis=-1)
    L = ricci.sum(ricci.einsum("bqk,bkd->bqd", A, V) * G)
    rng = np.random.default_rng(0)
    inputs = {n: rng.standard_normal((Bn, S, d)) for n in ("Q", "K", "V", "G")}

    def loss(Q_, K_, V_, G_):
        a = jax.nn.softmax(jnp.einsum("bqd,bkd->bqk", Q_, K_) / np.sqrt(d), axis=-1)
        return jnp.sum(jnp.einsum("bqk,bkd->bqd", a, V_) * G_)

    jg = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    args = [jnp.asarray(inputs[n]) for n in ("Q", "K", "V", "G")]
    return ricci.grad(L, [Q, K, V]), inputs, (lambda: jg(*args)), (lambda: jg(*args))


def run(sizes, repeats):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    cases = [("rnn_cell", s, rnn_cell) for s in sizes["rnn_cell"]]
    cases += [("mlp", sizes["mlp"], mlp), ("rnn", sizes["rnn"], rnn), ("attention", sizes["attention"], attention)]
    rows = []
    for name, size, make in cases:
        grads, inputs, jax_fn, jax_values = make(size, jax, jnp)
        ricci_fn = _ricci_call(grads, inputs, jnp)
        mine = ricci_fn()
        theirs = jax_values()
        theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
        agree = all(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12) for a, b in zip(mine, theirs))
        res = P.paired({"ricci": lambda: jax.block_until_ready(ricci_fn()),
                        "jax": lambda: jax.block_until_ready(jax_fn())}, "jax", repeats=repeats)
        ratio = res["ratios"]["ricci"]["median"]
        row = {"case": name, "size": size, "ricci_s": res["ricci"]["median_s"], "jax_s": res["jax"]["median_s"],
               "ratio": ratio, "q25": res["ratios"]["ricci"]["q25"], "q75": res["ratios"]["ricci"]["q75"],
               "target": TARGETS[name], "met": ratio <= TARGETS[name], "results_agree": agree}
        rows.append(row)
        print(f"{name:10s} {str(size):18s} ricci {row['ricci_s'] * 1e3:9.3f} ms   jax.jit {row['jax_s'] * 1e3:9.3f} ms"
              f"   ratio {ratio:5.2f} (q25 {row['q25']:.2f}, q75 {row['q75']:.2f})   target <= {row['target']:g}: "
              f"{'met' if row['met'] else 'MISSED'}   agree: {agree}", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="small sizes (a quick run)")
    add_save_argument(p)
    p.add_argument("--out", type=Path, default=None, help="write the JSON here")
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args(argv)
    P.limit_threads(1)
    P.print_load()
    rows = run(SIZES["small" if args.small else "all"], args.repeats)
    out = output_path(f"jax_backend{'_small' if args.small else ''}.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "blas": P.blas_info()}, indent=1, default=str))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
