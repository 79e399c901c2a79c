"""Start-up work done ahead: at ``assist models build`` time, or in the data dir, once.

Two things made the app slow to start on a fresh data dir:

* encoding the shipped KB (every article's passage vectors) took over a minute on 2 CPU
  cores. ``build_kb_vectors`` encodes it once at build time into models/kb-vectors.sqlite3;
  ``prefill_vectors`` copies those rows into the data dir's KB cache (for an encoder it has
  no vectors from: a fresh data dir, or a new encoder) before the searcher opens. Rows are keyed like the KB's own cache (encoder fingerprint + digest of the text),
  so a vector is only ever used for exactly the text it was made from: an edited article,
  a changed encoder or changed passage code simply misses and is encoded as before.
* speaking the demo calls with espeak-ng (~1.5 s each). ``build_demo_audio`` renders them
  into models/demo_audio/ with the digest of their transcript; ``cached_demo_audio`` finds a
  rendering whose digest still matches, so the audio demos are ready at once.

``load_app_nlu`` loads the classifier on the app's encoder runtime (``ui.nlu_backend``: the fp32
ONNX export by default, the same vectors as torch without importing torch and
sentence-transformers, which alone took ~8 s of a 2-core machine's start).

Nothing here imports Gradio or torch at module level.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from assist.config import Settings

__all__ = ["KB_VECTORS_FILE", "DEMO_AUDIO_DIR", "app_backend", "app_settings", "load_app_nlu",
           "kb_vectors_key", "build_kb_vectors", "prefill_vectors", "warm_terms",
           "transcript_digest", "cached_demo_audio", "build_demo_audio", "BUILD_STEPS"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

KB_VECTORS_FILE = "kb-vectors.sqlite3"
DEMO_AUDIO_DIR = "demo_audio"
# Code whose change may change which texts are encoded (or how): the build key includes it.
_VECTOR_CODE = ("kb/article.py", "kb/vectors.py", "retrieve/search.py", "nlu/encoder.py",
                "nlu/onnx_export.py")
_PACKAGE = Path(__file__).resolve().parents[1]


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def _stat_line(path: Path) -> bytes:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()


def kb_vectors_key(settings: Settings) -> str:
    """Cheap (no model load) key of what the precomputed KB vectors depend on: the shipped
    articles, the encoder files (name, size, mtime: what its fingerprint uses), the encoder
    backend and the code that makes passage texts."""
    parts = [app_backend(settings).encode()]
    articles = settings.kb_path / "articles"
    for path in sorted(articles.rglob("*")) if articles.is_dir() else ():
        if path.is_file():
            parts.append(path.relative_to(articles).as_posix().encode() + b"\0" + path.read_bytes())
    encoder = settings.models_path / settings.nlu.encoder_dir_name
    for folder in (encoder, encoder.with_name(encoder.name + "-onnx")):
        for path in sorted(folder.glob("*")) if folder.is_dir() else ():
            if path.is_file():
                parts.append(_stat_line(path))
    for name in _VECTOR_CODE:
        code = _PACKAGE / name
        parts.append(code.read_bytes() if code.is_file() else b"")
    return _sha(*parts)


FP32_ONNX = "model.onnx"


def app_backend(settings: Settings) -> str:
    """The web app's encoder runtime (``ui.nlu_backend``), when it can be had: "onnx-fp32",
    "onnx" (the export's selected model), or "torch"; without an ONNX export, nlu.backend."""
    from assist.nlu.onnx_export import onnx_dir

    wanted = settings.ui.nlu_backend or settings.nlu.backend
    folder = onnx_dir(settings)
    needs = {"onnx": folder / "export.json", "onnx-fp32": folder / FP32_ONNX}.get(wanted)
    if needs is not None and not (needs.is_file() and (folder / "tokenizer.json").is_file()):
        log.info("%s missing: the app uses nlu.backend=%s", needs, settings.nlu.backend)
        return settings.nlu.backend
    return wanted


def app_settings(settings: Settings) -> Settings:
    """``settings`` with ``nlu.backend`` naming the runtime the app's encoder runs on
    ("onnx" for both ONNX choices)."""
    backend = "torch" if app_backend(settings) == "torch" else "onnx"
    if backend == settings.nlu.backend:
        return settings
    return settings.model_copy(update={"nlu": settings.nlu.model_copy(update={"backend": backend})})


def load_app_nlu(settings: Settings):
    """The app's classifier (``assist.nlu.model.load_nlu``, with the encoder of
    ``app_backend``). For "onnx-fp32" the steps of ``load_nlu`` are taken here with the fp32
    export, whose vectors equal torch's (min cosine 1.0 in export.json): the int8 model the
    export selects keeps intent and sentiment within 0.5 points but not KB search (dev
    recall@1 of hybrid search 0.837 -> 0.792, docs/RESULTS.md)."""
    from assist.nlu.model import (NluModel, check_probe, encoder_for, load_nlu, load_task,
                                  resolve_task_dir)

    backend = app_backend(settings)
    if backend != "onnx-fp32":
        return load_nlu(settings, backend=backend)
    from assist.nlu.onnx_export import onnx_dir

    folder = onnx_dir(settings)
    shared = _fp32_encoder(folder / FP32_ONNX, folder / "tokenizer.json")
    intent_dir = resolve_task_dir(settings, "intent", shared)
    sentiment_dir = resolve_task_dir(settings, "sentiment", shared)
    intent = load_task(intent_dir, settings.nlu.unsure_threshold)
    encoder = encoder_for(settings, intent, intent_dir, shared)
    check_probe(intent, encoder)
    sentiment = load_task(sentiment_dir)
    second = encoder_for(settings, sentiment, sentiment_dir, shared)
    check_probe(sentiment, second)
    return NluModel(encoder, intent, sentiment, settings.nlu, None if second is encoder else second)


_fp32_lock = threading.Lock()
_fp32: dict[tuple[Path, Path], object] = {}


def _fp32_encoder(model: Path, tokenizer: Path):
    """One fp32 ONNX encoder per process (the build step and the app may both ask)."""
    from assist.nlu.onnx_export import OnnxEncoder

    with _fp32_lock:
        if (model, tokenizer) not in _fp32:
            _fp32[(model, tokenizer)] = OnnxEncoder(model, tokenizer)
        return _fp32[(model, tokenizer)]


# -- KB vectors ---------------------------------------------------------------------------------
def build_kb_vectors(settings: Settings, old: dict, force: bool, say: Progress) -> dict:
    """Seed a scratch KB from kb/, open the product's searcher on it (which encodes every
    article exactly as the app would), and keep its embedding cache in models/."""
    out = settings.models_path / KB_VECTORS_FILE
    key = kb_vectors_key(settings)
    if not force and old.get("key") == key and out.is_file():
        say("kb vectors: up to date")
        return old
    from assist.retrieve.search import Searcher

    say("kb vectors: encoding the shipped articles once, so the app starts without it")
    started = time.monotonic()
    nlu = load_app_nlu(settings)
    encoder = nlu.encoder if hasattr(nlu.encoder, "encode_passages") else None
    with tempfile.TemporaryDirectory(prefix="assist-kb-vectors-") as scratch:
        temp = settings.model_copy(update={"data_dir": Path(scratch)})
        searcher = Searcher.open(temp, encoder=encoder)
        articles = len(searcher)
        searcher.store.close()
        rows = _read_embeddings(Path(scratch) / "kb.sqlite3")
    _write_embeddings(out, rows)
    fingerprints = sorted({row[1] for row in rows})
    say(f"kb vectors: {len(rows)} vectors of {articles} articles in "
        f"{time.monotonic() - started:.0f} s -> {out.name}")
    return {"key": key, "path": out.name, "articles": articles, "rows": len(rows),
            "fingerprints": fingerprints}


def _read_embeddings(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT article_id, fingerprint, digest, vector FROM embeddings").fetchall()


def _write_embeddings(out: Path, rows: list[tuple]) -> None:
    temp = out.with_name(out.name + ".tmp")
    temp.unlink(missing_ok=True)
    with closing(sqlite3.connect(temp)) as db, db:
        db.execute("CREATE TABLE embeddings (article_id TEXT NOT NULL, fingerprint TEXT NOT NULL, "
                   "digest TEXT NOT NULL, vector BLOB NOT NULL, "
                   "PRIMARY KEY (article_id, fingerprint))")
        db.executemany("INSERT INTO embeddings VALUES (?, ?, ?, ?)", rows)
    temp.replace(out)


def prefill_vectors(settings: Settings) -> int:
    """Copy the build-time KB vectors into the data dir's KB cache for every encoder the
    cache has nothing from yet (a fresh data dir, or the first start with another encoder);
    returns how many rows were copied. A fingerprint the data dir already caches is left
    alone, so its vectors of edited articles are never replaced. Safe to call every start."""
    source = settings.models_path / KB_VECTORS_FILE
    if not source.is_file():
        return 0
    import numpy as np

    from assist.kb import open_store

    try:
        rows = _read_embeddings(source)
    except sqlite3.Error as exc:
        log.warning("%s unreadable (%s): the KB is encoded at start instead", source, exc)
        return 0
    present = _cached_fingerprints(settings)
    by_fingerprint: dict[str, list] = {}
    for article_id, fingerprint, digest, blob in rows:
        if fingerprint not in present:
            by_fingerprint.setdefault(fingerprint, []).append(
                (article_id, digest, np.frombuffer(blob, dtype=np.float32)))
    if not by_fingerprint:
        return 0
    with open_store(settings) as store:
        for fingerprint, items in by_fingerprint.items():
            store.cache_vectors(fingerprint, items)
    return sum(len(items) for items in by_fingerprint.values())


def _cached_fingerprints(settings: Settings) -> set[str]:
    path = settings.data_path / "kb.sqlite3"
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return {row[0] for row in db.execute("SELECT DISTINCT fingerprint FROM embeddings")}
    except sqlite3.Error:
        return set()


def warm_terms(settings: Settings) -> int:
    """Load the Korean analyzer and cut every article into its keyword terms, filling the
    keyword module's cache, so the searcher opening next does not wait for it."""
    from assist.kb import open_store
    from assist.retrieve.keyword import article_terms

    with open_store(settings) as store:
        articles = store.articles()
    for article in articles:
        article_terms(article)
    return len(articles)


# -- demo audio ---------------------------------------------------------------------------------
def transcript_digest(transcript: Path) -> str:
    return hashlib.sha256(transcript.read_bytes()).hexdigest()


def cached_demo_audio(settings: Settings, transcript: Path) -> Path | None:
    """The build-time rendering of ``transcript`` when it was made from the same text."""
    wav = settings.models_path / DEMO_AUDIO_DIR / f"{transcript.stem}.wav"
    card = wav.with_suffix(".json")
    try:
        made = json.loads(card.read_text("utf-8")).get("transcript_sha256")
    except (OSError, ValueError):
        return None
    return wav if wav.is_file() and made == transcript_digest(transcript) else None


def build_demo_audio(settings: Settings, old: dict, force: bool, say: Progress) -> dict:
    """Speak every demo transcript onto a stereo WAV (customer left, agent right) once."""
    import shutil

    from assist.ui.sources import demo_calls, render_demo

    demos = demo_calls(settings)
    todo = [d for d in demos if force or cached_demo_audio(settings, d.path) is None]
    if not todo:
        say(f"demo audio: up to date ({len(demos)} calls)")
        return old or {"calls": len(demos), "path": DEMO_AUDIO_DIR}
    if shutil.which("espeak-ng") is None:
        say("demo audio: espeak-ng is not installed, skipped (the transcript demos still work; "
            "`make test-deps` installs it)")
        return {"calls": 0, "path": DEMO_AUDIO_DIR, "skipped": "espeak-ng missing"}
    folder = settings.models_path / DEMO_AUDIO_DIR
    started = time.monotonic()
    for demo in todo:
        say(f"demo audio: speaking {demo.name}")
        wav = render_demo(demo.path, folder / f"{demo.path.stem}.wav")
        wav.with_suffix(".json").write_text(json.dumps(
            {"transcript": demo.path.name, "transcript_sha256": transcript_digest(demo.path)}), "utf-8")
    say(f"demo audio: {len(todo)} calls in {time.monotonic() - started:.0f} s")
    return {"calls": len(demos), "path": DEMO_AUDIO_DIR}


# what `assist models build` runs after the models (manifest key, step)
BUILD_STEPS = (("kb_vectors", build_kb_vectors), ("demo_audio", build_demo_audio))
