"""Stage ``train_text_to_pose``: the text-driven LSTM (paper §3.4 "Text to Pose")."""

from pipelines.pose_model_training import train_pose_model
from pipelines.stage_io import run_stage

if __name__ == "__main__":
    run_stage(
        "train_text_to_pose",
        lambda: train_pose_model("train_text_to_pose", "text_to_pose", "text"),
    )
