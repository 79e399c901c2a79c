"""Models are built from installed packages, verified, idempotent, and load with no network."""
from __future__ import annotations

import shutil
import socket

import pytest

from assist.asr import load_engines
from assist.asr.model_files import assemble_whisper, verify_whisper
from assist.build import build_models, missing_models
from assist.config import AssistError, Settings
from assist.nlu.encoder import Encoder


def test_network_is_blocked_in_tests():
    with pytest.raises(Exception) as info:
        # an unroutable documentation address (RFC 5737): blocked before any packet is sent
        socket.create_connection(("192.0.2.1", 443), timeout=2)
    assert "Blocked" in type(info.value).__name__ or "blocked" in str(info.value).lower()


def test_all_models_load_offline(repo_settings, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert missing_models(repo_settings) == []
    engines = load_engines(repo_settings)
    try:
        assert engines.vosk is not None and engines.whisper is not None
    finally:
        engines.close()
    encoder = Encoder(repo_settings.models_path / repo_settings.nlu.encoder_dir_name)
    vectors = encoder.encode_queries(["요금이 왜 이렇게 많이 나왔어요?"])
    assert vectors.shape == (1, 384)


def test_build_is_idempotent(repo_settings):
    messages: list[str] = []
    before = (repo_settings.models_path / "manifest.json").read_text()
    manifest = build_models(repo_settings, progress=messages.append)
    assert any("whisper: up to date" in m for m in messages), messages
    assert any("encoder: up to date" in m for m in messages), messages
    assert manifest["encoder"]["verify"]["mean_cosine"] >= 0.999
    after = (repo_settings.models_path / "manifest.json").read_text()
    assert before == after


def test_corrupt_whisper_file_is_detected(tmp_path):
    folder = tmp_path / "whisper"
    assemble_whisper(folder)
    verify_whisper(folder)
    with (folder / "config.json").open("r+b") as handle:
        handle.seek(10)
        handle.write(b"#")
    with pytest.raises(AssistError, match="corrupt"):
        verify_whisper(folder)
    assemble_whisper(folder)  # rebuilding repairs it
    verify_whisper(folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(AssistError, match="missing"):
        verify_whisper(folder)
    shutil.rmtree(folder)


def test_missing_models_name_the_command(tmp_path):
    settings = Settings(root=tmp_path, model_dir=tmp_path / "empty")
    assert missing_models(settings)
    with pytest.raises(AssistError, match="make models"):
        load_engines(settings)
    with pytest.raises(AssistError, match="make models"):
        Encoder(settings.models_path / settings.nlu.encoder_dir_name)
