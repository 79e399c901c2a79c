"""Import/export of the kb/ folder, JSONL and CSV: all or nothing, every problem with its line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.kb import (KbImportError, export_articles, import_path, load_scripts, read_articles,
                       render_markdown, seed_from_folder)
from assist.kb.scripts import ScriptError
from assist.kb.store import open_store


REPO_KB = Path(__file__).resolve().parents[2] / "kb"


def _folder(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    folder = tmp_path / "import" / "articles"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return folder.parent


def test_folder_import_lists_every_problem_and_writes_nothing(make_article, store, tmp_path):
    good = render_markdown(make_article("refund-90"))
    bad_utf8 = render_markdown(make_article("refund-91")).encode("utf-8").replace(
        "요금은".encode(), b"\xff\xfe")
    unknown = render_markdown(make_article("refund-92", intents=("refund", "refnud")))
    empty = render_markdown(make_article("refund-93", title="x")).replace("title: x", "title: ''")
    huge = render_markdown(make_article("refund-94", answer="가" * 1_000_000))
    wrong_id = render_markdown(make_article("refund-90"))  # same id as the good file
    source = _folder(tmp_path, {"refund-90.md": good, "refund-91.md": bad_utf8, "refund-92.md": unknown,
                                "refund-93.md": empty, "refund-94.md": huge, "refund-95.md": wrong_id})
    with pytest.raises(KbImportError) as caught:
        import_path(store, source, author="kim")
    problems = caught.value.problems
    text = "\n".join(problems)
    assert "Nothing was imported" in str(caught.value)
    assert any(p.endswith("refund-91.md:9: invalid UTF-8: byte 0xff at column 1; save the file as UTF-8")
               for p in problems), text
    assert any("refund-92.md:4: unknown intent code(s) 'refnud'" in p for p in problems), text
    assert any("refund-93.md:3: title is empty" in p for p in problems), text
    assert any("refund-94.md:8: answer has 1000000 characters" in p for p in problems), text
    assert any("refund-95.md:2: id 'refund-90' does not match the file name" in p for p in problems), text
    assert any("refund-95.md:2: duplicate id 'refund-90' (first at" in p for p in problems), text
    assert store.count() == 0


def test_jsonl_problems_with_line_numbers(make_article, store, tmp_path):
    rows = [json.dumps(make_article("usim-90").content(), ensure_ascii=False).encode(),
            b'{"id": "usim-91", "title": broken json',
            json.dumps(make_article("usim-90").content(), ensure_ascii=False).encode(),
            json.dumps(make_article("usim-92", intents=["sim_card"]).content()).encode(),
            '{"id": "usim-93", "title": "\xff"}'.encode("latin-1"),
            json.dumps({**make_article("usim-94").content(), "colour": "red", "tags": "a"}).encode()]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    with pytest.raises(KbImportError) as caught:
        import_path(store, path, author="kim")
    text = "\n".join(caught.value.problems)
    assert f"{path}:2: invalid JSON" in text
    assert f"{path}:3: duplicate id 'usim-90' (first at {path}:1)" in text
    assert f"{path}:4: unknown intent code(s) 'sim_card'" in text
    assert f"{path}:5: invalid UTF-8" in text
    assert f"{path}:6: unknown field 'colour'" in text and f"{path}:6: tags must be a list" in text
    assert store.count() == 0


def test_csv_problems_point_at_the_record_line(store, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text('id,title,intents,tags,answer,steps,related\n'
                    'roaming-90,로밍 요금,roaming,로밍|해외,"여러 줄\n답변",첫 단계,\n'
                    'roaming-91,,roaming,,답변,,\n'
                    'roaming-92,로밍,roam,,답변,,\n', "utf-8")
    with pytest.raises(KbImportError) as caught:
        import_path(store, path, author="kim")
    text = "\n".join(caught.value.problems)
    assert f"{path}:4: title is empty" in text and f"{path}:5: unknown intent code(s) 'roam'" in text
    assert len(caught.value.problems) == 2 and store.count() == 0


@pytest.mark.parametrize("fmt,name", [("folder", "out"), ("jsonl", "out.jsonl"), ("csv", "out.csv")])
def test_export_import_round_trip(make_article, store, tmp_path, fmt, name):
    odd = make_article("complaint-90", title='따옴표 "하나" <b>굵게</b>', tags=("a|b?", "5G"),
                       answer="첫 줄\n둘째 줄 & <script>x</script>",
                       steps=("단계 하나\n  이어지는 줄", "쉼표, 그리고 \"따옴표\""), related=("refund-01",),
                       questions=("불만은 어디에 말해요?", '쉼표, "따옴표" | 파이프', "- 대시"))
    odd = odd if fmt != "csv" else odd.with_meta(tags=("a b?", "5G"))  # '|' separates CSV list items
    store.import_articles([odd, make_article("refund-90")], author="kim")
    export_articles(store.articles(), tmp_path / name, fmt)
    batch = read_articles(tmp_path / name, known_ids=["refund-01"])
    assert batch.problems == () and batch.warnings == ()
    assert [a.content() for a in batch.articles] == [a.content() for a in store.articles()]
    _, result = import_path(store, tmp_path / name, author="kim")
    assert len(result.unchanged) == 2 and not result.created


def test_too_long_question_is_refused_with_its_line_in_every_format(make_article, store, tmp_path):
    long_one = make_article("usim-90", questions=("유심을 바꾸고 싶어요", "가" * 151))
    folder = _folder(tmp_path, {"usim-90.md": render_markdown(long_one)})
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_text(json.dumps(make_article("usim-91").content(), ensure_ascii=False) + "\n"
                     + json.dumps(long_one.content(), ensure_ascii=False) + "\n", "utf-8")
    csv_path = tmp_path / "batch.csv"
    csv_path.write_text("id,title,intents,answer,questions\n"
                        f'usim-90,유심,usim,답변,"유심을 바꾸고 싶어요\n{"가" * 151}"\n', "utf-8")
    for source, where in ((folder, "usim-90.md:7:"), (jsonl, f"{jsonl}:2:"), (csv_path, f"{csv_path}:2:")):
        with pytest.raises(KbImportError) as caught:
            import_path(store, source, author="kim")
        text = "\n".join(caught.value.problems)
        assert where in text and "has 151 characters, the limit is 150" in text, text
    assert store.count() == 0
    short = make_article("usim-90", questions=("유심을 바꾸고 싶어요", "유심 비용은요?"))
    csv_path.write_text("id,title,intents,answer,questions\n"
                        'usim-90,유심,usim,답변,"유심을 바꾸고 싶어요\n유심 비용은요?"\n', "utf-8")
    assert read_articles(csv_path).articles[0].questions == short.questions


def test_import_is_all_or_nothing_and_updates_in_one_batch(make_article, store, tmp_path):
    store.add(make_article("refund-90"), author="kim")
    rows = [make_article("refund-90", answer="새 답변"), make_article("refund-91")]
    path = tmp_path / "ok.jsonl"
    path.write_text("".join(json.dumps(a.content(), ensure_ascii=False) + "\n" for a in rows), "utf-8")
    batch, result = import_path(store, path, author="lee", note="spring update")
    assert result.created == ("refund-91",) and result.updated == ("refund-90",)
    assert store.history("refund-90")[-1].note == "spring update"


def test_seed_from_folder_loads_the_shipped_kb_once(tmp_settings):
    shipped = sorted(p.stem for p in (REPO_KB / "articles").glob("*.md"))
    result = seed_from_folder(tmp_settings)
    assert sorted(result.created) == shipped and len(shipped) >= 100
    assert seed_from_folder(tmp_settings) is None
    with open_store(tmp_settings) as store:
        assert store.count() == len(shipped)
        assert all(v.author == "seed" for v in store.history(shipped[0]))


def test_shipped_scripts_load():
    book = load_scripts(REPO_KB / "scripts")
    assert {"greeting", "closing", "complaint_apology"} <= set(book.stages)
    assert book.lines("closing") and book.lines("no_such_stage") == ()
    assert all(script.purpose and script.lines for script in book.scripts)


def test_bad_script_reports_each_problem(tmp_path):
    (tmp_path / "greeting.yaml").write_text(
        'stage: greeting\nname: 인사\npurpose: p\nlines:\n  - "안녕하세요 {team}"\n  - "{nickname}님"\n'
        '  - ""\ncolour: red\n', "utf-8")
    (tmp_path / "closing.yaml").write_bytes(b"stage: closing\nname: \xff\n")
    with pytest.raises(ScriptError) as caught:
        load_scripts(tmp_path)
    text = "\n".join(caught.value.problems)
    assert "greeting.yaml:6: lines item 2 uses unknown placeholder(s) {nickname}" in text
    assert "greeting.yaml:7: lines item 3 is empty" in text
    assert "greeting.yaml:8: unknown key 'colour'" in text
    assert "closing.yaml:2: invalid UTF-8" in text
