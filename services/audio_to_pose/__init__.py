"""The audio_to_pose Serve application."""
