"""``assist app``: serve the web app; ``assist users``: manage its logins and roles."""
from __future__ import annotations

import argparse
import getpass

from assist.config import AssistError, get_settings


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    app = sub.add_parser("app", help="serve the web app (agent panel, KB editor, evaluator)")
    app.add_argument("--host", default=None, help="address to listen on (default: server.host)")
    app.add_argument("--port", type=int, default=None, help="port (default: server.port)")
    app.set_defaults(func=run_app)

    users = sub.add_parser("users", help="web app logins: list, or set a password and role")
    users.add_argument("action", choices=["list", "set", "remove"])
    users.add_argument("name", nargs="?", help="login name (set, remove)")
    users.add_argument("--role", choices=["agent", "editor", "evaluator", "admin"], default=None)
    users.set_defaults(func=run_users)


def run_app(args: argparse.Namespace) -> int:
    from assist.ui import serve

    settings = get_settings()
    if args.host or args.port:
        server = settings.server.model_copy(update={k: v for k, v in (
            ("host", args.host), ("port", args.port)) if v})
        settings = settings.model_copy(update={"server": server})
    print("모델과 지식 베이스를 불러오는 중입니다…", flush=True)
    serve(settings, block=True, announce=lambda line: print(line, flush=True))
    return 0


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
