"""The synthetic demo speaker: a complete speaker folder with known ground truth.

TTS speech of built-in scripts, motion whose mouth follows the speech and whose gestures follow
its rhythm, key poses at key words from a true dictionary, and frames painted as a simple
articulated person — written in the same folder format as a real speaker's recordings, so the
same pipeline stages ingest it. Entry point: :func:`speech2video.synthetic.demo_speaker.
generate_demo_speaker`.
"""
