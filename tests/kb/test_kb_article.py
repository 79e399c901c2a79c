"""Validation at the edges: required fields, limits, intent codes, ids; text kept as written."""
from __future__ import annotations

import re

import pytest

from assist.config import AssistError
from assist.kb import ArticleError, check, render_markdown, validate
from assist.kb.markdown import parse_markdown
from assist.kb.taxonomy import INTENTS


def test_taxonomy_has_the_25_codes():
    assert len(INTENTS) == 25 and INTENTS["usim"] == "유심·eSIM" and "out_of_scope" in INTENTS


def test_valid_article_passes(article):
    assert validate(article) == ()


@pytest.mark.parametrize("field", ["title", "answer"])
@pytest.mark.parametrize("value", ["", "   \n"])
def test_empty_title_or_body_refused(make_article, store, field, value):
    with pytest.raises(ArticleError, match=f"{field} is empty"):
        store.add(make_article(**{field: value}), author="kim")
    assert store.count() == 0


def test_one_megabyte_body_refused_with_clear_message(make_article, store):
    huge = "가" * 1_000_000
    with pytest.raises(ArticleError) as caught:
        store.add(make_article(answer=huge), author="kim")
    message = str(caught.value)
    assert "answer has 1000000 characters, the limit is 2000" in message
    assert re.search(r"body has 10000\d\d characters, the limit is 20000", message)
    with pytest.raises(ArticleError, match=r"body has 250\d\d characters, the limit is 20000"):
        check(make_article(steps=("나" * 1000,) * 25))
    assert store.count() == 0


def test_title_limit_and_one_line(make_article):
    assert "title has 121 characters, the limit is 120" in validate(make_article(title="가" * 121))
    assert "title must be one line" in validate(make_article(title="두\n줄"))


def test_unknown_intent_codes_are_named(make_article):
    problems = validate(make_article(intents=("billing", "refund", "cancel")))
    assert any("'billing', 'cancel'" in p for p in problems)
    assert "intents is empty: name at least one intent code" in validate(make_article(intents=()))


@pytest.mark.parametrize("bad_id", ["Bad ID", "", "-x", "a/b", "x" * 81])
def test_bad_ids_refused(make_article, bad_id):
    assert any("must be 1-80 lowercase" in p for p in validate(make_article(bad_id)))


def test_article_error_is_an_assist_error():
    assert issubclass(ArticleError, AssistError)


def test_html_dangerous_text_is_stored_as_written(make_article, store):
    nasty = '<script>alert("x")</script> & <b>굵게</b> \'따옴표\' {{템플릿}}'
    saved = store.add(make_article(title=nasty[:100], answer=nasty, steps=(nasty,), tags=("<i>",)),
                      author="<img src=x onerror=alert(1)>")
    again = store.require(saved.id)
    assert again.answer == nasty and again.steps == (nasty,) and again.title == nasty[:100]
    assert again.tags == ("<i>",) and again.author == "<img src=x onerror=alert(1)>"
    assert store.history(saved.id)[0].article.answer == nasty


def test_markdown_round_trip_keeps_odd_text(make_article):
    article = make_article(title='제목: "따옴표" [괄호] #해시', tags=("a, b", "5G", "yes", "- x"),
                           steps=("첫 줄\n둘째 줄", "<b>굵게</b>"), related=("usim-01",))
    parsed, problems = parse_markdown(render_markdown(article), "x.md")
    assert problems == [] and parsed == article


def test_questions_round_trip_and_are_optional(make_article):
    asked = ("요금이 왜 이렇게 많이 나왔어요?", '콜론: 뒤에 "따옴표"', "- 대시로 시작", "#해시 [괄호]", "yes")
    article = make_article(questions=asked)
    text = render_markdown(article)
    assert "questions:\n  - 요금이 왜 이렇게 많이 나왔어요?\n" in text
    parsed, problems = parse_markdown(text, "x.md")
    assert problems == [] and parsed == article and parsed.questions == asked
    plain = make_article()
    assert "questions" not in render_markdown(plain)  # articles without questions render as before
    assert parse_markdown(render_markdown(plain), "x.md")[0].questions == ()
    flow = render_markdown(plain).replace("related: []", "related: []\nquestions: [하나, 둘]")
    assert parse_markdown(flow, "x.md")[0].questions == ("하나", "둘")


def test_question_limits(make_article):
    assert validate(make_article(questions=("짧은 질문",) * 1)) == ()
    too_long = validate(make_article(questions=("가" * 151,)))
    assert any("has 151 characters, the limit is 150" in p for p in too_long), too_long
    assert "questions has 21 items, the limit is 20" in validate(
        make_article(questions=tuple(f"질문 {i}" for i in range(21))))
    assert any("line break" in p for p in validate(make_article(questions=("두\n줄",))))
    assert any("same question twice" in p for p in validate(make_article(questions=("같은 말", "같은  말"))))
    assert any("empty or non-text item" in p for p in validate(make_article(questions=(" ",))))


def test_questions_of_the_wrong_type_point_at_their_line(make_article):
    text = render_markdown(make_article()).replace("related: []", "related: []\nquestions: 그냥 문장")
    _, problems = parse_markdown(text, "x.md")
    assert any(p.line == 7 and "questions must be a list" in p.message for p in problems), problems
