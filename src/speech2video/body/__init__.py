"""Body: the pose contract, kinematic tree, rotations, body models and projection."""
