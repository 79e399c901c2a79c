"""``assist serve`` (the server API) and ``assist bench api`` (real-time calls over the websocket)."""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from assist.config import AssistError, get_settings

console = Console()
err = Console(stderr=True)
RESULTS_SECTION = "## Streaming API (issue 8)"


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    serve = sub.add_parser("serve", help="server API: telephony audio in, call events out, REST")
    serve.add_argument("--host", help="bind address (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: api.port)")
    serve.add_argument("--new-token", metavar="TENANT",
                       help="print a new token for TENANT and the config line with its hash, then exit")
    serve.set_defaults(func=run_serve)

    bench = groups["bench"].add_parser("api", help="concurrent real-time calls over the websocket API")
    bench.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 6])
    bench.add_argument("--seconds", type=float, default=30.0, help="length of each simulated call")
    bench.add_argument("--frame-ms", type=int, default=20, help="audio per media message and track")
    bench.add_argument("--keep-going", action="store_true",
                       help="also run the N after one that did not keep up with real time")
    bench.add_argument("--engine", choices=["hybrid", "vosk", "whisper"],
                       help="recognition mode of the server (default: asr.mode)")
    bench.add_argument("--shed", choices=["on", "off"],
                       help="hybrid: first-pass load shedding of the server (default: asr.first_pass_shed)")
    bench.add_argument("--nlu-threshold", type=float, default=0.0,
                       help="intent 'unsure' threshold of the server (default 0: the bench speech is "
                       "real but off-topic, so every customer final goes on to KB search as on-topic "
                       "calls do; the work per final is the same)")
    bench.add_argument("--asr-processes", type=int, default=0, help="recognition worker processes")
    bench.add_argument("--nlu-processes", type=int, default=0, help="NLU worker processes")
    bench.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="another server setting, e.g. asr.whisper_threads=1 (repeatable)")
    bench.add_argument("--speech-dir", type=Path,
                       help="folder of 16 kHz WAV utterances (default ../shared/data/ko_speech_dev)")
    bench.add_argument("--dump", type=Path, help="write every received event here (JSON lines)")
    bench.add_argument("--write", action="store_true",
                       help=f"add the results to the '{RESULTS_SECTION}' section of docs/RESULTS.md")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=run_bench_api)


def run_serve(args: argparse.Namespace) -> int:
    if args.new_token:
        from assist.api.auth import new_token

        token, digest = new_token()
        print(f"token (give it to {args.new_token}; it is not stored): {token}")
        print(f'assist.toml:\n[api.tenants.{args.new_token}]\ntoken_sha256 = ["{digest}"]')
        return 0
    from assist.api import serve

    settings = get_settings()
    if not settings.api.tenants:
        err.print("[yellow]no api.tenants configured: every request will be refused "
                  "(assist serve --new-token NAME)[/]")
    serve(settings, args.host, args.port)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(args: argparse.Namespace, digest: str, port: int, log_path: Path) -> subprocess.Popen:
    """``assist serve`` in its own process (its CPU and RSS are measured apart from the client)."""
    env = dict(os.environ)
    env.update({
        "ASSIST_API__TENANTS": json.dumps({"bench": {"token_sha256": [digest], "max_calls": 64}}),
        "ASSIST_API__SAVE_CALLS": "false",
        "ASSIST_API__ASR_PROCESSES": str(args.asr_processes),
        "ASSIST_API__NLU_PROCESSES": str(args.nlu_processes),
        "ASSIST_SERVER__HOST": "127.0.0.1",
        "ASSIST_NLU__UNSURE_THRESHOLD": str(args.nlu_threshold),
    })
    if args.engine:
        env["ASSIST_ASR__MODE"] = args.engine
    if args.shed:
        env["ASSIST_ASR__FIRST_PASS_SHED"] = "true" if args.shed == "on" else "false"
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise AssistError(f"--set {item}: expected SECTION.KEY=VALUE, e.g. asr.whisper_threads=1")
        env["ASSIST_" + key.replace(".", "__").upper()] = value
    with log_path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "assist.cli", "serve", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(process: subprocess.Popen, port: int, token: str, log_path: Path) -> None:
    import httpx

    deadline = time.monotonic() + 600
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise AssistError(f"the bench server exited ({process.returncode}):\n{tail}")
            try:
                http.get("/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            raise AssistError("the bench server did not start within 600 s.")
        http.post("/v1/classify", json={"text": "요금이 많이 나왔어요"})  # warm the encoder
        http.get("/v1/kb/search", params={"q": "요금이 많이 나왔어요"})


def _command(args: argparse.Namespace) -> str:
    parts = ["assist bench api", "--calls", *map(str, args.calls), "--seconds", f"{args.seconds:g}"]
    if args.frame_ms != 20:
        parts += ["--frame-ms", str(args.frame_ms)]
    if args.keep_going:
        parts.append("--keep-going")
    for flag, value in (("--engine", args.engine), ("--shed", args.shed),
                        ("--asr-processes", args.asr_processes), ("--nlu-processes", args.nlu_processes)):
        if value:
            parts += [flag, str(value)]
    if args.nlu_threshold:
        parts += ["--nlu-threshold", f"{args.nlu_threshold:g}"]
    for item in args.set:
        parts += ["--set", item]
    return " ".join(parts)


def run_bench_api(args: argparse.Namespace) -> int:
    from assist.api.auth import new_token
    from assist.evaluate.bench_api import ApiBenchConfig, run_api_bench

    settings = get_settings()
    token, digest = new_token()
    port = _free_port()
    log_path = Path(tempfile.mkdtemp(prefix="assist-bench-api-")) / "server.log"
    if args.dump:
        args.dump.unlink(missing_ok=True)
    server = _start_server(args, digest, port, log_path)
    try:
        with console.status("starting the server (loading models)"):
            _wait_ready(server, port, token, log_path)
        config = ApiBenchConfig(f"ws://127.0.0.1:{port}", token, tuple(args.calls), args.seconds,
                                args.frame_ms, server_pid=server.pid, speech_dir=args.speech_dir,
                                keep_going=args.keep_going, dump=args.dump)
        console.print(_HEADER_NOTE)
        report = run_api_bench(settings, config, progress=lambda line: console.print(line, soft_wrap=True))
        asr = settings.asr
        shed = {"on": True, "off": False}.get(args.shed or "", asr.first_pass_shed)
        mode = args.engine or asr.mode
        report.notes += [f"server: `assist serve` in its own process, asr.mode={mode}"
                         + (f", first_pass_shed={'on' if shed else 'off'}" if mode == "hybrid" else "")
                         + f", nlu.unsure_threshold={args.nlu_threshold:g}, asr_processes="
                         f"{args.asr_processes}, nlu_processes={args.nlu_processes}"
                         + "".join(f", {item}" for item in args.set)
                         + "; the client runs on the same machine"]
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    console.print(report.markdown(), soft_wrap=True)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    if args.write:
        path = write_results(settings.root / "docs" / "RESULTS.md", _command(args), report)
        console.print(f"added to {path} ({RESULTS_SECTION})")
    return 0


_HEADER_NOTE = ("columns: real time = partials < 1 s, first-pass finals < 1.5 s, Whisper finals < 6 s "
                "behind their audio and drain < 6 s; final->result = customer final emitted -> its "
                "insight/suggestions received; other load = CPU used by other processes (niced: the part at "
                "lower priority than the server)")


def write_results(path: Path, command: str, report) -> Path:
    """Add a dated entry at the end of the Streaming API section (made when missing)."""
    import shutil

    from assist.evaluate.results import machine_line

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    gpu = "a GPU present but unused" if shutil.which("nvidia-smi") else "no GPU"
    busy = max((row.other_cpu_pct for row in report.rows), default=0.0)
    shared = (f"; other work running at the same time (other processes used up to {busy:.0f}% of "
              "the machine's CPU during the runs, see 'other load')" if busy >= 10 else "")
    entry = (f"### `{command}`\n\n- date: {stamp}\n- machine: {machine_line()}, {gpu}{shared}\n\n"
             f"{report.markdown()}\n")
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Results\n"
    start = text.find(RESULTS_SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + f"\n\n{RESULTS_SECTION}\n\n{entry}"
    else:
        following = text.find("\n## ", start + len(RESULTS_SECTION))
        end = len(text) if following < 0 else following + 1
        text = text[:end].rstrip("\n") + f"\n\n{entry}" + ("\n" + text[end:] if following >= 0 else "")
    path.write_text(text, encoding="utf-8")
    return path
