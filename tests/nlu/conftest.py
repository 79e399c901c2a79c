"""NLU fixtures: the real encoder (loaded once) and a tiny labeled set trained once."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.config import Settings

REPO = Path(__file__).resolve().parents[2]

TINY = {
    "refund": ["환불 언제 돼요", "이중으로 결제된 거 환불해 주세요", "환불 신청했는데 아직 안 들어왔어요",
               "과납된 요금 돌려받고 싶어요", "환불 처리 상태 알려주세요", "잘못 빠져나간 돈 환불 부탁해요"],
    "internet_outage": ["인터넷이 안 돼요", "와이파이가 자꾸 끊겨요", "공유기 불이 빨간색이에요",
                        "티비가 안 나와요", "인터넷 속도가 너무 느려요", "셋톱박스가 먹통이에요"],
    "usim": ["유심 재발급 받고 싶어요", "유심을 잃어버렸어요", "이심 개통하려고요",
             "유심 잠금 풀어 주세요", "유심 교체하려면 어디 가요", "새 유심 배송 언제 와요"],
}


@pytest.fixture(scope="session")
def nlu_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the repo's built encoder; anything written goes to a temp folder."""
    root = tmp_path_factory.mktemp("nlu-root")
    settings = Settings(root=root, model_dir=REPO / "models", data_dir=root / "var")
    if not (settings.models_path / settings.nlu.encoder_dir_name / "config.json").is_file():
        pytest.fail("encoder folder missing: run `make models`")
    return settings


@pytest.fixture(scope="session")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for label, texts in TINY.items():
            for text in texts:
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_model(nlu_settings: Settings, tiny_file: Path, tmp_path_factory) -> Path:
    """A model folder trained on the tiny set (no ASR copies, 3 folds, no cache)."""
    from assist.nlu.data import read_labeled
    from assist.nlu.train import TrainOptions, train_model

    out = tmp_path_factory.mktemp("tiny-model") / "intent"
    data = read_labeled(tiny_file)
    train_model(nlu_settings, data, TrainOptions(task="intent", augment_copies=0, folds=3,
                                                 cache=False, name="tiny"), out,
                progress=lambda m: None)
    return out


@pytest.fixture(scope="session")
def product_nlu(nlu_settings: Settings):
    """The product's default intent + sentiment model (bundled heads)."""
    from assist.nlu.model import load_nlu

    return load_nlu(nlu_settings)
