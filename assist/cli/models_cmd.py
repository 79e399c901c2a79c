"""``assist models build``."""
from __future__ import annotations

import argparse

from rich.console import Console

from assist.config import get_settings

console = Console(stderr=True)


def register(sub: argparse._SubParsersAction, groups: dict) -> None:
    models = sub.add_parser("models", help="build model folders from installed packages")
    models.add_argument("action", choices=["build", "check"])
    models.add_argument("--force", action="store_true", help="rebuild even if up to date")
    models.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from assist.build import build_models, missing_models

    settings = get_settings()
    if args.action == "check":
        missing = missing_models(settings)
        if missing:
            console.print(f"missing: {', '.join(missing)}; run `make models`")
            return 1
        console.print("all models present")
        return 0
    with console.status("building models") as status:
        def say(message: str) -> None:
            status.update(message)
            console.log(message)

        from assist.ui.warm import BUILD_STEPS  # what `assist app` needs ready to start fast

        build_models(settings, force=args.force, progress=say, extra=BUILD_STEPS)
    return 0
