"""``assist demo``: a bundled demo call, replayed live through recognition in the terminal.

The demo transcripts in demo/calls are spoken with espeak-ng onto a stereo recording
(customer left, agent right) the first time, then streamed at call pace.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import soundfile as sf
from rich.console import Console

from assist.config import Settings, get_settings

console = Console()


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    demo = sub.add_parser("demo", help="replay a bundled demo call live in the terminal")
    demo.add_argument("--call", default=None, help="demo call name (default: the first)")
    demo.add_argument("--fast", action="store_true", help="do not pace to real time")
    demo.add_argument("--list", action="store_true", help="list the demo calls")
    demo.set_defaults(func=run)


def demo_calls(settings: Settings) -> list[Path]:
    return sorted((settings.demo_path / "calls").glob("*.jsonl"))


def demo_audio(settings: Settings, transcript: Path) -> Path:
    """The generated stereo recording of a demo transcript (made once, kept in the data dir)."""
    from assist.evaluate.synth import read_turns, render_call

    out = settings.data_path / "demo_audio" / f"{transcript.stem}.wav"
    if out.is_file() and out.stat().st_mtime >= transcript.stat().st_mtime:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    audio, placed = render_call(read_turns(transcript), speakers=("customer", "agent"))
    tmp = out.with_suffix(".tmp.wav")
    sf.write(tmp, audio, 16000, subtype="PCM_16")
    tmp.replace(out)
    timeline = [{"speaker": p.speaker, "text": p.text, "start_s": p.start_s, "end_s": p.end_s}
                for p in placed]
    out.with_suffix(".timeline.json").write_text(json.dumps(timeline, ensure_ascii=False, indent=1))
    return out


def run(args: argparse.Namespace) -> int:
    from assist.asr import load_engines, transcribe_stream
    from assist.audio import pace, stream_file
    from assist.cli.replay_view import LiveTranscript
    from assist.config import AssistError

    settings = get_settings()
    calls = demo_calls(settings)
    if args.list:
        for path in calls:
            console.print(path.stem)
        return 0
    chosen = [c for c in calls if args.call is None or c.stem.startswith(args.call)]
    if not chosen:
        raise AssistError(f"No demo call matches {args.call!r}; see `assist demo --list`.")
    with console.status("preparing demo audio (espeak-ng) and models"):
        audio = demo_audio(settings, chosen[0])
        engines = load_engines(settings)
    console.rule(f"demo call {chosen[0].stem} (generated speech: robotic, plumbing only)")
    try:
        chunks = pace(stream_file(audio, settings.audio, ("customer", "agent")), not args.fast)
        LiveTranscript(console).show(transcribe_stream(chosen[0].stem, chunks, engines))
    finally:
        engines.close()
    return 0
