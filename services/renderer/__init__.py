"""The renderer Serve application."""
