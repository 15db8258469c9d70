"""The command line: ``minieleatt gradcheck | train | compare | bench``.

Argument parsing and printing only; the work is done by the library.
"""

import argparse
import sys


def _cmd_gradcheck(args):
    from .backend import gpu_available
    from .cellcheck import all_configs, check_cell

    if args.device == "gpu" and not gpu_available():
        from .backend import array_module
        array_module("gpu")                       # raises the clear error that says how to get one
    configs = all_configs()
    print(f"Finite-difference gradient check, float64, device={args.device}, "
          f"T={args.T} B={args.B} D={args.D} H={args.H}, tolerance {args.tol:.0e}")
    print(f"{'configuration':<48} {'tensor':<6} {'rel. error':>10}  result")
    failed = 0
    worst = 0.0
    for cfg in configs:
        report = check_cell(cfg, T=args.T, B=args.B, D=args.D, H=args.H, device=args.device, seed=args.seed,
                            tol=args.tol)
        for row in report.rows:
            print(f"{cfg.label:<48} {row.name:<6} {row.rel_error:>10.2e}  {'pass' if row.passed else 'FAIL'}")
            worst = max(worst, row.rel_error)
        if not report.passed:
            failed += 1
            print(f"  -> {report.describe_worst()}")
    print(f"{len(configs) - failed}/{len(configs)} configurations pass; largest relative error {worst:.2e}")
    return 1 if failed else 0


def build_parser():
    parser = argparse.ArgumentParser(prog="minieleatt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gradcheck", help="check every cell's backward pass by finite differences (float64)")
    g.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    g.add_argument("--T", type=int, default=3, help="steps (default 3)")
    g.add_argument("--B", type=int, default=2, help="batch (default 2)")
    g.add_argument("--D", type=int, default=3, help="input size (default 3)")
    g.add_argument("--H", type=int, default=4, help="hidden size (default 4)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes (default 1e-6)")
    g.set_defaults(func=_cmd_gradcheck)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
