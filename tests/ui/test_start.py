"""Start-up work done ahead, without models: build-time KB vectors copied into a fresh data
dir (and only there), demo audio reused only for an unchanged transcript, the build key, the
app's encoder runtime, and the parallel loader reporting a loading error."""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from assist.config import AssistError, Settings, UiOptions
from assist.kb import open_store, seed_from_folder
from assist.ui.kb_forms import diff_html
from assist.ui.warm import (DEMO_AUDIO_DIR, KB_VECTORS_FILE, app_backend, app_settings,
                            cached_demo_audio, kb_vectors_key, prefill_vectors,
                            transcript_digest)

REPO = Path(__file__).resolve().parents[2]
ARTICLE = """---
id: refund-01
title: 환불 안내
intents: [refund]
---
## 답변
환불은 영업일 기준 3일 안에 처리됩니다.
"""


def _settings(tmp_path: Path, **ui) -> Settings:
    kb = tmp_path / "kb"
    (kb / "articles").mkdir(parents=True, exist_ok=True)
    (kb / "articles" / "refund-01.md").write_text(ARTICLE, "utf-8")
    return Settings(root=tmp_path, kb_dir=kb, model_dir=tmp_path / "models",
                    demo_dir=REPO / "demo", ui=UiOptions(**ui))


def _vector_file(settings: Settings, rows: list[tuple[str, str, str, np.ndarray]]) -> None:
    settings.models_path.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(settings.models_path / KB_VECTORS_FILE)) as db, db:
        db.execute("CREATE TABLE embeddings (article_id TEXT, fingerprint TEXT, digest TEXT, "
                   "vector BLOB, PRIMARY KEY (article_id, fingerprint))")
        db.executemany("INSERT INTO embeddings VALUES (?, ?, ?, ?)",
                       [(a, f, d, v.astype(np.float32).tobytes()) for a, f, d, v in rows])


def test_build_time_vectors_fill_a_fresh_data_dir_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    vector = np.arange(4, dtype=np.float32)
    _vector_file(settings, [("refund-01", "enc:full", "d1", vector),
                            ("refund-01", "enc:head", "d2", vector + 1)])
    seed_from_folder(settings)
    assert prefill_vectors(settings) == 2
    with open_store(settings) as store:
        found = store.cached_vectors("enc:full", {"refund-01": "d1"})
        stale = store.cached_vectors("enc:full", {"refund-01": "other text digest"})
    assert np.array_equal(found["refund-01"], vector)
    assert stale == {}  # a vector is only used for the very text it was made from
    assert prefill_vectors(settings) == 0  # the data dir has its own cache now


def test_no_vector_file_or_a_broken_one_changes_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    seed_from_folder(settings)
    assert prefill_vectors(settings) == 0
    settings.models_path.mkdir(parents=True)
    (settings.models_path / KB_VECTORS_FILE).write_bytes(b"not a database")
    assert prefill_vectors(settings) == 0


def test_the_build_key_follows_the_articles_and_the_runtime(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = kb_vectors_key(settings)
    assert kb_vectors_key(settings) == key
    (settings.kb_path / "articles" / "refund-01.md").write_text(ARTICLE + "더 씁니다.\n", "utf-8")
    assert kb_vectors_key(settings) != key


def test_the_app_uses_onnx_only_when_it_was_exported(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert app_backend(settings) == settings.nlu.backend  # no export: nlu.backend
    export = settings.models_path / f"{settings.nlu.encoder_dir_name}-onnx"
    export.mkdir(parents=True)
    for name in ("model.onnx", "tokenizer.json"):
        (export / name).write_bytes(b"x")
    assert app_backend(settings) == "onnx-fp32"  # the default: the same vectors as torch
    assert app_settings(settings).nlu.backend == "onnx"
    assert app_backend(_settings(tmp_path, nlu_backend="onnx")) == settings.nlu.backend
    (export / "export.json").write_text(json.dumps({"selected": "model.int8.onnx"}))
    assert app_backend(_settings(tmp_path, nlu_backend="onnx")) == "onnx"
    assert app_backend(_settings(tmp_path, nlu_backend="")) == settings.nlu.backend


def test_demo_audio_is_reused_only_for_the_same_transcript(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    transcript = tmp_path / "01_demo.jsonl"
    transcript.write_text('{"speaker": "customer", "text": "요금 문의요", "start_s": 0}\n', "utf-8")
    folder = settings.models_path / DEMO_AUDIO_DIR
    folder.mkdir(parents=True)
    (folder / "01_demo.wav").write_bytes(b"RIFF")
    (folder / "01_demo.json").write_text(json.dumps(
        {"transcript_sha256": transcript_digest(transcript)}))
    assert cached_demo_audio(settings, transcript) == folder / "01_demo.wav"
    transcript.write_text('{"speaker": "customer", "text": "해지 문의요", "start_s": 0}\n', "utf-8")
    assert cached_demo_audio(settings, transcript) is None


def test_a_loading_error_reaches_the_caller(tmp_path: Path) -> None:
    from assist.ui.deps import DepsLoader

    settings = _settings(tmp_path, warm_asr=False, nlu_backend="torch")  # no encoder folder
    with pytest.raises(AssistError):
        DepsLoader(settings).result()


def test_the_diff_marks_what_changed_in_a_line() -> None:
    html = diff_html("--- a v1\n+++ a v2\n@@ -1 +1 @@\n-환불은 3일 <b>안에</b>\n"
                     "+환불은 5일 <b>안에</b>\n")
    assert "<mark>3</mark>" in html and "<mark>5</mark>" in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_an_old_data_dir_gets_vectors_for_a_new_encoder_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    seed_from_folder(settings)
    with open_store(settings) as store:  # this data dir already caches the old encoder
        store.cache_vectors("old:full", [("refund-01", "edited", np.ones(4, np.float32))])
    _vector_file(settings, [("refund-01", "old:full", "built", np.zeros(4)),
                            ("refund-01", "new:full", "built", np.zeros(4))])
    assert prefill_vectors(settings) == 1
    with open_store(settings) as store:
        assert store.cached_vectors("old:full", {"refund-01": "edited"})  # kept, not replaced
        assert store.cached_vectors("new:full", {"refund-01": "built"})
