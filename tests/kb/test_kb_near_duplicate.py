"""Near-duplicate warning: a new or edited article too close to another one is flagged."""
from __future__ import annotations


from assist.kb import article_vectors, near_duplicates


def test_near_duplicate_is_flagged_and_distinct_is_not(make_article, store, encoder):
    original = make_article("billing_inquiry-90", title="이번 달 청구 금액과 납부일 확인",
                            answer="이번 달 청구 금액은 지난달 사용 요금의 합계이고, 요금은 매월 25일에 출금됩니다.")
    other = make_article("roaming-90", intents=("roaming",), title="해외 로밍 요금제 추천",
                         tags=("로밍",), answer="여행 기간과 데이터 사용량에 맞춰 로밍 요금제를 추천해 드립니다.",
                         steps=("출국 날짜와 국가를 확인합니다.",))
    store.import_articles([original, other], author="kim")
    copy = make_article("billing_inquiry-91", title="이번 달 청구 금액과 납부일 확인!",
                        answer="이번 달 청구 금액은 지난달 사용 요금의 합계이고, 요금은 매월 25일에 출금됩니다.")
    found = near_duplicates(store, encoder, copy, 0.95)
    assert [d.article_id for d in found] == ["billing_inquiry-90"] and found[0].cosine > 0.95
    assert "billing_inquiry-90" in str(found[0])
    distinct = make_article("usim-90", intents=("usim",), title="유심 재발급", tags=("유심",),
                            answer="유심을 잃어버리셨다면 가까운 매장에서 신분증으로 재발급받으실 수 있습니다.",
                            steps=("신분증을 확인합니다.",))
    assert near_duplicates(store, encoder, distinct, 0.95) == ()


def test_vectors_are_cached_per_version(make_article, store, encoder, monkeypatch):
    saved = store.add(make_article(), author="kim")
    first = article_vectors(store, encoder, [saved])
    monkeypatch.setattr(encoder, "encode_passages", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert (article_vectors(store, encoder, [saved]) == first).all()  # no second encoding
