"""Labeled files: formats read, every fixable problem named with its line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.nlu.augment import noisy_copies, swap_syllable
from assist.nlu.data import DataError, check_min_per_class, holdout_split, read_labeled


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_csv_tsv_jsonl_and_split_json(tmp_path):
    csv = read_labeled(_write(tmp_path, "a.csv", 'text,category\n"hi, there",greet\nbye,leave\n'),
                       label_column="category")
    assert csv.texts == ("hi, there", "bye") and csv.lines == (2, 3)
    tsv = read_labeled(_write(tmp_path, "a.tsv", "id\ttext\tlabel\n1\t좋아요\tpositive\n"))
    assert tsv.labels == ("positive",)
    jsonl = read_labeled(_write(tmp_path, "a.jsonl", '{"text": "네", "intent": "none"}\n'),
                         label_column=("label", "intent"))
    assert jsonl.labels == ("none",)
    split = _write(tmp_path, "s.json", json.dumps({"train": [["a", "x"], ["b", "y"]], "oos": [["c", "oos"]]}))
    both = read_labeled(split, splits=["train", "oos"])
    assert both.labels == ("x", "y", "oos")
    with pytest.raises(DataError, match="--split"):
        read_labeled(split)


def test_missing_column_names_header(tmp_path):
    path = _write(tmp_path, "b.csv", "sentence,label\nhello,x\n")
    with pytest.raises(DataError, match=r"line 1: no text column 'text'.*sentence, label"):
        read_labeled(path)


def test_unknown_labels_listed_with_lines(tmp_path):
    path = _write(tmp_path, "c.jsonl", '{"text": "a", "label": "refund"}\n{"text": "b", "label": "refnd"}\n')
    with pytest.raises(DataError, match=r"'refnd' at line\(s\) 2"):
        read_labeled(path, allowed=["refund", "usim"])


def test_single_example_class_and_one_label(tmp_path):
    data = read_labeled(_write(tmp_path, "d.csv", "text,label\na,x\nb,x\nc,y\n"))
    with pytest.raises(DataError, match=r"'y' \(1x, line 4\)"):
        check_min_per_class(data)
    only = read_labeled(_write(tmp_path, "e.csv", "text,label\na,x\nb,x\n"))
    with pytest.raises(DataError, match="only one label"):
        check_min_per_class(only)


def test_bad_encoding_empty_rows_bad_json(tmp_path):
    raw = "text,label\nok,x\nbad,y\n".encode() + "깨짐,y\n".encode("cp949")
    path = _write(tmp_path, "f.csv", raw)
    with pytest.raises(DataError, match=r"line 4: bytes that are not UTF-8"):
        read_labeled(path)
    with pytest.raises(DataError, match=r"empty text or label at line\(s\) 3"):
        read_labeled(_write(tmp_path, "g.csv", "text,label\na,x\n  ,y\n"))
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        read_labeled(_write(tmp_path, "h.jsonl", '{"text": "a", "label": "x"}\n{"text": \n'))
    with pytest.raises(DataError, match="file not found"):
        read_labeled(tmp_path / "missing.csv")


def test_holdout_is_fixed_and_stratified(tmp_path):
    rows = "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(40))
    data = read_labeled(_write(tmp_path, "h.csv", "text,label\n" + rows))
    train, held = holdout_split(data, 0.1, seed=3)
    again, held2 = holdout_split(data, 0.1, seed=3)
    assert held.texts == held2.texts and len(held) == 4 and held.counts() == {"a": 2, "b": 2}
    assert not set(train.texts) & set(held.texts)


def test_asr_noise_is_deterministic_and_korean():
    texts = ["이번 달 요금이 왜 이렇게 많이 나왔어요?", "인터넷이 자꾸 끊겨서 기사님 좀 보내주세요"]
    first, second = noisy_copies(texts, seed=5, copies=2), noisy_copies(texts, seed=5, copies=2)
    assert first == second and len(first) == 4
    assert first != texts * 2 and noisy_copies(texts, seed=6, copies=2) != first
    for noisy in first:
        assert "?" not in noisy
        assert not any("\u1100" <= ch <= "\u11ff" for ch in noisy)  # no bare jamo pieces
    import random
    rng = random.Random(0)
    swapped = {swap_syllable("개", rng) for _ in range(30)}
    assert swapped - {"개"} and all("\uac00" <= s <= "\ud7a3" for s in swapped)
    assert swap_syllable("a", rng) == "a"
