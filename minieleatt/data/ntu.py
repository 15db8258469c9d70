"""NTU RGB+D skeletons: the ``.skeleton`` reader, preprocessing, splits and a cached loader.

File format (whitespace-separated text, one Kinect v2 recording per file)::

    <frame count>
    per frame:  <body count>                      (0: an empty frame)
      per body: bodyID clippedEdges handLeftConfidence handLeftState
                handRightConfidence handRightState isRestricted leanX leanY trackingState
                <joint count>                     (25)
                per joint: x y z depthX depthY colorX colorY
                           orientationW orientationX orientationY orientationZ trackingState

File names are ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer, replication,
action; 1-based), e.g. ``S001C002P003R002A013.skeleton``.

The pieces, from low to high level:

* ``read_skeleton(path)``: the frames of one file, every field kept.
* ``preprocess_skeleton(frames)``: the usual ``(T, 150)`` sequence (2 actors x 25
  joints x xyz), noise bodies dropped, translated to actor 1's SpineMid.
* ``parse_ntu_name`` / ``ntu_split``: sample ids and the cross-subject / cross-view protocols.
* ``load_ntu(data_dir, protocol)``: all of it over a directory, in parallel, with an
  ``.npz`` cache and a report of the samples it skipped.
"""

import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import warnings
from functools import partial
from typing import NamedTuple

import numpy as np

from ..errors import DataFormatError
from .joints import JOINT_NAMES, NUM_JOINTS, SPINE_MID

JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)
BODY_INFO_FIELDS = (
    "clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isRestricted", "leanX", "leanY", "trackingState",
)
NUM_ACTORS = 2
FRAME_DIM = NUM_ACTORS * NUM_JOINTS * 3  # 150

# Cross-subject protocol (NTU RGB+D 60): these performers train, all others test.
CS_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
# Cross-view protocol: cameras 2 and 3 train, camera 1 tests.
CV_TRAIN_CAMERAS = (2, 3)
CV_TEST_CAMERAS = (1,)
PROTOCOLS = ("cs", "cv")

# Preprocessing defaults, from the denoising used across the skeleton literature
# (e.g. the NTU scripts of SGN / View-Adaptive RNN).
MIN_BODY_FRAMES = 12        # a body seen in fewer frames is noise (their "length <= 11")
SPREAD_RATIO = 0.8          # a frame is noisy for a body when x-spread > 0.8 * y-spread
NOISY_FRAME_RATIO = 0.69754  # a body with at least this share of noisy frames is noise
MIN_VALID_FRAMES = 10       # a sample with fewer non-empty frames is "missing" and skipped

_JOINT_TOKENS = NUM_JOINTS * len(JOINT_FIELDS)  # 300 values per body
_BODY_HEAD_TOKENS = 1 + len(BODY_INFO_FIELDS) + 1  # bodyID, 9 values, joint count
_KINECT_MAX_BODIES = 6  # the Kinect v2 SDK tracks at most 6 bodies

_NAME_RE = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?:[._].*)?$")
_CACHE_FORMAT = "minieleatt-ntu-cache"
_CACHE_VERSION = 1


class Body(NamedTuple):
    """One body in one frame.

    ``body_id``: the Kinect tracking id (a Python int; it exceeds 2**53).
    ``info``: ``(9,)`` float64, the other body-line values in ``BODY_INFO_FIELDS`` order.
    ``joints``: ``(25, 12)`` float64, one row per joint, columns in ``JOINT_FIELDS`` order.
    """

    body_id: int
    info: np.ndarray
    joints: np.ndarray


class NTUName(NamedTuple):
    """The sample id in an NTU file name (all 1-based)."""

    setup: int
    camera: int
    subject: int
    replication: int
    action: int


# --------------------------------------------------------------------------- reading


def read_skeleton(path):
    """Read one ``.skeleton`` file.

    Returns a list with one entry per frame of the file (empty frames included,
    as empty lists); each entry is the list of that frame's ``Body`` tuples.
    Tokens are split on any whitespace (so line ends may be ``\\n`` or ``\\r\\n``;
    a UTF-8 byte-order mark is ignored) and the structure is followed by
    counting values, as the dataset's own MATLAB reader does.
    Raises ``DataFormatError`` (with the file and 1-based line) for anything that
    does not follow the format: a truncated file, counts that are not
    non-negative integers, a joint count other than 25, non-numeric or
    non-finite values, or data after the last frame.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    return _parse_skeleton(raw, path)


def _parse_skeleton(raw, path):
    # Fast path: one split of the whole file and one NumPy conversion of every
    # token; the structure is then walked with integer offsets and each joint
    # block is a (25, 12) view of the converted array. When some token is not a
    # finite number the walk converts block by block instead, so the error can
    # say which field of which joint, body and frame is wrong.
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark left by some editor
        raw = b"   " + raw[3:]
    tokens = raw.split()
    where = _TokenLocator(raw, tokens, path)
    values = _all_floats(tokens)
    n_tokens = len(tokens)

    def floats(start, end, what):
        return values[start:end] if values is not None else where.floats(start, end, what)

    n_frames = where.count(0, "the frame count")
    if n_frames > n_tokens - 1:
        where.fail(0, f"frame count {n_frames} but the file holds only {n_tokens - 1} more values "
                      "(truncated file?)")
    frames = []
    pos = 1
    n_bodies_total = 0
    for f in range(n_frames):
        n_bodies = where.count(pos, f"the body count of frame {f + 1}")
        if n_bodies * (_BODY_HEAD_TOKENS + _JOINT_TOKENS) > n_tokens - pos - 1:
            if n_bodies > _KINECT_MAX_BODIES:  # a shifted token read as a count, not a cut file
                where.fail(pos, f"the body count of frame {f + 1} is {n_bodies}, but only {n_tokens - pos - 1} "
                                "values follow (a missing or extra value before it?)")
            where.eof(f"{n_bodies} bod{'y' if n_bodies == 1 else 'ies'} in frame {f + 1}")
        pos += 1
        bodies = []
        for b in range(n_bodies):
            what = f"body {b + 1} of frame {f + 1}"
            if pos + _BODY_HEAD_TOKENS > n_tokens:
                where.eof(f"the body line and joint count of {what}")
            body_id = where.count(pos, f"the bodyID of {what}")
            info = floats(pos + 1, pos + _BODY_HEAD_TOKENS - 1, f"the body line of {what}")
            n_joints = where.count(pos + _BODY_HEAD_TOKENS - 1, f"the joint count of {what}")
            if n_joints != NUM_JOINTS:
                where.fail(pos + _BODY_HEAD_TOKENS - 1,
                           f"joint count of {what} is {n_joints}, expected {NUM_JOINTS} (Kinect v2)")
            start = pos + _BODY_HEAD_TOKENS
            end = start + _JOINT_TOKENS
            if end > n_tokens:
                where.eof(f"{NUM_JOINTS} joint lines of 12 values for {what}")
            joints = floats(start, end, f"the joints of {what}")
            bodies.append(Body(body_id, info, joints.reshape(NUM_JOINTS, len(JOINT_FIELDS))))
            pos = end
        frames.append(bodies)
        n_bodies_total += n_bodies
    if pos != n_tokens:
        where.fail(pos, f"unexpected data after the last of the {n_frames} frames")
    where.check_line_count(1 + n_frames + n_bodies_total * (2 + NUM_JOINTS))
    return frames


def _all_floats(tokens):
    """All tokens as a float64 array, or None when some token is not a finite number."""
    try:
        values = np.array(tokens, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    if values.shape != (len(tokens),) or not np.isfinite(values).all():
        return None
    return values


def _show(token):
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _TokenLocator:
    """Error reporting for the token walk: maps a token index to its 1-based line.

    The line table is only built when an error is raised, so the fast path
    never pays for it.
    """

    def __init__(self, raw, tokens, path):
        self.raw, self.tokens, self.path = raw, tokens, path

    def count(self, i, what):
        """Token ``i`` as a non-negative integer (ASCII digits only)."""
        if i >= len(self.tokens):
            self.eof(what)
        tok = self.tokens[i]
        if not tok.isdigit():
            self.fail(i, f"expected a non-negative integer for {what}, got {_show(tok)}")
        if len(tok) > 20:  # past 2**64; also keeps int() under Python's digit limit
            self.fail(i, f"{what} has {len(tok)} digits, more than a 64-bit integer holds")
        return int(tok)

    def floats(self, start, end, what):
        """Tokens ``start:end`` as float64, or an error naming the first bad one."""
        out = np.empty(end - start)
        for i in range(start, end):
            tok = self.tokens[i]
            try:
                out[i - start] = v = float(tok)
            except (ValueError, TypeError, OverflowError):
                self.fail(i, f"expected a number for {self._field(start, i, what)}, got {_show(tok)}")
            if not np.isfinite(v):
                self.fail(i, f"non-finite value {_show(tok)} for {self._field(start, i, what)}")
        return out

    @staticmethod
    def _field(start, i, what):
        if what.startswith("the joints of "):
            j, k = divmod(i - start, len(JOINT_FIELDS))
            return f"{JOINT_FIELDS[k]} of joint {j} ({JOINT_NAMES[j]}) of {what[len('the joints of '):]}"
        return f"{BODY_INFO_FIELDS[i - start]} in {what}"

    def line_of(self, i):
        seen = 0
        for number, line in enumerate(self.raw.split(b"\n"), start=1):
            seen += len(line.split())
            if seen > i:
                return number
        return self.last_line()

    def last_line(self):
        lines = self.raw.split(b"\n")
        if len(lines) > 1 and lines[-1].strip() == b"":
            lines.pop()
        return max(1, len(lines))

    def first_misshapen_line(self):
        """(line, message) of the first line whose number of values breaks the format, or None.

        Walks the lines as the format lays them out (the frame count; per frame the
        body count; per body its 10-value line, the joint count and 25 joint lines of
        12 values), so that a value missing from one line is reported on that line
        rather than where the shifted count runs out. Only called on an error.
        """
        lines = self.raw.split(b"\n")
        k = 0

        def take(expected, what):
            nonlocal k
            while k < len(lines) and not lines[k].strip():
                k += 1
            if k >= len(lines):
                return None, None
            tokens = lines[k].split()
            k += 1
            if len(tokens) != expected:
                return k, (f"{len(tokens)} value{'s' if len(tokens) != 1 else ''} on the line of {what}, "
                           f"expected {expected}")
            return tokens, None

        def count(tokens):
            return int(tokens[0]) if tokens[0].isdigit() and len(tokens[0]) <= 20 else None

        tokens, bad = take(1, "the frame count")
        if bad or tokens is None or count(tokens) is None:
            return (tokens, bad) if bad else None
        for f in range(count(tokens)):
            tokens, bad = take(1, f"the body count of frame {f + 1}")
            if bad or tokens is None or count(tokens) is None or count(tokens) > _KINECT_MAX_BODIES:
                return (tokens, bad) if bad else None
            for b in range(int(tokens[0])):
                what = f"body {b + 1} of frame {f + 1}"
                fields = (1 + len(BODY_INFO_FIELDS), f"the body line of {what} (bodyID and 9 values)")
                for expected, label in (fields, (1, f"the joint count of {what}")):
                    tokens, bad = take(expected, label)
                    if bad or tokens is None:
                        return (tokens, bad) if bad else None
                for j in range(NUM_JOINTS):
                    tokens, bad = take(len(JOINT_FIELDS), f"joint {j} ({JOINT_NAMES[j]}) of {what} "
                                                          f"({' '.join(JOINT_FIELDS)})")
                    if bad or tokens is None:
                        return (tokens, bad) if bad else None
        return None

    def fail(self, i, message):
        line = self.line_of(i)
        misshapen = self.first_misshapen_line()
        if misshapen is not None and misshapen[0] <= line:
            raise DataFormatError(misshapen[1], self.path, misshapen[0])
        raise DataFormatError(message, self.path, line)

    def eof(self, what):
        misshapen = self.first_misshapen_line()
        if misshapen is not None and misshapen[0] < self.last_line():       # a cut last line is a truncation
            raise DataFormatError(misshapen[1], self.path, misshapen[0])
        raise DataFormatError(f"file ends early: expected {what}", self.path, self.last_line())

    def check_line_count(self, expected):
        """The values all fit, but do the lines? ``expected`` non-blank lines; else the first misshapen one."""
        lines = self.raw.count(b"\n") + (0 if self.raw.endswith(b"\n") else 1)
        if lines == expected or sum(1 for line in self.raw.split(b"\n") if line.strip()) == expected:
            return
        misshapen = self.first_misshapen_line()
        line, message = misshapen if misshapen else (self.last_line(), f"{expected} lines expected")
        raise DataFormatError(message, self.path, line)


def write_skeleton(path, frames):
    """Write ``frames`` (as returned by ``read_skeleton``) in the ``.skeleton`` text format.

    Values are printed with 7 significant digits like the Kinect export
    (``0.2183359 0.1725351 3.785889 ...``); integral values print as integers.
    Used by the tests and the parsing benchmark; ``read_skeleton`` reads it back.
    """
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body in bodies:
            info = " ".join(_fmt(v) for v in np.asarray(body.info, dtype=np.float64))
            out.append(f"{int(body.body_id)} {info}")
            joints = np.asarray(body.joints, dtype=np.float64)
            out.append(str(joints.shape[0]))
            out.extend(" ".join(_fmt(v) for v in row) for row in joints)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(out) + "\n")


def _fmt(v):
    return "%.7g" % v


# --------------------------------------------------------------------------- names and splits


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


# --------------------------------------------------------------------------- preprocessing


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


# --------------------------------------------------------------------------- loader


class SkippedSample(NamedTuple):
    """A sample that ``load_ntu`` left out: ``kind`` is 'no-body', 'too-few-frames' or 'format-error'."""

    name: str
    kind: str
    detail: str


class SkipReport:
    """The samples ``load_ntu`` skipped, with the reason for each.

    Iterates over ``SkippedSample(name, kind, detail)``; ``len()`` is their
    number, ``names`` their names, ``counts()`` the number per kind, ``str()``
    a readable summary.
    """

    def __init__(self, entries=()):
        self.entries = list(entries)

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    @property
    def names(self):
        return [e.name for e in self.entries]

    def counts(self):
        counts = {}
        for e in self.entries:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        return counts

    def __str__(self):
        if not self.entries:
            return "no sample skipped"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [f"{len(self.entries)} sample(s) skipped ({kinds}):"]
        lines += [f"  {e.name}: {e.kind}: {e.detail}" for e in self.entries]
        return "\n".join(lines)

    def __repr__(self):
        return f"SkipReport({len(self.entries)} skipped: {self.counts()})"


class NTUSplit(NamedTuple):
    """One side of a protocol.

    ``sequences``: list of N float32 arrays ``(T_i, 150)`` (see ``preprocess_skeleton``).
    ``labels``: ``(N,)`` int64, the action minus 1 (0..59 for NTU-60).
    ``names``: list of N sample names (``'S001C002P003R002A013'``).
    """

    sequences: list
    labels: np.ndarray
    names: list


class NTUData(NamedTuple):
    """What ``load_ntu`` returns.

    ``train``, ``test``: ``NTUSplit``; ``skipped``: ``SkipReport``;
    ``cache_path``: the cache file used or written (None without a cache);
    ``from_cache``: True when nothing was parsed because the cache was valid.
    """

    train: NTUSplit
    test: NTUSplit
    skipped: SkipReport
    cache_path: object
    from_cache: bool


def load_ntu(data_dir, protocol="cs", *, cache="auto", workers=None, progress=True,
             on_error="raise", on_stale_cache="rebuild", mp_context=None,
             min_valid_frames=MIN_VALID_FRAMES, min_body_frames=MIN_BODY_FRAMES, spread_ratio=SPREAD_RATIO,
             noisy_frame_ratio=NOISY_FRAME_RATIO):
    """Read, preprocess and split every ``*.skeleton`` file directly inside ``data_dir``.

    Each file is read (``read_skeleton``) and preprocessed (``preprocess_skeleton``
    with ``min_body_frames``, ``spread_ratio``, ``noisy_frame_ratio``) on
    ``workers`` processes (default: every core this process may use; 1 works
    in-process; ``mp_context`` names the multiprocessing start method, None for
    the platform default), with a tqdm bar on stderr when ``progress``. Samples with no
    body in any frame or fewer than ``min_valid_frames`` valid frames are skipped
    and listed in the report. A file that breaks the format raises
    ``DataFormatError`` when ``on_error='raise'``; with ``'skip'`` it is reported
    as 'format-error' and left out.

    ``cache``: ``'auto'`` (``$XDG_CACHE_HOME/minieleatt`` or ``~/.cache/minieleatt``,
    one file per data directory), a file path, or None/False for no cache. The
    cache holds every usable sample of both protocols plus the skip report, so
    one cache serves ``'cs'`` and ``'cv'``; it records the preprocessing
    settings and a fingerprint of the files (names, sizes, mtimes). A cache that
    is unreadable, or was built from other files or other settings, is rebuilt
    with a warning (``on_stale_cache='rebuild'``) or refused with an error
    (``'error'``). It is an uncompressed ``.npz`` without pickles, written to a
    temporary file then renamed, so an interrupted run never leaves half a cache.
    A cache that cannot be written only gives a warning.

    ``protocol``: ``'cs'`` or ``'cv'`` (see ``ntu_split``).
    Returns ``NTUData(train, test, skipped, cache_path, from_cache)``; the
    sequences of ``train`` and ``test`` are ``(T_i, 150)`` float32 views of one array.
    """
    protocol = _check_protocol(protocol)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if on_stale_cache not in ("rebuild", "error"):
        raise ValueError(f"on_stale_cache must be 'rebuild' or 'error', got {on_stale_cache!r}")
    data_dir = os.path.abspath(os.fspath(data_dir))
    paths, fingerprint = _list_skeletons(data_dir)
    settings = {
        "min_valid_frames": int(min_valid_frames), "min_body_frames": int(min_body_frames),
        "spread_ratio": float(spread_ratio), "noisy_frame_ratio": float(noisy_frame_ratio),
    }
    meta = {"format": _CACHE_FORMAT, "version": _CACHE_VERSION, "settings": settings,
            "fingerprint": fingerprint, "n_files": len(paths)}
    cache_path = _cache_path(cache, data_dir)

    table = None
    if cache_path is not None and os.path.exists(cache_path):
        table = _read_cache(cache_path, meta, on_stale_cache)
    from_cache = table is not None
    if table is None:
        table = _build_table(paths, settings, workers, progress, on_error, mp_context)
        if cache_path is not None:
            _write_cache(cache_path, table, meta)
    return _split_table(table, protocol, cache_path, from_cache)


def _list_skeletons(data_dir):
    """Sorted ``*.skeleton`` paths in ``data_dir`` and a fingerprint of (name, size, mtime)."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"NTU data directory {data_dir!r} does not exist or is not a directory")
    entries = sorted((e for e in os.scandir(data_dir)
                      if e.name.endswith(".skeleton") and e.is_file()), key=lambda e: e.name)
    if not entries:
        raise FileNotFoundError(
            f"no *.skeleton file in {data_dir!r} (the NTU RGB+D skeleton archive unpacks to a folder "
            "nturgb+d_skeletons/ holding S001C001P001R001A001.skeleton ...; pass that folder)")
    digest = hashlib.sha256()
    for e in entries:
        st = e.stat()
        digest.update(f"{e.name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    for e in entries:
        parse_ntu_name(e.name)  # fail early on a stray file name
    return [e.path for e in entries], digest.hexdigest()


def _process_file(path, settings):
    """Worker: ``(name, sequence or None, kind, detail, error)`` for one file.

    ``error`` is the ``DataFormatError`` of a malformed file (it pickles with its path and line).
    """
    name = os.path.basename(path)[: -len(".skeleton")]
    try:
        frames = read_skeleton(path)
    except DataFormatError as e:
        return name, None, "format-error", str(e), e
    seq = preprocess_skeleton(frames, min_body_frames=settings["min_body_frames"],
                              spread_ratio=settings["spread_ratio"],
                              noisy_frame_ratio=settings["noisy_frame_ratio"])
    reason = skip_reason(frames, seq, settings["min_valid_frames"])
    if reason is not None:
        return name, None, reason[0], reason[1], None
    return name, seq, None, None, None


def _default_workers():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _build_table(paths, settings, workers, progress, on_error, mp_context=None):
    """Parse and preprocess all files; the usable samples concatenated, plus the skips."""
    from tqdm.auto import tqdm

    workers = _default_workers() if workers is None else int(workers)
    workers = max(1, min(workers, len(paths)))
    job = partial(_process_file, settings=settings)
    seqs, names, skipped = [], [], []
    bar = tqdm(total=len(paths), desc="NTU skeletons", unit="file", disable=not progress)
    pool = None
    try:
        if workers == 1:
            results = map(job, paths)
        else:
            pool = multiprocessing.get_context(mp_context).Pool(workers)
            chunk = max(1, min(64, len(paths) // (workers * 16)))
            results = pool.imap(job, paths, chunksize=chunk)
        for name, seq, kind, detail, error in results:
            bar.update(1)
            if error is not None and on_error == "raise":
                raise error
            if seq is None:
                skipped.append(SkippedSample(name, kind, detail))
            else:
                seqs.append(seq)
                names.append(name)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = np.concatenate(seqs) if seqs else np.zeros((0, FRAME_DIM), np.float32)
    labels = np.array([parse_ntu_name(n).action - 1 for n in names], dtype=np.int64)
    return {"data": data, "offsets": offsets, "names": names, "labels": labels, "skipped": skipped}


def _split_table(table, protocol, cache_path, from_cache):
    data, offsets, names, labels = table["data"], table["offsets"], table["names"], table["labels"]
    seqs = [data[offsets[i]:offsets[i + 1]] for i in range(len(names))]
    train_idx, test_idx = ntu_split(names, protocol)

    def side(idx):
        return NTUSplit([seqs[i] for i in idx], labels[idx], [names[i] for i in idx])

    return NTUData(side(train_idx), side(test_idx), SkipReport(table["skipped"]),
                   cache_path, from_cache)


# --------------------------------------------------------------------------- cache


def _cache_path(cache, data_dir):
    if cache is None or cache is False:
        return None
    if isinstance(cache, str) and cache == "auto":
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        key = hashlib.sha256(data_dir.encode()).hexdigest()[:16]
        return os.path.join(root, "minieleatt", f"ntu-{key}.npz")
    return os.path.abspath(os.fspath(cache))


def _unicode(items):
    return np.array(list(items), dtype=np.str_) if len(items) else np.zeros(0, dtype="<U1")


def _write_cache(path, table, meta):
    """Write the cache atomically: a temporary file in the same folder, then ``os.replace``."""
    skipped = table["skipped"]
    arrays = {
        "meta": np.array(json.dumps(meta, sort_keys=True)),
        "data": table["data"],
        "offsets": table["offsets"],
        "names": _unicode(table["names"]),
        "labels": table["labels"],
        "skipped_names": _unicode([s.name for s in skipped]),
        "skipped_kinds": _unicode([s.kind for s in skipped]),
        "skipped_details": _unicode([s.detail for s in skipped]),
    }
    tmp = None
    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        warnings.warn(f"could not write the NTU cache {path!r} ({e}); the data was loaded "
                      "but the next run will parse the files again", UserWarning, stacklevel=3)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _read_cache(path, meta, on_stale_cache):
    """The cached table, or None when it must be rebuilt (after a warning)."""
    try:
        table, cached_meta = _load_cache_arrays(path)
    except Exception as e:  # a damaged zip or npy raises many types
        return _stale(path, f"it is unreadable or damaged ({type(e).__name__}: {e})", on_stale_cache)
    why = _meta_mismatch(cached_meta, meta)
    if why is not None:
        return _stale(path, why, on_stale_cache)
    return table


def _stale(path, why, on_stale_cache):
    message = f"NTU cache {path!r} cannot be used: {why}"
    if on_stale_cache == "error":
        raise DataFormatError(message + "; delete it or pass on_stale_cache='rebuild'", path)
    warnings.warn(message + "; rebuilding it", UserWarning, stacklevel=4)
    return None


def _load_cache_arrays(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("meta", "data", "offsets", "names", "labels",
                                    "skipped_names", "skipped_kinds", "skipped_details")}
    meta = json.loads(str(arrays["meta"][()]))
    data, offsets, labels = arrays["data"], arrays["offsets"], arrays["labels"]
    names = [str(n) for n in arrays["names"]]
    n = len(names)
    checks = (
        data.ndim == 2 and data.shape[1] == FRAME_DIM and data.dtype == np.float32,
        offsets.shape == (n + 1,) and offsets.dtype.kind == "i",
        labels.shape == (n,) and labels.dtype.kind == "i",
        n == 0 or (offsets[0] == 0 and offsets[-1] == len(data) and np.all(np.diff(offsets) > 0)),
        n > 0 or len(data) == 0,
        len(arrays["skipped_names"]) == len(arrays["skipped_kinds"]) == len(arrays["skipped_details"]),
    )
    if not all(checks):
        raise ValueError("the arrays are inconsistent (shapes, dtypes or offsets)")
    skipped = [SkippedSample(str(a), str(b), str(c)) for a, b, c in
               zip(arrays["skipped_names"], arrays["skipped_kinds"], arrays["skipped_details"])]
    table = {"data": data, "offsets": offsets, "names": names, "labels": labels, "skipped": skipped}
    return table, meta


def _meta_mismatch(cached, wanted):
    """A sentence saying why the cache does not match, or None."""
    if not isinstance(cached, dict) or cached.get("format") != _CACHE_FORMAT:
        return "it is not an NTU cache of minieleatt"
    if cached.get("version") != wanted["version"]:
        return f"it has cache format version {cached.get('version')}, expected {wanted['version']}"
    if cached.get("settings") != wanted["settings"]:
        diff = {k: (cached.get("settings", {}).get(k), v) for k, v in wanted["settings"].items()
                if cached.get("settings", {}).get(k) != v}
        shown = ", ".join(f"{k}: cached {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        return f"it was built with other preprocessing settings ({shown})"
    if cached.get("fingerprint") != wanted["fingerprint"]:
        return (f"the .skeleton files changed since it was built (it saw {cached.get('n_files')} files, "
                f"the folder now holds {wanted['n_files']}, or sizes/mtimes differ)")
    return None
