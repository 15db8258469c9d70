"""The NTU RGB+D ``.skeleton`` text format: ``read_skeleton`` and ``write_skeleton``.

File format (whitespace-separated text, one Kinect v2 recording per file)::

    <frame count>
    per frame:  <body count>                      (0: an empty frame)
      per body: bodyID clippedEdges handLeftConfidence handLeftState
                handRightConfidence handRightState isRestricted leanX leanY trackingState
                <joint count>                     (25)
                per joint: x y z depthX depthY colorX colorY
                           orientationW orientationX orientationY orientationZ trackingState
"""

import os
from typing import NamedTuple

import numpy as np

from ...errors import DataFormatError
from ..joints import JOINT_NAMES, NUM_JOINTS

JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)
BODY_INFO_FIELDS = (
    "clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isRestricted", "leanX", "leanY", "trackingState",
)

_JOINT_TOKENS = NUM_JOINTS * len(JOINT_FIELDS)  # 300 values per body
_BODY_HEAD_TOKENS = 1 + len(BODY_INFO_FIELDS) + 1  # bodyID, 9 values, joint count
_KINECT_MAX_BODIES = 6  # the Kinect v2 SDK tracks at most 6 bodies


class Body(NamedTuple):
    """One body in one frame.

    ``body_id``: the Kinect tracking id (a Python int; it exceeds 2**53).
    ``info``: ``(9,)`` float64, the other body-line values in ``BODY_INFO_FIELDS`` order.
    ``joints``: ``(25, 12)`` float64, one row per joint, columns in ``JOINT_FIELDS`` order.
    """

    body_id: int
    info: np.ndarray
    joints: np.ndarray



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
