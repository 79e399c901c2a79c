"""Audio in: every format and rate decodes to 16 kHz speakers; bad input is a clear AudioError."""
from __future__ import annotations

import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from assist.audio import AudioError, pace, probe, stream_file
from assist.config import AudioOptions

OPTS = AudioOptions()

FORMATS = [
    ("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "PCM_32"), ("wav", "FLOAT"),
    ("wav", "PCM_U8"), ("wav", "ULAW"), ("wav", "ALAW"), ("flac", "PCM_16"), ("mp3", "MPEG_LAYER_III"),
]


def _collect(path: Path, opts: AudioOptions = OPTS, channel_map=None) -> tuple[tuple[str, ...], np.ndarray]:
    chunks = list(stream_file(path, opts, channel_map))
    assert all(c.sample_rate_hz == 16000 for c in chunks)
    assert all(len(c.samples[0]) == 1600 for c in chunks[:-1]), "fixed 100 ms chunks"
    starts = [c.start_s for c in chunks]
    assert starts == sorted(starts) and starts[0] == 0.0
    audio = np.stack([np.concatenate([c.samples[i] for c in chunks]) for i in range(len(chunks[0].speakers))], 1)
    return chunks[0].speakers, audio


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


@pytest.mark.parametrize("ext,subtype", FORMATS)
@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_formats_and_rates_decode_to_16k(tmp_path, speech_clip, ext, subtype, rate):
    speech, src_rate = speech_clip
    speech = speech[: src_rate * 3]
    source = soxr.resample(speech, src_rate, rate).astype(np.float32)
    path = tmp_path / f"clip.{ext}"
    sf.write(path, source, rate, subtype=subtype, format=ext.upper())
    speakers, audio = _collect(path)
    assert speakers == ("customer",)
    expected = soxr.resample(source, rate, 16000)
    assert abs(len(audio) - len(expected)) <= 1600 + 1152 * 2  # mp3 adds encoder padding
    if ext != "mp3":  # lossy mp3 shifts by its decoder delay
        threshold = 0.9 if subtype in ("PCM_U8", "ULAW", "ALAW") else 0.99
        assert _similarity(audio[:, 0], expected) > threshold


def test_stereo_is_split_by_channel_map(tmp_path, speech_clip):
    speech, rate = speech_clip
    left, right = speech[: rate * 2], np.zeros(rate * 2, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], 1), rate, subtype="PCM_16")
    speakers, audio = _collect(path)
    assert speakers == ("customer", "agent")
    assert np.abs(audio[:, 0]).max() > 0.05 and np.abs(audio[:, 1]).max() < 1e-3
    speakers, audio = _collect(path, channel_map=("agent", "customer"))
    assert speakers == ("agent", "customer")


def test_mono_speaker_is_configurable(tmp_path, speech_clip):
    speech, rate = speech_clip
    path = tmp_path / "mono.wav"
    sf.write(path, speech[:rate], rate)
    speakers, _ = _collect(path, AudioOptions(mono_speaker="agent"))
    assert speakers == ("agent",)


def test_long_file_streams_in_constant_memory(tmp_path):
    """A 10-minute file must not take more memory than a 1-minute one (nothing loaded whole)."""
    peaks = []
    for minutes in (1, 10):
        path = tmp_path / f"long{minutes}.wav"
        rng = np.random.default_rng(0)
        with sf.SoundFile(path, "w", 8000, 2, subtype="PCM_16") as handle:
            for _ in range(minutes * 6):
                handle.write(rng.normal(0, 0.1, (8000 * 10, 2)).astype(np.float32))
        tracemalloc.start()
        frames = sum(len(c.samples[0]) for c in stream_file(path, OPTS))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert abs(frames - minutes * 60 * 16000) < 1600
    assert peaks[1] < peaks[0] * 1.5 + 200_000, peaks


def test_realtime_pacing_follows_call_time(tmp_path, speech_clip):
    import time

    speech, rate = speech_clip
    path = tmp_path / "short.wav"
    sf.write(path, speech[: rate // 2], rate)
    started = time.monotonic()
    list(pace(stream_file(path, OPTS), realtime=True))
    assert time.monotonic() - started >= 0.45


def _wav_header(rate: int, channels: int = 1, frames: int = 100) -> bytes:
    data = b"\x00\x01" * frames * channels
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def _bad_files(tmp: Path, speech_clip) -> dict[str, tuple[Path, str]]:
    speech, rate = speech_clip
    cases = {}
    (tmp / "empty.wav").write_bytes(b"")
    cases["empty"] = (tmp / "empty.wav", "empty")
    good = tmp / "good.wav"
    sf.write(good, speech[:rate], rate, subtype="PCM_16")
    (tmp / "truncated.wav").write_bytes(good.read_bytes()[:30])
    cases["truncated header"] = (tmp / "truncated.wav", "not a readable audio file")
    (tmp / "notes.wav").write_text("이건 오디오가 아닙니다\n" * 50, encoding="utf-8")
    cases["not audio"] = (tmp / "notes.wav", "not a readable audio file")
    sf.write(tmp / "three.wav", np.zeros((rate, 3), dtype=np.float32) + 0.1, rate)
    cases["3 channels"] = (tmp / "three.wav", "3 channels and no channel map")
    (tmp / "zero_rate.wav").write_bytes(_wav_header(0))
    cases["0 Hz"] = (tmp / "zero_rate.wav", "")
    (tmp / "absurd_rate.wav").write_bytes(_wav_header(3_000_000))
    cases["absurd rate"] = (tmp / "absurd_rate.wav", "sample rate")
    sf.write(tmp / "silence.wav", np.zeros(rate * 2, dtype=np.float32), rate, subtype="PCM_16")
    cases["all silence"] = (tmp / "silence.wav", "all silence")
    cases["missing"] = (tmp / "nope.wav", "not found")
    return cases


def test_bad_input_gives_clear_audio_error(tmp_path, speech_clip):
    for name, (path, phrase) in _bad_files(tmp_path, speech_clip).items():
        with pytest.raises(AudioError) as info:
            probe(path)
            list(stream_file(path, OPTS))
        message = str(info.value)
        assert path.name in message, name
        assert phrase in message, (name, message)


def test_cli_reports_bad_audio_without_traceback(tmp_path, speech_clip):
    cases = _bad_files(tmp_path, speech_clip)
    for name in ("empty", "not audio", "3 channels"):
        path = cases[name][0]
        proc = subprocess.run([sys.executable, "-m", "assist.cli", "replay", str(path)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (name, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        assert path.name in proc.stderr
