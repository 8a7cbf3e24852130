"""The gateway Serve application."""
