"""Uploads checked before use: kind by extension, size, emptiness, then content; Korean errors."""
from __future__ import annotations

import zipfile
from pathlib import Path

from assist.config import AssistError

__all__ = ["UploadError", "check_upload", "AUDIO_TYPES", "LABELED_TYPES", "QUERY_TYPES",
           "KB_TYPES", "ZIP_TYPES", "safe_extract", "probe_audio"]

AUDIO_TYPES = (".wav", ".flac", ".mp3", ".ogg")
LABELED_TYPES = (".csv", ".tsv", ".jsonl")
QUERY_TYPES = (".tsv", ".csv")
KB_TYPES = (".jsonl", ".csv")
ZIP_TYPES = (".zip",)
MAX_ZIP_FILES = 2000


class UploadError(AssistError):
    """An upload that cannot be used; the message is Korean and says what to do."""


def check_upload(value: object, allowed: tuple[str, ...], max_mb: float) -> Path:
    """The uploaded file's path, or UploadError naming the problem."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    path = getattr(value, "name", value)
    if not path:
        raise UploadError("파일을 먼저 올려 주세요.")
    path = Path(str(path))
    kinds = ", ".join(ext.lstrip(".").upper() for ext in allowed)
    suffix = path.suffix.lower()
    if suffix not in allowed:
        shown = suffix or "확장자 없음"
        raise UploadError(f"지원하지 않는 파일 형식입니다 ({shown}). {kinds} 파일을 올려 주세요.")
    if not path.is_file():
        raise UploadError("올린 파일을 찾을 수 없습니다. 다시 올려 주세요.")
    size_mb = path.stat().st_size / 1_000_000
    if size_mb > max_mb:
        raise UploadError(f"파일이 너무 큽니다 ({size_mb:.1f} MB). "
                          f"{max_mb:g} MB 이하의 파일만 올릴 수 있습니다.")
    if size_mb == 0:
        raise UploadError("빈 파일입니다. 내용이 있는 파일을 올려 주세요.")
    return path


def probe_audio(path: Path, max_channels: int = 2):
    """The recording's header; corrupt or unusable audio becomes a Korean UploadError."""
    from assist.audio import AudioError, probe

    try:
        info = probe(path)
    except AudioError as exc:
        raise UploadError("녹음 파일을 읽을 수 없습니다. 손상되었거나 오디오 파일이 아닙니다. "
                          f"(자세히: {exc})") from exc
    if info.channels > max_channels:
        raise UploadError(f"채널이 {info.channels}개인 녹음입니다. 모노(1채널) 또는 "
                          "스테레오(2채널: 왼쪽 고객, 오른쪽 상담사) 녹음을 올려 주세요.")
    return info


def safe_extract(archive: Path, out_dir: Path, max_mb: float) -> Path:
    """Unpack a zip without leaving ``out_dir`` (no absolute paths, no '..', size capped)."""
    try:
        with zipfile.ZipFile(archive) as handle:
            members = [m for m in handle.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_FILES:
                raise UploadError(f"압축 파일에 파일이 너무 많습니다 ({len(members)}개).")
            total_mb = sum(m.file_size for m in members) / 1_000_000
            if total_mb > max_mb * 4:
                raise UploadError(f"압축을 풀면 {total_mb:.0f} MB로 너무 큽니다.")
            root = out_dir.resolve()
            for member in members:
                target = (root / member.filename).resolve()
                if root not in target.parents:
                    raise UploadError("압축 파일에 허용되지 않는 경로가 있습니다.")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(handle.read(member))
    except zipfile.BadZipFile as exc:
        raise UploadError("압축 파일(ZIP)이 손상되었습니다. 다시 만들어 올려 주세요.") from exc
    return out_dir
