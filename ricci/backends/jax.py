"""jax: a program is one ``jax.jit`` (XLA fuses it); arrays are immutable (copies are the array
itself) and scatter-add is ``.at[].add``."""


def wrap_program(ns, fn):
    """Compile the whole straight-line program with XLA: traced once per input signature
    (ricci caches one program per signature already); inside a caller's ``jax.jit`` it inlines."""
    import jax

    jitted = jax.jit(fn)

    def program(*args):
        return list(jitted(*args))

    return program


def array(ns, x):
    return x  # immutable: nothing can alias it in a way that matters


def asarray(ns, x, dtype=None):
    import jax.numpy as jnp

    return jnp.asarray(x, dtype=dtype)


def add_at(ns, target, index, values):
    return target.at[tuple(index)].add(values)


def erf(ns, x):
    from jax.scipy.special import erf as _erf

    return _erf(x)


def erfc(ns, x):
    from jax.scipy.special import erfc as _erfc

    return _erfc(x)
