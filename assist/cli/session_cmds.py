"""Call sessions from the command line: replay with assistance, feedback report, session bench."""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assist.config import get_settings

console = Console()


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    report = sub.add_parser("report", help="reports from the call log")
    report.add_argument("what", choices=["feedback", "calls"])
    report.set_defaults(func=run_report)

    calls = groups["eval"].add_parser(
        "calls", help="the whole engine on annotated call transcripts (intents, stages, "
        "checklist, flicker)")
    calls.add_argument("files", nargs="*", type=Path,
                       help="transcripts (.jsonl) with .expected.json beside them "
                       "(default: the bundled demo calls)")
    calls.add_argument("--json", action="store_true", help="last line: one JSON object")
    calls.add_argument("--write", action="store_true", help="append the results to docs/RESULTS.md")
    calls.set_defaults(func=run_eval_calls)

    bench = groups["bench"].add_parser("session", help="transcript final -> suggestions latency")
    bench.add_argument("--concurrent", type=int, default=2, help="calls replayed at once")
    bench.add_argument("--speed", type=float, default=4.0, help="replay speed (1 = real time)")
    bench.add_argument("--write", action="store_true", help="append the results to docs/RESULTS.md")
    bench.set_defaults(func=run_bench_session)


def replay_session(file: Path, events: Iterator, call_id: str, as_json: bool, save: bool = True) -> int:
    """Run transcript events through a call session and print what the agent would see."""
    from assist.cli.session_view import event_json, print_events
    from assist.session.loader import build_deps, open_call_log
    from assist.session.manager import SessionManager

    settings = get_settings()
    with console.status("loading models and the knowledge base"):
        deps = build_deps(settings)
    manager = SessionManager(deps, open_call_log(settings) if save else None)
    manager.start(call_id)

    def stream():
        for event in events:
            yield from manager.handle(event)
        yield manager.end(call_id, save=save)

    if as_json:
        for out in stream():
            print(event_json(out), flush=True)
    else:
        print_events(console, stream())
    return 0


def run_report(args: argparse.Namespace) -> int:
    from assist.session.loader import open_call_log

    call_log = open_call_log(get_settings())
    if args.what == "calls":
        for call_id, disposition, summary in call_log.calls():
            console.print(f"[bold]{call_id}[/] {disposition}\n  {summary}")
        return 0
    table = Table("article", "shown (calls)", "used", "👍", "👎", "verdict")
    for row in call_log.feedback_report():
        table.add_row(row.article_id, str(row.shown), str(row.used), str(row.up), str(row.down), row.verdict)
    console.print(table)
    return 0


def run_eval_calls(args: argparse.Namespace) -> int:
    from assist.evaluate.calls import score_calls
    from assist.evaluate.results import append_results
    from assist.session.loader import build_deps

    settings = get_settings()
    files = args.files or sorted(settings.demo_path.joinpath("calls").glob("*.jsonl"))
    if not files:
        console.print("no call transcripts given and none bundled")
        return 2
    with console.status("loading models and the knowledge base"):
        deps = build_deps(settings)
    report = score_calls(deps, files)
    table = Table("call", "turn intents right", "main intent", "replacements")
    for name, row in report.to_dict()["per_call"].items():
        table.add_row(name, f"{row['turns_right']}/{row['turns']}",
                      "yes" if row["main_intent_found"] else "no", str(row["replacements"]))
    console.print(table)
    print(report.markdown())
    if args.write:
        shown = " ".join(str(f) for f in args.files) if args.files else ""
        append_results(settings.root / "docs" / "RESULTS.md", f"assist eval calls {shown}".strip(),
                       report.markdown())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0


def run_bench_session(args: argparse.Namespace) -> int:
    from assist.evaluate.bench_session import run_session_bench
    from assist.evaluate.results import append_results

    settings = get_settings()
    report = run_session_bench(settings, args.concurrent, args.speed)
    console.print(report.markdown())
    print(json.dumps(report.to_dict(), ensure_ascii=False))
    if args.write:
        append_results(settings.root / "docs" / "RESULTS.md",
                       f"assist bench session --concurrent {args.concurrent} --speed {args.speed}",
                       report.markdown())
    return 0
