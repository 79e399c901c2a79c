"""First-pass load shedding: the budget's rules, and real engines behind and on time."""
from __future__ import annotations

import gc
import time

import numpy as np
import pytest
from rapidfuzz.fuzz import ratio

from assist.asr import CallRecognizer, load_engines
from assist.asr.events import REVISION_WHISPER
from assist.asr.shed import CallClock, FirstPassBudget
from assist.asr.whisper import WhisperJob
from assist.audio import AudioChunk
from assist.config import AsrOptions


class _Segment:  # stands for a vosk recognizer: the budget only counts live ones
    pass


def _clock(lag_s: float, live: bool | None = True) -> CallClock:
    clock = CallClock(live)
    clock.tick(0.1, now=100.0)
    clock.tick(1.1, now=101.0 + lag_s)
    return clock


def test_call_clock_measures_lag_from_the_earliest_chunk_and_tells_files_apart():
    clock = CallClock()
    assert clock.tick(0.1, now=100.0) == pytest.approx(0.0)
    assert clock.tick(0.2, now=100.6) == pytest.approx(0.5)  # 0.1 s of audio in 0.6 s: behind
    assert clock.tick(0.8, now=100.7) == pytest.approx(0.0) and clock.live is None  # caught up
    late_start = CallClock(live=True)
    late_start.tick(0.1, now=102.0)  # the first chunk itself was recognized 2 s late
    late_start.tick(2.0, now=102.1)  # caught up: real time is anchored here ...
    assert late_start.tick(2.1, now=103.0) == pytest.approx(0.8)  # ... so later lag shows
    file = CallClock()
    for index in range(1, 40):  # 100 ms of audio every 10 ms: a file, never shed
        file.tick(index / 10, now=100.0 + index / 100)
    assert file.live is False


def test_budget_sheds_when_behind_or_whisper_waits_and_never_for_files():
    waited = [0.0]
    budget = FirstPassBudget(AsrOptions(first_pass_shed_lag_ms=500, first_pass_shed_whisper_s=3.0),
                             lambda: waited[0])
    assert budget.admit(_clock(0.2))
    assert not budget.admit(_clock(0.8)) and "behind real time" in budget.last_reason
    waited[0] = 4.0
    assert not budget.admit(_clock(0.0)) and "Whisper" in budget.last_reason
    assert budget.admit(_clock(5.0, live=False))  # a file is decoded in full
    waited[0] = 0.0
    budget.observe(_clock(1.5))  # another call fell 1.5 s behind ...
    assert not budget.admit(_clock(0.0))  # ... so this call's new segment is shed too
    fading = FirstPassBudget(AsrOptions())
    fading.observe(_clock(1.5), now=50.0)
    assert fading.recent_lag(now=50.5) == pytest.approx(1.0)
    assert fading.recent_lag(now=52.0) == 0.0  # a peak fades by a second per second
    assert budget.stats()["shed"] == 3 and budget.stats()["admitted"] == 2
    off = FirstPassBudget(AsrOptions(first_pass_shed=False), lambda: 99.0)
    assert off.admit(_clock(10.0))


def test_budget_caps_open_first_passes_and_forgets_dropped_ones():
    budget = FirstPassBudget(AsrOptions(first_pass_max_active=2))
    held = []
    for _ in range(2):
        assert budget.admit(_clock(0.0))
        held.append(_Segment())
        budget.opened(held[-1])
    assert not budget.admit(_clock(0.0)) and budget.active == 2
    budget.closed(held.pop())
    assert budget.admit(_clock(0.0))
    held.clear()  # a call dropped mid-segment: its recognizer is gone, so is its slot
    gc.collect()
    assert budget.active == 0


@pytest.fixture(scope="module")
def hybrid(repo_settings):
    settings = repo_settings.model_copy(update={"asr": repo_settings.asr.model_copy(
        update={"first_pass_shed": True, "first_pass_shed_lag_ms": 0})})
    engines = load_engines(settings)
    yield engines
    engines.close()


def _chunks(speech: np.ndarray) -> list[AudioChunk]:
    audio = np.concatenate([np.zeros(8000, np.float32), speech[: 16000 * 5], np.zeros(40000, np.float32)])
    return [AudioChunk(i / 16000, ("customer",), (audio[i:i + 1600],)) for i in range(0, len(audio), 1600)]


def _run(engines, chunks: list[AudioChunk], stall_s: float) -> list:
    recognizer = CallRecognizer("shed", ("customer",), engines)
    events = recognizer.feed(chunks[0])
    time.sleep(stall_s)  # live audio that arrived while the process was busy: behind real time
    for chunk in chunks[1:]:
        events += recognizer.feed(chunk)
    return events + recognizer.finish(60)


def test_behind_real_time_the_utterance_gets_a_whisper_final_only(hybrid, speech_clip):
    chunks = _chunks(speech_clip[0])
    shed_before = hybrid.budget.shed
    behind = _run(hybrid, chunks, stall_s=6.5)  # still behind at the last speech
    assert hybrid.budget.shed > shed_before
    assert [e.revision for e in behind] == [REVISION_WHISPER]  # no partials, no vosk final
    assert behind[0].text and behind[0].engine == "whisper"

    deadline = time.monotonic() + 15
    while hybrid.budget.recent_lag() > 0:  # the lag peak of the late call fades first
        assert time.monotonic() < deadline
        time.sleep(0.2)
    on_time = _run(hybrid, chunks, stall_s=0.0)  # fed faster than real time: never shed
    assert {e.engine for e in on_time} == {"vosk", "whisper"}
    assert on_time[-1].revision == REVISION_WHISPER and ratio(on_time[-1].text, behind[0].text) >= 80
    assert hybrid.budget.active == 0


def test_whisper_worker_reports_how_long_its_oldest_job_waits(hybrid, speech_clip):
    worker = hybrid.whisper
    assert worker.wait_s() == 0.0
    done = []
    for _ in range(3):
        worker.submit(WhisperJob(speech_clip[0][: 16000 * 8], done.append))
    time.sleep(0.3)
    assert worker.wait_s() >= 0.3
    deadline = time.monotonic() + 60
    while len(done) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(done) == 3 and worker.wait_s() == 0.0
