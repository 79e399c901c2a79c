"""Dense index: incremental updates, atomic persistence, automatic rebuild after a crash."""
from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import replace

import numpy as np
import pytest

from assist.config import RetrieveOptions
from assist.kb import open_store
from assist.retrieve import Searcher, VectorIndex, article_key, load_index, save_index
from assist.retrieve.index import INDEX_FILE, MANIFEST_FILE


def _unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_keys_are_stable_and_per_version():
    assert article_key("usim-01", 1) == article_key("usim-01", 1) != article_key("usim-01", 2)
    assert 0 <= article_key("x", 1) < 2**63


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_incremental_replace_and_remove(kind):
    vectors = _unit(50)
    index = VectorIndex.build([f"a{i}" for i in range(50)], [1] * 50, vectors, RetrieveOptions(), 16, kind)
    assert index.search(vectors[7], 1)[0][0] == "a7"
    index.add(["a7"], [2], vectors[8:9])         # a7 edited: now looks like a8
    assert {hit[0] for hit in index.search(vectors[8], 2)} == {"a7", "a8"}
    assert all(hit[0] != "a7" or hit[1] > 0.99 for hit in index.search(vectors[7], 3))
    index.remove(["a8"])
    assert "a8" not in [hit[0] for hit in index.search(vectors[8], 50)] and len(index) == 49
    assert index.tombstones == (2 if kind == "hnsw" else 0)


def test_hnsw_compacts_tombstones():
    vectors = _unit(600)
    ids = [f"a{i}" for i in range(600)]
    index = VectorIndex.build(ids, [1] * 600, vectors, RetrieveOptions(), 16, "hnsw")
    index.remove(ids[:300])
    assert index.tombstones == 0 and len(index) == 300  # compacted once tombstones piled up
    assert index.search(vectors[400], 1)[0][0] == "a400"


def test_size_picks_flat_or_hnsw():
    opts = RetrieveOptions(approximate_above=20)
    assert VectorIndex.build(["a"] * 0, [], _unit(0), opts, 16).kind == "flat"
    assert VectorIndex.build([f"a{i}" for i in range(21)], [1] * 21, _unit(21), opts, 16).kind == "hnsw"


def test_save_load_round_trip_and_mismatch(tmp_path):
    index = VectorIndex.build(["a", "b"], [1, 3], _unit(2), RetrieveOptions(), 16)
    save_index(tmp_path, index, "fp")
    loaded, why = load_index(tmp_path, RetrieveOptions(), "fp", 16, {"a": 1, "b": 3})
    assert why == "" and loaded.search(_unit(2)[1], 1)[0][0] == "b"
    assert "another encoder" in load_index(tmp_path, RetrieveOptions(), "other", 16, {"a": 1, "b": 3})[1]
    assert "articles changed" in load_index(tmp_path, RetrieveOptions(), "fp", 16, {"a": 1, "b": 4})[1]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_article_scores_by_its_best_vector(kind, tmp_path):
    vectors = _unit(30)
    groups = [vectors[0:1], vectors[1:4], vectors[4:5]] + [vectors[i:i + 1] for i in range(5, 30)]
    ids = ["a", "b", "c"] + [f"x{i}" for i in range(5, 30)]
    opts = RetrieveOptions(approximate_above=10 if kind == "hnsw" else 20000)
    index = VectorIndex.build(ids, [1] * len(ids), groups, opts, 16)
    assert index.kind == kind and index.slots["b"] == 3 and len(index) == 28
    for row in (1, 2, 3):  # any of b's vectors finds b, once, with that vector's score
        hits = index.search(vectors[row], 5)
        assert hits[0][0] == "b" and hits[0][1] > 0.99 and [h[0] for h in hits].count("b") == 1
    assert len({h[0] for h in index.search(vectors[2], 28)}) == 28  # k distinct articles
    index.add(["b"], [2], [vectors[1:2]])  # b edited down to one vector
    assert index.search(vectors[3], 1)[0][0] != "b" and index.slots["b"] == 1
    index.add(["b"], [3], [vectors[1:4]])
    save_index(tmp_path, index, "fp", "recipe-1")
    expected = dict(index.versions)
    loaded, why = load_index(tmp_path, opts, "fp", 16, expected, "recipe-1")
    assert why == "" and loaded.slots["b"] == 3 and loaded.search(vectors[3], 1)[0][0] == "b"
    loaded.remove(["b"])
    assert all(h[0] != "b" for h in loaded.search(vectors[2], 28))
    assert "other retrieval settings" in load_index(tmp_path, opts, "fp", 16, expected, "recipe-2")[1]


def _die_mid_save(folder: str) -> None:
    """Child process: killed right after writing the temp index file, before the rename."""
    os.replace = lambda *args: os._exit(9)
    index = VectorIndex.build(["a"], [1], _unit(1), RetrieveOptions(), 16)
    save_index(__import__("pathlib").Path(folder), index, "fp")


def _assert_rebuilds(settings, encoder, reason: str) -> Searcher:
    searcher = Searcher.open(settings, encoder=encoder)
    assert reason in searcher.rebuilt_because
    expected = {a.id: a.version for a in searcher.store.articles()}
    loaded, why = load_index(settings.data_path / "index", settings.retrieve, encoder.fingerprint,
                             encoder.dim, expected, searcher.recipe)
    assert loaded is not None and why == ""  # the rebuilt index was saved whole
    assert "usim" in searcher.search("유심을 새로 발급받고 싶어요", 3)[0].intents
    searcher.store.close()
    return searcher


def test_killed_mid_write_leaves_temp_file_and_next_start_rebuilds(kb_settings, encoder):
    folder = kb_settings.data_path / "index"
    child = multiprocessing.get_context("fork").Process(target=_die_mid_save, args=(str(folder),))
    child.start()
    child.join(60)
    assert child.exitcode == 9 and list(folder.glob(".*.tmp-*"))
    _assert_rebuilds(kb_settings, encoder, "interrupted")
    assert not list(folder.glob(".*.tmp-*"))


def test_truncated_index_file_rebuilds(kb_settings, encoder):
    path = kb_settings.data_path / "index" / INDEX_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _assert_rebuilds(kb_settings, encoder, "truncated or half-written")


@pytest.mark.parametrize("damage,reason", [
    (lambda p: p.write_text("{not json", "utf-8"), "unreadable"),
    (lambda p: p.unlink(), "missing"),
    (lambda p: p.write_text(json.dumps({**json.loads(p.read_text("utf-8")), "fingerprint": "x"}), "utf-8"),
     "another encoder"),
])
def test_bad_manifest_rebuilds(kb_settings, encoder, damage, reason):
    damage(kb_settings.data_path / "index" / MANIFEST_FILE)
    _assert_rebuilds(kb_settings, encoder, reason)


def test_edits_made_while_down_rebuild(kb_settings, encoder):
    with open_store(kb_settings) as store:
        usim = store.require("usim-01")
        store.edit(replace(usim, title=usim.title + " 안내"), usim.version, author="kim")
    _assert_rebuilds(kb_settings, encoder, "articles changed")


def test_changed_question_settings_rebuild(kb_settings, encoder, settings_at):
    changed = settings_at(kb_settings.root, question_weight=0.9)
    _assert_rebuilds(changed, encoder, "other retrieval settings")


def test_second_start_loads_without_rebuilding(kb_settings, encoder, settings_at):
    searcher = Searcher.open(kb_settings, encoder=encoder)
    assert searcher.rebuilt_because == "" and len(searcher) >= 100
    assert searcher.index_kind == "flat"
    searcher.store.close()
    hnsw = settings_at(kb_settings.root, approximate_above=10)
    assert _assert_rebuilds(hnsw, encoder, "hnsw").index_kind == "hnsw"
