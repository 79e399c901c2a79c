"""The top card holds while the customer answers questions and changes when the topic does."""
from __future__ import annotations

from assist.guide.events import ChecklistState, Suggestions
from assist.session.manager import SessionManager


def _cards(events) -> list[Suggestions]:
    return [e for e in events if isinstance(e, Suggestions)]


def test_answers_to_agent_questions_keep_the_card(deps, final):
    manager = SessionManager(deps)
    manager.start("h1")
    first = _cards(manager.handle(final("h1", "이번 달 요금이 왜 이렇게 많이 나왔는지 궁금해서요",
                                        segment="customer-0001")))
    assert first and first[0].replaced
    top = first[0].answers[0].article_id
    answers = ["네 김민지요 생년월일은 구공공삼일오요", "네 맞아요 그 번호예요", "잠깐만요 확인해 볼게요"]
    for n, text in enumerate(answers, start=2):
        for card in _cards(manager.handle(final("h1", text, segment=f"customer-{n:04d}", at=n * 5.0))):
            assert not card.replaced and card.answers[0].article_id == top, (text, card)
    manager.end("h1", save=False)


def test_a_confident_new_topic_replaces_the_card(deps, final):
    manager = SessionManager(deps)
    manager.start("h2")
    manager.handle(final("h2", "이번 달 요금이 왜 이렇게 많이 나왔는지 궁금해서요"))
    cards = _cards(manager.handle(final("h2", "그리고 다음 주에 일본 가는데 로밍은 어떻게 신청해요?",
                                        segment="customer-0002", at=10.0)))
    assert cards and cards[-1].replaced
    assert cards[-1].answers[0].article_id.startswith("roaming-")
    manager.end("h2", save=False)


def test_identity_check_is_required_only_for_account_work(deps, final):
    manager = SessionManager(deps)
    manager.start("h3")
    states = [e for e in manager.handle(final("h3", "여보세요? 잘 들리세요?"))
              if isinstance(e, ChecklistState)]
    assert all(dict(s.items)["identity_check"] is None for s in states)
    states = [e for e in manager.handle(final("h3", "제 휴대폰 요금제를 더 싼 걸로 바꾸고 싶어요",
                                              segment="customer-0002", at=10.0))
              if isinstance(e, ChecklistState)]
    assert states and dict(states[-1].items)["identity_check"] is False
    manager.end("h3", save=False)
