"""Terminal view of a live transcript: one line per segment, partials grey, revisions in place."""
from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.live import Live
from rich.text import Text

from assist.asr.events import TranscriptEvent

SPEAKER_STYLE = {"customer": "bold cyan", "agent": "bold green"}
SPEAKER_LABEL = {"customer": "고객", "agent": "상담사"}
VISIBLE_LINES = 18


def _line(event: TranscriptEvent) -> Text:
    minutes, seconds = divmod(event.start_s, 60)
    line = Text(f"{int(minutes):02d}:{seconds:04.1f} ", style="dim")
    line.append(f"{SPEAKER_LABEL.get(event.speaker, event.speaker):<4}",
                style=SPEAKER_STYLE.get(event.speaker, "bold"))
    line.append(" ")
    line.append(event.text, style="" if event.is_final else "grey50 italic")
    if event.is_final:
        line.append(f"  ({event.engine})", style="dim")
    return line


class LiveTranscript:
    """In a terminal, segments update in place; piped, each final is printed once."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def show(self, events: Iterable[TranscriptEvent]) -> None:
        if not self.console.is_terminal:
            for event in events:
                if event.is_final:
                    self.console.print(_line(event), soft_wrap=True)
            return
        segments: dict[str, TranscriptEvent] = {}
        with Live(Text(""), console=self.console, refresh_per_second=10) as live:
            for event in events:
                current = segments.get(event.segment_id)
                if current is None or event.revision >= current.revision:
                    segments[event.segment_id] = event
                ordered = sorted(segments.values(), key=lambda e: (e.start_s, e.segment_id))
                live.update(Text("\n").join(_line(e) for e in ordered[-VISIBLE_LINES:]))
        ordered = sorted(segments.values(), key=lambda e: (e.start_s, e.segment_id))
        if len(ordered) > VISIBLE_LINES:
            self.console.print(Text("\n").join(_line(e) for e in ordered))
