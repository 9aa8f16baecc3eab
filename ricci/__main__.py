"""Command line: ``ricci demo`` (also ``python -m ricci demo``).

>>> main(["--help"])  # doctest: +SKIP
"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ricci", description="Derivatives of einsum tensor networks.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="derive, check and measure the fused RNN-cell gradient")
    demo.add_argument("--size", default="1024,512,64", help="n_c,n_x,m (default 1024,512,64)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo_main

        try:
            nc, nx, m = (int(v) for v in args.size.split(","))
        except ValueError:
            parser.exit(2, f"ricci: error: --size must be three integers n_c,n_x,m, got {args.size!r}\n")
        return demo_main(nc, nx, m)
    return 2


if __name__ == "__main__":
    sys.exit(main())
