"""Motion: audio-to-pose LSTM, its losses and training, key-pose dictionary and insertion."""
