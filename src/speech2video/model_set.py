"""A speaker's model set: the components that are trained, registered and served per speaker.

Each component is a directory (what gets registered as ``s2v-<speaker>-<component>``):

=====================  ========================================================================
component              directory contents
=====================  ========================================================================
audio_to_pose          ``config.json`` + ``weights.safetensors`` (+ normalisation stats inside):
                       :meth:`speech2video.motion.lstm.SequenceToPoseLSTM.load`
text_to_pose           the same format, text-encoded input (``audio.text_encoding``)
renderer               renderer checkpoint (``config.json`` + ``generator.safetensors``):
                       :func:`speech2video.render.checkpoint.load_renderer`
key_pose_dictionary    ``dictionary.yaml`` + ``clips/*.npy``:
                       :meth:`speech2video.motion.keypose_dictionary.KeyPoseDictionary.load`
body_model             ``profile.json`` (speaker, fps, image size, body model kind),
                       ``skeleton.npz`` (open skeleton: rest joints, hand basis, face model),
                       ``camera.json`` and, when the renderer works on a crop of the frame,
                       ``framing.json`` + ``background.png``: :func:`load_speaker_profile`
=====================  ========================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speech2video.errors import InputError, NotFoundError

AUDIO_TO_POSE = "audio_to_pose"
TEXT_TO_POSE = "text_to_pose"
RENDERER = "renderer"
KEY_POSE_DICTIONARY = "key_pose_dictionary"
BODY_MODEL = "body_model"
COMPONENTS: tuple[str, ...] = (
    AUDIO_TO_POSE,
    TEXT_TO_POSE,
    RENDERER,
    KEY_POSE_DICTIONARY,
    BODY_MODEL,
)

DICTIONARY_FILE = "dictionary.yaml"
PROFILE_FILE = "profile.json"
SKELETON_FILE = "skeleton.npz"
CAMERA_FILE = "camera.json"


def check_component(component: str) -> str:
    """Return ``component`` if it is a known component name, else raise InputError."""
    if component not in COMPONENTS:
        raise InputError(f"unknown component {component!r}; expected one of {list(COMPONENTS)}")
    return component


@dataclass(frozen=True)
class SpeakerProfile:
    """What the body_model component holds: how the speaker is drawn and at what rate.

    fps: video frame rate of the speaker's recordings (and of generated motion)
    width, height: skeleton/render image size in pixels
    framing: where the rendered image sits in the recording's frame, with the background plate
    (:class:`speech2video.render.framing.Framing`); None: the image is the whole frame
    """

    speaker: str
    fps: float
    width: int
    height: int
    body_model: Any  # speech2video.body.body_model.BodyModel
    camera: Any  # speech2video.body.camera.PinholeCamera
    framing: Any = None  # speech2video.render.framing.Framing | None


def save_speaker_profile(directory: str | Path, profile: SpeakerProfile) -> Path:
    """Write the body_model component directory; returns it."""
    from speech2video.body.skeleton_model import OpenSkeletonModel

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if not isinstance(profile.body_model, OpenSkeletonModel):
        raise InputError("only the open skeleton body model can be saved in a model set")
    profile.body_model.save(out / SKELETON_FILE)
    (out / CAMERA_FILE).write_text(json.dumps(profile.camera.to_dict(), indent=2) + "\n")
    meta = {
        "speaker": profile.speaker,
        "fps": profile.fps,
        "width": profile.width,
        "height": profile.height,
        "body_model": "skeleton",
    }
    (out / PROFILE_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    if profile.framing is not None:
        from speech2video.render.framing import save_framing

        if profile.framing.render_size != (profile.width, profile.height):
            raise InputError(
                f"framing renders {profile.framing.render_size}; the profile is "
                f"{profile.width}x{profile.height}"
            )
        save_framing(out, profile.framing)
    return out


def load_speaker_profile(directory: str | Path) -> SpeakerProfile:
    """Read a body_model component directory written by :func:`save_speaker_profile`."""
    from speech2video.body.camera import PinholeCamera
    from speech2video.body.skeleton_model import OpenSkeletonModel

    src = Path(directory)
    for name in (PROFILE_FILE, SKELETON_FILE, CAMERA_FILE):
        if not (src / name).is_file():
            raise NotFoundError(f"body_model component {src} lacks {name}")
    try:
        meta = json.loads((src / PROFILE_FILE).read_text())
        camera = PinholeCamera.from_dict(json.loads((src / CAMERA_FILE).read_text()))
    except json.JSONDecodeError as exc:
        raise InputError(f"body_model component {src}: invalid JSON ({exc})") from None
    for key in ("speaker", "fps", "width", "height"):
        if key not in meta:
            raise InputError(f"{src / PROFILE_FILE} lacks the key '{key}'")
    from speech2video.render.framing import load_framing

    return SpeakerProfile(
        str(meta["speaker"]),
        float(meta["fps"]),
        int(meta["width"]),
        int(meta["height"]),
        OpenSkeletonModel.load(src / SKELETON_FILE),
        camera,
        load_framing(src),
    )


def load_component(component: str, directory: str | Path) -> Any:
    """Load one component from its directory (see the module table for what each returns)."""
    check_component(component)
    path = Path(directory)
    if not path.is_dir():
        raise NotFoundError(f"{component} directory not found: {path}")
    if component in (AUDIO_TO_POSE, TEXT_TO_POSE):
        from speech2video.motion.lstm import SequenceToPoseLSTM

        return SequenceToPoseLSTM.load(path).eval()
    if component == RENDERER:
        from speech2video.render.checkpoint import load_renderer

        return load_renderer(path)
    if component == KEY_POSE_DICTIONARY:
        from speech2video.motion.keypose_dictionary import KeyPoseDictionary

        return KeyPoseDictionary.load(path / DICTIONARY_FILE)
    return load_speaker_profile(path)
