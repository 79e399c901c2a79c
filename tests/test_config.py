"""Settings: TOML then ASSIST_* env, typed, unknown keys refused with the key named."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assist.config import AssistError, Settings, get_settings


def test_toml_then_env(tmp_path, monkeypatch):
    toml = tmp_path / "assist.toml"
    toml.write_text('[asr]\nmode = "vosk"\n[audio]\nchannel_map = ["agent", "customer"]\n', "utf-8")
    monkeypatch.setenv("ASSIST_CONFIG", str(toml))
    settings = Settings()
    assert settings.asr.mode == "vosk"
    assert settings.audio.channel_map == ("agent", "customer")
    monkeypatch.setenv("ASSIST_ASR__MODE", "whisper")
    monkeypatch.setenv("ASSIST_AUDIO__CHANNEL_MAP", "customer,agent")
    settings = Settings()
    assert settings.asr.mode == "whisper"
    assert settings.audio.channel_map == ("customer", "agent")


def test_unknown_key_is_an_error(tmp_path, monkeypatch):
    toml = tmp_path / "assist.toml"
    toml.write_text("[asr]\nmodee = 'vosk'\n", "utf-8")
    monkeypatch.setenv("ASSIST_CONFIG", str(toml))
    get_settings.cache_clear()
    try:
        with pytest.raises(AssistError, match="asr.modee"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_missing_config_file_named(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSIST_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(AssistError, match="nope.toml"):
        Settings()


def test_relative_paths_resolve_against_root(tmp_path):
    settings = Settings(root=tmp_path)
    assert settings.models_path == tmp_path / "models"
    assert settings.data_path == tmp_path / "var"


def test_layers_import_only_leftward():
    """The import-linter contract in pyproject.toml: no stage imports a later one."""
    lint = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr
