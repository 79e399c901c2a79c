"""``assist app``: serve the web app; ``assist users``: manage its logins and roles."""
from __future__ import annotations

import argparse
import getpass

from assist.config import AssistError, get_settings


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    app = sub.add_parser("app", help="serve the web app (agent panel, KB editor, evaluator)")
    app.add_argument("--host", default=None, help="address to listen on (default: server.host)")
    app.add_argument("--port", type=int, default=None, help="port (default: server.port; "
                     "with --check-start a free one)")
    app.add_argument("--check-start", action="store_true",
                     help="start, wait until the page answers with models warm and demo calls "
                     "ready, print the start time in seconds (and where it went), then exit")
    app.set_defaults(func=run_app)

    users = sub.add_parser("users", help="web app logins: list, or set a password and role")
    users.add_argument("action", choices=["list", "set", "remove"])
    users.add_argument("name", nargs="?", help="login name (set, remove)")
    users.add_argument("--role", choices=["agent", "editor", "evaluator", "admin"], default=None)
    users.set_defaults(func=run_users)


def run_app(args: argparse.Namespace) -> int:
    started_at = _process_started()
    from assist.ui.deps import DepsLoader

    settings = get_settings()
    port = args.port or (_free_port(settings.server.host) if args.check_start else None)
    if args.host or port:
        server = settings.server.model_copy(update={k: v for k, v in (
            ("host", args.host), ("port", port)) if v})
        settings = settings.model_copy(update={"server": server})
    print("모델과 지식 베이스를 불러오는 중입니다…", flush=True)
    loader = DepsLoader(settings)  # loads while Gradio is imported below
    from assist.ui.app import serve

    if not args.check_start:
        serve(settings, block=True, loader=loader, started_at=started_at,
              announce=lambda line: print(line, flush=True))
        return 0
    return _check_start(settings, loader, started_at)


START_BUDGET_S = 15.0


def _check_start(settings, loader, started_at: float) -> int:
    """Serve, wait for the page to answer, print the start time and its parts, stop."""
    import time
    import urllib.request

    from assist.ui.app import serve
    from assist.ui.sources import demo_audio_ready, demo_calls

    served = serve(settings, block=False, loader=loader, started_at=started_at,
                   speak_demos=False, announce=lambda line: print(line, flush=True))
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        deadline = time.time() + 60
        while True:
            try:
                with direct.open(served.url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.time() > deadline:
                    raise AssistError(f"{served.url} did not answer within 60 s") from None
                time.sleep(0.05)
        total = time.time() - started_at
        demos = demo_calls(settings)
        audio = sum(demo_audio_ready(settings, d.path) for d in demos)
        print(f"start: {total:.1f} s from process start to the page answering "
              f"(budget {START_BUDGET_S:.0f} s: {'ok' if total <= START_BUDGET_S else 'OVER'})")
        asr = (f"loaded ({settings.asr.mode})" if loader.warm_asr
               else "loaded on the first audio call (ui.warm_asr off)")
        print(f"  models warm: NLU {loader.backend}, KB search over {len(served.deps.searcher)} "
              f"articles, recognizers {asr}")
        print(f"  demo calls: {len(demos)} transcript demos ready, {audio} with speech audio ready")
        for note in loader.notes:
            print(f"  note: {note}")
        print("  parts (seconds; threads overlap): " + ", ".join(
            f"{name} {seconds:.1f}" for name, seconds in loader.timings.items()))
    finally:
        served.close()
    return 0


def _process_started() -> float:
    """When this process started (epoch seconds): the start time includes Python's own start
    and every import."""
    import time

    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:
        return time.time()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host if host not in ("0.0.0.0", "") else "127.0.0.1", 0))
        return sock.getsockname()[1]


def run_users(args: argparse.Namespace) -> int:
    from assist.ui import ROLES, ensure_users, hash_password, read_users, users_path, write_users
    from assist.ui.auth import User

    path = users_path(get_settings())
    for name, role, password in ensure_users(path):
        print(f"made {name} ({role}) with password {password}")
    users = read_users(path)
    if args.action == "list":
        for user in users.values():
            print(f"{user.name}\t{user.role}")
        return 0
    if not args.name:
        raise AssistError(f"`assist users {args.action}` needs a login name.")
    if args.action == "remove":
        if users.pop(args.name, None) is None:
            raise AssistError(f"No login named {args.name!r}.")
        write_users(path, list(users.values()))
        return 0
    role = args.role or (users[args.name].role if args.name in users else None)
    if role not in ROLES:
        raise AssistError("A new login needs --role agent|editor|evaluator|admin.")
    password = getpass.getpass(f"password for {args.name}: ")
    if len(password) < 8 or password != getpass.getpass("again: "):
        raise AssistError("Passwords must match and have at least 8 characters.")
    users[args.name] = User(args.name, role, hash_password(password))
    write_users(path, list(users.values()))
    print(f"{args.name} ({role}) saved to {path}")
    return 0
