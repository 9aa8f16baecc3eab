"""jax: arrays are immutable (copies are the array itself) and scatter-add is ``.at[].add``."""


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
