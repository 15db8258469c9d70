"""Preprocessing: denoising the bodies, choosing the actors, the ``(T, 150)`` sequence, skip reasons."""

import numpy as np

from ..joints import NUM_JOINTS, SPINE_MID

NUM_ACTORS = 2
FRAME_DIM = NUM_ACTORS * NUM_JOINTS * 3  # 150

# Preprocessing defaults, from the denoising used across the skeleton literature
# (e.g. the NTU scripts of SGN / View-Adaptive RNN).
MIN_BODY_FRAMES = 12        # a body seen in fewer frames is noise (their "length <= 11")
SPREAD_RATIO = 0.8          # a frame is noisy for a body when x-spread > 0.8 * y-spread
NOISY_FRAME_RATIO = 0.69754  # a body with at least this share of noisy frames is noise
MIN_VALID_FRAMES = 10       # a sample with fewer non-empty frames is "missing" and skipped


class _Track:
    """One body id over the frames where it appears: ``frames (n,)``, ``xyz (n, 25, 3)``."""

    def __init__(self, body_id, frames, xyz):
        self.body_id, self.frames, self.xyz = body_id, np.asarray(frames), np.stack(xyz)

    @property
    def motion(self):
        """Sum over the 75 joint coordinates of their variance over the body's frames."""
        return float(self.xyz.var(axis=0).sum())

    def noisy_share(self, spread_ratio):
        """Share of frames whose x-spread exceeds ``spread_ratio`` times the y-spread."""
        spread = self.xyz.max(axis=1) - self.xyz.min(axis=1)  # (n, 3)
        return float(np.mean(spread[:, 0] > spread_ratio * spread[:, 1]))


def _collect_tracks(frames):
    """Group the bodies by ``body_id`` in order of first appearance.

    A body whose 25 xyz are all zero counts as absent; a repeated id within one
    frame keeps its first occurrence.
    """
    index, frame_lists, xyz_lists = {}, [], []
    for t, bodies in enumerate(frames):
        seen = set()
        for body in bodies:
            xyz = np.asarray(body.joints)[:, :3]
            if body.body_id in seen or not xyz.any():
                continue
            seen.add(body.body_id)
            k = index.setdefault(body.body_id, len(frame_lists))
            if k == len(frame_lists):
                frame_lists.append([])
                xyz_lists.append([])
            frame_lists[k].append(t)
            xyz_lists[k].append(xyz)
    return [_Track(bid, frame_lists[k], xyz_lists[k]) for bid, k in index.items()]


def select_actors(frames, *, min_body_frames=MIN_BODY_FRAMES, spread_ratio=SPREAD_RATIO,
                  noisy_frame_ratio=NOISY_FRAME_RATIO):
    """The body ids of actor 1 and actor 2 (``None`` when absent) after denoising.

    Denoising only applies when there is more than one body, and never removes
    the last one: first the bodies seen in fewer than ``min_body_frames`` frames
    go (if that would leave none, the longest stays); then, in order of first
    appearance, a body goes when at least ``noisy_frame_ratio`` of its frames have an
    x-spread (max - min over the joints) above ``spread_ratio`` times the
    y-spread (people are taller than wide; furniture and reflections are not).
    Actor 1 is the remaining body with the largest motion (sum of the variances
    of its 75 joint coordinates over time), actor 2 the next one.
    """
    return tuple(t.body_id if t is not None else None for t in _select_tracks(
        _collect_tracks(frames), min_body_frames, spread_ratio, noisy_frame_ratio))


def _select_tracks(tracks, min_body_frames, spread_ratio, noisy_frame_ratio):
    if len(tracks) > 1:
        long_enough = [t for t in tracks if len(t.frames) >= min_body_frames]
        tracks = long_enough or [max(tracks, key=lambda t: len(t.frames))]
    if len(tracks) > 1:
        kept = list(tracks)
        for t in tracks:
            if len(kept) == 1:
                break
            if t.noisy_share(spread_ratio) >= noisy_frame_ratio:
                kept.remove(t)
        tracks = kept
    ranked = sorted(tracks, key=lambda t: -t.motion)  # stable: ties keep appearance order
    ranked += [None] * (NUM_ACTORS - len(ranked))
    return ranked[:NUM_ACTORS]


def preprocess_skeleton(frames, *, min_body_frames=MIN_BODY_FRAMES, spread_ratio=SPREAD_RATIO,
                        noisy_frame_ratio=NOISY_FRAME_RATIO):
    """``(T, 150)`` float32 sequence from the frames of ``read_skeleton``.

    Actors are chosen as in ``select_actors``. Frame layout: actor 1's 25 joints
    then actor 2's, each joint ``x, y, z`` (so column ``3*j + k`` of actor 1 and
    ``75 + 3*j + k`` of actor 2). An actor absent from a frame is all zeros
    there. Frames with neither actor are dropped, so ``T`` is at most the frame
    count (0 when the file holds no body). Every present actor is translated by
    the SpineMid joint (index 1) of actor 1 in the first frame where actor 1 appears.
    """
    tracks = _select_tracks(_collect_tracks(frames), min_body_frames, spread_ratio, noisy_frame_ratio)
    out = np.zeros((len(frames), NUM_ACTORS, NUM_JOINTS, 3), dtype=np.float64)
    present = np.zeros((len(frames), NUM_ACTORS), dtype=bool)
    for slot, track in enumerate(tracks):
        if track is not None:
            out[track.frames, slot] = track.xyz
            present[track.frames, slot] = True
    keep = present.any(axis=1)
    out, present = out[keep], present[keep]
    if len(out):
        first = int(np.argmax(present[:, 0]))
        origin = out[first, 0, SPINE_MID].copy()
        out[present] -= origin
    return out.reshape(len(out), FRAME_DIM).astype(np.float32)


def skip_reason(frames, sequence, min_valid_frames=MIN_VALID_FRAMES):
    """Why a sample counts as missing, or ``None`` when it is usable.

    Returns ``('no-body', detail)`` when no frame holds a body,
    ``('too-few-frames', detail)`` when the preprocessed ``sequence`` has fewer
    than ``min_valid_frames`` frames, else ``None``.
    """
    if not any(len(bodies) for bodies in frames):
        return "no-body", f"no body in any of the {len(frames)} frames"
    if len(sequence) < min_valid_frames:
        return "too-few-frames", (f"{len(sequence)} valid frame(s) of {len(frames)}, "
                                  f"fewer than min_valid_frames={min_valid_frames}")
    return None
