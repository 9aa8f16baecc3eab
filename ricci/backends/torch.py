"""torch: devices, dtypes and copies that autoray's name translation does not cover.

Every function takes the :class:`ricci.backends.Namespace` first; arrays are created on
its device (that of the inputs), and numpy dtypes are mapped to torch's.
"""
import numpy as np

PERMUTE_METHOD = "permute"  # torch's Tensor.transpose swaps two axes; permute takes the order


def native_dtype(ns, dtype):
    import torch

    return getattr(torch, np.dtype(dtype).name)


def asarray(ns, x, dtype=None):
    import torch

    if dtype is not None and not isinstance(dtype, torch.dtype):
        dtype = native_dtype(ns, dtype)
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        x = x.copy()  # torch warns on read-only memory (broadcast views, frozen constants)
    return torch.as_tensor(x, dtype=dtype, device=ns.device)


def array(ns, x):
    """A copy that aliases nothing (numpy's ``np.array(x)``); autograd flows through it."""
    import torch

    return x.clone() if isinstance(x, torch.Tensor) else asarray(ns, x)


def full(ns, shape, fill_value, dtype=None):
    import torch

    return torch.full(tuple(shape), fill_value, dtype=None if dtype is None else _dtype(ns, dtype), device=ns.device)


def eye(ns, n, dtype=None):
    import torch

    return torch.eye(n, dtype=None if dtype is None else _dtype(ns, dtype), device=ns.device)


def zeros(ns, shape, dtype=None):
    import torch

    return torch.zeros(tuple(shape), dtype=None if dtype is None else _dtype(ns, dtype), device=ns.device)


def astype(ns, x, dtype):
    return x.to(_dtype(ns, dtype))


def _dtype(ns, dtype):
    import torch

    return dtype if isinstance(dtype, torch.dtype) else native_dtype(ns, dtype)


def add_at(ns, target, index, values):
    """``np.add.at(target, index, values)`` for a tuple of integer index arrays, out of place."""
    return target.index_put(tuple(asarray(ns, i) for i in index), values, accumulate=True)


def erf(ns, x):
    import torch

    return torch.special.erf(x)


def erfc(ns, x):
    import torch

    return torch.special.erfc(x)


def arange(ns, *args, dtype=None):
    import torch

    return torch.arange(*args, dtype=None if dtype is None else _dtype(ns, dtype), device=ns.device)
