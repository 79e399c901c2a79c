"""``assist eval`` / ``assist train`` through the real command line."""
from __future__ import annotations

import json

import pytest

from assist.cli import main
from assist.config import get_settings


@pytest.fixture
def cli_env(nlu_settings, monkeypatch):
    monkeypatch.chdir(nlu_settings.root)
    monkeypatch.setenv("ASSIST_MODEL_DIR", str(nlu_settings.models_path))
    monkeypatch.setenv("ASSIST_DATA_DIR", str(nlu_settings.root / "var"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_eval_json_last_line_schema(cli_env, tiny_model, tiny_file, tmp_path, capsys):
    data = tmp_path / "eval.csv"
    data.write_text("text,label\n유심 바꾸고 싶어요,usim\n인터넷 끊겨요,internet_outage\n"
                    "환불 해주세요,refund\n요금제 바꿀래요,plan_change\n", "utf-8")
    png = tmp_path / "cm.png"
    assert main(["eval", "intent", "--data", str(data), "--model", str(tiny_model),
                 "--json", "--png", str(png)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    assert {"n", "accuracy", "macro_f1", "top3_accuracy", "per_class", "ece"} <= set(report)
    assert report["n"] == 4 and report["unknown_labels"] == {"plan_change": 1}
    assert report["accuracy"] <= 0.75  # the unknown label counts as an error
    assert set(report["per_class"]["usim"]) == {"precision", "recall", "f1", "support"}
    assert png.is_file() and png.stat().st_size > 1000


def test_train_cli_bad_file_is_one_sentence(cli_env, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n좋아요,pos\n싫어요,neg\n그저 그래요,neu\n", "utf-8")
    code = main(["train", "sentiment", "--data", str(bad), "--out", str(tmp_path / "m")])
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "line 2" in err and "Traceback" not in err


def test_out_of_scope_scores_and_threshold_trade_off():
    from assist.evaluate.classification import score_classification

    gold = ["a", "a", "b", "oos", "oos"]
    ranked = [["a", "b"], ["a", "b"], ["a", "b"], ["b", "a"], ["oos", "a"]]
    confidence = [0.9, 0.4, 0.8, 0.3, 0.7]
    final = ["a", "oos", "a", "oos", "oos"]  # the model's own threshold 0.5
    report = score_classification(gold, ranked, confidence, ["a", "b", "oos"], final=final,
                                  oos_label="oos")
    assert report.oos["in_scope_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert report.oos["oos_recall"] == 1.0 and report.oos["oos_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert report.oos["auroc"] == pytest.approx(5 / 6, abs=1e-4)  # 0.4 in scope < 0.7 oos
    assert report.top3_accuracy == 1.0  # the out-of-scope verdict counts among the shown labels
    curve = {row["threshold"]: row for row in report.oos["by_threshold"]}
    assert curve[0.0] == {"threshold": 0.0, "in_scope_accuracy": pytest.approx(2 / 3, abs=1e-4),
                          "oos_recall": 0.5}  # no threshold: the 0.3 "b" stays wrong
    assert curve[0.35]["oos_recall"] == 1.0 and curve[0.95]["in_scope_accuracy"] == 0.0
