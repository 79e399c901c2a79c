"""Fine-tuning the shared encoder with LoRA: methods "lora" and "setfit".

"lora": the encoder's linear layers get rank-8 adapters trained with a classification head
(plus an auxiliary head, e.g. sentiment, for multi-task); "setfit": the SetFit recipe
(contrastive same-label / different-label pairs, cosine loss) on the same adapters. Either
way only the adapter (~2.6 MB) is saved; the heads are then fitted on the adapted vectors
like the frozen ones. Word embeddings (80% of the weights) stay frozen, which is what makes
a CPU epoch take minutes instead of an hour.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from assist.config import AssistError, Settings
from assist.nlu.augment import noisy_copies
from assist.nlu.data import LabeledData

__all__ = ["AdaptedEncoder", "load_adapted", "tune_encoder", "ADAPTER_DIR"]

ADAPTER_DIR = "adapter"
MAX_TOKENS = 64
Progress = Callable[[str], None]


class AdaptedEncoder:
    """The base encoder with a LoRA adapter merged in; same interface as ``Encoder``."""

    def __init__(self, base_dir: Path, adapter_dir: Path, model=None) -> None:
        from peft import PeftModel
        from sentence_transformers import SentenceTransformer

        if not (adapter_dir / "adapter_config.json").is_file():
            raise AssistError(f"{adapter_dir}: no LoRA adapter (adapter_config.json).")
        st = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
        peft_model = model if model is not None else PeftModel.from_pretrained(
            st[0].auto_model, str(adapter_dir))
        st[0].model = peft_model.merge_and_unload()  # auto_model is a read-only alias
        st.eval()
        self.model = st
        self.dim = int(st.get_embedding_dimension())
        weights = adapter_dir / "adapter_model.safetensors"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else "new"
        self.fingerprint = f"lora-{digest}"

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), prompt_name="query", batch_size=batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)
        return vectors.astype(np.float32, copy=False)


@lru_cache(maxsize=4)
def load_adapted(base_dir: Path, adapter_dir: Path) -> AdaptedEncoder:
    return AdaptedEncoder(Path(base_dir), Path(adapter_dir))


def _embed(model, tokenizer, texts: Sequence[str]):
    import torch

    batch = tokenizer(["query: " + t for t in texts], padding=True, truncation=True,
                      max_length=MAX_TOKENS, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _schedule(optimizer, total: int):
    import torch

    warm = max(1, total // 10)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))


def _label_ids(labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    names = sorted(set(labels))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[n] for n in labels]), names


def _batches_classify(texts, y, aux, rng, batch):
    order = rng.permutation(len(texts))
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        yield [texts[i] for i in idx], y[idx], None if aux is None else aux[idx]


def _batches_pairs(texts, y, aux, rng, batch):
    """SetFit pairs: each row once, with a same-label partner or (every other row) another."""
    by_label = {c: np.flatnonzero(y == c) for c in np.unique(y)}
    pairs = []
    for n, i in enumerate(rng.permutation(len(texts))):
        if n % 2 == 0:
            pairs.append((i, int(rng.choice(by_label[y[i]])), 1.0))
            continue
        other = int(rng.integers(len(texts)))
        while y[other] == y[i]:
            other = int(rng.integers(len(texts)))
        pairs.append((i, other, 0.0))
    half = max(1, batch // 2)
    for start in range(0, len(pairs), half):
        chunk = pairs[start:start + half]
        yield ([texts[a] for a, _, _ in chunk] + [texts[b] for _, b, _ in chunk],
               np.array([t for _, _, t in chunk], dtype=np.float32), None)


def _loss(method, heads, vectors, y, aux):
    import torch
    import torch.nn.functional as F

    if method == "setfit":
        n = len(y)
        cos = (vectors[:n] * vectors[n:]).sum(-1)
        return F.mse_loss(cos, torch.as_tensor(y))
    loss = F.cross_entropy(heads[0](vectors) * 20.0, torch.as_tensor(y))
    if aux is not None:
        loss = loss + 0.5 * F.cross_entropy(heads[1](vectors) * 20.0, torch.as_tensor(aux))
    return loss


def tune_encoder(settings: Settings, data: LabeledData, opts, out_dir: Path,
                 progress: Progress) -> AdaptedEncoder:
    """Train a LoRA adapter on ``data`` (opts: a TrainOptions) and save it in out_dir/adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer
    from tqdm.auto import tqdm

    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    base_dir = settings.models_path / settings.nlu.encoder_dir_name
    st = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model = get_peft_model(st[0].auto_model, LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "key", "value", "dense"]))
    texts, y, aux = _training_rows(data, opts)
    heads = [torch.nn.Linear(st.get_embedding_dimension(), int(y.max()) + 1, bias=False)]
    if aux is not None:
        heads.append(torch.nn.Linear(st.get_embedding_dimension(), int(aux.max()) + 1, bias=False))
    params = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": 5e-4},
              {"params": [p for h in heads for p in h.parameters()], "lr": 5e-3}]
    optimizer = torch.optim.AdamW(params, weight_decay=0.01)
    batches = _batches_pairs if opts.method == "setfit" else _batches_classify
    per_epoch = math.ceil(len(texts) * (2 if opts.method == "setfit" else 1) / 32)
    scheduler = _schedule(optimizer, per_epoch * opts.epochs)
    started, stopped = time.monotonic(), False
    model.train()
    with tqdm(total=per_epoch * opts.epochs, desc=f"{opts.method} fine-tuning", unit="step") as bar:
        for _ in range(opts.epochs):
            for batch_texts, batch_y, batch_aux in batches(texts, y, aux, rng, 32):
                loss = _loss(opts.method, heads, _embed(model, st.tokenizer, batch_texts),
                             batch_y, batch_aux)
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
                if time.monotonic() - started > opts.max_minutes * 60:
                    stopped = True
                    break
            if stopped:
                break
    return _save(model, base_dir, out_dir, {
        "method": opts.method, "steps": bar.n, "planned_steps": per_epoch * opts.epochs,
        "epochs": opts.epochs, "stopped_at_time_limit": stopped,
        "seconds": round(time.monotonic() - started)}, progress)


def _save(model, base_dir: Path, out_dir: Path, info: dict, progress: Progress) -> AdaptedEncoder:
    """Adapter + training.json (steps done, whether the time limit cut it short)."""
    import json

    progress(f"{info['method']}: {info['steps']}/{info['planned_steps']} steps in "
             f"{info['seconds']} s" + (" (stopped at the time limit)"
                                        if info["stopped_at_time_limit"] else ""))
    adapter = out_dir / ADAPTER_DIR
    model.eval()
    model.save_pretrained(str(adapter))
    (adapter / "training.json").write_text(json.dumps(info) + "\n", "utf-8")
    return AdaptedEncoder(base_dir, adapter, model)


def _training_rows(data: LabeledData, opts) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Originals plus one ASR-noise copy for Korean data (same rule as the head)."""
    copies = 1 if opts.augment_copies is None else opts.augment_copies
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in "".join(data.texts[:200]))
    if opts.augment_copies is None and hangul < 100:
        copies = 0
    texts = list(data.texts) + noisy_copies(data.texts, seed=opts.seed + 7, copies=copies)
    y, _ = _label_ids(list(data.labels) * (copies + 1))
    aux = None
    if getattr(opts, "aux_labels", None):
        aux, _ = _label_ids(list(opts.aux_labels) * (copies + 1))
    return texts, y, aux
