"""Training a tiny model, loading it, and defined answers for any input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assist.nlu.heads import expected_calibration_error, fit_temperature, softmax
from assist.nlu.model import Insight, NluModel, clean_text, load_nlu, load_task

ODD_INPUTS = ["", "   \n\t ", "가" * 10_000, "😀😀🙏", "I want to cancel my phone line",
              "인터넷\x00이 \x07안\u200b 돼요\x1b[0m", None]


def test_tiny_training_writes_a_loadable_small_folder(tiny_model, nlu_settings):
    card = json.loads((tiny_model / "model_card.json").read_text("utf-8"))
    assert card["labels"] == ["internet_outage", "refund", "usim"]
    assert card["method"] == "logreg+char" and card["temperature"] > 0
    assert {"train", "rows", "counts"} <= set(card["data"]) and card["created"]
    assert "out_of_fold" in card["metrics"] and (tiny_model / "README.md").is_file()
    size = sum(p.stat().st_size for p in tiny_model.iterdir())
    assert size < 2_000_000
    model = load_nlu(nlu_settings, intent_dir=tiny_model, with_sentiment=False)
    insight = model.classify("와이파이가 계속 끊어져요")
    assert isinstance(insight, Insight) and insight.top_intents[0][0] == "internet_outage"
    assert insight.model == "tiny"


@pytest.mark.parametrize("text", ODD_INPUTS, ids=range(len(ODD_INPUTS)))
def test_any_input_gives_a_defined_insight(product_nlu, text):
    insight = product_nlu.classify(text)
    assert isinstance(insight, Insight)
    assert insight.intent in product_nlu.intent.labels + ("unsure",)
    assert insight.sentiment in ("negative", "neutral", "positive")
    assert 0.0 <= insight.intent_score <= 1.0 and 0.0 <= insight.sentiment_score <= 1.0
    if text is None or not str(text).strip():
        assert (insight.intent, insight.note, insight.unsure) == ("none", "empty", True)
        assert insight.top_intents == ()
    else:
        assert len(insight.top_intents) == 3


def test_clean_text_rules():
    assert clean_text("a\x00b\u200bc", 100) == ("a b c", "")
    assert clean_text("가" * 30, 16) == ("가" * 16, "truncated")
    assert clean_text(" \t", 16) == ("", "empty")


def test_batch_matches_single(product_nlu):
    texts = ["요금이 왜 이렇게 많이 나왔어요", "", "유심 재발급 받고 싶어요"]
    batch = product_nlu.classify_many(texts)
    for text, one in zip(texts, batch):
        single = product_nlu.classify(text)
        assert single.intent == one.intent
        assert abs(single.intent_score - one.intent_score) < 1e-3


def test_default_model_knows_the_product_taxonomy(product_nlu):
    assert product_nlu.classify("유심을 잃어버려서 재발급 받으려고요").intent == "usim"
    angry = product_nlu.classify("몇 번을 전화해야 고쳐주는 거예요 정말 짜증나네요")
    assert angry.sentiment == "negative"
    thanks = product_nlu.classify("친절하게 알려주셔서 정말 감사합니다")
    assert thanks.sentiment == "positive"


def test_unsure_follows_the_threshold(tiny_model, nlu_settings):
    text = "환불은 언제쯤 들어오나요"
    always = load_task(tiny_model, threshold=1.01)
    never = load_task(tiny_model, threshold=0.0)
    base = load_nlu(nlu_settings, intent_dir=tiny_model, with_sentiment=False)
    sure = NluModel(base.encoder, never, None).classify(text)
    unsure = NluModel(base.encoder, always, None).classify(text)
    assert not sure.unsure and sure.intent == "refund"
    assert unsure.unsure and unsure.intent == "unsure" and unsure.top_intents == sure.top_intents


def test_temperature_scaling_lowers_calibration_error():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 2000)
    logits = rng.normal(0, 1, (2000, 4))
    logits[np.arange(2000), y] += 1.0
    overconfident = logits * 6  # right ~65% of the time but claims ~95%
    t = fit_temperature(overconfident, y)
    before = expected_calibration_error(softmax(overconfident), y)
    after = expected_calibration_error(softmax(overconfident / t), y)
    assert t > 3 and after < before / 3 and after < 0.05


def test_ensure_default_uses_the_bundled_heads(nlu_settings):
    from assist.nlu.train import ensure_default_nlu

    messages: list[str] = []
    entry = ensure_default_nlu(nlu_settings, messages.append)
    assert entry["source"] == "bundled", messages
    assert any("match the encoder" in m for m in messages)


def test_heads_for_other_weights_are_refused(tiny_model, nlu_settings, tmp_path):
    import shutil

    from assist.config import AssistError
    from assist.nlu.model import check_probe

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    card = json.loads((bad / "model_card.json").read_text("utf-8"))
    card["encoder"]["probe"] = (-np.asarray(card["encoder"]["probe"])).tolist()
    (bad / "model_card.json").write_text(json.dumps(card), "utf-8")
    with pytest.raises(AssistError, match="other encoder weights"):
        load_nlu(nlu_settings, intent_dir=bad, with_sentiment=False)
    assert check_probe(load_task(tiny_model), load_nlu(
        nlu_settings, intent_dir=tiny_model, with_sentiment=False).encoder) > 0.99


def test_vector_cache_encodes_only_new_texts(product_nlu, tmp_path):
    from assist.nlu.train import embed

    class Counting:
        """The real encoder, counting the texts it is asked to encode."""

        def __init__(self, encoder) -> None:
            self.encoder, self.dim, self.fingerprint, self.seen = encoder, encoder.dim, "probe", 0

        def encode_queries(self, texts, batch_size=32):
            self.seen += len(texts)
            return self.encoder.encode_queries(texts, batch_size)

    encoder = Counting(product_nlu.encoder)
    first = embed(encoder, ["요금이 많이 나왔어요", "유심 재발급"], tmp_path)
    again = embed(encoder, ["유심 재발급", "인터넷이 안 돼요", "요금이 많이 나왔어요"], tmp_path)
    assert encoder.seen == 3  # two, then only the one new text
    np.testing.assert_allclose(again[[2, 0]], first, atol=1e-6)
    np.testing.assert_allclose(again[1], product_nlu.encoder.encode_queries(["인터넷이 안 돼요"])[0],
                               atol=1e-5)
