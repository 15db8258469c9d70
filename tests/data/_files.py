"""Helpers for the reader tests: write ``.skeleton`` text by hand (independently of
``write_skeleton``) and build plausible moving bodies."""

import numpy as np

from minieleatt.data.joints import REST_POSE, SPINE_MID

# The package's standing pose (metres), 25 joints in JOINT_NAMES order; SpineMid (index 1) at the origin.
POSE = REST_POSE - REST_POSE[SPINE_MID]

BIG_ID = 72057594037931101  # > 2**53, as in the real files


def fmt(v):
    """How the Kinect export prints a value: 7 significant digits."""
    return "%.7g" % v


def joints12(xyz, seed=0):
    """``(n, 25, 12)`` joint rows from ``(n, 25, 3)`` positions: made-up depth, colour, orientation, state 2."""
    rng = np.random.default_rng(seed)
    n = len(xyz)
    extra = np.concatenate([
        rng.uniform(100, 400, size=(n, 25, 2)),      # depthX depthY
        rng.uniform(500, 1500, size=(n, 25, 2)),     # colorX colorY
        rng.uniform(-1, 1, size=(n, 25, 4)),         # orientation W X Y Z
        np.full((n, 25, 1), 2.0),                    # trackingState
    ], axis=-1)
    return np.concatenate([xyz, extra], axis=-1)


def moving_body(n_frames, center=(0.0, 0.2, 3.0), amplitude=0.05, seed=0, wide=1.0):
    """``(n, 25, 3)`` positions: the pose at ``center`` with sinusoidal motion of ``amplitude``.

    ``wide`` stretches x (a body much wider than tall is what the spread filter drops).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, 25, 3))
    pose = POSE * np.array([wide, 1.0, 1.0])
    return pose + np.asarray(center) + amplitude * np.sin(0.3 * t + phase)


INFO = (0, 1, 1, 1, 1, 0, 0.02764709, -0.05745083, 2)


def skeleton_text(frames, newline="\n"):
    """The ``.skeleton`` text of ``frames``: a list (per frame) of ``(body_id, joints (25, 12))``."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} " + " ".join(fmt(v) for v in INFO))
            lines.append(str(len(joints)))
            lines.extend(" ".join(fmt(v) for v in row) for row in joints)
    return newline.join(lines) + newline


def frames_from_tracks(n_frames, tracks):
    """Frames for ``skeleton_text`` from ``tracks``: a list of ``(body_id, first_frame, joints (n, 25, 12))``."""
    frames = [[] for _ in range(n_frames)]
    for body_id, first, joints in tracks:
        for k, row in enumerate(joints):
            frames[first + k].append((body_id, row))
    return frames


def replace_token(line, k, new):
    """``line`` with its ``k``-th whitespace-separated token replaced by ``new``."""
    tokens = line.split()
    tokens[k] = new
    return " ".join(tokens)
