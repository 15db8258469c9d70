"""Data: synthetic skeletons, NTU RGB+D and UEA/UCR readers, batching and masks.

Everything here is NumPy on the host; arrays move to the device at the batch boundary.
"""

from .batching import pad_sequences
from .joints import BONES, JOINT_NAMES, NUM_JOINTS

__all__ = ["pad_sequences", "BONES", "JOINT_NAMES", "NUM_JOINTS"]
