"""Part refinement: the hands (or face) redrawn at their own crop from the person's own exemplars.

The whole-frame generator has little capacity for a hand that is ~60 px of a 512 px frame; on
the shared real clip its hands are smears that mediapipe never finds, while pasting the real
hand of the training frame nearest in pose makes them found as often as in the real frames
(docs/data-science.md). The refiner does that with learning instead of pasting:

1. Each part is located in the skeleton image by its palette colour (render/part_boxes.py) and
   cropped, from the generated frame and the skeleton, to ``crop`` × ``crop``.
2. An **exemplar** is picked for it: the enrolled person's real crop of that part, from the
   training frame whose skeleton crop of the part is nearest (the part's skeleton crop pooled to
   ``descriptor`` × ``descriptor`` pixels, squared distance), kept in an :class:`ExemplarBank`
   that ships with the renderer.
3. A small U-Net sees the generated crop, the skeleton crop, the exemplar and the exemplar's
   skeleton crop and predicts an image and a mask; the refined crop is
   ``mask · image + (1 − mask) · generated`` (so it may use the exemplar where the poses agree,
   and keep the generator's pixels where it cannot do better). The image is, by default, the
   exemplar warped along a predicted flow plus a small residual (``head: warp``): its pixels
   come from a real hand, so it stays sharp; a freely drawn image (``head: synthesis``) trained
   by L1 becomes the blurred mean of the hands it has seen, which the detector does not find.
4. The refined crop is pasted back into the frame under a feathered window (its weight falls to
   0 at the crop's border), so the seam does not show.

The frames fed back into the sequential generator stay the unrefined ones (it was trained on
its own outputs); only what is shown is refined. Training is render/part_refiner_training.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from speech2video.errors import InputError
from speech2video.render.part_boxes import PART_NAMES, crop_boxes, mouth_weight, part_boxes

REFINER_CONFIG_FILE = "part_refiner.json"
REFINER_WEIGHTS_FILE = "part_refiner.safetensors"
EXEMPLARS_FILE = "part_exemplars.safetensors"


@dataclass(frozen=True)
class PartRefinerConfig:
    """The refiner's shape (saved as ``part_refiner.json`` beside the renderer's weights).

    parts: which of :data:`PART_NAMES` are refined
    head: how the refined crop is drawn, one of :data:`HEADS` (:class:`PartRefinerNet`)
    crop: side of the square part crop in pixels (the network's input size; a multiple of 4)
    width: channels of the U-Net's first level (then 2×, 4×)
    descriptor: the part's skeleton crop is pooled to descriptor × descriptor to find exemplars
    face_scale, hand_scale: part box side as a multiple of the part's painted size (as the part
        discriminators')
    feather: share of the crop's half-side over which the paste weight falls to 0 at its border
    keep_mouth: a refined face keeps the generator's mouth (the lips' ellipse in the skeleton,
        :func:`~speech2video.render.part_boxes.mouth_weight`): the mouth follows the pose, not
        the exemplar's moment
    """

    parts: tuple[str, ...] = ("left_hand", "right_hand")
    head: str = "warp"
    crop: int = 64
    width: int = 32
    descriptor: int = 12
    face_scale: float = 1.6
    hand_scale: float = 2.5
    feather: float = 0.3
    keep_mouth: bool = True

    def validate(self) -> None:
        unknown = [p for p in self.parts if p not in PART_NAMES]
        if not self.parts or unknown:
            raise InputError(
                f"part_refiner.parts must be a non-empty subset of {list(PART_NAMES)}; "
                f"got {list(self.parts)}"
            )
        if self.head not in HEADS:
            raise InputError(f"part_refiner.head must be one of {list(HEADS)}; got {self.head!r}")
        if self.crop < 16 or self.crop % 4:
            raise InputError(f"part_refiner.crop must be a multiple of 4, >= 16; got {self.crop}")
        if self.width < 4 or not 2 <= self.descriptor <= self.crop:
            raise InputError(
                "part_refiner.width must be >= 4 and descriptor in [2, crop]; "
                f"got {self.width}, {self.descriptor}"
            )
        if not 0.0 < self.feather <= 1.0:
            raise InputError(f"part_refiner.feather must be in (0, 1]; got {self.feather}")

    @classmethod
    def from_dict(cls, data: dict) -> PartRefinerConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown part_refiner keys {unknown}; known: {sorted(known)}")
        data = dict(data)
        if "parts" in data:
            data["parts"] = tuple(data["parts"])
        config = cls(**data)
        config.validate()
        return config


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
        nn.InstanceNorm2d(cout, affine=True),
        nn.ReLU(True),
    )


#: Output heads of :class:`PartRefinerNet` (``PartRefinerConfig.head``).
HEADS = ("warp", "synthesis")
#: Largest exemplar shift the warp head predicts, in units of the crop's half-side.
MAX_FLOW = 0.5
#: Largest residual the warp head adds to the warped exemplar, in [-1, 1] image units.
MAX_RESIDUAL = 0.3


class PartRefinerNet(nn.Module):
    """(generated, skeleton, exemplar, exemplar skeleton) crops → the refined crop and its mask.

    Inputs: four (N, 3, S, S) in [-1, 1]; S a multiple of 4. Output: refined (N, 3, S, S) in
    [-1, 1] and mask (N, 1, S, S) in [0, 1]; refined = mask · image + (1 − mask) · generated,
    where image is, by ``head``:

    - ``warp``: the exemplar resampled along a predicted flow (at most :data:`MAX_FLOW` of the
      half-side) plus a bounded residual (:data:`MAX_RESIDUAL`). The pixels come from a real
      crop, so an L1 loss under pose uncertainty moves them instead of averaging them into a blur.
      It starts as the exemplar pasted (zero flow, mask 0.88).
    - ``synthesis``: drawn freely (tanh), starting close to the generated crop (mask 0.12). L1
      makes it the blurred mean of what it has seen (docs/data-science.md).
    """

    def __init__(self, width: int = 32, head: str = "warp") -> None:
        super().__init__()
        if head not in HEADS:
            raise InputError(f"part_refiner.head must be one of {list(HEADS)}; got {head!r}")
        w = width
        self.kind = head
        self.stem = _block(12, w)
        self.down1 = _block(w, 2 * w, 2)
        self.down2 = _block(2 * w, 4 * w, 2)
        self.mid = nn.Sequential(_block(4 * w, 4 * w), _block(4 * w, 4 * w))
        self.up2 = _block(4 * w, 2 * w)
        self.up1 = _block(2 * w, w)
        self.head = nn.Conv2d(w, 6 if head == "warp" else 4, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            if head == "warp":  # channels: flow x, flow y, mask, residual RGB
                self.head.bias[2] = 2.0
            else:  # channels: RGB, mask
                self.head.bias[3] = -2.0

    def forward(
        self,
        generated: torch.Tensor,
        skeleton: torch.Tensor,
        exemplar: torch.Tensor,
        exemplar_skeleton: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x0 = self.stem(torch.cat((generated, skeleton, exemplar, exemplar_skeleton), 1))
        x1 = self.down1(x0)
        x = self.mid(self.down2(x1))
        x = self.up2(F.interpolate(x, scale_factor=2.0, mode="nearest")) + x1
        x = self.up1(F.interpolate(x, scale_factor=2.0, mode="nearest")) + x0
        out = self.head(x)
        if self.kind == "synthesis":
            mask = torch.sigmoid(out[:, 3:])
            return mask * torch.tanh(out[:, :3]) + (1 - mask) * generated, mask
        mask = torch.sigmoid(out[:, 2:3])
        image = warp(exemplar, torch.tanh(out[:, :2]) * MAX_FLOW)
        image = (image + MAX_RESIDUAL * torch.tanh(out[:, 3:])).clamp(-1.0, 1.0)
        return mask * image + (1 - mask) * generated, mask


def warp(images: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Resample ``images`` (N, C, S, S) at each pixel's position plus ``flow`` (N, 2, S, S),
    (x, y) in grid_sample's normalised units (2 = the whole side); borders repeat."""
    h, w = images.shape[-2:]
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=images.device, dtype=images.dtype)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=images.device, dtype=images.dtype)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (S, S, 2) as (x, y)
    grid = base[None] + flow.permute(0, 2, 3, 1).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


@dataclass
class ExemplarBank:
    """Real part crops of the person's training frames, and where they came from.

    crops: (N, 3, S, S) uint8 RGB — the real frame's part crop
    skeletons: (N, 3, S, S) uint8 — the skeleton image's crop of the same box
    descriptors: (N, D) float32 — :func:`skeleton_descriptor` of ``skeletons``
    part: (N,) int64 — index in :data:`PART_NAMES`
    sequence, frame: (N,) int64 — the training recording (an index) and frame it came from
    """

    crops: torch.Tensor
    skeletons: torch.Tensor
    descriptors: torch.Tensor
    part: torch.Tensor
    sequence: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))
    frame: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))

    def __len__(self) -> int:
        return int(self.part.shape[0])

    def to(self, device: torch.device | str) -> ExemplarBank:
        """Move every tensor to ``device`` in place; returns self."""
        for name in ("crops", "skeletons", "descriptors", "part", "sequence", "frame"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def has(self, part: int) -> bool:
        """Whether the bank holds crops of ``part`` (an index in :data:`PART_NAMES`)."""
        return bool((self.part == part).any())

    def nearest(
        self,
        descriptors: torch.Tensor,
        part: int,
        exclude: tuple[torch.Tensor, torch.Tensor, int] | None = None,
    ) -> torch.Tensor:
        """Indices (M,) of the nearest exemplars of ``part`` to ``descriptors`` (M, D).

        exclude: (sequence (M,), frame (M,), radius): skip exemplars of the same sequence
        within ``radius`` frames (training, so that a frame is never its own exemplar)
        """
        candidates = (self.part == part).nonzero().flatten()
        if candidates.numel() == 0:
            raise InputError(f"the exemplar bank has no {PART_NAMES[part]} crops")
        dist = torch.cdist(descriptors.float(), self.descriptors[candidates].float())  # (M, C)
        if exclude is not None:
            seq, frame, radius = exclude
            near = (seq[:, None] == self.sequence[candidates][None]) & (
                (frame[:, None] - self.frame[candidates][None]).abs() <= radius
            )
            masked = dist.masked_fill(near, float("inf"))
            # a row with every exemplar excluded (a short recording) keeps its nearest
            dist = torch.where(torch.isinf(masked).all(1, keepdim=True), dist, masked)
        return candidates[dist.argmin(dim=1)]


def skeleton_descriptor(skeleton_crops: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, S, S) skeleton crops (uint8 or float in [-1, 1]) → (N, 3·size²) float32 in [0, 1]."""
    x = skeleton_crops.float()
    x = x / 255.0 if skeleton_crops.dtype == torch.uint8 else (x + 1.0) / 2.0
    return F.adaptive_avg_pool2d(x, size).flatten(1)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 → float32 [-1, 1] (same shape)."""
    return images.float() / 127.5 - 1.0


def feather_window(size: int, feather: float) -> torch.Tensor:
    """(size, size) paste weight: 1 inside, falling linearly to 0 over ``feather`` of the
    half-side at the border."""
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2.0 - 1.0  # -1..1
    ramp = ((1.0 - t.abs()) / feather).clamp(0.0, 1.0)
    return ramp[:, None] * ramp[None, :]


def paste_crops(
    frames: torch.Tensor,
    crops: torch.Tensor,
    boxes: torch.Tensor,
    weight: torch.Tensor,
    rows: list[int] | None = None,
) -> torch.Tensor:
    """Paste square crops back into their frames (inverse of :func:`crop_boxes`), in place.

    frames: (B, 3, H, W), written in place and returned; crops: (M, 3, S, S); boxes: (M, 4)
    (x0, y0, x1, y1) pixels; weight: (M, 1, S, S) in [0, 1], the crop's blending weight;
    rows: the frame of each crop (default: crop i into frame i, M = B).
    Only the pixels a crop reaches are sampled (its box and half a crop pixel around it).
    """
    _, _, h, w = frames.shape
    size = crops.shape[-1]
    both = torch.cat((crops, weight), 1).to(frames.dtype)
    rows = list(range(crops.shape[0])) if rows is None else rows
    for i, (row, (x0, y0, x1, y1)) in enumerate(zip(rows, boxes.float().tolist(), strict=True)):
        bw, bh = max(x1 - x0, 1e-3), max(y1 - y0, 1e-3)
        margin_x, margin_y = bw / size, bh / size  # bilinear reach past the box: half a pixel
        c0, c1 = max(0, math.floor(x0 - margin_x)), min(w, math.ceil(x1 + margin_x))
        r0, r1 = max(0, math.floor(y0 - margin_y)), min(h, math.ceil(y1 + margin_y))
        if c1 <= c0 or r1 <= r0:
            continue
        xs = torch.arange(c0, c1, dtype=frames.dtype, device=frames.device) + 0.5
        ys = torch.arange(r0, r1, dtype=frames.dtype, device=frames.device) + 0.5
        gx = (xs - x0) / bw * 2.0 - 1.0
        gy = (ys - y0) / bh * 2.0 - 1.0
        grid = torch.stack(
            (gx[None, :].expand(r1 - r0, -1), gy[:, None].expand(-1, c1 - c0)), dim=-1
        )[None]
        sampled = F.grid_sample(
            both[i : i + 1], grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )[0]
        image, alpha = sampled[:3], sampled[3:]
        region = frames[row, :, r0:r1, c0:c1]
        region.mul_(1 - alpha).add_(alpha * image)
    return frames


class PartRefinement:
    """A trained refiner with its exemplar bank: refines generated frames (module doc)."""

    def __init__(self, config: PartRefinerConfig, net: PartRefinerNet, bank: ExemplarBank):
        config.validate()
        self.config = config
        self.net = net.eval()
        self.bank = bank
        self.window = feather_window(config.crop, config.feather)

    @torch.inference_mode()
    def refine(self, frames: torch.Tensor, skeletons: torch.Tensor) -> torch.Tensor:
        """frames: (B, 3, H, W) generated, in [-1, 1]; skeletons: (B, 3, H, W) their skeleton
        images in [-1, 1] → (B, 3, H, W) with each found part refined."""
        if frames.shape != skeletons.shape or frames.ndim != 4 or frames.shape[1] != 3:
            raise InputError(
                f"frames and skeletons must both be (B, 3, H, W); got {tuple(frames.shape)}, "
                f"{tuple(skeletons.shape)}"
            )
        c = self.config
        frames = frames.float().clone()
        found = part_boxes(skeletons, face_scale=c.face_scale, hand_scale=c.hand_scale)
        for name in c.parts:
            p = PART_NAMES.index(name)
            rows = found.valid[:, p].nonzero().flatten()
            if rows.numel() == 0 or not self.bank.has(p):  # never seen in training: left as is
                continue
            box = found.boxes[rows, p : p + 1]  # (M, 1, 4)
            gen = crop_boxes(frames[rows], box, c.crop)[:, 0]
            sk = crop_boxes(skeletons[rows].float(), box, c.crop)[:, 0]
            pick = self.bank.nearest(skeleton_descriptor(sk, c.descriptor), p)
            refined, _ = self.net(
                gen, sk, to_unit(self.bank.crops[pick]), to_unit(self.bank.skeletons[pick])
            )
            weight = self.window.to(frames)[None, None].expand(rows.numel(), 1, -1, -1)
            if name == "face" and c.keep_mouth:
                weight = weight * (1.0 - mouth_weight(sk))
            paste_crops(frames, refined.clamp(-1, 1), box[:, 0], weight, rows.tolist())
        return frames


def save_part_refinement(directory: str | Path, refinement: PartRefinement) -> None:
    """Write ``part_refiner.json``, ``part_refiner.safetensors`` and ``part_exemplars.safetensors``
    into a renderer checkpoint directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = asdict(refinement.config)
    config["parts"] = list(config["parts"])
    (directory / REFINER_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.contiguous() for k, v in refinement.net.state_dict().items()}
    save_file(state, str(directory / REFINER_WEIGHTS_FILE))
    bank = refinement.bank
    tensors = {
        "crops": bank.crops,
        "skeletons": bank.skeletons,
        "descriptors": bank.descriptors,
        "part": bank.part,
        "sequence": bank.sequence,
        "frame": bank.frame,
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(directory / EXEMPLARS_FILE))


def load_part_refinement(directory: str | Path) -> PartRefinement | None:
    """The checkpoint's part refinement, or None when it has none (``part_refiner.json``
    absent). A partial or corrupt one raises InputError naming the file."""
    directory = Path(directory)
    config_path = directory / REFINER_CONFIG_FILE
    if not config_path.is_file():
        return None
    try:
        config = PartRefinerConfig.from_dict(json.loads(config_path.read_text()))
        net = PartRefinerNet(config.width, config.head)
        net.load_state_dict(load_file(str(directory / REFINER_WEIGHTS_FILE)), strict=True)
        t = load_file(str(directory / EXEMPLARS_FILE))
        bank = ExemplarBank(
            t["crops"], t["skeletons"], t["descriptors"], t["part"], t["sequence"], t["frame"]
        )
    except InputError:
        raise
    except Exception as exc:  # missing file, safetensors or shape errors
        raise InputError(f"cannot load the part refiner in {directory}: {exc}") from None
    if bank.crops.shape[-1] != config.crop or bank.descriptors.shape[1] != 3 * config.descriptor**2:
        raise InputError(f"{directory / EXEMPLARS_FILE} does not match {REFINER_CONFIG_FILE}")
    return PartRefinement(config, net, bank)
