"""API fixtures: real session deps and engines loaded once, a uvicorn server on 127.0.0.1.

Two tenants: ``acme`` (TOKEN_A, at most 3 calls at once) and ``other`` (TOKEN_B). Clients are
the ``websockets`` sync client and httpx, on loopback only. Helpers live in api_helpers.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import LiveServer, api_settings


@pytest.fixture(scope="session")
def api_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="session")
def deps(api_root):
    from assist.session.loader import build_deps

    return build_deps(api_settings(api_root))


@pytest.fixture(scope="session")
def engines(api_root):
    from assist.asr import load_engines

    loaded = load_engines(api_settings(api_root))
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def server(api_root, deps, engines):
    live = LiveServer(api_settings(api_root), deps, engines).start()
    yield live
    live.stop()
