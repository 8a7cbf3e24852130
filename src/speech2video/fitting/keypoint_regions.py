"""Where to look for the face and the hands, from the pose landmarks (the Holistic idea).

mediapipe's face and hand landmarkers start from detectors that see the whole image shrunk to
128-192 px: a face or a hand that is a few percent of a full-body or wide frame is lost there
(on a 1080×1920 full-body recording the face was found in none of the sampled frames). The pose
landmarker still finds the person, and its landmarks say where the head and each hand are.
:func:`head_box` and :func:`hand_box` turn them into square boxes; :func:`crop_square` cuts and
scales a box to the size the part landmarkers see, and :func:`from_crop` maps points found there
back to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: mediapipe pose landmarks used here.
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 2, 5, 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
#: (elbow, wrist, pinky, index) per side, the person's left then right.
ARM_LANDMARKS: dict[str, tuple[int, int, int, int]] = {
    "left": (13, 15, 17, 19),
    "right": (14, 16, 18, 20),
}
#: Visibility a landmark needs to place a box.
MIN_VISIBILITY = 0.5
#: Smallest box side, px (below it a part is too small to find in any crop).
MIN_SIDE = 24.0


@dataclass(frozen=True)
class Box:
    """A square region of the frame: centre (x, y) px and side px."""

    x: float
    y: float
    side: float


def head_box(pose: np.ndarray, visibility: np.ndarray) -> Box | None:
    """A box about twice the face, centred on the nose; None where the head is not seen.

    pose: (33, 2) px mediapipe pose landmarks; visibility: (33,)
    The size is the larger of 2.5 × the ear-to-ear and 4 × the eye-to-eye distance, and the
    shoulder width (a face turned sideways keeps its size by the shoulders).
    """
    pose = np.asarray(pose, np.float32)
    vis = np.asarray(visibility, np.float32)
    if vis[NOSE] < MIN_VISIBILITY:
        return None
    sizes = []
    for (a, b), factor in (((LEFT_EAR, RIGHT_EAR), 2.5), ((LEFT_EYE, RIGHT_EYE), 4.0)):
        if min(vis[a], vis[b]) >= MIN_VISIBILITY:
            sizes.append(factor * float(np.linalg.norm(pose[a] - pose[b])))
    if min(vis[LEFT_SHOULDER], vis[RIGHT_SHOULDER]) >= MIN_VISIBILITY:
        sizes.append(float(np.linalg.norm(pose[LEFT_SHOULDER] - pose[RIGHT_SHOULDER])))
    if not sizes:
        return None
    side = max(max(sizes), MIN_SIDE)
    return Box(float(pose[NOSE, 0]), float(pose[NOSE, 1]), side)


def hand_box(pose: np.ndarray, visibility: np.ndarray, side: str) -> Box | None:
    """A box around one hand (``side``: the person's left|right); None where the wrist is unseen.

    pose: (33, 2) px; visibility: (33,)
    Centred on the knuckles (the pose's index and pinky points) where they are seen, else
    a third of a forearm past the wrist; the side is 1.5 × the forearm or 4 × the wrist-to-
    knuckle distance, whichever is larger (a forearm pointing at the camera is short).
    """
    elbow, wrist, pinky, index = ARM_LANDMARKS[side]
    pose = np.asarray(pose, np.float32)
    vis = np.asarray(visibility, np.float32)
    if vis[wrist] < MIN_VISIBILITY:
        return None
    sizes = []
    centre = None
    if min(vis[pinky], vis[index]) >= MIN_VISIBILITY:
        knuckles = (pose[pinky] + pose[index]) / 2
        centre = knuckles
        sizes.append(4.0 * float(np.linalg.norm(knuckles - pose[wrist])))
    if vis[elbow] >= MIN_VISIBILITY:
        forearm = pose[wrist] - pose[elbow]
        sizes.append(1.5 * float(np.linalg.norm(forearm)))
        if centre is None:
            centre = pose[wrist] + forearm / 3
    if centre is None or not sizes:
        return None
    return Box(float(centre[0]), float(centre[1]), max(max(sizes), MIN_SIDE))


def crop_square(frame: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Cut ``box`` out of ``frame`` (black outside the frame) and scale it to size × size.

    frame: (H, W, 3) uint8 → (size, size, 3) uint8
    """
    import cv2

    scale = size / box.side
    # affine map frame → crop: x' = scale · (x − (cx − side/2))
    m = np.array(
        [
            [scale, 0.0, -scale * (box.x - box.side / 2)],
            [0.0, scale, -scale * (box.y - box.side / 2)],
        ],
        np.float64,
    )
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(
        frame, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def from_crop(points: np.ndarray, box: Box) -> np.ndarray:
    """Points found in a crop, as fractions of its side (K, 2) → frame px (K, 2)."""
    points = np.asarray(points, np.float32)
    origin = np.array([box.x - box.side / 2, box.y - box.side / 2], np.float32)
    return origin + points * np.float32(box.side)
