"""``assist replay``, ``assist eval asr`` and ``assist bench asr``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from assist.config import AsrOptions, Settings, VadOptions, get_settings

console = Console()
err = Console(stderr=True)
ENGINES = ("hybrid", "vosk", "whisper")


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    replay = sub.add_parser("replay", help="a call recording or transcript (.jsonl) with live assist")
    replay.add_argument("file", type=Path)
    replay.add_argument("--realtime", action="store_true", help="pace audio like a live call")
    replay.add_argument("--json", action="store_true", help="JSON lines instead of the live view")
    replay.add_argument("--channels", help="speaker per channel, e.g. customer,agent")
    replay.add_argument("--engine", choices=ENGINES, help="recognition mode (default: config)")
    replay.add_argument("--call-id", default=None)
    replay.add_argument("--transcript-only", action="store_true", help="recognition only, no assist")
    replay.add_argument("--no-save", action="store_true", help="do not write the call log")
    replay.set_defaults(func=run_replay)

    asr = groups["eval"].add_parser("asr", help="CER/WER of recognition on a manifest (audio,text)")
    asr.add_argument("manifest", type=Path)
    asr.add_argument("--engine", choices=ENGINES, default="hybrid")
    asr.add_argument("--no-vocab", action="store_true", help="switch off vosk domain-term correction")
    asr.add_argument("--whisper-prompt", action="store_true", help="give Whisper the domain prompt")
    asr.add_argument("--json", action="store_true")
    asr.set_defaults(func=run_eval_asr)

    synth = sub.add_parser("synth", help="generated speech (espeak-ng) for plumbing checks")
    synth.add_argument("action", choices=["manifest"])
    synth.add_argument("out", type=Path, help="folder for the WAV files and manifest.tsv")
    synth.add_argument("--from", dest="source", type=Path, required=True,
                       help="text file (one sentence a line) or JSONL with a 'text' field")
    synth.add_argument("--n", type=int, default=40, help="how many sentences (evenly sampled)")
    synth.set_defaults(func=run_synth)

    basr = groups["bench"].add_parser("asr", help="RTF, concurrent streams, latency, RSS")
    basr.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 5])
    basr.add_argument("--seconds", type=float, default=60.0, help="length of each simulated call")
    basr.add_argument("--engine", choices=ENGINES, nargs="+", default=list(ENGINES))
    basr.add_argument("--write", action="store_true", help="append the results to docs/RESULTS.md")
    basr.add_argument("--json", action="store_true")
    basr.set_defaults(func=run_bench_asr)


def _options(settings: Settings, engine: str | None, vocab: bool = True,
             prompt: bool | None = None) -> AsrOptions:
    update = {"vocab_bias": settings.asr.vocab_bias and vocab}
    if prompt is not None:
        update["whisper_prompt"] = prompt
    if engine:
        update["mode"] = engine
    return settings.asr.model_copy(update=update)


def run_replay(args: argparse.Namespace) -> int:
    """A call recording or transcript (.jsonl) through recognition and the assist session."""
    from assist.asr import load_engines, transcribe_stream
    from assist.audio import pace, probe, speakers_for, stream_file
    from assist.cli.replay_view import LiveTranscript
    from assist.cli.session_cmds import replay_session
    from assist.session.replay import read_transcript, transcript_events

    settings = get_settings()
    call_id = args.call_id or args.file.stem
    if args.file.suffix.lower() in (".jsonl", ".json"):
        turns = read_transcript(args.file, call_id)
        return replay_session(args.file, transcript_events(turns, args.realtime), call_id, args.json,
                              save=not args.no_save)
    channels = [c.strip() for c in args.channels.split(",")] if args.channels else None
    info = probe(args.file)  # fail on bad input before loading models
    speakers_for(info.channels, settings.audio, channels, where=info.path)
    engines = load_engines(settings, _options(settings, args.engine))
    try:
        chunks = pace(stream_file(args.file, settings.audio, channels), args.realtime)
        events = transcribe_stream(call_id, chunks, engines)
        if not args.transcript_only:
            return replay_session(args.file, events, call_id, args.json, save=not args.no_save)
        if args.json:
            for event in events:
                print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
        else:
            LiveTranscript(console).show(events)
    finally:
        engines.close()
    return 0


def run_eval_asr(args: argparse.Namespace) -> int:
    from assist.asr import load_engines, transcribe_stream
    from assist.audio import stream_file
    from assist.evaluate.asr import read_manifest, score_asr

    settings = get_settings()
    rows = read_manifest(args.manifest)
    engines = load_engines(settings, _options(settings, args.engine, vocab=not args.no_vocab,
                                             prompt=args.whisper_prompt or None))

    def transcribe(path: Path):
        return transcribe_stream(path.stem, stream_file(path, settings.audio), engines)

    def show(score) -> None:
        if not args.json:
            console.print(f"{score.audio}\tCER {score.cer:6.1%}\tWER {score.wer:6.1%}\t{score.hypothesis}")

    try:
        report = score_asr(rows, args.engine, transcribe, show)
    finally:
        engines.close()
    summary = report.to_dict() | {"vocab_bias": not args.no_vocab,
                                  "whisper_prompt": engines.asr.whisper_prompt}
    if args.json:
        for score in report.files:
            print(json.dumps({"audio": score.audio, "cer": round(score.cer, 4),
                              "wer": round(score.wer, 4), "hypothesis": score.hypothesis},
                             ensure_ascii=False))
        print(json.dumps(summary, ensure_ascii=False))
    else:
        console.print(f"[bold]{args.engine}[/]: {len(report.files)} files, CER {report.cer:.1%}, "
                      f"WER {report.wer:.1%}, RTF {report.rtf:.3f}")
    return 0


def run_bench_asr(args: argparse.Namespace) -> int:
    from assist.evaluate.bench_asr import BenchConfig, run_bench
    from assist.evaluate.results import append_results

    settings = get_settings()
    config = BenchConfig(engines=tuple(args.engine), calls=tuple(args.calls), seconds=args.seconds)
    report = run_bench(settings, config, progress=lambda m: err.log(m))
    console.print(report.markdown())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    if args.write:
        path = append_results(settings.root / "docs" / "RESULTS.md", "assist bench asr " +
                              " ".join(sys.argv[3:]), report.markdown())
        err.log(f"written to {path}")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from assist.config import AssistError
    from assist.evaluate.synth import write_manifest

    if not args.source.is_file():
        raise AssistError(f"{args.source}: file not found.")
    lines = [line.strip() for line in args.source.read_text("utf-8").splitlines() if line.strip()]
    if args.source.suffix == ".jsonl":
        lines = [json.loads(line)["text"] for line in lines]
    step = max(1, len(lines) // max(1, args.n))
    manifest = write_manifest(lines[::step][: args.n], args.out)
    console.print(f"wrote {manifest}")
    return 0
