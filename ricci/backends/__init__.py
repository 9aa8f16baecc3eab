"""Backends: compiled programs run on the array type of their inputs.

The engine emits numpy-named code (``np.tanh(t0)``, ``t1 @ t2``, ``np.full(...)``). For
numpy inputs ``np`` is numpy itself. For torch, jax, cupy or dask inputs, ``np`` is a
:class:`Namespace`: each numpy name is resolved once to that library's function by
`autoray <https://github.com/jcmgray/autoray>`_ (what cotengra and quimb use) and cached,
so a call pays no dispatch. We chose autoray over the array API standard
(``array-api-compat``) because our programs and kernels are written in numpy's names, which
autoray translates as they are (``transpose`` to torch's ``permute``, ``clip`` to
``clamp``...), where the standard renames them; jax and dask need no wrapper either.
What a library needs beyond autoray (devices, copies, scatter-add) lives in one small
module per framework: :mod:`ricci.backends.torch`, :mod:`ricci.backends.jax`,
:mod:`ricci.backends.dask`, :mod:`ricci.backends.cupy`.

A framework is imported only when its arrays are passed: the backend of an array is read
from its type's module (no import), and numpy constants in an expression are converted
once per program (and device).

>>> import numpy as np
>>> backend_of([np.ones(2)]), array_namespace(np.ones(2)) is np
('numpy', True)
"""
import functools
import importlib
import threading

import numpy as np

from ..errors import InputError

__all__ = ["BACKENDS", "KNOWN", "array_namespace", "backend_of", "device_of", "namespace"]

KNOWN = ("numpy", "torch", "jax", "cupy", "dask")
BACKENDS = KNOWN  # the names evaluate(..., backend=) accepts

_NUMPY_TYPES = (np.ndarray, np.generic)


def _backend_name(value):
    """The library an array belongs to, from its type's module (imports nothing)."""
    if isinstance(value, _NUMPY_TYPES):
        return "numpy"
    module = type(value).__module__.split(".")[0]
    if module == "jaxlib":
        return "jax"
    return module


def backend_of(values, names=None):
    """The backend of these input arrays: ``"numpy"`` unless one is a torch/jax/cupy/dask array.

    numpy arrays and Python numbers go with any backend (they are converted); two
    different non-numpy libraries in one call are an :class:`ricci.InputError`.
    """
    found = None
    for i, v in enumerate(values):
        if type(v) is np.ndarray or isinstance(v, (_NUMPY_TYPES, int, float, complex, list, tuple)):
            continue
        name = _backend_name(v)
        if name not in KNOWN:
            continue  # something numpy may convert (a matrix subclass, an object with __array__)
        if found is None:
            found = (name, i)
        elif found[0] != name:
            who = (lambda k: repr(names[k]) if names else f"#{k}")
            raise InputError(
                f"inputs {who(found[1])} ({found[0]}) and {who(i)} ({name}) are arrays of different "
                f"libraries; pass arrays of one library (numpy arrays mix with any)"
            )
    return "numpy" if found is None else found[0]


def device_of(value):
    """A hashable device key for an array (None where the library places arrays itself)."""
    backend = _backend_name(value)
    if backend in ("torch", "cupy"):
        return str(value.device)
    return None


def _special(backend):
    try:
        return importlib.import_module(f"{__name__}.{backend}")
    except ImportError:  # pragma: no cover - every known backend has a module
        return None


class Namespace:
    """numpy's names for one backend and device, resolved once each through autoray.

    >>> ns = namespace("numpy")
    >>> ns.tanh is np.tanh
    True
    """

    def __init__(self, backend, device=None, prefix=""):
        self.backend, self.device, self._prefix = backend, device, prefix
        self._module = _special(backend)
        self.permute_method = getattr(self._module, "PERMUTE_METHOD", "transpose")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        full = self._prefix + name
        if full == "linalg":
            value = Namespace(self.backend, self.device, "linalg.")
        else:
            special = getattr(self._module, full.replace(".", "_"), None)
            if special is not None:
                value = functools.partial(special, self)
            else:
                from autoray import get_lib_fn

                try:
                    value = get_lib_fn(self.backend, full)
                except (ImportError, AttributeError):
                    raise AttributeError(f"{self.backend} has no function {full!r} that ricci can use") from None
        object.__setattr__(self, name, value)  # cached: the next lookup is a plain attribute
        return value

    def __repr__(self):
        return f"<ricci backend namespace {self.backend}{'' if self.device is None else ' on ' + self.device}>"

    # -- what every backend module may override ---------------------------------
    def convert(self, array):
        """A numpy array (a constant) as this backend's array, on this namespace's device."""
        return self.asarray(array)

    @property
    def wrap_program(self):
        """What the engine wraps a compiled program in (jax: ``jax.jit``), or None."""
        f = getattr(self._module, "wrap_program", None)
        return None if f is None else functools.partial(f, self)

    def native_dtype(self, dtype):
        """numpy's dtype as this library's dtype object."""
        f = getattr(self._module, "native_dtype", None)
        return f(self, dtype) if f is not None else dtype


_namespaces = {}
_lock = threading.Lock()


def namespace(backend, device=None):
    """The (cached) :class:`Namespace` of a backend; numpy itself for ``"numpy"``."""
    if backend == "numpy":
        return np
    key = (backend, device)
    ns = _namespaces.get(key)
    if ns is None:
        with _lock:
            ns = _namespaces.setdefault(key, Namespace(backend, device))
    return ns


def array_namespace(x):
    """The namespace a kernel computes ``x`` with: numpy for numpy arrays (no cost), else the
    backend's :class:`Namespace` on ``x``'s device."""
    if type(x) is np.ndarray or isinstance(x, (_NUMPY_TYPES, int, float, complex)):
        return np
    return namespace(_backend_name(x), device_of(x))


def is_complex(x):
    """Whether an array of any backend has a complex dtype."""
    dtype = x.dtype
    return dtype.kind == "c" if isinstance(dtype, np.dtype) else "complex" in str(dtype)


def numpy_dtype(x):
    """An array's dtype as a numpy dtype (torch's ``torch.float32`` -> ``float32``)."""
    dtype = x.dtype
    if isinstance(dtype, np.dtype):
        return dtype
    return np.dtype(str(dtype).rsplit(".", 1)[-1])
