"""Data: synthetic skeletons, NTU RGB+D, UEA/UCR (``.ts``, the UCR text format, ``.npz``) readers, the
forms of ``X`` users hold (``as_cases``), batching and masks.

Everything here is NumPy on the host; arrays move to the device at the batch boundary.
"""

from .arrays import as_cases
from .augment import augment_batch, rotation_matrices
from .batching import check_dataset, iterate_batches, pad_sequences
from .joints import BONES, JOINT_NAMES, NUM_JOINTS, PARENT, REST_POSE, SPINE_MID
from .ntu import (
    CS_TRAIN_SUBJECTS,
    CV_TEST_CAMERAS,
    CV_TRAIN_CAMERAS,
    Body,
    NTUData,
    NTUName,
    NTUSplit,
    SkippedSample,
    SkipReport,
    load_ntu,
    ntu_split,
    parse_ntu_name,
    preprocess_skeleton,
    read_skeleton,
    select_actors,
    skip_reason,
    write_skeleton,
)
from .synthetic import CLASS_NAMES, RELEVANT_JOINTS, SkeletonData, generate_skeletons, synthetic_splits
from .files import read_labelled_file, read_npz_file
from .ts import ChannelNormalizer, UEASplit, find_uea, load_uea, read_ts
from .ucr import read_ucr_file

__all__ = [
    "pad_sequences", "BONES", "JOINT_NAMES", "NUM_JOINTS",
    # joints, synthetic skeletons, batches, augmentation
    "PARENT", "REST_POSE", "SPINE_MID",
    "CLASS_NAMES", "RELEVANT_JOINTS", "SkeletonData", "generate_skeletons", "synthetic_splits",
    "check_dataset", "iterate_batches", "augment_batch", "rotation_matrices",
    # NTU RGB+D
    "Body", "NTUName", "NTUSplit", "NTUData", "SkippedSample", "SkipReport",
    "CS_TRAIN_SUBJECTS", "CV_TRAIN_CAMERAS", "CV_TEST_CAMERAS",
    "read_skeleton", "write_skeleton", "parse_ntu_name", "ntu_split",
    "select_actors", "preprocess_skeleton", "skip_reason", "load_ntu",
    # UEA/UCR .ts, the UCR archive's text format, .npz, and the forms of X users hold
    "read_ts", "ChannelNormalizer", "UEASplit", "find_uea", "load_uea",
    "read_ucr_file", "read_npz_file", "read_labelled_file", "as_cases",
]
