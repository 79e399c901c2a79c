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


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    serve = sub.add_parser("serve", help="server API: telephony audio in, call events out, REST")
    serve.add_argument("--host", help="bind address (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: api.port)")
    serve.add_argument("--new-token", metavar="TENANT",
                       help="print a new token for TENANT and the config line with its hash, then exit")
    serve.set_defaults(func=run_serve)

    bench = groups["bench"].add_parser("api", help="concurrent real-time calls over the websocket API")
    bench.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4])
    bench.add_argument("--seconds", type=float, default=45.0, help="length of each simulated call")
    bench.add_argument("--frame-ms", type=int, default=20, help="audio per media message and track")
    bench.add_argument("--engine", choices=["hybrid", "vosk", "whisper"],
                       help="recognition mode of the server (default: asr.mode)")
    bench.add_argument("--nlu-threshold", type=float, default=0.0,
                       help="intent 'unsure' threshold of the server (default 0: the bench speech is "
                       "real but off-topic, so every customer final goes on to KB search as on-topic "
                       "calls do; the work per final is the same)")
    bench.add_argument("--asr-processes", type=int, default=0, help="recognition worker processes")
    bench.add_argument("--nlu-processes", type=int, default=0, help="NLU worker processes")
    bench.add_argument("--write", action="store_true", help="append the results to docs/RESULTS.md")
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


def run_bench_api(args: argparse.Namespace) -> int:
    from assist.api.auth import new_token
    from assist.evaluate.bench_api import ApiBenchConfig, run_api_bench
    from assist.evaluate.results import append_results

    settings = get_settings()
    token, digest = new_token()
    port = _free_port()
    log_path = Path(tempfile.mkdtemp(prefix="assist-bench-api-")) / "server.log"
    server = _start_server(args, digest, port, log_path)
    try:
        with console.status("starting the server (loading models)"):
            _wait_ready(server, port, token, log_path)
        config = ApiBenchConfig(f"ws://127.0.0.1:{port}", token, tuple(args.calls), args.seconds,
                                args.frame_ms, server_pid=server.pid)
        report = run_api_bench(settings, config, progress=lambda line: console.print(line))
        report.notes += [f"server: asr.mode={args.engine or settings.asr.mode}, "
                         f"nlu.unsure_threshold={args.nlu_threshold:g}, asr_processes={args.asr_processes}, "
                         f"nlu_processes={args.nlu_processes}; client and server share the machine"]
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    console.print(report.markdown())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    if args.write:
        command = (f"assist bench api --calls {' '.join(map(str, args.calls))} --seconds {args.seconds:g}"
                   + (f" --engine {args.engine}" if args.engine else "")
                   + (f" --asr-processes {args.asr_processes}" if args.asr_processes else "")
                   + (f" --nlu-processes {args.nlu_processes}" if args.nlu_processes else ""))
        append_results(settings.root / "docs" / "RESULTS.md", command, report.markdown())
    return 0
