"""Shared fixtures: offline models loaded once per session, generated and real audio.

The network is blocked for every test (pytest-socket, loopback allowed for local servers)
and HF_HUB_OFFLINE=1, so anything that tries to download fails the suite.
"""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from assist.config import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ASSIST_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_settings() -> Settings:
    """Settings on the repo's built models and shipped KB; data dir is never the repo's."""
    return Settings(root=REPO, data_dir=Path("/nonexistent-data-dir"))


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path, model_dir=REPO / "models", kb_dir=REPO / "kb",
                    demo_dir=REPO / "demo")


@pytest.fixture(scope="session")
def session_deps(tmp_path_factory: pytest.TempPathFactory):
    """Real session dependencies (NLU, KB search over a fresh store, scripts), built once."""
    from assist.session.loader import build_deps

    root = tmp_path_factory.mktemp("session")
    return build_deps(Settings(root=root, model_dir=REPO / "models", kb_dir=REPO / "kb",
                               demo_dir=REPO / "demo"))


@pytest.fixture(scope="session")
def speech_dev() -> Path:
    """Real spontaneous Korean speech (ko_speech_dev) beside the repo."""
    path = SHARED_DATA / "ko_speech_dev"
    if not (path / "manifest.tsv").is_file():
        pytest.fail(f"real speech data missing at {path}; set ASSIST_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def speech_clip(speech_dev: Path) -> tuple[np.ndarray, int]:
    """About 10 s of real speech, 16 kHz mono float32."""
    audio, rate = sf.read(speech_dev / "k000002.wav", dtype="float32")
    return audio, rate
