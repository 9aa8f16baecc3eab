"""Parsing and validation of einsum subscript strings (numpy semantics).

Labels are returned as one-character strings; the dimensions covered by an
ellipsis get labels ``("...", k)`` counted from the right, so operands with
different numbers of ellipsis dimensions broadcast right-aligned, as in numpy.

>>> parse_subscripts("ij,jk", [2, 2])
([('i', 'j'), ('j', 'k')], ('i', 'k'))
>>> parse_subscripts("...i->...", [3])[1]
(('...', 2), ('...', 1))
"""
from .errors import OperandError, SubscriptError

ELLIPSIS = "..."


def _ellipsis_labels(count):
    return tuple((ELLIPSIS, count - i) for i in range(count))


def _check_characters(subscripts):
    for pos, ch in enumerate(subscripts):
        if not (ch.isascii() and ch.isalpha()) and ch not in ",.->":
            raise SubscriptError(
                f"invalid character {ch!r} at position {pos} of subscripts {subscripts!r}: "
                "indices are single ASCII letters, separated by ',' with an optional '->' output"
            )


def _split_term(term, subscripts, where):
    """Return (letters before '...', has_ellipsis, letters after '...')."""
    if "-" in term or ">" in term:
        raise SubscriptError(f"stray '-' or '>' in {where} of subscripts {subscripts!r}: write the output as '->'")
    if "." in term:
        if term.count(".") != 3 or ELLIPSIS not in term:
            raise SubscriptError(f"bad ellipsis in {where} of subscripts {subscripts!r}: write it as exactly '...', once")
        before, after = term.split(ELLIPSIS)
        return before, True, after
    return term, False, ""


def parse_subscripts(subscripts, ndims):
    """Parse ``subscripts`` for operands of ranks ``ndims``.

    Returns ``(input_labels, output_labels)``: one tuple of labels per operand
    and the tuple of output labels.
    """
    if not isinstance(subscripts, str):
        raise SubscriptError(f"subscripts must be a string such as 'ij,jk->ik', got {type(subscripts).__name__}")
    subscripts_given = subscripts
    subscripts = subscripts.replace(" ", "")
    _check_characters(subscripts)
    if subscripts.count("->") > 1:
        raise SubscriptError(f"subscripts {subscripts_given!r} contain '->' more than once")
    explicit = "->" in subscripts
    lhs, rhs = subscripts.split("->") if explicit else (subscripts, None)
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise OperandError(
            f"subscripts {subscripts_given!r} name {len(terms)} operand(s) but {len(ndims)} were given"
        )
    inputs, ellipsis_ndim = [], 0
    for pos, (term, ndim) in enumerate(zip(terms, ndims)):
        before, has_ellipsis, after = _split_term(term, subscripts_given, f"operand {pos}")
        named = len(before) + len(after)
        if has_ellipsis:
            covered = ndim - named
            if covered < 0:
                raise SubscriptError(
                    f"operand {pos} has {ndim} dimension(s) but subscripts {term!r} name {named} besides '...'"
                )
            ellipsis_ndim = max(ellipsis_ndim, covered)
            labels = tuple(before) + _ellipsis_labels(covered) + tuple(after)
        else:
            if named != ndim:
                raise SubscriptError(
                    f"operand {pos} has {ndim} dimension(s) but its subscripts {term!r} name {named}"
                )
            labels = tuple(before)
        inputs.append(labels)
    if explicit:
        output = _parse_output(rhs, inputs, ellipsis_ndim, subscripts_given)
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


def label_text(label):
    """How a label is shown to a user in an error message."""
    return "..." if isinstance(label, tuple) and label and label[0] == ELLIPSIS else str(label)
