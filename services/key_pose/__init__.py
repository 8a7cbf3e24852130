"""The key_pose Serve application."""
