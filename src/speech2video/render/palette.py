"""The skeleton painter's fixed palette (paper §3.5, Fig. 7).

The renderer locates the face and the hands in a skeleton image by these exact colors, so no
limb color may equal (or come within :data:`PART_COLOR_TOLERANCE` of) a part color. Colors are
RGB uint8 triples. Images are RGB, (H, W, 3) uint8, black background.

- face: drawn in white (landmark contours and a filled head region)
- left hand: a filled circle in pure green; right hand: a filled circle in pure magenta
- limbs: per side, a fixed hue family (left: warm, right: cool, spine: yellow-grey)
- fingers: thin lines in a per-finger color, drawn over the hand circle
"""

from __future__ import annotations

Color = tuple[int, int, int]

BACKGROUND: Color = (0, 0, 0)
FACE: Color = (255, 255, 255)
LEFT_HAND_CIRCLE: Color = (0, 255, 0)
RIGHT_HAND_CIRCLE: Color = (255, 0, 255)
#: Max per-channel distance at which a pixel still counts as a part color.
PART_COLOR_TOLERANCE = 8

PART_COLORS: dict[str, Color] = {
    "face": FACE,
    "left_hand": LEFT_HAND_CIRCLE,
    "right_hand": RIGHT_HAND_CIRCLE,
}

#: Limb colors by bone child joint name (the bone from its parent to that joint).
LIMB_COLORS: dict[str, Color] = {
    # spine and head
    "spine1": (200, 180, 60),
    "spine2": (190, 170, 50),
    "spine3": (180, 160, 40),
    "neck": (170, 150, 30),
    "head": (160, 140, 20),
    # left side (warm)
    "left_hip": (230, 80, 40),
    "left_knee": (220, 60, 30),
    "left_ankle": (210, 40, 20),
    "left_foot": (200, 30, 10),
    "left_collar": (250, 140, 40),
    "left_shoulder": (245, 120, 30),
    "left_elbow": (240, 100, 20),
    "left_wrist": (235, 70, 10),
    # right side (cool)
    "right_hip": (40, 80, 230),
    "right_knee": (30, 60, 220),
    "right_ankle": (20, 40, 210),
    "right_foot": (10, 30, 200),
    "right_collar": (40, 160, 250),
    "right_shoulder": (30, 140, 245),
    "right_elbow": (20, 120, 240),
    "right_wrist": (10, 100, 235),
}

#: Finger line colors, same for both hands (the circle color tells the hands apart).
FINGER_COLORS: dict[str, Color] = {
    "thumb": (255, 200, 0),
    "index": (0, 200, 255),
    "middle": (255, 120, 120),
    "ring": (120, 120, 255),
    "pinky": (255, 255, 120),
}
