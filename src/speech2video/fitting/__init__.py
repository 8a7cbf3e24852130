"""Body-model fitting: 2D whole-body keypoints from video frames, and the open skeleton fitted
to them (paper §3.2): per-speaker shape, camera and orientation, then the 106 pose parameters
of every frame."""
