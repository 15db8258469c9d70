"""NTU sample names (``SsssCcccPpppRrrrAaaa``) and the cross-subject / cross-view protocols."""

import os
import re
from typing import NamedTuple

import numpy as np

# Cross-subject protocol (NTU RGB+D 60): these performers train, all others test.
CS_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
# Cross-view protocol: cameras 2 and 3 train, camera 1 tests.
CV_TRAIN_CAMERAS = (2, 3)
CV_TEST_CAMERAS = (1,)
PROTOCOLS = ("cs", "cv")

_NAME_RE = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?:[._].*)?$")


class NTUName(NamedTuple):
    """The sample id in an NTU file name (all 1-based)."""

    setup: int
    camera: int
    subject: int
    replication: int
    action: int



def parse_ntu_name(name_or_path):
    """``NTUName(setup, camera, subject, replication, action)`` from ``SsssCcccPpppRrrrAaaa``.

    Accepts a bare name, a file name (``S001C002P003R002A013.skeleton``) or a path.
    Raises ``ValueError`` for a name that does not match or holds a 0.
    """
    base = os.path.basename(os.fspath(name_or_path))
    m = _NAME_RE.match(base)
    if m is None:
        raise ValueError(f"{base!r} is not an NTU RGB+D sample name: expected SsssCcccPpppRrrrAaaa "
                         "with 3 digits after each letter, e.g. S001C002P003R002A013.skeleton")
    parts = NTUName(*(int(g) for g in m.groups()))
    if min(parts) < 1:
        raise ValueError(f"{base!r}: the numbers in an NTU sample name are 1-based, got {parts}")
    return parts


def ntu_split(names, protocol):
    """Indices of the training and the test samples under ``protocol``.

    ``names``: sample names or paths (see ``parse_ntu_name``).
    ``protocol``: ``'cs'`` (cross-subject: subjects in ``CS_TRAIN_SUBJECTS`` train,
    all others test) or ``'cv'`` (cross-view: cameras ``CV_TRAIN_CAMERAS`` train,
    ``CV_TEST_CAMERAS`` test).
    Returns ``(train_idx, test_idx)``, two sorted int64 arrays of positions in ``names``.
    """
    protocol = _check_protocol(protocol)
    train, test = [], []
    for i, name in enumerate(names):
        parts = parse_ntu_name(name)
        if protocol == "cs":
            is_train = parts.subject in CS_TRAIN_SUBJECTS
        elif parts.camera in CV_TRAIN_CAMERAS:
            is_train = True
        elif parts.camera in CV_TEST_CAMERAS:
            is_train = False
        else:
            raise ValueError(f"{os.path.basename(os.fspath(name))!r}: camera {parts.camera} is in neither "
                             f"side of the cross-view protocol (train {CV_TRAIN_CAMERAS}, test {CV_TEST_CAMERAS})")
        (train if is_train else test).append(i)
    return np.array(train, dtype=np.int64), np.array(test, dtype=np.int64)


def _check_protocol(protocol):
    p = str(protocol).lower()
    if p not in PROTOCOLS:
        raise ValueError(f"unknown NTU protocol {protocol!r}; valid protocols are "
                         "'cs' (cross-subject) and 'cv' (cross-view)")
    return p
