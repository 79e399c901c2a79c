"""The web app on a free loopback port with a temporary data dir, and headless Chromium.

A fresh data dir is seeded from kb/ with the article vectors `assist models build` made
(models/kb-vectors.sqlite3), so nothing is re-encoded at start.
Screenshots go to the test's tmp dir, or to $ASSIST_UI_SCREENSHOTS (docs/screenshots).
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assist.config import Settings, UiOptions

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {role: f"{role}-테스트-비밀번호" for role in ("agent", "editor", "evaluator", "admin")}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class AppServer:
    url: str
    settings: Settings
    served: object
    shots: Path
    passwords: dict[str, str]
    repo: Path = REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_heads(timeout_s: float = 0.0) -> None:
    """The NLU heads are built by `make models`; fail clearly when they are missing."""
    from assist.nlu.model import CARD_FILE, default_model_dirs

    settings = Settings(root=REPO)
    deadline = time.monotonic() + timeout_s
    while not all((d / CARD_FILE).is_file() for d in default_model_dirs(settings)):
        if time.monotonic() > deadline:
            pytest.fail("NLU heads are missing: run `make models` first")
        time.sleep(10)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    from assist.ui import serve
    from assist.ui.auth import User, hash_password, users_path, write_users

    wait_for_heads()
    root = tmp_path_factory.mktemp("app")
    settings = Settings(root=root, model_dir=REPO / "models", kb_dir=REPO / "kb",
                        demo_dir=REPO / "demo",
                        ui=UiOptions(warm_asr=False, max_upload_mb=1.0, poll_ms=250))
    write_users(users_path(settings), [User(role, role, hash_password(password))
                                       for role, password in PASSWORDS.items()])
    served = serve(settings, block=False, port=_free_port(), announce=lambda _: None,
                   speak_demos=False)
    shots = Path(os.environ.get("ASSIST_UI_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    yield AppServer(served.url, settings, served, shots, PASSWORDS)
    served.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
