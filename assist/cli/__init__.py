"""``assist`` command line: one sub-command per job, errors as one sentence, never a traceback."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from assist.config import AssistError, get_settings

__all__ = ["main"]


COMMAND_MODULES = ("models_cmd", "asr_cmds", "demo_cmd", "session_cmds", "kb_cmds", "nlu_cmds",
                   "ui_cmds", "api_cmds")


def _parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="assist", description="Live call assist for Korean customer centers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="show the effective settings")
    config.add_argument("action", choices=["show"])
    config.set_defaults(func=_config_show)

    groups = {
        "eval": sub.add_parser("eval", help="score models on labeled data").add_subparsers(
            dest="what", required=True),
        "bench": sub.add_parser("bench", help="speed benchmarks").add_subparsers(
            dest="what", required=True),
        "train": sub.add_parser("train", help="train classifiers").add_subparsers(
            dest="what", required=True),
    }
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"assist.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"assist.cli.{name}":
                raise
            continue
        module.register(sub, groups)
    return parser


def _config_show(args: argparse.Namespace) -> int:
    print(get_settings().model_dump_json(indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        level = logging.DEBUG if args.verbose else getattr(logging, settings.log_level.upper(), 30)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return int(args.func(args) or 0)
    except AssistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
