"""``python -m course ACTION ...``: ``minieleatt assignment ACTION ...`` with this folder as the course."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    os.environ["MINIELEATT_COURSE"] = HERE
    root = os.path.dirname(HERE)
    if root not in sys.path:
        sys.path.insert(0, root)             # the checkout's package, when it is not installed
    from minieleatt.cli import main as cli
    return cli(["assignment", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
