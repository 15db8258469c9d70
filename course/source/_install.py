"""The first lines of every assignment's setup cell: the handout builder puts them in place of the line
# (the first lines of every assignment: the FAST switch and the install, from source/_install.py)."""

import os
import sys

FAST = os.environ.get("MINIELEATT_FAST", "0") not in ("", "0")   # small sizes (the test suite sets it)
# what Colab or Kaggle pip-installs: the course's wheel, uploaded beside this notebook (the file panel), unless the
# course gave a git URL (git+https://...) instead; minieleatt is not on PyPI
INSTALL = "minieleatt-0.1.0-py3-none-any.whl"

try:
    import minieleatt
except ImportError:
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ or "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
        import subprocess           # Colab, Kaggle: install the package into this session
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", os.environ.get("MINIELEATT_SOURCE", INSTALL)],
                       check=True)
    else:                           # a clone without `pip install .`: the checkout this notebook sits in
        root = os.path.abspath("")
        while not os.path.isfile(os.path.join(root, "minieleatt", "__init__.py")) and os.path.dirname(root) != root:
            root = os.path.dirname(root)
        sys.path.insert(0, root)
    import minieleatt
