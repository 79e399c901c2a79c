"""Audio bytes from the wire -> 16 kHz ``AudioChunk``s: mu-law and PCM16 decoding, track alignment.

mu-law is decoded with a 256-entry numpy table (G.711; ``audioop`` is gone in Python 3.13).
Telephony tracks arrive as separate messages; ``TrackAligner`` lines them up into stereo
blocks (a track that falls silent or was never sent is filled with silence) and ``Chunker``
resamples to 16 kHz and cuts ``chunk_ms`` chunks, as ``assist.audio.stream_file`` does.
"""
from __future__ import annotations

import base64
import binascii

import numpy as np

from assist.api.limits import UNSUPPORTED, ApiRefusal
from assist.audio import AudioChunk, StreamResampler

__all__ = ["MULAW_TABLE", "mulaw_decode", "mulaw_encode", "b64_mulaw", "pcm16_decode",
           "TrackAligner", "Chunker"]

OUT_RATE_HZ = 16000


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = ((((codes & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return (np.where(codes & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)


MULAW_TABLE = _mulaw_table()


def mulaw_decode(data: bytes) -> np.ndarray:
    """mu-law bytes -> float32 samples in [-1, 1]."""
    return MULAW_TABLE[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(samples: np.ndarray) -> bytes:
    """float32 samples -> mu-law bytes (for clients, tests and the bench)."""
    pcm = np.clip(np.asarray(samples, dtype=np.float32) * 32768.0, -32768, 32767).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def b64_mulaw(payload: str) -> np.ndarray:
    """A media message's payload; raises ApiRefusal(1003) for anything but base64."""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiRefusal(UNSUPPORTED, "media payload is not base64") from exc
    return mulaw_decode(data)


def pcm16_decode(data: bytes, channels: int) -> np.ndarray:
    """Interleaved little-endian int16 -> (frames, channels) float32; whole frames only."""
    if len(data) % (2 * channels):
        raise ApiRefusal(UNSUPPORTED, f"binary frame of {len(data)} bytes is not whole "
                         f"{channels}-channel int16 samples")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels)


class TrackAligner:
    """Per-track sample buffers -> (frames, tracks) blocks of ``block_frames``.

    A track that is ``max_skew_frames`` behind the other is padded with silence (a platform
    that sends only one track, or stops sending during silence); a media ``timestamp`` ahead of
    the samples received fills the gap with silence (at most ``max_gap_frames``).
    """

    def __init__(self, tracks: tuple[str, ...], block_frames: int, max_skew_frames: int,
                 max_gap_frames: int) -> None:
        self.tracks = tracks
        self.block = block_frames
        self.max_skew = max_skew_frames
        self.max_gap = max_gap_frames
        self._parts: dict[str, list[np.ndarray]] = {t: [] for t in tracks}
        self._size = dict.fromkeys(tracks, 0)
        self._received = dict.fromkeys(tracks, 0)

    def push(self, track: str, samples: np.ndarray, timestamp_ms: int | None = None) -> None:
        if timestamp_ms is not None:
            gap = timestamp_ms * 8 - self._received[track]
            if gap > 800:  # more than 100 ms of audio missing before this packet
                self._append(track, np.zeros(min(gap, self.max_gap), dtype=np.float32))
        self._append(track, samples)

    def _append(self, track: str, samples: np.ndarray) -> None:
        self._parts[track].append(samples)
        self._size[track] += len(samples)
        self._received[track] += len(samples)

    def blocks(self, last: bool = False) -> list[np.ndarray]:
        """Stereo blocks ready now (``last``: everything, the shorter track padded)."""
        most = max(self._size.values())
        for track in self.tracks:
            behind = most - self._size[track]
            if behind and (last or behind > self.max_skew):
                self._append(track, np.zeros(behind, dtype=np.float32))
        out = []
        while min(self._size.values()) >= self.block or (last and min(self._size.values()) > 0):
            frames = min(self.block, min(self._size.values()))
            out.append(np.stack([self._take(t, frames) for t in self.tracks], axis=1))
        return out

    def _take(self, track: str, frames: int) -> np.ndarray:
        joined = np.concatenate(self._parts[track]) if len(self._parts[track]) > 1 else self._parts[track][0]
        self._parts[track] = [joined[frames:]] if len(joined) > frames else []
        self._size[track] -= frames
        return joined[:frames]


class Chunker:
    """(frames, channels) blocks at ``in_rate_hz`` -> 16 kHz AudioChunks of ``chunk_ms``."""

    def __init__(self, in_rate_hz: int, speakers: tuple[str, ...], chunk_ms: int) -> None:
        self.speakers = speakers
        self.resample = StreamResampler(in_rate_hz, OUT_RATE_HZ, len(speakers))
        self.chunk_frames = OUT_RATE_HZ * chunk_ms // 1000
        self.pending = np.zeros((0, len(speakers)), dtype=np.float32)
        self.emitted = 0

    def push(self, block: np.ndarray | None, last: bool = False) -> list[AudioChunk]:
        if block is None:
            block = np.zeros((0, len(self.speakers)), dtype=np.float32)
        out = self.resample(block, last=last)
        if len(out):
            self.pending = np.concatenate([self.pending, out]) if len(self.pending) else out
        chunks = []
        while len(self.pending) >= self.chunk_frames or (last and len(self.pending)):
            part, self.pending = self.pending[:self.chunk_frames], self.pending[self.chunk_frames:]
            part = np.clip(np.nan_to_num(part), -1.0, 1.0)
            columns = tuple(np.ascontiguousarray(part[:, i]) for i in range(part.shape[1]))
            chunks.append(AudioChunk(self.emitted / OUT_RATE_HZ, self.speakers, columns, OUT_RATE_HZ))
            self.emitted += len(part)
        return chunks

    @property
    def seconds(self) -> float:
        return self.emitted / OUT_RATE_HZ
