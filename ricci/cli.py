"""The ``ricci`` command line: gradients of einsums, drawings, the demo.

::

    ricci grad "ij,jk->ik"                    # dA = einsum("ik,jk->ij", dC, B) ...
    ricci grad "ij,jk->ik" --wrt 1 --shapes 3x4,4x5
    ricci draw "ij,jk,kl->il" -o net.png [--grad 1]
    ricci demo

Operands are named A, B, C, ... in order, the output the next free letter
and its gradient (cotangent) d<output>. Gradients are derived by ricci
itself (a vjp with a symbolic cotangent) and printed in the user's index
letters. Bad input prints one line on stderr and exits with status 2.

>>> main(["grad", "ij,jk->ik"])
C = einsum("ij,jk->ik", A, B)
dA = einsum("ik,jk->ij", dC, B)  # dC Bᵀ
dB = einsum("ij,ik->jk", A, dC)  # Aᵀ dC
0
"""
import argparse
import os
import sys

from .errors import RicciError
from .expr import Add, Constant, Contract, Delta, Tensor, Zeros
from .plan import Network
from .subscripts import ELLIPSIS, parse_subscripts

__all__ = ["main"]


class CommandLineError(RicciError, ValueError):
    """Bad command-line input (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line and exit status 2."""

    def error(self, message):
        raise CommandLineError(message)


def _build_parser():
    parser = _Parser(prog="ricci", description="Derivatives of einsum tensor networks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    grad = commands.add_parser("grad", help="print the einsum that computes each operand's gradient",
                               description="Print, for each operand, the einsum that computes its gradient "
                                           "from the output's gradient dC.")
    grad.add_argument("subscripts", help='einsum subscripts, e.g. "ij,jk->ik"')
    grad.add_argument("--wrt", help="operands to differentiate: positions or names, e.g. 0,1 or A,B (default all)")
    grad.add_argument("--shapes", help="operand shapes, e.g. 3x4,4x5 (checked; dimensions are annotated)")

    draw = commands.add_parser("draw", help="draw an einsum's tensor network",
                               description="Draw an einsum's tensor network (or its derivative) to a file.")
    draw.add_argument("subscripts", help='einsum subscripts, e.g. "ij,jk,kl->il"')
    draw.add_argument("-o", "--output", required=True, help="output file: .png, .svg, .pdf or .dot (Graphviz text)")
    draw.add_argument("--grad", help="draw the derivative with respect to this operand (position or name)")
    draw.add_argument("--shapes", help="operand shapes, e.g. 3x4,4x5 (edges show dimensions)")

    demo = commands.add_parser("demo", help="derive, check and measure the fused RNN-cell gradient")
    demo.add_argument("--size", default="1024,512,64", help="n_c,n_x,m (default 1024,512,64)")
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "demo":
            return _demo(args)
        if args.command == "grad":
            print(_grad_text(args.subscripts, args.wrt, args.shapes))
            return 0
        if args.command == "draw":
            print(_draw(args.subscripts, args.output, args.grad, args.shapes))
            return 0
    except RicciError as error:
        message = " ".join(str(error).split())
        print(f"ricci: error: {message}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover


def _demo(args):
    try:
        nc, nx, m = (int(v) for v in args.size.split(","))
    except ValueError:
        raise CommandLineError(f"--size must be three integers n_c,n_x,m, got {args.size!r}") from None
    if min(nc, nx, m) < 1:
        raise CommandLineError(f"--size must be positive integers, got {args.size!r}")
    from .demo import main as demo_main

    return demo_main(nc, nx, m)


# ---------------------------------------------------------------------------
# operands from subscripts
# ---------------------------------------------------------------------------
class _Problem:
    """The einsum of a command: Tensors named A, B, ..., the output, its cotangent, the user's labels."""

    def __init__(self, subscripts, shapes_text):
        import ricci

        if not isinstance(subscripts, str) or not subscripts.strip():
            raise CommandLineError("give einsum subscripts, e.g. \"ij,jk->ik\"")
        lhs = subscripts.replace(" ", "").split("->")[0]
        terms = lhs.split(",")
        shapes = _parse_shapes(shapes_text, len(terms)) if shapes_text is not None else None
        if shapes is None:
            ndims = [sum(ch.isalpha() for ch in term) + (1 if "..." in term else 0) for term in terms]
        else:
            ndims = [len(s) for s in shapes]
        self.inputs, self.output = parse_subscripts(subscripts, ndims)
        self.subscripts = subscripts.replace(" ", "")
        self.given_shapes = shapes is not None
        if shapes is None:
            sizes, shapes = {}, []
            for labels in self.inputs:
                shapes.append(tuple(sizes.setdefault(lab, 2 + len(sizes)) for lab in labels))
        self.names = _operand_names(len(terms))
        used = set(self.names)
        self.out_name = next(n for n in ("C", "D", "E", "F", "R", "Y", "Z", "OUT") if n not in used) \
            if len(terms) > 1 else ("B" if self.names[0] == "A" else "Y")
        self.tensors = [ricci.Tensor(n, s) for n, s in zip(self.names, shapes)]
        self.expr = ricci.einsum(subscripts, *self.tensors)
        self.cotangent = ricci.Tensor("d" + self.out_name, self.expr.shape)
        self.sizes = {}
        for labels, tensor in zip(self.inputs, self.tensors):
            self.sizes.update(zip(labels, tensor.shape))
        self.user_letters = {lab for labels in self.inputs for lab in labels if isinstance(lab, str)}

    def operand(self, text, what):
        """An operand position from a position ("1") or a name ("B")."""
        text = text.strip()
        if text in self.names:
            return self.names.index(text)
        try:
            k = int(text)
        except ValueError:
            raise CommandLineError(
                f"{what} {text!r} is neither an operand position (0..{len(self.names) - 1}) nor a name "
                f"({', '.join(self.names)})") from None
        if not 0 <= k < len(self.names):
            raise CommandLineError(f"{what} {k} is out of range: the subscripts name {len(self.names)} "
                                   f"operand(s), positions 0..{len(self.names) - 1}")
        return k

    def dims(self, shape):
        return "x".join(str(d) for d in shape) if shape else "scalar"


def _operand_names(n):
    letters = [chr(ord("A") + k) for k in range(26)]
    return letters[:n] if n <= 25 else [f"X{k}" for k in range(n)]


def _parse_shapes(text, count):
    parts = text.split(",")
    if len(parts) != count:
        raise CommandLineError(
            f"--shapes gives {len(parts)} shape(s) but the subscripts name {count} operand(s); "
            "separate shapes with ',' and dimensions with 'x', e.g. 3x4,4x5")
    shapes = []
    for part in parts:
        part = part.strip()
        if part in ("", "()", "scalar"):
            shapes.append(())
            continue
        try:
            dims = tuple(int(d) for d in part.replace("×", "x").replace("*", "x").split("x"))
        except ValueError:
            raise CommandLineError(f"bad shape {part!r} in --shapes: write dimensions like 3x4") from None
        if any(d < 1 for d in dims):
            raise CommandLineError(f"bad shape {part!r} in --shapes: dimensions must be positive")
        shapes.append(dims)
    return shapes


# ---------------------------------------------------------------------------
# ricci grad
# ---------------------------------------------------------------------------
def _grad_text(subscripts, wrt_text, shapes_text):
    import ricci
    from .notation import NotationError, to_matrix

    problem = _Problem(subscripts, shapes_text)
    if wrt_text is None:
        positions = list(range(len(problem.tensors)))
    else:
        positions = [problem.operand(t, "--wrt operand") for t in wrt_text.split(",") if t.strip()]
        if not positions:
            raise CommandLineError("--wrt names no operand; write e.g. --wrt 0,1")
        positions = list(dict.fromkeys(positions))
    grads = ricci.vjp(problem.expr, [problem.tensors[k] for k in positions], problem.cotangent)
    lines = []
    if problem.given_shapes:
        letters = sorted(lab for lab in problem.sizes if isinstance(lab, str))
        lines.append("# " + ", ".join(f"{lab}={problem.sizes[lab]}" for lab in letters))
    forward = f'{problem.out_name} = einsum("{problem.subscripts}", {", ".join(problem.names)})'
    if problem.given_shapes:
        forward += "  # " + ", ".join(f"{n}: {problem.dims(t.shape)}" for n, t in zip(problem.names, problem.tensors)) \
                   + f" -> {problem.out_name}: {problem.dims(problem.expr.shape)}"
    lines.append(forward)
    for k, g in zip(positions, grads):
        text = f"d{problem.names[k]} = {_in_user_letters(g, problem, k)}"
        notes = []
        if problem.given_shapes:
            notes.append(problem.dims(g.shape))
        try:
            notes.append(to_matrix(g, strict=True))
        except NotationError:
            pass
        lines.append(text + ("  # " + "; ".join(notes) if notes else ""))
    return "\n".join(lines)


def _in_user_letters(g, problem, k):
    """A gradient expression as one einsum call in the user's letters."""
    scale = 1.0
    if isinstance(g, Add) and len(g.terms) == 1 and g.offset == 0:
        scale, g = g.terms[0]
    if isinstance(g, Tensor):  # the cotangent itself, axis for axis
        text = g.name
    elif isinstance(g, Zeros):
        text = f"zeros({g.shape})"
    elif isinstance(g, Contract):
        text = _einsum_call(g, problem, problem.inputs[k])
    else:  # pragma: no cover - a single einsum's vjp is always one of the above
        from .notation import to_einsum

        text = to_einsum(g)
    if scale == 1:
        return text
    return f"-{text}" if scale == -1 else f"{scale:g} * {text}"


def _einsum_call(g, problem, out_labels):
    from .network import assign_letters

    net = Network(g.out, list(g.factors), dict(enumerate(g.sizes)), 1.0)
    prefer = {t: labels for t, labels in zip(problem.tensors, problem.inputs)}
    prefer[problem.cotangent] = problem.output
    names = assign_letters(net, out_labels, prefer, avoid=problem.user_letters)
    terms = [[names[lab] for lab in labs] for _, labs in g.factors]
    operands = []
    for child, labs in g.factors:
        if isinstance(child, Delta):
            letter = next((names[lab] for lab in labs if names[lab] in problem.user_letters), names[labs[0]])
            operands.append(f"eye({_size(problem, letter, child.n)})")
        elif isinstance(child, Tensor):
            operands.append(child.name)
        elif isinstance(child, Constant) and child.value.size and (child.value == 1).all():
            operands.append(f"ones({child.value.shape})")
        else:  # pragma: no cover
            from .notation import to_einsum

            operands.append(to_einsum(child))
    carried = {lab for _, labs in g.factors for lab in labs}
    for lab in g.out:  # broadcast: an output index no operand carries
        if lab not in carried:
            terms.append([names[lab]])
            operands.append(f"ones({_size(problem, names[lab], g.sizes[lab])})")
    out = [names[lab] for lab in g.out]
    strings = _with_ellipsis(terms + [out], problem.user_letters)
    return f'einsum("{",".join(strings[:-1])}->{strings[-1]}", {", ".join(operands)})'


def _size(problem, letter, n):
    if problem.given_shapes or not isinstance(letter, str):
        return str(n)
    return f"n_{letter}"


def _with_ellipsis(terms, avoid):
    """Subscript strings (the last one is the output).

    '...' labels are written as ... when each term has them as one
    right-aligned run and the output holds them all; otherwise as letters.
    """
    def ok(term):
        runs = [lab for lab in term if isinstance(lab, tuple)]
        if not runs:
            return True
        start = term.index(runs[0])
        counts = [lab[1] for lab in runs]
        return term[start:start + len(runs)] == runs and counts == list(range(len(runs), 0, -1))

    def run(term):
        return sum(isinstance(lab, tuple) for lab in term)

    # numpy needs the output's ... to hold every operand's ... dimensions
    if all(ok(t) for t in terms) and run(terms[-1]) == max(run(t) for t in terms):
        out = []
        for term in terms:
            text, done = "", False
            for lab in term:
                if isinstance(lab, tuple):
                    if not done:
                        text += ELLIPSIS
                        done = True
                else:
                    text += lab
            out.append(text)
        return out
    from opt_einsum import get_symbol

    fresh = {}
    symbols = (get_symbol(k) for k in range(10**6))
    used = set(avoid) | {lab for t in terms for lab in t if isinstance(lab, str)}
    for t in terms:
        for lab in t:
            if isinstance(lab, tuple) and lab not in fresh:
                fresh[lab] = next(s for s in symbols if s not in used)
                used.add(fresh[lab])
    return ["".join(fresh.get(lab, lab) for lab in t) for t in terms]


# ---------------------------------------------------------------------------
# ricci draw
# ---------------------------------------------------------------------------
def _draw(subscripts, output, grad_text, shapes_text):
    import ricci
    # the module, even once the package exports a function named draw
    from .draw import _dot_from_diagram, diagram, draw, draw_derivative

    problem = _Problem(subscripts, shapes_text)
    ext = os.path.splitext(output)[1].lower()
    if ext not in (".png", ".svg", ".pdf", ".dot"):
        raise CommandLineError(f"cannot write {output!r}: the output must end in .png, .svg, .pdf or .dot")
    prefer = {t: tuple(lab for lab in labels if isinstance(lab, str)) if all(isinstance(lab, str) for lab in labels)
              else () for t, labels in zip(problem.tensors, problem.inputs)}
    prefer[problem.cotangent] = tuple(lab for lab in problem.output) \
        if all(isinstance(lab, str) for lab in problem.output) else ()
    letters = prefer[problem.cotangent] or None
    sizes = problem.given_shapes
    if grad_text is None:
        if ext == ".dot":
            _write(output, _dot_from_diagram(diagram(problem.expr, letters=letters, prefer=prefer), sizes))
        else:
            draw(problem.expr, output, sizes=sizes, letters=letters, prefer=prefer)
        return f"wrote {output}"
    k = problem.operand(grad_text, "--grad operand")
    wrt = problem.tensors[k]
    cotangent = problem.cotangent if problem.expr.ndim else None
    if ext == ".dot":
        result = ricci.vjp(problem.expr, wrt, cotangent) if cotangent is not None else ricci.grad(problem.expr, wrt)
        _write(output, _dot_from_diagram(diagram(result, prefer=prefer), sizes))
    else:
        draw_derivative(problem.expr, wrt, output, cotangent=cotangent, sizes=sizes, prefer=prefer)
    return f"wrote {output} (the derivative with respect to operand {k}, {wrt.name})"


def _write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as error:
        raise CommandLineError(f"cannot write {path!r}: {error.strerror}") from None
