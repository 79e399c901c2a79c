"""The ONNX encoder (built by `make models`) gives the same vectors and answers as torch."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assist.nlu.model import NluModel, load_encoder_backend, load_nlu
from assist.nlu.onnx_export import OnnxEncoder, load_onnx_encoder, onnx_dir

TEXTS = ["요금이 왜 이렇게 많이 나왔어요", "인터넷이 자꾸 끊겨요 기사님 보내주세요", "네",
         "I would like to cancel my contract", "유심" * 200]


@pytest.fixture(scope="module")
def export_report(nlu_settings) -> dict:
    path = onnx_dir(nlu_settings) / "export.json"
    if not path.is_file():
        pytest.fail(f"no ONNX export at {path}: run `make models` (or `assist nlu export-onnx`)")
    return json.loads(path.read_text("utf-8"))


def test_onnx_vectors_match_torch(nlu_settings, export_report):
    reference = load_encoder_backend(nlu_settings, "torch").encode_queries(TEXTS)
    fp32 = OnnxEncoder(onnx_dir(nlu_settings) / "model.onnx", onnx_dir(nlu_settings) / "tokenizer.json")
    assert (fp32.encode_queries(TEXTS) * reference).sum(1).min() >= 0.999
    selected = load_onnx_encoder(nlu_settings).encode_queries(TEXTS)
    assert selected.shape == reference.shape
    # int8 weights: ~0.99 on ordinary sentences, 0.97 on a 400-syllable repetition
    assert (selected * reference).sum(1).min() >= 0.96
    assert np.allclose(np.linalg.norm(selected, axis=1), 1.0, atol=1e-4)


def test_onnx_backend_keeps_the_answers(nlu_settings, export_report, product_nlu):
    onnx = load_nlu(nlu_settings, backend="onnx")
    assert isinstance(onnx, NluModel)
    same = sum(a.intent == b.intent for a, b in zip(onnx.classify_many(TEXTS[:4]),
                                                     product_nlu.classify_many(TEXTS[:4])))
    assert same >= 3
    checks = export_report["checks"]
    assert abs(checks["torch"]["intent"]["accuracy"] - checks[
        "int8" if "int8" in export_report["selected"] else "fp32"]["intent"]["accuracy"]) <= 0.005


def test_int8_is_selected_only_when_allowed(nlu_settings, export_report):
    """KB search shares the encoder, so int8 needs nlu.onnx_int8 as well as the NLU check."""
    assert export_report["int8_allowed"] == nlu_settings.nlu.onnx_int8
    if not nlu_settings.nlu.onnx_int8:
        assert export_report["selected"] == "model.onnx"
