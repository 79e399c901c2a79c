"""Feed a call from a transcript file (platforms that transcribe themselves, demo calls).

A transcript is JSON lines with speaker, text, start_s and end_s. Each line becomes a final
TranscriptEvent, optionally paced to call time, through the same session as live audio.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from assist.asr.events import TranscriptEvent
from assist.config import AssistError

__all__ = ["read_transcript", "transcript_events"]

SPEAKERS = ("customer", "agent")


def read_transcript(path: Path, call_id: str | None = None) -> list[TranscriptEvent]:
    """All turns as final events; every bad line is reported with its number."""
    if not path.is_file():
        raise AssistError(f"{path}: transcript not found.")
    try:
        lines = path.read_text("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise AssistError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    call_id = call_id or path.stem
    events, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            speaker, text = row["speaker"], str(row["text"])
            start, end = float(row.get("start_s", 0.0)), float(row.get("end_s", row.get("start_s", 0.0)))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"line {number}: not a turn with speaker and text ({exc})")
            continue
        if speaker not in SPEAKERS:
            problems.append(f"line {number}: speaker must be customer or agent, not {speaker!r}")
            continue
        events.append(TranscriptEvent(call_id, speaker, f"{speaker}-{number:04d}", 1, True, text,
                                      start, max(start, end), None, "transcript", 0.0))
    if problems:
        raise AssistError(f"{path}: " + "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else ""))
    return events


def transcript_events(events: list[TranscriptEvent], realtime: bool = False,
                      speed: float = 1.0) -> Iterator[TranscriptEvent]:
    """Events released at their end time (real time or ``speed`` times faster), stamped now."""
    from dataclasses import replace

    started = time.monotonic()
    for event in sorted(events, key=lambda e: (e.end_s, e.segment_id)):
        if realtime:
            delay = started + event.end_s / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield replace(event, emitted_at=time.time())
