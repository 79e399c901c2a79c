"""Out-of-scope gate by nearest training rows (``--oos-label``), on the real encoder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assist.cli import main
from assist.nlu.neighbors import NeighborScore, threshold_for_recall
from tests.nlu.conftest import TINY
from tests.nlu.test_nlu_cli import cli_env  # noqa: F401  (fixture)

OOS_TRAIN = ["오늘 날씨 어때요", "점심 메뉴 추천해 주세요", "주식 뭐 사면 좋을까요", "노래 한 곡 틀어 주세요",
             "축구 경기 결과 알려 주세요", "비행기표 예약해 주세요", "맛있는 라면 끓이는 법 알려 주세요",
             "내일 알람 일곱 시에 맞춰 주세요"]
DEV = ([("환불 아직 안 들어왔어요", "refund"), ("돈 돌려받고 싶은데요", "refund"),
        ("와이파이가 또 끊겼어요", "internet_outage"), ("인터넷 연결이 안 돼요", "internet_outage"),
        ("유심을 새로 받고 싶어요", "usim"), ("유심이 인식이 안 돼요", "usim")]
       + [("주말에 비 온대요?", "oos"), ("저녁 메뉴 골라 주세요", "oos"), ("호텔 예약 좀 해 주세요", "oos"),
          ("야구 점수 어떻게 됐어요", "oos")])


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps({"text": t, "label": label}, ensure_ascii=False) + "\n"
                            for t, label in rows), "utf-8")
    return str(path)


def test_leave_one_out_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8)).astype(np.float32)
    is_oos = np.arange(30) >= 22
    loo = NeighborScore.leave_one_out(x, is_oos, k=3)
    for i in (0, 5, 25):
        keep = np.arange(30) != i
        expected = NeighborScore.fit(x[keep], is_oos[keep], k=3).score(x[i:i + 1])[0]
        assert loo[i] == pytest.approx(expected, abs=1e-5)


def test_threshold_for_recall_is_the_lowest_that_reaches_it():
    scores = np.array([0.5, 0.4, -0.2, -0.1, 0.0, 0.3])
    is_oos = np.array([False, False, True, True, True, True])
    t = threshold_for_recall(scores, is_oos, 0.75)
    assert (scores[is_oos] < t).mean() == 0.75 and not (scores[~is_oos] < t).any()


def test_train_with_oos_label_gates_by_neighbors(cli_env, tmp_path, capsys):  # noqa: F811
    train = _jsonl(tmp_path / "train.jsonl",
                   [(t, label) for label, texts in TINY.items() for t in texts]
                   + [(t, "oos") for t in OOS_TRAIN])
    dev = _jsonl(tmp_path / "dev.jsonl", DEV)
    out = tmp_path / "model"
    assert main(["train", "intent", "--data", train, "--dev", dev, "--oos-label", "oos",
                 "--augment", "0", "--oos-recall", "0.75", "--out", str(out)]) == 0
    card = json.loads((out / "model_card.json").read_text("utf-8"))
    assert card["threshold_score"] == "neighbors" and card["fallback_label"] == "oos"
    assert "dev" in card["threshold_rule"] and (out / "neighbors.safetensors").is_file()
    crossfit = card["metrics"]["dev_oos_crossfit"]
    assert crossfit["n_oos"] == 4 and crossfit["n_in_scope"] == 6
    assert card["metrics"]["dev_oos"]["oos_recall"] >= 0.75  # tuned on it

    capsys.readouterr()
    assert main(["eval", "intent", "--model", str(out), "--data", dev, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["oos"]["score"] == "neighbors" and report["oos"]["auroc"] >= 0.75
    assert report["oos"]["oos_recall"] == card["metrics"]["dev_oos"]["oos_recall"]
    assert report["oos"]["in_scope_accuracy"] == card["metrics"]["dev_oos"]["in_scope_accuracy"]
    thresholds = [row["threshold"] for row in report["oos"]["by_threshold"]]
    assert thresholds == sorted(thresholds) and len(thresholds) > 3


def test_without_dev_the_threshold_comes_from_leave_one_out(nlu_settings, tmp_path):
    from assist.nlu.data import read_labeled
    from assist.nlu.model import NluModel, load_task
    from assist.nlu.train import TrainOptions, train_model
    from assist.nlu.model import load_encoder_backend

    rows = [(t, label) for label, texts in TINY.items() for t in texts] + [(t, "oos") for t in OOS_TRAIN]
    data = read_labeled(_jsonl(tmp_path / "train.jsonl", rows))
    out = tmp_path / "model"
    train_model(nlu_settings, data, TrainOptions(augment_copies=0, folds=3, cache=False,
                                                 oos_label="oos", oos_recall=0.75), out,
                progress=lambda m: None)
    task = load_task(out)
    assert "leave-one-out" in task.card["threshold_rule"] and task.neighbors is not None
    model = NluModel(load_encoder_backend(nlu_settings, "torch"), task, None)
    refund, weather = model.classify_many(["환불 언제 되나요", "내일 날씨는 어떨까요"])
    assert refund.intent == "refund" and not refund.unsure
    assert weather.intent == "oos" and weather.unsure
    assert all(label != "oos" for label, _ in refund.top_intents)  # the gate, not the head, says oos
