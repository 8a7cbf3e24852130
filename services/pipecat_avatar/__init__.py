"""Speech2Video in Pipecat (optional: ``pip install -e ".[pipecat]"`` plus ``pipecat-ai`` itself,
see docs/pipecat.md). Nothing else in the product imports these modules or pipecat.

- :mod:`.avatar`: ``Speech2VideoAvatarService``, TTS audio frames in, the speaker's video frames
  out, in sync (the gateway's ``SynthesizeLive``);
- :mod:`.timeline`: the ordering of one stream's frames and audio (no pipecat);
- :mod:`.stream`: one stream's state and figures (first-frame latency, frames, errors);
- :mod:`.espeak_tts`: ``EspeakTTSService``, the project's own espeak-ng speech as a TTS service;
- :mod:`.recorder`: ``AvatarRecorder``, a sink writing the synchronized frames and audio to MP4.
"""
