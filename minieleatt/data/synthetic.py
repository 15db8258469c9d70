"""Synthetic skeleton actions: the paper's attention experiment on a laptop, no download.

Each sequence is a 25-joint Kinect v2 skeleton (``joints.py``) moved by forward
kinematics. Every joint ``j`` has local rotation angles ``a[t, j] = (about x, about
y, about z)`` at every frame; the global rotation is ``G[j] = G[parent(j)] @ L[j]``
with ``L[j] = rotation_matrices(a[t, j])`` and a child ``c`` of ``j`` sits at
``p[c] = p[j] + G[j] @ (s[c] * o[c])``, where ``o[c]`` is its rest offset
(``REST_POSE[c] - REST_POSE[j]``) and ``s[c]`` the subject's scale of that bone.

An action class rotates a few *actuated* joints along angle trajectories; the
joints it moves are their descendants, ``RELEVANT_JOINTS[c]``. On top of that:

* subjects: each sequence belongs to one of ``num_subjects`` seeded bodies
  (overall scale, per-bone lengths), so a cross-subject split is possible;
* per-sequence speed, amplitude, onset and length;
* a global rotation (yaw about the vertical, small pitch/roll) and translation;
* *distractor* motion: low-frequency random sway on every joint and of the whole
  body, drawn the same way for every class (it carries no class information);
* Gaussian sensor noise, larger on hand tips and thumbs.

Preprocessing follows NTU RGB+D: every frame is translated by SpineMid (joint 1)
of the first frame, and a frame is 75 values, joint-major ``[j0x, j0y, j0z, j1x, ...]``.

Angle conventions (radians, body frame: y up, +x the subject's left, forward -z):
about x, a positive angle swings a hanging limb forward (flexion) and tips the
head backward; about z, a positive angle raises a left limb sideways
(abduction), a negative one a right limb; about y, a positive angle turns a
forward-pointing left arm inward (toward the midline), a negative one a right arm.
"""

from typing import NamedTuple

import numpy as np

from .augment import rotation_matrices
from .batching import stratified_holdout
from .joints import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENT, REST_POSE, SPINE_MID, children, descendants, topological_order

CLASS_NAMES = (
    "wave_right", "wave_left", "punch_right", "punch_left", "kick_right",
    "kick_left", "touch_head", "clap", "nod", "march",
)
NUM_CLASSES = len(CLASS_NAMES)

_J = JOINT_INDEX
# The joints whose local rotation each class drives (same order as CLASS_NAMES).
ACTUATED_JOINTS = (
    (_J["ShoulderRight"], _J["ElbowRight"]),
    (_J["ShoulderLeft"], _J["ElbowLeft"]),
    (_J["ShoulderRight"], _J["ElbowRight"]),
    (_J["ShoulderLeft"], _J["ElbowLeft"]),
    (_J["HipRight"], _J["KneeRight"]),
    (_J["HipLeft"], _J["KneeLeft"]),
    (_J["ShoulderLeft"], _J["ElbowLeft"], _J["ShoulderRight"], _J["ElbowRight"]),
    (_J["ShoulderLeft"], _J["ElbowLeft"], _J["ShoulderRight"], _J["ElbowRight"]),
    (_J["Neck"],),
    (_J["HipLeft"], _J["KneeLeft"], _J["HipRight"], _J["KneeRight"]),
)


def _relevant_joints(actuated):
    """The joints whose body-frame positions a rotation of ``actuated`` moves: their descendants."""
    moved = set()
    for j in actuated:
        moved.update(descendants(j))
    return tuple(sorted(moved))


RELEVANT_JOINTS = tuple(_relevant_joints(a) for a in ACTUATED_JOINTS)

_ORDER = topological_order()
_INNER = tuple(j for j in range(NUM_JOINTS) if children(j))  # joints with children: their rotation matters
_INNER_SLOT = {j: k for k, j in enumerate(_INNER)}
_REST_OFFSETS = np.array([REST_POSE[j] - REST_POSE[PARENT[j]] if PARENT[j] >= 0 else np.zeros(3)
                          for j in range(NUM_JOINTS)])  # (J, 3): child relative to parent at rest
_TIPS = (_J["HandTipLeft"], _J["ThumbLeft"], _J["HandTipRight"], _J["ThumbRight"])
_MIRROR = np.array([_J[n.replace("Right", "Left")] if n.endswith("Right") else i
                    for i, n in enumerate(JOINT_NAMES)])  # right joint -> its left twin, others -> self

# Distractor sway at distractor=1: each local angle of joint j is
#   scale[j] * sum_k a_k sin(2 pi f_k t + phi_k),  a_k ~ U(0, 1), f_k ~ U(distractor_frequency),
# phi_k ~ U(0, 2 pi), k = 1.._SWAY_COMPONENTS (radians); joints without children sway
# through their parents (their own rotation would move nothing). SpineBase is the body sway.
_DISTRACTOR_SCALE = np.zeros(NUM_JOINTS)
for _name, _scale in {
    "SpineBase": 0.04, "SpineMid": 0.05, "SpineShoulder": 0.05, "Neck": 0.15,
    "Shoulder": 0.3, "Elbow": 0.3, "Wrist": 0.3, "Hand": 0.3,
    "Hip": 0.12, "Knee": 0.15, "Ankle": 0.15,
}.items():
    for _j, _n in enumerate(JOINT_NAMES):
        if _n == _name or _n in (_name + "Left", _name + "Right"):
            _DISTRACTOR_SCALE[_j] = _scale
_SWAYING = np.flatnonzero(_DISTRACTOR_SCALE)  # joints with distractor angles
_SWAY_TRANSLATION = 0.02  # metres of whole-body drift at distractor=1
_SWAY_COMPONENTS = 2      # sinusoids summed per angle

_CHUNK = 256  # sequences per forward-kinematics batch (fixed: the noise draws depend on it)
_SUBJECT_STREAM, _SEQUENCE_STREAM = 1, 2


class SkeletonData(NamedTuple):
    """A set of skeleton sequences with their labels.

    ``sequences``: list of ``(T_i, 75)`` float32 arrays, time-major; ``labels``:
    ``(N,)`` int64 in ``[0, len(class_names))``; ``subjects``: ``(N,)`` int64 subject
    ids; ``class_names``: tuple of str; ``relevant_joints``: per class, the joints
    that its motion moves.
    """

    sequences: list
    labels: np.ndarray
    subjects: np.ndarray
    class_names: tuple
    relevant_joints: tuple

    def take(self, index):
        """The sequences at ``index`` (an int array or a boolean mask), as a new ``SkeletonData``."""
        index = np.arange(len(self.labels))[np.asarray(index)]
        return SkeletonData([self.sequences[i] for i in index], self.labels[index],
                            self.subjects[index], self.class_names, self.relevant_joints)


class _Motion(NamedTuple):
    """Per-sequence parameters of the class motion, each an ``(n, 1)`` column (broadcasts against frames).

    ``length``: frames ``T_i``; ``speed``: tempo factor; ``amplitude``: angle factor;
    ``phase``: phase of the oscillation; ``onset``: start of the motion as a fraction
    of the sequence; ``extra``: ``(n, 2)`` uniform numbers for class-specific choices.
    """

    length: np.ndarray
    speed: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray
    onset: np.ndarray
    extra: np.ndarray

    def take(self, index):
        return _Motion(*(a[index] for a in self))


# ---------------------------------------------------------------- class motions
# Each returns a list of (joint, axis, angles (n, T)) from m (a _Motion) and frames t (1, T).

def _envelope(m, t, rise=0.25):
    """(n, T) in [0, 1]: 0 before the onset, a smooth rise over ``rise`` of the sequence, then 1 (hold)."""
    u = t / (m.length - 1)
    s = np.clip((u - m.onset) / rise, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def _oscillation(m, t, cycles_per_frame):
    """(n, T) angle ``2 pi f speed t + phase`` of a periodic motion of base frequency ``f`` (cycles per frame)."""
    return 2.0 * np.pi * cycles_per_frame * m.speed * t + m.phase


def _limb(side, kind):
    """Joint index of the ``kind`` ('Shoulder', 'Elbow', 'Hip', 'Knee') on ``side`` ('Left' or 'Right')."""
    return _J[kind + side]


def _sign(side):
    """+1 for the left side, -1 for the right: the sign of abduction about z and of inward turns about y."""
    return 1.0 if side == "Left" else -1.0


def _wave(side):
    def motion(m, t):
        env, a, s = _envelope(m, t), m.amplitude, _sign(side)
        swing = np.sin(_oscillation(m, t, 1 / 15))
        return [(_limb(side, "Shoulder"), 2, s * a * 1.9 * env),          # arm up sideways
                (_limb(side, "Elbow"), 2, s * a * (1.0 + 0.45 * swing) * env)]  # forearm up, swinging
    return motion


def _punch(side):
    def motion(m, t):
        env, a, s = _envelope(m, t, rise=0.15), m.amplitude, _sign(side)
        reach = 0.5 - 0.5 * np.cos(_oscillation(m, t, 1 / 16))  # 0 guard, 1 arm extended
        return [(_limb(side, "Shoulder"), 0, a * (0.3 + 1.2 * reach) * env),    # upper arm forward
                (_limb(side, "Shoulder"), 1, s * 0.15 * env),                  # toward the midline
                (_limb(side, "Elbow"), 0, a * 2.3 * (1.0 - reach) * env)]      # elbow flexed at guard
    return motion


def _kick(side):
    def motion(m, t):
        a = m.amplitude
        kicks = 1.0 + (m.extra[:, :1] < 0.5)                      # one or two kicks
        duration = np.minimum(22.0 / m.speed, 0.95 * m.length / kicks)
        start = m.extra[:, 1:2] * (m.length - kicks * duration)
        w = (t - start) / duration                                 # kick number + fraction
        active = (w >= 0) & (w < kicks)
        frac = w - np.floor(w)
        hip = np.where(active, np.sin(np.pi * frac) ** 2, 0.0)           # leg up and down
        knee = np.where(active, np.sin(2 * np.pi * frac) ** 2, 0.0)      # bent, snapped straight at the top
        return [(_limb(side, "Hip"), 0, a * 1.25 * hip),
                (_limb(side, "Knee"), 0, -a * 1.3 * knee)]
    return motion


def _touch_head(m, t):
    env, a = _envelope(m, t, rise=0.35), m.amplitude
    out = []
    for side in ("Left", "Right"):
        s = _sign(side)
        out += [(_limb(side, "Shoulder"), 0, a * 1.55 * env),         # upper arm forward and up,
                (_limb(side, "Shoulder"), 1, -s * 0.35 * env),        # elbow turned outward,
                (_limb(side, "Shoulder"), 2, s * 0.45 * env),         # a little sideways;
                (_limb(side, "Elbow"), 0, 2.3 * env)]                 # hand folded back to the head
    return out


def _clap(m, t):
    env, a = _envelope(m, t, rise=0.2), m.amplitude
    together = 0.5 - 0.5 * np.cos(_oscillation(m, t, 1 / 12))  # 1 when the hands meet
    out = []
    for side in ("Left", "Right"):
        s = _sign(side)
        out += [(_limb(side, "Shoulder"), 0, a * 1.3 * env),                     # arms forward
                (_limb(side, "Shoulder"), 1, s * (0.05 + 0.3 * together) * env),  # inward to meet
                (_limb(side, "Elbow"), 0, a * 0.3 * env)]
    return out


def _nod(m, t):
    env, a = _envelope(m, t, rise=0.15), m.amplitude
    down = 0.5 - 0.5 * np.cos(_oscillation(m, t, 1 / 16))
    return [(_J["Neck"], 0, -a * 0.7 * down * env)]                 # head forward and back


def _march(m, t):
    env, a = _envelope(m, t, rise=0.15), m.amplitude
    step = np.sin(_oscillation(m, t, 1 / 20))
    out = []
    for side, lift in (("Left", np.maximum(step, 0.0)), ("Right", np.maximum(-step, 0.0))):
        out += [(_limb(side, "Hip"), 0, a * 1.1 * lift * env),         # knee up
                (_limb(side, "Knee"), 0, -a * 1.3 * lift * env)]       # shin about vertical
    return out


_CLASS_MOTIONS = (
    _wave("Right"), _wave("Left"), _punch("Right"), _punch("Left"), _kick("Right"),
    _kick("Left"), _touch_head, _clap, _nod, _march,
)


# ---------------------------------------------------------------- kinematics

def forward_kinematics(angles, offsets):
    """Joint positions from local rotation angles, in the body frame (root at the origin).

    ``angles``: ``(n, T, J, 3)`` local angles about x, y, z (``rotation_matrices``);
    ``offsets``: ``(n, J, 3)`` bone vectors at rest, child relative to parent (the
    root's row is ignored). Returns ``(n, T, J, 3)`` float64 positions. Only joints
    with children need their angles; the others do not move anything.
    """
    n, T = angles.shape[:2]
    local = rotation_matrices(angles[:, :, list(_INNER)])      # (n, T, J_inner, 3, 3)
    G = {}
    pos = np.empty((n, T, NUM_JOINTS, 3))
    for j in _ORDER:
        p = PARENT[j]
        if p < 0:
            pos[:, :, j] = 0.0
            G[j] = local[:, :, _INNER_SLOT[j]]
            continue
        pos[:, :, j] = pos[:, :, p] + np.einsum("ntab,nb->nta", G[p], offsets[:, j])
        if j in _INNER_SLOT:
            G[j] = G[p] @ local[:, :, _INNER_SLOT[j]]
    return pos


def subject_bone_scales(subject_ids, seed=0, body_scale=(0.85, 1.15), bone_jitter=0.05):
    """Body proportions of the subjects: ``(S, J)`` factors on the rest offset of each bone.

    Entry ``[s, c]`` scales the bone that ends at joint ``c``: an overall scale
    ``~U(body_scale)`` of the subject times a per-bone factor ``~U(1 +- bone_jitter)``,
    the same for a left bone and its right twin. A subject's body depends only on
    ``seed`` and its id, so subject 3 is the same person in every call.
    """
    scales = np.empty((len(subject_ids), NUM_JOINTS))
    for k, s in enumerate(subject_ids):
        rng = np.random.default_rng([seed, _SUBJECT_STREAM, int(s)])
        overall = rng.uniform(*body_scale)
        per_bone = rng.uniform(1.0 - bone_jitter, 1.0 + bone_jitter, NUM_JOINTS)
        scales[k] = overall * per_bone[_MIRROR]
    return scales


def _distractor_angles(amp, freq, phase, t):
    """Sum of sinusoids ``sum_k amp_k sin(2 pi freq_k t + phase_k)``: params ``(n, ..., K)``, t ``(T,)`` -> ``(n, T, ...)``."""
    arg = 2.0 * np.pi * freq[..., None] * t + phase[..., None]        # (n, ..., K, T)
    wave = np.einsum("...k,...kt->...t", amp, np.sin(arg))           # (n, ..., T)
    return np.moveaxis(wave, -1, 1)


# ---------------------------------------------------------------- generation

class _Draws(NamedTuple):
    """Every per-sequence random choice, drawn up front (so the stream does not depend on the classes)."""

    motion: _Motion
    global_angles: np.ndarray    # (N, 3) pitch, yaw, roll
    translation: np.ndarray      # (N, 3)
    sway: tuple                  # (amp, freq, phase), each (N, J_swaying, 3, K)
    drift: tuple                 # (amp, freq, phase), each (N, 3, K)
    noise_seed: int


def _draw(rng, n, length, speed, amplitude, yaw, tilt, translation, distractor_frequency):
    """Draw the per-sequence parameters of ``n`` sequences (see ``generate_skeletons``)."""
    col = lambda a: np.asarray(a, dtype=np.float64)[:, None]  # noqa: E731
    motion = _Motion(
        length=col(rng.integers(length[0], length[1] + 1, n)),
        speed=col(rng.uniform(*speed, n)),
        amplitude=col(rng.uniform(*amplitude, n)),
        phase=col(rng.uniform(0, 2 * np.pi, n)),
        onset=col(rng.uniform(0.0, 0.1, n)),
        extra=rng.uniform(size=(n, 2)),
    )
    global_angles = np.stack([rng.uniform(-tilt, tilt, n), rng.uniform(-yaw, yaw, n),
                              rng.uniform(-tilt, tilt, n)], axis=1)
    position = np.array([0.0, 0.0, 3.0]) + rng.uniform(-translation, translation, (n, 3))
    K = _SWAY_COMPONENTS
    J = len(_SWAYING)
    sway = (rng.uniform(size=(n, J, 3, K)), rng.uniform(*distractor_frequency, (n, J, 3, K)),
            rng.uniform(0, 2 * np.pi, (n, J, 3, K)))
    drift = (rng.uniform(size=(n, 3, K)), rng.uniform(*distractor_frequency, (n, 3, K)),
             rng.uniform(0, 2 * np.pi, (n, 3, K)))
    return _Draws(motion, global_angles, position, sway, drift, int(rng.integers(2**63)))


def _chunk_positions(idx, source, draws, offsets, motion, distractor, t):
    """Camera-space positions ``(n, T, J, 3)`` of the sequences ``idx`` (all padded to ``len(t)`` frames)."""
    n, T = len(idx), len(t)
    angles = np.zeros((n, T, NUM_JOINTS, 3))
    if distractor:
        amp, freq, phase = (a[idx] for a in draws.sway)
        sway = _distractor_angles(amp, freq, phase, t)                  # (n, T, J_swaying, 3)
        angles[:, :, _SWAYING] = distractor * _DISTRACTOR_SCALE[_SWAYING, None] * sway
    if motion:
        m = draws.motion.take(idx)
        for c in np.unique(source[idx]):
            sel = np.flatnonzero(source[idx] == c)
            for joint, axis, values in _CLASS_MOTIONS[c](m.take(sel), t[None, :]):
                angles[sel, :, joint, axis] += motion * values
    body = forward_kinematics(angles, offsets[idx])
    if distractor:
        amp, freq, phase = (a[idx] for a in draws.drift)
        body += distractor * _SWAY_TRANSLATION * _distractor_angles(amp, freq, phase, t)[:, :, None, :]
    R = rotation_matrices(draws.global_angles[idx])                # (n, 3, 3)
    return np.einsum("nab,ntjb->ntja", R, body) + draws.translation[idx, None, None, :]


def _check_range(name, value, low=None):
    """``value`` as a float pair ``(a, b)`` with ``a <= b`` (and ``a >= low``), else ValueError."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}") from None
    if not a <= b or (low is not None and a < low):
        bound = "" if low is None else f" and low >= {low}"
        raise ValueError(f"{name} must satisfy low <= high{bound}, got {value!r}")
    return a, b


def _check_nonnegative(name, value):
    value = float(value)
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def generate_skeletons(n_per_class, subjects=None, num_subjects=20, seed=0, length=(30, 60),
                       distractor=1.0, noise=0.01, speed=(0.7, 1.4), yaw=0.5, classes=None, *,
                       amplitude=(0.8, 1.2), motion=1.0, tilt=0.1, translation=0.3,
                       distractor_frequency=(0.005, 0.04), tip_noise=3.0,
                       body_scale=(0.85, 1.15), bone_jitter=0.05):
    """Generate ``n_per_class`` skeleton sequences of each action class.

    Parameters (difficulty knobs, with their defaults):

    - ``subjects``: the subject ids to draw from (default ``range(num_subjects)``);
      each class gets them in turn, so subjects are balanced within a class.
    - ``seed``: everything is reproducible from it (bit-identical for the same
      arguments). A subject's body depends only on ``seed`` and its id; the rest of
      the random stream depends on ``seed`` and the subject ids, so calls with
      different subject lists draw independently.
    - ``length=(30, 60)``: frames per sequence, ``T_i`` uniform on the inclusive range (low >= 2).
    - ``distractor=1.0``: scale of the class-independent random sway: low-frequency
      sinusoids of random amplitude and phase on the local angles of every joint
      (up to 0.3 rad per component on the arms, 0.12-0.15 on the legs, 0.15 at the
      neck, 0.04-0.05 along the spine) and a whole-body drift (2 cm per component) (0 = none).
      It moves joints that matter for other classes; larger makes attention more
      useful and the task harder.
    - ``noise=0.01``: std (metres) of the Gaussian sensor noise per coordinate;
      hand tips and thumbs get ``tip_noise=3.0`` times as much.
    - ``speed=(0.7, 1.4)``: range of the tempo factor of the class motion (frequency).
    - ``amplitude=(0.8, 1.2)``: range of the per-sequence factor on the class motion's
      main angles (not on those that make the hands meet in a clap or reach the head).
    - ``motion=1.0``: scale of every class motion (0 = no class signal at all).
    - ``yaw=0.5``: the body turns about the vertical by ``U(-yaw, yaw)`` radians;
      ``tilt=0.1``: pitch and roll ``U(-tilt, tilt)``; ``translation=0.3``: hip
      centre within this many metres of ``(0, 0, 3)`` per axis (camera space; the
      SpineMid centring removes it again, up to rounding).
    - ``distractor_frequency=(0.005, 0.04)``: cycles per frame of the sway sinusoids
      (class motions run at about 0.035-0.12).
    - ``body_scale=(0.85, 1.15)``, ``bone_jitter=0.05``: subject body proportions.
    - ``classes``: indices into ``CLASS_NAMES`` to generate (default all); labels are
      renumbered ``0 .. len(classes) - 1`` in the given order.

    Returns ``SkeletonData`` in a seeded random order: ``(T_i, 75)`` float32 frames,
    joint-major xyz, translated so that SpineMid of the first frame is the origin.
    """
    n_per_class = _check_count("n_per_class", n_per_class)
    seed = _check_count("seed", seed, minimum=0)
    classes = tuple(range(NUM_CLASSES)) if classes is None else tuple(int(c) for c in classes)
    if not classes or any(not 0 <= c < NUM_CLASSES for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct indices in [0, {NUM_CLASSES}), got {classes}")
    if subjects is None:
        subjects = np.arange(_check_count("num_subjects", num_subjects))
    subjects = np.asarray(subjects, dtype=np.int64).reshape(-1)
    if subjects.size == 0 or np.any(subjects < 0) or len(np.unique(subjects)) != subjects.size:
        raise ValueError(f"subjects must be distinct non-negative ids, got {subjects.tolist()}")
    length = tuple(int(v) for v in _check_range("length", length, low=2))
    speed, amplitude = _check_range("speed", speed, low=1e-3), _check_range("amplitude", amplitude)
    distractor_frequency = _check_range("distractor_frequency", distractor_frequency, low=0.0)
    body_scale = _check_range("body_scale", body_scale, low=0.0)
    distractor, noise, motion = (_check_nonnegative(k, v) for k, v in
                                 (("distractor", distractor), ("noise", noise), ("motion", motion)))
    yaw, tilt, translation, tip_noise, bone_jitter = (
        _check_nonnegative(k, v) for k, v in (("yaw", yaw), ("tilt", tilt), ("translation", translation),
                                              ("tip_noise", tip_noise), ("bone_jitter", bone_jitter)))

    rng = np.random.default_rng([seed, _SEQUENCE_STREAM, *subjects.tolist()])
    N = n_per_class * len(classes)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    seq_subjects = np.concatenate([np.resize(rng.permutation(subjects), n_per_class) for _ in classes])
    order = rng.permutation(N)
    labels, seq_subjects = labels[order], seq_subjects[order]
    source = np.asarray(classes)[labels]                              # index into CLASS_NAMES
    draws = _draw(rng, N, length, speed, amplitude, yaw, tilt, translation, distractor_frequency)

    body = subject_bone_scales(subjects, seed, body_scale, bone_jitter)
    row = {int(s): k for k, s in enumerate(subjects)}
    offsets = body[[row[int(s)] for s in seq_subjects]][:, :, None] * _REST_OFFSETS   # (N, J, 3)
    noise_std = np.full(NUM_JOINTS, noise)
    noise_std[list(_TIPS)] *= tip_noise

    lengths = draws.motion.length[:, 0].astype(np.int64)
    by_length = np.argsort(lengths, kind="stable")
    sequences = [None] * N
    for k, start in enumerate(range(0, N, _CHUNK)):
        idx = by_length[start:start + _CHUNK]
        t = np.arange(lengths[idx].max(), dtype=np.float64)
        pos = _chunk_positions(idx, source, draws, offsets, motion, distractor, t)
        if noise:
            pos += noise_std[:, None] * np.random.default_rng([draws.noise_seed, k]).standard_normal(pos.shape)
        pos -= pos[:, :1, SPINE_MID:SPINE_MID + 1]                      # NTU: SpineMid of frame 0 at the origin
        frames = pos.reshape(len(idx), len(t), NUM_JOINTS * 3).astype(np.float32)
        for i, f in zip(idx, frames):
            sequences[i] = f[:lengths[i]].copy()
    return SkeletonData(sequences, labels.astype(np.int64), seq_subjects.astype(np.int64),
                        tuple(CLASS_NAMES[c] for c in classes), tuple(RELEVANT_JOINTS[c] for c in classes))


def synthetic_splits(n_train_per_class=300, n_test_per_class=100, val_fraction=0.05, num_subjects=20,
                     test_subjects=None, seed=0, **generator_kwargs):
    """Cross-subject train / validation / test sets: ``{'train', 'val', 'test'}`` -> ``SkeletonData``.

    Subjects ``0 .. num_subjects - 1``; ``test_subjects`` (default: the last quarter,
    ``num_subjects - round(num_subjects / 4) ..``) only appear in the test set. The
    training split has ``n_train_per_class`` sequences per class of the other
    subjects; ``val_fraction`` of it (per class, rounded) is held out as the
    validation set, as in the paper, so train and val share subjects. The test set
    has ``n_test_per_class`` per class. ``generator_kwargs`` go to ``generate_skeletons``.
    """
    num_subjects = _check_count("num_subjects", num_subjects)
    if test_subjects is None:
        test_subjects = range(num_subjects - max(1, round(num_subjects / 4)), num_subjects)
    test_ids = np.unique(np.asarray(test_subjects, dtype=np.int64).reshape(-1))
    if test_ids.size == 0 or test_ids.min() < 0 or test_ids.max() >= num_subjects:
        raise ValueError(f"test_subjects must be non-empty ids in [0, {num_subjects}), got {test_ids.tolist()}")
    train_ids = np.setdiff1d(np.arange(num_subjects), test_ids)
    if train_ids.size == 0:
        raise ValueError("test_subjects leaves no subject for training")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")

    train = generate_skeletons(n_train_per_class, subjects=train_ids, seed=seed, **generator_kwargs)
    test = generate_skeletons(n_test_per_class, subjects=test_ids, seed=seed, **generator_kwargs)
    held = stratified_holdout(train.labels, val_fraction, np.random.default_rng([seed, _SEQUENCE_STREAM + 1]),
                              minimum=0)
    return {"train": train.take(~held), "val": train.take(held), "test": test}
