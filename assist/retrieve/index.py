"""Dense article index: FAISS IndexIDMap (exact inner product, or HNSW above a size), updated
in place on every edit and persisted atomically with a manifest.

Vectors are keyed by (article id, version), so an HNSW graph, which cannot delete, simply
leaves an old version's vector behind as a tombstone that search skips. The manifest names the
encoder fingerprint, each article's version and the index file's checksum; on start, anything
that does not match (a kill mid-write, a truncated file, edits made while the index was not
running, another encoder) makes the caller rebuild instead of serving stale answers.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from assist.config import RetrieveOptions

__all__ = ["VectorIndex", "article_key", "load_index", "save_index", "INDEX_FILE", "MANIFEST_FILE"]

log = logging.getLogger(__name__)
INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
FORMAT = 1


def article_key(article_id: str, version: int) -> int:
    """Stable non-negative int64 FAISS id for one version of one article."""
    digest = hashlib.blake2b(f"{article_id}\0{version}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class VectorIndex:
    """Article vectors by (id, version); ``kind`` is 'flat' (exact) or 'hnsw' (approximate)."""

    def __init__(self, dim: int, kind: str, opts: RetrieveOptions,
                 index: faiss.Index | None = None) -> None:
        # One query at a time gains nothing from OpenMP threads, and waking them cost about
        # 8 ms per search on a 2-core machine (see `assist bench retrieval`).
        faiss.omp_set_num_threads(1)
        self.dim, self.kind, self.opts = dim, kind, opts
        self.index = index if index is not None else _new_index(dim, kind, opts)
        if kind == "hnsw":
            faiss.downcast_index(self.index.index).hnsw.efSearch = opts.hnsw_ef_search
        self.versions: dict[str, int] = {}
        self._owner: dict[int, str] = {}  # live key -> article id

    @classmethod
    def build(cls, ids: list[str], versions: list[int], vectors: np.ndarray,
              opts: RetrieveOptions, dim: int, kind: str | None = None) -> VectorIndex:
        kind = kind or ("hnsw" if len(ids) > opts.approximate_above else "flat")
        made = cls(dim, kind, opts)
        made.add(ids, versions, vectors)
        return made

    def __len__(self) -> int:
        return len(self.versions)

    @property
    def tombstones(self) -> int:
        return int(self.index.ntotal) - len(self._owner)

    def add(self, ids: list[str], versions: list[int], vectors: np.ndarray) -> None:
        """Insert or replace articles (a replaced version is removed or tombstoned)."""
        self.remove([i for i in ids if i in self.versions])
        keys = np.array([article_key(i, v) for i, v in zip(ids, versions)], dtype=np.int64)
        if len(keys):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), keys)
        for article_id, version, key in zip(ids, versions, keys.tolist()):
            self.versions[article_id] = version
            self._owner[key] = article_id

    def remove(self, ids: list[str]) -> None:
        keys = [article_key(i, self.versions.pop(i)) for i in ids if i in self.versions]
        for key in keys:
            self._owner.pop(key, None)
        if keys and self.kind == "flat":
            self.index.remove_ids(np.array(keys, dtype=np.int64))
        elif self.tombstones > max(256, len(self._owner) // 5):
            self._compact()

    def _compact(self) -> None:
        """Rebuild the HNSW graph without tombstones (it cannot delete in place)."""
        keys = faiss.vector_to_array(self.index.id_map)
        vectors = self.index.index.reconstruct_n(0, self.index.ntotal)
        live = np.array([k in self._owner for k in keys.tolist()], dtype=bool)
        self.index = _new_index(self.dim, self.kind, self.opts)
        self.index.add_with_ids(vectors[live], keys[live])

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Best ``k`` live articles for one query vector, with inner-product scores."""
        if not self._owner or k <= 0:
            return []
        fetch = min(int(self.index.ntotal), k + self.tombstones)
        scores, keys = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), fetch)
        hits = [(self._owner[key], float(score)) for key, score in zip(keys[0].tolist(), scores[0].tolist())
                if key in self._owner]
        return hits[:k]

    def check(self) -> str | None:
        """Why this index does not hold exactly its live keys (None when it does)."""
        stored = set(faiss.vector_to_array(self.index.id_map).tolist())
        missing = [key for key in self._owner if key not in stored]
        if missing:
            return f"{len(missing)} article vectors are missing from the index file"
        if self.index.d != self.dim:
            return f"index has dimension {self.index.d}, expected {self.dim}"
        return None


def _new_index(dim: int, kind: str, opts: RetrieveOptions) -> faiss.Index:
    if kind == "flat":
        inner = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, opts.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = opts.hnsw_ef_construction
        inner.hnsw.efSearch = opts.hnsw_ef_search
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    return faiss.IndexIDMap(inner)


# persistence -----------------------------------------------------------------------------

@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialize index writers and loaders across processes (released if a process dies)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def save_index(folder: Path, index: VectorIndex, fingerprint: str) -> None:
    """Write the index file, then the manifest naming its checksum; each replaced atomically."""
    data = faiss.serialize_index(index.index).tobytes()
    manifest = {
        "format": FORMAT, "fingerprint": fingerprint, "dim": index.dim, "kind": index.kind,
        "index_file": INDEX_FILE, "index_bytes": len(data),
        "index_sha256": hashlib.sha256(data).hexdigest(), "articles": dict(sorted(index.versions.items())),
    }
    with _locked(folder):
        _write_atomic(folder / INDEX_FILE, data)
        _write_atomic(folder / MANIFEST_FILE, json.dumps(manifest, ensure_ascii=False).encode())
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_index(folder: Path, opts: RetrieveOptions, fingerprint: str, dim: int,
               expected: dict[str, int]) -> tuple[VectorIndex | None, str]:
    """The saved index if it is whole and matches ``expected`` {id: version}; else (None, why)."""
    with _locked(folder):
        leftovers = sorted(folder.glob(".*.tmp-*"))
        for temp in leftovers:
            temp.unlink(missing_ok=True)
        if leftovers:
            return None, f"an earlier write was interrupted ({leftovers[0].name} left behind)"
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text("utf-8"))
            data = (folder / INDEX_FILE).read_bytes()
        except (OSError, ValueError) as exc:
            return None, f"index files missing or unreadable ({exc.__class__.__name__})"
    why = _manifest_mismatch(manifest, data, opts, fingerprint, dim, expected)
    if why:
        return None, why
    try:
        raw = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        return None, f"index file is corrupt ({str(exc).splitlines()[0][:80]})"
    index = VectorIndex(dim, manifest["kind"], opts, index=raw)
    index.versions = dict(expected)
    index._owner = {article_key(i, v): i for i, v in expected.items()}
    problem = index.check()
    return (None, problem) if problem else (index, "")


def _manifest_mismatch(manifest: object, data: bytes, opts: RetrieveOptions, fingerprint: str,
                       dim: int, expected: dict[str, int]) -> str | None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return "manifest has an unknown format"
    if manifest.get("fingerprint") != fingerprint or manifest.get("dim") != dim:
        return "index was built with another encoder"
    if manifest.get("index_bytes") != len(data) or \
            manifest.get("index_sha256") != hashlib.sha256(data).hexdigest():
        return "index file does not match its manifest (truncated or half-written)"
    if manifest.get("articles") != expected:
        return "index does not match the KB (articles changed since it was saved)"
    wanted_kind = "hnsw" if len(expected) > opts.approximate_above else "flat"
    if manifest.get("kind") != wanted_kind:
        return f"KB size now calls for a {wanted_kind} index"
    return None
