"""KB fixtures: a real SQLite store in a temp dir and small valid articles."""
from __future__ import annotations

from pathlib import Path

import pytest

from assist.config import Settings
from assist.kb import Article, KbStore, open_store


def make_article(article_id: str = "billing_inquiry-90", **changes) -> Article:
    values = dict(id=article_id, title="요금 납부일 확인", intents=("billing_inquiry",),
                  tags=("납부일", "요금"), answer="요금은 매월 25일에 출금됩니다.",
                  steps=("본인 확인을 합니다.", "납부일을 안내합니다."), related=())
    values.update(changes)
    return Article(**values)


@pytest.fixture
def store(tmp_settings: Settings) -> KbStore:
    with open_store(tmp_settings) as opened:
        yield opened


@pytest.fixture
def article() -> Article:
    return make_article()


@pytest.fixture(name="make_article")
def make_article_fixture():
    """The article factory: ``make_article(id, **field_changes)``."""
    return make_article


REPO_KB = Path(__file__).resolve().parents[2] / "kb"


@pytest.fixture(scope="session")
def encoder():
    """The repo's real encoder (models/e5-small-ko), loaded once."""
    from assist.nlu.encoder import load_encoder

    return load_encoder(REPO_KB.parent / "models" / "e5-small-ko")
