"""NTU RGB+D skeletons: the ``.skeleton`` reader, preprocessing, protocols and a cached loader.

File names are ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer, replication,
action; 1-based), e.g. ``S001C002P003R002A013.skeleton``.

The pieces, from low to high level, one module each:

* ``format``: ``read_skeleton(path)``, the frames of one file with every field kept, and ``write_skeleton``.
* ``preprocessing``: ``preprocess_skeleton(frames)``, the usual ``(T, 150)`` sequence
  (2 actors x 25 joints x xyz), noise bodies dropped, translated to actor 1's SpineMid;
  ``select_actors``, ``skip_reason``.
* ``protocols``: ``parse_ntu_name`` / ``ntu_split``, sample ids and the cross-subject /
  cross-view protocols.
* ``loader``: ``load_ntu(data_dir, protocol)``, all of it over a directory, in parallel,
  with an ``.npz`` cache and a report of the samples it skipped.
"""

from .format import BODY_INFO_FIELDS, JOINT_FIELDS, Body, read_skeleton, write_skeleton
from .loader import NTUData, NTUSplit, SkippedSample, SkipReport, load_ntu
from .preprocessing import (FRAME_DIM, MIN_BODY_FRAMES, MIN_VALID_FRAMES, NOISY_FRAME_RATIO, NUM_ACTORS,
                            SPREAD_RATIO, preprocess_skeleton, select_actors, skip_reason)
from .protocols import (CS_TRAIN_SUBJECTS, CV_TEST_CAMERAS, CV_TRAIN_CAMERAS, PROTOCOLS, NTUName, ntu_split,
                        parse_ntu_name)

__all__ = [
    "Body", "JOINT_FIELDS", "BODY_INFO_FIELDS", "read_skeleton", "write_skeleton",
    "NUM_ACTORS", "FRAME_DIM", "MIN_BODY_FRAMES", "SPREAD_RATIO", "NOISY_FRAME_RATIO", "MIN_VALID_FRAMES",
    "select_actors", "preprocess_skeleton", "skip_reason",
    "NTUName", "CS_TRAIN_SUBJECTS", "CV_TRAIN_CAMERAS", "CV_TEST_CAMERAS", "PROTOCOLS", "parse_ntu_name",
    "ntu_split",
    "SkippedSample", "SkipReport", "NTUSplit", "NTUData", "load_ntu",
]
