"""Painting the demo speaker as a simple articulated person (the "real" frames, not skeletons).

Plain backdrop with a soft gradient; trousers and a shirt (polygon torso, short sleeves as thick
capsules); skin-coloured forearms, neck, head and hands; hair, ears, eyes with irises that follow
the eye rotations, brows, a nose, and lips whose opening follows the jaw and lip landmarks (dark
mouth interior, a hint of teeth); palms with finger strokes. Parts are projected with the
speaker's :class:`PinholeCamera` and drawn back to front (OpenCV, anti-aliased, sub-pixel).
Deterministic: the same joints give the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from speech2video.body.camera import PinholeCamera
from speech2video.body.joint_tree import FACE_REGIONS, JOINT_INDEX, NUM_FACE_LANDMARKS, NUM_JOINTS
from speech2video.errors import InputError

if TYPE_CHECKING:
    from speech2video.body.skeleton_model import OpenSkeletonModel

Color = tuple[int, int, int]
_SHIFT = 4
_ONE = 1 << _SHIFT
J = JOINT_INDEX


@dataclass(frozen=True)
class Palette:
    """RGB colours of the person and the backdrop."""

    backdrop_top: Color = (214, 220, 226)
    backdrop_bottom: Color = (150, 162, 176)
    skin: Color = (232, 184, 150)
    skin_shadow: Color = (196, 140, 110)
    hair: Color = (66, 44, 30)
    shirt: Color = (52, 96, 160)
    shirt_shadow: Color = (34, 66, 116)
    trousers: Color = (48, 50, 58)
    shoes: Color = (30, 26, 24)
    lips: Color = (184, 92, 92)
    mouth: Color = (70, 20, 28)
    teeth: Color = (240, 236, 226)
    eye_white: Color = (246, 246, 242)
    iris: Color = (70, 50, 36)
    outline: Color = (40, 34, 34)


@dataclass(frozen=True)
class BodyFrame:
    """One frame's 3D state for painting.

    joints: (55, 3) world joint positions, metres; landmarks: (51, 3) world face landmarks
    rotations: (55, 3, 3) global joint rotations (rest frame → world)
    """

    joints: np.ndarray
    landmarks: np.ndarray
    rotations: np.ndarray


def _pts(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p) * _ONE).astype(np.int32)


class PersonPainter:
    """Paints :class:`BodyFrame` s as RGB images (height, width, 3) uint8."""

    def __init__(
        self, width: int, height: int, camera: PinholeCamera, palette: Palette | None = None
    ) -> None:
        if width < 16 or height < 16:
            raise InputError(f"image size must be at least 16x16; got {width}x{height}")
        self.width, self.height = int(width), int(height)
        self.camera = camera
        self.palette = palette or Palette()
        self._backdrop = self._make_backdrop()

    def _make_backdrop(self) -> np.ndarray:
        p = self.palette
        y = np.linspace(0.0, 1.0, self.height)[:, None, None]
        x = np.linspace(-1.0, 1.0, self.width)[None, :, None]
        top, bottom = np.array(p.backdrop_top, float), np.array(p.backdrop_bottom, float)
        img = (1 - y) * top + y * bottom
        img = img * (1.0 - 0.12 * x**2) + np.zeros((1, self.width, 1))
        return np.clip(img, 0, 255).astype(np.uint8)

    # ------------------------------------------------------------------ primitives

    def _px(self, metres: float, depth: float) -> int:
        """A world length at a depth, in whole pixels (at least 1)."""
        return max(1, round(metres * self.camera.fx / max(depth, 1e-3)))

    def _capsule(self, img: np.ndarray, a: np.ndarray, b: np.ndarray, width: int, color: Color):
        o = self.palette.outline
        pa, pb = tuple(_pts(a)), tuple(_pts(b))
        cv2 = _cv2()
        cv2.line(img, pa, pb, o, width + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(img, pa, pb, color, width, cv2.LINE_AA, _SHIFT)

    def _poly(self, img: np.ndarray, pts: np.ndarray, color: Color, outline: int = 1) -> None:
        cv2 = _cv2()
        p = _pts(pts).reshape(-1, 1, 2)
        cv2.fillPoly(img, [p], color, cv2.LINE_AA, _SHIFT)
        if outline:
            cv2.polylines(img, [p], True, self.palette.outline, outline, cv2.LINE_AA, _SHIFT)

    def _ellipse(
        self, img: np.ndarray, centre: np.ndarray, axes: tuple[float, float], angle: float,
        color: Color, outline: bool = True, arc: tuple[float, float] = (0.0, 360.0),
    ) -> None:  # fmt: skip
        cv2 = _cv2()
        c = tuple(_pts(centre))
        ax = (max(1, round(axes[0] * _ONE)), max(1, round(axes[1] * _ONE)))
        cv2.ellipse(img, c, ax, angle, arc[0], arc[1], color, -1, cv2.LINE_AA, _SHIFT)
        if outline:
            cv2.ellipse(img, c, ax, angle, arc[0], arc[1], self.palette.outline, 1, cv2.LINE_AA,
                        _SHIFT)  # fmt: skip

    # ------------------------------------------------------------------ parts

    def paint(self, frame: BodyFrame) -> np.ndarray:
        """One image: (height, width, 3) uint8 RGB."""
        joints = np.asarray(frame.joints, np.float32)
        lm = np.asarray(frame.landmarks, np.float32)
        rot = np.asarray(frame.rotations, np.float32)
        if joints.shape != (NUM_JOINTS, 3) or lm.shape != (NUM_FACE_LANDMARKS, 3):
            raise InputError(
                f"joints must be ({NUM_JOINTS}, 3) and landmarks ({NUM_FACE_LANDMARKS}, 3); "
                f"got {joints.shape} and {lm.shape}"
            )
        if rot.shape != (NUM_JOINTS, 3, 3):
            raise InputError(f"rotations must be ({NUM_JOINTS}, 3, 3); got {rot.shape}")
        img = self._backdrop.copy()
        cam = self.camera
        uv = cam.project(joints)
        depth = cam.depth(joints)
        self._legs(img, joints, uv, depth)
        self._torso(img, joints, rot, depth)
        parts: list[tuple[float, object]] = []
        for side in ("left", "right"):
            sh, el, wr = J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"]
            parts.append((float(depth[sh] + depth[el]) / 2, ("upper", side)))
            parts.append((float(depth[el] + depth[wr]) / 2, ("fore", side)))
            parts.append((float(depth[wr]) - 0.01, ("hand", side)))
        parts.append((float(depth[J["head"]]) + 0.04, ("head", "")))
        for _, (kind, side) in sorted(parts, key=lambda p: -p[0]):  # far to near
            if kind == "upper":
                self._upper_arm(img, side, uv, depth)
            elif kind == "fore":
                self._forearm(img, side, uv, depth)
            elif kind == "hand":
                self._hand(img, side, joints, uv, depth)
            else:
                self._head(img, joints, lm, rot, depth)
        return img

    def _legs(self, img: np.ndarray, joints: np.ndarray, uv: np.ndarray, depth: np.ndarray):
        p = self.palette
        for side in ("left", "right"):
            hip, knee = J[f"{side}_hip"], J[f"{side}_knee"]
            ankle, foot = J[f"{side}_ankle"], J[f"{side}_foot"]
            self._capsule(img, uv[foot], uv[ankle], self._px(0.06, depth[foot]), p.shoes)
            self._capsule(img, uv[knee], uv[ankle], self._px(0.11, depth[knee]), p.trousers)
            self._capsule(img, uv[hip], uv[knee], self._px(0.15, depth[hip]), p.trousers)

    def _torso(self, img: np.ndarray, joints: np.ndarray, rot: np.ndarray, depth: np.ndarray):
        p, cam = self.palette, self.camera
        chest, pelvis, waist = rot[J["spine3"]], rot[J["pelvis"]], rot[J["spine1"]]

        def at(joint: str, offset: tuple[float, float, float], r: np.ndarray) -> np.ndarray:
            return joints[J[joint]] + r @ np.asarray(offset, np.float32)

        left, right = [], []
        for sign, out in ((1.0, left), (-1.0, right)):
            side = "left" if sign > 0 else "right"
            out += [
                at(f"{side}_hip", (sign * 0.07, -0.06, 0.0), pelvis),
                at("spine1", (sign * 0.15, -0.02, 0.0), waist),
                at(f"{side}_shoulder", (sign * -0.01, -0.15, 0.0), chest),
                at(f"{side}_shoulder", (sign * 0.035, 0.015, 0.0), chest),
                at(f"{side}_collar", (sign * 0.0, 0.06, 0.0), chest),
                at("neck", (sign * 0.05, -0.03, 0.0), chest),
            ]
        shirt = np.array(left + right[::-1])
        # Trousers: from a belt line down to the hips' outer edges.
        belt_l, belt_r = left[0] + np.array([0, 0.09, 0]), right[0] + np.array([0, 0.09, 0])
        pants = np.array([belt_l, left[0] + [0.0, -0.1, 0.0], right[0] + [0.0, -0.1, 0.0], belt_r])
        self._poly(img, cam.project(pants), p.trousers)
        self._poly(img, cam.project(shirt), p.shirt)
        # Neck, then a collar opening.
        neck_w = self._px(0.1, depth[J["neck"]])
        uvn, uvh = cam.project(joints[J["neck"]]), cam.project(at("head", (0, -0.02, 0), chest))
        self._capsule(img, uvn, uvh, neck_w, p.skin)
        collar = np.array(
            [at("neck", (0.045, -0.02, 0.03), chest), at("neck", (0.0, -0.1, 0.05), chest),
             at("neck", (-0.045, -0.02, 0.03), chest)]
        )  # fmt: skip
        self._poly(img, cam.project(collar), p.skin)
        cv2 = _cv2()
        seam = _pts(cam.project(np.array([left[1], right[1]]) + np.array([0.0, 0.0, 0.08])))
        cv2.line(img, tuple(seam[0]), tuple(seam[1]), p.shirt_shadow, 1, cv2.LINE_AA, _SHIFT)

    def _upper_arm(self, img: np.ndarray, side: str, uv: np.ndarray, depth: np.ndarray) -> None:
        sh, el = J[f"{side}_shoulder"], J[f"{side}_elbow"]
        width = self._px(0.1, depth[sh])
        mid = uv[sh] + 0.55 * (uv[el] - uv[sh])
        self._capsule(img, uv[sh], uv[el], int(width * 0.85), self.palette.skin)
        self._capsule(img, uv[sh], mid, width, self.palette.shirt)

    def _forearm(self, img: np.ndarray, side: str, uv: np.ndarray, depth: np.ndarray) -> None:
        el, wr = J[f"{side}_elbow"], J[f"{side}_wrist"]
        self._capsule(img, uv[el], uv[wr], self._px(0.075, depth[el]), self.palette.skin)

    def _hand(
        self, img: np.ndarray, side: str, joints: np.ndarray, uv: np.ndarray, depth: np.ndarray
    ) -> None:
        p = self.palette
        wr = J[f"{side}_wrist"]
        base = {f: J[f"{side}_{f}1"] for f in ("index", "middle", "ring", "pinky", "thumb")}
        across = joints[base["index"]] - joints[base["pinky"]]
        across = across / max(float(np.linalg.norm(across)), 1e-6)
        palm3d = [joints[wr] + 0.028 * across, joints[wr] - 0.026 * across]
        palm3d += [joints[base[f]] for f in ("pinky", "ring", "middle", "index")]
        cv2 = _cv2()
        hull = cv2.convexHull(self.camera.project(np.array(palm3d)).astype(np.float32))
        finger_w = self._px(0.019, depth[wr])
        for f in ("pinky", "ring", "middle", "index", "thumb"):
            j1 = base[f]
            chain = joints[[j1, j1 + 1, j1 + 2]]
            tip = chain[2] + 0.7 * (chain[2] - chain[1])
            pts = self.camera.project(np.vstack([chain, tip[None]]))
            q = _pts(pts).reshape(-1, 1, 2)
            w = finger_w + (1 if f == "thumb" else 0)
            cv2.polylines(img, [q], False, p.outline, w + 2, cv2.LINE_AA, _SHIFT)
            cv2.polylines(img, [q], False, p.skin, w, cv2.LINE_AA, _SHIFT)
        self._poly(img, hull.reshape(-1, 2), p.skin)

    def _head(
        self, img: np.ndarray, joints: np.ndarray, lm: np.ndarray, rot: np.ndarray,
        depth: np.ndarray,
    ) -> None:  # fmt: skip
        p, cam = self.palette, self.camera
        r = rot[J["head"]]
        head = joints[J["head"]]
        d = float(depth[J["head"]])
        scale = cam.fx / max(d, 1e-3)
        up2d = cam.project(head + r @ np.array([0, 0.1, 0.0])) - cam.project(head)
        angle = float(np.degrees(np.arctan2(up2d[0], -up2d[1])))

        def ctr(offset: tuple[float, float, float]) -> np.ndarray:
            return cam.project(head + r @ np.asarray(offset, np.float32))

        # Back hair, ears, face, then the fringe.
        self._ellipse(img, ctr((0.0, 0.055, -0.01)), (0.09 * scale, 0.11 * scale), angle, p.hair)
        for sx in (-1.0, 1.0):
            self._ellipse(img, ctr((sx * 0.078, 0.03, 0.02)), (0.014 * scale, 0.024 * scale),
                          angle, p.skin)  # fmt: skip
        self._ellipse(img, ctr((0.0, 0.03, 0.03)), (0.077 * scale, 0.105 * scale), angle, p.skin)
        self._ellipse(img, ctr((0.0, 0.1, 0.03)), (0.082 * scale, 0.05 * scale), angle, p.hair,
                      arc=(180.0, 360.0))  # fmt: skip
        uv = cam.project(lm)
        cv2 = _cv2()
        r_ = FACE_REGIONS
        brow_w = max(1, round(0.006 * scale))
        for region in ("right_brow", "left_brow"):
            q = _pts(uv[list(r_[region])]).reshape(-1, 1, 2)
            cv2.polylines(img, [q], False, p.hair, brow_w, cv2.LINE_AA, _SHIFT)
        for region, eye_joint in (("right_eye", "right_eye"), ("left_eye", "left_eye")):
            self._eye(img, uv[list(r_[region])], rot[J[eye_joint]], r, scale)
        nose = _pts(uv[list(r_["nose_bridge"][1:]) + list(r_["nose_base"])]).reshape(-1, 1, 2)
        cv2.polylines(img, [nose], False, p.skin_shadow, 1, cv2.LINE_AA, _SHIFT)
        self._mouth(img, uv, scale)

    def _eye(
        self, img: np.ndarray, pts: np.ndarray, eye_rot: np.ndarray, head_rot: np.ndarray,
        scale: float,
    ) -> None:  # fmt: skip
        p = self.palette
        cv2 = _cv2()
        width = float(np.linalg.norm(pts[3] - pts[0]))
        height = float(np.linalg.norm((pts[1] + pts[2]) / 2 - (pts[4] + pts[5]) / 2))
        if height < 0.25 * 0.009 * scale:  # closed: a lid line
            q = _pts(pts[[0, 1, 2, 3]]).reshape(-1, 1, 2)
            cv2.polylines(img, [q], False, p.outline, 1, cv2.LINE_AA, _SHIFT)
            return
        self._poly(img, pts, p.eye_white, outline=0)
        # The eye's own rotation relative to the head moves the iris.
        rel = head_rot.T @ eye_rot
        look = rel @ np.array([0.0, 0.0, 1.0])
        centre = pts.mean(axis=0) + np.array([look[0], -look[1]]) * width * 0.9
        radius = min(0.5 * height, 0.3 * width) * 1.15
        self._ellipse(img, centre, (radius, radius), 0.0, p.iris, outline=False)
        q = _pts(pts).reshape(-1, 1, 2)
        cv2.polylines(img, [q], True, p.outline, 1, cv2.LINE_AA, _SHIFT)

    def _mouth(self, img: np.ndarray, uv: np.ndarray, scale: float) -> None:
        p = self.palette
        outer = uv[list(FACE_REGIONS["outer_lips"])]
        inner = uv[list(FACE_REGIONS["inner_lips"])]
        self._poly(img, outer, p.lips, outline=0)
        gap = float(np.linalg.norm(inner[2] - inner[6]))
        if gap < 0.0075 * scale:  # lips together: a line between them
            cv2 = _cv2()
            q = _pts(inner[[0, 1, 2, 3, 4]]).reshape(-1, 1, 2)
            cv2.polylines(img, [q], False, p.mouth, 1, cv2.LINE_AA, _SHIFT)
            return
        self._poly(img, inner, p.mouth, outline=0)
        teeth_h = min(0.35 * gap, 0.004 * scale)
        upper = inner[[0, 1, 2, 3, 4]]
        teeth = np.vstack([upper, upper[::-1] + np.array([0.0, teeth_h])])
        teeth[[0, 4, 5, 9]] = upper[[0, 4, 4, 0]] * 0.7 + upper[[1, 3, 3, 1]] * 0.3
        self._poly(img, teeth, p.teeth, outline=0)


def _cv2() -> Any:
    import cv2

    return cv2


def body_frames(model: OpenSkeletonModel, poses: np.ndarray) -> list[BodyFrame]:
    """Forward kinematics of a sequence for painting.

    model: the speaker's skeleton; poses: (T, 106) float32
    returns: one BodyFrame per frame
    """
    out = model.forward(poses)
    frames = model.global_transforms(poses)
    return [
        BodyFrame(out.joints[i], out.landmarks[i], frames.rotations[i])
        for i in range(poses.shape[0])
    ]
