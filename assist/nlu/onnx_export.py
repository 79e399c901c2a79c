"""The shared encoder as ONNX for onnxruntime, optionally int8 (dynamic quantization).

``export_onnx`` reads top to bottom: wrap the BERT body with mean pooling + L2 norm (so the
graph returns the sentence vector) -> export fp32 -> quantize the linear layers to int8 ->
compare both with torch (cosine) and the default intent/sentiment heads on the dev split ->
keep int8 only if `nlu.onnx_int8` allows it and intent accuracy and sentiment macro-F1 stay
within 0.5 points (KB search shares the encoder, and int8 costs it recall@1).
The choice is written to export.json; ``nlu.backend = "onnx"`` then loads it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from assist.config import AssistError, Settings

__all__ = ["OnnxEncoder", "export_onnx", "ensure_onnx", "load_onnx_encoder", "onnx_dir"]

Progress = Callable[[str], None]
MAX_TOKENS = 512
MAX_DROP_POINTS = 0.5


def onnx_dir(settings: Settings) -> Path:
    return settings.models_path / f"{settings.nlu.encoder_dir_name}-onnx"


class OnnxEncoder:
    """Same interface as ``Encoder``: tokenizers + onnxruntime, no torch at inference."""

    def __init__(self, model_path: Path, tokenizer_path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(model_path), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        stat = model_path.stat()
        self.fingerprint = "onnx-" + hashlib.sha256(
            f"{model_path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        self.model_path = model_path
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts, "query: ", batch_size)

    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(texts, "passage: ", batch_size)

    def _encode(self, texts: list[str], prefix: str, batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch([prefix + t for t in texts[start:start + batch_size]])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(encodings), width), dtype=np.int64)  # pad id is 1 but masked
            mask = np.zeros_like(ids)
            for row, enc in enumerate(encodings):
                ids[row, :len(enc.ids)] = enc.ids
                mask[row, :len(enc.ids)] = 1
            with self._lock:
                vectors = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            out[start:start + len(encodings)] = vectors
        return out


def _wrapped(base_dir: Path):
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(base_dir), local_files_only=True)

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return Pooled().eval()


def _export_fp32(base_dir: Path, path: Path) -> None:
    import torch

    model = _wrapped(base_dir)
    ids = torch.ones((2, 12), dtype=torch.long)
    mask = torch.ones((2, 12), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                          output_names=["sentence_embedding"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "sentence_embedding": {0: "batch"}})


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Gemm"])


def _check(settings: Settings, candidates: dict[str, Path], tokenizer: Path, say: Progress) -> dict:
    """Cosine to torch and default-head scores on data/nlu dev for each ONNX file."""
    from assist.nlu.data import read_many
    from assist.nlu.model import load_encoder_backend, load_task, resolve_task_dir
    from assist.nlu.train import default_train_files, score_probs

    dev_files = default_train_files(settings, "dev")
    checks = {}
    encoders = {"torch": load_encoder_backend(settings, "torch")}
    intent_dir = resolve_task_dir(settings, "intent", encoders["torch"])
    sentiment_dir = resolve_task_dir(settings, "sentiment", encoders["torch"])
    encoders |= {name: OnnxEncoder(path, tokenizer) for name, path in candidates.items()}
    reference = None
    for name, encoder in encoders.items():
        row = {}
        for task, folder in (("intent", intent_dir), ("sentiment", sentiment_dir)):
            data = read_many(dev_files, label_column=task)
            model = load_task(folder)
            vectors = encoder.encode_queries(list(data.texts))
            index = {label: i for i, label in enumerate(model.labels)}
            y = np.array([index.get(label, -1) for label in data.labels])
            row[task] = score_probs(model.head.probs(vectors, list(data.texts)), y, model.labels)
            if task == "intent":
                reference = vectors if reference is None else reference
                row["min_cosine_to_torch"] = round(float((vectors * reference).sum(1).min()), 5)
        checks[name] = row
        say(f"onnx check {name}: intent accuracy {row['intent']['accuracy']:.4f}, sentiment "
            f"macro-F1 {row['sentiment']['macro_f1']:.4f}, min cosine {row['min_cosine_to_torch']}")
    return checks


def export_onnx(settings: Settings, quantize: bool = True, progress: Progress = print) -> dict:
    """Export (and quantize) the encoder; returns and writes the export report."""
    base_dir = settings.models_path / settings.nlu.encoder_dir_name
    if not (base_dir / "config.json").is_file():
        raise AssistError(f"Encoder folder {base_dir} is missing: run `make models`.")
    out = onnx_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    shutil.copy2(base_dir / "tokenizer.json", out / "tokenizer.json")
    progress("onnx: exporting the encoder (fp32)")
    _export_fp32(base_dir, out / "model.onnx")
    candidates = {"fp32": out / "model.onnx"}
    if quantize:
        progress("onnx: int8 dynamic quantization of the linear layers")
        _quantize(out / "model.onnx", out / "model.int8.onnx")
        candidates["int8"] = out / "model.int8.onnx"
    checks = _check(settings, candidates, out / "tokenizer.json", progress)
    chosen = "fp32"
    if "int8" in checks:
        drop_intent = (checks["torch"]["intent"]["accuracy"] - checks["int8"]["intent"]["accuracy"]) * 100
        drop_sent = (checks["torch"]["sentiment"]["macro_f1"] - checks["int8"]["sentiment"]["macro_f1"]) * 100
        within = max(drop_intent, drop_sent) <= MAX_DROP_POINTS
        chosen = "int8" if within and settings.nlu.onnx_int8 else "fp32"
    report = {"selected": candidates[chosen].name, "rule": f"int8 only if nlu.onnx_int8 and intent "
              f"accuracy and sentiment macro-F1 drop <= {MAX_DROP_POINTS} points vs torch on "
              "data/nlu dev", "int8_allowed": settings.nlu.onnx_int8,
              "checks": checks, "seconds": round(time.monotonic() - started, 1),
              "encoder": base_dir.name, "heads": _heads_digest(settings)}
    (out / "export.json").write_text(json.dumps(report, indent=1) + "\n", "utf-8")
    progress(f"onnx: selected {report['selected']} ({report['seconds']} s)")
    return report


def _heads_digest(settings: Settings) -> str:
    """Which intent/sentiment heads the int8-or-fp32 choice was checked with: the configured or
    bundled folders and the retrained fallback in models/nlu (``resolve_task_dir`` picks one of
    them, and telling which needs the encoder)."""
    from assist.nlu.model import default_model_dirs

    retrained = [settings.models_path / "nlu" / task for task in ("intent", "sentiment")]
    digest = hashlib.sha256()
    for folder in [*default_model_dirs(settings), *retrained]:
        head = Path(folder) / "head.safetensors"
        digest.update(head.read_bytes() if head.is_file() else b"-")
    return digest.hexdigest()[:16]


def ensure_onnx(settings: Settings, progress: Progress = print) -> dict:
    """Export once; later calls reuse the folder while export.json names an existing file and
    was checked with the current heads (retrained heads may no longer tolerate int8)."""
    report_path = onnx_dir(settings) / "export.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text("utf-8"))
        if ((onnx_dir(settings) / report.get("selected", "-")).is_file()
                and report.get("heads") == _heads_digest(settings)
                and report.get("int8_allowed") == settings.nlu.onnx_int8):
            progress(f"onnx: up to date ({report['selected']})")
            return {"selected": report["selected"]}
    return {"selected": export_onnx(settings, True, progress)["selected"]}


@lru_cache(maxsize=2)
def _load(path: Path, tokenizer: Path) -> OnnxEncoder:
    return OnnxEncoder(path, tokenizer)


def load_onnx_encoder(settings: Settings) -> OnnxEncoder:
    """The exported encoder named in export.json (int8 when it kept accuracy)."""
    folder = onnx_dir(settings)
    report_path = folder / "export.json"
    if not report_path.is_file():
        raise AssistError(f"No ONNX encoder in {folder}: run `assist nlu export-onnx` "
                          "(or `make models` with nlu.backend = \"onnx\").")
    selected = json.loads(report_path.read_text("utf-8"))["selected"]
    return _load(folder / selected, folder / "tokenizer.json")
