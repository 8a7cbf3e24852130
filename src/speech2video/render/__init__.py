"""Rendering: skeleton painting, the vid2vid generator and discriminators, video I/O."""
