"""The memory budget: the largest tensor any evaluation may allocate.

Every path that allocates checks it first, with exact integer sizes: each
compiled program knows its largest tensor (an intermediate or a result) before
running; factored results check their dense size before ``todense`` and their
products before ``dot``. The refusal names the culprit, and suggests
vjp/grad/hvp only when what is large is a generalized Jacobian.

>>> format_bytes(3 * 2**30)
'3 GiB'
"""
import numbers
import threading

from ..errors import ArgumentError, MemoryBudgetError

DEFAULT = 2 * 2**30
_state = {"budget": DEFAULT}
_lock = threading.Lock()


def validate(nbytes):
    """``nbytes`` as a positive int, or an ArgumentError."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, numbers.Integral):
        if isinstance(nbytes, numbers.Real) and not isinstance(nbytes, bool) and float(nbytes).is_integer():
            nbytes = int(nbytes)
        else:
            raise ArgumentError(f"a memory budget is a positive whole number of bytes, got {nbytes!r}")
    nbytes = int(nbytes)
    if nbytes <= 0:
        raise ArgumentError(f"a memory budget is a positive whole number of bytes, got {nbytes!r}")
    return nbytes


def set_budget(nbytes):
    nbytes = validate(nbytes)
    with _lock:
        old, _state["budget"] = _state["budget"], nbytes
    return old


def get_budget():
    return _state["budget"]


def current_budget(override=None):
    """The budget in force: ``override`` (validated) or the global one."""
    return get_budget() if override is None else validate(override)


def format_bytes(n):
    n = int(n)
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            return f"{n} B" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{n} B"


def _is_jacobian(node):
    from .. import derivatives

    check = getattr(derivatives, "is_jacobian", None)
    if check is None:  # no provenance recorded: a large result may well be one
        return True
    return node is not None and bool(check(node))


def refuse(what, shape, elements, nbytes, budget, jacobian=False, extra=""):
    """Raise the MemoryBudgetError for one tensor."""
    advice = (
        " A generalized Jacobian this large is best never formed: contract it with a cotangent using "
        "ricci.vjp or ricci.grad (ricci.hvp for Hessians), or"
        if jacobian
        else " Reduce the sizes, or"
    )
    raise MemoryBudgetError(
        f"evaluating would allocate {what} of shape {shape} ({elements:,} elements, {nbytes:,} bytes = "
        f"{format_bytes(nbytes)}), "
        f"over the memory budget of {format_bytes(budget)}.{extra}{advice} raise the budget with "
        "ricci.set_memory_budget(nbytes) or memory_budget=nbytes"
    )


def check_budget(prog, budget):
    """Refuse, before running, a program whose largest tensor exceeds ``budget`` bytes."""
    nbytes, elements, shape, description, is_result, node = prog.largest
    if nbytes <= budget:
        return
    if is_result:
        what = "the result" if len(prog.roots) == 1 else f"result {prog.roots.index(node)}"
        jacobian = _is_jacobian(node)
        extra = ""
    else:
        from .program import _describe

        what = description or "an intermediate"
        jacobian = False
        extra = f" It is needed to compute {_describe(node)}." if node is not None else ""
    refuse(what, shape, elements, nbytes, budget, jacobian, extra)
