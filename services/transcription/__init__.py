"""The transcription Serve application."""
