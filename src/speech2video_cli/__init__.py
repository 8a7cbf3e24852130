"""The `s2v` command line: the top layer, composing the core, pipelines, MLOps and services."""
