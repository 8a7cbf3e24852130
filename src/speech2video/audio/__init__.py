"""Audio: decoding, MFCC features, speech-to-text, alignment and text-to-speech."""
