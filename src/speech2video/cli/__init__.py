"""The ``s2v`` command line."""
