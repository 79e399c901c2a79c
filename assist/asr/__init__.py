"""Streaming speech recognition: VAD gating, vosk partials and first pass, whisper finals."""
from assist.asr.engines import Engines, load_engines
from assist.asr.events import TranscriptEvent, Word
from assist.asr.stream import CallRecognizer, transcribe_stream

__all__ = ["CallRecognizer", "Engines", "TranscriptEvent", "Word", "load_engines", "transcribe_stream"]
