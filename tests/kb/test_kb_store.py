"""SQLite store: versions, history, diff, revert, soft delete, restore, optimistic concurrency."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from assist.kb import KbConflict, KbDeleted, KbError, KbExists, KbNotFound, KbStore


def test_every_change_is_a_version_with_author_time_and_note(store, article):
    v1 = store.add(article, author="kim", note="first")
    v2 = store.edit(replace(v1, answer="요금은 매월 15일에 출금됩니다."), 1, author="lee", note="fix date")
    store.delete(article.id, author="park", note="outdated")
    store.restore(article.id, author="kim", note="still needed")
    history = store.history(article.id)
    assert [(v.version, v.action, v.author, v.note) for v in history] == [
        (1, "create", "kim", "first"), (2, "edit", "lee", "fix date"),
        (3, "delete", "park", "outdated"), (4, "restore", "kim", "still needed")]
    assert all(v.at for v in history) and history[1].article.answer == v2.answer
    current = store.require(article.id)
    assert (current.version, current.deleted, current.author) == (4, False, "kim")


def test_diff_and_revert(store, article):
    store.add(article, author="kim")
    store.edit(replace(article, title="납부일 안내 (수정)"), 1, author="lee")
    diff = store.diff(article.id, 1, 2)
    assert "-title: 요금 납부일 확인" in diff and "+title: 납부일 안내 (수정)" in diff
    assert diff.startswith(f"--- {article.id} v1\n+++ {article.id} v2")
    assert store.diff(article.id, 2, 2) == ""
    reverted = store.revert(article.id, 1, author="kim")
    assert (reverted.version, reverted.title) == (3, article.title)
    assert store.history(article.id)[-1].note == "revert to version 1"
    assert store.revert(article.id, 1, author="kim").version == 3  # already there: no new version
    with pytest.raises(KbNotFound, match="has no version 9"):
        store.revert(article.id, 9, author="kim")


def test_questions_are_content_versioned_and_diffed(store, article):
    store.add(article, author="kim")
    asked = replace(article, questions=("요금 언제 나가요?", "납부일 바꿀 수 있어요?"))
    v2 = store.edit(asked, 1, author="lee", note="example questions")
    assert v2.version == 2 and store.require(article.id).questions == asked.questions
    assert store.edit(asked, 2, author="lee").version == 2  # same questions: no new version
    diff = store.diff(article.id, 1, 2)
    assert "+questions:\n+  - 요금 언제 나가요?\n+  - 납부일 바꿀 수 있어요?" in diff
    assert store.version(article.id, 1).article.questions == ()
    assert store.revert(article.id, 1, author="kim").questions == ()


def test_soft_delete_hides_but_keeps(store, article):
    store.add(article, author="kim")
    store.delete(article.id, author="kim")
    assert store.articles() == [] and store.count() == 1
    assert store.articles(include_deleted=True)[0].deleted
    with pytest.raises(KbDeleted, match="already|deleted"):
        store.delete(article.id, author="kim")
    store.restore(article.id, author="kim")
    with pytest.raises(KbError, match="is not deleted"):
        store.restore(article.id, author="kim")


def test_edit_of_deleted_article_refused(store, article):
    store.add(article, author="kim")
    store.delete(article.id, author="kim")
    with pytest.raises(KbDeleted, match=r"Cannot edit article 'billing_inquiry-90': it was deleted "
                                        r"\(version 2\); restore it first"):
        store.edit(replace(article, title="새 제목"), 2, author="lee")
    assert store.require(article.id).title == article.title


def test_duplicate_id_and_missing_article(make_article, store, article):
    store.add(article, author="kim")
    with pytest.raises(KbExists, match="already used"):
        store.add(article, author="lee")
    with pytest.raises(KbNotFound, match="No article with id 'nope'"):
        store.edit(make_article("nope"), 1, author="kim")


def test_stale_edit_from_second_session_gets_conflict(tmp_settings, article):
    path = tmp_settings.data_path / "kb.sqlite3"
    with KbStore(path) as first, KbStore(path) as second:
        first.add(article, author="kim")
        mine = first.require(article.id)      # editor A loads v1
        theirs = second.require(article.id)   # editor B loads v1
        second.edit(replace(theirs, answer="B의 수정"), theirs.version, author="lee")
        with pytest.raises(KbConflict) as caught:
            first.edit(replace(mine, answer="A의 수정"), mine.version, author="kim")
        assert (caught.value.base_version, caught.value.current_version) == (1, 2)
        assert "changed to version 2 by lee" in str(caught.value) and "loaded version 1" in str(caught.value)
        assert first.require(article.id).answer == "B의 수정"  # the committed edit survived


def test_failed_import_writes_nothing(make_article, store, article, monkeypatch):
    import assist.kb.store as store_module

    store.add(article, author="kim")
    real = store_module._import_one
    calls = []

    def failing(db, item, author, note):
        calls.append(item.id)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(db, item, author, note)

    monkeypatch.setattr(store_module, "_import_one", failing)
    batch = [replace(article, answer="바뀐 답변")] + [make_article(f"refund-9{i}") for i in range(3)]
    with pytest.raises(RuntimeError):
        store.import_articles(batch, author="kim")
    assert store.count() == 1 and store.require(article.id).version == 1


WRITER = textwrap.dedent("""
    import sys
    from assist.kb import Article, KbStore, KbConflict
    path, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = KbStore(path)
    for i in range(n):
        store.add(Article(id=f"{prefix}-{i}", title=f"제목 {i}", intents=("refund",), tags=(),
                          answer=f"{prefix} 답변 {i}"), author=prefix)
        while True:  # everyone also edits one shared article; retry on conflict like an editor
            shared = store.require("shared")
            try:
                store.edit(Article(**{**shared.content(), "intents": ("refund",), "tags": (),
                                   "steps": (), "related": (),
                                   "answer": shared.answer + f" {prefix}{i}"}),
                           shared.version, author=prefix)
                break
            except KbConflict:
                continue
""")


def test_two_processes_writing_lose_no_committed_edit(make_article, tmp_settings):
    path = tmp_settings.data_path / "kb.sqlite3"
    with KbStore(path) as store:
        store.add(make_article("shared", answer="시작"), author="kim")
    n = 15
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(n)],
                              stderr=subprocess.PIPE, text=True) for name in ("alpha", "beta")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    with KbStore(path) as store:
        ids = {a.id for a in store.articles()}
        assert {f"{p}-{i}" for p in ("alpha", "beta") for i in range(n)} <= ids
        shared = store.require("shared")
        assert shared.version == 1 + 2 * n
        for prefix in ("alpha", "beta"):
            for i in range(n):
                assert f" {prefix}{i}" in shared.answer  # no edit overwritten
        assert [v.version for v in store.history("shared")] == list(range(1, 2 * n + 2))


def test_not_a_database_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "kb.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(KbError, match="Cannot open the KB"):
        KbStore(bad)
