"""Parsing and validation of einsum subscripts (numpy semantics).

Labels are returned as one-character strings; the dimensions covered by an
ellipsis get labels ``("...", k)`` counted from the right, so operands with
different numbers of ellipsis dimensions broadcast right-aligned, as in numpy.

Spaces are accepted where ``numpy.einsum`` accepts them: anywhere except
inside ``...`` and between the ``-`` and ``>`` of ``->``; other whitespace is
an invalid character, as in numpy.

>>> parse_subscripts("ij,jk", [2, 2])
([('i', 'j'), ('j', 'k')], ('i', 'k'))
>>> parse_subscripts("...i->...", [3])[1]
(('...', 2), ('...', 1))
>>> parse_subscripts("ij, jk -> ik", [2, 2])[1]
('i', 'k')

The interleaved form ``einsum(A, [0, 1], B, [1, 2], [0, 2])`` is turned into
a subscript string as numpy turns it (0-25 are 'A'-'Z', 26-51 are 'a'-'z'):

>>> sublists_to_subscripts([[0, 1], [1, 2]], [0, 2])
'AB,BC->AC'
>>> sublists_to_subscripts([[Ellipsis, 27]], None)
'...b'
"""
import numbers

import numpy as np

from .errors import OperandError, SublistError, SubscriptError

ELLIPSIS = "..."
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # numpy's order for sublist integers


def _ellipsis_labels(count):
    return tuple((ELLIPSIS, count - i) for i in range(count))


def _check_characters(subscripts):
    for pos, ch in enumerate(subscripts):
        if not (ch.isascii() and ch.isalpha()) and ch not in ",.-> ":
            raise SubscriptError(
                f"invalid character {ch!r} at position {pos} of subscripts {subscripts!r}: "
                "indices are single ASCII letters, separated by ',' with an optional '->' output"
                + (" (only plain spaces may separate them)" if ch.isspace() else "")
            )


def _split_term(term, subscripts, where):
    """Return (letters before '...', has_ellipsis, letters after '...'), skipping spaces as numpy does."""
    before, after, has_ellipsis = [], [], False
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == ".":
            if term[i:i + 3] != ELLIPSIS:
                raise SubscriptError(
                    f"bad ellipsis in {where} of subscripts {subscripts!r}: a '.' that is not part of "
                    "'...' (write the ellipsis as three dots with no spaces between them)")
            if has_ellipsis:
                raise SubscriptError(
                    f"bad ellipsis in {where} of subscripts {subscripts!r}: '...' appears more than once; "
                    "write it as exactly '...', once")
            has_ellipsis = True
            i += 3
            continue
        if ch in "->,":
            raise SubscriptError(f"{where} of subscripts {subscripts!r} contains a stray {ch!r}"
                                 + ("; write the output as '->', once" if ch in "->" else ""))
        if ch != " ":
            (after if has_ellipsis else before).append(ch)
        i += 1
    return "".join(before), has_ellipsis, "".join(after)


def parse_subscripts(subscripts, ndims):
    """Parse ``subscripts`` for operands of ranks ``ndims``.

    Returns ``(input_labels, output_labels)``: one tuple of labels per operand
    and the tuple of output labels.
    """
    if isinstance(subscripts, bytes):
        try:
            subscripts = subscripts.decode("ascii")
        except UnicodeDecodeError:
            raise SubscriptError(f"subscripts {subscripts!r} are not ASCII: indices are ASCII letters") from None
    if not isinstance(subscripts, str):
        raise SubscriptError(f"subscripts must be a string such as 'ij,jk->ik', got {type(subscripts).__name__}")
    _check_characters(subscripts)
    arrow = subscripts.find("-")
    if arrow == -1:
        lhs, rhs = subscripts, None
    else:
        if subscripts[arrow + 1:arrow + 2] != ">":
            raise SubscriptError(
                f"'-' at position {arrow} of subscripts {subscripts!r} is not followed by '>': "
                "write the output as '->' (no space between '-' and '>')")
        lhs, rhs = subscripts[:arrow], subscripts[arrow + 2:]
        if "->" in rhs:
            raise SubscriptError(f"subscripts {subscripts!r} contain '->' more than once")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise OperandError(
            f"subscripts {subscripts!r} name {len(terms)} operand(s) but {len(ndims)} were given"
        )
    inputs, ellipsis_ndim = [], 0
    for pos, (term, ndim) in enumerate(zip(terms, ndims)):
        before, has_ellipsis, after = _split_term(term, subscripts, f"operand {pos}")
        named = len(before) + len(after)
        if has_ellipsis:
            covered = ndim - named
            if covered < 0:
                raise SubscriptError(
                    f"operand {pos} has {ndim} dimension(s) but subscripts {term.strip()!r} name {named} "
                    "besides '...'"
                )
            ellipsis_ndim = max(ellipsis_ndim, covered)
            labels = tuple(before) + _ellipsis_labels(covered) + tuple(after)
        else:
            if named != ndim:
                raise SubscriptError(
                    f"operand {pos} has {ndim} dimension(s) but its subscripts {term.strip()!r} name {named}"
                    + (" (write '...' for the others)" if named < ndim else "")
                )
            labels = tuple(before)
        inputs.append(labels)
    if rhs is not None:
        output = _parse_output(rhs, inputs, ellipsis_ndim, subscripts)
    else:
        letters = [lab for labels in inputs for lab in labels if isinstance(lab, str)]
        once = sorted(lab for lab in set(letters) if letters.count(lab) == 1)
        output = _ellipsis_labels(ellipsis_ndim) + tuple(once)
    return inputs, output


def _parse_output(rhs, inputs, ellipsis_ndim, subscripts):
    before, has_ellipsis, after = _split_term(rhs, subscripts, "the output")
    letters = before + after
    for ch in letters:
        if letters.count(ch) > 1:
            raise SubscriptError(f"output index {ch!r} appears more than once in subscripts {subscripts!r}")
        if not any(ch in labels for labels in inputs):
            raise SubscriptError(
                f"output index {ch!r} of subscripts {subscripts!r} does not appear in any operand"
            )
    if ellipsis_ndim and not has_ellipsis:
        raise SubscriptError(
            f"operands of {subscripts!r} have '...' dimensions but the output has no '...' to hold them"
        )
    middle = _ellipsis_labels(ellipsis_ndim) if has_ellipsis else ()
    return tuple(before) + middle + tuple(after)


def _sublist_text(sublist, what):
    """One sublist of the interleaved form as subscript text ('...' for Ellipsis)."""
    from .expr import Expr  # late, to keep this module free of the expression classes
    if isinstance(sublist, (str, bytes, Expr, dict)) or isinstance(sublist, np.ndarray) and sublist.ndim != 1:
        raise SublistError(
            f"{what} is a {type(sublist).__name__}; in the interleaved form each sublist is a list or tuple "
            "of integers in [0, 52) and at most one Ellipsis, such as [0, 1] or [Ellipsis, 0]")
    try:
        items = list(sublist)
    except TypeError:
        raise SublistError(
            f"{what} is a {type(sublist).__name__}; in the interleaved form each sublist is a list or tuple "
            "of integers in [0, 52) and at most one Ellipsis, such as [0, 1] or [Ellipsis, 0]") from None
    text = []
    for k, item in enumerate(items):
        if item is Ellipsis:
            if ELLIPSIS in text:
                raise SubscriptError(f"{what} {items!r} holds Ellipsis more than once; each sublist may have "
                                     "only one")
            text.append(ELLIPSIS)
        elif isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral, np.integer)):
            raise SublistError(
                f"entry {k} of {what} {items!r} is {item!r} (of type {type(item).__name__}); "
                "each entry is an integer in [0, 52) or Ellipsis")
        elif not 0 <= item < len(_LETTERS):
            raise SubscriptError(f"entry {k} of {what} {items!r} is {int(item)}, not in the valid range [0, 52)")
        else:
            text.append(_LETTERS[int(item)])
    return "".join(text)


def sublists_to_subscripts(sublists, output):
    """The subscript string of the interleaved form, as numpy builds it (0-25 -> 'A'-'Z', 26-51 -> 'a'-'z')."""
    lhs = ",".join(_sublist_text(s, f"the sublist of operand {pos}") for pos, s in enumerate(sublists))
    return lhs if output is None else lhs + "->" + _sublist_text(output, "the output sublist")


def label_text(label):
    """How a label is shown to a user in an error message."""
    return "..." if isinstance(label, tuple) and label and label[0] == ELLIPSIS else str(label)
