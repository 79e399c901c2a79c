"""Audio in: decode, resample to 16 kHz, split channels into speakers, stream fixed chunks.

Files are read block by block (soundfile) and resampled with a streaming soxr resampler, so a
3-hour recording costs the memory of one chunk. Every problem with the input becomes an
``AudioError`` naming the file and what is wrong.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from assist.config import AssistError, AudioOptions

__all__ = [
    "AudioError",
    "AudioInfo",
    "AudioChunk",
    "StreamResampler",
    "probe",
    "speakers_for",
    "stream_file",
    "pace",
]

MIN_RATE_HZ = 4000
MAX_RATE_HZ = 384000
SILENCE_PEAK = 1e-4  # below this (about -80 dBFS) a chunk is digital silence


class AudioError(AssistError):
    """Input audio that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class AudioInfo:
    path: str
    sample_rate_hz: int
    channels: int
    frames: int
    duration_s: float
    format: str
    subtype: str


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """One chunk of call time: 16 kHz float32 samples for each speaker, same length."""

    start_s: float
    speakers: tuple[str, ...]
    samples: tuple[np.ndarray, ...]
    sample_rate_hz: int = 16000

    @property
    def duration_s(self) -> float:
        return len(self.samples[0]) / self.sample_rate_hz if self.samples else 0.0


class StreamResampler:
    """Streaming resampler for interleaved (frames, channels) float32 blocks."""

    def __init__(self, in_rate_hz: int, out_rate_hz: int, channels: int) -> None:
        self.passthrough = in_rate_hz == out_rate_hz
        self._rs = None if self.passthrough else soxr.ResampleStream(
            in_rate_hz, out_rate_hz, channels, dtype="float32", quality="HQ"
        )

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self._rs is None:
            return block
        return self._rs.resample_chunk(block, last=last)


def probe(path: str | Path) -> AudioInfo:
    """Open the header and check it; raises AudioError for anything unusable."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found.")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty.")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(
            f"{path}: not a readable audio file (WAV, FLAC or MP3 expected): {_reason(exc)}."
        ) from exc
    rate = int(info.samplerate)
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise AudioError(f"{path}: sample rate {rate} Hz is not usable for speech.")
    if info.channels < 1:
        raise AudioError(f"{path}: the file has no audio channels.")
    if info.frames == 0:
        raise AudioError(f"{path}: the file holds no audio frames (empty or truncated).")
    return AudioInfo(
        path=str(path),
        sample_rate_hz=rate,
        channels=int(info.channels),
        frames=int(info.frames),
        duration_s=float(info.frames) / rate,
        format=info.format,
        subtype=info.subtype,
    )


def speakers_for(
    channels: int, opts: AudioOptions, channel_map: Sequence[str] | None = None, where: str = ""
) -> tuple[str, ...]:
    """Which speaker each channel is: mono -> one speaker, stereo -> the channel map."""
    if channel_map:
        if len(channel_map) != channels:
            raise AudioError(
                f"{where}: the channel map names {len(channel_map)} speakers "
                f"but the audio has {channels} channels."
            )
        return tuple(channel_map)
    if channels == 1:
        return (opts.mono_speaker,)
    if channels == len(opts.channel_map) and channels <= opts.max_file_channels:
        return tuple(opts.channel_map)
    raise AudioError(
        f"{where}: {channels} channels and no channel map for them; "
        "pass --channels customer,agent,... with one name per channel."
    )


def stream_file(
    path: str | Path,
    opts: AudioOptions,
    channel_map: Sequence[str] | None = None,
) -> Iterator[AudioChunk]:
    """Yield ``opts.chunk_ms`` chunks of 16 kHz audio per speaker, reading block by block."""
    info = probe(path)
    speakers = speakers_for(info.channels, opts, channel_map, where=info.path)
    out_rate = opts.sample_rate_hz
    out_chunk = out_rate * opts.chunk_ms // 1000
    in_block = max(1, info.sample_rate_hz * opts.chunk_ms // 1000)
    resample = StreamResampler(info.sample_rate_hz, out_rate, info.channels)
    pending = np.zeros((0, info.channels), dtype=np.float32)
    emitted, frames_read, peak = 0, 0, 0.0
    for block, last in _read_blocks(info, in_block):
        frames_read += len(block)
        peak = max(peak, float(np.abs(block).max(initial=0.0)))
        pending = np.concatenate([pending, resample(block, last=last)])
        while len(pending) >= out_chunk or (last and len(pending)):
            part, pending = pending[:out_chunk], pending[out_chunk:]
            yield _chunk(emitted / out_rate, speakers, part, out_rate)
            emitted += len(part)
    if frames_read == 0:
        raise AudioError(f"{info.path}: no audio could be decoded (truncated or corrupt).")
    if peak < SILENCE_PEAK:
        raise AudioError(f"{info.path}: the recording is all silence ({frames_read} frames).")


def _read_blocks(info: AudioInfo, block_frames: int) -> Iterator[tuple[np.ndarray, bool]]:
    """Blocks of (frames, channels) float32; corrupt data becomes AudioError with a count."""
    frames_read = 0
    try:
        with sf.SoundFile(info.path) as handle:
            previous = None
            for block in handle.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                if previous is not None:
                    yield previous, False
                frames_read += len(block)
                previous = block
            if previous is not None:
                yield previous, True
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(
            f"{info.path}: decoding failed after {frames_read} frames "
            f"({frames_read / info.sample_rate_hz:.1f} s): {_reason(exc)}."
        ) from exc


def _chunk(start_s: float, speakers: tuple[str, ...], part: np.ndarray, rate: int) -> AudioChunk:
    part = np.nan_to_num(part, copy=False)
    np.clip(part, -1.0, 1.0, out=part)
    columns = tuple(np.ascontiguousarray(part[:, i]) for i in range(part.shape[1]))
    return AudioChunk(start_s, speakers, columns, rate)


def pace(chunks: Iterator[AudioChunk], realtime: bool) -> Iterator[AudioChunk]:
    """Release chunks no faster than call time when ``realtime`` (as a live call would)."""
    if not realtime:
        yield from chunks
        return
    started = time.monotonic()
    for chunk in chunks:
        delay = started + chunk.start_s + chunk.duration_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield chunk


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".")
    return text.split(":")[-1].strip() or type(exc).__name__
