"""Part location from the painter's colors, and fixed-size part crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from speech2video.errors import InputError
from speech2video.render.palette import FACE, LEFT_HAND_CIRCLE, RIGHT_HAND_CIRCLE
from speech2video.render.part_boxes import crop_boxes, part_boxes, part_masks
from speech2video.render.renderer_data import to_tensor


def draw_skeleton(size: int, face: tuple, left: tuple | None, right: tuple | None) -> np.ndarray:
    """A skeleton-like image: limbs, a white face disc, green/magenta hand circles.

    face, left, right: (x, y, radius) in pixels; None leaves the hand out
    """
    img = np.zeros((size, size, 3), np.uint8)
    cv2.line(img, (size // 2, size // 4), (size // 2, 3 * size // 4), (200, 180, 60), 2)
    cv2.line(img, (size // 4, size // 2), (3 * size // 4, size // 2), (230, 80, 40), 2)
    cv2.circle(img, face[:2], face[2], FACE, -1)
    for hand, color in ((left, LEFT_HAND_CIRCLE), (right, RIGHT_HAND_CIRCLE)):
        if hand is not None:
            cv2.circle(img, hand[:2], hand[2], color, -1)
            cv2.line(img, hand[:2], (hand[0] + hand[2] + 3, hand[1]), (255, 200, 0), 1)
    return img


def test_boxes_centre_and_size_on_painted_parts() -> None:
    images = np.stack(
        [
            draw_skeleton(64, (32, 12, 6), (10, 44, 4), (54, 40, 4)),
            draw_skeleton(64, (20, 20, 8), (40, 50, 5), None),
        ]
    )
    boxes = part_boxes(to_tensor(images), face_scale=1.0, hand_scale=1.0)
    assert boxes.boxes.shape == (2, 3, 4) and boxes.valid.shape == (2, 3)
    assert boxes.valid.tolist() == [[True, True, True], [True, True, False]]
    centres = (boxes.boxes[..., :2] + boxes.boxes[..., 2:]) / 2
    expected = torch.tensor([[[32, 12], [10, 44], [54, 40]], [[20, 20], [40, 50], [0, 0]]]) + 0.5
    valid = boxes.valid
    assert torch.allclose(centres[valid], expected.float()[valid], atol=0.7)
    sides = (boxes.boxes[..., 2] - boxes.boxes[..., 0])[valid]
    diameters = torch.tensor([13, 9, 9, 17, 11], dtype=torch.float32)  # 2r+1 pixels
    assert torch.allclose(sides, diameters, rtol=0.15)
    assert torch.all(boxes.boxes[1, 2] == 0)


def test_uint8_and_float_inputs_agree() -> None:
    image = draw_skeleton(48, (24, 10, 5), (8, 30, 3), (40, 30, 3))
    from_uint8 = part_boxes(torch.from_numpy(image).permute(2, 0, 1)[None])
    from_float = part_boxes(to_tensor(image[None]))
    assert torch.allclose(from_uint8.boxes, from_float.boxes)


def test_crops_land_on_painted_parts() -> None:
    images = np.stack([draw_skeleton(64, (30, 14, 7), (12, 46, 5), (50, 44, 5))] * 2)
    x = to_tensor(images)
    boxes = part_boxes(x, face_scale=0.6, hand_scale=0.6)  # inside the discs
    crops = crop_boxes(x, boxes.boxes, 12)
    assert crops.shape == (2, 3, 3, 12, 12)
    mean_rgb = ((crops.mean(dim=(-1, -2)) + 1) * 127.5)[0]  # (3 parts, 3 channels)
    for got, color in zip(mean_rgb, (FACE, LEFT_HAND_CIRCLE, RIGHT_HAND_CIRCLE), strict=True):
        assert torch.allclose(got, torch.tensor(color, dtype=torch.float32), atol=25), (got, color)


def test_masks_ignore_limb_and_finger_colors() -> None:
    image = draw_skeleton(32, (16, 8, 3), (6, 24, 2), (26, 24, 2))
    masks = part_masks(to_tensor(image[None]))[0]
    limb_pixel = (16, 16)  # where the two limbs cross
    assert not masks[:, limb_pixel[1], limb_pixel[0]].any()
    assert masks[0, 8, 16] and masks[1, 23, 6] and masks[2, 23, 26]  # above the finger line
    assert not masks[1, 24, 8] and not masks[2, 24, 28]  # finger line over the circle


def test_empty_image_gives_no_valid_part() -> None:
    boxes = part_boxes(torch.full((1, 3, 16, 16), -1.0))
    assert not boxes.valid.any()


def test_wrong_shape_is_input_error() -> None:
    with pytest.raises(InputError, match="skeleton"):
        part_boxes(torch.zeros(1, 4, 8, 8))


def test_boxes_agree_with_the_skeleton_painters_output() -> None:
    from speech2video.body.body_model import load_body_model
    from speech2video.body.motion_file import Motion
    from speech2video.body.pose_layout import POSE_DIM
    from speech2video.render.skeleton_painter import SkeletonPainter, locate_parts
    from speech2video.render.skeleton_video import draw_motion, frame_camera

    poses = np.zeros((1, POSE_DIM), np.float32)
    poses[0, 15 * 3 + 2], poses[0, 16 * 3 + 2] = -1.1, 1.1  # shoulders: arms down
    poses[0, 18 * 3 + 1], poses[0, 19 * 3 + 1] = -1.2, 1.2  # elbows bent: hands in view
    model = load_body_model("skeleton")
    size = 128
    painter = SkeletonPainter(size, size)
    image = next(draw_motion(Motion(poses, 10.0), model, frame_camera(model, size, size), painter))
    found = locate_parts(image)
    boxes = part_boxes(to_tensor(image[None]))
    assert boxes.valid[0].all()
    for i, name in enumerate(("face", "left_hand", "right_hand")):
        ref = found[name]
        x0, y0, x1, y1 = boxes.boxes[0, i].tolist()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        assert ref.x0 - 1 <= cx <= ref.x1 + 1 and ref.y0 - 1 <= cy <= ref.y1 + 1, name
        assert x1 - x0 >= ref.x1 - ref.x0 and y1 - y0 >= ref.y1 - ref.y0, name  # covers the part
