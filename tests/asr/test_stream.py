"""Streaming recognition on a generated stereo call and real speech, with the real engines."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assist.asr import load_engines, transcribe_stream
from assist.asr.events import REVISION_FIRST_PASS, REVISION_PARTIAL, REVISION_WHISPER
from assist.asr.vad import SpeechGate
from assist.audio import stream_file
from assist.config import VadOptions
from assist.evaluate.asr import final_text
from assist.evaluate.synth import Turn, render_call
from assist.text import respace

TURNS = [
    Turn("agent", "감사합니다. 한빛텔레콤 고객센터 김민지입니다. 무엇을 도와드릴까요?", 0.5),
    Turn("customer", "이번 달 요금이 너무 많이 나와서요. 확인 좀 해 주세요.", 6.0),
    Turn("agent", "네, 고객님. 본인 확인을 위해 생년월일을 말씀해 주시겠어요?", 11.0),
    Turn("customer", "구십년 삼월 오일이요.", 16.0),
]


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory) -> tuple[Path, list]:
    audio, placed = render_call(TURNS, speakers=("customer", "agent"))
    path = tmp_path_factory.mktemp("call") / "call.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path, placed


@pytest.fixture(scope="module")
def hybrid(repo_settings):
    engines = load_engines(repo_settings)
    yield engines
    engines.close()


@pytest.fixture(scope="module")
def call_events(stereo_call, hybrid, repo_settings):
    path, _ = stereo_call
    return list(transcribe_stream("t1", stream_file(path, repo_settings.audio), hybrid))


def test_speakers_and_segments_follow_the_channels(call_events, stereo_call):
    _, placed = stereo_call
    finals = [e for e in call_events if e.is_final]
    for speaker in ("customer", "agent"):
        turns = [p for p in placed if p.speaker == speaker]
        mine = [e for e in finals if e.speaker == speaker]
        assert len(mine) >= len(turns), speaker
        for event in mine:  # every segment lies on that speaker's turns
            assert any(t.start_s - 0.5 <= event.start_s <= t.end_s for t in turns), event
            assert any(t.start_s <= event.end_s <= t.end_s + 0.8 for t in turns), event


def test_partials_then_first_pass_then_whisper(call_events):
    by_segment = defaultdict(list)
    for event in call_events:
        by_segment[event.segment_id].append(event)
    assert len(by_segment) >= 4
    whisper_seen = 0
    for segment_id, events in by_segment.items():
        revisions = [e.revision for e in events]
        assert revisions == sorted(revisions), segment_id
        partials = [e for e in events if e.revision == REVISION_PARTIAL]
        assert all(not e.is_final for e in partials)
        texts = [e.text for e in partials]
        assert all(a != b for a, b in zip(texts, texts[1:])), "unchanged partials re-emitted"
        assert events[-1].is_final
        first = [e for e in events if e.revision == REVISION_FIRST_PASS]
        if events[0].speaker == "customer":  # first pass only where configured (customer)
            assert len(first) == 1 and first[0].engine == "vosk"
        else:
            assert not first and not partials
        whisper = [e for e in events if e.revision == REVISION_WHISPER]
        whisper_seen += len(whisper)
        for event in whisper:
            assert event.engine == "whisper" and event.is_final and event.text
            for word in event.words:
                assert event.start_s - 0.05 <= word.start_s <= word.end_s <= event.end_s + 1.0
    assert whisper_seen >= 3


def test_first_pass_only_for_configured_speakers(call_events):
    assert {e.speaker for e in call_events if e.revision < REVISION_WHISPER} == {"customer"}
    assert {e.speaker for e in call_events if e.revision == REVISION_WHISPER} == {"customer", "agent"}


def test_first_pass_words_are_timed_inside_the_segment(call_events):
    for event in call_events:
        if event.revision == REVISION_FIRST_PASS:
            assert event.text == respace(event.text) or event.text
            for word in event.words:
                assert event.start_s - 0.05 <= word.start_s <= word.end_s <= event.end_s + 0.5


def test_silent_channel_gets_no_events_and_whisper_never_decodes_silence(repo_settings, hybrid, stereo_call, tmp_path):
    path, placed = stereo_call
    audio, rate = sf.read(path, dtype="float32")
    audio[:, 1] = np.random.default_rng(1).normal(0, 0.002, len(audio))  # agent: line noise only
    quiet = tmp_path / "agent_silent.wav"
    sf.write(quiet, audio, rate, subtype="PCM_16")
    decodes_before = hybrid.whisper.decodes
    events = list(transcribe_stream("t2", stream_file(quiet, repo_settings.audio), hybrid))
    assert events and all(e.speaker == "customer" for e in events)
    customer_segments = {e.segment_id for e in events}
    assert hybrid.whisper.decodes - decodes_before <= len(customer_segments)


def test_vad_feeds_recognizers_speech_only(speech_clip):
    speech, rate = speech_clip
    silence = np.random.default_rng(2).normal(0, 0.001, rate * 5).astype(np.float32)
    signal = np.concatenate([silence, speech[: rate * 4], silence])
    gate = SpeechGate(VadOptions())
    events = []
    for start in range(0, len(signal), 1600):
        events += gate.push(signal[start:start + 1600], start / rate)
    events += gate.flush()
    fed_s = sum(len(e.samples) for e in events) / rate
    starts = [e for e in events if e.kind == "start"]
    ends = [e for e in events if e.kind == "end"]
    assert starts and len(starts) == len(ends)
    # the clip's speech starts 0.64 s in; the segment opens with 0.3 s of pre-roll before it
    assert 5.2 <= starts[0].at_s <= 5.5, "pre-roll keeps the first syllable"
    assert fed_s < 4 + 1.5, f"fed {fed_s:.1f} s of 14 s"
    assert 8.5 <= ends[-1].at_s <= 9.4


def test_real_speech_whisper_beats_vosk(repo_settings, speech_dev, hybrid):
    from assist.evaluate.asr import read_manifest, score_asr

    rows = read_manifest(speech_dev / "manifest.tsv")[:6]

    def run(path):
        return transcribe_stream(path.stem, stream_file(path, repo_settings.audio), hybrid)

    events_by_file = {row.audio: list(run(row.audio)) for row in rows}
    whisper_only = score_asr(rows, "whisper", lambda p: [e for e in events_by_file[p] if e.revision != 1])
    vosk_only = score_asr(rows, "vosk", lambda p: [e for e in events_by_file[p] if e.revision != 2])
    assert whisper_only.cer < vosk_only.cer
    assert whisper_only.cer < 0.45
    assert final_text(events_by_file[rows[0].audio])


def test_respace_joins_vosk_morphemes():
    assert respace("환불 은 언제 처리 되 나요") == "환불은 언제 처리 되나요"
    assert respace("요금 이 왜 이렇게 많이 나오 았 어요") == "요금이 왜 이렇게 많이 나왔어요"
    assert respace("hello world") == "hello world"
    assert respace("   ") == ""
