"""The 25-joint Kinect v2 skeleton of NTU RGB+D: joint names (0-based), bones, tree and rest pose.

Coordinates are metres in a body frame with ``y`` up, ``+x`` toward the subject's
left and ``z`` depth; the subject faces the camera, so the subject's forward is
``-z``. Seen from the camera (an ``x``-``y`` plot with ``x`` to the right) the
skeleton looks like a person from the front, the subject's left on the right.
"""

import numpy as np

JOINT_NAMES = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# Parent -> child pairs of the kinematic tree (0-based), 24 bones.
BONES = (
    (0, 1), (1, 20), (20, 2), (2, 3),
    (20, 4), (4, 5), (5, 6), (6, 7), (7, 21), (7, 22),
    (20, 8), (8, 9), (9, 10), (10, 11), (11, 23), (11, 24),
    (0, 12), (12, 13), (13, 14), (14, 15),
    (0, 16), (16, 17), (17, 18), (18, 19),
)

SPINE_MID = JOINT_INDEX["SpineMid"]


def _parent_array(bones, num_joints):
    """``PARENT[j]`` = the parent of joint ``j`` in ``bones``, -1 for the single root; (J,) int64."""
    parent = np.full(num_joints, -1, dtype=np.int64)
    for p, c in bones:
        if parent[c] != -1:
            raise ValueError(f"joint {c} has two parents in BONES")
        parent[c] = p
    if np.count_nonzero(parent == -1) != 1:
        raise ValueError("BONES must form one tree with a single root")
    return parent


PARENT = _parent_array(BONES, NUM_JOINTS)
PARENT.flags.writeable = False
ROOT = int(np.flatnonzero(PARENT == -1)[0])


def children(joint):
    """The joints whose parent is ``joint``, ascending (a tuple of ints)."""
    return tuple(int(c) for c in np.flatnonzero(PARENT == joint))


def descendants(joint):
    """Every joint below ``joint`` in the tree (children, grandchildren ...), ascending; ``joint`` excluded."""
    found, stack = [], list(children(joint))
    while stack:
        j = stack.pop()
        found.append(j)
        stack.extend(children(j))
    return tuple(sorted(found))


def topological_order():
    """The joints ordered so that every parent comes before its children (breadth first from the root)."""
    order, queue = [], [ROOT]
    while queue:
        j = queue.pop(0)
        order.append(j)
        queue.extend(children(j))
    return tuple(order)


# A standing adult (about 1.75 m), hips level, arms hanging with the palms toward the
# thighs (thumbs forward), feet pointing toward the camera (-z). SpineBase, the hip
# centre, is the origin; the head is 0.72 m above it. Columns: x (subject's left), y (up), z (depth).
_HALF_REST = {
    "SpineBase": (0.0, 0.0, 0.0),
    "SpineMid": (0.0, 0.28, 0.0),
    "SpineShoulder": (0.0, 0.50, 0.0),
    "Neck": (0.0, 0.57, 0.0),
    "Head": (0.0, 0.72, 0.0),
    "ShoulderLeft": (0.18, 0.48, 0.0),
    "ElbowLeft": (0.20, 0.20, 0.0),
    "WristLeft": (0.21, -0.04, 0.0),
    "HandLeft": (0.21, -0.11, 0.0),
    "HandTipLeft": (0.21, -0.19, 0.0),
    "ThumbLeft": (0.20, -0.13, -0.04),
    "HipLeft": (0.08, -0.05, 0.0),
    "KneeLeft": (0.09, -0.47, 0.0),
    "AnkleLeft": (0.09, -0.87, 0.0),
    "FootLeft": (0.09, -0.92, -0.10),
}


def _rest_pose():
    """(25, 3) float64: the left half and the spine from ``_HALF_REST``, the right half mirrored in x."""
    pose = np.zeros((NUM_JOINTS, 3))
    for name, xyz in _HALF_REST.items():
        pose[JOINT_INDEX[name]] = xyz
        if name.endswith("Left"):
            pose[JOINT_INDEX[name[:-4] + "Right"]] = (-xyz[0], xyz[1], xyz[2])
    return pose


REST_POSE = _rest_pose()
REST_POSE.flags.writeable = False
