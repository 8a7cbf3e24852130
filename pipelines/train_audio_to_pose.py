"""Stage ``train_audio_to_pose``: the paper's audio-to-pose LSTM for the speaker (§3.4)."""

from pipelines.pose_model_training import train_pose_model
from pipelines.stage_io import run_stage

if __name__ == "__main__":
    run_stage(
        "train_audio_to_pose",
        lambda: train_pose_model("train_audio_to_pose", "audio_to_pose", "audio"),
    )
