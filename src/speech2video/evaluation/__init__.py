"""Evaluating a speaker's model set: motion, renderer and key-pose metrics, baselines, the report.

Pure numpy/torch (plus OpenCV for figures); the pipelines' ``evaluate`` stage feeds it held-out
recordings and logs what it returns. Metric names and which way is better: :mod:`.directions`.
"""
