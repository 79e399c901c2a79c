"""API test helpers: settings with two tenants, a uvicorn server on 127.0.0.1, message builders.

Two tenants: ``acme`` (TOKEN_A, at most 3 calls at once) and ``other`` (TOKEN_B). Clients are
the ``websockets`` sync client and httpx, on loopback only.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from websockets.sync.client import connect

from assist.api import create_app
from assist.api.app import server_config
from assist.api.auth import token_digest
from assist.api.codec import mulaw_encode
from assist.config import ApiOptions, NluOptions, Settings, TenantOptions

REPO = Path(__file__).resolve().parents[2]
TOKEN_A = "acme-test-token-0123456789"
TOKEN_B = "other-test-token-9876543210"


def api_settings(root: Path, **api: object) -> Settings:
    tenants = {"acme": TenantOptions(token_sha256=(token_digest(TOKEN_A),), max_calls=3),
               "other": TenantOptions(token_sha256=(token_digest(TOKEN_B),), max_calls=3)}
    opts = ApiOptions(tenants=tenants, max_message_bytes=65536, max_frames_per_s=100,
                      subscribe_wait_s=5, **api)
    # Robot speech through a telephone codec is recognized poorly and the NLU is rightly unsure of
    # it; a low threshold lets the replay test check the event flow, not recognition accuracy.
    return Settings(root=root, model_dir=REPO / "models", kb_dir=REPO / "kb", demo_dir=REPO / "demo",
                    api=opts, nlu=NluOptions(unsure_threshold=0.2))


class LiveServer:
    """uvicorn in a thread; ``stop()`` shuts it down like SIGTERM would."""

    def __init__(self, settings: Settings, deps, engines, port: int | None = None) -> None:
        self.app = create_app(settings, deps, engines)
        self.port = port or _free_port()
        config = server_config(self.app, settings, "127.0.0.1", self.port)
        config.timeout_graceful_shutdown = 5
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def hub(self):
        return self.app.state.api.hub

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def http(self, token: str | None = TOKEN_A) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=60,
                            trust_env=False)

    def ws(self, path: str, token: str | None = TOKEN_A, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return connect(f"ws://127.0.0.1:{self.port}{path}", additional_headers=headers, proxy=None,
                       compression=None, max_size=None, open_timeout=10, close_timeout=10, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- telephony messages ------------------------------------------------------------------------
def start_message(call_id: str, rate: int = 8000, encoding: str = "audio/x-mulaw") -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": f"MZ{call_id}",
                       "start": {"callSid": call_id, "streamSid": f"MZ{call_id}",
                                 "tracks": ["inbound", "outbound"],
                                 "mediaFormat": {"encoding": encoding, "sampleRate": rate,
                                                 "channels": 1}}})


def media_messages(stereo_8k: np.ndarray, frame_ms: int = 200) -> list[str]:
    """Both tracks of (frames, 2) 8 kHz audio as media messages, ``frame_ms`` each."""
    step = 8 * frame_ms
    out = []
    for start in range(0, len(stereo_8k), step):
        for column, track in enumerate(("inbound", "outbound")):
            payload = base64.b64encode(mulaw_encode(stereo_8k[start:start + step, column])).decode()
            out.append(json.dumps({"event": "media", "media": {
                "track": track, "timestamp": str(start // 8), "payload": payload}}))
    return out


STOP = json.dumps({"event": "stop", "stop": {}})


def silence_messages(seconds: float, frame_ms: int = 200) -> list[str]:
    noise = np.random.default_rng(1).normal(0, 0.002, (int(8000 * seconds), 2)).astype(np.float32)
    return media_messages(noise, frame_ms)


@contextmanager
def healthy_call(server: LiveServer, call_id: str):
    """A second call live during a fault; on exit it must still end normally with 1000."""
    with server.ws("/v1/media") as ws:
        ws.send(start_message(call_id))
        for message in silence_messages(0.6):
            ws.send(message)
        yield ws
        for message in silence_messages(0.4):
            ws.send(message)
        ws.send(STOP)
        assert closed_with(ws) == (1000, "call ended")


def closed_with(ws, timeout: float = 60) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    from websockets.exceptions import ConnectionClosed

    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason or ""
