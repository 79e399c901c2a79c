"""Dense article index: FAISS IndexIDMap (exact inner product, or HNSW above a size), updated
in place on every edit and persisted atomically with a manifest.

An article has one or more vectors (the article text, then one per example question); its
score is the best of them. Vectors are keyed by (article id, version, slot), so an HNSW graph,
which cannot delete, simply leaves an old version's vectors behind as tombstones that search
skips. The manifest names the encoder fingerprint, how the vectors were made (``recipe``), each
article's version and vector count, and the index file's checksum; on start, anything that
does not match (a kill mid-write, a truncated file, edits made while the index was not running,
another encoder or other settings) makes the caller rebuild instead of serving stale answers.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from assist.config import RetrieveOptions

__all__ = ["VectorIndex", "article_key", "load_index", "save_index", "INDEX_FILE", "MANIFEST_FILE"]

log = logging.getLogger(__name__)
INDEX_FILE = "vectors.faiss"
MANIFEST_FILE = "manifest.json"
FORMAT = 2  # 2: several vectors per article ("slots") and the recipe in the manifest


def article_key(article_id: str, version: int, slot: int = 0) -> int:
    """Stable non-negative int64 FAISS id for one vector of one version of one article."""
    text = f"{article_id}\0{version}" if slot == 0 else f"{article_id}\0{version}\0{slot}"
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _groups(vectors: np.ndarray | Sequence[np.ndarray], n: int, dim: int) -> list[np.ndarray]:
    """Per article, its (slots, dim) vectors: a 2-d array gives one row each, a list its items."""
    if isinstance(vectors, np.ndarray) and vectors.ndim == 2:
        if len(vectors) != n:
            raise ValueError(f"{len(vectors)} vectors for {n} articles")
        return [vectors[i:i + 1] for i in range(n)]
    groups = [np.asarray(group, dtype=np.float32).reshape(-1, dim) for group in vectors]
    if len(groups) != n:
        raise ValueError(f"{len(groups)} vector groups for {n} articles")
    return groups


class VectorIndex:
    """Article vectors by (id, version, slot); ``kind`` is 'flat' (exact) or 'hnsw' (approximate)."""

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
        self.slots: dict[str, int] = {}  # article id -> how many vectors it has
        self._owner: dict[int, str] = {}  # live key -> article id
        self._most = 1  # the most vectors any article has had (how deep a search must look)

    @classmethod
    def build(cls, ids: list[str], versions: list[int], vectors: np.ndarray | Sequence[np.ndarray],
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

    def add(self, ids: list[str], versions: list[int],
            vectors: np.ndarray | Sequence[np.ndarray]) -> None:
        """Insert or replace articles (a replaced version is removed or tombstoned).

        ``vectors``: one row per article, or per article a (slots, dim) array of its vectors.
        """
        groups = _groups(vectors, len(ids), self.dim)
        self.remove([i for i in ids if i in self.versions])
        keys, rows = [], []
        for article_id, version, group in zip(ids, versions, groups):
            keys += [article_key(article_id, version, slot) for slot in range(len(group))]
            rows.append(group)
        if keys:
            self.index.add_with_ids(np.ascontiguousarray(np.concatenate(rows), dtype=np.float32),
                                    np.array(keys, dtype=np.int64))
        start = 0
        for article_id, version, group in zip(ids, versions, groups):
            self.versions[article_id] = version
            self.slots[article_id] = len(group)
            self._most = max(self._most, len(group))
            for key in keys[start:start + len(group)]:
                self._owner[key] = article_id
            start += len(group)

    def remove(self, ids: list[str]) -> None:
        keys = []
        for article_id in ids:
            if article_id in self.versions:
                version, count = self.versions.pop(article_id), self.slots.pop(article_id, 1)
                keys += [article_key(article_id, version, slot) for slot in range(count)]
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
        """Best ``k`` live articles for one query vector, each scored by its best vector."""
        if not self._owner or k <= 0:
            return []
        fetch = min(int(self.index.ntotal), k * self._most + self.tombstones)
        scores, keys = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), fetch)
        best: dict[str, float] = {}
        for key, score in zip(keys[0].tolist(), scores[0].tolist()):
            owner = self._owner.get(key)
            if owner is not None and owner not in best:  # results come best first
                best[owner] = float(score)
        return list(best.items())[:k]

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


def save_index(folder: Path, index: VectorIndex, fingerprint: str, recipe: str = "") -> None:
    """Write the index file, then the manifest naming its checksum; each replaced atomically.

    ``recipe`` says how the vectors were made (settings that change them); ``slots`` lists the
    articles with other than one vector.
    """
    data = faiss.serialize_index(index.index).tobytes()
    manifest = {
        "format": FORMAT, "fingerprint": fingerprint, "recipe": recipe, "dim": index.dim,
        "kind": index.kind, "index_file": INDEX_FILE, "index_bytes": len(data),
        "index_sha256": hashlib.sha256(data).hexdigest(), "articles": dict(sorted(index.versions.items())),
        "slots": {i: n for i, n in sorted(index.slots.items()) if n != 1},
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
               expected: dict[str, int], recipe: str = "") -> tuple[VectorIndex | None, str]:
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
    why = _manifest_mismatch(manifest, data, opts, fingerprint, dim, expected, recipe)
    if why:
        return None, why
    try:
        raw = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        return None, f"index file is corrupt ({str(exc).splitlines()[0][:80]})"
    index = VectorIndex(dim, manifest["kind"], opts, index=raw)
    index.versions = dict(expected)
    index.slots = {i: int(manifest["slots"].get(i, 1)) for i in expected}
    index._owner = {article_key(i, v, slot): i for i, v in expected.items()
                    for slot in range(index.slots[i])}
    index._most = max(index.slots.values(), default=1)
    problem = index.check()
    return (None, problem) if problem else (index, "")


def _manifest_mismatch(manifest: object, data: bytes, opts: RetrieveOptions, fingerprint: str,
                       dim: int, expected: dict[str, int], recipe: str) -> str | None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return "manifest has an unknown format"
    slots = manifest.get("slots")
    if not isinstance(slots, dict) or not all(isinstance(n, int) and n >= 0 for n in slots.values()):
        return "manifest has an unknown format"
    if manifest.get("fingerprint") != fingerprint or manifest.get("dim") != dim:
        return "index was built with another encoder"
    if manifest.get("recipe") != recipe:
        return "index was built with other retrieval settings"
    if manifest.get("index_bytes") != len(data) or \
            manifest.get("index_sha256") != hashlib.sha256(data).hexdigest():
        return "index file does not match its manifest (truncated or half-written)"
    if manifest.get("articles") != expected:
        return "index does not match the KB (articles changed since it was saved)"
    wanted_kind = "hnsw" if len(expected) > opts.approximate_above else "flat"
    if manifest.get("kind") != wanted_kind:
        return f"KB size now calls for a {wanted_kind} index"
    return None
