"""Data: synthetic skeletons, NTU RGB+D and UEA/UCR readers, batching and masks.

Everything here is NumPy on the host; arrays move to the device at the batch boundary.
"""

from .augment import augment_batch, rotation_matrices
from .batching import check_dataset, iterate_batches, pad_sequences
from .joints import BONES, JOINT_NAMES, NUM_JOINTS, PARENT, REST_POSE, SPINE_MID
from .synthetic import CLASS_NAMES, RELEVANT_JOINTS, SkeletonData, generate_skeletons, synthetic_splits

__all__ = [
    "pad_sequences", "BONES", "JOINT_NAMES", "NUM_JOINTS",
    # joints, synthetic skeletons, batches, augmentation
    "PARENT", "REST_POSE", "SPINE_MID",
    "CLASS_NAMES", "RELEVANT_JOINTS", "SkeletonData", "generate_skeletons", "synthetic_splits",
    "check_dataset", "iterate_batches", "augment_batch", "rotation_matrices",
]
